"""mod_python's `table`: an ordered list of (key, value) pairs with case-insensitive keys and duplicates kept.

Rule: it reads like mod_python's `mp_table` over an APR table (`docs/mod_python-facts.md` §6), because
handler code relies on those exact semantics: `t[k]` is the single value or a list of every value, `get` gives the
first, `keys()/items()` list every entry in insertion order with the key's original case, `t[k] = v` replaces all
values in place of the first, `add` appends a duplicate, deleting a missing key is silent. The storage is a list of
pairs (werkzeug's `Headers` shape), not a dict of lists, so order survives across different keys.

Strings: what goes *in* must be `str` that encodes to ISO-8859-1, or `bytes`; anything else raises mod_python's
`TypeError("not an ISO-8859-1 string")`. mod_python keeps the bytes (a str as its Latin-1 bytes) and decodes a value
read back as UTF-8 (observed: b"caf\xc3\xa9" reads back 'café'), so a stored value whose bytes are UTF-8 reads back
decoded (`WireText`, which remembers its bytes for the wire) and one that is not reads back as its Latin-1 text (where
mod_python's child crashes). Values the request layer copies in from Apache (headers_in, subprocess_env) arrive
already decoded (UTF-8, see `params.py`) and skip that check, as they do in mod_python.

Where mod_python 3.5 is plainly broken we keep the intent instead (observed on 3.5.0): building or updating from a
table that has duplicates stores `str(list)` there, and `popitem()` returns one pair but removes another; here both
keep every pair, and `popitem()` removes and returns the last pair.
"""

from __future__ import annotations

import string
from typing import Any, Iterable, Iterator, Mapping, Tuple, Union, cast

TableKey = Union[str, bytes]
# Mapping keys are invariant for mypy, so Any: str and bytes keys are checked at run time.
TableSource = Union["mp_table", Mapping[Any, object], Iterable[Tuple[TableKey, object]]]

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_TYPE_ERROR = "not an ISO-8859-1 string"


def _fold(key: str) -> str:
    # APR compares keys with strcasecmp in the C locale: ASCII letters fold, nothing else does.
    return key.lower() if key.isascii() else key.translate(_ASCII_FOLD)


def latin1_text(value: object) -> str:
    """`value` as stored by mod_python: Latin-1-encodable str, or bytes read as Latin-1; else TypeError."""
    if isinstance(value, str):
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise TypeError(_TYPE_ERROR) from None
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    raise TypeError(_TYPE_ERROR)


class WireText(str):
    """A stored value read back as the UTF-8 decoding of its bytes; `wire` is those bytes as Latin-1 text."""

    wire: str


def stored_value(value: object) -> str:
    """What a table keeps for `value` (see the module docstring): plain text, or WireText for non-ASCII UTF-8 bytes."""
    if isinstance(value, WireText):
        return value  # already stored once (copies, err_headers_out merges): keep its bytes
    text = latin1_text(value)
    if text.isascii():
        return text
    try:
        decoded = text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return text
    stored = WireText(decoded)
    stored.wire = text
    return stored


def wire_text(value: str) -> str:
    """The value's bytes as Latin-1 text, for the header block."""
    return value.wire if isinstance(value, WireText) else value


def _lookup_key(key: object) -> str:
    """A key for lookups: str or bytes (any str can be looked up; it just will not match a non-Latin-1 key)."""
    if isinstance(key, str):
        return _fold(key)
    if isinstance(key, (bytes, bytearray)):
        return _fold(bytes(key).decode("latin-1"))
    raise TypeError(_TYPE_ERROR)


def _coerced(value: object) -> str:
    # `update` and the constructor str() what is neither str nor bytes (observed: {"f": None} stores "None").
    return stored_value(value if isinstance(value, (str, bytes, bytearray)) else str(value))


class mp_table:  # noqa: N801 - mod_python's type name (`type(req.headers_in).__name__`)
    """mod_python's table: `table()`, `table(mapping)` or `table(iterable_of_pairs)`; subclassable, unhashable."""

    def __hash__(self) -> int:
        # Mutable; mod_python's own message, so `except TypeError` code that inspects it sees the same text.
        raise TypeError("mp_table objects are unhashable")

    def __init__(self, source: TableSource | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        if source is None:
            return
        if isinstance(source, mp_table):
            self._items = list(source._items)
        elif isinstance(source, Mapping):
            self.update(source)
        else:
            # Pairs use set semantics, as mp_table's constructor does: a later pair replaces an earlier same key.
            for index, pair in enumerate(source):
                if len(pair) != 2:
                    raise ValueError(f"table update sequence element #{index} has length {len(pair)}; 2 is required")
                self[pair[0]] = _coerced(pair[1])

    @classmethod
    def _from_trusted(cls, pairs: Iterable[tuple[str, str]]) -> mp_table:
        """A table filled without the Latin-1 check: for values the request layer takes from Apache."""
        new = cls()
        new._items = list(pairs)
        return new

    # --- reading ----------------------------------------------------------------------------------------------------
    def __getitem__(self, key: TableKey) -> str | list[str]:
        values = self.get_all(key)
        if not values:
            raise KeyError(key)
        return values[0] if len(values) == 1 else values

    def get(self, key: TableKey, default: str | None = None) -> str | None:
        """The first value for `key`, or `default`."""
        folded = _lookup_key(key)
        for name, value in self._items:
            if _fold(name) == folded:
                return value
        return default

    def get_all(self, key: TableKey) -> list[str]:
        """Every value for `key`, in order (not in mod_python; a convenience for the other layers)."""
        folded = _lookup_key(key)
        return [value for name, value in self._items if _fold(name) == folded]

    def __contains__(self, key: object) -> bool:
        folded = _lookup_key(key)
        return any(_fold(name) == folded for name, _ in self._items)

    def has_key(self, key: TableKey) -> bool:
        """mod_python's spelling of `key in table`."""
        return key in self

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._items])

    def keys(self) -> list[str]:
        """Every entry's key, duplicates included, in insertion order and original case."""
        return [name for name, _ in self._items]

    def values(self) -> list[str]:
        """Every entry's value, in insertion order."""
        return [value for _, value in self._items]

    def items(self) -> list[tuple[str, str]]:
        """Every (key, value) entry, in insertion order."""
        return list(self._items)

    def iterkeys(self) -> Iterator[str]:
        return iter(self.keys())

    def itervalues(self) -> Iterator[str]:
        return iter(self.values())

    def iteritems(self) -> Iterator[tuple[str, str]]:
        return iter(self.items())

    # --- writing ----------------------------------------------------------------------------------------------------
    def __setitem__(self, key: TableKey, value: str | bytes) -> None:
        self._set(latin1_text(key), [stored_value(value)])

    def _set(self, name: str, values: list[str]) -> None:
        # apr_table_set: the first entry keeps its place and its key's case, the other entries go.
        folded = _fold(name)
        kept: list[tuple[str, str]] = []
        placed = False
        for old_name, old_value in self._items:
            if _fold(old_name) != folded:
                kept.append((old_name, old_value))
            elif not placed:
                kept.extend((old_name, value) for value in values)
                placed = True
        if not placed:
            kept.extend((name, value) for value in values)
        self._items = kept

    def add(self, key: TableKey, value: str | bytes) -> None:
        """Append an entry, keeping any existing ones for the same key."""
        self._items.append((latin1_text(key), stored_value(value)))

    def __delitem__(self, key: TableKey) -> None:
        # Deleting a missing key is silent in mod_python (apr_table_unset).
        folded = _lookup_key(key)
        self._items = [(name, value) for name, value in self._items if _fold(name) != folded]

    def update(self, source: TableSource) -> None:
        """Replace each key of `source` by its value(s); non-string values are str()ed as mod_python does."""
        if isinstance(source, mp_table):
            grouped: dict[str, tuple[str, list[str]]] = {}
            for name, value in source._items:
                grouped.setdefault(_fold(name), (name, []))[1].append(value)
            for name, values in grouped.values():
                self._set(name, values)
        elif isinstance(source, Mapping):
            mapping = cast(Mapping[TableKey, object], source)
            for key in mapping:
                self._set(latin1_text(key), [_coerced(mapping[key])])
        else:
            for pair_key, pair_value in source:
                self._set(latin1_text(pair_key), [_coerced(pair_value)])

    def clear(self) -> None:
        self._items = []

    def copy(self) -> mp_table:
        """A new table of the same class with the same entries."""
        return self.__class__(self)

    def setdefault(self, key: TableKey, default: str | bytes = "") -> str:
        """The first value for `key`; if absent, store `default` (mod_python's default is "") and return it."""
        current = self.get(key)
        if current is not None:
            return current
        self[key] = default
        return stored_value(default)

    def popitem(self) -> tuple[str, str]:
        """Remove and return the last entry."""
        if not self._items:
            raise KeyError("popitem(): table is empty")
        return self._items.pop()

    # --- comparison and display ---------------------------------------------------------------------------------------
    def _as_dict(self) -> dict[str, str | list[str]]:
        # What mp_table compares by: each original-case key mapped to t[key] (value or list of values).
        return {name: self[name] for name, _ in self._items}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, mp_table):
            return self._as_dict() == other._as_dict()
        if isinstance(other, Mapping):
            return self._as_dict() == dict(cast(Mapping[object, object], other))
        return NotImplemented

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: {value!r}" for name, value in self._items) + "}"


table = mp_table  # mod_python's public name for its table type (apache.table)
make_table = mp_table  # mod_python's alias

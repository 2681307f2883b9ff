"""Descriptors that declare mod_python's request/connection/server attributes as a table of rows.

Rule: each mod_python attribute is one line in its class body, saying where the value comes from (a FastCGI param or
a small computation) and whether handler code may assign it, in the manner of werkzeug's `environ_property`. Values
are computed on first read and cached per object in `_values`, so a handler that never looks at `parsed_uri` never
pays for it; `cached=False` rows (bytes sent, allowed methods) are recomputed on every read because they change.
Assigning a read-only attribute raises mod_python's AttributeError text, because handler code written for mod_python
may test for it. Writable rows pass the value through a converter that enforces mod_python's types.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Mapping, NamedTuple, Optional, TypeVar, overload

from .table import latin1_text

T = TypeVar("T")


class AttributeRow(NamedTuple):
    """One row of an attribute table, for documentation and tests."""

    name: str
    source: str
    writable: bool


class param:  # noqa: N801 - reads as a table column: param("REQUEST_METHOD", "GET")
    """A source that reads one FastCGI param of the owner's `fcgi_params`, with a default."""

    def __init__(self, name: str, default: Optional[str] = None) -> None:
        self.name = name
        self.default = default

    def __call__(self, owner: Any) -> Optional[str]:
        params: Mapping[str, str] = owner.fcgi_params
        return params.get(self.name, self.default)


class _Named:
    """What both descriptor kinds share: the attribute's name and owner label, and mod_python's read-only error."""

    name = ""
    owner_label = "object"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.owner_label = getattr(owner, "_mp_type_name", owner.__name__)

    def _not_writable(self) -> AttributeError:
        return AttributeError(f"attribute '{self.name}' of '{self.owner_label}' objects is not writable")


class attribute(_Named, Generic[T]):  # noqa: N801 - used like `property`
    """A mod_python attribute computed from `source(obj)`; assignable through `writable` when given."""

    def __init__(self, source: Callable[[Any], Any], *, writable: Optional[Callable[[object], T]] = None,
                 cached: bool = True, doc: str = "") -> None:
        # A writable row stores the assigned value, which wins over `source` from then on (cached or not).
        self.source = source
        self.convert = writable
        self.cached = cached
        self.doc = doc or (f"param {source.name}" if isinstance(source, param) else "computed")

    @overload
    def __get__(self, obj: None, owner: type) -> attribute[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        values: dict[str, object] = obj._values  # type: ignore[attr-defined]
        if self.name in values:
            return values[self.name]
        value = self.source(obj)
        if self.cached:
            values[self.name] = value
        return value

    def __set__(self, obj: object, value: object) -> None:
        if self.convert is None:
            raise self._not_writable()
        obj._values[self.name] = self.convert(value)  # type: ignore[attr-defined]

    def row(self) -> AttributeRow:
        return AttributeRow(self.name, self.doc, self.convert is not None)


class delegated(_Named, Generic[T]):  # noqa: N801 - used like `property`
    """A mod_python attribute that lives on another object of the owner (the Response), read and set there."""

    def __init__(self, target: str, *, writable: bool = False, doc: str = "") -> None:
        self.target = target
        self.writable = writable
        self.doc = doc or f"{target} attribute"

    @overload
    def __get__(self, obj: None, owner: type) -> delegated[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.target), self.name)

    def __set__(self, obj: object, value: object) -> None:
        if not self.writable:
            raise self._not_writable()
        setattr(getattr(obj, self.target), self.name, value)

    def row(self) -> AttributeRow:
        return AttributeRow(self.name, self.doc, self.writable)


def attribute_table(cls: type) -> list[AttributeRow]:
    """Every declared attribute row of `cls` (including inherited ones), in declaration order."""
    rows: dict[str, AttributeRow] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            if isinstance(value, (attribute, delegated)):
                rows[value.name] = value.row()
    return list(rows.values())


# --- converters for writable rows: mod_python's accepted types --------------------------------------------------------

def text(value: object) -> str:
    """A str/bytes attribute (uri, filename, user, ...): Latin-1 str or bytes; None is refused as in mod_python."""
    return latin1_text(value)


def optional_text(value: object) -> Optional[str]:
    """A str/bytes attribute that may also be None (args, handler)."""
    return None if value is None else latin1_text(value)


def integer(value: object) -> int:
    """An int attribute (status, no_cache, ...): ints only, as mod_python's setters."""
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return int(value)


def anything(value: object) -> object:
    """An attribute that takes any object (finfo)."""
    return value

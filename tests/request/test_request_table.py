"""Contract tests for mod_python's table (docs/mod_python-facts.md §6 and behaviour observed on mod_python 3.5.0), run
over `table` and a subclass, plus a model-based property test of the write operations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcgi_handlers.request.table import make_table, table, wire_text


class SubTable(table):
    """A subclass as handler code writes them: extra state set in __init__."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.note = "sub"


class TableContract:
    cls: type[table] = table

    def make(self, *args: Any) -> table:
        return self.cls(*args)

    # --- reading ------------------------------------------------------------------------------------------------------
    def test_observed_example(self) -> None:
        t = self.make()
        t["Foo"] = "1"
        t.add("foo", "2")
        t.add("FOO", "3")
        assert t["foo"] == ["1", "2", "3"]
        assert t.get("foo") == "1"
        assert t.keys() == ["Foo", "foo", "FOO"]
        assert len(t) == 3

    def test_single_value_is_not_a_list(self) -> None:
        t = self.make([("Content-Type", "text/plain")])
        assert t["content-type"] == "text/plain"
        assert t.get_all("CONTENT-TYPE") == ["text/plain"]

    def test_missing_key(self) -> None:
        t = self.make()
        with pytest.raises(KeyError):
            t["nope"]
        assert t.get("nope") is None
        assert t.get("nope", "d") == "d"
        assert t.get_all("nope") == []

    def test_membership_is_case_insensitive(self) -> None:
        t = self.make({"Ab": "1"})
        assert "ab" in t and "AB" in t and b"aB" in t
        assert "b" not in t
        assert t.has_key("AB") and not t.has_key("x")

    def test_iteration_lists_every_entry_in_order(self) -> None:
        t = self.make()
        for key, value in [("a", "1"), ("B", "2"), ("A", "3")]:
            t.add(key, value)
        assert list(t) == ["a", "B", "A"]
        assert list(t.iterkeys()) == ["a", "B", "A"]
        assert t.values() == list(t.itervalues()) == ["1", "2", "3"]
        assert t.items() == list(t.iteritems()) == [("a", "1"), ("B", "2"), ("A", "3")]

    def test_empty_is_falsy(self) -> None:
        assert not self.make()
        assert self.make({"a": "1"})

    # --- writing ------------------------------------------------------------------------------------------------------
    def test_set_replaces_all_in_place_of_first(self) -> None:
        t = self.make()
        for key, value in [("a", "1"), ("b", "2"), ("A", "3")]:
            t.add(key, value)
        t["A"] = "9"
        assert t.items() == [("a", "9"), ("b", "2")]  # apr_table_set keeps the first entry's place and key case

    def test_set_new_key_appends(self) -> None:
        t = self.make({"a": "1"})
        t["Z"] = "2"
        assert t.items() == [("a", "1"), ("Z", "2")]

    def test_delete_removes_every_entry_and_missing_is_silent(self) -> None:
        t = self.make()
        t.add("x", "1")
        t.add("y", "2")
        t.add("X", "3")
        del t["X"]
        assert t.items() == [("y", "2")]
        del t["absent"]
        assert t.items() == [("y", "2")]

    def test_update_from_dict_strs_values(self) -> None:
        t = self.make({"e": "old"})
        t.update({"e": 1, "f": None, "g": 2.5})
        assert t.items() == [("e", "1"), ("f", "None"), ("g", "2.5")]

    def test_update_from_table_keeps_duplicates(self) -> None:
        source = table()
        source.add("b", "1")
        source.add("B", "2")
        t = self.make([("a", "0"), ("b", "x")])
        t.update(source)
        assert t.items() == [("a", "0"), ("b", "1"), ("b", "2")]

    def test_constructor_from_pairs_uses_set_semantics(self) -> None:
        t = self.make([("a", "1"), ("b", "2"), ("A", "3")])
        assert t.items() == [("a", "3"), ("b", "2")]

    def test_constructor_from_table_keeps_every_pair(self) -> None:
        source = table()
        source.add("a", "1")
        source.add("a", "2")
        assert self.make(source).items() == [("a", "1"), ("a", "2")]

    def test_constructor_rejects_bad_pairs(self) -> None:
        with pytest.raises(ValueError, match="element #0 has length 3"):
            self.make([("a", "1", "2")])

    def test_setdefault(self) -> None:
        t = self.make()
        assert t.setdefault("k") == ""
        assert t.setdefault("K", "x") == ""
        assert t.setdefault("z", "v") == "v"
        assert t.items() == [("k", ""), ("z", "v")]

    def test_popitem_takes_the_last_pair(self) -> None:
        t = self.make()
        for key, value in [("a", "1"), ("b", "2"), ("a", "3")]:
            t.add(key, value)
        assert t.popitem() == ("a", "3")
        assert t.items() == [("a", "1"), ("b", "2")]
        t.clear()
        with pytest.raises(KeyError, match="table is empty"):
            t.popitem()

    def test_copy_is_independent_and_same_class(self) -> None:
        t = self.make()
        t.add("a", "1")
        t.add("a", "2")
        c = t.copy()
        c["a"] = "x"
        assert type(c) is self.cls
        assert t.items() == [("a", "1"), ("a", "2")]
        assert c.items() == [("a", "x")]

    def test_unhashable(self) -> None:
        with pytest.raises(TypeError):
            hash(self.make())

    # --- string typing ------------------------------------------------------------------------------------------------
    def test_latin1_text_accepted(self) -> None:
        t = self.make()
        t["caf\u00e9"] = "caf\u00e9"
        assert t["CAF\u00e9"] == "caf\u00e9"

    @pytest.mark.parametrize("value", ["\u2603", 5, None, 1.5])
    def test_other_values_refused(self, value: Any) -> None:
        t = self.make()
        with pytest.raises(TypeError, match="not an ISO-8859-1 string"):
            t["k"] = value
        with pytest.raises(TypeError, match="not an ISO-8859-1 string"):
            t.add("k", value)
        assert t.items() == []

    def test_values_read_back_as_utf8_of_their_bytes(self) -> None:
        # mod_python keeps the bytes and decodes a value read back as UTF-8 (observed: 'café' for b"caf\xc3\xa9").
        t = self.make()
        t[b"K"] = b"caf\xc3\xa9"
        t.add("s", "caf\u00c3\u00a9")       # a str is its Latin-1 bytes: the same two bytes
        t["x"] = b"caf\xe9"                  # not UTF-8: its Latin-1 text (mod_python's child crashes here)
        assert (t["k"], t.get("s"), t["x"]) == ("caf\u00e9", "caf\u00e9", "caf\u00e9")
        assert [wire_text(value) for value in t.values()] == ["caf\u00c3\u00a9", "caf\u00c3\u00a9", "caf\u00e9"]
        copied = t.copy()["k"]
        assert isinstance(copied, str) and wire_text(copied) == "caf\u00c3\u00a9"   # copies keep the bytes
        assert type(self.make({"a": "plain"})["a"]) is str

    @pytest.mark.parametrize("key", [5, None, ("a",)])
    def test_non_string_keys_refused(self, key: Any) -> None:
        t = self.make({"a": "1"})
        for operation in (lambda: t[key], lambda: t.get(key), lambda: key in t, lambda: t.__delitem__(key)):
            with pytest.raises(TypeError, match="not an ISO-8859-1 string"):
                operation()

    # --- comparison and display ---------------------------------------------------------------------------------------
    def test_equality(self) -> None:
        t = self.make({"a": "1"})
        assert t == {"a": "1"}
        assert t == table([("a", "1")])
        assert t != {"A": "1"}  # mp_table compares keys with their case
        dup = self.make()
        dup.add("x", "1")
        dup.add("x", "2")
        assert dup == {"x": ["1", "2"]}
        assert dup != {"x": "1"}

    def test_repr_lists_every_entry(self) -> None:
        t = self.make()
        t.add("a", "1")
        t.add("A", "2")
        assert repr(t) == "{'a': '1', 'A': '2'}"


class TestTable(TableContract):
    cls = table


class TestSubTable(TableContract):
    cls = SubTable

    def test_subclass_keeps_its_state(self) -> None:
        t = SubTable({"a": "1"})
        t.extra = 1  # type: ignore[attr-defined]
        copied = t.copy()
        assert t.note == "sub" and t.items() == [("a", "1")]
        assert isinstance(copied, SubTable) and copied.note == "sub"


def test_make_table_is_table() -> None:
    assert make_table is table


# --- model-based property: add / set / del against a list of pairs ----------------------------------------------------
KEYS = st.sampled_from(["a", "A", "b", "B", "Content-Type", "content-type"])
OPS = st.lists(st.tuples(st.sampled_from(["add", "set", "del"]), KEYS, st.text("xyz", max_size=3)), max_size=30)


def _model_apply(model: list[tuple[str, str]], op: str, key: str, value: str) -> list[tuple[str, str]]:
    same = [i for i, (name, _) in enumerate(model) if name.lower() == key.lower()]
    if op == "add":
        return model + [(key, value)]
    if op == "del":
        return [pair for i, pair in enumerate(model) if i not in same]
    if not same:
        return model + [(key, value)]
    first = same[0]
    return [(model[first][0], value) if i == first else pair for i, pair in enumerate(model) if i == first or i not in same]


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_operations_match_the_pair_list_model(ops: list[tuple[str, str, str]]) -> None:
    t = table()
    model: list[tuple[str, str]] = []
    for op, key, value in ops:
        if op == "add":
            t.add(key, value)
        elif op == "set":
            t[key] = value
        else:
            del t[key]
        model = _model_apply(model, op, key, value)
        assert t.items() == model
    for key in {k.lower() for k, _ in model}:
        values = [v for k, v in model if k.lower() == key]
        assert t[key] == (values[0] if len(values) == 1 else values)
        assert t.get(key) == values[0]

"""`mod_python.util`: FieldStorage and its fields, query-string parsing, apply_fs_data and redirect.

Rule: the API and behaviour of mod_python 3.5's module (`docs/mod_python-facts.md` §7): FieldStorage always
parses `req.args`, parses a POST body as urlencoded (also with no Content-Type) or multipart, answers 411 for a POST
without a length, 400 for a bad multipart body and 501 for any other content type, and gives a mapping of fields.
Where mod_python 3.5 is broken on Python 3 we keep its Python 2 intent instead, so code written for it keeps working:

- Text fields (query, urlencoded body, multipart parts without a filename) are `StringField`, a **str** subclass,
  with str names, decoded as UTF-8 (undecodable bytes replaced). mod_python gives bytes for urlencoded POSTs and
  multipart values, and str for the query. Uploads stay `Field` objects whose `.value` is bytes.
- `parse_qsl`/`parse_qs` give the right pairs (mod_python's C version turns `a=1&b=2` into `[('1','1'),('2','2')]`),
  split on `&` and `;` as mod_python does, and honour `strict_parsing` (mod_python ignores it): a field without `=`
  raises ValueError, which FieldStorage answers with 400.
- A chunked POST body (Apache streams it without CONTENT_LENGTH, `docs/apache-facts.md` §4) is read to its end instead
  of failing with 411; a POST with neither a length nor chunked encoding still gets 411.
- Uploads are streamed through the `multipart` package's push parser into temporary files, so memory stays bounded
  whatever the upload size. Two per-location limits answer 413, both read with `req.get_options()` (mod_python has
  neither): `PythonOption mod_python.field_storage.max_size N` bounds the body (refused before reading when the
  declared length is larger), `mod_python.field_storage.max_memory_size N` (default 16 MiB) bounds what is kept in
  memory: an urlencoded body, or the sum of the multipart parts without a filename. N is bytes, or with K, M or G.
- `redirect()` HTML-escapes the location in its default body; `apply_fs_data()` lets the caller's keyword arguments
  win over form fields of the same name (mod_python fails with AttributeError there).
"""

from __future__ import annotations

import html
import inspect
import io
import tempfile
from typing import IO, Any, Callable, Iterable, List, Optional, Tuple, Union

import multipart  # type: ignore[import-untyped]

from fcgi_handlers.request.constants import (DONE, HTTP_BAD_REQUEST, HTTP_MOVED_PERMANENTLY,
                                             HTTP_MOVED_TEMPORARILY, HTTP_NOT_IMPLEMENTED,
                                             HTTP_REQUEST_ENTITY_TOO_LARGE)
from fcgi_handlers.request.exceptions import SERVER_RETURN
from fcgi_handlers.request.table import table

from ._form_input import (READ_BLOCK_SIZE, BodyReader, FormDataParser, decode_text, header_text, parse_header,
                          parse_qs, parse_qsl, parse_size)

__all__ = ["Field", "FieldList", "FieldStorage", "StringField", "apply_fs_data", "parse_header", "parse_qs",
           "parse_qsl", "parse_size", "redirect"]

readBlockSize = READ_BLOCK_SIZE  # noqa: N816 - mod_python's name; the size of each body read
URLENCODED = "application/x-www-form-urlencoded"
MAX_SIZE_OPTION = "mod_python.field_storage.max_size"
MAX_MEMORY_OPTION = "mod_python.field_storage.max_memory_size"
DEFAULT_MAX_MEMORY_SIZE = 16 * 1024 * 1024
MAX_PART_HEADERS = 16  # header lines per multipart part; RFC 7578 needs 3

FileFactory = Callable[[str], IO[bytes]]
FieldFactory = Callable[[], IO[bytes]]


class Field:
    """A form field whose data is in a file: an upload (`filename` set), or a field built the pre-3.3 way."""

    filename: Optional[str]

    def __init__(self, name: Optional[str], *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.filename = None
        self.file: Optional[IO[bytes]] = None
        self.type: Optional[str] = None
        self.type_options: dict[str, str] = {}
        self.disposition: Optional[str] = None
        self.disposition_options: dict[str, str] = {}
        self.headers = table()
        if args or kwargs:  # third-party code (Trac) still builds fields with mod_python 3.2's arguments
            self._init_old_style(*args, **kwargs)

    def _init_old_style(self, file: IO[bytes], ctype: Optional[str], type_options: dict[str, str],
                        disp: Optional[str], disp_options: dict[str, str], headers: Optional[table] = None) -> None:
        self.file, self.type, self.type_options = file, ctype, type_options
        self.disposition, self.disposition_options = disp, disp_options
        self.filename = disp_options.get("filename")
        self.headers = headers if headers is not None else table()

    @property
    def value(self) -> Optional[bytes]:
        """The whole content of the file (bytes), read from its start; None without a file."""
        if self.file is None:
            return None
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        return data

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.value!r})"


class StringField(str):
    """A text field: the str value itself, with mod_python's field attributes and a `file` made on demand."""

    name: Optional[str] = None
    filename: Optional[str] = None
    type = "text/plain"
    ctype = "text/plain"  # mod_python's StringField spells it so; `type` is what Field and parsed parts have
    disposition: Optional[str] = None
    disp_options: Optional[dict[str, str]] = None
    headers: table
    type_options: dict[str, str]
    disposition_options: dict[str, str]
    _file: Optional[IO[bytes]]

    def __new__(cls, value: Union[str, bytes], name: Optional[str] = None) -> StringField:
        self = super().__new__(cls, decode_text(value) if isinstance(value, bytes) else value)
        self.name = name
        self.headers = table()
        self.type_options = {}
        self.disposition_options = {}
        self._file = None
        return self

    @property
    def value(self) -> str:
        return str(self)

    @property
    def file(self) -> IO[bytes]:
        """The value as a binary file (UTF-8), or the file the multipart part was read into."""
        if self._file is None:
            self._file = io.BytesIO(self.encode("utf-8"))
        return self._file

    @file.setter
    def file(self, file: IO[bytes]) -> None:
        self._file = file

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {str(self)!r})"


FormItem = Union[Field, StringField]


class FieldList(List[FormItem]):
    """`fs.list`: the fields in arrival order, with a by-name index rebuilt after any change."""

    def __init__(self, items: Iterable[FormItem] = ()) -> None:
        super().__init__(items)
        self._index: Optional[dict[Optional[str], List[FormItem]]] = None

    def table(self) -> dict[Optional[str], List[FormItem]]:
        """name -> fields of that name, in order (cached until the list changes)."""
        if self._index is None:
            index: dict[Optional[str], List[FormItem]] = {}
            for item in self:
                index.setdefault(item.name, []).append(item)
            self._index = index
        return self._index

    def _changed(self) -> None:
        self._index = None

    def __setitem__(self, *args: Any) -> None:
        self._changed()
        super().__setitem__(*args)

    def __delitem__(self, *args: Any) -> None:
        self._changed()
        super().__delitem__(*args)

    def __iadd__(self, items: Iterable[FormItem]) -> FieldList:  # type: ignore[override, misc]
        self._changed()
        super().__iadd__(items)
        return self

    def append(self, item: FormItem) -> None:
        self._changed()
        super().append(item)

    def extend(self, items: Iterable[FormItem]) -> None:
        self._changed()
        super().extend(items)

    def insert(self, index: Any, item: FormItem) -> None:
        self._changed()
        super().insert(index, item)

    def pop(self, index: Any = -1) -> FormItem:
        self._changed()
        return super().pop(index)

    def remove(self, item: FormItem) -> None:
        self._changed()
        super().remove(item)

    def clear(self) -> None:
        self._changed()
        super().clear()


class _PartReader:
    """One multipart part being received: where its bytes go, and the field it becomes."""

    def __init__(self, segment: Any, file_callback: Optional[FileFactory],
                 field_callback: Optional[FieldFactory]) -> None:
        self.headers = table()
        disposition, ctype = "", "text/plain"
        for name, raw in segment.headerlist:
            # The table keeps the header as it arrived (Latin-1 text, one character per byte, like every table
            # value); the disposition and type are read as UTF-8, which browsers use for names and filenames.
            self.headers.add(name, raw)
            if name == "Content-Disposition":
                disposition = header_text(raw)
            elif name == "Content-Type":
                ctype = header_text(raw)
        self.disposition, self.disposition_options = parse_header(disposition)
        self.type, self.type_options = parse_header(ctype)
        if "/" not in self.type:
            self.type = "application/octet-stream"  # some browsers send garbage for files without a suffix
        self.filename = self.disposition_options.get("filename")
        self.is_upload = bool(self.filename)  # an empty filename (no file chosen) gives a text field, as in mod_python
        if self.filename is not None:
            self.file = file_callback(self.filename) if callable(file_callback) else tempfile.TemporaryFile("w+b")
        else:
            self.file = field_callback() if callable(field_callback) else io.BytesIO()

    def finish(self) -> FormItem:
        self.file.seek(0)
        name = self.disposition_options.get("name")
        field: FormItem
        if self.is_upload:
            field = Field(name)
            field.filename = self.filename
        else:
            field = StringField(decode_text(self.file.read(), self.type_options.get("charset", "utf-8")), name)
            self.file.seek(0)
        field.file = self.file
        field.type = self.type
        field.type_options = self.type_options
        field.disposition = self.disposition
        field.disposition_options = self.disposition_options
        field.headers = self.headers
        return field


class FieldStorage:
    """The fields of the query string and of a POST body, as a read-mostly mapping in arrival order."""

    def __init__(self, req: Any, keep_blank_values: int = 0, strict_parsing: int = 0,
                 file_callback: Optional[FileFactory] = None, field_callback: Optional[FieldFactory] = None) -> None:
        self.list = FieldList()
        self._keep_blank, self._strict = keep_blank_values, strict_parsing
        if req.args:
            self._add_query(req.args)
        if req.method != "POST":
            return
        options = req.get_options()
        max_size = options.get(MAX_SIZE_OPTION)
        max_memory = options.get(MAX_MEMORY_OPTION)
        memory_limit = parse_size(max_memory) if max_memory else DEFAULT_MAX_MEMORY_SIZE
        body = BodyReader.open(req, parse_size(max_size) if max_size else None)
        ctype, type_options = parse_header(req.headers_in.get("Content-Type") or URLENCODED)
        if ctype == URLENCODED:
            self._add_query(body.read_all(memory_limit))
        elif ctype.startswith("multipart/"):
            self._read_multipart(body, type_options.get("boundary"), memory_limit, file_callback, field_callback)
        else:
            raise SERVER_RETURN(HTTP_NOT_IMPLEMENTED)

    def _add_query(self, query: Union[str, bytes]) -> None:
        try:
            pairs = parse_qsl(query, self._keep_blank, self._strict)
        except ValueError as error:
            raise SERVER_RETURN(HTTP_BAD_REQUEST) from error
        for name, value in pairs:
            self.list.append(StringField(value, decode_text(name) if isinstance(name, bytes) else name))

    def _read_multipart(self, body: BodyReader, boundary: Optional[str], memory_limit: int,
                        file_callback: Optional[FileFactory], field_callback: Optional[FieldFactory]) -> None:
        part: Optional[_PartReader] = None
        in_memory = 0
        try:
            if not boundary:
                raise multipart.ParserError("no boundary")
            with FormDataParser(boundary, header_charset="latin-1", max_header_count=MAX_PART_HEADERS) as parser:
                while not parser.closed:
                    for event in parser.parse(body.read()):
                        if isinstance(event, multipart.MultipartSegment):
                            part = _PartReader(event, file_callback, field_callback)
                        elif event is None and part is not None:
                            self.list.append(part.finish())
                            part = None
                        elif part is not None:
                            if not part.is_upload:
                                in_memory += len(event)
                                if in_memory > memory_limit:
                                    raise SERVER_RETURN(HTTP_REQUEST_ENTITY_TOO_LARGE)
                            part.file.write(event)
        except multipart.MultipartError as error:
            raise SERVER_RETURN(HTTP_BAD_REQUEST) from error

    # --- the mapping API ------------------------------------------------------------------------------------------
    def add_field(self, key: str, value: Union[str, bytes]) -> None:
        """Append a text field."""
        self.list.append(StringField(value, key))

    def __setitem__(self, key: str, value: Union[str, bytes]) -> None:
        """Replace every field named `key` by one text field (str or bytes; mod_python takes bytes only)."""
        if not isinstance(key, str) or not isinstance(value, (str, bytes)):
            raise TypeError("field name must be str and value str or bytes")
        for item in self.list.table().get(key, []):
            self.list.remove(item)
        self.add_field(key, value)

    def __getitem__(self, key: str) -> Union[FormItem, List[FormItem]]:
        """The field named `key`, or the list of them when there are several; KeyError if none."""
        found = self.list.table()[key]
        return found[0] if len(found) == 1 else list(found)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except (KeyError, TypeError):
            return default

    def getfirst(self, key: str, default: Any = None) -> Any:
        """The first field named `key`, else `default`."""
        found = self.list.table().get(key)
        return found[0] if found else default

    def getlist(self, key: str) -> List[FormItem]:
        """Every field named `key` ([] if none)."""
        return list(self.list.table().get(key, []))

    def keys(self) -> List[Optional[str]]:
        """Field names, each once, in the order first seen."""
        return list(self.list.table())

    def items(self) -> List[Tuple[Optional[str], FormItem]]:
        """(name, field) for every field, in arrival order (duplicates included)."""
        return [(item.name, item) for item in self.list]

    def has_key(self, key: object) -> bool:
        return key in self.list.table()

    __contains__ = has_key

    def __len__(self) -> int:
        return len(self.list.table())

    def __iter__(self) -> Any:
        return iter(self.keys())

    def __delitem__(self, key: str) -> None:
        for item in self.list.table()[key]:
            self.list.remove(item)

    def clear(self) -> None:
        self.list = FieldList()

    def __repr__(self) -> str:
        return repr(self.list.table())


def _parameters(obj: Callable[..., Any]) -> Optional[Tuple[frozenset[str], bool]]:
    # (names it takes by keyword, whether it takes **kw); None when the signature cannot be read (builtins).
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    names = frozenset(name for name, param in signature.parameters.items()
                      if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY))
    return names, any(param.kind == param.VAR_KEYWORD for param in signature.parameters.values())


def apply_fs_data(object: Any, fs: FieldStorage, **args: Any) -> Any:  # noqa: A002 - mod_python's name
    """Call `object` with the form fields it accepts as keyword arguments (plus `args`) and return its result.

    Functions, methods, classes (their __init__) and callable instances are inspected; a name given once is passed
    as its value (a Field for an upload), several times as a list; names it does not take are dropped unless it
    takes **kw. A builtin whose signature cannot be read is called with no arguments, as in mod_python."""
    if not callable(object) and callable(getattr(object, "__call__", None)):
        return apply_fs_data(object.__call__, fs, **args)  # an instance given a __call__ attribute
    values: dict[str, List[Any]] = {}
    for field in fs.list:
        if field.name is not None and field.name not in args:
            values.setdefault(field.name, []).append(field if field.filename else field.value)
    merged: dict[str, Any] = {name: found[0] if len(found) == 1 else found for name, found in values.items()}
    merged.update(args)
    accepted = _parameters(object)
    if accepted is None:
        return object()
    names, takes_any = accepted
    return object(**(merged if takes_any else {key: value for key, value in merged.items() if key in names}))


def redirect(req: Any, location: str, permanent: int = 0, text: Optional[str] = None) -> None:
    """Answer with a 301/302 to `location` and end the phase (raises SERVER_RETURN(DONE)).

    IOError if output was already sent. The default body links to the location (HTML-escaped here)."""
    if not isinstance(location, str):
        raise TypeError("location must be of type str")
    if req.sent_bodyct:
        raise IOError("Cannot redirect after headers have already been sent.")
    req.err_headers_out["Location"] = location
    req.status = HTTP_MOVED_PERMANENTLY if permanent else HTTP_MOVED_TEMPORARILY
    if text is None:
        text = f'<p>The document has moved <a href="{html.escape(location)}">here</a></p>\n'
    req.write(text)
    raise SERVER_RETURN(DONE)

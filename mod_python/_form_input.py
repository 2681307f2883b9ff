"""Reading form input for mod_python.util: query strings, header parameters, and the request body.

Rule: everything here turns the client's bytes into names and values without building mod_python's objects (those
are in `util.py`), so each piece is small and tested on its own through util's public names:
- `parse_qsl`/`parse_qs` split on `&` and `;` (mod_python's C parser does), decode `+` and %XX, drop blank values
  unless asked, and with `strict_parsing` refuse a field without `=` (ValueError);
- `parse_header` splits a Content-Type/Content-Disposition value on `;` outside quotes;
- `BodyReader` reads a POST body for FieldStorage: at most the declared length, or to its end when Apache streams a
  chunked body without CONTENT_LENGTH (`docs/apache-facts.md` §4), and answers 411/413 by mod_python's rules and ours;
- `FormDataParser` is the `multipart` package's push parser, accepting parts of any disposition as mod_python does.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple, Union, overload
from urllib.parse import unquote_to_bytes

import multipart  # type: ignore[import-untyped]

from fcgi_handlers.request.constants import HTTP_LENGTH_REQUIRED, HTTP_REQUEST_ENTITY_TOO_LARGE
from fcgi_handlers.request.exceptions import SERVER_RETURN

READ_BLOCK_SIZE = 65368  # mod_python's readBlockSize: the size of each body read
_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)b?\s*", re.IGNORECASE)
_PAIR_SEPARATOR = re.compile(rb"[&;]")


def decode_text(data: bytes, charset: str = "utf-8") -> str:
    # The charset comes from the client: a name Python does not know, a codec that is not text, or one that refuses
    # the "replace" handler (idna, punycode, undefined) or holds a NUL falls back to UTF-8.
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):
        return data.decode("utf-8", "replace")


def header_text(value: str) -> str:
    # Part headers are parsed as Latin-1 so no byte is refused; browsers send UTF-8 names and filenames.
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def parse_size(text: str) -> int:
    """A size option: bytes, or a number with K, M or G (powers of 1024)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size {text!r}: expected bytes, or a number with K, M or G")
    scale: int = 1024 ** " kmg".index((match.group(2) or " ").lower())
    return int(match.group(1)) * scale


class BodyReader:
    """The request body as FieldStorage reads it: at most the declared length, counted against max_size."""

    def __init__(self, req: Any, length: Optional[int], max_size: Optional[int]) -> None:
        self.req, self.length, self.max_size, self.consumed = req, length, max_size, 0

    @classmethod
    def open(cls, req: Any, max_size: Optional[int]) -> BodyReader:
        length_text = req.headers_in.get("Content-Length")
        try:
            length: Optional[int] = int(length_text) if length_text is not None else None
        except ValueError:
            length = None
        chunked = "chunked" in (req.headers_in.get("Transfer-Encoding") or "").lower()
        if length is None or length < 0:
            if not chunked or length_text is not None:
                raise SERVER_RETURN(HTTP_LENGTH_REQUIRED)
            length = None  # Apache streams a chunked body it could not prefetch: read it to its end
        if length is not None and max_size is not None and length > max_size:
            raise SERVER_RETURN(HTTP_REQUEST_ENTITY_TOO_LARGE)  # refused before reading
        return cls(req, length, max_size)

    def read(self, size: int = READ_BLOCK_SIZE) -> bytes:
        if self.length is not None:
            size = min(size, self.length - self.consumed)
            if size <= 0:
                return b""
        data: bytes = self.req.read(size)
        self.consumed += len(data)
        if self.max_size is not None and self.consumed > self.max_size:
            raise SERVER_RETURN(HTTP_REQUEST_ENTITY_TOO_LARGE)
        return data

    def read_all(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            data = self.read()
            if not data:
                return b"".join(parts)
            total += len(data)
            if total > limit:
                raise SERVER_RETURN(HTTP_REQUEST_ENTITY_TOO_LARGE)
            parts.append(data)


class FormDataParser(multipart.PushMultipartParser):  # type: ignore[misc]
    """The push parser, accepting parts of any disposition as mod_python does (their name may be None)."""

    def _create_segment(self, headerlist: List[Tuple[str, str]]) -> Any:
        return multipart.MultipartSegment(headerlist)


@overload
def parse_qsl(qs: str, keep_blank_values: int = 0, strict_parsing: int = 0) -> List[Tuple[str, str]]: ...
@overload
def parse_qsl(qs: bytes, keep_blank_values: int = 0, strict_parsing: int = 0) -> List[Tuple[bytes, bytes]]: ...


def parse_qsl(qs: Union[str, bytes], keep_blank_values: int = 0,
              strict_parsing: int = 0) -> Union[List[Tuple[str, str]], List[Tuple[bytes, bytes]]]:
    """(name, value) pairs of a query string split on `&` and `;`, `+` and %XX decoded; str in gives str out
    (UTF-8), bytes in gives bytes out. Blank values are dropped unless `keep_blank_values`; with
    `strict_parsing` a field without `=` raises ValueError."""
    raw = qs.encode("utf-8", "surrogateescape") if isinstance(qs, str) else bytes(qs)
    pairs: list[tuple[bytes, bytes]] = []
    for field in _PAIR_SEPARATOR.split(raw):
        if not field:
            continue
        name, equals, value = field.partition(b"=")
        if not equals and strict_parsing:
            raise ValueError(f"bad query field: {field!r}")
        if value or keep_blank_values:
            pairs.append((unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))))
    if isinstance(qs, str):
        return [(decode_text(name), decode_text(value)) for name, value in pairs]
    return pairs


def parse_qs(qs: Union[str, bytes], keep_blank_values: int = 0, strict_parsing: int = 0) -> dict[Any, List[Any]]:
    """`parse_qsl` as a dict of name -> list of values."""
    result: dict[Any, List[Any]] = {}
    for name, value in parse_qsl(qs, keep_blank_values, strict_parsing):
        result.setdefault(name, []).append(value)
    return result


def _split_params(line: str) -> list[str]:
    # Split on ';' outside double quotes (a filename may hold ';'); `\"` does not end a quoted string.
    parts, current, quoted, index = [], [], False, 0
    while index < len(line):
        char = line[index]
        if char == "\\" and quoted and index + 1 < len(line):
            current.append(line[index:index + 2])
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return [part.strip() for part in parts]


def parse_header(line: Union[str, bytes]) -> Tuple[str, dict[str, str]]:
    """A Content-Type-like header: (lower-cased main value, {lower-cased option: unquoted value}).

    mod_python takes bytes only and returns a bytes main value; here str or bytes (Latin-1) give str."""
    text = line.decode("latin-1") if isinstance(line, bytes) else line
    main, *params = _split_params(text)
    options: dict[str, str] = {}
    for param in params:
        name, equals, value = param.partition("=")
        if not equals:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        options[name.strip().lower()] = value
    return main.lower(), options

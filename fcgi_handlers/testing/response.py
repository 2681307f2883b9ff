"""The response a test sees, the same object from the in-process client and from a real Apache, and the cookie jar
and request body encoding both clients share.

Rule: one response type whichever way the request went, so a test written against `mp_client` runs unchanged
against the `httpd` fixture and against real mod_python (`--fh-against=mod_python`). `str(response)` is the whole
exchange as text (request line, status, headers, body, the error log lines it caused): what a failing test shows.
"""
from __future__ import annotations

import json
import mimetypes
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, Morsel, SimpleCookie
from typing import Any, Iterator, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode

# A form field's value, or a file: bytes, (filename, bytes) or (filename, bytes, content type).
FileSpec = Union[bytes, tuple[str, bytes], tuple[str, bytes, str]]
Data = Union[None, bytes, str, Mapping[str, Union[str, Sequence[str]]]]
HeaderInput = Union[None, Mapping[str, str], Sequence[tuple[str, str]]]
SHOWN_BODY = 4000   # characters of a body a failure report shows


class Headers:
    """Response headers: ordered (name, value) pairs, case-insensitive lookup, repeated names kept."""

    def __init__(self, pairs: Sequence[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return next((v for k, v in self._pairs if k.lower() == name.lower()), default)

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self._pairs if k.lower() == name.lower()]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


@dataclass
class Response:
    """One answer: status, headers, body, the cookies it set and the error log lines the request produced."""

    status: int
    reason: str
    headers: Headers
    content: bytes
    log: list[str] = field(default_factory=list)
    request_line: str = ""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def cookies(self) -> dict[str, str]:
        """name -> value of every Set-Cookie of this response."""
        return parse_set_cookies(self.headers.get_all("Set-Cookie"))

    def __str__(self) -> str:
        lines = [self.request_line] if self.request_line else []
        lines.append(f"-> {self.status} {self.reason}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        body = self.text
        lines += ["", body if len(body) <= SHOWN_BODY else body[:SHOWN_BODY] + f"... ({len(body)} characters)"]
        if self.log:
            lines += ["error log:", *self.log]
        return "\n".join(lines)


def _morsels(set_cookie_values: Sequence[str]) -> Iterator[tuple[str, Morsel[str]]]:
    """(name, morsel) of every cookie the Set-Cookie values hold; a value Python's parser refuses is skipped."""
    for value in set_cookie_values:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            continue
        yield from jar.items()


def parse_set_cookies(values: Sequence[str]) -> dict[str, str]:
    return {name: morsel.value for name, morsel in _morsels(values)}


class CookieJar:
    """The cookies a client keeps between requests (one host, paths ignored): set by Set-Cookie, removed by an
    expired one (Max-Age=0 or an Expires in the past is how handlers delete them)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update(self, set_cookie_values: Sequence[str]) -> None:
        for name, morsel in _morsels(set_cookie_values):
            if morsel["max-age"] in ("0", "-1") or _expired(morsel["expires"]):
                self.values.pop(name, None)
            else:
                self.values[name] = morsel.value

    def header(self) -> Optional[str]:
        return "; ".join(f"{k}={v}" for k, v in self.values.items()) or None


def _expired(expires: str) -> bool:
    if not expires:
        return False
    try:
        return parsedate_to_datetime(expires) < datetime.now(timezone.utc)
    except (TypeError, ValueError):
        return False


class RequestMethods:
    """get/head/post in terms of `request`: the interface the in-process `Client` and the real-Apache `HttpClient`
    share, so a test written against one runs against the other."""

    def request(self, method: str, url: str, *, data: Data = None, files: Optional[dict[str, FileSpec]] = None,
                headers: HeaderInput = None) -> Response:
        raise NotImplementedError

    def get(self, url: str, *, headers: HeaderInput = None) -> Response:
        return self.request("GET", url, headers=headers)

    def head(self, url: str, *, headers: HeaderInput = None) -> Response:
        return self.request("HEAD", url, headers=headers)

    def post(self, url: str, *, data: Data = None, files: Optional[dict[str, FileSpec]] = None,
             headers: HeaderInput = None) -> Response:
        return self.request("POST", url, data=data, files=files, headers=headers)


def header_pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    if headers is None:
        return []
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


def encode_body(data: Data, files: Optional[Mapping[str, FileSpec]]) -> tuple[bytes, Optional[str]]:
    """(body, Content-Type) for `data` (bytes/str as is, a mapping urlencoded) and `files` (multipart/form-data)."""
    if files:
        return _multipart(data if isinstance(data, Mapping) else {}, files)
    if data is None:
        return b"", None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    return urlencode(data, doseq=True).encode("ascii"), "application/x-www-form-urlencoded"


def _multipart(fields: Mapping[str, Union[str, Sequence[str]]],
               files: Mapping[str, FileSpec]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        for item in [value] if isinstance(value, str) else value:
            parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + item.encode())
    for name, spec in files.items():
        filename, content, kind = _file_parts(name, spec)
        head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
        parts.append(head.encode() + content)
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary.encode() + b"--\r\n", f"multipart/form-data; boundary={boundary}"


def _file_parts(name: str, spec: FileSpec) -> tuple[str, bytes, str]:
    if isinstance(spec, bytes):
        return name, spec, "application/octet-stream"
    if len(spec) == 2:
        return spec[0], spec[1], mimetypes.guess_type(spec[0])[0] or "application/octet-stream"
    return spec[0], spec[1], spec[2]

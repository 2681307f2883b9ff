"""`mod_python.Cookie`: one cookie per object, signed and marshalled cookies, and the request helpers.

Rule: mod_python 3.5's API (`docs/mod_python-facts.md` §7): `Cookie(name, value, **attributes)` whose str()
is the Set-Cookie value (`secure`, `discard` and `httponly` as bare flags; `expires` given as epoch seconds comes out
in the Netscape format `Thu, 01-Jan-1970 00:00:00 GMT`), `Cookie.parse()` giving a dict (the last cookie of a name
wins, `$` names are skipped), `add_cookie()` adding `Cache-Control: no-cache="set-cookie"` with the first cookie,
`get_cookies()`/`get_cookie()`, and the DOWNGRADE / IGNORE / EXCEPTION answers to a bad signature.

mod_python's SignedCookie and MarshalCookie crash on Python 3 (hmac without a digest, base64.encodestring). Here they
work, sign with HMAC-SHA256 (64 hex characters before the value) and still accept values signed the old way (HMAC-MD5,
32 hex characters) so cookies issued by mod_python on Python 2 stay valid; set `SignedCookie.legacy_digests = ()` to
refuse those (HMAC-MD5 is not known to be forgeable, but new cookies should not rely on it). A MarshalCookie value is
only unmarshalled after its signature verified: marshal data from a client is never loaded otherwise.
Other intended differences: `max_age` is sent as `Max-Age` (mod_python writes `max_age`, which browsers ignore),
attribute names are matched without regard to case (`commentURL=` failed in mod_python), a false `secure`/`discard`/
`httponly` is left out instead of sent as a flag, and `expires` also accepts RFC 1123 dates.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import marshal
import re
import time
from typing import Any, ClassVar, Dict, Iterable, Optional, Tuple, Type, Union, cast

Secret = Union[str, bytes]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# `Thu, 01-Jan-1970 00:00:00 GMT` (Netscape, what mod_python writes) or `Thu, 01 Jan 1970 00:00:00 GMT` (RFC 1123).
_EXPIRES = re.compile(r"\s*[A-Za-z]{3},\s*(\d{1,2})[- ]([A-Za-z]{3})[- ](\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+GMT\s*")
# One `name=value` of a Cookie or Set-Cookie header: a name up to `;`, space or `=`, then a quoted or plain value.
_COOKIE = re.compile(r'[,\s]*(?P<key>[^;\s=]+)\s*(?:=\s*)?(?P<val>"(?:[^\\"]|\\.)*"|[^;]*)\s*;?')
_FLAGS = ("secure", "discard", "httponly")
_WIRE_NAMES = {"max_age": "Max-Age"}


class CookieError(Exception):
    """A cookie that cannot be signed, verified or decoded."""


def _format_expires(seconds: float) -> str:
    t = time.gmtime(seconds)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _check_expires(text: str) -> str:
    match = _EXPIRES.fullmatch(text)
    if match is None or match.group(2).title() not in _MONTHS:
        raise ValueError(f"Invalid expires time: {text}")
    day, month, year, hour, minute, second = match.groups()
    datetime.datetime(int(year), _MONTHS.index(month.title()) + 1, int(day), int(hour), int(minute), int(second))
    return text  # kept as given once it names a real date (datetime raises ValueError otherwise)


class Cookie:
    """One cookie; keyword arguments set its attributes (see `_valid_attr`)."""

    DOWNGRADE: ClassVar[int] = 0
    IGNORE: ClassVar[int] = 1
    EXCEPTION: ClassVar[int] = 3

    _valid_attr: ClassVar[Tuple[str, ...]] = (
        "version", "path", "domain", "secure", "comment", "expires", "max_age", "samesite", "commentURL", "discard",
        "port", "httponly")
    __slots__ = ("name", "value", "version", "path", "domain", "secure", "comment", "_expires", "max_age", "samesite",
                 "commentURL", "discard", "port", "httponly", "__data__")

    name: str
    value: Any
    version: Any
    path: str
    domain: str
    secure: Any
    comment: str
    _expires: str
    max_age: Any
    samesite: str
    commentURL: str  # noqa: N815 - the attribute name mod_python uses
    discard: Any
    port: Any
    httponly: Any
    __data__: Dict[str, Any]

    def __init__(self, name: str, value: Any, **kw: Any) -> None:
        self.name, self.value = name, value
        self.__data__ = {}
        for key, attr_value in kw.items():
            setattr(self, self._attribute_name(key), attr_value)

    @classmethod
    def _attribute_name(cls, key: str) -> str:
        wanted = key.lower().replace("-", "_")
        for name in cls._valid_attr:
            if name.lower() == wanted:
                return name
        raise AttributeError(f"{cls.__name__!r} has no cookie attribute {key!r}")

    @property
    def expires(self) -> str:
        """The expiry date as sent; set it to epoch seconds or to a date string."""
        return self._expires

    @expires.setter
    def expires(self, value: Union[str, int, float]) -> None:
        self._expires = _check_expires(value) if isinstance(value, str) else _format_expires(value)

    @classmethod
    def parse(cls, str: str, **kw: Any) -> Dict[str, Cookie]:  # noqa: A002 - mod_python's argument name
        """The cookies of a Cookie (or Set-Cookie) header value, by name; `names=[...]` keeps only those."""
        return _parse_cookie(str, cls, **kw)

    def _attributes(self) -> Iterable[str]:
        for name in self._valid_attr:
            try:
                value = getattr(self, name)
            except AttributeError:
                continue  # never set
            if name in _FLAGS:
                if value:
                    yield name
            else:
                yield f"{_WIRE_NAMES.get(name, name)}={value}"

    def _header_value(self, value: str) -> str:
        return "; ".join([f"{self.name}={value}", *self._attributes()])

    def __str__(self) -> str:
        """The Set-Cookie header value (no quoting is added, as in mod_python)."""
        return self._header_value(f"{self.value}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"


def _secret_bytes(secret: Secret) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


class SignedCookie(Cookie):
    """A cookie whose value carries an HMAC of name and value, so a client cannot change it unnoticed."""

    __slots__ = ()
    digest: ClassVar[str] = "sha256"  # hashlib names
    legacy_digests: ClassVar[Tuple[str, ...]] = ("md5",)  # mod_python on Python 2 signed with HMAC-MD5

    def __init__(self, name: str, value: Any, secret: Optional[Secret] = None, **kw: Any) -> None:
        super().__init__(name, value, **kw)
        self.__data__["secret"] = secret

    @classmethod
    def parse(cls, s: str, secret: Optional[Secret] = None,  # type: ignore[override]
              mismatch: int = Cookie.DOWNGRADE, **kw: Any) -> Dict[str, Cookie]:
        """Parse and verify; a bad signature raises (EXCEPTION), drops the cookie (IGNORE) or gives a plain Cookie
        with the raw value (DOWNGRADE)."""
        cookies = _parse_cookie(s, cls, **kw)
        for name, cookie in list(cookies.items()):
            try:
                cast(SignedCookie, cookie)._verify(secret)
            except CookieError:
                if mismatch == Cookie.EXCEPTION:
                    raise
                if mismatch == Cookie.IGNORE:
                    del cookies[name]
                else:
                    cookies[name] = Cookie(name, cookie.value)
        return cookies

    def _verify(self, secret: Optional[Secret]) -> None:
        self.unsign(secret)

    def hexdigest(self, str: str, digest: Optional[str] = None) -> str:  # noqa: A002 - mod_python's name
        """The hex HMAC of name + `str` with the cookie's secret."""
        secret = self.__data__.get("secret")
        if not secret:
            raise CookieError("Cannot sign without a secret")
        mac = hmac.new(_secret_bytes(secret), self.name.encode("utf-8"), digest or self.digest)
        mac.update(str.encode("utf-8"))
        return mac.hexdigest()

    def __str__(self) -> str:
        value = f"{self.value}"
        return self._header_value(self.hexdigest(value) + value)

    def unsign(self, secret: Optional[Secret]) -> None:
        """Check the signature prefix against `secret` and strip it; CookieError if it does not match."""
        if secret:
            self.__data__["secret"] = secret
            raw = f"{self.value}"
            for digest in (self.digest, *self.legacy_digests):
                size = hashlib.new(digest).digest_size * 2
                signature, value = raw[:size], raw[size:]
                expected = self.hexdigest(value, digest).encode("ascii")
                if len(signature) == size and hmac.compare_digest(signature.encode("utf-8"), expected):
                    self.value = value
                    return
        raise CookieError(f"Incorrectly Signed Cookie: {self.name}={self.value}")


class MarshalCookie(SignedCookie):
    """A signed cookie holding any marshallable value (marshal, then base64, then signed)."""

    __slots__ = ()

    def __str__(self) -> str:
        encoded = base64.b64encode(marshal.dumps(self.value)).decode("ascii")
        return self._header_value(self.hexdigest(encoded) + encoded)

    def _verify(self, secret: Optional[Secret]) -> None:
        self.unmarshal(secret)

    def unmarshal(self, secret: Optional[Secret]) -> None:
        """Verify the signature, then decode the value; nothing is unmarshalled before the signature matched."""
        self.unsign(secret)
        try:
            data = base64.b64decode(f"{self.value}", validate=True)
        except (binascii.Error, ValueError):
            raise CookieError(f"Cannot base64 Decode Cookie: {self.name}={self.value}") from None
        try:
            self.value = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            raise CookieError(f"Cannot Unmarshal Cookie: {self.name}={self.value}") from None


def _parse_cookie(text: str, cls: Type[Cookie], names: Optional[Iterable[str]] = None) -> Dict[str, Cookie]:
    wanted = None if names is None else set(names)
    result: Dict[str, Cookie] = {}
    for match in _COOKIE.finditer(text):
        key, value = match.group("key"), match.group("val")
        if not key.startswith("$") and (wanted is None or key in wanted):
            result[key] = cls(key, value)
    return result


def add_cookie(req: Any, cookie: Union[Cookie, str], value: str = "", **kw: Any) -> None:
    """Add a Set-Cookie header (building a Cookie from name, value and attributes if needed); the first cookie also
    adds `Cache-Control: no-cache="set-cookie"` so shared caches do not store it."""
    if not isinstance(cookie, Cookie):
        cookie = Cookie(cookie, value, **kw)
    if "Set-Cookie" not in req.headers_out:
        req.headers_out.add("Cache-Control", 'no-cache="set-cookie"')
    req.headers_out.add("Set-Cookie", str(cookie))


def get_cookies(req: Any, Class: Type[Cookie] = Cookie, **kw: Any) -> Dict[str, Cookie]:  # noqa: N803
    """The request's cookies parsed with `Class` (`secret=`, `mismatch=`, `names=` are passed on)."""
    if "cookie" not in req.headers_in:
        return {}
    cookies = req.headers_in["cookie"]
    if isinstance(cookies, list):
        cookies = "; ".join(cookies)
    return Class.parse(cookies, **kw)


def get_cookie(req: Any, name: str, Class: Type[Cookie] = Cookie, **kw: Any) -> Optional[Cookie]:  # noqa: N803
    """The request's cookie called `name`, or None."""
    return get_cookies(req, Class, names=[name], **kw).get(name)

"""mod_python.Cookie: the Set-Cookie text, parsing, signing (HMAC-SHA256, legacy HMAC-MD5 accepted), the mismatch
answers, MarshalCookie's verify-before-unmarshal rule, and the request helpers with headers read from the wire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import marshal
from typing import Any

import pytest
from util_session_support import ListSink, base_params, make_request, response_headers

from mod_python import Cookie


def signed_value(secret: bytes, name: str, value: str, digest: str) -> str:
    """The signed cookie value computed here with hmac directly, not with the class under test."""
    mac = hmac.new(secret, name.encode(), digest)
    mac.update(value.encode())
    return mac.hexdigest() + value


# --- Cookie ----------------------------------------------------------------------------------------------------------
def test_str_lists_attributes_in_mod_python_order() -> None:
    cookie = Cookie.Cookie("spam", "eggs", httponly=1, path="/", expires=0, secure=True, samesite="Lax",
                           max_age=60, domain="example.com", version=1, comment="c")
    assert str(cookie) == ("spam=eggs; version=1; path=/; domain=example.com; secure; comment=c; "
                           "expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=60; samesite=Lax; httponly")
    assert repr(cookie) == f"<Cookie: {cookie}>"


def test_expires_numbers_and_strings() -> None:
    cookie = Cookie.Cookie("a", "b")
    cookie.expires = 1700000000.5
    assert cookie.expires == "Tue, 14-Nov-2023 22:13:20 GMT"
    cookie.expires = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert cookie.expires == "Wed, 21 Oct 2015 07:28:00 GMT"
    for bad in ("tomorrow", "Wed, 21-Foo-2015 07:28:00 GMT", "Wed, 31-Feb-2015 07:28:00 GMT"):
        with pytest.raises(ValueError):
            cookie.expires = bad


def test_attributes_are_checked_and_matched_without_case() -> None:
    cookie = Cookie.Cookie("a", "b", commentURL="http://x/", Max_Age=5, HttpOnly=0, Secure="")
    assert cookie.commentURL == "http://x/" and cookie.max_age == 5
    assert str(cookie) == "a=b; Max-Age=5; commentURL=http://x/"  # false flags are not sent
    with pytest.raises(AttributeError):
        Cookie.Cookie("a", "b", colour="red")
    with pytest.raises(AttributeError):
        cookie.colour = "red"  # type: ignore[attr-defined]


def test_parse() -> None:
    parsed = Cookie.Cookie.parse('a=1; $Version=1; b="quoted; value"; c=; a=2; d = 4; e=x, y')
    assert {name: cookie.value for name, cookie in parsed.items()} == {
        "a": "2", "b": '"quoted; value"', "c": "", "d": "4", "e": "x, y"}
    assert all(type(cookie) is Cookie.Cookie and cookie.name == name for name, cookie in parsed.items())
    assert list(Cookie.Cookie.parse("a=1; b=2; c=3", names=["b"])) == ["b"]


# --- SignedCookie ----------------------------------------------------------------------------------------------------
def test_signed_cookie_uses_hmac_sha256() -> None:
    cookie = Cookie.SignedCookie("sid", "abc", secret="s3cret", path="/")
    assert str(cookie) == f"sid={signed_value(b's3cret', 'sid', 'abc', 'sha256')}; path=/"
    with pytest.raises(Cookie.CookieError):
        str(Cookie.SignedCookie("sid", "abc"))


def test_signed_cookie_round_trip_and_legacy_md5() -> None:
    header = f"new={signed_value(b'k', 'new', 'v1', 'sha256')}; old={signed_value(b'k', 'old', 'v2', 'md5')}"
    parsed = Cookie.SignedCookie.parse(header, "k")
    assert {name: cookie.value for name, cookie in parsed.items()} == {"new": "v1", "old": "v2"}
    assert all(isinstance(cookie, Cookie.SignedCookie) for cookie in parsed.values())


def test_legacy_signatures_can_be_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Cookie.SignedCookie, "legacy_digests", ())
    header = f"old={signed_value(b'k', 'old', 'v2', 'md5')}"
    assert Cookie.SignedCookie.parse(header, "k", mismatch=Cookie.Cookie.IGNORE) == {}


def test_mismatch_answers() -> None:
    good = signed_value(b"k", "a", "ok", "sha256")
    header = f"a={good}; b={signed_value(b'other', 'b', 'x', 'sha256')}; c=short"
    downgraded = Cookie.SignedCookie.parse(header, "k")
    assert type(downgraded["b"]) is Cookie.Cookie and downgraded["b"].value == header.split("b=")[1].split(";")[0]
    assert type(downgraded["a"]) is Cookie.SignedCookie and downgraded["a"].value == "ok"
    assert list(Cookie.SignedCookie.parse(header, "k", mismatch=Cookie.Cookie.IGNORE)) == ["a"]
    with pytest.raises(Cookie.CookieError):
        Cookie.SignedCookie.parse(header, "k", mismatch=Cookie.Cookie.EXCEPTION)
    # a signature for another name does not verify (the name is part of the HMAC)
    moved = f"z={good}"
    assert Cookie.SignedCookie.parse(moved, "k", mismatch=Cookie.Cookie.IGNORE) == {}
    assert Cookie.SignedCookie.parse(f"a={good}", None, mismatch=Cookie.Cookie.IGNORE) == {}


# --- MarshalCookie ---------------------------------------------------------------------------------------------------
def test_marshal_cookie_round_trip() -> None:
    value = {"user": "spam", "ids": [1, 2, 3], "ok": True}
    cookie = Cookie.MarshalCookie("m", value, secret="k")
    encoded = base64.b64encode(marshal.dumps(value)).decode()
    assert str(cookie) == f"m={signed_value(b'k', 'm', encoded, 'sha256')}"
    assert Cookie.MarshalCookie.parse(str(cookie), "k")["m"].value == value


def test_marshal_data_is_never_loaded_before_the_signature_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[bytes] = []
    real_loads = marshal.loads

    def spy(data: bytes) -> Any:
        loaded.append(data)
        return real_loads(data)

    monkeypatch.setattr(marshal, "loads", spy)
    forged = base64.b64encode(marshal.dumps({"admin": True})).decode()
    header = f"m={signed_value(b'attacker', 'm', forged, 'sha256')}; n={'0' * 64}{forged}; o={forged}"
    for mismatch in (Cookie.Cookie.DOWNGRADE, Cookie.Cookie.IGNORE):
        result = Cookie.MarshalCookie.parse(header, "k", mismatch=mismatch)
        assert all(type(cookie) is Cookie.Cookie for cookie in result.values())
    with pytest.raises(Cookie.CookieError):
        Cookie.MarshalCookie.parse(header, "k", mismatch=Cookie.Cookie.EXCEPTION)
    assert loaded == []
    Cookie.MarshalCookie.parse(f"m={signed_value(b'k', 'm', forged, 'sha256')}", "k")
    assert len(loaded) == 1


def test_marshal_cookie_with_undecodable_payload() -> None:
    header = f"m={signed_value(b'k', 'm', 'not base64!', 'sha256')}; n={signed_value(b'k', 'n', 'AAAA', 'sha256')}"
    with pytest.raises(Cookie.CookieError, match="base64"):
        Cookie.MarshalCookie.parse(header, "k", mismatch=Cookie.Cookie.EXCEPTION, names=["m"])
    with pytest.raises(Cookie.CookieError, match="Unmarshal"):
        Cookie.MarshalCookie.parse(header, "k", mismatch=Cookie.Cookie.EXCEPTION, names=["n"])


# --- request helpers -------------------------------------------------------------------------------------------------
def test_add_cookie_headers_on_the_wire() -> None:
    sink = ListSink()
    req = make_request(sink=sink)
    Cookie.add_cookie(req, Cookie.Cookie("spam", "eggs", path="/", httponly=1))
    Cookie.add_cookie(req, "second", "2", expires=0)
    req.flush()
    _, headers, _ = response_headers(sink)
    assert [pair for pair in headers if pair[0] in ("Set-Cookie", "Cache-Control")] == [
        ("Cache-Control", 'no-cache="set-cookie"'),
        ("Set-Cookie", "spam=eggs; path=/; httponly"),
        ("Set-Cookie", "second=2; expires=Thu, 01-Jan-1970 00:00:00 GMT"),
    ]


def test_get_cookies_and_get_cookie() -> None:
    params = base_params()
    params["HTTP_COOKIE"] = f"a=1; s={signed_value(b'k', 's', 'v', 'sha256')}; t=forged"
    req = make_request(params)
    assert {name: c.value for name, c in Cookie.get_cookies(req).items()}["a"] == "1"
    found = Cookie.get_cookie(req, "a")
    assert found is not None and found.value == "1"
    assert Cookie.get_cookie(req, "missing") is None
    signed = Cookie.get_cookie(req, "s", Class=Cookie.SignedCookie, secret="k")
    assert isinstance(signed, Cookie.SignedCookie) and signed.value == "v"
    assert Cookie.get_cookie(req, "t", Class=Cookie.SignedCookie, secret="k", mismatch=Cookie.Cookie.IGNORE) is None
    assert Cookie.get_cookies(make_request(base_params())) == {}


def test_get_cookies_joins_repeated_headers() -> None:
    req = make_request()
    req.headers_in.add("Cookie", "a=1")
    req.headers_in.add("Cookie", "b=2")
    assert sorted(Cookie.get_cookies(req)) == ["a", "b"]


def test_parsed_names_are_what_hashlib_signs() -> None:
    # the signature covers name + value, as mod_python's did (HMAC keyed with the secret)
    cookie = Cookie.SignedCookie("n", "v", secret=b"raw-bytes")
    assert cookie.hexdigest("v") == hmac.new(b"raw-bytes", b"nv", hashlib.sha256).hexdigest()

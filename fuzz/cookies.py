"""Fuzz target: the ``Cookie`` header through ``mod_python.Cookie``: plain, signed and marshal cookies.

Documented error: ``CookieError``, and only when the caller asked for it (``mismatch=Cookie.EXCEPTION``); the
default answers (DOWNGRADE, IGNORE) never raise. Invariants: a value is only unmarshalled after its signature
verified; a parsed plain cookie's ``str()`` (what a handler echoing it sends back) keeps its value whole.
Half of the inputs carry a correct signature made here, so the base64 and marshal decoding behind it is reached.
"""

from __future__ import annotations

import atheris

from _harness import instrumented, main

with instrumented("mod_python.Cookie"):
    from mod_python import Cookie

SECRET = "fuzz-secret"
_CLASSES = (Cookie.Cookie, Cookie.SignedCookie, Cookie.MarshalCookie)
_MODES = (Cookie.Cookie.DOWNGRADE, Cookie.Cookie.IGNORE, Cookie.Cookie.EXCEPTION)


def _signed(name: str, value: str) -> str:
    """``name=<hmac><value>`` signed with SECRET, as SignedCookie.__str__ would write it (value unquoted)."""
    return name + "=" + Cookie.SignedCookie(name, value, secret=SECRET).hexdigest(value) + value


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    cls = _CLASSES[fdp.ConsumeIntInRange(0, 2)]
    mode = _MODES[fdp.ConsumeIntInRange(0, 2)]
    sign = fdp.ConsumeBool()
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
    if sign:
        name, _, value = text.partition("=")
        text = _signed(name.strip(" ;,=\t\r\n\"$") or "n", value.replace(";", ""))
    try:
        cookies = cls.parse(text) if cls is Cookie.Cookie else cls.parse(text, secret=SECRET, mismatch=mode)
    except Cookie.CookieError:
        assert mode == Cookie.Cookie.EXCEPTION and cls is not Cookie.Cookie, "CookieError without EXCEPTION"
        return
    for name, cookie in cookies.items():
        assert name == cookie.name and not name.startswith("$"), f"cookie {name!r} kept as {cookie.name!r}"
        if type(cookie) is Cookie.Cookie:
            assert ";" not in str(cookie).partition(";")[0][len(name):], "a value ran into the attributes"


def seeds() -> list[bytes]:
    import base64
    import marshal

    marshalled = base64.b64encode(marshal.dumps({"a": [1, 2.5, "x"]})).decode()
    return [b"\x00\x00\x00a=1; b=\"q\\\"uoted\"; $Path=/; c", b"\x01\x00\x01sess=0123456789abcdef0123456789abcdef",
            b"\x02\x02\x01m=" + marshalled.encode(), b"\x01\x01\x00x=deadbeef" + b"0" * 56 + b"v"]


if __name__ == "__main__":
    main(test_one_input, seeds)

"""Cookies and sessions.

mod_python.Cookie (docs/mod_python-facts.md §7): Cookie attributes and their Set-Cookie rendering, add_cookie's
Cache-Control, get_cookies/get_cookie parsing. SignedCookie and MarshalCookie crash on Python 3 in mod_python
(hmac.new without digestmod, base64.encodestring removed in 3.9): intended differences, the daemon's working
answer asserted.

mod_python.Session (docs/mod_python-facts.md §7): new sessions and their pysid cookie, data kept across requests,
forged ids replaced, invalidate, timeouts, the session classes. Session ids are random: `pysid=<32 hex>` is masked on
both sides. `Session(req, secret=...)` crashes in mod_python on Python 3 (its SignedCookie): an intended difference."""
from __future__ import annotations

from dataclasses import replace

from typing import Sequence

from ..scenario import Call, Expect, Mask, Scenario, handler, improvement, mod_python_bug

COOKIE_AREA = "Cookie"
COOKIE_IMPORTS = "from mod_python import Cookie"
SIGNED_BUG = mod_python_bug("Cookie.SignedCookie calls hmac.new(secret, ...) without digestmod, a TypeError on "
                            "Python 3.8+, so signing a cookie fails with 500")
MARSHAL_BUG = mod_python_bug("Cookie.MarshalCookie signs like SignedCookie and calls base64.encodestring, removed in "
                             "Python 3.9, so it fails with 500")
COOKIES = [("Cookie", "spam=eggs; $Version=1; other=two%20words; spam=again")]


def cookie(name: str, code: str, *calls: Call) -> Scenario:
    tail = '\nreq.content_type = "text/plain"\nreq.write("ok")\nreturn apache.OK'
    return Scenario(name, COOKIE_AREA, handler(code + tail, imports=COOKIE_IMPORTS), calls=calls or (Call(),))


def reader(name: str, code: str, *calls: Call) -> Scenario:
    source = handler('req.content_type = "text/plain"\n' + code + "\nreturn apache.OK", imports=COOKIE_IMPORTS)
    return Scenario(name, COOKIE_AREA, source, calls=calls)


COOKIE_SCENARIOS = [
    cookie("ck_add_simple", 'Cookie.add_cookie(req, "spam", "eggs")'),
    cookie("ck_add_object", 'Cookie.add_cookie(req, Cookie.Cookie("spam", "eggs", path="/", httponly=1))'),
    cookie("ck_attributes", 'c = Cookie.Cookie("k", "v", path="/p", domain="example.com", secure=1, '
           'comment="c", version=1)\nCookie.add_cookie(req, c)'),
    Scenario("ck_max_age", COOKIE_AREA,
             handler('Cookie.add_cookie(req, Cookie.Cookie("k", "v", max_age=60))\nreq.content_type = "text/plain"\n'
                     'req.write("ok")\nreturn apache.OK', imports=COOKIE_IMPORTS),
             intended_difference=mod_python_bug(
                 "Cookie renders each attribute under its Python name, so max_age goes out as `max_age=60`, which "
                 "no browser reads (RFC 6265 names it Max-Age)"),
             calls=(Call(expect=Expect(headers={"Set-Cookie": "k=v; max_age=60"}),
                         daemon=Expect(status=200, headers={"Set-Cookie": "k=v; Max-Age=60"})),)),
    cookie("ck_expires_epoch", 'Cookie.add_cookie(req, "old", "x", expires=0)'),
    cookie("ck_expires_string", 'Cookie.add_cookie(req, "later", "x", expires="Wed, 09-Jun-2021 10:18:14 GMT")'),
    cookie("ck_samesite", 'Cookie.add_cookie(req, Cookie.Cookie("s", "v", samesite="Strict"))'),
    cookie("ck_two_cookies", 'Cookie.add_cookie(req, "a", "1")\nCookie.add_cookie(req, "b", "2")'),
    cookie("ck_value_quoting", 'Cookie.add_cookie(req, "q", "a b;c\\"d")'),
    reader("ck_get_cookies", 'cookies = Cookie.get_cookies(req)\n'
           'req.write(repr(sorted((k, v.value) for k, v in cookies.items())))', Call(headers=COOKIES)),
    reader("ck_get_cookie", 'c = Cookie.get_cookie(req, "other")\n'
           'req.write(repr((c.name, c.value, Cookie.get_cookie(req, "absent"))))', Call(headers=COOKIES)),
    reader("ck_parse", 'parsed = Cookie.Cookie.parse("a=1; b=\\"x y\\"")\n'
           'req.write(repr(sorted((k, str(v)) for k, v in parsed.items())))',
           Call()),
    reader("ck_no_cookie_header", "req.write(repr(Cookie.get_cookies(req)))", Call()),
    reader("ck_str", 'req.write(str(Cookie.Cookie("n", "v", path="/x", secure=True)))', Call()),
    Scenario("ck_signed_cookie", COOKIE_AREA, handler(
        'c = Cookie.SignedCookie("s", "value", "secret")\nCookie.add_cookie(req, c)\n'
        'req.content_type = "text/plain"\nreq.write("signed")\nreturn apache.OK', imports=COOKIE_IMPORTS),
        intended_difference=SIGNED_BUG,
        calls=(Call(status=500, daemon=Expect(status=200, body=b"signed")),)),
    Scenario("ck_signed_cookie_read", COOKIE_AREA, handler(
        'c = Cookie.get_cookie(req, "s", Cookie.SignedCookie, secret="secret")\n'
        'req.content_type = "text/plain"\nreq.write(repr(type(c).__name__))\nreturn apache.OK', imports=COOKIE_IMPORTS),
        intended_difference=SIGNED_BUG,
        calls=(Call(headers=[("Cookie", "s=0123456789abcdef0123456789abcdefvalue")], status=500,
                    daemon=Expect(status=200, body=b"'Cookie'")),)),
    Scenario("ck_marshal_cookie", COOKIE_AREA, handler(
        'c = Cookie.MarshalCookie("m", {"a": [1, 2]}, "secret")\nCookie.add_cookie(req, c)\n'
        'req.content_type = "text/plain"\nreq.write("marshalled")\nreturn apache.OK', imports=COOKIE_IMPORTS),
        intended_difference=MARSHAL_BUG,
        calls=(Call(status=500, daemon=Expect(status=200, body=b"marshalled")),)),
]


SESSION_AREA = "Session"
SESSION_IMPORTS = "from mod_python import Session"
SID = Mask(r"pysid=[0-9a-f]{32}", "pysid=<sid>", "session ids are random")
COUNTER = '''sess = Session.Session(req)
sess["count"] = sess.get("count", 0) + 1
sess.save()
req.content_type = "text/plain"
req.write("%d %s %s %d" % (sess["count"], sess.is_new(), type(sess).__name__, len(sess.id())))
return apache.OK'''


def options(session_type: str = "") -> tuple[str, ...]:
    lines = ["SetHandler mod_python", "PythonHandler {mod}",
             "PythonOption mod_python.session.database_directory {state}"]
    if session_type:
        lines.append(f"PythonOption mod_python.session.session_type {session_type}")
    return tuple(lines)


def session(name: str, code: str, calls: Sequence[Call], session_type: str = "FileSession") -> Scenario:
    return Scenario(name, SESSION_AREA, handler(code, imports=SESSION_IMPORTS), directives=options(session_type),
                    calls=calls, masks=(SID,))


AGAIN = Call(carry_cookies=True)

SESSION_SCENARIOS = [
    session("sess_file_counter", COUNTER, (Call(), AGAIN, AGAIN)),
    session("sess_dbm_counter", COUNTER, (Call(), AGAIN, AGAIN), session_type="DbmSession"),
    session("sess_memory_new", COUNTER, (Call(),), session_type="MemorySession"),
    replace(session("sess_default_class", 'sess = Session.Session(req)\nreq.content_type = "text/plain"\n'
                    "req.write(type(sess).__name__)\nreturn apache.OK", (Call(),), session_type=""),
            intended_difference=improvement(
                "the daemon's default Session class is FileSession (documented in mod_python/Session.py): it is safe "
                "across the daemon's worker processes and across daemons on several hosts sharing one session "
                "directory, where mod_python's rule picks DbmSession, one dbm file locked per host only"),
            calls=(Call(expect=Expect(body=b"DbmSession"), daemon=Expect(status=200, body=b"FileSession")),)),
    session("sess_forged_sid", COUNTER, (Call(headers=[("Cookie", "pysid=../../../../etc/passwd")]),
                                         Call(headers=[("Cookie", "pysid=0123456789abcdef0123456789abcdef")]))),
    session("sess_invalidate", 'sess = Session.Session(req)\nreq.content_type = "text/plain"\n'
            'if sess.is_new():\n    sess["x"] = 1\n    sess.save()\n    req.write("created")\nelse:\n'
            '    sess.invalidate()\n    req.write("invalidated")\nreturn apache.OK', (Call(), AGAIN, AGAIN)),
    session("sess_timeout", 'sess = Session.Session(req, timeout=120)\nsess.set_timeout(60)\nsess.save()\n'
            'req.content_type = "text/plain"\n'
            "req.write(repr((sess.timeout(), sess.created() <= sess.last_accessed())))\n"
            "return apache.OK", (Call(),)),
    session("sess_delete", 'sess = Session.Session(req)\nreq.content_type = "text/plain"\n'
            'if sess.is_new():\n    sess["x"] = 1\n    sess.save()\n    req.write("saved")\nelse:\n'
            '    req.write("seen %r" % sess.get("x"))\n    sess.delete()\nreturn apache.OK', (Call(), AGAIN, AGAIN)),
    Scenario("sess_cookie_path", SESSION_AREA,
             handler('sess = Session.Session(req)\nsess.save()\nreq.content_type = "text/plain"\nreq.write("ok")\n'
                     "return apache.OK", imports=SESSION_IMPORTS),
             directives=(*options("FileSession"), "PythonOption mod_python.session.application_path /app",
                         "PythonOption mod_python.session.cookie_name appsid"),
             masks=(Mask(r"appsid=[0-9a-f]{32}", "appsid=<sid>", "session ids are random"),)),
    Scenario("sess_secret", SESSION_AREA,
             handler(COUNTER.replace("Session.Session(req)", 'Session.Session(req, secret="s")'),
                     imports=SESSION_IMPORTS),
             directives=options("FileSession"), masks=(SID,),
             intended_difference=mod_python_bug("Session(req, secret=...) signs its cookie with SignedCookie, which "
                                                "crashes on Python 3 (hmac.new without digestmod)"),
             calls=(Call(status=500, daemon=Expect(status=200, body=b"1 True FileSession 32")),)),
]

SCENARIOS = [*COOKIE_SCENARIOS, *SESSION_SCENARIOS]

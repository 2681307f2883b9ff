"""mod_authnz_fcgi's AUTHORIZER calls: which phases run for each FCGI_APACHE_ROLE, what the handlers see, and the
answer Apache reads (docs/apache-facts.md §8; mod_python's meanings, docs/mod_python-facts.md §2, §8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest
from fake_sink import FakeSink

from fcgi_handlers.dispatch.authorizer import handle_authorizer

from .conftest import Harness

AUTH = """
from mod_python import apache, util
def _mode(req, key):
    return dict(p.split("=") for p in (req.args or "").split("&") if "=" in p).get(key, "ok")
def authenhandler(req):
    seen = "user=%r" % req.user
    pw = req.get_basic_auth_pw()
    req.log_error("authen %s pw=%r then user=%r type=%r name=%r auth_type=%r env=%r" % (seen, pw, req.user,
                  req.ap_auth_type, req.auth_name(), req.auth_type(), sorted(k for k in req.subprocess_env.keys()
                  if k.startswith("REMOTE"))))
    mode = _mode(req, "authen")
    req.register_cleanup(lambda data: req.log_error("registered cleanup"))
    if mode == "ok":
        return apache.OK
    if mode == "other":
        req.user = "chosen"
        return apache.OK
    if mode == "nouser":
        return apache.OK  # without credentials get_basic_auth_pw() set no user
    if mode == "redirect":
        util.redirect(req, "/login/")
    if mode == "page":
        req.write("login page")
        return apache.DONE
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "errheader":
        req.err_headers_out["X-Why"] = "bad"
        req.headers_out["X-Lost"] = "1"
    return int(mode)
def authzhandler(req):
    req.log_error("authz user=%r" % req.user)
    mode = _mode(req, "authz")
    return 0 if mode == "ok" else int(mode)
def loghandler(req):
    req.log_error("log phase status=%d" % req.status)
    return 0
def cleanuphandler(req):
    req.log_error("cleanup phase")
    return 0
"""


@dataclass
class Answer:
    head: list[str]
    body: bytes
    log: list[str]

    @property
    def status(self) -> str:
        return self.head[0]

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)


def authorize(harness: Harness, role: Optional[str], query: str = "", user: Optional[str] = "spam",
              password: Optional[str] = "eggs", directives: Optional[dict[str, str]] = None,
              after: Optional[list[Callable[[], None]]] = None, **extra: str) -> Answer:
    name = harness.module(AUTH)
    config = directives if directives is not None else {"PythonAuthenHandler": name, "PythonAuthzHandler": name,
                                                        "PythonLogHandler": name, "PythonCleanupHandler": name,
                                                        "AuthName": "realm one", "AuthType": "Basic"}
    params = harness.params(config, QUERY_STRING=query, REQUEST_URI=f"/app/page?{query}", FCGI_ROLE="AUTHORIZER",
                            HTTP_CONNECTION="close", **extra)
    for key, value in (("FCGI_APACHE_ROLE", role), ("REMOTE_USER", user), ("REMOTE_PASSWD", password),
                       ("AUTH_TYPE", "Basic" if user else None)):
        if value is not None:
            params[key] = value
    params.pop("SCRIPT_NAME")  # mod_authnz_fcgi removes it
    sink = FakeSink()
    kwargs: dict[str, Any] = {"after_end": after.append} if after is not None else {}
    handle_authorizer(harness.dispatcher, params, sink, **kwargs)
    head, _, body = b"".join(sink.out).partition(b"\r\n\r\n")
    log = [line for chunk in sink.err for line in chunk.decode().splitlines()]
    return Answer(head.decode("latin-1").split("\r\n"), body, log)


def test_allow_sends_status_and_variables_only(harness: Harness) -> None:
    answer = authorize(harness, "AUTHENTICATOR")
    assert answer.head == ["Status: 200 OK", "Variable-FCGI_HANDLERS_USER: spam",
                           "Variable-FCGI_HANDLERS_AUTH_TYPE: Basic", "Variable-FCGI_HANDLERS_RAN_AUTHENHANDLER: 1",
                           "Variable-FCGI_HANDLERS_RAN_AUTHZHANDLER: 1"]
    assert answer.body == b""


def test_what_the_authen_handler_sees(harness: Harness) -> None:
    answer = authorize(harness, "AUTHENTICATOR")
    # req.user is None until get_basic_auth_pw() parses the credentials, which come as REMOTE_PASSWD and never
    # appear in subprocess_env; auth_name()/auth_type() come from the params the configuration sets. As in
    # mod_python, subprocess_env holds no REMOTE_* variable before add_common_vars() (Apache's common variables).
    assert answer.log[0] == ("authen user=None pw='eggs' then user='spam' type='Basic' name='realm one' "
                             "auth_type='Basic' env=[]")
    assert answer.log[1] == "authz user='spam'"
    anonymous = authorize(harness, "AUTHENTICATOR", "authen=other", user=None, password=None)
    assert anonymous.log[0].startswith("authen user=None pw=None then user=None type=None")
    assert "Variable-FCGI_HANDLERS_USER: chosen" in anonymous.head
    assert "Variable-FCGI_HANDLERS_AUTH_TYPE: " in anonymous.head


@pytest.mark.parametrize("query, status", [("authen=401", "401 Unauthorized"), ("authen=403", "403 Forbidden"),
                                           ("authen=-1", "500 Internal Server Error"),
                                           ("authen=299", "500 Internal Server Error"),
                                           ("authz=401", "401 Unauthorized"), ("authz=403", "403 Forbidden")])
def test_refusals_carry_the_status_and_no_body(harness: Harness, query: str, status: str) -> None:
    answer = authorize(harness, "AUTHENTICATOR", query)
    assert answer.head == [f"Status: {status}"] and answer.body == b""


def test_authen_ok_without_a_user_is_500(harness: Harness) -> None:
    answer = authorize(harness, "AUTHENTICATOR", "authen=nouser", user=None, password=None)
    assert answer.status == "Status: 500 Internal Server Error"
    assert answer.logged("After PythonAuthenHandler req->user is NULL")


def test_authz_declined_lets_apaches_require_lines_decide(harness: Harness) -> None:
    answer = authorize(harness, "AUTHENTICATOR", "authz=-1")
    assert answer.status == "Status: 200 OK" and "Variable-FCGI_HANDLERS_RAN_AUTHZHANDLER: 1" in answer.head


def test_error_headers_and_redirects(harness: Harness) -> None:
    answer = authorize(harness, "AUTHENTICATOR", "authen=errheader")
    assert answer.head == ["Status: 500 Internal Server Error", "X-Why: bad"]  # int('errheader') fails
    redirect = authorize(harness, "AUTHENTICATOR", "authen=redirect")
    assert redirect.head == ["Status: 302 Found", "Location: /login/", "Content-Type: text/html"]
    assert redirect.body.startswith(b'<p>The document has moved <a href="/login/">')


def test_done_pages(harness: Harness) -> None:
    page = authorize(harness, "AUTHENTICATOR", "authen=page")
    assert page.status == "Status: 500 Internal Server Error" and page.body == b"login page"
    assert page.logged("returned DONE with status 200")
    name = harness.module(AUTH)
    debug = authorize(harness, "AUTHENTICATOR", "authen=raise",
                      directives={"PythonAuthenHandler": name, "PythonDebug": "On"})
    assert debug.head == ["Status: 500 Internal Server Error", "Content-Type: text/html"]
    assert debug.body.startswith(b'\n<pre>\nMod_python error: "PythonAuthenHandler ')


def test_authorizer_role_runs_authz_only_with_apaches_user(harness: Harness) -> None:
    answer = authorize(harness, "AUTHORIZER", "authz=403", password=None)
    assert answer.status == "Status: 403 Forbidden" and answer.log[0] == "authz user='spam'"
    allowed = authorize(harness, "AUTHORIZER", password=None)
    assert "Variable-FCGI_HANDLERS_RAN_AUTHENHANDLER: 1" not in allowed.head
    assert "Variable-FCGI_HANDLERS_RAN_AUTHZHANDLER: 1" in allowed.head


def test_generic_authnz_provider_runs_both(harness: Harness) -> None:
    answer = authorize(harness, None, "authz=403")
    assert answer.status == "Status: 403 Forbidden" and answer.logged("authz user='spam'")


def test_basic_provider_without_an_authen_handler_keeps_apaches_user(harness: Harness) -> None:
    name = harness.module(AUTH)
    answer = authorize(harness, "AUTHENTICATOR", directives={"PythonAuthzHandler": name})
    assert "Variable-FCGI_HANDLERS_USER: spam" in answer.head


def test_unknown_role_and_bad_directives(harness: Harness) -> None:
    assert authorize(harness, "FILTER").status == "Status: 500 Internal Server Error"
    broken = authorize(harness, "AUTHENTICATOR", directives={"PythonAuthenHandler": "not a handler!"})
    assert broken.status == "Status: 500 Internal Server Error" and broken.logged("invalid handler")


def test_after_a_refusal_the_log_and_cleanup_phases_run_here(harness: Harness) -> None:
    deferred: list[Callable[[], None]] = []
    refused = authorize(harness, "AUTHENTICATOR", "authen=401", after=deferred)
    assert not refused.logged("log phase")
    deferred[0]()  # they log to the daemon's log from here on (tested in test_phases_after)
    allowed = authorize(harness, "AUTHENTICATOR")
    # Allowed: only the registered cleanups; the responder call that follows runs the log and cleanup phases.
    assert allowed.logged("registered cleanup") and not allowed.logged("log phase") and \
        not allowed.logged("cleanup phase")
    inline_refusal = authorize(harness, "AUTHENTICATOR", "authen=403")
    assert inline_refusal.logged("log phase status=403") and inline_refusal.logged("cleanup phase")


ACCESS = """
from mod_python import apache
def accesshandler(req):
    req.log_error("access user=%r" % req.user)
    return apache.HTTP_FORBIDDEN if "deny" in (req.args or "") else apache.OK
"""


def test_access_runs_first_in_an_authentication_call(harness: Harness) -> None:
    # mod_python runs the access phase before authentication; mod_authnz_fcgi has no access-checker hook, so the
    # authentication call runs it first (it then also guards content Apache serves itself).
    access, name = harness.module(ACCESS), harness.module(AUTH)
    directives = {"PythonAccessHandler": access, "PythonAuthenHandler": name}
    allowed = authorize(harness, "AUTHENTICATOR", directives=directives)
    assert allowed.status == "Status: 200 OK"
    assert "Variable-FCGI_HANDLERS_RAN_ACCESSHANDLER: 1" in allowed.head
    assert [line for line in allowed.log if "access user" in line or "authen user" in line][0].endswith(
        "access user=None")
    denied = authorize(harness, "AUTHENTICATOR", query="deny", directives=directives)
    assert denied.status == "Status: 403 Forbidden" and not denied.logged("authen user")
    assert not authorize(harness, "AUTHORIZER", directives=directives).logged("access user")

"""The phases the daemon emulates before the content handler, seen through whole requests: Apache's order, each
phase's chain rule, results that end the request, req.handler, add_handler, `| .ext` lists, internal redirects, and
auth phases that already ran inside Apache (docs/mod_python-facts.md §1-§3)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from fcgi_handlers.dispatch.dispatcher import MAX_INTERNAL_REDIRECTS
from fcgi_handlers.dispatch.phases import PHASES, Placement

from .conftest import Harness, Result

# Every handler records "<phase>:<name>" on req.trace; `first` returns what ?<phase>=<code> asks for.
TRACER = """
from mod_python import apache, util
def _short(req):
    return req.phase[len("Python"):-len("Handler")].lower() or "content"
def _mode(req):
    return dict(p.split("=") for p in (req.args or "").split("&") if "=" in p).get(_short(req))
def _trace(req, name):
    if not hasattr(req, "trace"):
        req.trace = []
    req.trace.append("%s:%s" % (_short(req), name))
def first(req):
    _trace(req, "first")
    mode = _mode(req)
    if mode == "redirect":
        util.redirect(req, "/else/")
    if mode == "srdone":
        raise apache.SERVER_RETURN(apache.DONE, 202)
    if mode == "handler":
        req.handler = "default-handler"
    if mode == "user":
        req.user = "someone"
    return int(mode) if mode and mode.lstrip("-").isdigit() else apache.OK
def second(req):
    _trace(req, "second")
    return apache.OK
def content(req):
    _trace(req, "content")
    req.write(" ".join(req.trace))
    return apache.OK
"""

BEFORE = [phase.directive for phase in PHASES if phase.placement in (Placement.BEFORE_CONTENT, Placement.APACHE_AUTH)]


def run(harness: Harness, query: str = "", phases: Any = None, **kwargs: Any) -> Result:
    name = harness.module(TRACER, name="tracer_" + os.urandom(4).hex())
    directives = {directive: f"{name}::first {name}::second" for directive in (phases or BEFORE)}
    directives["PythonHandler"] = f"{name}::content"
    return harness.request(directives, QUERY_STRING=query, REQUEST_URI=f"/app/page?{query}", **kwargs)


def short(directive: str) -> str:
    return directive[len("Python"):-len("Handler")].lower()


def test_phases_run_in_apaches_order_with_req_phase() -> None:
    order = [phase.directive for phase in PHASES]
    assert order[:3] == ["PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler"]
    assert order[3:9] == ["PythonHeaderParserHandler", "PythonAccessHandler", "PythonAuthenHandler",
                          "PythonAuthzHandler", "PythonTypeHandler", "PythonFixupHandler"]


def test_every_emulated_phase_runs_first_then_content(harness: Harness) -> None:
    result = run(harness, "authen=user")
    expected = []
    for directive in BEFORE:
        phase = short(directive)
        run_first = phase in ("trans", "authen", "authz", "type")  # OK ends a RUN_FIRST chain
        expected += [f"{phase}:first"] + ([] if run_first else [f"{phase}:second"])
    assert result.body.decode().split() == expected + ["content:content"]


@pytest.mark.parametrize("directive", BEFORE)
@pytest.mark.parametrize("code, status", [(-1, "200 OK"), (-2, "200 OK"), (403, "403 Forbidden"),
                                          (404, "404 Not Found"), (299, "500 Internal Server Error")])
def test_each_result_of_each_phase(harness: Harness, directive: str, code: int, status: str) -> None:
    phase = short(directive)
    result = run(harness, f"{phase}={code}", phases=[directive])
    if directive == "PythonAuthenHandler" and code == -1:
        # DECLINED goes on to the next handler, which returns OK without naming a user: mod_python's 500.
        assert result.status == "Status: 500 Internal Server Error" and result.logged("req->user is NULL")
        return
    assert result.status == f"Status: {status}"
    ran = result.body.decode().split()
    if code == -1:
        # DECLINED continues every chain; the request goes on to the content handler.
        assert ran == [f"{phase}:first", f"{phase}:second", "content:content"]
    if code == -2:
        assert result.body == b""  # DONE: the request ends as it stands, no content handler


@pytest.mark.parametrize("directive", ["PythonPostReadRequestHandler", "PythonHeaderParserHandler",
                                       "PythonAccessHandler", "PythonTypeHandler", "PythonFixupHandler"])
def test_redirect_and_server_return_done_end_the_request_from_any_phase(harness: Harness, directive: str) -> None:
    phase = short(directive)
    redirect = run(harness, f"{phase}=redirect", phases=[directive])
    assert redirect.status == "Status: 302 Found" and ("Location", "/else/") in redirect.headers
    done = run(harness, f"{phase}=srdone", phases=[directive])
    assert (done.status, done.body) == ("Status: 202 Accepted", b"")


def test_authen_declined_by_every_handler_is_a_500(harness: Harness) -> None:
    name = harness.module("def authenhandler(req):\n    return -1\ndef handler(req):\n    return 0\n")
    result = harness.request({"PythonAuthenHandler": name, "PythonHandler": name})
    assert result.status == "Status: 500 Internal Server Error"
    assert result.logged("PythonAuthenHandler declined and no other module checks the user")
    # A PythonHandlerModule without an authenhandler is skipped silently, as mod_python skips it.
    assert harness.request({"PythonHandlerModule": name}).status == "Status: 200 OK"


@pytest.mark.parametrize("directive, status", [("PythonHeaderParserHandler", "200 OK"), ("PythonTypeHandler", "200 OK"),
                                               ("PythonFixupHandler", "404 Not Found")])
def test_sethandler_is_applied_when_the_fixup_phase_starts(harness: Harness, directive: str, status: str) -> None:
    result = run(harness, f"{short(directive)}=handler", phases=[directive])
    assert result.status == f"Status: {status}"


def test_add_handler_directory_gets_a_trailing_slash(harness: Harness) -> None:
    extra = harness.root / "extra"
    extra.mkdir()
    (extra / "helper_mod.py").write_text("def handler(req):\n    req.write(req.hlist.directory)\n    return 0\n")
    name = harness.module("def fixuphandler(req):\n"
                          f"    req.add_handler('PythonHandler', 'helper_mod', {str(extra)!r})\n    return 0\n")
    result = harness.request({"PythonFixupHandler": name})
    assert result.body == f"{extra}/".encode()


def test_extension_lists_in_an_early_phase(harness: Harness) -> None:
    name = harness.module("def fixuphandler(req):\n    req.notes['ext'] = str(req.extension)\n    return 0\n"
                          "def handler(req):\n    req.write(req.notes.get('ext', 'none'))\n    return 0\n")
    (harness.docroot / "page.py").write_text("")
    (harness.docroot / "page.txt").write_text("")
    directives = {"PythonFixupHandler": f"{name} | .py", "PythonHandler": name}
    assert harness.request(directives, path="/page.py", filename=str(harness.docroot / "page.py")).body == b".py"
    assert harness.request(directives, path="/page.txt", filename=str(harness.docroot / "page.txt")).body == b"none"


def test_auth_phases_that_ran_inside_apache_are_not_run_again(harness: Harness) -> None:
    name = harness.module("def authenhandler(req):\n    raise RuntimeError('must not run')\n"
                          "def handler(req):\n    req.write('%s %s' % (req.user, req.ap_auth_type))\n    return 0\n")
    directives = {"PythonAuthenHandler": name, "PythonHandler": name}
    emulated = harness.request(directives)
    assert emulated.status == "Status: 500 Internal Server Error"  # no mod_authnz_fcgi: the daemon runs it
    ran = harness.request(directives, REMOTE_USER="chosen", AUTH_TYPE="Basic", FCGI_HANDLERS_USER="chosen",
                          FCGI_HANDLERS_AUTH_TYPE="", FCGI_HANDLERS_RAN_AUTHENHANDLER="1")
    # The user Apache set from the authorizer's answer; ap_auth_type as the authen phase left it (None).
    assert (ran.status, ran.body) == ("Status: 200 OK", b"chosen None")


def test_access_that_ran_in_the_authentication_call_is_not_run_again(harness: Harness) -> None:
    name = harness.module("def accesshandler(req):\n    req.write('access ')\n    return 0\n"
                          "def handler(req):\n    req.write('content')\n    return 0\n")
    directives = {"PythonAccessHandler": name, "PythonHandler": name}
    assert harness.request(directives).body == b"access content"
    assert harness.request(directives, FCGI_HANDLERS_RAN_ACCESSHANDLER="1").body == b"content"


REDIRECTING = """
def handler(req):
    if req.prev is None and req.uri == '/app/page':
        req.headers_out['X-Original'] = '1'
        req.register_cleanup(req.log_error, 'original cleanup')
        req.internal_redirect('/app/target?x=%C3%A9')
        req.write('dropped')
        return 404
    req.register_cleanup(req.log_error, 'target cleanup')
    env = req.subprocess_env
    req.prev.write('[via prev] ')
    req.write('%s %s prev=%s next-of-prev=%s %s %s' % (req.uri, req.args, req.prev.uri, req.prev.next is req,
              env.get('REDIRECT_STATUS'), env.get('REDIRECT_CUSTOM')))
    return 0
def loop(req):
    req.internal_redirect('/app/again')
    return 0
def cleanuphandler(req):
    req.log_error('cleanup phase ' + req.uri)
    return 0
"""


def test_internal_redirect(harness: Harness) -> None:
    name = harness.module(REDIRECTING)
    result = harness.request({"PythonHandler": name, "PythonCleanupHandler": name}, CUSTOM="configured")
    assert result.status == "Status: 200 OK" and ("X-Original", "1") not in result.headers
    # The target's req.prev.write() goes out with the target's output; the original's writes after the redirect
    # are dropped ('dropped' never appears).
    assert result.body == b"[via prev] /app/target x=%C3%A9 prev=/app/page next-of-prev=True 200 configured"
    # One pool, newest first: the original's cleanup phase was registered first, the target's after its callback.
    assert result.log == ["target cleanup", "cleanup phase /app/target", "original cleanup",
                          "cleanup phase /app/page"]


def test_internal_redirect_loop_is_cut_at_apaches_limit(harness: Harness) -> None:
    name = harness.module(REDIRECTING)
    result = harness.request({"PythonHandler": f"{name}::loop"})
    assert result.status == "Status: 500 Internal Server Error"
    assert result.logged(f"exceeded the limit of {MAX_INTERNAL_REDIRECTS} internal redirects")


PREV_WRITER = """
from mod_python import apache
def handler(req):
    if req.prev is None:
        req.internal_redirect("/app/target")
        req.write("dropped: the original's output after the redirect")
        return apache.OK
    req.prev.write("test ")   # upstream's test_req_internal_redirect: both outputs end in the one connection
    req.write("ok")
    return apache.OK
"""


def test_output_written_to_req_prev_during_the_redirect_goes_out(harness: Harness) -> None:
    result = harness.request({"PythonHandler": harness.module(PREV_WRITER)})
    assert (result.status, result.body) == ("Status: 200 OK", b"test ok")

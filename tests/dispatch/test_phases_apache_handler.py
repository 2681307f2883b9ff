"""Blocks whose content handler is Apache's own (no `SetHandler mod_python`) and mod_dir's trailing-slash redirect,
both of which the translation hands to the daemon so that a block's early phase handlers run first, as in mod_python
(upstream's test_req_handler, test_util_redirect and test_interpreter_per_directory)."""

from __future__ import annotations

from fcgi_handlers.dispatch.directives import DIRECTORY_SLASH_PARAM, NO_SETHANDLER_PARAM

from .conftest import Harness

FIXUP = """
from mod_python import apache, util
def fixup(req):
    mode = req.args or ""
    if mode == "claim":
        req.handler = "mod_python"
        req.add_handler("PythonHandler", __name__ + "::content")
    if mode == "redirect":
        util.redirect(req, "/dummy", text="moved")
    if mode == "done":
        req.write("fixup answered, handler %r" % (req.handler,))
        return apache.DONE
    return apache.OK
def content(req):
    req.write("content ran, handler %r" % (req.handler,))
    return apache.OK
"""


def request(harness: Harness, mode: str, **params: str) -> tuple[str, bytes, list[tuple[str, str]]]:
    name = harness.module(FIXUP)
    result = harness.request({"PythonFixupHandler": f"{name}::fixup", **params}, QUERY_STRING=mode,
                             REQUEST_URI=f"/app/dir?{mode}", path="/app/dir")
    return result.status, result.body, result.headers


def test_a_fixup_handler_makes_mod_python_the_handler(harness: Harness) -> None:
    status, body, _ = request(harness, "claim", **{NO_SETHANDLER_PARAM: "On"})
    assert (status, body) == ("Status: 200 OK", b"content ran, handler 'mod_python'")


def test_without_sethandler_the_handler_starts_unset(harness: Harness) -> None:
    assert request(harness, "done", **{NO_SETHANDLER_PARAM: "On"})[1] == b"fixup answered, handler None"
    assert request(harness, "done")[1] == b"fixup answered, handler 'mod_python'"


def test_without_a_claim_the_content_goes_to_apaches_default_handler(harness: Harness) -> None:
    status, _, _ = request(harness, "", **{NO_SETHANDLER_PARAM: "On"})
    assert status == "Status: 404 Not Found"   # the default handler finds no file for /app/dir


def test_a_fixup_redirect_ends_the_request(harness: Harness) -> None:
    status, body, headers = request(harness, "redirect", **{NO_SETHANDLER_PARAM: "On"})
    assert (status, body, ("Location", "/dummy") in headers) == ("Status: 302 Found", b"moved", True)


def test_directory_slash_redirect_comes_after_the_early_phases(harness: Harness) -> None:
    status, _, headers = request(harness, "claim", **{DIRECTORY_SLASH_PARAM: "On"})
    assert status == "Status: 301 Moved Permanently"
    assert ("Location", "http://localhost/app/dir/?claim") in headers
    # a fixup handler that ends the request first is not redirected
    assert request(harness, "done", **{DIRECTORY_SLASH_PARAM: "On"})[0] == "Status: 200 OK"


def test_no_directory_slash_redirect_without_the_param_or_with_the_slash(harness: Harness) -> None:
    assert request(harness, "claim")[0] == "Status: 200 OK"
    name = harness.module(FIXUP)
    result = harness.request({"PythonFixupHandler": f"{name}::fixup", DIRECTORY_SLASH_PARAM: "On"},
                             QUERY_STRING="claim", REQUEST_URI="/app/dir/?claim", path="/app/dir/")
    assert result.status == "Status: 200 OK"

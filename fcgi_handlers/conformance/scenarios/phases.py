"""Phase handlers around the content handler, as one block configures them (docs/mod_python-facts.md §2-§3, §8
"Stacked-handler behaviour"): fixup, header parser, access, type, init, log and cleanup handlers, register_cleanup,
add_handler, and the chain rules of stacked content handlers. The log and cleanup phases run after the answer is
sent, so what they do is checked in the error log."""
from __future__ import annotations

from typing import Sequence

from ..scenario import Call, Expect, Scenario, mod_python_bug

AREA = "phases"
STACK = '''from mod_python import apache, util


def fixuphandler(req):
    req.notes["fixup"] = "ran"
    action = req.args or ""
    if action == "fixup-done":
        req.content_type = "text/plain"
        req.write("fixup wrote\\n")
        return apache.DONE
    if action == "fixup-forbidden":
        return apache.HTTP_FORBIDDEN
    if action == "fixup-raise":
        raise RuntimeError("fixup failed")
    if action == "fixup-redirect":
        util.redirect(req, "/from/fixup")
    if action == "fixup-declined":
        return apache.DECLINED
    return apache.OK


def first(req):
    action = req.args or ""
    if action == "first-declined":
        return apache.DECLINED
    req.content_type = "text/plain"
    if action == "first-done":
        req.write("first done\\n")
        return apache.DONE
    if action == "first-forbidden":
        return apache.HTTP_FORBIDDEN
    req.write("first fixup=%s phase=%s\\n" % (req.notes.get("fixup"), req.phase))
    return apache.OK


def second(req):
    req.write("second\\n")
    return apache.OK


def loghandler(req):
    req.log_error("cf-log %s status=%d phase=%s" % (req.uri, req.status, req.phase))
    return apache.OK


def cleanuphandler(req):
    req.log_error("cf-cleanup %s phase=%s" % (req.uri, req.phase))
    return apache.OK
'''
PLAIN = ("SetHandler mod_python", "PythonHandler {mod}")
STACKED = ("SetHandler mod_python", "PythonFixupHandler {mod}", "PythonHandler {mod}::first {mod}::second",
           "PythonLogHandler {mod}", "PythonCleanupHandler {mod}")


def phase(name: str, calls: Sequence[Call], *, directives: Sequence[str] = STACKED, source: str = STACK,
          logs: Sequence[str] = (), files: dict[str, bytes] = {}) -> Scenario:
    return Scenario(name, AREA, source, directives=directives, calls=calls, logs=logs, files=files)


def code(body: str, name: str) -> str:
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"from mod_python import apache\n\n\ndef {name}(req):\n{lines}\n"


CONTENT = '''

def handler(req):
    req.content_type = "text/plain"
    req.write("content notes=%s\\n" % sorted((k, v) for k, v in req.notes.items() if k.startswith("cf")))
    return apache.OK
'''

SCENARIOS = [
    phase("ph_stacked_all_run", (Call(),), logs=(r"cf-log /cf/ph_stacked_all_run/ status=200 phase=PythonLogHandler",
                                                r"cf-cleanup /cf/ph_stacked_all_run/ phase=PythonCleanupHandler")),
    phase("ph_first_declined", (Call("?first-declined", status=404),)),
    phase("ph_first_done", (Call("?first-done"),)),
    phase("ph_first_forbidden", (Call("?first-forbidden", status=403),),
          logs=(r"cf-log /cf/ph_first_forbidden/ status=403",)),
    phase("ph_fixup_done", (Call("?fixup-done"),)),
    phase("ph_fixup_forbidden", (Call("?fixup-forbidden", status=403),)),
    phase("ph_fixup_declined", (Call("?fixup-declined"),)),
    phase("ph_fixup_raise_debug", (Call("?fixup-raise", status=500),), directives=(*STACKED, "PythonDebug On"),
          logs=(r"PythonFixupHandler cf_ph_fixup_raise_debug: RuntimeError: fixup failed",)),
    phase("ph_fixup_raise_no_debug", (Call("?fixup-raise", status=500),)),
    phase("ph_fixup_redirect", (Call("?fixup-redirect", status=302),)),
    phase("ph_headerparser", (Call(),), source=code('req.notes["cf_hp"] = req.phase\nreturn apache.OK',
                                                    "headerparserhandler") + CONTENT,
          directives=("SetHandler mod_python", "PythonHeaderParserHandler {mod}", "PythonHandler {mod}")),
    Scenario("ph_init", AREA, code('req.notes["cf_init"] = req.phase\nreturn apache.OK', "inithandler") + CONTENT,
             directives=("SetHandler mod_python", "PythonInitHandler {mod}", "PythonHandler {mod}"),
             intended_difference=mod_python_bug(
                 "a PythonInitHandler in a directory or location never runs: mod_python's post-read-request hook "
                 "runs the (server-level) init handlers for every request and sets the python_init_ran note, so the "
                 "header-parser hook that should run the directory-level one always skips it"),
             calls=(Call(expect=Expect(body=b"content notes=[]\n"),
                         daemon=Expect(status=200, body=b"content notes=[('cf_init', 'PythonInitHandler')]\n")),)),
    phase("ph_access_forbidden", (Call(status=403), Call("?let-in")),
          source=code("return apache.OK if req.args == 'let-in' else apache.HTTP_FORBIDDEN", "accesshandler")
          + CONTENT, directives=("SetHandler mod_python", "PythonAccessHandler {mod}", "PythonHandler {mod}")),
    phase("ph_type_handler", (Call(),), source=code('req.content_type = "text/x-typed"\nreturn apache.OK',
                                                    "typehandler")
          + '\n\ndef handler(req):\n    req.write("type=%s" % req.content_type)\n    return apache.OK\n',
          directives=("SetHandler mod_python", "PythonTypeHandler {mod}", "PythonHandler {mod}")),
    phase("ph_register_cleanup", (Call(),), source=code(
        'req.register_cleanup(lambda data: req.log_error("cf-registered %s" % data), "payload")\n'
        'req.content_type = "text/plain"\nreq.write("registered")\nreturn apache.OK', "handler"),
        logs=(r"cf-registered payload",), directives=PLAIN),
    phase("ph_add_handler", (Call(),), source=code(
        'req.add_handler("PythonHandler", "{mod}::added")\nreq.content_type = "text/plain"\n'
        'req.write("configured\\n")\nreturn apache.OK', "handler")
        + '\n\ndef added(req):\n    req.write("added %s\\n" % req.phase)\n    return apache.OK\n', directives=PLAIN),
    phase("ph_add_handler_cleanup_refused", (Call(),), source=code(
        'req.content_type = "text/plain"\ntry:\n    req.add_handler("PythonCleanupHandler", "{mod}")\n'
        'except Exception as exc:\n    req.write("%s: %s" % (type(exc).__name__, exc))\nreturn apache.OK',
        "handler"), directives=PLAIN),
    phase("ph_log_handler_sees_notes", (Call(),), source=code(
        'req.notes["cf_note"] = "kept"\nreq.content_type = "text/plain"\nreq.write("x")\nreturn apache.OK', "handler")
        + '\n\ndef loghandler(req):\n    req.log_error("cf-log-note %s" % req.notes.get("cf_note"))\n'
        "    return apache.OK\n",
        directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonLogHandler {mod}"),
        logs=(r"cf-log-note kept",)),
    phase("ph_cleanup_error_logged", (Call(),), source=code(
        'req.content_type = "text/plain"\nreq.write("fine")\nreturn apache.OK', "handler")
        + '\n\ndef cleanuphandler(req):\n    raise ValueError("cleanup boom")\n',
        directives=("SetHandler mod_python", "PythonHandler {mod}", "PythonCleanupHandler {mod}", "PythonDebug On"),
        logs=(r"PythonCleanupHandler cf_ph_cleanup_error_logged: ValueError: cleanup boom",)),
    phase("ph_fixup_add_handler", (Call(),), source=code(
        'req.add_handler("PythonHandler", "{mod}::late")\nreturn apache.OK', "fixuphandler")
        + '\n\ndef late(req):\n    req.content_type = "text/plain"\n    req.write("late from fixup")\n'
        "    return apache.OK\n",
        directives=("SetHandler mod_python", "PythonFixupHandler {mod}")),
]

"""Handlers for tests/e2e/test_phases_startup.py: PythonImport, interpreter names and namespaces, child-exit cleanups.

`init` is what `--import phases_startup::init [INTERPRETER]` calls when a worker starts; `STATE` lives in the module,
so each interpreter namespace has its own. The exit cleanups append to the file named by the daemon's environment
variable FCGI_HANDLERS_E2E_EXIT_FILE (the test's own temporary directory), because nothing else is left to report to
when a worker exits.
"""
import os

from mod_python import apache

STATE = {"imported_in": None, "init_calls": 0, "hits": 0}


def _at_exit(data):
    with open(os.environ["FCGI_HANDLERS_E2E_EXIT_FILE"], "a") as handle:
        handle.write("%s %d\n" % (data, os.getpid()))


def init():
    STATE["init_calls"] += 1
    STATE["imported_in"] = apache.interpreter
    apache.register_cleanup(_at_exit, "apache.register_cleanup")


def handler(req):
    STATE["hits"] += 1
    if "register" in (req.args or ""):
        req.server.register_cleanup(req, _at_exit, "req.server.register_cleanup")
    req.content_type = "text/plain"
    req.write("interpreter=%s apache.interpreter=%s imported_in=%s init_calls=%d hits=%d\n"
              % (req.interpreter, apache.interpreter, STATE["imported_in"], STATE["init_calls"], STATE["hits"]))
    return apache.OK


def names(req):
    """What mod_python names the interpreter, for the differential test."""
    req.content_type = "text/plain"
    req.write("req.interpreter=%s apache.interpreter=%s\n" % (req.interpreter, apache.interpreter))
    return apache.OK

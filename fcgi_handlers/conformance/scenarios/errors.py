"""Error pages with PythonDebug On and Off (docs/mod_python-facts.md §9): the `Mod_python error`
traceback page (500, or appended after flushed output) with debug, Apache's stock 500 page without, and the
"<phase> <handler>: <line>" error-log lines in both cases. Traceback frames inside each implementation are
normalised away by the comparison; the handler's own frames and the exception line are compared."""
from __future__ import annotations

from typing import Sequence

from ..scenario import Call, Scenario, handler

AREA = "error pages"
DEBUG = ("SetHandler mod_python", "PythonHandler {mod}", "PythonDebug On")
NO_DEBUG = ("SetHandler mod_python", "PythonHandler {mod}", "PythonDebug Off")


def failing(name: str, code: str, *, debug: bool, status: int = 500, logs: Sequence[str] = (),
            source: str = "", directives: Sequence[str] = ()) -> Scenario:
    return Scenario(name, AREA, source or handler(code), directives=directives or (DEBUG if debug else NO_DEBUG),
                    calls=(Call(status=status),), logs=logs)


RAISES = 'raise ValueError("boom <tag> & stuff")'
LATE = 'req.content_type = "text/plain"\nreq.write("partial output\\n")\nraise ValueError("late boom")'
HELPERS = '''from mod_python import apache


def inner(value):
    return {"a": 1}[value]


def outer(req):
    return inner(req.args or "missing")


def handler(req):
    outer(req)
    return apache.OK
'''
CHAINED = '''from mod_python import apache


def handler(req):
    try:
        int("not a number")
    except ValueError as exc:
        raise RuntimeError("wrapped") from exc
'''
CONTEXT = '''from mod_python import apache


def handler(req):
    try:
        {}["k"]
    except KeyError:
        raise LookupError("while handling")
'''

SCENARIOS = [
    failing("err_raise_debug", RAISES, debug=True, logs=(r"^PythonHandler cf_err_raise_debug: ValueError: boom",)),
    failing("err_raise_no_debug", RAISES, debug=False,
            logs=(r"^PythonHandler cf_err_raise_no_debug: Traceback \(most recent call last\):",
                  r"^PythonHandler cf_err_raise_no_debug: ValueError: boom <tag> & stuff")),
    failing("err_raise_default_debug", RAISES, debug=False,
            directives=("SetHandler mod_python", "PythonHandler {mod}")),
    failing("err_late_debug", LATE, debug=True, status=200),
    failing("err_late_no_debug", LATE, debug=False, status=200),
    failing("err_unicode_message_debug", 'raise ValueError("caf\\u00e9 \\u2603")', debug=True),
    failing("err_unicode_message_no_debug", 'raise ValueError("caf\\u00e9 \\u2603")', debug=False,
            logs=(r"ValueError: caf",)),
    failing("err_nested_frames_debug", "", debug=True, source=HELPERS),
    failing("err_chained_debug", "", debug=True, source=CHAINED),
    failing("err_context_debug", "", debug=True, source=CONTEXT),
    failing("err_stdlib_frames_debug", 'import json\njson.loads("{bad")', debug=True),
    failing("err_system_exit_debug", "import sys\nsys.exit(3)", debug=True),
    failing("err_keyboard_interrupt_debug", "raise KeyboardInterrupt", debug=True),
    failing("err_class_init_debug", "", debug=True, source='''from mod_python import apache


class Page:
    def __init__(self, req):
        raise TypeError("no page for you")

    def render(self, req):
        return apache.OK
''', directives=("SetHandler mod_python", "PythonHandler {mod}::Page.render", "PythonDebug On")),
    failing("err_syntax_error_debug", "", debug=True, source="from mod_python import apache\n\ndef handler(req)\n"
            "    return apache.OK\n"),
    failing("err_syntax_error_no_debug", "", debug=False, source="def handler(req)\n    return 0\n",
            logs=(r"SyntaxError",)),
    failing("err_import_error_debug", "", debug=True, source="import cf_no_such_module_anywhere\n\n"
            "def handler(req):\n    return 0\n"),
    failing("err_missing_module_debug", "", debug=True, source="# never imported\n",
            directives=("SetHandler mod_python", "PythonHandler cf_missing_module_x", "PythonDebug On")),
    failing("err_missing_function_debug", "", debug=True, source="from mod_python import apache\n",
            directives=("SetHandler mod_python", "PythonHandler {mod}::nothing_here", "PythonDebug On")),
    failing("err_missing_function_no_debug", "", debug=False, source="from mod_python import apache\n",
            directives=("SetHandler mod_python", "PythonHandler {mod}::nothing_here")),
    failing("err_not_callable_debug", "", debug=True, source="handler = 42\n"),
    failing("err_wrong_signature_debug", "", debug=True, source="def handler():\n    return 0\n"),
    failing("err_raise_in_write_debug", 'req.content_type = "text/plain"\nreq.write(None)', debug=True),
]

"""Build hook: compiles the per-request modules with mypyc when it can, else installs them as pure Python.

The pure-Python modules are the reference: every module listed in COMPILED stays importable as source, and the
compiled build must behave the same (CI runs the suite against both). Compilation is skipped, and the package
installs as pure Python, when FCGI_HANDLERS_PURE=1 is set, when mypyc cannot be imported, or when there is no C
compiler; a build that starts and fails falls back the same way, with one line saying why. Everything else about
the package is declared in pyproject.toml.
"""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from setuptools import setup

# The modules every request runs through that hold no class handler code sees or subclasses: the FastCGI layer,
# the params and response helpers, the dispatch loop and the worker's connection loop. The classes handler code
# meets (req, its tables, server and connection, the exception hierarchies it catches or subclasses) stay in pure
# Python modules: a compiled class checks `self` and caught exceptions by exact type, refuses attributes it does
# not declare, and enforces annotations at run time, all of which handler code may do otherwise.
COMPILED = [
    "fcgi_handlers/protocol/constants.py", "fcgi_handlers/protocol/events.py", "fcgi_handlers/protocol/records.py",
    "fcgi_handlers/protocol/state.py", "fcgi_handlers/protocol/connection.py",
    "fcgi_handlers/request/constants.py", "fcgi_handlers/request/params.py", "fcgi_handlers/request/response.py",
    "fcgi_handlers/dispatch/phases.py", "fcgi_handlers/dispatch/chain.py", "fcgi_handlers/dispatch/dispatcher.py",
    "fcgi_handlers/server/body.py", "fcgi_handlers/server/transport.py", "fcgi_handlers/server/pool.py",
    "fcgi_handlers/app.py",
]


def _why_pure() -> str:
    """Why this build installs pure Python, or "" when it compiles."""
    if os.environ.get("FCGI_HANDLERS_PURE") == "1":
        return "FCGI_HANDLERS_PURE=1"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed"
    return ""


def _ext_modules() -> list[object]:
    reason = _why_pure()
    if reason:
        print(f"fcgi-handlers: installing pure Python ({reason})", file=sys.stderr)
        return []
    from mypyc.build import mypycify

    try:
        return list(mypycify(COMPILED, opt_level="3", debug_level="0"))
    except Exception as exc:  # noqa: BLE001 - any failure of the compiler means: install the reference instead
        print(f"fcgi-handlers: installing pure Python (mypyc failed: {exc})", file=sys.stderr)
        return []


setup(ext_modules=_ext_modules())

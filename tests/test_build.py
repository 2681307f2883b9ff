"""The build that runs: compiled per-request modules where setup.py could build them, the pure-Python source when
FCGI_HANDLERS_PURE=1 asks for it, and `--version` saying which."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fcgi_handlers import build

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **env: str) -> str:
    environ = {key: value for key, value in os.environ.items() if key != build.PURE_VARIABLE}
    environ.update(PYTHONPATH=str(ROOT), **env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environ,
                          check=True)
    return done.stdout.strip()


def test_the_pure_variable_loads_every_module_from_source() -> None:
    code = ("import fcgi_handlers.protocol.records as r, fcgi_handlers.server.pool as p, fcgi_handlers.app as a; "
            "print(r.__file__, p.__file__, a.__file__)")
    assert all(path.endswith(".py") for path in _python(code, FCGI_HANDLERS_PURE="1").split())


def test_compiled_modules_load_when_present() -> None:
    code = "import fcgi_handlers.protocol.records as r; print(r.__file__)"
    loaded = _python(code)
    if "fcgi_handlers.protocol.records" in build.compiled_modules():
        assert loaded.endswith(".so")
    else:
        assert loaded.endswith(".py")


def test_version_names_the_build() -> None:
    pure = subprocess.run([sys.executable, "-m", "fcgi_handlers", "--version"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "FCGI_HANDLERS_PURE": "1"}, check=True).stdout
    assert pure.startswith("fcgi-handlers ") and "pure Python (FCGI_HANDLERS_PURE=1)" in pure
    default = subprocess.run([sys.executable, "-m", "fcgi_handlers", "--version"], capture_output=True, text=True,
                             timeout=60, env={k: v for k, v in os.environ.items() if k != "FCGI_HANDLERS_PURE"},
                             check=True).stdout
    expected = "compiled with mypyc" if build.compiled_modules() else "pure Python"
    assert expected in default


def test_ci_installs_the_compiled_build() -> None:
    """CI's machine has a C compiler (install-system-deps.sh): a silent fall-back to pure Python must not pass."""
    if os.environ.get("CI") and os.environ.get(build.PURE_VARIABLE) != "1":
        assert len(build.compiled_modules()) >= 10, build.description()


def test_no_compiled_module_is_older_than_its_source() -> None:
    """A compiled module shadows its source: an edit that was not rebuilt would go untested."""
    if os.environ.get(build.PURE_VARIABLE) != "1":
        assert build.stale_modules() == [], "rebuild: scripts/test.sh does, or pip install -e . by hand"


def test_the_apache_side_needs_only_the_standard_library() -> None:
    """The Apache image copies the package and runs its entrypoint with Debian's python3 alone (no site-packages)."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import fcgi_handlers.apache, fcgi_handlers.apache.demo"
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", ""), build.PURE_VARIABLE: "1"})
    assert done.returncode == 0, done.stderr

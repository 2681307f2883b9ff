"""Which build of the package is running: the modules setup.py compiles with mypyc, or their pure-Python source.

The compiled modules sit beside their source, and Python's import system prefers an extension module to a `.py`
file of the same name. `FCGI_HANDLERS_PURE=1` in the environment turns that around for this package: the source is
imported even where a compiled module exists, so one installation can run the reference implementation too (CI runs
the unit tests both ways). The variable is read once, when the package is first imported.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Sequence

PURE_VARIABLE = "FCGI_HANDLERS_PURE"
_PACKAGE = __name__.rpartition(".")[0]
_ROOT = Path(__file__).resolve().parent


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds this package's modules as `.py` source, ahead of any compiled module of the same name."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith(_PACKAGE + "."):
            return None
        relative = Path(*fullname.split(".")[1:])
        source = _ROOT / relative.with_suffix(".py")
        if source.is_file():
            return importlib.util.spec_from_file_location(fullname, source)
        return None  # a subpackage: its __init__.py is found the usual way


def prefer_source_when_asked() -> None:
    """Install the source-first finder when the environment asks for the pure build."""
    if os.environ.get(PURE_VARIABLE) == "1" and not any(isinstance(f, _SourceFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst())


def compiled_modules() -> list[str]:
    """The package's modules that are loaded, or would load, from a compiled extension."""
    names = []
    for extension in sorted(_ROOT.rglob("*.so")):
        relative = extension.relative_to(_ROOT)
        names.append(".".join([_PACKAGE, *relative.parent.parts, relative.name.split(".")[0]]))
    return names


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after they were built: the import system would still load the old
    compiled code (`scripts/test.sh` rebuilds them; by hand: `pip install -e .` again)."""
    stale = []
    for name in compiled_modules():
        relative = Path(*name.split(".")[1:])
        source = _ROOT / relative.with_suffix(".py")
        built = min((path.stat().st_mtime for path in source.parent.glob(relative.name + ".*.so")), default=0.0)
        if source.is_file() and source.stat().st_mtime > built:
            stale.append(name)
    return stale


def description() -> str:
    """One phrase for `--version` and the logs: which build runs."""
    if os.environ.get(PURE_VARIABLE) == "1":
        return f"pure Python ({PURE_VARIABLE}=1)"
    compiled = compiled_modules()
    return f"compiled with mypyc ({len(compiled)} modules)" if compiled else "pure Python"

"""What every fuzz target shares: the atheris entry point and the rule that only documented errors escape.

A target is a module with ``test_one_input(data: bytes) -> None`` that feeds untrusted bytes to one parser and lets
only the exceptions that parser documents escape (``expect``); anything else, or a broken invariant (an
``AssertionError``), is a finding: atheris stops, prints the traceback and writes the input as ``crash-*``.
Each target imports the code under test inside ``instrumented(...)``, naming the modules whose branches guide the
fuzzer; this module imports nothing of the package, which would keep it from being instrumented.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import tempfile
import warnings
from typing import Callable, Iterable, Iterator, Tuple, Type

import atheris

# The packages whose branches may guide the fuzzer: ours, and the multipart parser FieldStorage feeds.
INSTRUMENTED = ("fcgi_handlers", "mod_python", "multipart")

Errors = Tuple[Type[BaseException], ...]


def _modules(package: str) -> Iterator[str]:
    """Every module name of `package`, found on disk (importing them would keep them from being instrumented)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return
    yield package
    for location in spec.submodule_search_locations or ():
        for base, dirs, files in os.walk(location):
            dirs[:] = [d for d in dirs if os.path.exists(os.path.join(base, d, "__init__.py"))]
            relative = os.path.relpath(base, location)
            prefix = ".".join([package, *([] if relative == "." else relative.split(os.sep))])
            for name in files:
                if name == "__init__.py":
                    if relative != ".":
                        yield prefix
                elif name.endswith(".py"):
                    yield f"{prefix}.{name[:-3]}"


@contextlib.contextmanager
def instrumented(*focus: str) -> Iterator[None]:
    """Import the code under test inside this block so atheris instruments it: the modules named in `focus` (with
    their submodules), or every package in INSTRUMENTED. Code outside the focus runs at full speed, which matters
    for inputs that pass through the request layer on their way to the parser under test."""
    focus = focus or INSTRUMENTED
    packages = {name.split(".")[0] for name in focus}
    exclude = [module for package in packages for module in _modules(package)
               if not any(module == f or module.startswith(f + ".") for f in focus)]
    if "fcgi_handlers" in packages:
        # Where setup.py compiled some modules with mypyc, coverage can only come from their source:
        # FCGI_HANDLERS_PURE=1 makes the package import it. Its __init__ (excluded) installs the source-first finder
        # now, so the finder atheris puts in front of it below still sees every module it loads.
        os.environ["FCGI_HANDLERS_PURE"] = "1"
        importlib.import_module("fcgi_handlers")
    with atheris.instrument_imports(include=sorted(packages), exclude=exclude):
        yield


@contextlib.contextmanager
def expect(*documented: Type[BaseException]) -> Iterator[None]:
    """Swallow the documented error types; everything else propagates and is reported as a crash."""
    try:
        yield
    except documented:
        pass


def main(test_one_input: Callable[[bytes], None], seeds: Callable[[], Iterable[bytes]] = lambda: ()) -> None:
    """Run libFuzzer with the command line (``-runs``, ``-max_total_time``, corpus directories...); an empty first
    corpus directory is filled with the target's ``seeds`` first, so a run starts from realistic inputs."""
    corpus = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    if corpus and os.path.isdir(corpus[0]) and not os.listdir(corpus[0]):
        for index, seed in enumerate(seeds()):
            with open(os.path.join(corpus[0], f"seed-{index:03d}"), "wb") as handle:
                handle.write(seed)
    # Handler code and the helpers log through the logging module: keep the fuzzer's output to its own lines.
    import logging

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")  # SyntaxWarnings of fuzzed page code, DeprecationWarnings of fuzzed options
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


class Sink:
    """Below the dispatcher: keeps the FCGI_STDOUT and FCGI_STDERR bytes a request produced."""

    def __init__(self) -> None:
        self.out, self.err = bytearray(), bytearray()

    def stdout(self, data: bytes) -> None:
        self.out += data

    def stderr(self, data: bytes) -> None:
        self.err += data


def scratch_dir(name: str) -> str:
    """A private directory for a target's files (sessions, pages), under the run's work directory when given."""
    base = os.environ.get("FUZZ_SCRATCH") or tempfile.gettempdir()
    path = os.path.join(base, f"{name}-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path

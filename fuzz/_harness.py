"""What every fuzz target shares: the atheris entry point and the rule that only documented errors escape.

A target is a module with ``test_one_input(data: bytes) -> None`` that feeds untrusted bytes to one parser and lets
only the exceptions that parser documents escape (``expect``); anything else, or a broken invariant (an
``AssertionError``), is a finding: atheris stops, prints the traceback and writes the input as ``crash-*``.
The package is imported by each target inside ``instrumented()``, so coverage feedback reaches our code and the
libraries it parses with; this module imports nothing of the package for that reason.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Callable, Iterable, Iterator, Tuple, Type

import atheris

# The modules whose branches guide the fuzzer: ours, and the multipart parser FieldStorage feeds.
INSTRUMENTED = ("fcgi_handlers", "mod_python", "multipart")

Errors = Tuple[Type[BaseException], ...]


@contextlib.contextmanager
def instrumented() -> Iterator[None]:
    """Import the code under test inside this block so atheris can instrument it."""
    with atheris.instrument_imports(include=list(INSTRUMENTED)):
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


def scratch_dir(name: str) -> str:
    """A private directory for a target's files (sessions, pages), under the run's work directory when given."""
    base = os.environ.get("FUZZ_SCRATCH") or tempfile.gettempdir()
    path = os.path.join(base, f"{name}-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path

"""Differential conformance: every scenario answered by real mod_python and by the daemon, and compared.

`run(...)` is what `fcgi-handlers conformance` calls: it starts a prefork Apache with Debian's mod_python, the
daemon and an event Apache in front of it, runs the corpus (`scenarios/`), writes the report, optionally regenerates
docs/conformance.md, and prints `N scenarios: M match, K intended differences, J mismatches` as its last line.
Exit status 0 when every mismatch carries its diagnosis (`Scenario.known_mismatch`, for the lead to decide) and
no diagnosis is stale, 1 otherwise, 2 when the stack cannot start.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional, Sequence, TextIO

from fcgi_handlers.apache.runner import HttpdError, missing_apache

from .judge import Outcome, Result
from .report import docs_summary, totals, write
from .runner import run_corpus
from .scenario import Call, Expect, Mask, Reason, Scenario, fastcgi_limit, handler, mod_python_bug, show
from .scenarios import corpus

__all__ = ["Call", "Expect", "Mask", "Outcome", "Reason", "Result", "Scenario", "corpus", "fastcgi_limit",
           "handler", "mod_python_bug", "run", "run_corpus", "show"]


def run(out: Path, *, docs: Optional[Path] = None, names: Sequence[str] = (), areas: Sequence[str] = (),
        keep: bool = False, stream: TextIO = sys.stdout) -> int:
    """Run the corpus (or the named scenarios/areas), write the report under `out`, print the totals line."""
    missing = missing_apache("python", "mpm_prefork", "mpm_event", "proxy_fcgi")
    if missing:
        print(f"conformance: not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)", file=stream)
        return 2
    scenarios = corpus(names, areas)
    if not scenarios:
        print("conformance: no scenario matches the selection", file=stream)
        return 2
    started = time.monotonic()
    results: list[Result] = []
    try:
        for result in run_corpus(scenarios, keep=keep):
            results.append(result)
            if result.outcome is Outcome.MISMATCH:
                known = " (diagnosed)" if result.scenario.known_mismatch else ""
                print(f"mismatch{known}: {result.scenario.name} ({result.scenario.area})", file=stream)
                for note in result.notes:
                    print(f"    {note[:500]}", file=stream)
    except HttpdError as exc:
        print(f"conformance: could not start the servers: {exc}", file=stream)
        return 2
    runtime = time.monotonic() - started
    for path in write(results, out, runtime):
        print(f"wrote {path}", file=stream)
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(docs_summary(results))
        print(f"wrote {docs}", file=stream)
    unexplained = [r.scenario.name for r in results
                   if (r.outcome is Outcome.MISMATCH) != bool(r.scenario.known_mismatch)]
    if unexplained:
        print(f"not diagnosed, or diagnosed but no longer a mismatch: {', '.join(unexplained)}", file=stream)
    print(f"runtime {runtime:.1f} s", file=stream)
    print(totals(results).line(), file=stream, flush=True)
    return 1 if unexplained else 0

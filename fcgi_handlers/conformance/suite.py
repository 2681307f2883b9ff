"""mod_python's own test suite in the report: each upstream per-request test, passed or not under each side.

A side passes an upstream test when every answer it gave meets upstream's assertion for that request
(`upstream_conditions`: what the test asserts, re-expressed as expectations) and its error log shows the lines the
test looks for. That is judged on each side's own answers, apart from the comparison between the sides, so the table
can say "fails under mod_python, passes under the daemon" for a mod_python bug. A test left out has its reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .compare import View, check, missing_logs
from .judge import Result, SideRun
from .scenario import Expect
from .scenarios.upstream import AREA, UPSTREAM, upstream_conditions


@dataclass(frozen=True)
class UpstreamVerdict:
    """One upstream test: whether each side passed it (None: not run in this selection), or why it is left out."""

    test: str
    mod_python: Optional[bool]
    daemon: Optional[bool]
    excluded: str = ""
    note: str = ""     # how the scenario differs from upstream's test, when it does
    partial: bool = False   # a part of the test cannot pass out of process (its note says which)


def _passes(conditions: Sequence[tuple[Expect, ...]], answers: list[list[View]], run: SideRun,
            logs: Sequence[str]) -> bool:
    if run.config_error is not None or len(answers) != len(conditions):
        return False
    for alternatives, got in zip(conditions, answers):
        if not got or not all(any(not check(expect, view, "") for expect in alternatives) for view in got):
            return False
    return not missing_logs(logs, run.messages)


def verdicts(results: Sequence[Result]) -> list[UpstreamVerdict]:
    """Every upstream test in upstream's order; empty when the selection ran none of the area's scenarios."""
    by_name = {result.scenario.name: result for result in results if result.scenario.area == AREA}
    if not by_name:
        return []
    found: list[UpstreamVerdict] = []
    for entry in UPSTREAM:
        result = by_name.get(entry.scenario or "")
        if entry.excluded or result is None:
            found.append(UpstreamVerdict(entry.test, None, None, entry.excluded))
            continue
        conditions = upstream_conditions(result.scenario)
        logs = result.scenario.logs
        note = result.scenario.description.partition(": ")[2]
        found.append(UpstreamVerdict(entry.test, _passes(conditions, result.mod_python, result.mod_python_run, logs),
                                     _passes(conditions, result.daemon, result.daemon_run, logs), note=note,
                                     partial=bool(entry.shown_by)))
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _mark(passed: Optional[bool]) -> str:
    return "not run" if passed is None else "passed" if passed else "**failed**"


def table(results: Sequence[Result]) -> list[str]:
    """The Markdown section: one row per upstream test, then the counts; [] when the area did not run."""
    found = verdicts(results)
    if not found:
        return []
    rows = ["| upstream test | mod_python 3.5 | daemon | left out because, or how it runs here |", "|---|---|---|---|"]
    for v in found:
        if v.excluded:
            rows.append(f"| `{v.test}` | – | – | left out: {_cell(v.excluded)} |")
        else:
            daemon = _mark(v.daemon) + (", but for the part in the last column" if v.partial else "")
            rows.append(f"| `{v.test}` | {_mark(v.mod_python)} | {daemon} | {_cell(v.note)} |")
    return ["## mod_python's own test suite", "",
            "Every per-request test (`PerRequestTestCase.test_*`) of mod_python 3.5's `test/test.py`, each re-written "
            f"as a scenario of the area \"{AREA}\" (named `up_` and the test's name) or left out with the reason. A "
            "side passes a test when its answers meet what the upstream test asserts and its error log shows what the "
            "test looks for.", "", *rows, "", summary(found), ""]


def summary(found: Sequence[UpstreamVerdict]) -> str:
    """`N upstream tests: R run (M pass under mod_python, D under the daemon), E left out`."""
    run = [v for v in found if not v.excluded and v.daemon is not None]
    return (f"{len(found)} upstream tests: {len(run)} run ({sum(1 for v in run if v.mod_python)} pass under "
            f"mod_python, {sum(1 for v in run if v.daemon)} under the daemon), "
            f"{sum(1 for v in found if v.excluded)} left out")

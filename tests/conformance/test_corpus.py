"""The whole corpus through both real Apaches, once per session: one test per scenario.

A scenario passes when both sides answer alike, or when its intended difference holds (the daemon's asserted
answer and mod_python's stated bug both seen). A mismatch fails unless the scenario carries a diagnosis for the lead
(`known_mismatch`): then it is an expected failure, and it fails for real the day it matches, so the stale note
goes. Nothing skips under CI=true: a missing Apache or mod_python fails the session fixture.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fcgi_handlers.conformance import Outcome, Result, Scenario, corpus, run_corpus
from fcgi_handlers.conformance.report import totals
from fcgi_handlers.apache.runner import missing_apache

pytestmark = pytest.mark.e2e

SCENARIOS = corpus()
# The areas the conformance issue asks for, each by the name its scenarios carry.
REQUIRED_AREAS = {"request API", "tables", "output timing", "return codes", "error pages", "request bodies",
                  "unicode", "HEAD", "query strings", "options and config", "module loading", "phases", "util",
                  "Cookie", "Session", "publisher", "psp", "wsgi", "cgihandler"}
KNOWN_BUGS = {"q_parse_qsl_str", "ck_signed_cookie", "ck_marshal_cookie", "load_autoreload_on", "cgi_post_body",
              "pub_auth_good_credentials", "load_import_race"}


def require_apache() -> None:
    missing = missing_apache("python", "mpm_prefork", "mpm_event", "proxy_fcgi")
    if missing:
        reason = f"not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def results() -> dict[str, Result]:
    """Every scenario's verdict; both Apaches and the daemon run only while the corpus runs."""
    require_apache()
    return {result.scenario.name: result for result in run_corpus(SCENARIOS)}


def explain(result: Result) -> str:
    return "\n".join([f"{result.scenario.name} ({result.scenario.area}): {result.outcome.value}", *result.notes])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, results: dict[str, Result]) -> None:
    result = results[scenario.name]
    if scenario.known_mismatch:
        if result.outcome is Outcome.MISMATCH:
            pytest.xfail(f"diagnosed mismatch: {scenario.known_mismatch}")
        pytest.fail(f"{scenario.name} now gives {result.outcome.value}: remove its known_mismatch diagnosis")
    assert result.outcome is not Outcome.MISMATCH, explain(result)
    expected = Outcome.MATCH if scenario.intended_difference is None else Outcome.INTENDED
    assert result.outcome is expected, explain(result)


def test_totals_cover_every_scenario(results: dict[str, Result]) -> None:
    summary = totals(list(results.values()))
    assert summary.scenarios == len(SCENARIOS) == summary.match + summary.intended + summary.mismatch
    assert summary.mismatch == sum(1 for s in SCENARIOS if s.known_mismatch and results[s.name].outcome
                                   is Outcome.MISMATCH)


def test_corpus_covers_the_issue() -> None:
    assert len(SCENARIOS) >= 150
    assert REQUIRED_AREAS <= {s.area for s in SCENARIOS}
    known = {s.name for s in SCENARIOS if s.intended_difference is not None}
    assert KNOWN_BUGS <= known


def test_command_runs_a_selection_and_prints_the_totals_last(tmp_path: Path) -> None:
    require_apache()
    out = tmp_path / "report"
    docs = tmp_path / "conformance.md"
    command = [sys.executable, "-m", "fcgi_handlers", "conformance", "--out", str(out), "--docs", str(docs),
               "--scenario", "ret_not_found", "--scenario", "tbl_headers_out_repeated"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "2 scenarios: 1 match, 1 intended differences, 0 mismatches"
    assert "| `ret_not_found` | return codes |" in (out / "report.md").read_text()
    assert "<td>intended difference</td>" in (out / "report.html").read_text()
    assert "| **all** | **2** | **1** | **1** | **0** |" in docs.read_text()

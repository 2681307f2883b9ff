"""The verdict on one scenario: match, intended difference, or mismatch.

Rules, in order:
1. The oracle must answer as the scenario declares (each call's status and `expect`, the expected log lines);
   otherwise the scenario itself is wrong and counts as a mismatch, whatever the daemon did.
2. A call with no `daemon` expectation must give the same normalised answer on both sides (status line, headers
   except framing, body), and the daemon's error log must show the expected lines too.
3. A call with a `daemon` expectation (only in a scenario with an `intended_difference`) must differ from
   mod_python's answer, and the daemon's answer must meet the expectation. If it does not differ, the stated reason
   no longer holds: a mismatch to look at, not a silent pass.
A scenario with an intended difference is an intended difference when every rule holds; any other is a match.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

from fcgi_handlers.apache.runner import Response

from .compare import Side, View, check, differences, missing_logs, view
from .scenario import NO_ANSWER, Call, Scenario


class Outcome(enum.Enum):
    MATCH = "match"
    INTENDED = "intended difference"
    MISMATCH = "mismatch"


@dataclass
class Exchange:
    """One call's answers (several for a concurrent call), or why there are none."""

    call: Call
    responses: list[Response] = field(default_factory=list)
    error: Optional[str] = None


@dataclass
class SideRun:
    """What one side answered for one scenario."""

    side: Side
    exchanges: list[Exchange] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    config_error: Optional[str] = None


@dataclass
class Result:
    """A scenario, both sides' normalised answers per call, and the verdict with its reasons."""

    scenario: Scenario
    outcome: Outcome
    mod_python: list[list[View]]
    daemon: list[list[View]]
    notes: list[str]
    mod_python_run: SideRun
    daemon_run: SideRun


def views(scenario: Scenario, run: SideRun) -> list[list[View]]:
    """Per call, the normalised answers; concurrent answers sorted, since their order is the scheduler's."""
    result: list[list[View]] = []
    for exchange in run.exchanges:
        answers = [view(r, run.side, scenario.masks, compare_headers=scenario.compare_headers)
                   for r in exchange.responses]
        result.append(sorted(answers, key=lambda v: (v.status, v.headers, v.body)) if len(answers) > 1 else answers)
    return result


def _oracle_problems(scenario: Scenario, run: SideRun, answers: list[list[View]]) -> list[str]:
    problems: list[str] = []
    for index, (exchange, got) in enumerate(zip(run.exchanges, answers)):
        call = exchange.call
        if exchange.error is not None:
            if call.status != NO_ANSWER:
                problems.append(f"call {index + 1}: mod_python: no answer: {exchange.error}")
            continue
        statuses = (call.status, *call.alternatives)
        declared = [answer for answer in got if int(answer.status.split()[0]) in statuses]
        # Copies sent at once may be answered differently (a race): the declared answer must be among them.
        if len(declared) < (1 if call.concurrent > 1 else len(got)):
            answered = sorted({answer.status for answer in got})
            problems.append(f"call {index + 1}: mod_python answered {', '.join(answered)}, the scenario declares "
                            f"{' or '.join(map(str, statuses))}")
        if call.expect is not None:
            problems += [f"call {index + 1}: {p}" for a in declared[:1] for p in check(call.expect, a, "mod_python")]
    problems += [f"mod_python's error log lacks /{p}/" for p in missing_logs(scenario.logs, run.messages)]
    return problems


def _call_differences(index: int, theirs: list[View], ours: list[View]) -> list[str]:
    if len(theirs) != len(ours):
        return [f"call {index + 1}: {len(theirs)} answers from mod_python, {len(ours)} from the daemon"]
    return [f"call {index + 1}: {line}" for a, b in zip(theirs, ours) for line in differences(a, b)]


def judge(scenario: Scenario, theirs_run: SideRun, ours_run: SideRun) -> Result:
    """Compare both sides' answers to one scenario and give the verdict (rules in the module docstring)."""
    theirs, ours = views(scenario, theirs_run), views(scenario, ours_run)
    notes = _oracle_problems(scenario, theirs_run, theirs)
    if ours_run.config_error is not None:
        notes.append(f"the block cannot be translated for the daemon: {ours_run.config_error}")
        return Result(scenario, Outcome.MISMATCH, theirs, ours, notes, theirs_run, ours_run)
    differed = False
    for index, exchange in enumerate(ours_run.exchanges):
        call = exchange.call
        if exchange.error is not None:
            notes.append(f"call {index + 1}: daemon: no answer: {exchange.error}")
            continue
        found = _call_differences(index, theirs[index] if index < len(theirs) else [], ours[index])
        if call.daemon is None or scenario.intended_difference is None:
            notes += found
            continue
        differed = differed or bool(found)
        if not found:
            notes.append(f"call {index + 1}: both sides answer alike, so the intended difference "
                         f"({scenario.intended_difference.text}) did not occur")
        notes += [f"call {index + 1}: {p}" for answer in ours[index] for p in check(call.daemon, answer, "daemon")]
    notes += [f"the daemon's error log lacks /{p}/" for p in missing_logs(scenario.logs, ours_run.messages)]
    if notes:
        outcome = Outcome.MISMATCH
    elif scenario.intended_difference is not None and differed:
        outcome = Outcome.INTENDED
    else:
        outcome = Outcome.MATCH
    return Result(scenario, outcome, theirs, ours, notes, theirs_run, ours_run)

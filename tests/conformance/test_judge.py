"""The verdict rules, on hand-made answers: match, intended difference, and the ways each turns into a mismatch;
and the corpus checks that keep a scenario judgeable."""
from __future__ import annotations

import pytest

from fcgi_handlers.conformance.compare import Side
from fcgi_handlers.conformance.judge import Exchange, Outcome, SideRun, judge
from fcgi_handlers.conformance.report import Totals, intended_list, mismatch_list, totals
from fcgi_handlers.conformance.scenario import NO_ANSWER, Call, Expect, Scenario, diagnosed, fill, mod_python_bug
from fcgi_handlers.conformance.scenarios import CorpusError, validate
from fcgi_handlers.apache.runner import Response

THEIRS, OURS = Side(38001, ("/h",)), Side(41234, ("/h",))
BUG = mod_python_bug("the oracle is wrong here")


def run(side: Side, call: Call, *answers: Response, messages: tuple[str, ...] = ()) -> SideRun:
    error = None if answers else "RemoteDisconnected: no answer"
    return SideRun(side, [Exchange(call, list(answers), error)], list(messages))


def ok(body: bytes = b"x", status: int = 200) -> Response:
    return Response(status, "OK" if status == 200 else "Other", [("Content-Type", "text/plain")], body)


def scenario(call: Call, **kwargs: object) -> Scenario:
    return Scenario("s", "area", "source", calls=(call,), **kwargs)  # type: ignore[arg-type]


def test_alike_answers_match() -> None:
    call = Call()
    result = judge(scenario(call), run(THEIRS, call, ok()), run(OURS, call, ok()))
    assert (result.outcome, result.notes) == (Outcome.MATCH, [])


def test_different_answers_mismatch_with_what_differs() -> None:
    call = Call()
    result = judge(scenario(call), run(THEIRS, call, ok(b"a")), run(OURS, call, ok(b"b")))
    assert result.outcome is Outcome.MISMATCH and result.notes[0].startswith("call 1: body:")


def test_an_oracle_that_answers_otherwise_than_declared_is_a_mismatch_even_when_both_agree() -> None:
    call = Call(status=404)
    result = judge(scenario(call), run(THEIRS, call, ok()), run(OURS, call, ok()))
    assert result.outcome is Outcome.MISMATCH
    assert result.notes == ["call 1: mod_python answered 200 OK, the scenario declares 404"]


def test_expected_log_lines_are_needed_on_both_sides() -> None:
    call = Call()
    s = scenario(call, logs=(r"boom",))
    good = judge(s, run(THEIRS, call, ok(), messages=("boom",)), run(OURS, call, ok(), messages=("x: boom",)))
    bad = judge(s, run(THEIRS, call, ok(), messages=("boom",)), run(OURS, call, ok()))
    assert good.outcome is Outcome.MATCH
    assert (bad.outcome, bad.notes) == (Outcome.MISMATCH, ["the daemon's error log lacks /boom/"])


def test_intended_difference_needs_the_difference_and_the_daemons_answer() -> None:
    call = Call(expect=Expect(body=b"wrong"), daemon=Expect(status=200, body=b"right"))
    s = scenario(call, intended_difference=BUG)
    assert judge(s, run(THEIRS, call, ok(b"wrong")), run(OURS, call, ok(b"right"))).outcome is Outcome.INTENDED
    broken = judge(s, run(THEIRS, call, ok(b"wrong")), run(OURS, call, ok(b"other")))
    assert broken.outcome is Outcome.MISMATCH and "daemon: body b'other', expected b'right'" in broken.notes[-1]
    stale = judge(s, run(THEIRS, call, ok(b"right")), run(OURS, call, ok(b"right")))
    assert stale.outcome is Outcome.MISMATCH
    assert any("did not occur" in note for note in stale.notes)
    assert any("mod_python: body b'right', expected b'wrong'" in note for note in stale.notes)


def test_calls_without_a_daemon_expectation_must_match_in_an_intended_scenario() -> None:
    plain, differing = Call(), Call("x", daemon=Expect(status=200))
    s = Scenario("s", "area", "source", calls=(plain, differing), intended_difference=BUG)
    theirs = SideRun(THEIRS, [Exchange(plain, [ok(b"a")]), Exchange(differing, [ok(b"a")])])
    ours = SideRun(OURS, [Exchange(plain, [ok(b"b")]), Exchange(differing, [ok(b"b")])])
    result = judge(s, theirs, ours)
    assert result.outcome is Outcome.MISMATCH and result.notes[0].startswith("call 1: body:")


def test_a_crash_of_the_oracle_can_be_the_declared_answer() -> None:
    call = Call(status=NO_ANSWER, daemon=Expect(status=200))
    s = scenario(call, intended_difference=BUG)
    assert judge(s, run(THEIRS, call), run(OURS, call, ok())).outcome is Outcome.INTENDED
    undeclared = Call()
    assert judge(scenario(undeclared), run(THEIRS, undeclared), run(OURS, undeclared, ok())).notes[0] == \
        "call 1: mod_python: no answer: RemoteDisconnected: no answer"


def test_concurrent_copies_need_the_declared_answer_among_them_and_compare_as_a_set() -> None:
    call = Call(concurrent=3, status=500, daemon=Expect(status=200))
    s = scenario(call, intended_difference=BUG)
    theirs = run(THEIRS, call, ok(), ok(b"e", 500), ok(b"e", 500))
    assert judge(s, theirs, run(OURS, call, ok(), ok(), ok())).outcome is Outcome.INTENDED
    same = Call(concurrent=2)
    assert judge(scenario(same), run(THEIRS, same, ok(b"1"), ok(b"2")),
                 run(OURS, same, ok(b"2"), ok(b"1"))).outcome is Outcome.MATCH


def test_an_untranslatable_block_is_a_mismatch() -> None:
    call = Call()
    ours = SideRun(OURS, config_error="UnsupportedDirective: PythonInputFilter ...")
    result = judge(scenario(call), run(THEIRS, call, ok()), ours)
    assert result.outcome is Outcome.MISMATCH and "cannot be translated" in result.notes[-1]


def test_validate_refuses_what_cannot_be_judged() -> None:
    validate([scenario(Call())])
    with pytest.raises(CorpusError, match="defined twice"):
        validate([scenario(Call()), scenario(Call())])
    with pytest.raises(CorpusError, match="lower-case identifiers"):
        validate([Scenario("Bad-Name", "a", "src")])
    with pytest.raises(CorpusError, match="needs an intended_difference"):
        validate([scenario(Call(daemon=Expect(status=200)))])
    with pytest.raises(CorpusError, match="needs the daemon's answer"):
        validate([scenario(Call(), intended_difference=BUG)])


def test_diagnosed_attaches_notes_by_name_only() -> None:
    marked = diagnosed([scenario(Call())], {"s": "the lead decides"})
    assert marked[0].known_mismatch == "the lead decides"
    with pytest.raises(ValueError, match="unknown scenarios: t"):
        diagnosed([scenario(Call())], {"t": "?"})


def test_fill_replaces_known_tokens_only() -> None:
    assert fill("{mod}::x {'a': 1} {other}", {"mod": "cf_s"}) == "cf_s::x {'a': 1} {other}"


def test_totals_line_and_lists() -> None:
    call = Call(expect=Expect(body=b"a"), daemon=Expect(status=200))
    results = [judge(scenario(Call()), run(THEIRS, Call(), ok()), run(OURS, Call(), ok())),
               judge(scenario(call, intended_difference=BUG), run(THEIRS, call, ok(b"a")), run(OURS, call, ok(b"b"))),
               judge(scenario(Call(), known_mismatch="why"), run(THEIRS, Call(), ok(b"a")),
                     run(OURS, Call(), ok(b"b")))]
    assert totals(results) == Totals(3, 1, 1, 1)
    assert totals(results).line() == "3 scenarios: 1 match, 1 intended differences, 1 mismatches"
    assert intended_list(results) == ["- mod_python bug: the oracle is wrong here. Scenarios: `s`."]
    assert mismatch_list(results, details=False) == ["- `s` (area): why"]

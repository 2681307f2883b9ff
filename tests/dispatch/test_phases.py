"""The phase table against mod_python's rules (docs/mod_python-facts.md §1-§3)."""

from __future__ import annotations

from fcgi_handlers.dispatch.phases import BY_DIRECTIVE, CONTENT, PHASES, Placement, phases_at
from fcgi_handlers.request.constants import DECLINED, DONE, OK


def test_default_object_is_the_directive_without_python_lower_cased() -> None:
    for phase in PHASES:
        assert phase.default_object == phase.directive[len("Python"):].lower()


def test_continue_on_codes() -> None:
    run_all = {"PythonPostReadRequestHandler", "PythonHeaderParserHandler", "PythonInitHandler",
               "PythonAccessHandler", "PythonFixupHandler", "PythonLogHandler"}
    run_first = {"PythonTransHandler", "PythonAuthenHandler", "PythonAuthzHandler", "PythonTypeHandler"}
    for phase in PHASES:
        assert DONE not in phase.continue_on
        if phase.directive in run_all:
            assert phase.continue_on == {OK, DECLINED}
        elif phase.directive in run_first:
            assert phase.continue_on == {DECLINED}
        else:
            assert phase.directive in ("PythonHandler", "PythonCleanupHandler")
            assert phase.continue_on == {OK}


def test_extension_syntax_refused_only_before_filenames_exist() -> None:
    refused = {phase.directive for phase in PHASES if not phase.accepts_extensions}
    assert refused == {"PythonPostReadRequestHandler", "PythonTransHandler"}


def test_placement_and_order() -> None:
    assert [p.directive for p in phases_at(Placement.CONTENT)] == ["PythonHandler"]
    assert [p.directive for p in phases_at(Placement.APACHE_AUTH)] == ["PythonAuthenHandler", "PythonAuthzHandler"]
    assert [p.directive for p in phases_at(Placement.AFTER_RESPONSE)] == ["PythonLogHandler"]
    assert [p.directive for p in phases_at(Placement.CLEANUP)] == ["PythonCleanupHandler"]
    order = [p.directive for p in PHASES]
    assert order.index("PythonInitHandler") < order.index("PythonHeaderParserHandler")
    assert order.index("PythonFixupHandler") < order.index("PythonHandler") < order.index("PythonLogHandler")
    assert BY_DIRECTIVE["PythonHandler"] is CONTENT
    assert len(BY_DIRECTIVE) == len(PHASES) == 12

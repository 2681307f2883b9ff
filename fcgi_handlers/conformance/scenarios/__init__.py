"""The corpus: the scenario modules (one or two areas each), gathered and checked once.

Each module defines `SCENARIOS` (each scenario names its area). `corpus()` returns them in module order and
refuses a corpus that cannot be judged: a duplicate or unusable name, a call with a daemon expectation but no
stated reason, or an intended difference no call can show.
"""
from __future__ import annotations

import re
from types import ModuleType
from typing import Sequence

from ..scenario import Scenario
from . import (applications, bodies, cookie_session, directives, errors, output, phases, publisher, request_api,
               returns, strings, upstream, util)

# In report order: the request object first, the helper modules, then mod_python's own test suite.
MODULES: tuple[ModuleType, ...] = (request_api, output, returns, errors, bodies, strings, directives, phases, util,
                                   cookie_session, publisher, applications, upstream)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CorpusError(ValueError):
    """A scenario definition that cannot be judged."""


def validate(scenarios: Sequence[Scenario]) -> None:
    """Raise CorpusError for the first scenario the judge could not give a meaningful verdict on."""
    seen: set[str] = set()
    for scenario in scenarios:
        if not _NAME.match(scenario.name):
            raise CorpusError(f"{scenario.name!r}: names are lower-case identifiers (they become module names)")
        if scenario.name in seen:
            raise CorpusError(f"{scenario.name!r} is defined twice")
        seen.add(scenario.name)
        if not scenario.calls:
            raise CorpusError(f"{scenario.name}: a scenario needs at least one call")
        expected = [call for call in scenario.calls if call.daemon is not None]
        if expected and scenario.intended_difference is None:
            raise CorpusError(f"{scenario.name}: a daemon expectation needs an intended_difference with its reason")
        if scenario.intended_difference is not None and not expected:
            raise CorpusError(f"{scenario.name}: an intended difference needs the daemon's answer on some call")


def corpus(names: Sequence[str] = (), areas: Sequence[str] = ()) -> list[Scenario]:
    """All scenarios (validated), or those whose name or area is given."""
    scenarios = [scenario for module in MODULES for scenario in module.SCENARIOS]
    validate(scenarios)
    if names or areas:
        scenarios = [s for s in scenarios if s.name in names or s.area in areas]
    return scenarios

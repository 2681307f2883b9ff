"""Every fuzz target in fuzz/ runs for a short while (scripts/fuzz.sh TARGET 20) and finds nothing.

The long runs (a million inputs per target) are done by hand and reported; this keeps each target working and gives
every CI run a few thousand fresh inputs per parser. A target that finds a crash fails here with the input's path
and libFuzzer's output, which holds the Python traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TARGETS = sorted(path.stem for path in (REPO / "fuzz").glob("*.py") if not path.stem.startswith("_"))
SECONDS = int(os.environ.get("FCGI_HANDLERS_FUZZ_SECONDS", "20"))
# The parsers the issue names; a target removed by mistake fails the test below instead of silently not running.
EXPECTED = {"fcgi_records", "params", "multipart_form", "cookies", "session_ids", "publisher", "psp", "authorizer"}


def test_every_untrusted_parser_has_a_target() -> None:
    assert set(TARGETS) == EXPECTED


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_nothing(target: str, tmp_path: Path) -> None:
    env = dict(os.environ, FUZZ_WORK=str(tmp_path / target))
    proc = subprocess.run([str(REPO / "scripts" / "fuzz.sh"), target, str(SECONDS)], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=SECONDS + 120)
    output = proc.stderr + proc.stdout
    found = sorted(p.name for p in (tmp_path / target).glob("*-*") if p.name.split("-")[0] in
                   ("crash", "timeout", "oom", "leak", "slow"))
    assert proc.returncode == 0 and not found, f"{target} found {found}:\n{output[-6000:]}"
    runs = re.search(r"stat::number_of_executed_units: (\d+)", output)
    assert runs is not None and int(runs.group(1)) > 100, output[-3000:]

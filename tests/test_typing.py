"""mypy --strict over what pyproject's [tool.mypy] names: the package, the mod_python helpers, the tests and the
benchmarks. The types stay checked in every CI run, not only when someone runs `.venv/bin/mypy`.

mypy runs in a subprocess, with no file arguments (the configuration decides what is checked), from the repository
root so that its incremental cache (.mypy_cache there) makes reruns quick. A failure shows mypy's report. The count of
files mypy checked is compared with the files the configuration names, so a folder mypy silently skips (a module name it
cannot map) fails too.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
MYPY_TIMEOUT = 600  # seconds: bounds a cold run (no cache) on a loaded machine

pytestmark = pytest.mark.typecheck


def mypy_config() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        config: dict[str, Any] = tomllib.load(file)["tool"]["mypy"]
    return config


def configured_sources() -> list[str]:
    """The .py files under the configured roots, minus the configured exclusions (paths relative to the root)."""
    config = mypy_config()
    excluded = [re.compile(pattern) for pattern in config.get("exclude", [])]
    found = []
    for root in config["files"]:
        for path in sorted((ROOT / root).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not any(pattern.search(relative) for pattern in excluded):
                found.append(relative)
    return found


def test_the_configuration_is_strict_over_package_helpers_tests_and_benchmarks() -> None:
    config = mypy_config()
    assert config["strict"] is True
    assert {"fcgi_handlers", "mod_python", "tests", "benchmarks"} <= set(config["files"])


def test_mypy_strict_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True,
                          timeout=MYPY_TIMEOUT)
    report = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        pytest.fail(f"mypy --strict failed (see [tool.mypy] in pyproject.toml):\n{report}", pytrace=False)
    checked = re.search(r"no issues found in (\d+) source files", report)
    assert checked is not None, report
    assert int(checked.group(1)) == len(configured_sources()), report

"""The README's settings table is the one `fcgi_handlers.config` declares, and its first two commands exist."""
from __future__ import annotations

import os
import re
from pathlib import Path

from fcgi_handlers import config
from fcgi_handlers.dispatch.phases import placement_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_table_matches_the_declared_settings() -> None:
    text = README.read_text()
    table = re.search(r"<!-- settings-table[^>]*-->\n(.*?)\n<!-- /settings-table -->", text, re.S)
    assert table is not None
    assert table.group(1) == config.markdown_table()


def test_phase_table_matches_the_phase_data() -> None:
    table = re.search(r"<!-- phase-table[^>]*-->\n(.*?)\n<!-- /phase-table -->", README.read_text(), re.S)
    assert table is not None
    assert table.group(1) == placement_table()


def test_conformance_totals_are_the_latest_report() -> None:
    totals = re.search(r"<!-- conformance-totals[^>]*-->\n(.*?)\n<!--", README.read_text(), re.S)
    assert totals is not None
    docs = (README.parent / "docs" / "conformance.md").read_text()
    assert re.fullmatch(r"\d+ scenarios: \d+ match, \d+ intended differences, 0 mismatches", totals.group(1))
    assert totals.group(1) in docs.splitlines()


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    first_block = README.read_text().split("```")[1]
    commands = [line.split()[0] for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["scripts/demo.sh", "scripts/test.sh"]
    for command in commands:
        assert os.access(README.parent / command, os.X_OK)

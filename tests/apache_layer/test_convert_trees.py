"""`fcgi-handlers convert` on whole installations, checked against real mod_python.

Each tree of `trees.TREES` is written into a private directory with a free port, started under real mod_python
(prefork, Debian's mod_python 3.5) and asked its requests; then converted, the output copied over the tree,
checked with `apache2 -t`, started with the daemon behind it (from the written fcgi-handlers.toml), and asked
the same requests. Both answers go through the conformance comparison (status line, headers except framing,
body). Without apache2 and mod_python these tests fail when CI is set and skip with the reason otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from fcgi_handlers.apache.convert_output import ABSOLUTE_DIR, REPORT_FILE, SETTINGS_FILE
from fcgi_handlers.apache.paths import APACHE_BIN, CLEAN_PATH
from fcgi_handlers.apache.runner import (PACKAGE_ROOT, ManagedProcess, Response, free_port, make_run_dir,
                                         missing_apache, python_env, remove_run_dir)
from fcgi_handlers.cli import main as cli
from fcgi_handlers.conformance.client import Connection
from fcgi_handlers.conformance.compare import Side, differences, view

from . import trees


@pytest.fixture
def root() -> Iterator[Path]:
    missing = missing_apache("python", "mpm_prefork", "proxy_fcgi", "authnz_fcgi")
    if missing:
        reason = f"not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    # Apache's children (www-data) read the pages and handlers: a world-readable private directory.
    path = make_run_dir("convert-tree")
    yield path
    remove_run_dir(path)


def apache_env(root: Path, tree: trees.Tree) -> dict[str, str]:
    return {"PATH": CLEAN_PATH, "LANG": "C", **trees.environment(root, tree)}


def configtest(main: Path, env: Mapping[str, str]) -> None:
    result = subprocess.run([APACHE_BIN, "-t", "-f", str(main)], capture_output=True, text=True, timeout=60,
                            env=dict(env))
    assert result.returncode == 0 and "Syntax OK" in result.stderr, result.stderr


def ask(main: Path, root: Path, port: int, env: Mapping[str, str], tree: trees.Tree, name: str) -> list[Response]:
    """Start Apache on the tree, send every request on a fresh connection, stop Apache."""
    apache = ManagedProcess(f"apache ({name})", [APACHE_BIN, "-f", str(main), "-k", "start", "-DFOREGROUND"],
                            port=port, log_path=root / "log" / f"{name}.stderr", env=env, cwd=root)
    apache.start()
    try:
        return [Connection(port).send("GET", target, list(headers)) for target, headers, _ in tree.requests]
    finally:
        apache.stop()


def apply(out: Path, config_dir: Path) -> None:
    """Copy the converted files over the tree, as the report tells a user to."""
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if path.is_dir() or str(relative) in (SETTINGS_FILE, REPORT_FILE):
            continue
        parts = relative.parts
        target = Path("/", *parts[1:]) if parts[0] == ABSOLUTE_DIR else config_dir / relative
        if target.is_symlink():
            target.unlink()
        shutil.copyfile(path, target)


def error_log(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted((root / "log").glob("*")) if p.is_file())


CASES = [pytest.param(tree, False, id=tree.name) for tree in trees.TREES] + [
    # Auth guarding static files with the content route on a unix socket: mod_authnz_fcgi needs --auth-bind.
    pytest.param(trees.PUBLISHER_PSP_AUTH, True, id="publisher-psp-auth-unix-socket"),
]


@pytest.mark.parametrize("tree, unix", CASES)
def test_converted_tree_answers_as_mod_python(tree: trees.Tree, unix: bool, root: Path, tmp_path: Path) -> None:
    port, daemon_port = free_port(), free_port()
    main = trees.write(tree, root, port)
    env = apache_env(root, tree)
    configtest(main, env)
    theirs = ask(main, root, port, env, tree, "mod_python")
    assert [answer.status for answer in theirs] == [status for _, _, status in tree.requests], \
        [(answer.status, answer.body[:200]) for answer in theirs]

    out = tmp_path / "converted"
    tcp = f"127.0.0.1:{daemon_port}"
    binds = ["--bind", f"unix:{root}/run/daemon.sock", "--auth-bind", tcp] if unix else ["--bind", tcp]
    assert cli(["convert", str(main), *binds, "--out", str(out)]) == 0, (out / REPORT_FILE).read_text()
    report = (out / REPORT_FILE).read_text()
    assert "Nothing: every mod_python directive was converted." in report
    apply(out, main.parent)
    configtest(main, env)
    # Apache's children (www-data) must reach a socket the daemon creates as root; the pairing options for its
    # owner are the daemon's own concern, so the test opens it up.
    serve_extra = ["--socket-mode", "666"] if unix else []
    daemon = ManagedProcess("daemon", [sys.executable, "-m", "fcgi_handlers", "serve", "--config",
                                       str(out / SETTINGS_FILE), *serve_extra], port=daemon_port,
                            log_path=root / "log" / "daemon.log", env=python_env(), cwd=PACKAGE_ROOT)
    daemon.start()
    try:
        ours = ask(main, root, port, env, tree, "converted")
    finally:
        daemon.stop()
    side = Side(port, (str(root),))
    found = []
    for (target, _, _), mine, other in zip(tree.requests, ours, theirs):
        if target in tree.differs:
            assert mine.status == 200 and tree.differs[target] in mine.text, mine
            assert "## Answers that differ from mod_python" in report
            continue
        found += [f"{target}: {line}" for line in differences(view(other, side), view(mine, side))]
    assert not found, "\n".join(found) + "\n" + report + error_log(root)

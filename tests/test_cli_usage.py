"""Every usage mistake of every `fcgi-handlers` subcommand: one line on stderr naming the command, exit 2, no traceback.

The subcommands and their options are read from the parser itself, so a subcommand or option added later is checked
too: an option that takes a value must have a bad value in BAD below (or be listed in FREE_TEXT, saying why any text
is acceptable), or `test_every_option_has_a_bad_value_case` fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fcgi_handlers import cli, config

REPO = Path(__file__).resolve().parents[1]

# (subcommand, the option it tests (a positional by its dest), arguments, a word the error line must contain).
# None of these may start anything.
BAD: list[tuple[str, str, list[str], str]] = [
    ("serve", "--path", [], "--path"),
    ("serve", "--path", ["--path", "/nonexistent-dir"], "not a directory"),
    ("serve", "--bind", ["--bind", "nonsense"], "HOST:PORT"),
    ("serve", "--workers", ["--workers", "0"], "at least 1"),
    ("serve", "--threads", ["--threads", "many"], "--threads"),
    ("serve", "--import", ["--import", "a b c"], "MODULE"),
    ("serve", "--socket-mode", ["--socket-mode", "999"], "--socket-mode"),
    ("serve", "--socket-mode", ["--socket-mode", "7777"], "0 to 777"),
    ("serve", "--socket-owner", ["--socket-owner", "no-such-account"], "no such user"),
    ("serve", "--socket-group", ["--socket-group", "no-such-group"], "no such group"),
    ("serve", "--socket-group", ["--socket-group", "www-data"], "no unix:PATH"),
    ("serve", "--user", ["--user", "no-such-account"], "no such user"),
    ("serve", "--group", ["--group", "no-such-group"], "no such group"),
    ("serve", "--graceful-timeout", ["--graceful-timeout", "nan"], "more than 0"),
    ("serve", "--max-requests", ["--max-requests", "-1"], "0 or more"),
    ("serve", "--max-params-size", ["--max-params-size", "0"], "at least 1"),
    ("serve", "--spool-threshold", ["--spool-threshold", "lots"], "--spool-threshold"),
    ("serve", "--config", ["--config", "/nonexistent.toml"], "nonexistent.toml"),
    ("apache-config", "--bind", ["--bind", "nonsense"], "HOST:PORT"),
    ("apache-config", "--location", ["--location", "app"], "starts with '/'"),
    ("apache-config", "--handler", ["--handler", "a\nb"], "line breaks"),
    ("apache-config", "--directory", ["--directory", "var/www"], "absolute"),
    ("apache-config", "--pool-max", ["--pool-max", "0"], "at least 1"),
    ("apache-config", "--auth-bind", ["--auth-bind", "unix:/run/x.sock"], "TCP only"),
    ("apache-config", "--authen-handler", ["--authen-handler", ""], "empty"),
    ("demo", "--port", ["--port", "0"], "1 to 65535"),
    ("demo", "--daemon-port", ["--daemon-port", "http"], "1 to 65535"),
    ("demo", "--handlers", ["--handlers", "/nonexistent-dir"], "not a directory"),
    ("ping", "address", ["nonsense"], "HOST:PORT"),
    ("ping", "--timeout", ["--timeout", "-1"], "above 0"),
    ("serve", "--wsgi", ["--wsgi", "no_such_module:app"], "no module named"),
    ("serve", "--allowed-clients", ["--allowed-clients", "a/b/c"], "neither an IP address"),
    ("serve", "--allowed-clients", ["--allowed-clients", "10.0.0.0/99"], "--allowed-clients"),
    ("serve", "--fixed", ["--fixed", "PythonDebug"], "KEY=VALUE"),
    ("serve", "--fixed", ["--fixed", "NotADirective=1"], "not a directive"),
    ("serve", "--fixed", ["--fixed", "PythonDebug=Sometimes"], "--fixed"),
    ("serve", "--fixed", ["--fixed", "PythonPath=['/etc']"], "outside the configured paths"),
    ("serve", "--allow-params", ["--allow-params", "Bogus"], "not a Python* directive"),
    ("serve", "--allow-params", ["--allow-params", "PythonFoo"], "--allow-params"),
    ("serve", "--status-path", ["--status-path", "fh"], "expected a URL path starting with /"),
    ("serve", "--slowlog-timeout", ["--slowlog-timeout", "-1"], "must be 0 (off) or more"),
    ("serve", "--slowlog", ["--slowlog", "/nonexistent-dir/slow.log"], "cannot append to /nonexistent-dir/slow.log"),
    ("serve", "--slowlog", ["--slowlog", "-"], "expected a file"),
    ("serve", "--request-timeout", ["--request-timeout", "abc"], "--request-timeout"),
    ("serve", "--request-timeout", ["--request-timeout", "soon"], "expected a number of seconds"),
    ("serve", "--access-log", ["--access-log", "/nonexistent-dir/access.log"],
     "cannot append to /nonexistent-dir/access.log"),
    ("convert", "server_config", ["/nonexistent.conf"], "not a file"),
    ("convert", "--bind", [str(REPO / "pyproject.toml"), "--bind", "nonsense"], "HOST:PORT"),
    ("convert", "--auth-bind", [str(REPO / "pyproject.toml"), "--auth-bind", "unix:/run/x.sock"], "TCP only"),
    ("convert", "--out", [str(REPO / "pyproject.toml"), "--out", str(REPO)], "not an empty directory"),
    ("status", "address", ["nonsense"], "HOST:PORT"),
    ("status", "--path", ["--path", "fh"], "starts with '/'"),
    ("status", "--timeout", ["--timeout", "-1"], "above 0"),
    ("conformance", "--scenario", ["--scenario", "no-such-scenario"], "no such scenario"),
    ("conformance", "--area", ["--area", "no-such-area"], "no such area"),
]
# Options whose value is free text, and why.
FREE_TEXT = {
    ("serve", "--handler"),        # a handler spec is checked where a request names it, as Apache's SetEnv would be
    ("conformance", "--out"),      # any directory name; created when the report is written
    ("conformance", "--docs"),     # likewise
}
SERVE_DEFAULTS = ["--path", str(REPO / "examples")]
# A valid value for each required positional, so an unknown flag is what the parser reports.
POSITIONALS = {"convert": [str(REPO / "pyproject.toml")]}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    return {name: cli.subcommand(parser, name) for name in
            next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices}


def value_options(parser: argparse.ArgumentParser) -> list[str]:
    return [action.option_strings[-1] if action.option_strings else action.dest for action in parser._actions
            if action.nargs != 0 and not isinstance(action, argparse._HelpAction)]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, err


def assert_one_line(code: int, err: str, command: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fcgi-handlers {command}:"), err


@pytest.mark.parametrize("command, option, args, word", BAD, ids=[f"{c} {' '.join(a)}" for c, _, a, _ in BAD])
def test_bad_value_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], command: str, option: str,
                                          args: list[str], word: str) -> None:
    extra = SERVE_DEFAULTS if command == "serve" and args and args[0] != "--path" else []
    code, err = run(capsys, [command, *args, *extra])
    assert_one_line(code, err, command)
    assert word in err


def test_every_option_has_a_bad_value_case() -> None:
    covered = {(command, option) for command, option, _, _ in BAD}
    missing = [(name, option) for name, parser in subcommands().items() for option in value_options(parser)
               if (name, option) not in covered | FREE_TEXT]
    assert missing == [], "add a bad value to BAD (or the option to FREE_TEXT, with the reason)"


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_unknown_flag_and_missing_value_of_every_subcommand(capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, err = run(capsys, [command, *POSITIONALS.get(command, []), "--no-such-flag"])
    assert_one_line(code, err, command)
    assert "--no-such-flag" in err
    for action in subcommands()[command]._actions:
        if action.option_strings and action.nargs is None:  # one value required (nargs="?" has none to miss)
            code, err = run(capsys, [command, *POSITIONALS.get(command, []), action.option_strings[-1]])
            assert_one_line(code, err, command)
            assert "expected one argument" in err


def test_the_installed_command_prints_no_traceback() -> None:
    """The issue's example, through a real process: `apache-config --bind nonsense`."""
    result = subprocess.run([sys.executable, "-m", "fcgi_handlers", "apache-config", "--bind", "nonsense"],
                            capture_output=True, text=True, timeout=60, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "fcgi-handlers apache-config: argument --bind: expected HOST:PORT or unix:PATH, got 'nonsense' "
        "(see fcgi-handlers apache-config --help)"]


def test_good_flags_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["apache-config", "--location", "/app/", "--bind", "unix:/run/fh.sock"]) == 0
    out = capsys.readouterr().out
    assert '<Location "/app/">' in out and debug_lines(out) == []
    assert cli.main(["apache-config", "--debug"]) == 0
    assert debug_lines(capsys.readouterr().out) == ["SetEnv PythonDebug On"] * 2


def debug_lines(snippet: str) -> list[str]:
    return [line.strip() for line in snippet.splitlines() if line.strip().startswith("SetEnv PythonDebug")]


def test_a_config_files_path_is_enough_for_serve(tmp_path: Path) -> None:
    conf = tmp_path / "daemon.toml"
    conf.write_text(f'path = ["{tmp_path}"]\n')
    config.require_path(config.load(str(conf)))
    with pytest.raises(config.ConfigError, match="no --path"):
        config.require_path(config.load(None))

"""Run a corpus of scenarios against real mod_python and against the daemon, and judge each one.

One Apache per side serves every scenario, each in its own `<Location>`/`<Directory>`: a prefork Apache with
Debian's mod_python (the oracle) and an event Apache with mod_proxy_fcgi in front of the daemon, whose blocks are the
oracle's blocks translated by `mod_python_block_to_daemon`. A third Apache, event MPM with mod_python, starts only if
a scenario needs a threaded oracle (a race prefork cannot show). Both sides share the handler directory (mod_python
through a global PythonPath, the daemon through `--path`) and the document root, so file names, mtimes and ETags are
the same on both. Scenarios run one after another, each side in turn, so an error-log window belongs to one scenario.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

from fcgi_handlers.apache import Backend, UnsupportedDirective, mod_python_block_to_daemon, section
from fcgi_handlers.apache.config import STANDALONE_SERVER_NAME
from fcgi_handlers.apache.runner import (ApacheFactory, ApacheServer, ManagedProcess, free_port, make_run_dir,
                                         remove_run_dir, start_daemon, write_tree)

from .client import Connection, send_concurrently
from .compare import Side, log_messages, missing_logs
from .judge import Exchange, Result, SideRun, judge
from .scenario import Call, Scenario, fill

ONE_CHILD = ("StartServers 1", "ServerLimit 1", "ThreadsPerChild 25", "MaxRequestWorkers 25", "MinSpareThreads 1",
             "MaxSpareThreads 25")
LOG_SETTLE = 3.0   # seconds to wait for expected log lines: log and cleanup phases run after the answer is sent


class Workspace:
    """The files both sides read: handler modules, the document root, per-scenario scratch directories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.handlers = root / "handlers"
        self.docroot = root / "htdocs"
        self.state = root / "state"
        self.logs = root / "logs"
        for path in (self.handlers, self.docroot, self.state, self.logs):
            path.mkdir(mode=0o755, exist_ok=True)
            path.chmod(0o755)
        self._stamp = time.time()

    def tokens(self, scenario: Scenario) -> dict[str, str]:
        return {"mod": scenario.module, "url": scenario.url, "dir": str(self.docroot / "cf" / scenario.name),
                "state": str(self.state / scenario.name), "handlers": str(self.handlers)}

    def sources(self, scenario: Scenario) -> dict[str, str]:
        """Handler file name -> text, tokens filled."""
        tokens = self.tokens(scenario)
        files = {scenario.module + ".py": fill(scenario.source, tokens)}
        files.update({name + ".py": fill(text, tokens) for name, text in scenario.modules.items()})
        return files

    def install(self, scenario: Scenario) -> None:
        write_tree(self.handlers, {name: text.encode() for name, text in self.sources(scenario).items()})
        files = {f"cf/{scenario.name}/{rel}": fill(data.decode("latin-1"), self.tokens(scenario)).encode("latin-1")
                 for rel, data in scenario.files.items()}
        write_tree(self.docroot, files or {f"cf/{scenario.name}/.keep": b""})

    def write_handler(self, name: str, text: str, scenario: Scenario) -> None:
        """Rewrite a handler file with an mtime later than any before, as an editor saving it would."""
        path = self.handlers / name
        path.write_text(fill(text, self.tokens(scenario)))
        self._stamp += 10
        os.utime(path, (self._stamp, self._stamp))

    def reset(self, scenario: Scenario) -> None:
        """Fresh scratch directory and original handler files before a side runs (www-data writes there too)."""
        state = Path(self.tokens(scenario)["state"])
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(mode=0o777)
        state.chmod(0o777)
        if any(call.rewrite for call in scenario.calls):
            for name, text in self.sources(scenario).items():
                self.write_handler(name, text, scenario)

    def block(self, scenario: Scenario) -> str:
        """The scenario's mod_python block, as real mod_python reads it."""
        tokens = self.tokens(scenario)
        where = scenario.url if scenario.container == "Location" else tokens["dir"]
        return section(scenario.container, where, [fill(line, tokens) for line in scenario.directives])


def daemon_block(block: str, backend: Backend) -> tuple[Optional[str], Optional[str]]:
    """(translated block, None) or (None, why it cannot be translated). The oracle's ServerName goes with it, as a
    migrating user passes the virtual host's."""
    try:
        return mod_python_block_to_daemon(block, backend, server_name=STANDALONE_SERVER_NAME), None
    except (UnsupportedDirective, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def run_call(conn: Connection, scenario: Scenario, call: Call, cookies: dict[str, str]) -> Exchange:
    headers = list(call.headers)
    if call.carry_cookies and cookies:
        headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
    target = scenario.target(call)
    body = call.body_bytes()
    exchange = Exchange(call)
    try:
        if call.concurrent > 1:
            exchange.responses = send_concurrently(conn.port, call.concurrent, call.method, target, headers, body,
                                                   stagger=call.stagger)
        else:
            exchange.responses = [conn.send(call.method, target, headers, body, chunked=call.chunked)]
    except (OSError, ValueError) as exc:   # http.client's parse errors are ValueErrors (HTTPException)
        exchange.error = f"{type(exc).__name__}: {exc}"
        conn.close()
    for response in exchange.responses:
        for name, value in response.headers:
            if name.lower() == "set-cookie" and "=" in value:
                key, _, rest = value.partition("=")
                cookies[key.strip()] = rest.split(";", 1)[0]
    return exchange


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def run_side(workspace: Workspace, server: ApacheServer, side: Side, scenario: Scenario,
             own_logs: Sequence[Path] = ()) -> SideRun:
    """Send the scenario's calls to one side and collect its answers and its error-log messages (Apache's error log
    and `own_logs`: the daemon's log, where what runs after the response logs)."""
    workspace.reset(scenario)
    logs = [server.error_log_path, *own_logs]
    marks = [_size(path) for path in logs]
    run = SideRun(side)
    conn = Connection(server.port, keepalive=scenario.keepalive)
    cookies: dict[str, str] = {}
    try:
        for call in scenario.calls:
            if call.pause:
                time.sleep(call.pause)
            for name, text in call.rewrite.items():
                workspace.write_handler(name, text, scenario)
            run.exchanges.append(run_call(conn, scenario, call, cookies))
    finally:
        conn.close()
    deadline = time.monotonic() + (LOG_SETTLE if scenario.logs else 0.0)
    while True:
        run.messages = [m for path, mark in zip(logs, marks) for m in log_messages(_read_from(path, mark))]
        if not missing_logs(scenario.logs, run.messages) or time.monotonic() >= deadline:
            return run
        time.sleep(0.05)


@dataclass
class Stack:
    """The running processes of one corpus run."""

    workspace: Workspace
    oracle: ApacheServer
    daemon_apache: ApacheServer
    daemon: ManagedProcess
    backend: Backend
    threaded_oracle: Optional[ApacheServer] = None
    config_errors: dict[str, str] = field(default_factory=dict)

    def oracle_for(self, scenario: Scenario) -> ApacheServer:
        if scenario.oracle_mpm == "event" and self.threaded_oracle is not None:
            return self.threaded_oracle
        return self.oracle


def start_stack(scenarios: Sequence[Scenario], factory: ApacheFactory, workspace: Workspace) -> Stack:
    """Install every scenario, start the daemon and the Apaches; stop what started if a later start fails."""
    for scenario in scenarios:
        workspace.install(scenario)
    port = free_port()
    backend = Backend(port=port)
    oracle_blocks: dict[str, list[str]] = {"prefork": [], "event": []}
    daemon_blocks: list[str] = []
    errors: dict[str, str] = {}
    for scenario in scenarios:
        block = workspace.block(scenario)
        oracle_blocks[scenario.oracle_mpm].append(block)
        translated, error = daemon_block(block, backend)
        if translated is not None:
            daemon_blocks.append(translated)
        else:
            errors[scenario.name] = error or "untranslatable"
    python_path = [f"PythonPath \"['{workspace.handlers}'] + sys.path\""]
    # Publisher pages, PSP pages and CGI scripts are code too: the daemon runs code only from its --path.
    daemon = start_daemon(port, workspace.logs, handlers_dir=workspace.handlers,
                          extra_args=["--path", str(workspace.docroot)])
    try:
        oracle = factory.start(oracle_blocks["prefork"], name="mod_python", mpm="prefork", modules=["python"],
                               global_lines=python_path, docroot=workspace.docroot)
        threaded = None
        if oracle_blocks["event"]:
            # One child process: copies of a request sent at once then share one interpreter, as a race needs.
            threaded = factory.start(oracle_blocks["event"], name="mod_python-event", mpm="event",
                                     modules=["python"], global_lines=[*python_path, *ONE_CHILD],
                                     docroot=workspace.docroot)
        daemon_apache = factory.start(daemon_blocks, name="daemon", backend=backend, docroot=workspace.docroot)
    except BaseException:
        daemon.stop()
        raise
    return Stack(workspace, oracle, daemon_apache, daemon, backend, threaded, errors)


def run_scenario(stack: Stack, scenario: Scenario) -> Result:
    roots = (str(stack.workspace.handlers), str(stack.workspace.docroot))
    oracle = stack.oracle_for(scenario)
    theirs = run_side(stack.workspace, oracle, Side(oracle.port, roots), scenario)
    ours_side = Side(stack.daemon_apache.port, roots)
    if scenario.name in stack.config_errors:
        ours = SideRun(ours_side, config_error=stack.config_errors[scenario.name])
    else:
        ours = run_side(stack.workspace, stack.daemon_apache, ours_side, scenario, [stack.daemon.log_path])
    return judge(scenario, theirs, ours)


def run_corpus(scenarios: Sequence[Scenario], *, keep: bool = False) -> Iterator[Result]:
    """Start everything, yield each scenario's result in order, stop everything (also on an exception)."""
    workspace = Workspace(make_run_dir("conformance"))
    factory = ApacheFactory()
    stack: Optional[Stack] = None
    try:
        stack = start_stack(scenarios, factory, workspace)
        for scenario in scenarios:
            yield run_scenario(stack, scenario)
    finally:
        factory.stop_all()
        if stack is not None:
            stack.daemon.stop()
        if not keep:
            remove_run_dir(workspace.root)


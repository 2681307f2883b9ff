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
from fcgi_handlers.apache.config import STANDALONE_SERVER_NAME, AuthnMode
from fcgi_handlers.apache.runner import (ApacheFactory, ApacheServer, ManagedProcess, free_port, log_since, log_size,
                                         make_run_dir, remove_run_dir, start_daemon, write_tree)

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
        self._discarded = 0

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

    def write_handler(self, name: str, text: str, scenario: Scenario, encoding: str = "utf-8") -> None:
        """Rewrite a handler file (or, named `{dir}/...`, a file of the scenario's directory) with an mtime later
        than any before, as an editor saving it would."""
        target = fill(name, self.tokens(scenario))
        path = Path(target) if os.path.isabs(target) else self.handlers / target
        path.write_bytes(fill(text, self.tokens(scenario)).encode(encoding))
        self._stamp += 10
        os.utime(path, (self._stamp, self._stamp))

    def reset(self, scenario: Scenario) -> None:
        """Fresh scratch directory and original handler files before a side runs (www-data writes there too)."""
        state = Path(self.tokens(scenario)["state"])
        self._clear(state)
        state.mkdir(mode=0o777, exist_ok=True)
        state.chmod(0o777)
        if any(call.rewrite for call in scenario.calls):
            for name, text in self.sources(scenario).items():
                self.write_handler(name, text, scenario)
            for rel, data in scenario.files.items():
                self.write_handler("{dir}/" + rel, data.decode("latin-1"), scenario, "latin-1")

    def _clear(self, state: Path) -> None:
        """Move the old scratch directory aside in one rename, then delete it.

        The previous side's after-response work (a session saved by a cleanup) may still write into it, so deleting
        it in place can race with a new file (rmtree leaves the directory, mkdir then fails). A rename is atomic and
        leaves the name free; late writes land in the moved copy, which is deleted with whatever it holds.
        """
        self._discarded += 1
        aside = self.root / "discarded" / f"{state.name}-{self._discarded}"
        aside.parent.mkdir(exist_ok=True)
        try:
            state.rename(aside)
        except FileNotFoundError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    def block(self, scenario: Scenario) -> str:
        """The scenario's mod_python block, as real mod_python reads it (inside its own name-based virtual host
        `localhost` when it has server lines; its Apache has a default virtual host first, `DEFAULT_HOST`, as
        mod_python's test suite has other tests' hosts, and the scenario's calls name their host)."""
        tokens = self.tokens(scenario)
        where = scenario.url if scenario.container == "Location" else tokens["dir"]
        block = section(scenario.container, where, [fill(line, tokens) for line in scenario.directives])
        if not scenario.own_servers:
            return block
        inner = ["ServerName localhost", *(fill(line, tokens) for line in scenario.server), *block.splitlines()]
        return "\n".join(["<VirtualHost *:*>", *("    " + line for line in inner), "</VirtualHost>"])


def daemon_block(block: str, backend: Backend,
                 authn: AuthnMode = "check-authn") -> tuple[Optional[str], Optional[str]]:
    """(translated block, None) or (None, why it cannot be translated). The oracle's ServerName goes with it, as a
    migrating user passes the virtual host's."""
    try:
        return mod_python_block_to_daemon(block, backend, server_name=STANDALONE_SERVER_NAME, authn=authn), None
    except (UnsupportedDirective, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def run_call(conn: Connection, scenario: Scenario, call: Call, cookies: dict[str, str]) -> Exchange:
    # `{port}` in a header value is the port this side listens on (a Host header naming a virtual host).
    headers = [(name, value.replace("{port}", str(conn.port)) if isinstance(value, str) else value)
               for name, value in call.headers]
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


def run_side(workspace: Workspace, server: ApacheServer, side: Side, scenario: Scenario,
             own_logs: Sequence[Path] = ()) -> SideRun:
    """Send the scenario's calls to one side and collect its answers and its error-log messages (Apache's error log
    and `own_logs`: the daemon's log, where what runs after the response logs)."""
    workspace.reset(scenario)
    logs = [server.error_log_path, *own_logs]
    marks = [log_size(path) for path in logs]
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
        run.messages = [m for path, mark in zip(logs, marks) for m in log_messages(log_since(path, mark))]
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
        if scenario.own_servers:
            continue  # started on its own (run_own_servers)
        block = workspace.block(scenario)
        oracle_blocks[scenario.oracle_mpm].append(block)
        translated, error = daemon_block(block, backend, scenario.authn)
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


def run_scenario(stack: Stack, scenario: Scenario, factory: Optional[ApacheFactory] = None) -> Result:
    if scenario.own_servers and factory is not None:
        return run_own_servers(stack, scenario, factory)
    roots = (str(stack.workspace.handlers), str(stack.workspace.docroot))
    oracle = stack.oracle_for(scenario)
    theirs = run_side(stack.workspace, oracle, Side(oracle.port, roots), scenario)
    ours_side = Side(stack.daemon_apache.port, roots)
    if scenario.name in stack.config_errors:
        ours = SideRun(ours_side, config_error=stack.config_errors[scenario.name])
    else:
        ours = run_side(stack.workspace, stack.daemon_apache, ours_side, scenario, [stack.daemon.log_path])
    return judge(scenario, theirs, ours)


# The first virtual host of an Apache that serves a scenario with server lines: the connection's base server.
DEFAULT_HOST = "<VirtualHost *:*>\n    ServerName default.invalid\n</VirtualHost>"


def run_own_servers(stack: Stack, scenario: Scenario, factory: ApacheFactory) -> Result:
    """A scenario with its own virtual host: its own pair of Apaches (the shared daemon), stopped afterwards."""
    roots = (str(stack.workspace.handlers), str(stack.workspace.docroot))
    block = stack.workspace.block(scenario)
    tokens = stack.workspace.tokens(scenario)
    imports = [fill(spec, tokens) for spec in scenario.imports]
    python_path = [f"PythonPath \"['{stack.workspace.handlers}'] + sys.path\"", *(f"PythonImport {spec}" for spec in imports)]
    oracle = factory.start([DEFAULT_HOST, block], name=f"mod_python-{scenario.name}", mpm=scenario.oracle_mpm,
                           modules=["python"], global_lines=python_path, docroot=stack.workspace.docroot)
    try:
        theirs = run_side(stack.workspace, oracle, Side(oracle.port, roots), scenario)
    finally:
        oracle.stop()
    daemon, backend = stack.daemon, stack.backend
    if imports:
        logs = stack.workspace.logs / scenario.name
        logs.mkdir(exist_ok=True)
        backend = Backend(port=free_port())
        daemon = start_daemon(backend.port, logs, handlers_dir=stack.workspace.handlers,
                              extra_args=["--path", str(stack.workspace.docroot),
                                          *(arg for spec in imports for arg in ("--import", spec))])
    try:
        return judge(scenario, theirs, _daemon_side(stack, scenario, factory, block, backend, daemon))
    finally:
        if daemon is not stack.daemon:
            daemon.stop()


def _daemon_side(stack: Stack, scenario: Scenario, factory: ApacheFactory, block: str, backend: Backend,
                 daemon: ManagedProcess) -> SideRun:
    roots = (str(stack.workspace.handlers), str(stack.workspace.docroot))
    translated, error = daemon_block(block, backend, scenario.authn)
    if translated is None:
        return SideRun(Side(0, roots), config_error=error or "untranslatable")
    front = factory.start([DEFAULT_HOST, translated], name=f"daemon-{scenario.name}", backend=backend,
                          docroot=stack.workspace.docroot)
    try:
        return run_side(stack.workspace, front, Side(front.port, roots), scenario, [daemon.log_path])
    finally:
        front.stop()


def run_corpus(scenarios: Sequence[Scenario], *, keep: bool = False) -> Iterator[Result]:
    """Start everything, yield each scenario's result in order, stop everything (also on an exception)."""
    workspace = Workspace(make_run_dir("conformance"))
    factory = ApacheFactory()
    stack: Optional[Stack] = None
    try:
        stack = start_stack(scenarios, factory, workspace)
        for scenario in scenarios:
            yield run_scenario(stack, scenario, factory)
    finally:
        factory.stop_all()
        if stack is not None:
            stack.daemon.stop()
        if not keep:
            remove_run_dir(workspace.root)


"""Fixtures for tests that go through a real Apache.

Each test keeps its Apache snippet beside its check, in a marker:

    @pytest.mark.apache('<Location "/hello/">\n ProxyPass "@DAEMON@"\n SetEnv PythonHandler hello\n</Location>')
    def test_hello(apache): assert apache.get("/hello/").status == 200

All `apache` snippets of the session go into one event-MPM Apache; all `mod_python_apache` snippets into one prefork
Apache with mod_python loaded (mod_python and mod_wsgi cannot share a process). Tokens: `@DAEMON@`/`@DAEMON_HANDLER@`
(the daemon's worker URL and SetHandler value), `@FLUP@`/`@FLUP_HANDLER@` (flup stand-in), `@HANDLERS@`
(tests/e2e/handlers), `@DOCROOT@`, `@RUN_DIR@`. A marker may instead hold `lambda b: text`, given through
`pytest.mark.apache.with_args(...)`, rendered from `b.daemon`/`b.flup` (harness.Backends), e.g. with
`mod_python_block_to_daemon`. A test whose snippet routes to a backend gets that backend started;
`start_apache(blocks, ...)` gives a test its own Apache.
A failing test's report shows the curl commands it sent and the error log lines it caused. Without apache2 the tests
fail when CI is set and skip with the reason otherwise.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import pytest

from e2e.harness import (HANDLERS_DIR, ApacheFactory, ApacheServer, Backends, ManagedProcess, free_port, make_run_dir,
                         missing_apache, remove_run_dir, start_daemon, start_flup)
from fcgi_handlers.apache import Backend

SERVERS = pytest.StashKey[list[ApacheServer]]()
BACKENDS = pytest.StashKey[list[ManagedProcess]]()
# Files under every shared Apache's DocumentRoot: a static file, and a "script" the SetHandler form maps to.
STATIC_FILES = {"static/hello.txt": b"Hello World!", "flup-sh/script.py": b"# only its path matters\n",
                "daemon-sh/script.py": b"# only its path matters\n"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "apache(snippet): config for the shared event-MPM Apache (see tests/e2e)")
    config.addinivalue_line("markers", "mod_python_apache(snippet): config for the shared mod_python Apache")


def require_apache(*modules: str) -> None:
    """Skip (or, under CI, fail) when apache2 or one of the named modules is not installed."""
    missing = missing_apache(*modules)
    if missing:
        reason = f"not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _render(snippet: object, backends: Backends) -> str:
    """A marker argument: the snippet text, or a callable that renders it from the backends' addresses."""
    return str(snippet(backends) if callable(snippet) else snippet)


def _snippets(items: Iterable[pytest.Item], marker: str, backends: Backends) -> list[str]:
    """Every snippet the given tests declare for one shared Apache, once each, in collection order."""
    found: list[str] = []
    for item in items:
        for mark in item.iter_markers(marker):
            text = _render(mark.args[0], backends)
            if text not in found:
                found.append(text)
    return found


@pytest.fixture(scope="session")
def backend_dir() -> Iterator[Path]:
    """Where backend processes write their logs."""
    path = make_run_dir("backends")
    yield path
    remove_run_dir(path)


@pytest.fixture(scope="session")
def daemon_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def flup_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def daemon(daemon_port: int, backend_dir: Path) -> Iterator[ManagedProcess]:
    """`python -m fcgi_handlers serve` on 127.0.0.1:daemon_port, importing handlers from tests/e2e/handlers."""
    process = start_daemon(daemon_port, backend_dir)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def flup_backend(flup_port: int, backend_dir: Path) -> Iterator[ManagedProcess]:
    """flup's threaded WSGIServer running harness.standin_app: the stand-in until the daemon exists."""
    process = start_flup(flup_port, backend_dir, "standin")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def apache_factory() -> Iterator[ApacheFactory]:
    """Starts standalone Apaches (`factory.start(blocks, ...)`); stops them all at the end of the session."""
    require_apache()
    factory = ApacheFactory()
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def backends(daemon_port: int, flup_port: int) -> Backends:
    return Backends(daemon=Backend(port=daemon_port), flup=Backend(port=flup_port))


@pytest.fixture(scope="session")
def shared_apache(request: pytest.FixtureRequest, apache_factory: ApacheFactory, backends: Backends) -> ApacheServer:
    """One event-MPM Apache serving every `apache` snippet; the daemon's worker is pooled (enablereuse=on)."""
    return apache_factory.start(_snippets(request.session.items, "apache", backends), name="apache",
                                backend=backends.daemon, tokens=backends.tokens(), static_files=STATIC_FILES)


@pytest.fixture(scope="session")
def shared_mod_python_apache(request: pytest.FixtureRequest, apache_factory: ApacheFactory,
                             backends: Backends) -> ApacheServer:
    """One prefork Apache with real mod_python serving every `mod_python_apache` snippet; handlers import from
    tests/e2e/handlers."""
    require_apache("python", "mpm_prefork")
    return apache_factory.start(_snippets(request.session.items, "mod_python_apache", backends), name="mod_python",
                                mpm="prefork", modules=["python"], tokens=backends.tokens(),
                                static_files=STATIC_FILES,
                                global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\""])


def _use(request: pytest.FixtureRequest, server: ApacheServer, marker: str) -> ApacheServer:
    """Start the backends this test's snippets route to, and remember the server for the failure report."""
    backends: Backends = request.getfixturevalue("backends")
    text = "\n".join(_snippets([request.node], marker, backends))
    routes = ((backends.daemon.worker_url(), "@DAEMON", "daemon"),
              (backends.flup.worker_url(), "@FLUP", "flup_backend"))
    for url, token, fixture in routes:
        if url in text or token in text:
            request.node.stash.setdefault(BACKENDS, []).append(request.getfixturevalue(fixture))
    track(request, server)
    return server


def track(request: pytest.FixtureRequest, server: ApacheServer) -> None:
    """Mark the start of this test on `server` and add it to the test's failure report."""
    server.begin_test()
    request.node.stash.setdefault(SERVERS, []).append(server)


@pytest.fixture
def apache(request: pytest.FixtureRequest, shared_apache: ApacheServer) -> ApacheServer:
    """The shared event-MPM Apache, with this test's backends running."""
    return _use(request, shared_apache, "apache")


@pytest.fixture
def mod_python_apache(request: pytest.FixtureRequest, shared_mod_python_apache: ApacheServer) -> ApacheServer:
    """The shared mod_python Apache (prefork, real mod_python 3.5)."""
    return _use(request, shared_mod_python_apache, "mod_python_apache")


@pytest.fixture
def start_apache(request: pytest.FixtureRequest,
                 apache_factory: ApacheFactory) -> Iterator[Callable[..., ApacheServer]]:
    """`start_apache(blocks, **kw)`: a private Apache for one test (ApacheFactory.start), in its failure report and
    stopped when the test ends."""
    started: list[ApacheServer] = []

    def start(blocks: Sequence[str], **kwargs: Any) -> ApacheServer:
        server = apache_factory.start(blocks, **kwargs)
        started.append(server)
        track(request, server)
        return server
    yield start
    for server in started:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, add each Apache's curl commands and new error log lines, and each backend's log tail."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for server in item.stash.get(SERVERS, []):
        report.sections.append((f"{server.name}: reproduce and error log", server.failure_report()))
    for backend in item.stash.get(BACKENDS, []):
        report.sections.append((f"{backend.name}: log tail", backend.log_tail()))

"""The pytest plugin (entry point `pytest11`, loaded once fcgi-handlers is installed): fixtures for testing
mod_python handlers with the user's own configuration.

    [pytest]                                   # pytest.ini (or [tool.pytest.ini_options] in pyproject.toml)
    fh_handler_dir = handlers                  # the directory the handler modules are in
    fh_config = mod_python.conf                # the mod_python <Location>/<Directory> sections, as in httpd.conf

- `mp_client`: an in-process `fcgi_handlers.testing.Client` (the daemon's dispatcher, no Apache, no sockets), fresh
  per test; `mp_client.get("/app/x?a=1")`, `.post(data=..., files=...)`, cookies kept within the test.
- `httpd`: a real Apache and the daemon on free loopback ports, one per session, serving the same configuration;
  `httpd.url(path)`, `httpd.get(path)`, `httpd.error_log`, `httpd.daemon_log`. When a test fails, its requests (as
  curl commands), the last response and the log lines written during the test are added to its report. Without
  Apache it skips with the apt command that installs it, and fails instead when CI=true.
- `--fh-against=mod_python`: both fixtures go to real mod_python loaded into Apache instead, so the same suite shows
  where the daemon and mod_python differ before a migration.

The fixtures `fh_handler_dir` and `fh_config` may be overridden in a conftest.py instead of the ini settings
(`fh_config` may return the configuration text itself). The heavy imports happen when a fixture is first used, so
the plugin costs nothing in a session that does not use it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NoReturn, Union

import pytest

if TYPE_CHECKING:
    from .client import Client
    from .server import HttpClient, HttpdServer

AGAINST = ("daemon", "mod_python")
USED = pytest.StashKey[list[Union["Client", "HttpClient", "HttpdServer"]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fcgi_handlers", "fcgi-handlers: testing mod_python handlers")
    group.addoption("--fh-against", choices=AGAINST, default="daemon", dest="fh_against",
                    help="run mp_client and httpd against the daemon (default) or real mod_python in Apache")
    parser.addini("fh_handler_dir", "directory of the mod_python handler modules (relative to the ini file)")
    parser.addini("fh_config", "file with the mod_python <Location>/<Directory> sections (relative to the ini file)")


def _ini_path(config: pytest.Config, name: str) -> Path:
    value = config.getini(name)
    if not value:
        raise pytest.UsageError(f"fcgi_handlers: set {name} in the pytest ini file, or override the {name} fixture "
                                "in conftest.py")
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / str(value)).resolve()


@pytest.fixture(scope="session")
def fh_handler_dir(pytestconfig: pytest.Config) -> Path:
    """The handler directory (ini `fh_handler_dir`)."""
    return _ini_path(pytestconfig, "fh_handler_dir")


@pytest.fixture(scope="session")
def fh_config(pytestconfig: pytest.Config) -> Union[str, Path]:
    """The mod_python configuration: a file (ini `fh_config`), or its text when overridden."""
    return _ini_path(pytestconfig, "fh_config")


@pytest.fixture(scope="session")
def fh_against(pytestconfig: pytest.Config) -> str:
    """"daemon" or "mod_python" (`--fh-against`)."""
    return str(pytestconfig.getoption("fh_against"))


def _unavailable(reason: str) -> NoReturn:
    """Apache cannot run: a skip would hide that under CI, so fail there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"fcgi_handlers httpd: {reason}", pytrace=False)
    pytest.skip(f"fcgi_handlers httpd: {reason}")


@pytest.fixture(scope="session")
def fh_httpd_server(fh_handler_dir: Path, fh_config: Union[str, Path], fh_against: str) -> Iterator[HttpdServer]:
    """The session's Apache (+ daemon); started on first use, stopped at the end of the session."""
    from fcgi_handlers.apache.runner import HttpdError

    from .blocks import ConfigError
    from .server import Against, HttpdServer, missing

    against: Against = "mod_python" if fh_against == "mod_python" else "daemon"
    reason = missing(against)
    if reason:
        _unavailable(reason)
    try:
        server = HttpdServer(fh_handler_dir, fh_config, against=against).start()
    except ConfigError as exc:
        pytest.fail(f"fcgi_handlers: {exc}", pytrace=False)
    except HttpdError as exc:
        pytest.fail(f"fcgi_handlers httpd could not start:\n{exc}", pytrace=False)
    yield server
    server.stop()


def _track(request: pytest.FixtureRequest, used: Union[Client, HttpClient, HttpdServer]) -> None:
    request.node.stash.setdefault(USED, []).append(used)


@pytest.fixture
def httpd(request: pytest.FixtureRequest, fh_httpd_server: HttpdServer) -> HttpdServer:
    """The session's real Apache, marked for this test's failure report."""
    fh_httpd_server.begin_test()
    _track(request, fh_httpd_server)
    return fh_httpd_server


@pytest.fixture
def mp_client(request: pytest.FixtureRequest, fh_handler_dir: Path, fh_config: Union[str, Path],
              fh_against: str) -> Iterator[Union[Client, HttpClient]]:
    """In process through the daemon's dispatcher; with --fh-against=mod_python, HTTP to real mod_python."""
    if fh_against == "mod_python":
        server: HttpdServer = request.getfixturevalue("fh_httpd_server")
        server.begin_test()
        _track(request, server)
        remote = server.client()
        _track(request, remote)
        yield remote
        return
    from .blocks import ConfigError
    from .client import Client

    try:
        client = Client(fh_handler_dir, block=fh_config)
    except (ConfigError, ValueError) as exc:
        pytest.fail(f"fcgi_handlers: {exc}", pytrace=False)
    _track(request, client)
    try:
        yield client
    finally:
        client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test's report gets its last response and, for Apache, its requests and the new log lines."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for used in item.stash.get(USED, []):
        if hasattr(used, "failure_report"):
            report.sections.extend(used.failure_report())
        elif used.responses:
            report.sections.append(("fcgi_handlers: last response", str(used.responses[-1])))

"""Processes for end-to-end tests: a standalone Apache, the daemon and a flup stand-in, all on 127.0.0.1.

The process and Apache runner lives in `fcgi_handlers.apache.runner` (shared with `fcgi-handlers demo`, the conformance
report and the benchmark); this module re-exports its names for the tests and adds what only tests need: the
handlers directory under tests/e2e, the backends a snippet can route to, and flup's WSGI stand-in.
Run `python harness.py flup HOST:PORT [hello|standin]` to serve a WSGI app with flup's threaded FastCGI server.
"""
from __future__ import annotations

import atexit
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

from fcgi_handlers.apache import Backend, runner
from fcgi_handlers.apache.paths import APACHE_BIN, CLEAN_PATH, MODULES_DIR  # noqa: F401
from fcgi_handlers.apache.runner import (REQUEST_TIMEOUT, START_TIMEOUT, STOP_TIMEOUT, TOKEN,  # noqa: F401
                                         ApacheFactory, ApacheServer, HttpdError, ManagedProcess, Response,
                                         apache_user, curl_command, free_port, http_request, make_run_dir,
                                         missing_apache, python_env, remove_run_dir, substitute)

REPO = Path(__file__).resolve().parents[2]


def _handlers_dir(source: Path) -> Path:
    """tests/e2e/handlers, or a world-readable copy of it when the checkout is not readable by www-data (a CI clone
    under a 0700 directory): real mod_python imports the handlers inside Apache's children."""
    if runner.readable_by_apache(source):
        return source
    copy = make_run_dir("e2e-handlers") / "handlers"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for item in (copy, *copy.rglob("*")):
        item.chmod(0o755 if item.is_dir() else 0o644)
    atexit.register(remove_run_dir, copy.parent)
    return copy


HANDLERS_DIR = _handlers_dir(Path(__file__).resolve().parent / "handlers")
HELLO = b"Hello World!"

StartResponse = Callable[[str, list[tuple[str, str]]], object]


@dataclass(frozen=True)
class Backends:
    """The backends a test snippet can route to; a marker may hold `lambda b: ...` to render with them."""

    daemon: Backend
    flup: Backend

    def tokens(self) -> dict[str, str]:
        return {"DAEMON": self.daemon.worker_url(), "DAEMON_HANDLER": self.daemon.handler_name(),
                "FLUP": self.flup.worker_url(), "FLUP_HANDLER": self.flup.handler_name(),
                "HANDLERS": str(HANDLERS_DIR)}


def start_daemon(port: int, log_dir: Path, *, handlers_dir: Path = HANDLERS_DIR,
                 extra_args: Iterable[str] = (), python: Optional[str] = None) -> ManagedProcess:
    """Start `python -m fcgi_handlers serve` on 127.0.0.1:`port` with `handlers_dir` (default tests/e2e/handlers)
    on its import path; `python` is the interpreter (default: this one)."""
    return runner.start_daemon(port, log_dir, handlers_dir=handlers_dir, extra_args=extra_args, python=python)


def start_flup(port: int, log_dir: Path, app: str = "standin", python: Optional[str] = None) -> ManagedProcess:
    """Start flup's threaded WSGIServer on 127.0.0.1:`port` serving `hello` or `standin` (see `main`); `python` is
    the interpreter (default: this one; it must be able to import flup)."""
    argv = [python or sys.executable, str(Path(__file__).resolve()), "flup", f"127.0.0.1:{port}", app]
    flup = ManagedProcess(f"flup ({app})", argv, port=port, log_path=log_dir / f"flup-{app}.log",
                          env=python_env(), cwd=REPO)
    flup.start()
    return flup


def hello_app(environ: Mapping[str, object], start_response: StartResponse) -> list[bytes]:
    """The WSGI twin of the seed handler: 200 text/plain "Hello World!"."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(HELLO)))])
    return [HELLO]


def echo_app(environ: Mapping[str, object], start_response: StartResponse) -> list[bytes]:
    """Answers with the string-valued environ as JSON: the FastCGI params Apache sent, as flup decoded them."""
    params = {key: value for key, value in environ.items() if isinstance(value, str)}
    body = json.dumps(params, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def standin_app(environ: Mapping[str, object], start_response: StartResponse) -> list[bytes]:
    """Dispatch on the raw path (flup's PATH_INFO is unreliable behind ProxyPass, reference/apache-fastcgi.md §0):
    `.../hello` -> hello_app, `.../stderr` -> a marker line on FCGI_STDERR then echo, anything else -> echo_app."""
    path = str(environ.get("REQUEST_URI", "")).split("?", 1)[0]
    if path.endswith("/hello"):
        return hello_app(environ, start_response)
    if path.endswith("/stderr"):
        errors = environ["wsgi.errors"]
        errors.write(f"standin-stderr {environ.get('QUERY_STRING', '')}\n")  # type: ignore[attr-defined]
        errors.flush()  # type: ignore[attr-defined]
    return echo_app(environ, start_response)


def main(argv: Sequence[str]) -> int:
    """`flup HOST:PORT [hello|standin]`: serve with flup.server.fcgi.WSGIServer (threaded, flup's defaults)."""
    apps = {"hello": hello_app, "standin": standin_app}
    if len(argv) < 2 or argv[0] != "flup" or (len(argv) > 2 and argv[2] not in apps):
        print("usage: harness.py flup HOST:PORT [hello|standin]", file=sys.stderr)
        return 2
    from flup.server.fcgi import WSGIServer  # type: ignore[import-untyped]

    host, _, port = argv[1].rpartition(":")
    app = apps[argv[2] if len(argv) > 2 else "standin"]
    WSGIServer(app, bindAddress=(host, int(port))).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

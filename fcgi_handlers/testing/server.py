"""`HttpdServer`: a real Apache on a free loopback port serving the user's mod_python configuration, either through
the daemon (the configuration converted by the project's translator, the daemon on another free port) or through
real mod_python loaded into Apache (`against="mod_python"`, the reference a suite can be diffed against).

Rule: nothing here is shared with another run: ports are free ports, run directories are fresh temporary
directories (world-readable, because Apache's children run as www-data when started as root), every process is
started here and stopped by its PID (`fcgi_handlers.apache.runner`). `HttpClient` speaks HTTP to it with the same
interface and response type as the in-process `Client`, keeping cookies between calls; each response carries the
error log lines (Apache's and the daemon's) written while it was served.
"""
from __future__ import annotations

import http.client
import shutil
import time
from pathlib import Path
from typing import Literal, Optional, Union

from fcgi_handlers.apache import Backend, mod_python_block_to_daemon, split_arguments
from fcgi_handlers.apache.runner import (REQUEST_TIMEOUT, ApacheFactory, ApacheServer, ManagedProcess, curl_command,
                                         free_port, log_since, log_size, make_run_dir, missing_apache,
                                         readable_by_apache, remove_run_dir, start_daemon)

from .blocks import ConfigError, read_config, split_sections
from .response import (CookieJar, Data, FileSpec, HeaderInput, Headers, RequestMethods, Response, encode_body,
                       header_pairs)

Against = Literal["daemon", "mod_python"]
# What each side needs installed, and the Debian command that installs it.
MODULES: dict[str, tuple[str, ...]] = {"daemon": ("proxy_fcgi",), "mod_python": ("python", "mpm_prefork")}
APT_COMMAND: dict[str, str] = {"daemon": "sudo apt-get install -y apache2",
                               "mod_python": "sudo apt-get install -y apache2 libapache2-mod-python"}
LOG_SETTLE = 0.05   # seconds for Apache to flush an error log line written while the response went out


def missing(against: Against) -> Optional[str]:
    """Why Apache cannot run for `against` here (with the install command), or None."""
    absent = missing_apache(*MODULES[against])
    if not absent:
        return None
    return f"not installed: {', '.join(absent)}; install with: {APT_COMMAND[against]}"


class HttpdServer:
    """Apache (+ the daemon) serving `config` with handlers from `handler_dir`; `start()`, then `url(path)`."""

    def __init__(self, handler_dir: Union[str, Path], config: Union[str, Path], *, against: Against = "daemon",
                 docroot: Union[str, Path, None] = None) -> None:
        self.handler_dir = Path(handler_dir).resolve()
        self.sections = split_sections(read_config(config))
        self.against = against
        self.docroot = Path(docroot).resolve() if docroot else None
        self.apache: Optional[ApacheServer] = None
        self.daemon: Optional[ManagedProcess] = None
        self._factory = ApacheFactory()
        self._run_dir: Optional[Path] = None
        self._marks = (0, 0)
        self.history: list[str] = []
        self._client: Optional[HttpClient] = None

    def start(self) -> HttpdServer:
        self._run_dir = make_run_dir(f"testing-{self.against}")
        try:
            if self.against == "mod_python":
                self._start_mod_python()
            else:
                self._start_daemon_side()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_daemon_side(self) -> None:
        assert self._run_dir is not None
        port = free_port()
        self.daemon = start_daemon(port, self._run_dir, handlers_dir=self.handler_dir)
        backend = Backend(port=port)
        blocks = [mod_python_block_to_daemon(section, backend) for section in self.sections]
        self.apache = self._factory.start(blocks, name="httpd", backend=backend, docroot=self.docroot)

    def _start_mod_python(self) -> None:
        assert self._run_dir is not None
        for section in self.sections:
            words = split_arguments(section.strip().splitlines()[0].strip()[1:-1])
            if words[0].lower() == "directory" and len(words) == 2 and Path(words[1]).is_dir() \
                    and not readable_by_apache(Path(words[1])):
                raise ConfigError(f"<Directory {words[1]}>: Apache's children (www-data) cannot read it; mod_python "
                                  "runs inside them, so make it world-readable (o+rx) to test it with mod_python")
        handlers = self.handler_dir
        if not readable_by_apache(handlers):
            # mod_python imports inside Apache's children (www-data): give them a readable copy.
            handlers = self._run_dir / "handlers"
            shutil.copytree(self.handler_dir, handlers, ignore=shutil.ignore_patterns("__pycache__"))
            for item in (handlers, *handlers.rglob("*")):
                item.chmod(0o755 if item.is_dir() else 0o644)
        self.apache = self._factory.start(self.sections, name="httpd-mod_python", mpm="prefork", modules=["python"],
                                          global_lines=[f"PythonPath \"['{handlers}'] + sys.path\""],
                                          docroot=self.docroot)

    def stop(self) -> None:
        self._factory.stop_all()
        if self.daemon is not None:
            self.daemon.stop()
        if self._run_dir is not None:
            remove_run_dir(self._run_dir)

    # --- what a test reads ------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.apache is not None, "start() first"
        return self.apache.port

    def url(self, path: str = "/") -> str:
        """`http://127.0.0.1:PORT/path` for any HTTP client."""
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def error_log_path(self) -> Optional[Path]:
        return self.apache.error_log_path if self.apache is not None else None

    @property
    def daemon_log_path(self) -> Optional[Path]:
        return self.daemon.log_path if self.daemon is not None else None

    @property
    def error_log(self) -> str:
        """Apache's error log (mod_proxy_fcgi writes the daemon's FCGI_STDERR lines here)."""
        return log_since(self.error_log_path, 0)

    @property
    def daemon_log(self) -> str:
        """The daemon's own log (what runs after the response logs here too); "" against mod_python."""
        return log_since(self.daemon_log_path, 0)

    def marks(self) -> tuple[int, int]:
        return (log_size(self.error_log_path) if self.error_log_path else 0,
                log_size(self.daemon_log_path) if self.daemon_log_path else 0)

    def logs_since(self, marks: tuple[int, int]) -> tuple[str, str]:
        return log_since(self.error_log_path, marks[0]), log_since(self.daemon_log_path, marks[1])

    def begin_test(self) -> None:
        """Forget the previous test's requests and cookies; mark the logs, for this test's failure report."""
        self.history = []
        self._client = None
        self._marks = self.marks()

    def get(self, url: str, *, headers: HeaderInput = None) -> Response:
        """A request through this test's client (cookies kept until the next test)."""
        return self.client_for_test().get(url, headers=headers)

    def post(self, url: str, *, data: Data = None, files: Optional[dict[str, FileSpec]] = None,
             headers: HeaderInput = None) -> Response:
        return self.client_for_test().post(url, data=data, files=files, headers=headers)

    def request(self, method: str, url: str, **kwargs: object) -> Response:
        return self.client_for_test().request(method, url, **kwargs)  # type: ignore[arg-type]

    def client_for_test(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(self)
        return self._client

    def failure_report(self) -> list[tuple[str, str]]:
        """(title, text) sections for a failing test: the requests as curl commands and the logs since it began."""
        error_log, daemon_log = self.logs_since(self._marks)
        sections = [("fcgi_handlers httpd: requests (curl)", "\n".join(self.history) or "(none)")]
        if self._client is not None and self._client.responses:
            sections.append(("fcgi_handlers httpd: last response", str(self._client.responses[-1])))
        sections.append((f"fcgi_handlers httpd: Apache error log ({self.against})", error_log.rstrip() or "(empty)"))
        if self.daemon is not None:
            sections.append(("fcgi_handlers httpd: daemon log", daemon_log.rstrip() or "(empty)"))
        return sections

    def client(self) -> HttpClient:
        """A client with its own cookie jar."""
        return HttpClient(self)


class HttpClient(RequestMethods):
    """HTTP to an `HttpdServer`, with the in-process `Client`'s interface; cookies kept between calls."""

    def __init__(self, server: HttpdServer) -> None:
        self.server = server
        self.cookies = CookieJar()
        self.responses: list[Response] = []

    def request(self, method: str, url: str, *, data: Data = None, files: Optional[dict[str, FileSpec]] = None,
                headers: HeaderInput = None) -> Response:
        body, content_type = encode_body(data, files)
        sent = dict(header_pairs(headers))
        if content_type and not any(k.lower() == "content-type" for k in sent):
            sent["Content-Type"] = content_type
        cookie = self.cookies.header()
        if cookie:
            sent["Cookie"] = cookie
        self.server.history.append(curl_command(self.server.url(url), method, sent, body or None))
        marks = self.server.marks()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, url, body=body if body or method in ("POST", "PUT") else None, headers=sent)
            answer = conn.getresponse()
            content = answer.read()
            status, reason, pairs = answer.status, answer.reason, answer.getheaders()
        finally:
            conn.close()
        time.sleep(LOG_SETTLE)
        error_log, daemon_log = self.server.logs_since(marks)
        response = Response(status, reason, Headers(pairs), content,
                            [*error_log.splitlines(), *daemon_log.splitlines()],
                            f"{method} {url} ({self.server.against} behind Apache)")
        self.cookies.update(response.headers.get_all("Set-Cookie"))
        self.responses.append(response)
        return response

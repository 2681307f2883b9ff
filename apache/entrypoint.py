"""The Apache container's entrypoint: render httpd.conf with fcgi_handlers.apache, run Apache, follow the daemons.

Compose gives every replica of the `handlers` service one DNS name with one A record each, but mod_proxy resolves a
BalancerMember's host once per worker, so a member named `handlers` would pin one replica. This process therefore
resolves the name itself, renders one `BalancerMember` per address, and resolves again every few seconds; when the set
of addresses changes (scale up or down, a replaced container) it rewrites the config, checks it with `apache2 -t` and
gracefully restarts Apache, which keeps its listening socket and lets its children finish their requests. Between a
replica's stop and the next resolution the balancer keeps requests off it: a refused or timed-out connect puts the
member in error state for `retry` seconds and the request is retried on another member, and mod_proxy_hcheck's TCP
check takes a silent member out before a request has to find out.

The location blocks are the demo's (`fcgi_handlers.apache.demo.demo_blocks`), so the compose stack serves what `fcgi-handlers
demo` serves, plus `/whoami` (which daemon answered) and `/server-status` (loopback only, for the healthcheck).

    entrypoint.py run            render, start Apache in the foreground, follow the daemons (the image's command)
    entrypoint.py render [ADDR]  print the config for these daemon addresses (default: resolve now)
    entrypoint.py healthcheck    exit 0 when Apache answers /server-status on loopback
"""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from fcgi_handlers.apache import Backend, httpd_conf, quote, section
from fcgi_handlers.apache.demo import demo_blocks
from fcgi_handlers.apache.paths import APACHE_BIN

BALANCER = "balancer://fcgi-handlers"
# Modules beyond fcgi_handlers.apache.BASE_MODULES: TCP health checks of the members, /server-status for the
# healthcheck.
# mod_watchdog, which mod_proxy_hcheck needs, is compiled into Debian's apache2.
EXTRA_MODULES = ("proxy_hcheck", "status")
# In-flight requests get this long on a graceful stop (docker stop); compose's stop_grace_period must exceed it.
GRACEFUL_SHUTDOWN_TIMEOUT = 10


@dataclass(frozen=True)
class Settings:
    """The container's configuration, from its environment (names and defaults in `from_environ`)."""

    service: str = "handlers"
    daemon_port: int = 9000
    listen_port: int = 80
    resolve_interval: float = 2.0
    retry: int = 2
    connect_timeout_ms: int = 1000
    hc_interval: int = 2
    pool_max: int = 25
    session_dir: Optional[str] = None
    session_type: Optional[str] = None
    log_level: str = "warn"
    run_dir: str = "/run/fcgi-handlers-apache"
    docroot: str = "/var/www/fcgi-handlers"
    handlers_dir: str = "/srv/handlers"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        def number(name: str, default: float) -> float:
            raw = environ.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise SystemExit(f"entrypoint: {name}={raw!r} is not a number") from None
            if value <= 0:
                raise SystemExit(f"entrypoint: {name} must be more than 0")
            return value

        return cls(
            service=environ.get("FCGI_HANDLERS_SERVICE") or cls.service,
            daemon_port=int(number("FCGI_HANDLERS_PORT", cls.daemon_port)),
            listen_port=int(number("APACHE_LISTEN_PORT", cls.listen_port)),
            resolve_interval=number("FCGI_HANDLERS_RESOLVE_INTERVAL", cls.resolve_interval),
            retry=int(number("FCGI_HANDLERS_RETRY", cls.retry)),
            pool_max=int(number("FCGI_HANDLERS_POOL_MAX", cls.pool_max)),
            session_dir=environ.get("FCGI_HANDLERS_SESSION_DIR") or None,
            session_type=environ.get("FCGI_HANDLERS_SESSION_TYPE") or None,
            log_level=environ.get("APACHE_LOG_LEVEL") or cls.log_level,
            handlers_dir=environ.get("FCGI_HANDLERS_PATH") or cls.handlers_dir,
        )

    @property
    def conf_path(self) -> Path:
        return Path(self.run_dir) / "httpd.conf"


def resolve(name: str, port: int) -> list[str]:
    """Every address `name` resolves to, sorted so that an unchanged set renders an unchanged config."""
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]) for info in infos})


def balancer_block(addresses: Sequence[str], settings: Settings) -> str:
    """The `<Proxy balancer://...>` section with one pooled, health-checked member per daemon address.

    With no address (the service does not resolve yet) the service name itself is the one member, which mod_proxy
    resolves on use; the next resolution that finds addresses replaces it.
    """
    hosts = list(addresses) or [settings.service]
    params = " ".join([
        "enablereuse=on", f"max={settings.pool_max}",
        # A stopped container's address stops answering at all (no RST): bound the connect, then fail over.
        f"connectiontimeout={settings.connect_timeout_ms}ms",
        # A member whose connect failed rests this long, then gets one request again.
        f"retry={settings.retry}",
        # mod_proxy_hcheck's other methods speak HTTP, not FastCGI; TCP sees a daemon that stopped listening.
        f"hcmethod=TCP hcinterval={settings.hc_interval} hcfails=1 hcpasses=1",
    ])
    urls = [Backend(host=host, port=settings.daemon_port).worker_url().rstrip("/") for host in hosts]
    members = [f"BalancerMember {quote(url)} {params}" for url in urls]
    return section("Proxy", BALANCER, [*members, "ProxySet lbmethod=byrequests"])


def site_blocks(settings: Settings) -> list[str]:
    """The demo's location blocks routed to the balancer, plus /whoami and the loopback-only /server-status."""
    route = f"ProxyPass {quote(BALANCER + '/')}"
    blocks = demo_blocks(BALANCER + "/", settings.handlers_dir)
    blocks.append(section("Location", "/whoami", [route, 'SetEnv PythonHandler "whoami"']))
    blocks.append(section("Location", "/server-status", ["SetHandler server-status", "Require local"]))
    return blocks


def render(settings: Settings, addresses: Sequence[str]) -> str:
    """The complete httpd.conf: fcgi_handlers.apache.httpd_conf, listening on every interface of the container."""
    global_lines = [
        f"GracefulShutdownTimeout {GRACEFUL_SHUTDOWN_TIMEOUT}",
        balancer_block(addresses, settings),
    ]
    global_lines += session_lines(settings)
    conf = httpd_conf(port=settings.listen_port, run_dir=settings.run_dir, docroot=settings.docroot,
                      blocks=site_blocks(settings), modules=EXTRA_MODULES, global_lines=global_lines,
                      user="www-data", group="www-data", log_level=settings.log_level,
                      listen_host=None)  # published ports reach the container's own interface
    return conf


def session_lines(settings: Settings) -> list[str]:
    """The PythonOptions that make every replica see the same sessions.

    Sessions must outlive the daemon that created them. With FCGI_HANDLERS_SESSION_TYPE (RedisSession across hosts)
    Apache names the class and the daemons know where its store is (their own environment: the address and
    password stay out of Apache's config); otherwise FileSession on the volume every replica mounts.
    """
    lines = []
    if settings.session_type:
        lines.append(f"SetEnv PythonOption.mod_python.session.session_type {quote(settings.session_type)}")
    if settings.session_dir:
        if not settings.session_type:
            lines += [
                'SetEnv PythonOption.mod_python.session.session_type "FileSession"',
                f"SetEnv PythonOption.mod_python.file_session.database_directory {quote(settings.session_dir)}",
            ]
        # The guestbook example keeps its entries beside the sessions, so every replica shows the same book.
        book = settings.session_dir.rstrip("/") + "/guestbook"
        lines.append(f"SetEnv PythonOption.guestbook.data_dir {quote(book)}")
    return lines


def prepare_run_dir(settings: Settings) -> None:
    """The run directory Apache's state lives in, with its logs linked to the container's stdout and stderr."""
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)
    Path(settings.docroot).mkdir(parents=True, exist_ok=True)  # empty: nothing is served as a static file
    for name, target in (("error.log", "/proc/self/fd/2"), ("access.log", "/proc/self/fd/1")):
        link = run_dir / name
        if not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(target)


def write_checked(settings: Settings, conf: str) -> bool:
    """Write `conf` in place of the running config only if `apache2 -t` accepts it; a rejected config is reported."""
    candidate = settings.conf_path.with_suffix(".new")
    candidate.write_text(conf)
    check = subprocess.run([APACHE_BIN, "-t", "-f", str(candidate)], capture_output=True, text=True,
                           timeout=30, check=False)
    if check.returncode != 0:
        log(f"apache2 -t rejected the new config, keeping the running one: {check.stderr.strip()}")
        return False
    os.replace(candidate, settings.conf_path)
    return True


def log(message: str) -> None:
    print(f"entrypoint: {message}", file=sys.stderr, flush=True)


class Supervisor:
    """Apache's parent: forwards signals, reaps children, re-renders the config when the daemons' addresses change.

    Signals only wake the loop (through the wakeup fd); the loop acts on them, so nothing runs inside a handler.
    SIGTERM (docker stop) becomes Apache's graceful stop, SIGINT its immediate stop, SIGHUP/SIGUSR1 a re-render and
    graceful restart.
    """

    HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.addresses: list[str] = []
        self.httpd_pid: Optional[int] = None
        self.exit_status: Optional[int] = None
        self.stopping = False

    def run(self) -> int:
        prepare_run_dir(self.settings)
        self.addresses = resolve(self.settings.service, self.settings.daemon_port)
        self.settings.conf_path.write_text(render(self.settings, self.addresses))
        log(f"daemons of {self.settings.service!r}: {', '.join(self.addresses) or 'not resolvable yet'}")
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in self.HANDLED:
            signal.signal(signum, lambda *_: None)
        self.httpd_pid = os.posix_spawn(APACHE_BIN, [APACHE_BIN, "-f", str(self.settings.conf_path),
                                                        "-DFOREGROUND"], dict(os.environ))
        next_resolve = time.monotonic() + self.settings.resolve_interval
        while self.exit_status is None:
            timeout = max(0.0, next_resolve - time.monotonic())
            if select.select([wake_r], [], [], timeout)[0]:
                for number in os.read(wake_r, 64):
                    self.on_signal(number)
            self.reap()
            if time.monotonic() >= next_resolve:
                if not self.stopping:
                    self.follow_daemons()
                next_resolve = time.monotonic() + self.settings.resolve_interval
        return self.exit_status

    def on_signal(self, signum: int) -> None:
        if signum == signal.SIGTERM:
            self.stopping = True
            self.signal_httpd(signal.SIGWINCH)      # Apache's graceful-stop
        elif signum == signal.SIGINT:
            self.stopping = True
            self.signal_httpd(signal.SIGTERM)
        elif signum in (signal.SIGHUP, signal.SIGUSR1) and not self.stopping:
            self.follow_daemons(force=True)

    def signal_httpd(self, signum: int) -> None:
        if self.httpd_pid is not None:
            try:
                os.kill(self.httpd_pid, signum)
            except ProcessLookupError:
                pass

    def reap(self) -> None:
        """Collect every exited child (PID 1 inherits orphans); Apache's exit ends this process with its status."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.httpd_pid:
                self.exit_status = os.waitstatus_to_exitcode(status)
                if self.exit_status < 0:
                    self.exit_status = 128 - self.exit_status
                log(f"apache2 exited with status {self.exit_status}")

    def follow_daemons(self, force: bool = False) -> None:
        """Resolve the service again; on a changed address set, re-render and gracefully restart Apache."""
        found = resolve(self.settings.service, self.settings.daemon_port)
        if not found and self.addresses:
            # Every replica gone at once, or the DNS hiccuped: keep the members; hcheck marks them down meanwhile.
            return
        if found == self.addresses and not force:
            return
        if write_checked(self.settings, render(self.settings, found)):
            log(f"daemons of {self.settings.service!r}: {', '.join(found) or 'none'}; graceful restart")
            self.addresses = found
            self.signal_httpd(signal.SIGUSR1)


def healthcheck(settings: Settings, timeout: float = 5.0) -> int:
    """0 when Apache serves /server-status on loopback (the daemons' health is their own containers' check)."""
    url = f"http://127.0.0.1:{settings.listen_port}/server-status?auto"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str]) -> int:
    settings = Settings.from_environ(os.environ)
    command = argv[0] if argv else "run"
    if command == "run":
        return Supervisor(settings).run()
    if command == "render":
        addresses = list(argv[1:]) or resolve(settings.service, settings.daemon_port)
        sys.stdout.write(render(settings, addresses))
        return 0
    if command == "healthcheck":
        return healthcheck(settings)
    print(f"usage: {Path(sys.argv[0]).name} [run | render [ADDR...] | healthcheck]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

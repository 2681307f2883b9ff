"""`fcgi-handlers demo`: the daemon behind a private Apache on 127.0.0.1, serving the example handlers.

It generates an httpd.conf (loopback only, state in a temporary directory), starts the daemon and Apache, prints the
URLs, and on Ctrl-C (or SIGTERM) stops Apache, then the daemon, each by the PID this command started.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from ..client import get_values
from .config import Backend, httpd_conf, quote, section
from .paths import find_httpd
from .runner import ApacheServer, HttpdError, apache_user, port_answers, readable_by_apache

# URL → (PythonHandler, extra SetEnv lines) for the bundled examples.
EXAMPLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/hello", "hello", ()),
    ("/showreq", "showreq", ("SetEnv PythonOption.greeting \"hi from Apache's config\"",)),
    ("/broken", "broken", ("SetEnv PythonDebug On",)),
)
# Served from a <Directory> (publisher + Session + FieldStorage), listed with the others.
GUESTBOOK = ("/guestbook/", "guestbook/index.py")


def default_handlers_dir() -> Optional[Path]:
    candidate = Path(__file__).resolve().parent.parent / "examples"
    return candidate if candidate.is_dir() else None


def demo_blocks(target: str, handlers_dir: str) -> list[str]:
    """The demo's blocks, proxied to `target` (a worker URL such as `fcgi://127.0.0.1:9000/` or a `balancer://`
    URL); `handlers_dir` is where the examples are, as Apache sees that path (the guestbook needs Apache to map its
    URLs to files, so it uses the SetHandler form in a <Directory>)."""
    route = f"ProxyPass {quote(target)}"
    # Inside <LocationMatch> only ProxyPassMatch takes the section's regex; ProxyPass would match "^/$" literally.
    blocks = [section("LocationMatch", "^/$", [f"ProxyPassMatch {quote(target)}", 'SetEnv PythonHandler "index"'])]
    guestbook = f"{handlers_dir.rstrip('/')}/guestbook"
    blocks.append(f"Alias /guestbook {quote(guestbook)}")
    blocks.append(section("Directory", guestbook, [
        "Require all granted",
        f"SetHandler {quote('proxy:' + target.rstrip('/'))}",
        "ProxyFCGIBackendType GENERIC",
        'SetEnv PythonHandler "mod_python.publisher"',
    ]))
    for url, handler, extra in EXAMPLES:
        blocks.append(section("Location", url, [route, "CGIPassAuth On", f"SetEnv PythonHandler {quote(handler)}",
                                                *extra]))
    return blocks


def _wait_for_daemon(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with status {process.returncode}")
        try:
            get_values(("127.0.0.1", port), [b"FCGI_MPXS_CONNS"], timeout=1.0)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the daemon did not answer on 127.0.0.1:{port} within {timeout}s")


def run_demo(port: int = 8080, daemon_port: int = 9000, handlers: Optional[str] = None) -> int:
    if find_httpd() is None:
        print("fcgi-handlers demo: apache2 is not installed. On Debian/Ubuntu: "
              "sudo scripts/install-system-deps.sh --minimal (or apt-get install apache2)", file=sys.stderr)
        return 1
    handlers_dir = Path(handlers).resolve() if handlers else default_handlers_dir()
    if handlers_dir is None or not handlers_dir.is_dir():
        print("fcgi-handlers demo: no handler directory; pass --handlers DIR", file=sys.stderr)
        return 2
    for p in (port, daemon_port):
        if port_answers(p):
            print(f"fcgi-handlers demo: 127.0.0.1:{p} is in use; choose another with --port/--daemon-port",
                  file=sys.stderr)
            return 1

    run_dir = Path(tempfile.mkdtemp(prefix="fcgi-handlers-demo-"))
    run_dir.chmod(0o755)  # Apache's children run as www-data when started as root
    docroot = run_dir / "htdocs"  # empty: handler sources are never served as static files
    docroot.mkdir(mode=0o755)
    if not readable_by_apache(handlers_dir):
        # Apache maps the guestbook's URLs to files as www-data, which cannot enter e.g. a checkout under /root.
        copy = run_dir / "handlers"
        shutil.copytree(handlers_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
        for item in (copy, *copy.rglob("*")):
            item.chmod(0o755 if item.is_dir() else 0o644)
        print(f"fcgi-handlers demo: www-data cannot read {handlers_dir}; serving a copy in {copy} "
              "(edits to the original are not seen)", file=sys.stderr)
        handlers_dir = copy
    backend = Backend(port=daemon_port)
    user, group = apache_user()
    conf = httpd_conf(port=port, run_dir=str(run_dir), docroot=str(docroot), backend=backend, user=user, group=group,
                      blocks=demo_blocks(backend.worker_url(), str(handlers_dir)))
    daemon = subprocess.Popen([sys.executable, "-m", "fcgi_handlers", "serve", "--bind", f"127.0.0.1:{daemon_port}",
                               "--path", str(handlers_dir)])
    httpd = ApacheServer(run_dir=run_dir, port=port, conf_text=conf)
    stop_requested = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        _wait_for_daemon(daemon_port, daemon)
        httpd.start()
        print(f"fcgi_handlers demo: Apache on http://127.0.0.1:{port}/ -> daemon 127.0.0.1:{daemon_port}")
        print(f"  handlers from {handlers_dir}; Apache config and logs in {run_dir} (removed on exit)")
        for url, handler, _ in (("/", "index", ()), *EXAMPLES):
            print(f"  http://127.0.0.1:{port}{url}  ({handler}.py)")
        print(f"  http://127.0.0.1:{port}{GUESTBOOK[0]}  ({GUESTBOOK[1]}, mod_python.publisher)")
        print("Ctrl-C stops both.", flush=True)
        while not stop_requested and daemon.poll() is None:
            time.sleep(0.2)
        if daemon.poll() is not None:
            print(f"fcgi_handlers demo: the daemon exited with status {daemon.returncode}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    except (HttpdError, RuntimeError) as exc:
        print(f"fcgi-handlers demo: {exc}", file=sys.stderr)
        return 1
    finally:
        httpd.stop()
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=35)
            except subprocess.TimeoutExpired:
                daemon.kill()
        shutil.rmtree(run_dir, ignore_errors=True)
        print("fcgi_handlers demo: stopped.", file=sys.stderr)

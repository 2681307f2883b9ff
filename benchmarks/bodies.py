"""Large bodies through Apache: the daemon's worker memory stays flat, and its throughput beside mod_wsgi's.

Four transfers of SIZE bytes (default 100 MB), each through real Apache (mod_proxy_fcgi, unix socket, pooled):

- upload-read: a POST body read by `req.read(1 MB)` until it ends;
- upload-form: a multipart/form-data upload read by `util.FieldStorage` (the file spools to disk);
- download-write: `req.write()` of 1 MB chunks;
- download-sendfile: `req.sendfile()` of a file of that size.

The same four run against mod_wsgi daemon mode (`processes=2 threads=15`): `wsgi.input` read in 1 MB chunks (WSGI
has no form parser, so the upload-form twin reads the multipart body the same way), 1 MB chunks yielded, and
`wsgi.file_wrapper` for the sendfile twin. While each transfer runs, the daemon's worker processes' RSS is sampled
every 20 ms; the report gives the largest growth over the worker's RSS before the transfer, and the verdict against
the bound (32 MB).

    .venv/bin/python benchmarks/bodies.py [--size-mb 100] [--repeat 3] [--apache-line LINE] [--json]
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from e2e.harness import (ApacheFactory, ApacheServer, ManagedProcess, free_port, make_run_dir,  # noqa: E402
                         missing_apache, remove_run_dir, start_daemon)
from fcgi_handlers.apache import section  # noqa: E402

CHUNK = 1 << 20
RSS_BOUND_MB = 32.0
SAMPLE_INTERVAL = 0.02
TRANSFERS = ("upload-read", "upload-form", "download-write", "download-sendfile")
BOUNDARY = "fcgi-handlers-bench-boundary"

HANDLER = '''from mod_python import apache, util

CHUNK = 1 << 20


def handler(req):
    kind = req.args or ""
    req.content_type = "text/plain"
    if kind == "upload-read":
        total = 0
        while True:
            data = req.read(CHUNK)
            if not data:
                break
            total += len(data)
        req.write(str(total))
    elif kind == "upload-form":
        form = util.FieldStorage(req)
        upload = form["upload"]
        upload.file.seek(0, 2)
        req.write(str(upload.file.tell()))
    elif kind == "download-write":
        size = int(req.get_options()["size"])
        block = b"x" * CHUNK
        for _ in range(size // CHUNK):
            req.write(block)
    elif kind == "download-sendfile":
        req.sendfile(req.get_options()["file"])
    return apache.OK
'''

WSGI_APP = '''CHUNK = 1 << 20
SIZE = {size}
FILE = {file!r}


def application(environ, start_response):
    kind = environ.get("QUERY_STRING", "")
    if kind.startswith("upload"):
        stream, total = environ["wsgi.input"], 0
        while True:
            data = stream.read(CHUNK)
            if not data:
                break
            total += len(data)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(SIZE))])
    if kind == "download-sendfile":
        return environ["wsgi.file_wrapper"](open(FILE, "rb"), CHUNK)
    block = b"x" * CHUNK
    return (block for _ in range(SIZE // CHUNK))
'''


@dataclass
class Transfer:
    """One transfer's outcome on one server."""

    server: str
    kind: str
    seconds: Optional[float] = None
    mb_per_s: Optional[float] = None
    rss_growth_mb: Optional[float] = None    # the daemon only
    error: Optional[str] = None


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(arbiter: int) -> list[int]:
    """The daemon's worker processes: the arbiter's children."""
    pids: list[int] = []
    for task in Path(f"/proc/{arbiter}/task").iterdir():
        pids += [int(pid) for pid in (task / "children").read_text().split()]
    return pids


class RssWatch:
    """Samples the workers' RSS in a thread while a transfer runs; `growth` is the largest rise over the start."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.start = {pid: rss_mb(pid) for pid in pids}
        self.peak = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            for pid in self.peak:
                try:
                    self.peak[pid] = max(self.peak[pid], rss_mb(pid))
                except OSError:
                    pass

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return max((self.peak[pid] - self.start[pid] for pid in self.start), default=0.0)


def _body(size: int, kind: str) -> tuple[Iterator[bytes], int, str]:
    """The request body as chunks, its length and content type."""
    block = b"y" * CHUNK
    if kind == "upload-read":
        return (block for _ in range(size // CHUNK)), size, "application/octet-stream"
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"big.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(size // CHUNK):
            yield block
        yield tail
    return chunks(), len(head) + size + len(tail), f"multipart/form-data; boundary={BOUNDARY}"


def transfer(server: ApacheServer, path: str, kind: str, size: int) -> tuple[float, int, int]:
    """Run one transfer; (seconds, bytes the answer reported or carried, bytes of the request body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    started = time.monotonic()
    try:
        if kind.startswith("upload"):
            chunks, length, content_type = _body(size, kind)
            conn.request("POST", f"{path}?{kind}", body=chunks,
                         headers={"Content-Length": str(length), "Content-Type": content_type})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                raise RuntimeError(f"{kind}: {response.status} {answer[:200]!r}")
            return time.monotonic() - started, int(answer), length
        conn.request("GET", f"{path}?{kind}")
        response = conn.getresponse()
        received = 0
        while True:
            data = response.read(CHUNK)
            if not data:
                break
            received += len(data)
        if response.status != 200:
            raise RuntimeError(f"{kind}: {response.status}")
        return time.monotonic() - started, received, 0
    finally:
        conn.close()


def measure(name: str, server: ApacheServer, path: str, size: int, daemon: Optional[ManagedProcess],
            repeat: int) -> list[Transfer]:
    """Each transfer `repeat` times after one small warm-up transfer of each kind (imports, first spool file);
    the median time, and the largest RSS growth of all the runs."""
    for kind in TRANSFERS:
        if kind.startswith("upload"):
            transfer(server, path, kind, CHUNK)
    results = []
    for kind in TRANSFERS:
        result, times, growth = Transfer(name, kind), [], 0.0
        pids = worker_pids(daemon.proc.pid) if daemon is not None and daemon.proc is not None else []
        try:
            for _ in range(repeat):
                with RssWatch(pids) as watch:
                    seconds, moved, sent = transfer(server, path, kind, size)
                # A WSGI app has no form parser: its upload-form twin counts the whole multipart body.
                if moved not in (size, sent if daemon is None else size):
                    raise RuntimeError(f"{kind}: {moved} bytes instead of {size}")
                times.append(seconds)
                growth = max(growth, watch.growth)
            result.seconds = statistics.median(times)
            result.mb_per_s = size / (1 << 20) / result.seconds
            result.rss_growth_mb = growth if pids else None
        except (OSError, RuntimeError, ValueError, http.client.HTTPException) as exc:
            result.error = str(exc)[:200]
        results.append(result)
    return results


def run(size: int, repeat: int, extra: Sequence[str] = ()) -> list[Transfer]:
    """Both servers behind one Apache (`extra`: more server-level Apache lines, e.g. ProxyIOBufferSize)."""
    factory, work = ApacheFactory(), make_run_dir("bench-bodies")
    daemon: Optional[ManagedProcess] = None
    try:
        handlers = work / "handlers"
        handlers.mkdir(mode=0o755)
        (handlers / "bodies.py").write_text(HANDLER)
        big = work / "big.bin"
        with open(big, "wb") as out:
            out.truncate(size)
        big.chmod(0o644)
        socket_path = str(work / "daemon.sock")
        daemon = start_daemon(free_port(), work, handlers_dir=handlers,
                              extra_args=["--bind", f"unix:{socket_path}", "--socket-mode", "0666"])
        url = f"unix:{socket_path}|fcgi://bodies/"
        blocks = [section("Proxy", url, ["ProxySet enablereuse=on"]),
                  section("Location", "/daemon", [f'ProxyPass "{url}"', 'SetEnv PythonHandler "bodies"',
                                                  f'SetEnv PythonOption.size "{size}"',
                                                  f'SetEnv PythonOption.file "{big}"'])]
        global_lines = ['WSGISocketPrefix "@RUN_DIR@/wsgi"',
                        "WSGIDaemonProcess bodies processes=2 threads=15 display-name=bench-bodies",
                        'WSGIScriptAlias /wsgi "@DOCROOT@/bodies.wsgi" process-group=bodies '
                        'application-group=%{GLOBAL}',
                        "LimitRequestBody 0", *extra]
        server = factory.start(blocks, name="bench-bodies", modules=["wsgi"], global_lines=global_lines,
                               log_level="warn",
                               static_files={"bodies.wsgi": WSGI_APP.format(size=size, file=str(big)).encode()})
        return (measure("daemon", server, "/daemon", size, daemon, repeat)
                + measure("mod_wsgi", server, "/wsgi", size, None, repeat))
    finally:
        factory.stop_all()
        if daemon is not None:
            daemon.stop()
        remove_run_dir(work)


def report(results: Sequence[Transfer]) -> str:
    lines = [f"{'transfer':<20}{'daemon MB/s':>13}{'mod_wsgi MB/s':>15}{'ratio':>8}{'worker RSS +MB':>16}  verdict"]
    by_key = {(r.server, r.kind): r for r in results}
    for kind in TRANSFERS:
        ours, theirs = by_key[("daemon", kind)], by_key[("mod_wsgi", kind)]
        if ours.error or ours.mb_per_s is None:
            lines.append(f"{kind:<20}{'-':>13}{'-':>15}{'-':>8}{'-':>16}  FAIL {ours.error}")
            continue
        ratio = f"{ours.mb_per_s / theirs.mb_per_s:.2f}x" if theirs.mb_per_s else "-"
        growth = ours.rss_growth_mb or 0.0
        verdict = "PASS" if growth < RSS_BOUND_MB else "FAIL"
        their_rate = f"{theirs.mb_per_s:.0f}" if theirs.mb_per_s else f"({theirs.error})"
        lines.append(f"{kind:<20}{ours.mb_per_s:>13.0f}{their_rate:>15}{ratio:>8}{growth:>16.1f}  "
                     f"{verdict} RSS growth < {RSS_BOUND_MB:.0f} MB")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100, help="body size in MB (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each transfer; the median counts (default 3)")
    parser.add_argument("--apache-line", action="append", default=[], metavar="LINE",
                        help="a server-level Apache line to add, e.g. 'ProxyIOBufferSize 65536' (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.size_mb < 1 or args.repeat < 1:
        parser.error("--size-mb and --repeat must be at least 1")
    missing = missing_apache("wsgi")
    if missing:
        print(f"bodies: not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)", file=sys.stderr)
        return 2
    results = run(args.size_mb * CHUNK, args.repeat, args.apache_line)
    print(json.dumps([asdict(r) for r in results], indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Throughput and tail latency of the daemon against its anchors, measured with wrk through real Apache in one run.

Ratios only mean something within one run on one machine, so every target is measured here, one after the other:
the seed handler (tests/e2e/handlers/hello.py) through the daemon with a pooled worker (`enablereuse=on`) and with a
connection per request, over a unix socket (the recommended setup, and how mod_wsgi daemon mode talks to Apache;
the goals apply to these rows) and over TCP (the `-tcp` rows, reported beside them; one daemon listens on both); the
same handler under real mod_python (its own prefork Apache: mod_python and mod_wsgi refuse to share one); a WSGI
hello under mod_wsgi daemon mode (`processes=2 threads=15`, the anchor every ratio is taken against); the same WSGI
hello under flup's threaded FastCGI server behind mod_proxy_fcgi (one connection per request: flup pins a thread per
kept connection); the same WSGI hello served by the daemon itself (`serve --wsgi`, the engine of the
`fcgi_handlers.flup` drop-in, TCP with a connection per request as the flup row); the FastCGI peers of
benchmarks/peers.py (php-fpm on TCP and on a unix socket, uWSGI's FastCGI socket, and a minimal multi-threaded C
responder on libfcgi, TCP and unix: the transport's own limit); and a static file. Each target is checked for
a 200 "Hello World!" before wrk runs, then warmed up. The targets are measured in interleaved rounds (all of them,
then all again), and each reports its median round: a machine that slows down for a while (other tenants of a
virtual machine) then costs every target alike instead of whichever one ran at the time.

    .venv/bin/python benchmarks/bench.py [--rounds 3] [--duration 5] [--targets mod_wsgi,...] [--daemon-args ".."]
                                         [--json]

Every target is measured at each wrk connection count of `--connections` (default 16 and 64): req/s and the goals
come from the first, p50/p99 are reported for each. Beside them, the CPU time per request of the target's FastCGI
backend, of Apache and of wrk (from /proc and wrk's rusage): on a saturated machine req/s follows from their sum, so
the column shows which side a difference comes from. Other processes loading the machine skew the ratios: run it when
`uptime` shows a load below 2. The peers' Debian packages come with `scripts/install-system-deps.sh --bench`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))  # this checkout's package, whatever the interpreter has installed

from e2e.harness import (HANDLERS_DIR, HELLO, ApacheFactory, ApacheServer, ManagedProcess,  # noqa: E402
                         free_port, http_request, make_run_dir, missing_apache, python_env, remove_run_dir,
                         start_daemon, start_flup)
from fcgi_handlers.apache import DEFAULT_POOL_MAX, Backend, section  # noqa: E402
from fcgi_handlers.build import PURE_VARIABLE  # noqa: E402
from peers import Peer, PeerError, c_responders, php_fpm, uwsgi  # noqa: E402

DAEMON_TARGETS = ("daemon-reuse", "daemon-plain", "daemon-reuse-tcp", "daemon-plain-tcp")
PEER_TARGETS = ("php-fpm-unix", "php-fpm-tcp", "uwsgi", "c-unix", "c-tcp")
TARGETS = (*DAEMON_TARGETS, *PEER_TARGETS, "mod_python", "mod_wsgi", "flup", "daemon-wsgi", "static")
ANCHOR = "mod_wsgi"


def _same_transport(target: str, unix_peer: str, tcp_peer: str) -> str:
    return tcp_peer if target.endswith("-tcp") else unix_peer


# (target, anchor, minimum ratio) for every daemon mode: ahead of php-fpm on the same transport and of mod_wsgi
# daemon mode, close to the C responder (the transport's limit) on the same transport, far ahead of flup.
GOALS = tuple((target, anchor, minimum) for target in DAEMON_TARGETS
              for anchor, minimum in ((_same_transport(target, "php-fpm-unix", "php-fpm-tcp"), 1.1),
                                      ("mod_wsgi", 1.1), (_same_transport(target, "c-unix", "c-tcp"), 0.9),
                                      ("flup", 4.0)))
WSGI_HELLO = ("def application(environ, start_response):\n"
              "    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '12')])\n"
              "    return [b'Hello World!']\n")
# mod_wsgi's daemon processes show this as their command line (`display-name`), which tells them from Apache's own
# children for the CPU figures.
WSGI_DISPLAY_NAME = "bench-wsgi"
# Prefork starts as many children as wrk has connections, so mod_python is not measured while Apache forks.
PREFORK_LINES = ["StartServers 16", "MinSpareServers 16", "MaxSpareServers 32"]


@dataclass
class Latency:
    """One wrk run's req/s and latency percentiles."""

    rps: float
    p50_ms: float
    p99_ms: float


@dataclass
class Result:
    """One target's measurement; `error` is set instead when it could not be measured."""

    target: str
    url: str = ""
    rps: Optional[float] = None           # at the first connection count: what the ratios and goals use
    p99_ms: Optional[float] = None
    requests: Optional[int] = None
    non_2xx: int = 0
    socket_errors: int = 0
    error: Optional[str] = None
    rounds_rps: list[float] = field(default_factory=list)  # every round's req/s; the rest are the median round's
    by_connections: dict[int, Latency] = field(default_factory=dict)   # wrk -c -> that run's numbers
    # CPU time per measured request (all connection counts): the FastCGI backend's processes (the daemon, a peer,
    # flup, mod_wsgi's daemon processes; none for mod_python, which runs inside Apache), Apache's (its
    # children, and for mod_python the handler too), and wrk's: where each request's CPU goes.
    backend_cpu_us: Optional[float] = None
    apache_cpu_us: Optional[float] = None
    wrk_cpu_us: Optional[float] = None


@dataclass(frozen=True)
class ProcessSet:
    """Processes whose CPU time a measurement adds up: the live members of process group `pgid`, only those whose
    command line starts with `prefix` when given (mod_wsgi's daemon processes among Apache's children), or all but
    those when `exclude` (Apache's own processes beside them)."""

    pgid: int
    prefix: str = ""
    exclude: bool = False

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the members have used so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[2]) != self.pgid:        # field 5 of /proc/PID/stat: the process group
                    continue
                if self.prefix and (stat.with_name("cmdline").read_bytes().startswith(self.prefix.encode())
                                    == self.exclude):
                    continue
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
            total += int(fields[11]) + int(fields[12])   # fields 14 and 15: utime, stime
        return total / tick


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's waited-for children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class CpuSets:
    """Whose CPU time a target's measurement reports: its backend (None when it runs inside Apache) and Apache."""

    backend: Optional[ProcessSet]
    apache: Optional[ProcessSet]


def _duration_ms(number: str, unit: str) -> float:
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> tuple[Latency, int, int, int]:
    """(req/s with p50/p99 in ms, requests, non-2xx/3xx responses, socket errors) from `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    latency = Latency(float(rps.group(1)), _duration_ms(*p50.groups()), _duration_ms(*p99.groups()))
    return (latency, int(total.group(1)), int(non_2xx.group(1)) if non_2xx else 0,
            sum(map(int, errors.groups())) if errors else 0)


def run_wrk(url: str, args: argparse.Namespace, duration: int, connections: int) -> str:
    argv = ["wrk", f"-t{args.threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise ValueError(f"{shlex.join(argv)} exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def measure(target: str, server: ApacheServer, path: str, args: argparse.Namespace,
            cpu: CpuSets = CpuSets(None, None)) -> Result:
    """One round of one target: a checked GET, then per connection count a warm-up and wrk; the CPU time of the
    backend, of Apache and of wrk per measured request."""
    result = Result(target, server.url(path))
    response = http_request(server.port, "GET", path)
    if response.status != 200 or response.body != HELLO:
        result.error = f"GET {path} gave {response.status} {response.body[:80]!r}"
        return result
    result.requests = 0
    sets = {name: each for name, each in (("backend", cpu.backend), ("apache", cpu.apache)) if each is not None}
    spent = {"backend": 0.0, "apache": 0.0, "wrk": 0.0}
    try:
        for connections in args.connections:
            if args.warmup > 0:
                run_wrk(result.url, args, args.warmup, connections)
            before = {name: each.cpu_seconds() for name, each in sets.items()}
            wrk_before = children_cpu_seconds()
            output = run_wrk(result.url, args, args.duration, connections)
            spent["wrk"] += children_cpu_seconds() - wrk_before
            for name, start in before.items():
                spent[name] += sets[name].cpu_seconds() - start
            latency, total, non_2xx, errors = parse_wrk(output)
            result.by_connections[connections] = latency
            result.requests += total
            result.non_2xx += non_2xx
            result.socket_errors += errors
    except (ValueError, subprocess.TimeoutExpired) as exc:
        result.error = str(exc).splitlines()[0]
        return result
    first = result.by_connections[args.connections[0]]
    result.rps, result.p99_ms = first.rps, first.p99_ms
    if result.requests:
        per_request = {name: seconds / result.requests * 1e6 for name, seconds in spent.items()}
        result.backend_cpu_us = per_request["backend"] if cpu.backend is not None else None
        result.apache_cpu_us = per_request["apache"] if cpu.apache is not None else None
        result.wrk_cpu_us = per_request["wrk"]
    return result


def median_round(rounds: Sequence[Result]) -> Result:
    """The round with the median req/s (the lower middle one for an even count), carrying every round's req/s and
    the errors of all of them; the first failed round when any failed (a target must work every time)."""
    failed = [r for r in rounds if r.error]
    if failed:
        return failed[0]
    ranked = sorted(rounds, key=lambda r: r.rps or 0.0)
    chosen = ranked[(len(ranked) - 1) // 2]
    return Result(chosen.target, chosen.url, chosen.rps, chosen.p99_ms, sum(r.requests or 0 for r in rounds),
                  sum(r.non_2xx for r in rounds), sum(r.socket_errors for r in rounds),
                  rounds_rps=[r.rps or 0.0 for r in rounds], by_connections=chosen.by_connections,
                  backend_cpu_us=chosen.backend_cpu_us, apache_cpu_us=chosen.apache_cpu_us,
                  wrk_cpu_us=chosen.wrk_cpu_us)


def proxied(location: str, url: str, *, reuse: bool = False, lines: Sequence[str] = ()) -> list[str]:
    """A worker for `url` (its own: Apache shares a worker between URLs with one prefix, and between unix-socket
    URLs with one `fcgi://HOST/`, whatever their socket paths, so every URL here has its own host label) and the
    location that proxies to it."""
    worker = section("Proxy", url, [f"ProxySet enablereuse={'on' if reuse else 'off'} max={DEFAULT_POOL_MAX}"])
    return [worker, section("Location", location, [f'ProxyPass "{url}"', *lines])]


def daemon_blocks(port: int, unix_path: str) -> list[str]:
    """Four distinct workers on the one daemon: pooled and per-request connections, over the unix socket and over
    TCP."""
    blocks = []
    for name, reuse in (("reuse", True), ("plain", False)):
        handler = ['SetEnv PythonHandler "hello"']
        blocks += proxied(f"/daemon-{name}/", f"unix:{unix_path}|fcgi://daemon-{name}/", reuse=reuse, lines=handler)
        blocks += proxied(f"/daemon-{name}-tcp/", f"fcgi://127.0.0.1:{port}/{name}/", reuse=reuse, lines=handler)
    return blocks


@dataclass
class PeerAddresses:
    """Where each peer listens (the unix sockets live in one directory Apache's children may enter)."""

    php_port: int
    php_socket: str
    uwsgi_port: int
    c_port: int
    c_socket: str
    php_script: str

    def blocks(self) -> list[str]:
        """Each peer behind its own worker, without connection reuse: php-fpm stalls once Apache keeps more
        connections than it has children (see benchmarks/README.md), and the peers were measured this way."""
        return [*proxied("/php-fpm-tcp/", f"fcgi://127.0.0.1:{self.php_port}{self.php_script}"),
                *proxied("/php-fpm-unix/", f"unix:{self.php_socket}|fcgi://php-unix{self.php_script}"),
                *proxied("/uwsgi/", f"fcgi://127.0.0.1:{self.uwsgi_port}/"),
                *proxied("/c-tcp/", f"fcgi://127.0.0.1:{self.c_port}/"),
                *proxied("/c-unix/", f"unix:{self.c_socket}|fcgi://c-unix/")]


def cpu_sets(target: str, server: ApacheServer, groups: dict[str, Optional[int]]) -> CpuSets:
    """Whose CPU a target's requests cost: mod_wsgi's daemon processes are Apache's children, told apart by their
    display name; every other backend is a process group of its own; mod_python and the static file have none."""
    apache = server.pid
    if apache is None:
        return CpuSets(None, None)
    if target == "mod_wsgi":
        backend: Optional[ProcessSet] = ProcessSet(apache, prefix=WSGI_DISPLAY_NAME)
    else:
        pgid = groups.get(target)
        backend = ProcessSet(pgid) if pgid is not None else None
    return CpuSets(backend, ProcessSet(apache, prefix=WSGI_DISPLAY_NAME, exclude=True))


def start_peers(targets: set[str], addresses: PeerAddresses, run_dir: Path,
                results: dict[str, Result]) -> list[Peer]:
    """Start the peers the targets name; a peer that cannot start is a result with its error, not a failed run."""
    wanted: list[tuple[tuple[str, ...], Callable[[], Sequence[Peer]]]] = [
        (("php-fpm-tcp", "php-fpm-unix"), lambda: [php_fpm(run_dir, addresses.php_port, addresses.php_socket)]),
        (("uwsgi",), lambda: [uwsgi(run_dir, addresses.uwsgi_port)]),
        (("c-tcp", "c-unix"), lambda: c_responders(run_dir, addresses.c_port, addresses.c_socket)),
    ]
    started: list[Peer] = []
    for names, make in wanted:
        if not targets & set(names):
            continue
        try:
            for peer in make():
                peer.start()
                started.append(peer)
        except PeerError as exc:
            results.update({name: Result(name, error=str(exc).splitlines()[0]) for name in names})
    return started


def start_wsgi_daemon(port: int, log_dir: Path, python: Optional[str]) -> ManagedProcess:
    """`fcgi-handlers serve --wsgi` serving WSGI_HELLO (the daemon-wsgi row), logging into its own directory."""
    app_dir = log_dir / "daemon-wsgi"
    app_dir.mkdir()
    (app_dir / "hello_wsgi.py").write_text(WSGI_HELLO)
    return start_daemon(port, app_dir, handlers_dir=app_dir, extra_args=["--wsgi", "hello_wsgi:application"],
                        python=python)


def start_event_apache(factory: ApacheFactory, targets: set[str], daemon_port: int, unix_path: str,
                       flup_port: int, peers: PeerAddresses, wsgi_port: int) -> ApacheServer:
    """The Apache for everything but mod_python: daemon routes, the peers, flup, the daemon's WSGI row, mod_wsgi
    daemon mode, the static file."""
    blocks = daemon_blocks(daemon_port, unix_path) if targets & set(DAEMON_TARGETS) else []
    blocks += peers.blocks()
    blocks.append(section("Location", "/flup/", [f'ProxyPass "{Backend(port=flup_port).worker_url()}"']))
    blocks.append(section("Location", "/daemon-wsgi/", [f'ProxyPass "{Backend(port=wsgi_port).worker_url()}"']))
    global_lines = [
        'WSGISocketPrefix "@RUN_DIR@/wsgi"',
        f"WSGIDaemonProcess hello processes=2 threads=15 display-name={WSGI_DISPLAY_NAME}",
        'WSGIScriptAlias /wsgi "@DOCROOT@/hello.wsgi" process-group=hello application-group=%{GLOBAL}',
    ]
    return factory.start(blocks, name="bench", modules=["wsgi"], global_lines=global_lines, log_level="warn",
                         static_files={"hello.wsgi": WSGI_HELLO.encode(), "static/hello.txt": HELLO})


def start_mod_python_apache(factory: ApacheFactory) -> ApacheServer:
    block = section("Location", "/mp/", ["SetHandler mod_python", "PythonHandler hello"])
    return factory.start([block], name="bench-mod_python", mpm="prefork", modules=["python"], log_level="warn",
                         global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\"", *PREFORK_LINES])


def run(args: argparse.Namespace) -> list[Result]:
    """Start every server the chosen targets need, then measure the targets round after round (each round goes
    through every target in a fixed order, so a slow patch of the machine hits all of them alike), stop everything;
    each target's result is its median round."""
    targets = set(args.targets)
    results: dict[str, Result] = {}
    factory, log_dir = ApacheFactory(), make_run_dir("bench-backends")
    # Apache's children (www-data when started as root) must reach the socket: a private directory they may enter.
    socket_dir = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
    socket_dir.chmod(0o755)
    unix_path = str(socket_dir / "daemon.sock")
    backends: list[ManagedProcess] = []
    peers: list[Peer] = []
    try:
        daemon_port, flup_port, wsgi_port = free_port(), free_port(), free_port()
        addresses = PeerAddresses(php_port=free_port(), php_socket=str(socket_dir / "php.sock"),
                                  uwsgi_port=free_port(), c_port=free_port(), c_socket=str(socket_dir / "c.sock"),
                                  php_script=str(socket_dir / "hello.php"))
        peers = start_peers(targets, addresses, socket_dir, results)
        groups: dict[str, Optional[int]] = {}  # target -> its backend's process group (each starts its own session)
        for peer in peers:
            for name in (("php-fpm-unix", "php-fpm-tcp") if peer.name == "php-fpm" else (peer.name,)):
                groups[name] = peer.pid
        if targets & set(DAEMON_TARGETS):
            extra = ["--bind", f"unix:{unix_path}", "--socket-mode", "0666", *shlex.split(args.daemon_args)]
            try:
                backends.append(start_daemon(daemon_port, log_dir, extra_args=extra, python=args.python))
                groups.update(dict.fromkeys(DAEMON_TARGETS, backends[-1].pid))  # the arbiter and its workers
            except RuntimeError as exc:
                for name in DAEMON_TARGETS:
                    results[name] = Result(name, error=f"daemon did not start: {str(exc).splitlines()[-1]}")
        if "flup" in targets:
            backends.append(start_flup(flup_port, log_dir, "hello", python=args.python))
            groups["flup"] = backends[-1].pid
        if "daemon-wsgi" in targets:
            backends.append(start_wsgi_daemon(wsgi_port, log_dir, args.python))
            groups["daemon-wsgi"] = backends[-1].pid
        event = start_event_apache(factory, targets, daemon_port, unix_path, flup_port, addresses, wsgi_port)
        where = {**{name: (event, f"/{name}/") for name in (*DAEMON_TARGETS, *PEER_TARGETS)},
                 "mod_wsgi": (event, "/wsgi"), "flup": (event, "/flup/"), "daemon-wsgi": (event, "/daemon-wsgi/"),
                 "static": (event, "/static/hello.txt")}
        if "mod_python" in targets:  # its own prefork Apache, idle while the others are measured
            where["mod_python"] = (start_mod_python_apache(factory), "/mp/")
        order = [t for t in TARGETS if t in targets and t in where and t not in results]
        rounds: dict[str, list[Result]] = {t: [] for t in order}
        for _ in range(args.rounds):
            for target in order:
                server, path = where[target]
                rounds[target].append(measure(target, server, path, args, cpu_sets(target, server, groups)))
        results.update({target: median_round(measured) for target, measured in rounds.items()})
    finally:
        factory.stop_all()
        for process in backends:
            process.stop()
        for peer in peers:
            peer.stop()
        remove_run_dir(log_dir)
        shutil.rmtree(socket_dir, ignore_errors=True)
    return [results[t] for t in TARGETS if t in results]


def _pair(results: Sequence[Result], target: str, anchor: str) -> tuple[Optional[Result], Optional[Result]]:
    by_name = {r.target: r for r in results}
    return by_name.get(target), by_name.get(anchor)


def ratio(results: Sequence[Result], target: str, anchor: str) -> Optional[float]:
    a, b = _pair(results, target, anchor)
    if a is None or b is None or a.rps is None or not b.rps:
        return None
    return a.rps / b.rps


def round_ratios(results: Sequence[Result], target: str, anchor: str) -> list[float]:
    """target/anchor req/s round by round (the rounds are interleaved, so each pair shared the machine's mood)."""
    a, b = _pair(results, target, anchor)
    if a is None or b is None:
        return []
    return [x / y for x, y in zip(a.rounds_rps, b.rounds_rps) if y]


def _round_note(results: Sequence[Result], target: str, anchor: str) -> str:
    per_round = round_ratios(results, target, anchor)
    return " (rounds " + ", ".join(f"{r:.2f}" for r in per_round) + ")" if len(per_round) > 1 else ""


def latency_goal_lines(results: Sequence[Result]) -> list[str]:
    """p99 of every daemon mode at every connection count, against mod_wsgi daemon mode's at the same count."""
    by_name = {r.target: r for r in results}
    anchor = by_name.get(ANCHOR)
    lines = []
    for target in DAEMON_TARGETS:
        ours = by_name.get(target)
        counts = sorted(set(ours.by_connections) if ours else set())
        for connections in counts or [0]:
            mine = ours.by_connections.get(connections) if ours else None
            theirs = anchor.by_connections.get(connections) if anchor else None
            if mine is None or theirs is None:
                lines.append(f"{'SKIP (not measured)':<20} {target} p99 <= {ANCHOR} p99")
                continue
            verdict = "PASS" if mine.p99_ms <= theirs.p99_ms else "FAIL"
            lines.append(f"{verdict:<20} {target} p99 <= {ANCHOR} p99 at -c{connections}: "
                         f"{mine.p99_ms:.2f} ms vs {theirs.p99_ms:.2f} ms")
    return lines


def goal_lines(results: Sequence[Result]) -> list[str]:
    """PASS/FAIL for every throughput goal of every daemon mode, then the latency goals."""
    lines = []
    for target, anchor, minimum in GOALS:
        value = ratio(results, target, anchor)
        verdict = "SKIP (not measured)" if value is None else "PASS" if value >= minimum else "FAIL"
        shown = "-" if value is None else f"{value:.2f}x" + _round_note(results, target, anchor)
        lines.append(f"{verdict:<20} {target} >= {minimum}x {anchor}: {shown}")
    return lines + latency_goal_lines(results)


CPU_HEAD = "CPU us/req fcgi/httpd/wrk"


def cpu_cell(result: Result) -> str:
    """The backend's, Apache's and wrk's CPU time per request, "-" for a part not measured."""
    return "/".join("-" if value is None else f"{value:.0f}"
                    for value in (result.backend_cpu_us, result.apache_cpu_us, result.wrk_cpu_us))


def table(results: Sequence[Result], connections: Sequence[int]) -> str:
    """One row per target: req/s (first connection count), ratio to the anchor, p50/p99 per connection count."""
    latency_head = "".join(f"{f'p50/p99 ms c{c}':>20}" for c in connections)
    lines = [f"{'target':<18}{'req/s':>10}{'vs ' + ANCHOR:>13}{latency_head}{CPU_HEAD:>28}  notes"]
    for r in results:
        if r.error:
            lines.append(f"{r.target:<18}{'-':>10}{'-':>13}{'':>{20 * len(connections) + 28}}  {r.error}")
            continue
        value = ratio(results, r.target, ANCHOR)
        notes = ", ".join(f"{n} {label}" for n, label in ((r.non_2xx, "non-2xx"), (r.socket_errors, "socket errors"))
                          if n)
        spread = "/".join(f"{rps:.0f}" for rps in r.rounds_rps) if len(r.rounds_rps) > 1 else ""
        notes = ", ".join(n for n in (f"rounds {spread}" if spread else "", notes) if n)
        cells = "".join(f"{f'{lat.p50_ms:.2f}/{lat.p99_ms:.2f}' if lat else '-':>20}"
                        for lat in (r.by_connections.get(c) for c in connections))
        lines.append(f"{r.target:<18}{r.rps or 0:>10.0f}{'-' if value is None else f'{value:.2f}x':>13}{cells}"
                     f"{cpu_cell(r):>28}  {notes}")
    return "\n".join(lines)


def interpreter(python: str) -> str:
    """`PATH (Python X.Y.Z)` for the report, or why that interpreter cannot be used."""
    try:
        done = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return f"{python} (not runnable: {exc.strerror or exc})"
    version = done.stdout.strip() if done.returncode == 0 else "?"
    return f"{python} (Python {version})"


def daemon_build(python: str) -> str:
    """What `fcgi-handlers --version` says about the build the daemon will run."""
    done = subprocess.run([python, "-m", "fcgi_handlers", "--version"], capture_output=True, text=True, timeout=60,
                          env=python_env(), cwd=ROOT)
    return done.stdout.strip().split(", ", 1)[-1] if done.returncode == 0 else f"unknown ({done.stderr.strip()})"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds wrk measures each target in each round "
                        "(default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds through all targets; each target's result is "
                        "its median round (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each measurement, "
                        "0 for none (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    parser.add_argument("--connections", default="16,64", help="wrk -c values, comma-separated; req/s and the "
                        "throughput goals use the first, latency is reported for each (default 16,64)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help=f"comma-separated subset of {','.join(TARGETS)}")
    parser.add_argument("--daemon-args", default="",
                        help="extra `fcgi_handlers serve` arguments (default: none, the daemon's own defaults; "
                             "\"--workers 2 --threads 15\" mirrors mod_wsgi's processes/threads)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the daemon and flup (default: this one); mod_wsgi and mod_python embed "
                             "the system's libpython, so a like-for-like run uses a virtualenv made from the system's "
                             "python3 when this one is another build (see README, Performance)")
    parser.add_argument("--pure", action="store_true", help="run the daemon's pure-Python modules even where a "
                        "compiled build is installed (FCGI_HANDLERS_PURE=1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    try:
        args.connections = [int(c) for c in args.connections.split(",") if c]
    except ValueError:
        parser.error(f"--connections takes whole numbers separated by commas, not {args.connections!r}")
    if not args.connections or min(args.connections) < 1:
        parser.error("--connections needs at least one count of 1 or more")
    args.targets = [t for t in args.targets.split(",") if t]
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    missing = missing_apache("wsgi", "python", "mpm_prefork") + ([] if shutil.which("wrk") else ["wrk"])
    if missing:
        print(f"bench: not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)", file=sys.stderr)
        return 2
    if args.pure:
        os.environ[PURE_VARIABLE] = "1"  # the daemon's environment comes from ours
    results = run(args)
    counts = ",".join(str(c) for c in args.connections)
    settings = {"wrk": f"-t{args.threads} -c{counts} -d{args.duration}s", "rounds": args.rounds,
                "python": interpreter(args.python), "build": daemon_build(args.python),
                "warmup_s": args.warmup,
                "daemon_args": args.daemon_args, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"settings": settings, "results": [asdict(r) for r in results],
                          "ratios_to_" + ANCHOR: {r.target: ratio(results, r.target, ANCHOR) for r in results},
                          "goals": goal_lines(results)}, indent=2))
    else:
        print(f"wrk {settings['wrk']} (warm-up {args.warmup}s), median of {args.rounds} interleaved rounds, "
              f"{settings['cpus']} CPUs; daemon and flup on {settings['python']}; daemon build: "
              f"{settings['build']}\n")
        print(table(results, args.connections) + "\n")
        print("\n".join(goal_lines(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

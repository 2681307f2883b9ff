"""docker-compose.yml for real: the demo through the published loopback port, scale-out, a daemon stopped under load.

The tests share one project (building and starting it is most of the cost) and run in file order: one daemon first,
then three. Each test that needs three daemons asks for them itself, so any one of them can also run alone.
"""
from __future__ import annotations

import http.client
import urllib.parse

import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

import docker
from docker.models.containers import Container

from compose_stack import REPO, ComposeStack, Reply, health, hostnames, logs, run_in
from swarm_stack import docker_cli

WHOAMI = re.compile(r"^host=(\S+) pid=(\d+)$")
SESSIONS_DIR = "/var/lib/fcgi-handlers/sessions"
REDIS_DOCKERFILE = REPO / "tests" / "docker" / "redis.Dockerfile"


def whoami(stack: ComposeStack, timeout: float = 10.0) -> str:
    reply = stack.get("/whoami", timeout)
    match = WHOAMI.match(reply.body.strip())
    assert reply.status == 200 and match, f"/whoami: {reply.status} {reply.body!r}\n{stack.logs()}"
    return match.group(1)


def scale(stack: ComposeStack, replicas: int) -> list[Container]:
    """`up --scale handlers=N`, then wait until Apache routes to every replica (its DNS follower re-rendered)."""
    stack.compose("up", "--detach", "--no-recreate", "--scale", f"handlers={replicas}")
    daemons = stack.wait_healthy("handlers", replicas)
    wanted = hostnames(daemons)
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while seen != wanted and time.monotonic() < deadline:
        seen = {whoami(stack) for _ in range(3 * replicas)}
        if seen != wanted:
            time.sleep(0.5)
    assert seen == wanted, f"Apache routed to {seen}, the running daemons are {wanted}\n{stack.logs()}"
    return daemons


def test_containers_are_healthy_and_only_apache_is_published(stack: ComposeStack) -> None:
    (apache,) = stack.wait_healthy("apache", 1)
    (daemon,) = stack.wait_healthy("handlers", 1)
    assert apache.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(stack.http_port)}]}
    assert not any(daemon.ports.values()), f"the daemon publishes {daemon.ports}"
    for container in (apache, daemon):
        assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    code, uid = run_in(daemon, ["id", "-u"])
    assert code == 0 and uid.isdigit() and uid != "0", f"the daemon's user id: {code} {uid!r}"


def test_seed_handler_through_apache(stack: ComposeStack) -> None:
    reply = stack.get("/hello")
    assert (reply.status, reply.body) == (200, "Hello World!"), stack.logs()
    assert reply.headers["content-type"].startswith("text/plain")
    # Apache's access log is the container's stdout.
    (apache,) = stack.containers("apache")
    assert '"GET /hello HTTP/1.1" 200' in logs(apache, stderr=False)


def test_example_index_and_request_details(stack: ComposeStack) -> None:
    index = stack.get("/")
    assert index.status == 200, stack.logs()
    assert 'href="/hello"' in index.body and index.headers["content-type"].startswith("text/html")
    showreq = stack.get("/showreq/some/path?a=1")
    assert showreq.status == 200, stack.logs()
    assert "uri: /showreq/some/path" in showreq.body and "args: a=1" in showreq.body
    assert "hi from Apache's config" in showreq.body


def test_scale_out_spreads_requests_over_every_daemon(stack: ComposeStack) -> None:
    daemons = scale(stack, 3)
    wanted = hostnames(daemons)
    # byrequests shares the load evenly: 30 sequential requests reach each of the 3 daemons several times.
    counts = {host: 0 for host in wanted}
    for _ in range(30):
        counts[whoami(stack)] += 1
    assert all(count >= 5 for count in counts.values()), counts


def test_replicas_share_the_sessions_volume(stack: ComposeStack) -> None:
    first, second, *_ = scale(stack, 3)
    probe = f"{SESSIONS_DIR}/probe-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    # As the daemons' own (unprivileged) user: the volume must be writable by it.
    written = run_in(first, ["sh", "-c", f"echo {token} > {probe}"])
    assert written[0] == 0, written
    try:
        assert run_in(second, ["cat", probe]) == (0, token)
    finally:
        run_in(first, ["rm", "-f", probe])


def _exchange(stack: ComposeStack, method: str, path: str, cookie: str = "",
              body: Optional[bytes] = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=15)
    headers = {"Connection": "close"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


def test_guestbook_session_holds_across_daemons(stack: ComposeStack) -> None:
    """The example application (publisher + Session + FieldStorage) keeps one session while byrequests sends each
    request to the next of three daemons: FileSession on the shared volume."""
    scale(stack, 3)
    status, headers, page = _exchange(stack, "GET", "/guestbook/")
    assert status == 200, stack.logs()
    cookie = headers["set-cookie"].split(";")[0]
    name = f"visitor-{uuid.uuid4().hex[:8]}"
    for signed in range(1, 4):
        token = re.search(r'name="token" value="([0-9a-f]+)"', page)
        assert token, page
        form = urllib.parse.urlencode({"name": name, "message": f"message {signed}", "token": token.group(1)})
        status, headers, _ = _exchange(stack, "POST", "/guestbook/sign", cookie, form.encode())
        assert status == 302, stack.logs()
        status, _, page = _exchange(stack, "GET", "/guestbook/", cookie)
        assert status == 200
        assert f"Welcome back, {name}: you signed {signed} time(s)." in page, page
        assert f"message {signed}" in page


@dataclass
class Outcome:
    started: float
    ended: float
    host: Optional[str]
    error: Optional[str]


def _request(stack: ComposeStack, path: str) -> Outcome:
    started = time.monotonic()
    host: Optional[str] = None
    error: Optional[str] = None
    try:
        reply: Reply = stack.get(path, timeout=15)
        match = WHOAMI.match(reply.body.strip())
        if reply.status == 200 and match:
            host = match.group(1)
        else:
            error = f"{reply.status} {reply.body[:200]!r}"
    except OSError as exc:
        error = repr(exc)
    return Outcome(started, time.monotonic(), host, error)


def _load(stack: ComposeStack, outcomes: list[Outcome], stop: threading.Event, deadline: float) -> None:
    """One client: sequential /whoami requests until told to stop (or the deadline), every outcome recorded."""
    while not stop.is_set() and time.monotonic() < deadline:
        outcomes.append(_request(stack, "/whoami"))


def test_stopped_daemon_leaves_rotation_without_failed_requests(stack: ComposeStack) -> None:
    daemons = scale(stack, 3)
    victim, survivors = daemons[0], daemons[1:]
    victim_host = victim.attrs["Config"]["Hostname"]
    outcomes: list[Outcome] = []
    slow: list[Outcome] = []
    stop = threading.Event()
    deadline = time.monotonic() + 90
    clients = [threading.Thread(target=_load, args=(stack, outcomes, stop, deadline)) for _ in range(4)]
    # Nine 3-second requests, three per daemon under byrequests: some are surely in flight on the victim at its stop.
    sleepers = [threading.Thread(target=lambda: slow.append(_request(stack, "/whoami?sleep=3"))) for _ in range(9)]
    for thread in clients + sleepers:
        thread.start()
    try:
        time.sleep(1.5)
        stop_began = time.monotonic()
        victim.stop(timeout=40)   # SIGTERM: the daemon finishes in-flight requests, then exits
        stop_ended = time.monotonic()
        # Keep the load on past Apache's next DNS resolution and graceful restart.
        time.sleep(6)
    finally:
        stop.set()
        for thread in clients + sleepers:
            thread.join(timeout=30)
    victim.reload()
    assert victim.status == "exited" and victim.attrs["State"]["ExitCode"] == 0, victim.attrs["State"]
    # The requests the victim had in flight were finished, not dropped.
    assert len(slow) == 9 and all(o.error is None for o in slow), [o.error for o in slow]
    assert victim_host in {o.host for o in slow}, f"no slow request reached the stopped daemon: {slow}"
    # Of the others, only a request in flight when the stop began may fail; every later one must find a live daemon.
    failed = [o for o in outcomes if o.error is not None]
    unexplained = [o for o in failed if not o.started <= stop_began <= o.ended]
    assert not unexplained, (f"{len(unexplained)} of {len(outcomes)} requests not in flight at the stop failed: "
                             f"{[o.error for o in unexplained][:5]}\n{stack.logs()}")
    before = {o.host for o in outcomes if o.ended < stop_began}
    assert victim_host in before, f"the stopped daemon never answered before its stop: {before}"
    after = [o for o in outcomes if o.started > stop_ended]
    assert len(after) >= 20, f"only {len(after)} requests after the stop"
    assert {o.host for o in after if o.host} == hostnames(survivors)
    assert all(health(c) == "healthy" for c in survivors)


def test_apache_stops_gracefully(stack: ComposeStack) -> None:
    (apache,) = stack.containers("apache")
    began = time.monotonic()
    apache.stop(timeout=15)
    took = time.monotonic() - began
    apache.reload()
    assert apache.attrs["State"]["ExitCode"] == 0, logs(apache, tail=20)
    assert took < 12, f"docker stop took {took:.1f}s: SIGTERM did not reach Apache as a graceful stop"


def test_redis_profile_keeps_sessions_in_redis(stack: ComposeStack, base_image: str) -> None:
    """`--profile redis` with FCGI_HANDLERS_SESSION_TYPE=RedisSession: the guestbook's session holds across three
    daemons and lives in the Redis service, not on the volume. Runs last: it changes the project's Apache."""
    redis_image = f"fcgi-handlers-composetest-{stack.name}-redis:latest"
    docker_cli("build", "--quiet", "--force-rm", "--build-arg", f"BASE_IMAGE={base_image}", "-f",
               str(REDIS_DOCKERFILE), "-t", redis_image, str(REDIS_DOCKERFILE.parent), timeout=900)
    stack.env.update({"FCGI_HANDLERS_SESSION_TYPE": "RedisSession", "FCGI_HANDLERS_REDIS_IMAGE": redis_image})
    find_sessions = ["find", f"{SESSIONS_DIR}/mp_sess", "-type", "f", "-regex", ".*/[0-9a-f]*"]
    (daemon, *_) = stack.wait_healthy("handlers", len(stack.containers("handlers")))
    files_before = run_in(daemon, find_sessions)
    try:
        # Apache's environment changed: compose recreates it; the daemons and the volume stay.
        stack.compose("--profile", "redis", "up", "--detach", "--scale", "handlers=3")
        stack.wait_healthy("redis", 1)
        stack.wait_healthy("apache", 1)
        test_guestbook_session_holds_across_daemons(stack)
        (redis,) = stack.containers("redis")
        code, keys = run_in(redis, ["redis-cli", "--scan", "--pattern", "mp_sess:*"])
        assert code == 0 and re.fullmatch(r"(mp_sess:[0-9a-f]{32}\n?)+", keys), keys
        assert run_in(daemon, find_sessions) == files_before, "a session went to the volume, not to Redis"
    finally:
        stack.compose("--profile", "redis", "rm", "--stop", "--force", "redis", timeout=120)
        try:
            stack.client.images.remove(redis_image)
        except docker.errors.APIError:
            pass

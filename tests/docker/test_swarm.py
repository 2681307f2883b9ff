"""deploy/stack.yml for real on a single-node swarm: deploy, scale 1 -> 3 with every replica answering, sessions in
Redis across replicas with a signed cookie, and a rolling update (`docker service update --force`) under a steady
load of requests without one failed request; then the stack is removed and the machine left as found.

The tests share one deployment and run in file order (each one that needs three daemons scales to three itself).
"""
from __future__ import annotations

import http.client
import os
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import docker
import pytest

from compose_stack import Reply, hostnames, run_in
from swarm_stack import Swarm, SwarmError, SwarmStack, docker_cli

WHOAMI = re.compile(r"^host=(\S+) pid=(\d+)$")
LOAD_CLIENTS = 4
SLOW_CLIENTS = 2            # more clients whose requests take a second: surely in flight whenever a daemon stops
LOAD_PAUSE = 0.02           # between one client's requests: a steady load, bounded in rate
LOAD_MAX_SECONDS = 300.0    # and in time, whatever happens to the update
SETTLE_AFTER_UPDATE = 5.0   # load goes on this long after the update converged


@pytest.fixture(scope="module")
def swarm_stack(docker_client: docker.DockerClient, base_image: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmStack]:
    secrets = tmp_path_factory.mktemp("secrets")
    for name in ("session_secret", "redis_password"):
        (secrets / name).write_text(uuid.uuid4().hex + "\n")
    swarm = Swarm(docker_client)
    stack = SwarmStack(docker_client, f"fcgiswarm{os.getpid()}{uuid.uuid4().hex[:6]}", base_image, secrets)
    try:
        swarm.join()
        stack.build()
        stack.deploy()
        for service in ("redis", "handlers", "apache"):
            stack.wait_healthy(service, 1)
        wait_routed(stack, hostnames(stack.containers("handlers")))
    except (SwarmError, AssertionError) as exc:
        _teardown(stack, swarm)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield stack
    finally:
        _teardown(stack, swarm)


def _teardown(stack: SwarmStack, swarm: Swarm) -> None:
    try:
        stack.remove()
    finally:
        swarm.leave()


def whoami(stack: SwarmStack) -> str:
    reply = stack.get("/whoami")
    match = WHOAMI.match(reply.body.strip())
    assert reply.status == 200 and match, f"/whoami: {reply.status} {reply.body!r}\n{stack.evidence()}"
    return match.group(1)


def wait_routed(stack: SwarmStack, wanted: set[str], timeout: float = 60.0) -> None:
    """Until Apache routes to exactly the daemons `wanted`: a new task enters DNS a little after it is healthy, and
    Apache follows DNS at its next lookup (until then, with no member yet, it answers 503)."""
    seen: set[Optional[str]] = set()
    deadline = time.monotonic() + timeout
    while seen != wanted and time.monotonic() < deadline:
        seen = {_request(stack, "/whoami").host for _ in range(3 * len(wanted))}
        if seen != wanted:
            time.sleep(0.5)
    assert seen == wanted, f"Apache routed to {seen}, the running daemons are {wanted}\n{stack.evidence()}"


def scale(stack: SwarmStack, replicas: int) -> set[str]:
    """`docker service scale`, then wait until Apache routes to every replica; their host names."""
    docker_cli("service", "scale", "--detach", f"{stack.service('handlers')}={replicas}")
    wanted = hostnames(stack.wait_healthy("handlers", replicas))
    wait_routed(stack, wanted)
    return wanted


def service_spec(client: docker.DockerClient, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = client.services.get(name).attrs["Spec"]  # type: ignore[no-untyped-call]
    return spec


def test_stack_deploys_without_mesh_or_virtual_ips(swarm_stack: SwarmStack, docker_client: docker.DockerClient) -> None:
    assert whoami(swarm_stack)
    for short in ("handlers", "apache", "redis"):
        assert service_spec(docker_client, swarm_stack.service(short))["EndpointSpec"]["Mode"] == "dnsrr", short
    handlers = service_spec(docker_client, swarm_stack.service("handlers"))
    assert handlers["UpdateConfig"]["Order"] == "start-first"
    assert handlers["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 512 * 1024 * 1024
    apache = service_spec(docker_client, swarm_stack.service("apache"))
    assert [(p["PublishMode"], p["PublishedPort"]) for p in apache["EndpointSpec"]["Ports"]] == \
        [("host", swarm_stack.http_port)]


def test_scale_one_to_three_and_every_replica_answers(swarm_stack: SwarmStack) -> None:
    assert len(scale(swarm_stack, 1)) == 1
    hosts = scale(swarm_stack, 3)
    counts = {host: 0 for host in hosts}
    for _ in range(30):
        counts[whoami(swarm_stack)] += 1
    assert all(count >= 5 for count in counts.values()), counts


def _exchange(stack: SwarmStack, method: str, path: str, cookie: str = "",
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


def sign_guestbook(stack: SwarmStack, cookie: str, page: str, name: str, signed: int) -> str:
    """Sign the guestbook as `name` for the `signed`-th time; the page shown afterwards."""
    token = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert token, page
    form = urllib.parse.urlencode({"name": name, "message": f"message {signed}", "token": token.group(1)})
    status, _, _ = _exchange(stack, "POST", "/guestbook/sign", cookie, form.encode())
    assert status == 302, stack.evidence()
    status, _, page = _exchange(stack, "GET", "/guestbook/", cookie)
    assert status == 200
    assert f"Welcome back, {name}: you signed {signed} time(s)." in page, page
    return page


def test_sessions_live_in_redis_across_replicas(swarm_stack: SwarmStack) -> None:
    """The guestbook keeps one session while byrequests sends each request to the next of three daemons: the
    session is in Redis (RedisSession, chosen by Apache's option), and its cookie is signed with the stack's secret."""
    scale(swarm_stack, 3)
    status, headers, page = _exchange(swarm_stack, "GET", "/guestbook/")
    assert status == 200, swarm_stack.evidence()
    cookie = headers["set-cookie"].split(";")[0]
    value = cookie.split("=", 1)[1]
    assert len(value) == 64 + 32, f"the session cookie is not signed: {cookie}"   # HMAC-SHA256 hex + the sid
    name = f"visitor-{uuid.uuid4().hex[:8]}"
    for signed in range(1, 4):
        page = sign_guestbook(swarm_stack, cookie, page, name, signed)
    (redis,) = swarm_stack.containers("redis")
    code, keys = run_in(redis, ["sh", "-c", 'REDISCLI_AUTH="$(cat /run/secrets/redis_password)" '
                                            "redis-cli --scan --pattern 'mp_sess:*'"])
    assert code == 0 and f"mp_sess:{value[64:]}" in keys.split(), keys


@dataclass
class Outcome:
    started: float
    ended: float
    host: Optional[str]
    error: Optional[str]


def _request(stack: SwarmStack, path: str) -> Outcome:
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


def _load(stack: SwarmStack, path: str, outcomes: list[Outcome], stop: threading.Event, deadline: float) -> None:
    """One client: sequential requests with a short pause until told to stop (or the deadline)."""
    while not stop.is_set() and time.monotonic() < deadline:
        outcomes.append(_request(stack, path))
        stop.wait(LOAD_PAUSE)


def test_rolling_update_under_load_fails_no_request(swarm_stack: SwarmStack) -> None:
    before = scale(swarm_stack, 3)
    # A session from before the update: every daemon that knew it is replaced, Redis keeps it.
    _, headers, page = _exchange(swarm_stack, "GET", "/guestbook/")
    cookie, name = headers["set-cookie"].split(";")[0], f"updater-{uuid.uuid4().hex[:8]}"
    page = sign_guestbook(swarm_stack, cookie, page, name, 1)
    outcomes: list[Outcome] = []
    stop = threading.Event()
    deadline = time.monotonic() + LOAD_MAX_SECONDS
    paths = ["/whoami"] * LOAD_CLIENTS + ["/whoami?sleep=1"] * SLOW_CLIENTS
    clients = [threading.Thread(target=_load, args=(swarm_stack, path, outcomes, stop, deadline)) for path in paths]
    for thread in clients:
        thread.start()
    try:
        time.sleep(2)
        began = time.monotonic()
        # Blocks until the update converged: each replica replaced, new one first, old one drained.
        docker_cli("service", "update", "--force", "--detach=false", swarm_stack.service("handlers"), timeout=300)
        converged = time.monotonic()
        time.sleep(SETTLE_AFTER_UPDATE)
    finally:
        stop.set()
        for thread in clients:
            thread.join(30)
    after = hostnames(swarm_stack.wait_healthy("handlers", 3))
    failed = [o for o in outcomes if o.error is not None]
    during = [o for o in outcomes if began <= o.started <= converged]
    print(f"\nrolling update of 3 replicas in {converged - began:.1f} s under {LOAD_CLIENTS} + {SLOW_CLIENTS} clients: "
          f"{len(outcomes)} requests sent ({len(during)} during the update), {len(failed)} failed")
    assert not failed, f"{[o.error for o in failed][:5]}\n{swarm_stack.evidence()}"
    assert not before & after, f"replicas not replaced: {before & after}"
    assert len(during) >= 50, f"only {len(during)} requests during the update"
    # Every request after the settling answered from a new replica, and every new replica answered.
    late = {o.host for o in outcomes if o.started > converged + 2}
    assert late == after, f"answered after the update: {late}, running: {after}"
    sign_guestbook(swarm_stack, cookie, page, name, 2)

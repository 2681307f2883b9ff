"""deploy/stack.yml on a single-node swarm, driven from the tests.

The docker CLI deploys, scales, updates and removes the stack (the user's interface under test); what the tests
inspect (tasks, containers, health, logs) goes through the Docker SDK. Everything created here carries this run's
unique name: the images (built from the repository on the tests' local base image, plus a Redis image from Debian's
package standing in for the official one), the stack with its services, networks, secrets and volumes. Teardown
removes exactly those. The swarm is initialised only if this machine's dockerd is in none, and left only if this
run initialised it and no service of anyone else runs in it by then; a swarm someone else made is left alone.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Mapping, Optional

import docker
from docker.models.containers import Container

from compose_stack import REPO, free_port, http_get, Reply

STACK_FILE = REPO / "deploy" / "stack.yml"
SERVICES = ("handlers", "apache", "redis")
# The images the stack runs, by the variable that names them there -> (Dockerfile, build context).
IMAGES = {"FCGI_HANDLERS_IMAGE": (REPO / "Dockerfile", REPO),
          "FCGI_HANDLERS_APACHE_IMAGE": (REPO / "apache" / "Dockerfile", REPO),
          "FCGI_HANDLERS_REDIS_IMAGE": (REPO / "tests" / "docker" / "redis.Dockerfile", REPO / "tests" / "docker")}


class SwarmError(RuntimeError):
    """A docker command failed or the stack did not reach the wanted state; the message carries the evidence."""


def docker_cli(*args: str, env: Optional[Mapping[str, str]] = None, timeout: float = 300.0) -> str:
    command = ["docker", *args]
    try:
        result = subprocess.run(command, env=dict(env) if env is not None else None, cwd=REPO, capture_output=True,
                                text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SwarmError(f"{shlex.join(command)} did not finish within {timeout}s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise SwarmError(f"{shlex.join(command)} exited {result.returncode}:\n{output}")
    return result.stdout + result.stderr


class Swarm:
    """This dockerd as a swarm manager for the test; `initialised` says whether this run made the swarm."""

    # The bridge swarm init creates for containers on overlay networks; `swarm leave` keeps it.
    GATEWAY_BRIDGE = "docker_gwbridge"

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.initialised = False
        self.bridge_existed = True

    def join(self) -> None:
        state = self.client.info()["Swarm"]
        if state.get("LocalNodeState") == "active":
            if not state.get("ControlAvailable"):
                raise SwarmError("this dockerd is a swarm worker, not a manager: cannot deploy a stack")
            return
        self.bridge_existed = bool(self.client.networks.list(names=[self.GATEWAY_BRIDGE]))
        try:
            docker_cli("swarm", "init", "--advertise-addr", "127.0.0.1")
            self.initialised = True
        except SwarmError:
            if self.client.info()["Swarm"].get("LocalNodeState") != "active":   # not a concurrent run's init
                raise

    def leave(self) -> None:
        if not self.initialised:
            return
        others = self.client.services.list()
        if others:   # a concurrent run deploys into the swarm this run made: it leaves when it is done
            return
        docker_cli("swarm", "leave", "--force", timeout=120)
        if not self.bridge_existed:
            for network in self.client.networks.list(names=[self.GATEWAY_BRIDGE]):
                try:
                    network.remove()
                except docker.errors.APIError:
                    pass   # a container still uses it: it is not ours to cut off


class SwarmStack:
    """One deployment of deploy/stack.yml named `name`, publishing Apache on the node's port `http_port`."""

    def __init__(self, client: docker.DockerClient, name: str, base_image: str, secrets_dir: Path) -> None:
        self.client = client
        self.name = name
        self.http_port = free_port()
        self.tags = {variable: f"fcgi-handlers-swarmtest-{name}-{variable.split('_')[-2].lower()}"
                     for variable in IMAGES}
        self.base_image = base_image
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FCGI_HANDLERS_", "APACHE_", "COMPOSE_"))}
        env.update(self.tags)
        env.update({"FCGI_HANDLERS_TAG": "latest", "FCGI_HANDLERS_HTTP_PORT": str(self.http_port),
                    "FCGI_HANDLERS_DIR": str(REPO / "examples"), "FCGI_HANDLERS_SECRETS_DIR": str(secrets_dir)})
        self.env = env

    def build(self) -> None:
        for variable, (dockerfile, context) in IMAGES.items():
            docker_cli("build", "--quiet", "--force-rm", "--build-arg", f"BASE_IMAGE={self.base_image}",
                       "-f", str(dockerfile), "-t", f"{self.tags[variable]}:latest", str(context), timeout=900)

    def deploy(self) -> None:
        docker_cli("stack", "deploy", "--prune", "--compose-file", str(STACK_FILE), self.name, env=self.env)

    def service(self, short: str) -> str:
        return f"{self.name}_{short}"

    def containers(self, short: str) -> list[Container]:
        return list_containers(self.client, {"label": f"com.docker.swarm.service.name={self.service(short)}"})

    def wait_healthy(self, short: str, count: int, timeout: float = 180.0) -> list[Container]:
        """The service's `count` running containers once all are healthy and no other is running."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            running = self.containers(short)
            states = {str(c.name): _health(c) for c in running}
            if len(running) == count and all(state == "healthy" for state in states.values()):
                return running
            time.sleep(0.5)
        raise SwarmError(f"{short}: wanted {count} healthy containers within {timeout}s, have {states}\n"
                         f"{self.evidence()}")

    def get(self, path: str, timeout: float = 10.0) -> Reply:
        return http_get(self.http_port, path, timeout)

    def evidence(self) -> str:
        """The tasks' states and the containers' last log lines, for failure messages."""
        parts = []
        for short in SERVICES:
            try:
                parts.append(docker_cli("service", "ps", "--no-trunc", self.service(short), timeout=30))
            except SwarmError as exc:
                parts.append(str(exc))
            for container in self.containers(short):
                try:
                    raw = container.logs(tail=30)
                except docker.errors.NotFound:
                    continue
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                parts.append(f"--- {container.name}\n{text}")
        return "\n".join(parts)

    def remove(self, timeout: float = 120.0) -> None:
        """`docker stack rm`, then wait for its containers and networks to go, then remove its volumes and images."""
        try:
            self._remove_stack(timeout)
        finally:
            for tag in self.tags.values():
                try:
                    self.client.images.remove(f"{tag}:latest")
                except docker.errors.APIError:
                    pass   # still used by a container that is going away: the tag stays, harmless

    def _remove_stack(self, timeout: float) -> None:
        docker_cli("stack", "rm", self.name, timeout=120)
        label = f"com.docker.stack.namespace={self.name}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (list_containers(self.client, {"label": label}, stopped=True)
                    or self.client.networks.list(filters={"label": label})):
                break
            time.sleep(1)
        for volume in self.client.volumes.list(filters={"label": label}):
            try:
                volume.remove(force=True)
            except docker.errors.APIError as exc:   # still in use: say so, and go on removing the rest
                print(f"swarm test: cannot remove volume {volume.name}: {exc}")


def list_containers(client: docker.DockerClient, filters: Mapping[str, str], stopped: bool = False,
                    attempts: int = 5) -> list[Container]:
    """The matching containers. The SDK inspects each one it lists, so a container Swarm removes in between makes
    the listing fail: list again."""
    for _ in range(attempts - 1):
        try:
            found: list[Container] = client.containers.list(all=stopped, filters=dict(filters))
            return found
        except docker.errors.NotFound:
            time.sleep(0.2)
    last: list[Container] = client.containers.list(all=stopped, filters=dict(filters))
    return last


def _health(container: Container) -> str:
    try:
        container.reload()
    except docker.errors.NotFound:
        return "removed"
    state = container.attrs.get("State", {})
    health = state.get("Health", {}) if isinstance(state, dict) else {}
    return str(health.get("Status", "none")) if isinstance(health, dict) else "none"

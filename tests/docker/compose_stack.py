"""One docker-compose project of the repository's docker-compose.yml, driven from the tests.

Compose's own CLI brings the project up, scales and removes it (that is the user's interface under test); everything
the tests inspect — containers, health, published ports, logs, exec — goes through the Docker SDK, never through
parsed CLI output. A project has a unique name, so it can only ever touch its own containers, network and volume, and
its environment is built from scratch for the FCGI_HANDLERS_*/APACHE_* variables, so a developer's .env or shell
settings cannot change what is tested. HTTP goes only to the 127.0.0.1 port the project publishes.
"""
from __future__ import annotations

import http.client
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import docker
from docker.models.containers import Container

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
SCRIPTS = REPO / "scripts"
# Image names the tests build under, tagged with the project's name: a run on the same dockerd at the same time
# builds its own, so a container recreated mid-test starts from this run's code. down() removes them.
TEST_IMAGES = {"FCGI_HANDLERS_IMAGE": "fcgi-handlers-test-daemon",
               "FCGI_HANDLERS_APACHE_IMAGE": "fcgi-handlers-test-apache"}


def compose_command() -> list[str]:
    """docker-compose (v1) if installed, else the v2 plugin; FCGI_HANDLERS_COMPOSE overrides ("docker compose")."""
    override = os.environ.get("FCGI_HANDLERS_COMPOSE")
    if override:
        return shlex.split(override)
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


def http_get(port: int, path: str, timeout: float = 10.0) -> Reply:
    """One GET to 127.0.0.1:`port` on a fresh connection (so a reply always comes from this request)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return Reply(response.status, body, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


class ComposeError(RuntimeError):
    """A compose command failed; the message carries its output."""


class ComposeStack:
    """The project `name`, built from `base_image`, publishing Apache on 127.0.0.1:`http_port`."""

    def __init__(self, client: docker.DockerClient, name: str, base_image: str, http_port: int) -> None:
        self.client = client
        self.name = name
        self.http_port = http_port
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FCGI_HANDLERS_", "APACHE_", "COMPOSE_"))}
        env.update(TEST_IMAGES)
        env.update({"FCGI_HANDLERS_BASE_IMAGE": base_image, "FCGI_HANDLERS_TAG": name,
                    "FCGI_HANDLERS_HTTP_PORT": str(http_port)})
        self.env = env

    def compose(self, *args: str, timeout: float = 900.0) -> str:
        command = [*compose_command(), "--project-name", self.name, "--file", str(COMPOSE_FILE), *args]
        try:
            result = subprocess.run(command, env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                                    check=False)
        except subprocess.TimeoutExpired as exc:
            raise ComposeError(f"{shlex.join(command)} did not finish within {timeout}s") from exc
        if result.returncode != 0:
            raise ComposeError(f"{shlex.join(command)} exited {result.returncode}:\n"
                               f"{(result.stdout + result.stderr)[-6000:]}")
        return result.stdout + result.stderr

    def build(self) -> None:
        """Build both images under this project's tag."""
        self.compose("build", "--force-rm")   # a failed step leaves no container behind

    def containers(self, service: str, *, include_stopped: bool = False) -> list[Container]:
        labels = [f"com.docker.compose.project={self.name}", f"com.docker.compose.service={service}"]
        found: list[Container] = self.client.containers.list(all=include_stopped, filters={"label": labels})
        return found

    def wait_healthy(self, service: str, count: int, timeout: float = 120.0) -> list[Container]:
        """The service's `count` running containers once all report healthy; ComposeError after `timeout`."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            running = self.containers(service)
            states = {str(c.name): health(c) for c in running}
            if len(running) == count and all(state == "healthy" for state in states.values()):
                return running
            time.sleep(0.5)
        raise ComposeError(f"{service}: wanted {count} healthy containers within {timeout}s, have {states}\n"
                           f"{self.logs()}")

    def get(self, path: str, timeout: float = 10.0) -> Reply:
        return http_get(self.http_port, path, timeout)

    def logs(self, tail: int = 40) -> str:
        """The last log lines of every container of the project, for failure messages."""
        parts = []
        for service in ("apache", "handlers"):
            for container in self.containers(service, include_stopped=True):
                text = logs(container, tail=tail)
                parts.append(f"--- {container.name} ({container.status}) ---\n{text}")
        return "\n".join(parts)

    def down(self) -> None:
        """Remove the project's containers, network and volumes, then its images (layers others use stay)."""
        try:
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=180)
        finally:
            for image in TEST_IMAGES.values():
                try:
                    self.client.images.remove(f"{image}:{self.name}")
                except docker.errors.APIError:
                    pass   # never built (a failed build), or still used by a container going away


def logs(container: Container, *, tail: int | None = None, stderr: bool = True) -> str:
    """A container's log (stdout, and stderr unless told otherwise) as text."""
    raw = container.logs(stdout=True, stderr=stderr, tail="all" if tail is None else tail)
    assert isinstance(raw, bytes)   # not streamed
    return raw.decode("utf-8", "replace")


def run_in(container: Container, argv: Sequence[str]) -> tuple[int, str]:
    """Exit code and output of `argv` run inside `container` as its default user."""
    result = container.exec_run(list(argv))
    output = result.output
    assert isinstance(output, bytes)   # not streamed
    code = -1 if result.exit_code is None else result.exit_code
    return code, output.decode("utf-8", "replace").strip()


def health(container: Container) -> str:
    container.reload()
    state: Mapping[str, object] = container.attrs.get("State", {})
    status = state.get("Health", {})
    return str(status.get("Status", "none")) if isinstance(status, dict) else "none"


def hostnames(containers: Sequence[Container]) -> set[str]:
    """Each container's host name (Docker's default: the first 12 characters of its id)."""
    return {str(c.attrs["Config"]["Hostname"]) for c in containers}

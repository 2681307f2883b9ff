"""Fixtures for the Docker tests: a Docker daemon, the local base image, one compose project per test module.

A Docker daemon is started (scripts/start-dockerd.sh) only when none answers, and stopped at the end of the session
only if this session started it (FCGI_HANDLERS_KEEP_DOCKERD=1 keeps it running for the next run). The base image is
built from Debian's mirror by scripts/docker-base-image.sh once and kept: no registry is needed. Each compose project
has a unique name and is removed with its volume at the end of its module, and so is the Swarm stack of
test_swarm.py (its fixture is in that module; the swarm's rules are in swarm_stack.py). When Docker cannot work, the tests fail
under CI (CI=true) with the reason, and skip with it elsewhere. Only the fixtures that need Docker touch it, so the
entrypoint's unit tests in this folder run without it.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from typing import Iterator, NoReturn

import docker
import pytest

from compose_stack import SCRIPTS, ComposeError, ComposeStack, free_port

DOCKERD_START_TIMEOUT = 120
BASE_IMAGE_TIMEOUT = 1800   # a cold debootstrap takes a minute or two on a good mirror


def unavailable(reason: str) -> NoReturn:
    """Docker cannot work here: fail under CI, where a skip would hide it; skip elsewhere."""
    message = f"Docker tests cannot run: {reason}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_answers() -> bool:
    try:
        return bool(docker.from_env(version="auto", timeout=10).ping())
    except docker.errors.DockerException:
        return False


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    started_here = False
    if not _docker_answers():
        try:
            result = subprocess.run([str(SCRIPTS / "start-dockerd.sh")], capture_output=True, text=True,
                                    timeout=DOCKERD_START_TIMEOUT + 30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            unavailable(f"scripts/start-dockerd.sh: {exc}")
        if result.returncode != 0:
            unavailable(f"scripts/start-dockerd.sh could not start dockerd:\n{result.stderr[-3000:]}")
        started_here = True
    try:
        client = docker.from_env(version="auto", timeout=300)
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"the Docker daemon does not answer the SDK: {exc}")
    yield client
    client.close()
    if started_here and os.environ.get("FCGI_HANDLERS_KEEP_DOCKERD") != "1":
        subprocess.run([str(SCRIPTS / "start-dockerd.sh"), "--stop"], timeout=60, check=False)


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The local Debian base image's tag (built on first use, then reused)."""
    try:
        result = subprocess.run([str(SCRIPTS / "docker-base-image.sh")], capture_output=True, text=True,
                                timeout=BASE_IMAGE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        unavailable(f"scripts/docker-base-image.sh did not finish within {BASE_IMAGE_TIMEOUT}s")
    if result.returncode != 0 or not result.stdout.strip():
        unavailable(f"scripts/docker-base-image.sh failed:\n{result.stderr[-3000:]}")
    tag = result.stdout.strip().splitlines()[-1]
    docker_client.images.get(tag)  # the script's promise: the tag exists now
    return tag


@pytest.fixture(scope="module")
def stack(docker_client: docker.DockerClient, base_image: str) -> Iterator[ComposeStack]:
    """docker-compose.yml up (one daemon) under a unique project name; `down --volumes` afterwards."""
    project = f"fcgihtest{os.getpid()}{uuid.uuid4().hex[:6]}"
    stack = ComposeStack(docker_client, project, base_image, free_port())
    try:
        stack.build()
        stack.compose("up", "--detach")
        stack.wait_healthy("handlers", 1)
        stack.wait_healthy("apache", 1)
    except ComposeError as exc:
        _down_quietly(stack)
        pytest.fail(str(exc), pytrace=False)
    try:
        yield stack
    finally:
        stack.down()


def _down_quietly(stack: ComposeStack) -> None:
    try:
        stack.down()
    except ComposeError:
        pass

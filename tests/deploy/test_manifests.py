"""deploy/kubernetes.yml and deploy/stack.yml without a cluster: valid YAML, and every name in them agrees with what
the images and the daemon read.

The Kubernetes manifest is an example no test here applies to a cluster, so these checks are what keeps it true:
the environment variables it sets are ones the images' entrypoints or mod_python read, ports and probes match the
bind address, the Services select the Deployments' pods, Apache follows the headless Service by its name, the
secret files the daemons are told about are where the Secret is mounted, and the probe is a command the daemon's
CLI accepts. The Swarm stack, tested for real in tests/docker/test_swarm.py, gets the same name checks, so a
mistake shows here in a second rather than after a deployment.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from fcgi_handlers.cli import build_parser
from fcgi_handlers.server.settings import DEFAULT_GRACEFUL_TIMEOUT

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes.yml"
STACK = REPO / "deploy" / "stack.yml"
# Where each image's settings are read: the variables a manifest may set for it.
READERS = {
    "daemon": [REPO / "docker" / "daemon-entrypoint.sh", *sorted((REPO / "mod_python").glob("*.py"))],
    "apache": [REPO / "apache" / "entrypoint.py"],
}
DAEMON_IMAGE, APACHE_IMAGE = "fcgi-handlers", "fcgi-handlers-apache"
DAEMON_UID = re.search(r"--uid (\d+)", (REPO / "Dockerfile").read_text())


def variables_read(image: str) -> set[str]:
    names: set[str] = set()
    for path in READERS[image]:
        names |= set(re.findall(r"\b(FCGI_HANDLERS_[A-Z_]+|APACHE_[A-Z_]+)\b", path.read_text()))
    return names


def kubernetes_documents() -> list[dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc is not None]
    assert documents, "no documents"
    return documents


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in kubernetes_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} documents"
    return matches[0]


def container(deployment: str) -> dict[str, Any]:
    (only,) = find("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def env(spec: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: str(item.get("value", "")) for item in spec.get("env", [])}


def image_name(spec: dict[str, Any]) -> str:
    return str(spec["image"]).rsplit(":", 1)[0]


def test_every_document_is_a_named_kubernetes_object() -> None:
    for document in kubernetes_documents():
        assert {"apiVersion", "kind", "metadata"} <= document.keys(), document
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", document["metadata"]["name"])
    kinds = sorted(d["kind"] for d in kubernetes_documents())
    assert kinds.count("Deployment") == 3 and kinds.count("Service") == 3


def test_deployments_select_their_own_pods_and_services_select_them() -> None:
    labels = {}
    for name in ("handlers", "apache", "redis"):
        spec = find("Deployment", name)["spec"]
        assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items(), name
        labels[name] = spec["template"]["metadata"]["labels"]
    for name in ("handlers", "apache", "redis"):
        service = find("Service", name)["spec"]
        assert service["selector"].items() <= labels[name].items(), name
        assert not any(service["selector"].items() <= labels[other].items() for other in labels if other != name)
    for policy in (d for d in kubernetes_documents() if d["kind"] == "NetworkPolicy"):
        target = policy["spec"]["podSelector"]["matchLabels"]
        assert any(target.items() <= pod.items() for pod in labels.values()), policy["metadata"]["name"]


def test_daemon_listens_where_the_headless_service_and_the_probes_point() -> None:
    daemon = container("handlers")
    assert image_name(daemon) == DAEMON_IMAGE
    settings = env(daemon)
    port = int(settings["FCGI_HANDLERS_BIND"].rpartition(":")[2])
    assert {p["name"]: p["containerPort"] for p in daemon["ports"]} == {"fcgi": port}
    service = find("Service", "handlers")["spec"]
    assert service["clusterIP"] == "None", "Apache needs one DNS record per pod: a headless Service"
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(port, "fcgi")]
    for probe in ("readinessProbe", "livenessProbe"):
        command = daemon[probe]["exec"]["command"]
        assert command[:2] == ["fcgi-handlers", "ping"], probe
        args = build_parser().parse_args(command[1:])   # the daemon's CLI accepts it as written
        assert args.address == f"127.0.0.1:{port}", probe


def test_apache_follows_the_headless_service_with_the_session_class() -> None:
    apache = container("apache")
    assert image_name(apache) == APACHE_IMAGE
    settings = env(apache)
    assert settings["FCGI_HANDLERS_SERVICE"] == find("Service", "handlers")["metadata"]["name"]
    assert settings["FCGI_HANDLERS_PORT"] == env(container("handlers"))["FCGI_HANDLERS_BIND"].rpartition(":")[2]
    assert settings["FCGI_HANDLERS_SESSION_TYPE"] == "RedisSession"


def test_daemon_reaches_redis_and_its_secrets() -> None:
    daemon = container("handlers")
    settings = env(daemon)
    url = re.fullmatch(r"redis://([^:/]+):(\d+)/\d+", settings["FCGI_HANDLERS_REDIS_URL"])
    assert url is not None, settings["FCGI_HANDLERS_REDIS_URL"]
    host, port = url.groups()
    redis_service = find("Service", host)["spec"]
    assert [p["port"] for p in redis_service["ports"]] == [int(port)]
    (mount,) = daemon["volumeMounts"]
    pod = find("Deployment", "handlers")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret = volume["secret"]["secretName"]
    redis_env = container("redis")["env"]
    assert redis_env[0]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "redis_password"}
    for variable, key in (("FCGI_HANDLERS_REDIS_PASSWORD_FILE", "redis_password"),
                          ("FCGI_HANDLERS_SESSION_SECRET_FILE", "session_secret")):
        assert settings[variable] == f"{mount['mountPath']}/{key}"
    assert DAEMON_UID is not None and pod["securityContext"]["runAsUser"] == int(DAEMON_UID.group(1))


def test_stop_delay_and_graceful_timeout_fit_the_grace_period() -> None:
    pod = find("Deployment", "handlers")["spec"]["template"]["spec"]
    delay = int(env(container("handlers"))["FCGI_HANDLERS_STOP_DELAY"])
    assert pod["terminationGracePeriodSeconds"] > delay + DEFAULT_GRACEFUL_TIMEOUT
    strategy = find("Deployment", "handlers")["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 1, "maxUnavailable": 0}


def stack_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(STACK.read_text())["services"]
    return services


def kubernetes_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "daemon", container("handlers")
    yield "apache", container("apache")


@pytest.mark.parametrize("source", ["kubernetes", "stack"])
def test_only_variables_the_images_read(source: str) -> None:
    if source == "kubernetes":
        pairs = [(image, set(env(spec))) for image, spec in kubernetes_containers()]
    else:
        services = stack_services()
        pairs = [("daemon", set(services["handlers"]["environment"])),
                 ("apache", set(services["apache"]["environment"]))]
    for image, names in pairs:
        unknown = names - variables_read(image)
        assert not unknown, f"{source}: the {image} image reads none of {sorted(unknown)}"


def test_stack_names_match_the_images() -> None:
    services = stack_services()
    assert services["handlers"]["image"].startswith("${FCGI_HANDLERS_IMAGE:-" + DAEMON_IMAGE + "}")
    assert services["apache"]["image"].startswith("${FCGI_HANDLERS_APACHE_IMAGE:-" + APACHE_IMAGE + "}")
    apache_env = services["apache"]["environment"]
    assert apache_env["FCGI_HANDLERS_SERVICE"] == "tasks.handlers"
    daemon_env = services["handlers"]["environment"]
    assert daemon_env["FCGI_HANDLERS_BIND"].endswith(":" + apache_env["FCGI_HANDLERS_PORT"])
    assert daemon_env["FCGI_HANDLERS_REDIS_URL"].startswith("redis://redis:")
    for variable in ("FCGI_HANDLERS_REDIS_PASSWORD_FILE", "FCGI_HANDLERS_SESSION_SECRET_FILE"):
        name = Path(daemon_env[variable]).name
        assert daemon_env[variable] == f"/run/secrets/{name}" and name in services["handlers"]["secrets"]
    assert shlex.split(services["handlers"]["healthcheck"]["test"][1])[:2] == ["fcgi-handlers", "ping"]

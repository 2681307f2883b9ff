"""apache/entrypoint.py without Docker: the config it renders, checked against the demo and by a real `apache2 -t`.

The compose stack's Apache config is generated from fcgi_handlers.apache and the demo's blocks at container start;
these tests keep that generation in step with both (a new demo location must appear, routed to the balancer) and
let the local Apache parse the result, so a config error shows here before any image is built.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fcgi_handlers.apache.demo import EXAMPLES

ENTRYPOINT_PATH = Path(__file__).resolve().parents[2] / "apache" / "entrypoint.py"


def _load_entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fcgi_handlers_apache_entrypoint", ENTRYPOINT_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


entrypoint = _load_entrypoint()


def settings(tmp_path: Path, **overrides: object) -> object:
    return entrypoint.Settings(run_dir=str(tmp_path), docroot=str(tmp_path / "htdocs"), **overrides)


def locations(conf: str) -> dict[str, str]:
    """Location/LocationMatch argument -> the section's body."""
    found = re.findall(r'<(Location(?:Match)?) "([^"]*)">\n(.*?)\n</\1>', conf, re.S)
    return {argument: body for _, argument, body in found}


def test_one_balancer_member_per_daemon_address(tmp_path: Path) -> None:
    conf = entrypoint.render(settings(tmp_path, daemon_port=9123), ["10.0.0.7", "10.0.0.5"])
    members = re.findall(r'BalancerMember "([^"]+)" (.*)', conf)
    assert [url for url, _ in members] == ["fcgi://10.0.0.7:9123", "fcgi://10.0.0.5:9123"]
    for _, params in members:
        assert {"enablereuse=on", "hcmethod=TCP", "retry=2"} <= set(params.split())
    assert conf.count('<Proxy "balancer://fcgi-handlers">') == 1


def test_an_unresolved_service_is_the_only_member(tmp_path: Path) -> None:
    conf = entrypoint.render(settings(tmp_path, service="daemons"), [])
    assert re.findall(r'BalancerMember "([^"]+)"', conf) == ["fcgi://daemons:9000"]


def test_every_demo_location_routes_to_the_balancer(tmp_path: Path) -> None:
    conf = entrypoint.render(settings(tmp_path), ["10.0.0.5"])
    blocks = locations(conf)
    for url in ["/whoami", *(url for url, _, _ in EXAMPLES)]:
        assert 'ProxyPass "balancer://fcgi-handlers/"' in blocks[url], url
    # In a <LocationMatch>, only ProxyPassMatch takes the section's regex as a regex.
    assert 'ProxyPassMatch "balancer://fcgi-handlers/"' in blocks["^/$"]
    for url, handler, extra in EXAMPLES:
        assert f'SetEnv PythonHandler "{handler}"' in blocks[url]
        assert all(line in blocks[url] for line in extra)
    assert "Require local" in blocks["/server-status"]


def test_listens_on_every_interface_and_logs_to_the_run_dir(tmp_path: Path) -> None:
    conf = entrypoint.render(settings(tmp_path, listen_port=8081), ["10.0.0.5"])
    assert re.findall(r"^Listen (.*)$", conf, re.M) == ["8081"]
    assert f'ErrorLog "{tmp_path}/error.log"' in conf


def test_session_options_only_with_a_session_dir(tmp_path: Path) -> None:
    option = "PythonOption.mod_python.file_session.database_directory"
    without = entrypoint.render(settings(tmp_path), ["10.0.0.5"])
    with_dir = entrypoint.render(settings(tmp_path, session_dir="/var/lib/x/sessions"), ["10.0.0.5"])
    assert option not in without
    assert f'SetEnv {option} "/var/lib/x/sessions"' in with_dir
    assert 'SetEnv PythonOption.mod_python.session.session_type "FileSession"' in with_dir


def test_session_type_from_the_environment(tmp_path: Path) -> None:
    redis = entrypoint.render(settings(tmp_path, session_type="RedisSession"), ["10.0.0.5"])
    assert 'SetEnv PythonOption.mod_python.session.session_type "RedisSession"' in redis
    assert "FileSession" not in redis and "database_directory" not in redis
    assert entrypoint.Settings.from_environ({"FCGI_HANDLERS_SESSION_TYPE": "RedisSession"}).session_type == \
        "RedisSession"


def test_settings_from_environment() -> None:
    parsed = entrypoint.Settings.from_environ({"FCGI_HANDLERS_SERVICE": "d", "FCGI_HANDLERS_PORT": "9001",
                                              "FCGI_HANDLERS_RESOLVE_INTERVAL": "0.5", "APACHE_LISTEN_PORT": ""})
    assert (parsed.service, parsed.daemon_port, parsed.resolve_interval, parsed.listen_port) == ("d", 9001, 0.5, 80)
    with pytest.raises(SystemExit, match="FCGI_HANDLERS_PORT"):
        entrypoint.Settings.from_environ({"FCGI_HANDLERS_PORT": "nine"})
    with pytest.raises(SystemExit, match="more than 0"):
        entrypoint.Settings.from_environ({"FCGI_HANDLERS_RETRY": "0"})


def test_resolve_returns_every_address_sorted() -> None:
    assert "127.0.0.1" in entrypoint.resolve("localhost", 80)
    assert entrypoint.resolve("127.0.0.3", 80) == ["127.0.0.3"]
    assert entrypoint.resolve("no-such-host.invalid", 80) == []


def test_local_apache_accepts_the_rendered_config(tmp_path: Path) -> None:
    apache2 = shutil.which("apache2", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if apache2 is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("apache2 is not installed (scripts/install-system-deps.sh)")
        pytest.skip("apache2 is not installed")
    (tmp_path / "htdocs").mkdir()
    conf = tmp_path / "httpd.conf"
    conf.write_text(entrypoint.render(settings(tmp_path, session_dir="/srv/s"), ["10.0.0.5", "10.0.0.6"]))
    result = subprocess.run([apache2, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}, check=False)
    assert result.returncode == 0, result.stderr

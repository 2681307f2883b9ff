"""The pytest plugin as a user meets it: a sample project in a temporary directory (one handler, its mod_python
block, three tests: one with `mp_client`, one with `httpd`, one that fails because the handler is wrong), run by
pytest in a subprocess with the plugin loaded from its entry point. Two pass, one fails, and the failure report shows
the response; the same suite with `--fh-against=mod_python` gives the same result from real mod_python."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fcgi_handlers.testing.server import missing

pytestmark = pytest.mark.e2e

HANDLER = '''
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.headers_out["X-Handler"] = "shout"
    req.write((req.args or "quiet").upper())
    return apache.OK
'''
CONFIG = '''
<Location "/shout/">
    SetHandler mod_python
    PythonHandler shout
</Location>
'''
TESTS = '''
def test_in_process(mp_client):
    response = mp_client.get("/shout/?hello")
    assert (response.status, response.text, response.headers["X-Handler"]) == (200, "HELLO", "shout")


def test_through_apache(httpd):
    response = httpd.get("/shout/?abc")
    assert (response.status, response.text) == (200, "ABC")
    assert httpd.url("/shout/").startswith("http://127.0.0.1:")


def test_expects_what_the_handler_does_not_do(mp_client):
    assert mp_client.get("/shout/?whisper").text == "whisper"
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "shout.py").write_text(HANDLER)
    (tmp_path / "mod_python.conf").write_text(CONFIG)
    (tmp_path / "pytest.ini").write_text("[pytest]\nfh_handler_dir = handlers\nfh_config = mod_python.conf\n")
    (tmp_path / "test_sample.py").write_text(TESTS)
    return tmp_path


def run_pytest(project: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args], cwd=project,
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 1, result.stdout + result.stderr   # 1: tests ran and some failed
    return result.stdout


@pytest.mark.parametrize("against", ["daemon", "mod_python"])
def test_sample_project_two_pass_one_fails_with_the_response_shown(project: Path, against: str) -> None:
    reason = missing("mod_python" if against == "mod_python" else "daemon")
    if reason:
        pytest.skip(reason) if not os.environ.get("CI") else pytest.fail(reason)
    output = run_pytest(project, f"--fh-against={against}")
    assert "1 failed, 2 passed" in output, output
    assert "PASSED test_sample.py::test_in_process" in output
    assert "PASSED test_sample.py::test_through_apache" in output
    assert "FAILED test_sample.py::test_expects_what_the_handler_does_not_do" in output
    shown = output.split("fcgi_handlers: last response", 1)[1]
    assert "-> 200 OK" in shown and "X-Handler: shout" in shown and "WHISPER" in shown, output
    if against == "mod_python":
        assert "(mod_python behind Apache)" in shown
    else:
        assert "(in process)" in shown


def test_without_configuration_the_error_says_what_to_set(project: Path) -> None:
    (project / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", "in_process"],
                            cwd=project, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode != 0
    assert "set fh_handler_dir in the pytest ini file" in result.stdout + result.stderr


@pytest.mark.parametrize("against", ["daemon", "mod_python"])
def test_the_example_project_passes_as_the_readme_runs_it(against: str) -> None:
    """`cd examples/pytest-project && ../../.venv/bin/python -m pytest [--fh-against=mod_python]` (the README)."""
    reason = missing("mod_python" if against == "mod_python" else "daemon")
    if reason:
        pytest.skip(reason) if not os.environ.get("CI") else pytest.fail(reason)
    example = Path(__file__).resolve().parents[2] / "examples" / "pytest-project"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--fh-against={against}"],
                            cwd=example, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0 and "3 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_without_apache_httpd_skips_with_the_apt_command_or_fails_under_ci(project: Path, ci: str,
                                                                         outcome: str) -> None:
    # A conftest that makes the plugin see no apache2 binary, as on a machine without it.
    (project / "conftest.py").write_text("import fcgi_handlers.testing.server as server\n"
                                         "server.missing_apache = lambda *modules: ['/usr/sbin/apache2']\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CI": ci}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rsf", "-k",
                             "through_apache"], cwd=project, capture_output=True, text=True, timeout=300, env=env,
                            check=False)
    assert outcome in result.stdout, result.stdout
    assert "install with: sudo apt-get install -y apache2" in result.stdout


def test_a_configuration_mistake_is_one_line_not_a_traceback(project: Path) -> None:
    (project / "mod_python.conf").write_text("PythonHandler shout\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-k", "in_process"],
                            cwd=project, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 1
    assert "fcgi_handlers: line 1: 'PythonHandler shout' is outside a <Location> or <Directory> section" in \
        result.stdout, result.stdout
    assert "Traceback" not in result.stdout and "blocks.py" not in result.stdout

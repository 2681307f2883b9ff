"""scripts/install-system-deps.sh leaves the system Apache startable, shown by starting it, not by `apache2ctl -t`.

`apache2 -t` parses the configuration and loads every module, but mod_wsgi refuses to run beside mod_python only when
Apache starts, so a syntax check passes on a configuration that cannot start. These tests therefore start the
system configuration for real, privately: a copy of /etc/apache2 whose ports.conf listens on a free loopback port,
with its pid file, logs and runtime directory in a temporary directory, started in the foreground and stopped by the
PID this test started. The system's own Apache, its port 80 and its files are never touched.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from e2e.conftest import require_apache
from e2e.system_apache import SystemCopy


@pytest.fixture
def system_copy() -> Iterator[SystemCopy]:
    require_apache("python", "wsgi")
    if os.geteuid() != 0:
        reason = "starting Debian's configuration (User www-data) needs root"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="fcgi-handlers-system-apache-"))
    root.chmod(0o755)
    yield SystemCopy(root)
    shutil.rmtree(root, ignore_errors=True)


def test_the_system_configuration_starts(system_copy: SystemCopy) -> None:
    """What install-system-deps.sh left in /etc/apache2 (scripts/test.sh runs it first) starts and answers."""
    loaded = system_copy.modules()
    assert not {"python_module", "wsgi_module"} <= loaded, (
        "mod_python and mod_wsgi are both enabled: scripts/install-system-deps.sh (scripts/test.sh runs it) "
        "disables them")
    answered, errors = system_copy.start_and_stop()
    assert answered, errors


def test_syntax_check_passes_where_start_fails_and_the_script_repairs_it(system_copy: SystemCopy) -> None:
    system_copy.enable("python", "wsgi")  # what Debian's postinst scripts leave after installing both
    assert {"python_module", "wsgi_module"} <= system_copy.modules()
    assert system_copy.syntax_ok()  # apache2ctl -t is satisfied...
    answered, errors = system_copy.start_and_stop()
    assert not answered and "mod_python" in errors  # ...but Apache does not start
    result = system_copy.install_script()
    assert result.returncode == 0, result.stderr
    assert "disabling both" in result.stderr
    assert not {"python_module", "wsgi_module"} & system_copy.modules()
    answered, errors = system_copy.start_and_stop()
    assert answered, errors

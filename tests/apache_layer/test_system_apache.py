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
import subprocess
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


FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f='${Status}' PACKAGE: installed, except the packages named in $FAKE_MISSING
for pkg; do :; done
for word in $FAKE_MISSING; do [ "$word" = "$pkg" ] && exit 1; done
printf 'install ok installed'
"""
# apt-get install: what Debian's postinst scripts do for the module packages, i.e. enable their module.
FAKE_APT_GET = """#!/bin/sh
case " $* " in *" install "*) ;; *) exit 0 ;; esac
for pkg in "$@"; do
  case "$pkg" in
    libapache2-mod-python) ln -sf ../mods-available/python.load "$APACHE_CONFDIR/mods-enabled/python.load" ;;
    libapache2-mod-wsgi-py3) ln -sf ../mods-available/wsgi.load "$APACHE_CONFDIR/mods-enabled/wsgi.load" ;;
  esac
done
"""


def fake_install(system_copy: SystemCopy, missing: str) -> subprocess.CompletedProcess[str]:
    """install-system-deps.sh on the copy, with `missing` packages "installed" by a stand-in apt-get."""
    bin_dir = system_copy.root / "bin"
    bin_dir.mkdir()
    for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return system_copy.install_script(env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                                           "FAKE_MISSING": missing})


def test_a_fresh_install_leaves_neither_module_enabled(system_copy: SystemCopy) -> None:
    for name in ("python", "wsgi"):
        (system_copy.conf / "mods-enabled" / f"{name}.load").unlink(missing_ok=True)
    result = fake_install(system_copy, "libapache2-mod-python libapache2-mod-wsgi-py3")
    assert result.returncode == 0, result.stderr
    assert "installing libapache2-mod-python libapache2-mod-wsgi-py3" in result.stderr
    assert "disabling python wsgi" in result.stderr
    assert not {"python_module", "wsgi_module"} & system_copy.modules(), result.stderr
    assert system_copy.start_and_stop()[0]


def test_installing_mod_wsgi_keeps_a_sites_own_mod_python(system_copy: SystemCopy) -> None:
    """A mod_python shop: its mod_python stays enabled, the newly installed mod_wsgi is disabled."""
    (system_copy.conf / "mods-enabled" / "wsgi.load").unlink(missing_ok=True)
    system_copy.enable("python")
    result = fake_install(system_copy, "libapache2-mod-wsgi-py3")
    assert result.returncode == 0, result.stderr
    assert "disabling wsgi" in result.stderr
    loaded = system_copy.modules()
    assert "python_module" in loaded and "wsgi_module" not in loaded
    assert system_copy.start_and_stop()[0]

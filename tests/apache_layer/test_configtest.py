"""Apache's own syntax check (`apache2 -t`) accepts every kind of configuration fcgi_handlers.apache renders.

Needs apache2 and its modules: without them these tests fail when CI is set, and skip with the reason otherwise.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import APACHE_BIN, CLEAN_PATH, HANDLERS_DIR, missing_apache
from fcgi_handlers.apache import Backend, httpd_conf, include_snippet, mod_python_block_to_daemon, section

TCP, UNIX = Backend(port=9123), Backend(socket="/run/fh/fh.sock")

MOD_PYTHON_BLOCKS = ['''<Location "/app/">
    SetHandler mod_python
    PythonHandler hello
    PythonFixupHandler hello::fixup
    PythonOption key "a value"
    PythonDebug On
</Location>''', '''<Directory "/srv/py">
    AddHandler mod_python .py
    PythonHandler mod_python.publisher | .py
    PythonPath "sys.path + ['/srv/lib']"
    <Files "admin.py">
        PythonAuthenHandler admin
        AuthType Basic
        AuthName "admin"
        Require valid-user
    </Files>
</Directory>''']


def configtest(tmp_path: Path, **kwargs: Any) -> None:
    missing = missing_apache("python", "wsgi", "mpm_prefork")
    if missing:
        reason = f"not installed: {', '.join(missing)} (run scripts/install-system-deps.sh)"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    (tmp_path / "htdocs").mkdir()
    conf = tmp_path / "httpd.conf"
    text = httpd_conf(port=8080, run_dir=str(tmp_path), docroot=str(tmp_path / "htdocs"), **kwargs)
    conf.write_text(text)
    result = subprocess.run([APACHE_BIN, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60,
                            env={"PATH": CLEAN_PATH, "LANG": "C"})
    assert result.returncode == 0 and "Syntax OK" in result.stderr, result.stderr + conf.read_text()


@pytest.mark.parametrize("backend", [TCP, UNIX])
def test_include_snippet_in_a_full_config(tmp_path: Path, backend: Backend) -> None:
    configtest(tmp_path, blocks=[include_snippet(backend)], user="www-data", group="www-data")


@pytest.mark.parametrize("backend", [TCP, UNIX])
def test_translated_mod_python_blocks(tmp_path: Path, backend: Backend) -> None:
    blocks = [mod_python_block_to_daemon(block, backend) for block in MOD_PYTHON_BLOCKS]
    configtest(tmp_path, blocks=blocks, backend=backend, reuse=False)


def test_original_mod_python_blocks_under_prefork(tmp_path: Path) -> None:
    configtest(tmp_path, blocks=MOD_PYTHON_BLOCKS, mpm="prefork", modules=["python"],
               global_lines=[f"PythonPath \"['{HANDLERS_DIR}'] + sys.path\""])


def test_mod_wsgi_daemon_mode(tmp_path: Path) -> None:
    script = tmp_path / "hello.wsgi"
    script.write_text("def application(environ, start_response):\n    return []\n")
    configtest(tmp_path, modules=["wsgi"], backend=TCP, global_lines=[
        f'WSGISocketPrefix "{tmp_path}/wsgi"',
        "WSGIDaemonProcess hello processes=2 threads=15",
        f'WSGIScriptAlias /wsgi "{script}" process-group=hello application-group=%{{GLOBAL}}',
        section("Directory", str(tmp_path), ["Require all granted"]),
    ])

"""Where Apache lives on this host: its binary, its module directory, and the PATH it is started with.

Debian's layout is the default. Everything that starts Apache or writes `LoadModule` lines takes these names from
here, so another layout is a change in one place.
"""
from __future__ import annotations

import shutil
from typing import Optional

APACHE_BIN = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
# mod_python's embedded interpreter picks up the Python prefix of whatever virtualenv is first on PATH, so Apache is
# always started with the system's directories only.
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def find_httpd() -> Optional[str]:
    """Path of the apache2/httpd binary on CLEAN_PATH, or None."""
    for name in ("apache2", "httpd"):
        found = shutil.which(name, path=CLEAN_PATH)
        if found:
            return found
    return None

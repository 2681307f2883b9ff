"""`mod_python.version`: the version names mod_python 3.5 publishes, answered for this daemon.

Code checks `mod_python.version.version` (and `mp_version`) to learn what it runs under; the value keeps mod_python's
API level first, so version comparisons that test for 3.5 still pass, and names fcgi_handlers after it, so a log line
or a diagnostic page says which implementation served it. The build names (`HTTPD`, `LIBEXECDIR`, ...) describe the
Apache mod_python was compiled against; the daemon is built against none, so they are empty, apart from
`PYTHON_BIN`, the interpreter running the daemon.
"""
from __future__ import annotations

import sys

from fcgi_handlers import __version__ as _daemon_version

__all__ = ["APR_VERSION", "HTTPD", "HTTPD_VERSION", "LIBEXECDIR", "MP_API_VERSION", "PYTHON_BIN", "SYSCONFDIR",
           "version"]

# The mod_python release whose API the daemon implements.
MP_API_VERSION = "3.5.0"
version = f"{MP_API_VERSION} (fcgi_handlers {_daemon_version}, FastCGI daemon, not mod_python)"

# mod_python's build-time names: no Apache is compiled in, so there is no httpd, APR or module directory to report.
HTTPD = ""
HTTPD_VERSION = ""
APR_VERSION = ""
LIBEXECDIR = ""
SYSCONFDIR = ""
PYTHON_BIN = sys.executable

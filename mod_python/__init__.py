"""mod_python's import names, served by fcgi_handlers.

Handler code keeps `from mod_python import apache` (and `util`, `Cookie`, `Session`, `publisher`, `psp`, `wsgi`,
`cgihandler`, `cache`, `httpdconf`, `testhandler`, `python22`, `version`): every module of mod_python 3.5's package,
giving its API on top of the daemon's request and dispatch layers. `mp_version` is `version.version`, as in
mod_python.
"""
from . import version

__all__ = ["apache", "cache", "cgihandler", "Cookie", "httpdconf", "psp", "publisher", "python22", "Session",
           "testhandler", "util", "version", "wsgi"]

mp_version = version.version

"""The PEP 3333 environ of a WSGI application, built from the FastCGI params Apache sends. Pure: no I/O.

Rule: every CGI variable comes from the params, as bytes-as-Latin-1 native strings (PEP 3333 "Unicode issues"), so an
application decodes `PATH_INFO.encode("latin-1")` as UTF-8 exactly as under mod_wsgi. The daemon's own params
(Python*, FCGI_HANDLERS_*, the authorizer's password) never reach the environ.

SCRIPT_NAME/PATH_INFO: Apache splits them itself in a `<Directory>` (`SetHandler "proxy:fcgi://..."`), and they are
passed on. Under `ProxyPass /prefix/ fcgi://...` it sends the whole decoded path as SCRIPT_NAME and no PATH_INFO;
the application then sees SCRIPT_NAME "" and PATH_INFO = that path (mounted at the root), or, when the block sets
`SetEnv FCGI_HANDLERS_WSGI_MOUNT /prefix`, SCRIPT_NAME "/prefix" and PATH_INFO the rest. PATH_INFO is never cut from the
raw REQUEST_URI by SCRIPT_NAME's length, as flup's `_sanitizeEnv` does: the URI is percent-encoded and SCRIPT_NAME
decoded, so any encoded character shifts the cut.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from fcgi_handlers.request.params import is_daemon_param

# The block's mount point for ProxyPass routes (see above): a daemon param, so handlers never see it.
MOUNT_PARAM = "FCGI_HANDLERS_WSGI_MOUNT"

# PEP 3333 requires these; Apache always sends them, a hand-made FastCGI client may not.
_REQUIRED = (("REQUEST_METHOD", "GET"), ("SERVER_NAME", "localhost"), ("SERVER_PORT", "80"),
             ("SERVER_PROTOCOL", "HTTP/1.0"), ("QUERY_STRING", ""))


def native(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    """Params as WSGI's native strings: names and values bytes-as-Latin-1."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw.items()}


def split_script(params: Mapping[str, str]) -> tuple[str, str]:
    """(SCRIPT_NAME, PATH_INFO) for the application, as the module docstring describes."""
    script_name = params.get("SCRIPT_NAME", "")
    path_info = params.get("PATH_INFO")
    if path_info is not None:
        return script_name, path_info
    mount = params.get(MOUNT_PARAM, "").rstrip("/")
    if mount and (script_name == mount or script_name.startswith(mount + "/")):
        return mount, script_name[len(mount):]
    return "", script_name


def url_scheme(params: Mapping[str, str]) -> str:
    """`https` when Apache says the client connection is TLS (REQUEST_SCHEME, or HTTPS=on as mod_ssl sets)."""
    if params.get("REQUEST_SCHEME", "").lower() == "https" or params.get("HTTPS", "").lower() in ("on", "1"):
        return "https"
    return "http"


def build_environ(params: Mapping[str, str], *, input: Any, errors: Any, multithread: bool, multiprocess: bool,
                  extra: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The environ for one request: CGI variables from `params` (native strings), then `extra` (flup's `environ`
    argument: the server's own additions), then the wsgi.* keys."""
    environ: dict[str, Any] = {name: value for name, value in params.items() if not is_daemon_param(name)}
    environ["SCRIPT_NAME"], environ["PATH_INFO"] = split_script(params)
    for name, default in _REQUIRED:
        environ.setdefault(name, default)
    if extra:
        environ.update(extra)
    environ.update({
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url_scheme(params),
        "wsgi.input": input,
        # The body ends where FCGI_STDIN ends, so reading to EOF is safe (the mod_wsgi/gunicorn extension key).
        "wsgi.input_terminated": True,
        "wsgi.errors": errors,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
    })
    return environ

"""Pure functions from Apache's FastCGI params to the values mod_python's request attributes hold.

Rule: everything the request object knows about the request comes from the params mod_proxy_fcgi sends
(`docs/apache-facts.md` §2), derived here by small functions without I/O so each can be tested from a dict.
Strings are decoded as mod_python decodes what comes out of Apache: UTF-8, except the user name and password, which
are Latin-1; a value that is not UTF-8 falls back to Latin-1 instead of raising (mod_python raises there).

Paths (`resolve_paths`) are the delicate part, because Apache sends different shapes for the two ways of routing:
- `ProxyPass /p/ fcgi://h:port/...` (mod_python's `<Location>` equivalent): SCRIPT_NAME is the whole decoded path,
  no PATH_INFO, SCRIPT_FILENAME is `proxy:fcgi://h:port/<backend path>`; mod_python inside `<Location>` has
  `uri` = that path and `filename` = `path_info` = None.
- `SetHandler "proxy:fcgi://h:port"` in `<Directory>` (mod_python's `<Directory>` equivalent): Apache maps the URI to
  a file first, so SCRIPT_NAME/PATH_INFO are split and SCRIPT_FILENAME is `proxy:fcgi://h:port/<file>` (FPM backend
  type) or the bare file path (GENERIC); mod_python gives `filename` = the file, `path_info` = the rest ('' if none).
`auto` tells them apart by whether SCRIPT_FILENAME is the document-root mapping of SCRIPT_NAME (what Apache's URI to
file walk produces, Alias included via CONTEXT_PREFIX/CONTEXT_DOCUMENT_ROOT). PATH_INFO is never computed from the raw
REQUEST_URI by length: the URI is encoded and SCRIPT_NAME decoded, so lengths differ (flup's `_sanitizeEnv` bug).
"""

from __future__ import annotations

import functools
import posixpath
import re
from typing import Literal, Mapping, NamedTuple, Optional, Tuple
from urllib.parse import unquote, urlsplit

PathMode = Literal["auto", "location", "directory"]

# mod_python decodes these as Latin-1 (`req.user`, the basic-auth password); Apache copies them byte for byte.
LATIN1_PARAMS = frozenset({"REMOTE_USER", "REDIRECT_REMOTE_USER", "REMOTE_PASSWD"})

# The variables Apache's ap_add_cgi_vars() computes; mod_python's req.add_cgi_vars() (re)adds them.
CGI_VARIABLES = ("GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING", "REQUEST_URI",
                 "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "SCRIPT_FILENAME")

# The variables Apache's ap_add_common_vars() computes (besides HTTP_*): mod_python's subprocess_env holds them only
# after req.add_common_vars()/add_cgi_vars(); mod_proxy_fcgi sends them all, so the request layer holds them back.
COMMON_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR",
                    "SERVER_PORT", "REMOTE_HOST", "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME", "CONTEXT_PREFIX",
                    "CONTEXT_DOCUMENT_ROOT", "SERVER_ADMIN", "SCRIPT_FILENAME", "REMOTE_PORT", "REMOTE_USER",
                    "AUTH_TYPE", "REMOTE_IDENT", "REDIRECT_URL", "REDIRECT_QUERY_STRING", "CONTENT_TYPE",
                    "CONTENT_LENGTH")

# Params that carry the daemon's configuration, never Apache variables a handler could see under mod_python: the
# Python* directives and PythonOption.* (SetEnv lines of the translation), AuthName/AuthType, the authorizer's
# FCGI_HANDLERS_* answers, the basic-auth password mod_authnz_fcgi sends; and their REDIRECT_ copies.
_DAEMON_PREFIXES = ("Python", "FCGI_HANDLERS_")
_DAEMON_NAMES = frozenset({"AuthName", "AuthType", "REMOTE_PASSWD"})


def is_daemon_param(name: str) -> bool:
    """True for a param that configures the daemon (see _DAEMON_PREFIXES), which subprocess_env never shows."""
    bare = name[len("REDIRECT_"):] if name.startswith("REDIRECT_") else name
    return bare.startswith(_DAEMON_PREFIXES) or bare in _DAEMON_NAMES


def environment_pairs(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """mod_python's initial subprocess_env: what Apache's modules set (SetEnv, SetEnvIf, REDIRECT_*, ...), that is
    the params less the request headers, the common and CGI variables and the daemon's own params."""
    computed = set(COMMON_VARIABLES) | set(CGI_VARIABLES)
    return [(name, value) for name, value in params.items()
            if not name.startswith("HTTP_") and name not in computed and not is_daemon_param(name)]


# Request headers that reach a FastCGI backend without the HTTP_ prefix (RFC 3875 §4.1.2, §4.1.3).
_UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")

_PROXY_PREFIX = re.compile(r"^proxy:(?:fcgi|balancer)://[^/]*")
_PROTOCOL = re.compile(r"^HTTP/(\d+)\.(\d+)$")

ParsedUri = Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str], Optional[int],
                  Optional[str], Optional[str], Optional[str]]


def decode_params(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    """FastCGI params as str: names Latin-1 (they are ASCII), values UTF-8 with a Latin-1 fallback per value."""
    try:
        # One comprehension for the usual case (every value valid UTF-8), the fastest of the shapes tried
        # (benchmarks/README.md); a value that is not UTF-8 sends every value through the per-value fallback.
        decoded = {name.decode("latin-1"): value.decode("utf-8") for name, value in raw.items()}
    except UnicodeDecodeError:
        decoded = {name.decode("latin-1"): _decode_value(value) for name, value in raw.items()}
    for name in LATIN1_PARAMS.intersection(decoded):
        decoded[name] = raw[name.encode("latin-1")].decode("latin-1")
    return decoded


def _decode_value(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class RequestPaths(NamedTuple):
    """What mod_python would hold in req.uri, req.filename and req.path_info, and which rule produced them."""

    uri: str
    filename: Optional[str]
    path_info: Optional[str]
    mode: Literal["location", "directory"]


def script_file_path(script_filename: str) -> str:
    """SCRIPT_FILENAME without mod_proxy_fcgi's `proxy:fcgi://host:port` prefix (FPM backend type) or `?query`."""
    match = _PROXY_PREFIX.match(script_filename)
    if match is None:
        return script_filename  # GENERIC backend type: already a plain path
    rest = script_filename[match.end():]
    return rest.split("?", 1)[0] or "/"


def _document_root_file(params: Mapping[str, str], file_path: str) -> Optional[str]:
    """`file_path` (or its decoded form) if it is what Apache's URI-to-file walk gives for SCRIPT_NAME, else None."""
    root = params.get("CONTEXT_DOCUMENT_ROOT") or params.get("DOCUMENT_ROOT")
    prefix = params.get("CONTEXT_PREFIX", "")
    script_name = params.get("SCRIPT_NAME")
    if not root or script_name is None or not script_name.startswith(prefix):
        return None
    return _mapped_file(root, prefix, script_name, file_path)


# A pure function of four strings (unquote, normpath) called with the same URLs again and again: cached.
@functools.lru_cache(maxsize=1024)
def _mapped_file(root: str, prefix: str, script_name: str, file_path: str) -> Optional[str]:
    # Apache before 2.4.63 re-encoded SCRIPT_FILENAME in SetHandler mode: then the decoded form is the file.
    candidates = (file_path, unquote(file_path)) if "%" in file_path else (file_path,)
    # A file under the document root starts with it; most requests (ProxyPass) are rejected here, before normpath.
    root_text = posixpath.normpath(root).lstrip("/")
    expected: Optional[str] = None
    for candidate in candidates:
        if not candidate.lstrip("/").startswith(root_text):
            continue
        if expected is None:
            expected = posixpath.normpath(root + "/" + script_name[len(prefix):])
        if posixpath.normpath(candidate) == expected:
            return candidate
    return None


def _request_uri_path(params: Mapping[str, str]) -> str:
    # Only when Apache sent no SCRIPT_NAME at all (not seen from mod_proxy_fcgi): the decoded REQUEST_URI path.
    raw = params.get("REQUEST_URI", "/").split("?", 1)[0]
    try:
        return unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return unquote(raw, encoding="latin-1")


def resolve_paths(params: Mapping[str, str], mode: PathMode = "auto") -> RequestPaths:
    """req.uri / req.filename / req.path_info for a request routed as `<Location>` or `<Directory>` (see module doc)."""
    script_name = params.get("SCRIPT_NAME")
    path_info = params.get("PATH_INFO")
    uri = script_name + (path_info or "") if script_name is not None else _request_uri_path(params)
    script_filename = params.get("SCRIPT_FILENAME")
    file_path = script_file_path(script_filename) if script_filename else None
    if mode == "auto":
        mapped = _document_root_file(params, file_path) if file_path else None
        mode = "location" if mapped is None else "directory"
        file_path = mapped or file_path
    if mode == "directory":
        # '' when Apache mapped no extra path; None when the request was redirected inside Apache (mod_dir's fast
        # redirect to index.html leaves SCRIPT_NAME != the requested path; others set REDIRECT_URL): the new request
        # has no path_info at all (observed with mod_python).
        if path_info is None:
            redirected = "REDIRECT_URL" in params or (script_name is not None and _request_uri_path(params) != uri)
            path_info = None if redirected else ""
        return RequestPaths(uri, file_path, path_info, "directory")
    # <Location>: no file. A PATH_INFO the admin asked for (proxy-fcgi-pathinfo, ProxyFCGISetEnvIf) is passed on.
    return RequestPaths(uri, None, path_info, "location")


def header_name(cgi_name: str) -> str:
    """`USER_AGENT` -> `User-Agent`: Apache upper-cases and turns `-` into `_`, so Title-Case is the best guess."""
    return "-".join(part.capitalize() for part in cgi_name.split("_"))


def request_header_pairs(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """headers_in entries from HTTP_* and CONTENT_TYPE/CONTENT_LENGTH, in the order Apache sent them."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if name.startswith("HTTP_") and len(name) > 5:
            pairs.append((header_name(name[5:]), value))
        elif name in _UNPREFIXED_HEADERS:
            pairs.append((header_name(name), value))
    return pairs


def split_host(host: str) -> tuple[str, Optional[int]]:
    """`Example.COM:8080` -> (`example.com`, 8080); `[::1]` -> (`::1`, None). Lower-cased as Apache's r->hostname."""
    host = host.strip()
    port: Optional[int] = None
    if host.startswith("["):
        end = host.find("]")
        name, rest = (host[1:end], host[end + 1:]) if end > 0 else (host, "")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    if port_text.isascii() and port_text.isdigit():  # str.isdigit() also accepts digits int() refuses ('¹')
        port = int(port_text)
    return name.lower(), port


def request_hostname(params: Mapping[str, str]) -> Optional[str]:
    """req.hostname: the Host header's name (Apache's r->hostname), else SERVER_NAME."""
    host = params.get("HTTP_HOST")
    if host:
        return split_host(host)[0]
    return params.get("SERVER_NAME")


def request_args(params: Mapping[str, str]) -> Optional[str]:
    """req.args: the raw query; None when the request target had no `?`, '' for a bare `?` (observed)."""
    query = params.get("QUERY_STRING", "")
    if query:
        return query
    return "" if "?" in params.get("REQUEST_URI", "") else None


def protocol_number(protocol: str) -> int:
    """req.proto_num: `HTTP/1.1` -> 1001 (major * 1000 + minor); 1000 when unparsable."""
    match = _PROTOCOL.match(protocol)
    return int(match.group(1)) * 1000 + int(match.group(2)) if match else 1000


def parsed_uri(params: Mapping[str, str], path: str, query: Optional[str]) -> ParsedUri:
    """req.parsed_uri: Apache fills only path, query and the Host header's port for an origin-form target."""
    target = params.get("REQUEST_URI", "")
    if "://" in target.split("?", 1)[0]:
        # Absolute-form request line (`GET http://host/x HTTP/1.1`): Apache parses every part. urlsplit refuses an
        # unbalanced IPv6 bracket, and `.port` a port that is not a number up to 65535: that part is then None.
        try:
            parts = urlsplit(target)
        except ValueError:
            return (None, None, None, None, None, None, path, query, None)
        try:
            port = parts.port
        except ValueError:
            port = None
        return (parts.scheme or None, parts.netloc or None, parts.username, parts.password,
                parts.hostname, port, path, query, parts.fragment or None)
    port = split_host(params["HTTP_HOST"])[1] if params.get("HTTP_HOST") else None
    return (None, None, None, None, None, port, path, query, None)


def optional_int(text: Optional[str]) -> Optional[int]:
    """An int param (REMOTE_PORT, SERVER_PORT), None when absent or not a number."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None

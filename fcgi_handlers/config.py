"""Daemon settings, each declared once.

A setting has a name, a command-line flag, a parser/validator, a default and a one-line description; the `serve`
command line, the TOML config file and the README's table all come from `SETTINGS`. Precedence: defaults, then the
config file, then flags given on the command line. Settings here are what Apache must *not* control (bind, workers,
import paths): per-location behaviour (PythonHandler, PythonDebug, options) arrives as FastCGI params instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from fcgi_handlers.dispatch import trust
from fcgi_handlers.dispatch.runtime import ImportSpec, parse_import_spec
from fcgi_handlers.server import clients
from fcgi_handlers.server import settings as server_defaults
from fcgi_handlers.server import identity as server_identity
from fcgi_handlers.server.identity import RunAs, group_id, user_id

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python < 3.11
    import tomli as tomllib


class ConfigError(ValueError):
    """A setting has a value the daemon cannot use; the message names the setting."""


def _positive_int(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _non_negative_int(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _positive_float(value: Any) -> float:
    number = float(value)
    if not 0 < number < float("inf"):  # NaN fails this too
        raise ValueError("must be a number more than 0")
    return number


def _bind(value: Any) -> str:
    text = str(value)
    if text.startswith("unix:"):
        if not text[5:]:
            raise ValueError(f"{text!r}: unix: needs a socket path")
        return text
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT or unix:PATH")
    return text


def _bind_list(value: Any) -> tuple[str, ...]:
    # Several addresses: e.g. a unix socket for mod_proxy_fcgi plus a loopback port for mod_authnz_fcgi (TCP only).
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise ValueError("at least one address is needed")
    return tuple(dict.fromkeys(_bind(item) for item in items))


def _import_list(value: Any) -> list[ImportSpec]:
    items = [value] if isinstance(value, str) else list(value)
    specs = []
    for item in items:
        try:
            specs.append(item if isinstance(item, ImportSpec) else parse_import_spec(str(item)))
        except ValueError as exc:
            raise ValueError(f"{item!r}: {exc}") from None
    return specs


def _octal_mode(value: Any) -> int:
    mode = value if isinstance(value, int) else int(str(value), 8)
    if not 0 <= mode <= 0o777:
        raise ValueError("expected permission bits in octal, 0 to 777 (e.g. 660)")
    return mode


def _directory_list(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    result = []
    for item in items:
        path = os.path.realpath(os.path.expanduser(str(item)))
        if not os.path.isdir(path):
            raise ValueError(f"{item!r} is not a directory")
        result.append(path)
    return result


def _optional_str(value: Any) -> Optional[str]:
    return None if value in (None, "") else str(value)


def _wsgi_spec(value: Any) -> Optional[str]:
    if value in (None, ""):
        return None
    from fcgi_handlers.wsgi import parse_app_spec

    parse_app_spec(str(value))   # AppSpecError is a ValueError: reported with the setting's name
    return str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "on", "true", "yes"):
        return True
    if text in ("0", "off", "false", "no"):
        return False
    raise ValueError("expected on/off")


def _allowed_clients(value: Any) -> Optional[tuple[str, ...]]:
    return None if value in (None, "", []) else clients.parse_entries(value)


def _fixed_params(value: Any) -> tuple[tuple[str, str], ...]:
    # A TOML table ({PythonDebug = "Off"}) or KEY=VALUE strings; a key given twice keeps its last value.
    items = [f"{k}={v}" for k, v in value.items()] if isinstance(value, Mapping) else (
        [value] if isinstance(value, str) else list(value))
    return tuple(dict(trust.parse_fixed(str(item)) for item in items).items())


def _allowed_params(value: Any) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    return trust.parse_allowed([value] if isinstance(value, str) else [str(item) for item in value])


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    metavar: Optional[str] = None
    repeatable: bool = False
    is_flag: bool = False
    shown_default: Optional[str] = None  # for the docs, where the default depends on the machine


SETTINGS: tuple[Setting, ...] = (
    Setting("bind", "--bind", _bind_list, "127.0.0.1:9000",
            "where to listen: HOST:PORT or unix:PATH (repeatable: mod_authnz_fcgi needs a HOST:PORT)", "ADDR",
            repeatable=True),
    Setting("workers", "--workers", _positive_int, server_defaults.default_workers(),
            "worker processes; the default leaves half the CPUs to Apache on a shared host", "N",
            shown_default="CPUs / 2, at least 1"),
    Setting("threads", "--threads", _positive_int, server_defaults.DEFAULT_THREADS,
            "request threads per worker process", "N"),
    Setting("path", "--path", _directory_list, [],
            "directory handler modules may be imported from (repeatable); nothing else is importable",
            "DIR", repeatable=True),
    Setting("imports", "--import", _import_list, [],
            "PythonImport run in each worker at start: MODULE[::FUNC] [INTERPRETER] (repeatable)", "SPEC",
            repeatable=True),
    Setting("handler", "--handler", _optional_str, None,
            "PythonHandler used when Apache sends none (MODULE[::OBJECT])", "SPEC"),
    Setting("debug", "--debug", _bool, False,
            "log at debug level, and PythonDebug On where Apache sends no PythonDebug", is_flag=True),
    Setting("socket_mode", "--socket-mode", _octal_mode, server_defaults.DEFAULT_SOCKET_MODE,
            "permissions of a unix socket (octal)", "MODE"),
    Setting("socket_owner", "--socket-owner", user_id, None,
            "owner of a unix socket, USER or uid (default: --user, else whoever starts the daemon)", "USER"),
    Setting("socket_group", "--socket-group", group_id, None,
            "group of a unix socket: www-data lets Debian's Apache connect (default: --group)", "GROUP"),
    Setting("user", "--user", user_id, None,
            "started as root: workers switch to this account once the sockets are bound", "USER"),
    Setting("group", "--group", group_id, None,
            "the workers' group (default: the --user account's own group)", "GROUP"),
    Setting("graceful_timeout", "--graceful-timeout", _positive_float, server_defaults.DEFAULT_GRACEFUL_TIMEOUT,
            "seconds in-flight requests get to finish on SIGTERM/SIGHUP", "SECS"),
    Setting("max_requests", "--max-requests", _non_negative_int, 0,
            "recycle a worker after this many requests (0: never)", "N"),
    Setting("max_params_size", "--max-params-size", _positive_int, server_defaults.DEFAULT_MAX_PARAMS_SIZE,
            "largest FastCGI params block accepted, in bytes ", "BYTES"),
    Setting("wsgi", "--wsgi", _wsgi_spec, None,
            "serve this WSGI application (MODULE:APP) directly, without the mod_python layer", "MODULE:APP"),
    Setting("spool_threshold", "--spool-threshold", _non_negative_int, server_defaults.DEFAULT_STDIN_SPOOL_THRESHOLD,
            "request bodies past this many bytes are spooled to a temporary file", "BYTES"),
    # Who may drive the daemon (docs/security.md).
    Setting("allowed_clients", "--allowed-clients", _allowed_clients, None,
            "peers a TCP bind accepts: IPs, CIDR ranges, host names, comma-separated (repeatable); others are "
            "closed at accept", "ADDR[,ADDR...]", repeatable=True,
            shown_default="loopback only on a loopback bind, else anyone"),
    Setting("fixed", "--fixed", _fixed_params, (),
            "pin a directive whatever the client sends, e.g. PythonDebug=Off (repeatable)", "KEY=VALUE",
            repeatable=True, shown_default="none"),
    Setting("allow_params", "--allow-params", _allowed_params, None,
            "the only Python* params honoured (PythonOption.* for all options), comma-separated (repeatable); "
            "others are ignored with a log line", "NAME[,NAME...]", repeatable=True, shown_default="all"),
)


def _url_path(value: Any) -> Optional[str]:
    text = _optional_str(value)
    if text is not None and not text.startswith("/"):
        raise ValueError("expected a URL path starting with /")
    return text


def _seconds_or_off(value: Any) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number of seconds, 0 (off) or more") from None
    if not 0 <= number < float("inf"):  # NaN fails this too
        raise ValueError("must be 0 (off) or more")
    return number


def _append_file(value: Any) -> Optional[str]:
    """A log file the daemon can append to (created if missing), so a typo fails at start, not in every worker."""
    text = _optional_str(value)
    if text is None or text == "-":
        return text
    path = os.path.abspath(os.path.expanduser(text))
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
    except OSError as exc:
        raise ValueError(f"cannot append to {path}: {exc.strerror or exc}") from None
    return path


def _slowlog_file(value: Any) -> Optional[str]:
    if _optional_str(value) == "-":
        raise ValueError("expected a file (without --slowlog, entries go to the daemon's log)")
    return _append_file(value)


# Operations: status page, slow log, request timeout, access log (README "Operations").
SETTINGS += (
    Setting("status_path", "--status-path", _url_path, None,
            "URL path the daemon answers with its status page (?json, ?openmetrics, ?html, ?full); off by default",
            "PATH"),
    Setting("slowlog_timeout", "--slowlog-timeout", _seconds_or_off, 0.0,
            "log the Python stack of a request still running after this many seconds (0: off)", "SECS"),
    Setting("slowlog", "--slowlog", _slowlog_file, None,
            "file the slow-log entries are appended to (default: the daemon's log)", "FILE"),
    Setting("request_timeout", "--request-timeout", _seconds_or_off, 0.0,
            "answer 504 for a request running this long and replace its worker (0: never)", "SECS"),
    Setting("access_log", "--access-log", _append_file, None,
            "one line per request (combined format, duration, pid) to FILE, or - for stdout; off by default",
            "FILE"),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Config:
    """The resolved settings; attribute names are the setting names."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--config` and one flag per setting; unset flags stay None so the file and defaults show through."""
    parser.add_argument("--config", metavar="FILE", help="TOML file with any of the settings below")
    for setting in SETTINGS:
        if setting.is_flag:
            parser.add_argument(setting.flag, dest=setting.name, action="store_const", const=True,
                                default=None, help=setting.help)
        else:
            parser.add_argument(setting.flag, dest=setting.name, metavar=setting.metavar, default=None,
                                action="append" if setting.repeatable else "store", help=setting.help)


def _parse(setting: Setting, raw: Any, source: str) -> Any:
    try:
        return setting.parse(raw)
    except (TypeError, ValueError) as exc:
        if source != "command line":
            raise ConfigError(f"{source}: {setting.name} = {raw!r}: {exc}") from None
        # A repeatable flag's error names the item already; a single value is shown as typed.
        shown = "" if setting.repeatable or setting.is_flag else f" {raw!r}"
        raise ConfigError(f"{setting.flag}{shown}: {exc}") from None


def load(config_file: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Resolve defaults < config file < overrides (values None are ignored)."""
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{config_file}: {exc}") from None
        for key, raw in data.items():
            setting = _BY_NAME.get(key.replace("-", "_"))
            if setting is None:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[setting.name] = _parse(setting, raw, config_file)
    for key, raw in (overrides or {}).items():
        if raw is None or key not in _BY_NAME:
            continue
        values[key] = _parse(_BY_NAME[key], raw, "command line")
    return Config(values)


def from_namespace(namespace: argparse.Namespace) -> Config:
    """Build a Config from `serve`'s parsed arguments."""
    overrides = {s.name: getattr(namespace, s.name, None) for s in SETTINGS}
    return load(getattr(namespace, "config", None), overrides)


def markdown_table(settings: Sequence[Setting] = SETTINGS) -> str:
    """The README's settings table."""
    rows = ["| setting / flag | default | meaning |", "|---|---|---|"]
    for s in settings:
        default = s.shown_default or (oct(s.default) if s.name == "socket_mode" else repr(s.default))
        rows.append(f"| `{s.name}` / `{s.flag}` | `{default}` | {s.help} |")
    return "\n".join(rows)


def bind_address(value: str) -> str:
    """One `--bind` address, checked (`ValueError` names it): HOST:PORT or unix:PATH."""
    return _bind(value)


def identities(cfg: Config) -> tuple[Optional[RunAs], Optional[int], Optional[int]]:
    """`serve`'s identity settings as the server layer takes them: the workers' identity, then the unix socket's
    owner and group (each defaulting to the workers' user and group, as php-fpm's listen.owner does). Raises
    ConfigError when they cannot work: no unix socket to give, or a switch this process has no right to make."""
    run_as = server_identity.run_as(cfg.user, cfg.group)
    owner: Optional[int] = cfg.socket_owner
    group: Optional[int] = cfg.socket_group
    if run_as is not None:
        owner = run_as.uid if owner is None and cfg.user is not None else owner
        group = run_as.gid if group is None else group
    if (cfg.socket_owner is not None or cfg.socket_group is not None) and not any(
            address.startswith("unix:") for address in cfg.bind):
        raise ConfigError("--socket-owner/--socket-group: no unix:PATH in --bind (a TCP port has no owner)")
    try:
        server_identity.check_switch(run_as)
    except PermissionError as exc:
        raise ConfigError(f"--user/--group: {exc}") from None
    try:
        if any(address.startswith("unix:") for address in cfg.bind):
            server_identity.check_chown(owner, group)
    except PermissionError as exc:
        raise ConfigError(f"--socket-owner/--socket-group: {exc}") from None
    return run_as, owner, group


def require_path(cfg: Config) -> None:
    """`serve` without an import directory would answer every request with an import error: refuse to start. A WSGI
    application (`--wsgi`) is imported at start, from --path or the working directory, so it needs none."""
    if not cfg.path and not cfg.wsgi:
        raise ConfigError("no --path: name the directory your handler modules live in (repeatable; or `path` in "
                          "the --config file); the daemon imports handlers from nowhere else")

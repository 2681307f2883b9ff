"""The server layer's settings: one frozen dataclass, validated once, read by the arbiter and every worker.

The arbiter is the only place that turns these into behaviour, and it forks workers that inherit the object, so the
settings must be plain data (no open files, no callables). The CLI and the config file are mapped onto this class by
the layer above; every default here names the precedent it follows, so a reader can tell a measured choice from a
guess. Durations are seconds as floats, sizes are bytes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Final, Optional, Tuple, Union

from .identity import RunAs
# Re-exported: the protocol layer owns the limit, the CLI reads every default from this module.
from ..protocol.constants import DEFAULT_MAX_PARAMS_SIZE as DEFAULT_MAX_PARAMS_SIZE

# Unix socket permissions: Apache's user (via its group) may connect, nobody else (docs/apache-facts.md §9).
DEFAULT_SOCKET_MODE: Final = 0o660

# mod_wsgi daemon mode's defaults (threads=15, listen-backlog=100) are the anchor; the backlog is larger because
# Apache opens up to MaxRequestWorkers backend connections at once when a pool is cold (docs/apache-facts.md §3).
DEFAULT_THREADS: Final = 15
DEFAULT_BACKLOG: Final = 1024

# gunicorn's graceful_timeout and mod_authnz_fcgi's fixed FCGI_IO_TIMEOUT are both 30 s.
DEFAULT_GRACEFUL_TIMEOUT: Final = 30.0

# Bodies up to this size stay in memory; larger ones roll over to a temporary file (cf. Apache's proxy-sendcl spool).
DEFAULT_STDIN_SPOOL_THRESHOLD: Final = 1024 * 1024

# mod_wsgi's startup-timeout idea: a worker that has not finished importing its app by then is killed and retried.
DEFAULT_BOOT_TIMEOUT: Final = 30.0

# A worker whose main thread has not sent a heartbeat for this long is wedged (gunicorn's --timeout default is 30 s).
DEFAULT_HEARTBEAT_TIMEOUT: Final = 30.0

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")

# Operations (status page, slow log, request timeout, access log) are all off by default, as php-fpm's
# pm.status_path, request_slowlog_timeout and request_terminate_timeout are.


def default_workers() -> int:
    """Half the CPUs, at least one: the daemon usually shares its host with Apache, whose proxy side needs about as
    much CPU per request as the daemon, so more worker processes than that compete with Apache's threads for the
    same cores (the numbers are in benchmarks/README.md). A daemon on its own host (compose scale-out) should set
    --workers to its CPU count."""
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class Settings:
    """What the arbiter and its workers need to know; validated in ``__post_init__`` (``ValueError`` on nonsense)."""

    # "host:port", "[v6addr]:port" or "unix:/path"; several addresses (e.g. a unix socket for mod_proxy_fcgi plus a
    # loopback port for mod_authnz_fcgi, which speaks TCP only) as a tuple.
    bind: Union[str, Tuple[str, ...]] = "127.0.0.1:9000"
    workers: int = field(default_factory=default_workers)
    threads: int = DEFAULT_THREADS
    socket_mode: int = DEFAULT_SOCKET_MODE
    # Unix sockets are given to this uid/gid right after bind (None: the creator's); workers switch to ``run_as``
    # after fork, before the app factory imports handler code (None: they stay who started them). identity.py.
    socket_owner: Optional[int] = None
    socket_group: Optional[int] = None
    run_as: Optional[RunAs] = None
    backlog: int = DEFAULT_BACKLOG
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT
    max_params_size: int = DEFAULT_MAX_PARAMS_SIZE
    stdin_spool_threshold: int = DEFAULT_STDIN_SPOOL_THRESHOLD
    # Recycle a worker after this many requests (0: never), like mod_wsgi's maximum-requests.
    max_requests: int = 0
    boot_timeout: float = DEFAULT_BOOT_TIMEOUT
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    log_level: str = "info"
    # The URL path the daemon answers with its status page itself ("" : no status page).
    status_path: str = ""
    # A request still running this many seconds gets one slow-log entry with its thread's stack (0: off).
    slowlog_timeout: float = 0.0
    # Where slow-log entries go ("": the daemon's log).
    slowlog: str = ""
    # A request running this long is answered 504 and its worker is replaced (0: never).
    request_timeout: float = 0.0
    # One line per request in Apache's combined format plus duration and pid ("": off, "-": stdout).
    access_log: str = ""
    # Who may connect to the TCP listeners: addresses, CIDR ranges, host names (clients.py); None: loopback peers
    # for a loopback listener, everyone otherwise.
    allowed_clients: Optional[Tuple[str, ...]] = None

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("bind: at least one address is needed")
        for name in ("workers", "threads", "backlog", "max_params_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)!r}")
        for name in ("stdin_spool_threshold", "max_requests"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)!r}")
        for name in ("graceful_timeout", "boot_timeout", "heartbeat_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {getattr(self, name)!r}")
        for name in ("slowlog_timeout", "request_timeout"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be 0 (off) or a positive number of seconds, not {getattr(self, name)!r}")
        if self.status_path and not self.status_path.startswith("/"):
            raise ValueError(f"status_path must be a URL path starting with '/', not {self.status_path!r}")
        if not 0 <= self.socket_mode <= 0o777:
            raise ValueError(f"socket_mode must be a permission mode like 0o660, not {self.socket_mode!r}")
        if self.log_level.lower() not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")

    @property
    def addresses(self) -> Tuple[str, ...]:
        """``bind`` as a tuple, whichever form it was given in."""
        return (self.bind,) if isinstance(self.bind, str) else tuple(self.bind)

    @property
    def logging_level(self) -> int:
        """``log_level`` as a ``logging`` level number."""
        level: int = getattr(logging, self.log_level.upper())
        return level

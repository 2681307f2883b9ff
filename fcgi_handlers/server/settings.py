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

# Re-exported: the protocol layer owns the limit, the CLI reads every default from this module.
from ..protocol.constants import DEFAULT_MAX_PARAMS_SIZE as DEFAULT_MAX_PARAMS_SIZE

# Unix socket permissions: Apache's user (via its group) may connect, nobody else (apache-fastcgi.md §7.9).
DEFAULT_SOCKET_MODE: Final = 0o660

# mod_wsgi daemon mode's defaults (threads=15, listen-backlog=100) are the anchor; the backlog is larger because
# Apache opens up to MaxRequestWorkers backend connections at once when a pool is cold (apache-fastcgi.md §1.4).
DEFAULT_THREADS: Final = 15
DEFAULT_BACKLOG: Final = 1024

# gunicorn's graceful_timeout and mod_authnz_fcgi's fixed FCGI_IO_TIMEOUT are both 30 s.
DEFAULT_GRACEFUL_TIMEOUT: Final = 30.0

# Bodies up to this size stay in memory; larger ones roll over to a temporary file (cf. Apache's proxy-sendcl spool).
DEFAULT_STDIN_SPOOL_THRESHOLD: Final = 1024 * 1024

# mod_wsgi's startup-timeout idea: a worker that has not finished importing its app by then is killed and retried.
DEFAULT_BOOT_TIMEOUT: Final = 30.0

# A worker whose selector loop has not reported for this long is wedged (gunicorn's --timeout default is 30 s).
DEFAULT_HEARTBEAT_TIMEOUT: Final = 30.0

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")


def default_workers() -> int:
    """Half the CPUs, at least one: the daemon usually shares its host with Apache, whose proxy side needs about as
    much CPU per request as the daemon. Measured on 2 CPUs (benchmarks/bench.py, Hello World with enablereuse=on):
    1 worker gave 0.79-0.83x mod_wsgi daemon mode, 2 workers 0.66x (the two processes and Apache's threads fought
    over the same two cores). A daemon on its own host (compose scale-out) should set --workers to its CPU count."""
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
    backlog: int = DEFAULT_BACKLOG
    graceful_timeout: float = DEFAULT_GRACEFUL_TIMEOUT
    max_params_size: int = DEFAULT_MAX_PARAMS_SIZE
    stdin_spool_threshold: int = DEFAULT_STDIN_SPOOL_THRESHOLD
    # Recycle a worker after this many requests (0: never), like mod_wsgi's maximum-requests.
    max_requests: int = 0
    boot_timeout: float = DEFAULT_BOOT_TIMEOUT
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    log_level: str = "info"
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

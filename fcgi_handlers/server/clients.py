"""Which peers may connect to a TCP listener (`--allowed-clients`), decided at accept, before a byte is read.

FastCGI has no authentication: whoever connects chooses the handler, its options and PythonDebug. php-fpm answers
with `listen.allowed_clients`; this is the same rule. An entry is an IP address, a CIDR range or a host name; names
are for containers, whose addresses change when they restart (`apache` on a compose network), and are resolved when
a peer matches no address or range, at most once per RESOLVE_INTERVAL per name, so a refused peer cannot make a
worker hammer the resolver. A refused connection is closed at once and logged once per address per LOG_INTERVAL
(per worker process). Without the setting, a listener on a loopback address accepts loopback peers only; one on any
other address accepts everyone, and the arbiter warns about it at start.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

log = logging.getLogger(__name__)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Resolver = Callable[[str], FrozenSet[str]]
V = TypeVar("V")

LOOPBACK: Tuple[str, ...] = ("127.0.0.0/8", "::1/128")
# A name is looked up again at most this often, however many unknown peers connect.
RESOLVE_INTERVAL = 1.0
# A refused address is logged at most once per this many seconds.
LOG_INTERVAL = 60.0
# Peer addresses whose verdict is cached, and refused addresses whose last log line is remembered: bounded, because
# a client can come from any number of addresses (the oldest are dropped first).
MAX_REMEMBERED = 4096


def parse_entries(value: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """The entries of `--allowed-clients` (comma-separated, repeatable), checked; ValueError names a bad one."""
    items = [value] if isinstance(value, str) else list(value)
    entries: Dict[str, None] = {}
    for item in items:
        for entry in (part.strip() for part in str(item).split(",")):
            if not entry:
                continue
            if _network(entry) is None and not _is_host_name(entry):
                raise ValueError(f"{entry!r} is neither an IP address, a CIDR range nor a host name")
            entries[entry] = None
    if not entries:
        raise ValueError("no address given")
    return tuple(entries)


def _network(entry: str) -> Optional[Network]:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def _is_host_name(entry: str) -> bool:
    labels = entry.rstrip(".").split(".")
    # Letters, digits, '-' and '_' (Docker's container and service names use underscores).
    return len(entry) <= 253 and all(label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
                                     and label.isascii() and not label.startswith("-") for label in labels)


def _resolve(name: str) -> FrozenSet[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        log.warning("allowed client %s does not resolve (%s); connections from it are refused until it does",
                    name, exc)
        return frozenset()
    return frozenset(str(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos)


def _peer_address(host: str) -> Optional[Address]:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return address


class ClientFilter:
    """The allowed peers of one listener: `allows(host)` for the host part of an accepted peer address."""

    def __init__(self, entries: Sequence[str], *, resolver: Resolver = _resolve,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.entries = tuple(entries)
        self._networks: List[Network] = []
        self._names: List[str] = []
        for entry in self.entries:
            network = _network(entry)
            if network is not None:
                self._networks.append(network)
            else:
                self._names.append(entry)
        self._resolver = resolver
        self._clock = clock
        self._resolved: Dict[str, Tuple[float, FrozenSet[str]]] = {}
        self._verdicts: Dict[str, bool] = {}  # host text -> allowed, for addresses and ranges only
        self._logged: Dict[str, float] = {}

    def __repr__(self) -> str:
        return f"ClientFilter({', '.join(self.entries)})"

    def allows(self, host: str) -> bool:
        """Whether a peer at `host` (an address as accept() reports it) may connect."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            address = _peer_address(host)
            verdict = address is not None and any(address in network for network in self._networks)
            _remember(self._verdicts, host, verdict)
        if verdict or not self._names:
            return verdict
        address = _peer_address(host)
        return address is not None and any(str(address) in self._addresses_of(name) for name in self._names)

    def _addresses_of(self, name: str) -> FrozenSet[str]:
        now = self._clock()
        cached = self._resolved.get(name)
        if cached is not None and now - cached[0] < RESOLVE_INTERVAL:
            return cached[1]
        addresses = self._resolver(name)
        self._resolved[name] = (now, addresses)
        return addresses

    def refused(self, host: str, listener: str) -> None:
        """Log a refused peer, once per address per LOG_INTERVAL."""
        now = self._clock()
        last = self._logged.get(host)
        if last is not None and now - last < LOG_INTERVAL:
            return
        _remember(self._logged, host, now)
        log.warning("refused a connection to %s from %s: not in the allowed clients (%s); further refusals of this "
                    "address are not logged for %.0f s", listener, host, ", ".join(self.entries), LOG_INTERVAL)


def _remember(table: Dict[str, V], key: str, value: V) -> None:
    # Request threads of one worker may get here at once: every step is one dict operation, safe under the GIL.
    table.pop(key, None)
    if len(table) >= MAX_REMEMBERED:
        for oldest in list(table)[:MAX_REMEMBERED // 2]:
            table.pop(oldest, None)
    table[key] = value


def is_loopback_host(host: str) -> bool:
    """True for a listener address on the loopback interface (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    address = _peer_address(host)
    return address is not None and address.is_loopback


def filter_for(host: str, entries: Optional[Sequence[str]]) -> Optional[ClientFilter]:
    """The filter of a TCP listener on `host`: the configured entries, else loopback only for a loopback listener,
    else None (everyone: the arbiter warns)."""
    if entries:
        return ClientFilter(entries)
    if is_loopback_host(host):
        return ClientFilter(LOOPBACK)
    return None

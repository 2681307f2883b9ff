"""Listening sockets: parse a bind address, open it once in the arbiter, and clean up only what is ours.

The arbiter binds before it forks, and the sockets survive every reload, so Apache never sees a refused connect while
workers come and go (a flup restart that re-binds can fail with EADDRINUSE, ``docs/apache-facts.md`` §10). Two rules
come from flup's mistakes (the same section): every accepted TCP socket gets TCP_NODELAY, because a response written
as several records otherwise waits for Apache's delayed ACK (Nagle); and a unix socket path is unlinked only when
nobody answers on it, so a second instance refuses to start instead of stealing a running instance's socket. At exit
the path is unlinked only if it is still the socket we created.
"""

from __future__ import annotations

import _socket
import errno
import logging
import os
import socket
import stat
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

from . import systemd
from .clients import ClientFilter, filter_for

log = logging.getLogger(__name__)

UNIX_PREFIX = "unix:"
# An already listening socket handed over as a file descriptor: `fd:0` is FastCGI's FCGI_LISTENSOCK_FILENO, the
# socket a web server (mod_fcgid, spawn-fcgi) passes as the child's stdin (FastCGI spec §2.2).
FD_PREFIX = "fd:"

# Whether an accepted socket inherits the listener's O_NONBLOCK: not on Linux (accept(2)), yes on the BSDs.
_ACCEPT_INHERITS_NONBLOCK = not sys.platform.startswith("linux")
_TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)

# How long the live-instance probe waits for a connect on an existing socket path. A listener accepts into its
# backlog without help from its process, so a live one answers at once even when it is busy.
_PROBE_TIMEOUT = 1.0


class BindError(OSError):
    """The address cannot be used: in use by a live instance, not a socket, or not parseable."""


@dataclass(frozen=True)
class Address:
    """A parsed bind address: ``path`` for a unix socket, otherwise ``host`` and ``port``."""

    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    @property
    def is_unix(self) -> bool:
        return bool(self.path)

    def __str__(self) -> str:
        if self.fd >= 0:
            return f"{FD_PREFIX}{self.fd}"
        if self.is_unix:
            return UNIX_PREFIX + self.path
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    """``"host:port"``, ``"[v6]:port"``, ``"unix:/path"`` (``unix:///path`` too, as Apache accepts since 2.4.50) or
    ``"fd:N"`` (an inherited listening socket)."""
    if text.startswith(FD_PREFIX):
        number = text[len(FD_PREFIX):]
        if not number.isdigit():
            raise BindError(f"bind address {text!r}: fd: needs a file descriptor number")
        return Address(fd=int(number))
    if text.startswith(UNIX_PREFIX):
        path = text[len(UNIX_PREFIX):]
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise BindError(f"no path in unix socket address {text!r}")
        return Address(path=os.path.abspath(path))
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise BindError(f"bind address {text!r} is neither host:port nor unix:/path")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Address(host=host or "0.0.0.0", port=int(port_text))


class Listener:
    """One bound, listening, non-blocking socket (non-blocking: every worker polls it and only one wins accept)."""

    def __init__(self, address: Address, sock: socket.socket, identity: Optional[Tuple[int, int, int]] = None,
                 clients: Optional[ClientFilter] = None) -> None:
        self.address = address
        self.sock = sock
        self._identity = identity
        self.clients = clients  # TCP only: the peers accept() lets through (None: everyone)

    @property
    def bound(self) -> Address:
        """The address actually bound (the real port when 0 was asked for)."""
        if self.address.is_unix or self.address.fd >= 0:
            return self.address
        name: Tuple[str, int] = self.sock.getsockname()[:2]
        return Address(host=name[0], port=name[1])

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        """Close this process's copy of the socket (the path stays: only the arbiter calls ``remove_path``)."""
        self.sock.close()

    def remove_path(self) -> None:
        """Unlink the unix socket path if it is still the socket this listener created.

        The inode number alone is not enough: tmpfs hands a freed number to the next file at once, so the identity
        includes the creation time in nanoseconds.
        """
        if not self.address.is_unix or self._identity is None:
            return
        try:
            st = os.stat(self.address.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino, st.st_ctime_ns) == self._identity:
            os.unlink(self.address.path)


def open_listeners(addresses: Sequence[str], backlog: int, socket_mode: int, owner: Optional[int] = None,
                   group: Optional[int] = None, allowed_clients: Optional[Sequence[str]] = None) -> List[Listener]:
    """The sockets systemd passed (socket activation), else every address bound; ``BindError`` on failure, with
    whatever was opened closed again. TCP listeners of either kind admit ``allowed_clients`` (see ``bind``)."""
    try:
        inherited = systemd.listen_fds()
    except ValueError as exc:
        raise BindError(f"socket activation: {exc}") from exc
    listeners: List[Listener] = []
    try:
        if inherited:
            listeners = [admit(inherit(fd), allowed_clients) for fd in inherited]
            log.info("serving on %d sockets passed by systemd (LISTEN_FDS); --bind is not used", len(inherited))
        else:
            for address in addresses:
                listeners.append(bind(address, backlog, socket_mode, owner, group, allowed_clients))
    except BaseException:
        for listener in listeners:
            listener.close()
            listener.remove_path()
        raise
    return listeners


def bind(text: str, backlog: int, socket_mode: int, owner: Optional[int] = None, group: Optional[int] = None,
         allowed_clients: Optional[Sequence[str]] = None) -> Listener:
    """Parse ``text`` and return a listening ``Listener``; ``BindError`` when it cannot be used. A unix socket is
    given to ``owner``/``group`` (None: left as created); TCP has no owner. A TCP listener admits
    ``allowed_clients`` (addresses, ranges, names), or by default loopback peers if it is on loopback."""
    address = parse_address(text)
    try:
        if address.fd >= 0:
            return admit(inherit(address.fd, address), allowed_clients)
        if address.is_unix:
            return _bind_unix(address, backlog, socket_mode, owner, group)
        return admit(_bind_tcp(address, backlog), allowed_clients)
    except BindError:
        raise
    except OSError as exc:
        raise BindError(exc.errno, f"cannot listen on {address}: {exc.strerror or exc}") from exc


def admit(listener: Listener, allowed_clients: Optional[Sequence[str]]) -> Listener:
    """Give a TCP listener its client filter (``clients.filter_for`` on the host it listens on); a unix socket is
    left as it is (its file mode decides who connects)."""
    if listener.sock.family in (socket.AF_INET, socket.AF_INET6):
        listener.clients = filter_for(listener.sock.getsockname()[0], allowed_clients)
    return listener


def _bind_tcp(address: Address, backlog: int) -> Listener:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # The arbiter rebinding right after a previous instance exited must not wait out TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address.host, address.port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return Listener(address, sock)


def _bind_unix(address: Address, backlog: int, socket_mode: int, owner: Optional[int],
               group: Optional[int]) -> Listener:
    _clear_stale_path(address.path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The umask narrows the mode from the moment the inode exists; chmod then sets it exactly (umask cannot add).
        previous = os.umask(0o777 & ~socket_mode)
        try:
            sock.bind(address.path)
        finally:
            os.umask(previous)
        os.chmod(address.path, socket_mode)
        _give(address.path, owner, group)
        st = os.stat(address.path)
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return Listener(address, sock, (st.st_dev, st.st_ino, st.st_ctime_ns))


def _give(path: str, owner: Optional[int], group: Optional[int]) -> None:
    """chown the socket before it listens, so nobody connects while it still has the creator's owner and group
    (its mode already holds the others out). Apache's children connect through the owner or group bits."""
    if owner is None and group is None:
        return
    try:
        os.chown(path, -1 if owner is None else owner, -1 if group is None else group)
    except OSError as exc:
        raise BindError(exc.errno, f"cannot give {path} to uid {owner} gid {group}: {exc.strerror}") from exc


def inherit(fd: int, address: Optional[Address] = None) -> Listener:
    """A listening socket this process was given (systemd socket activation, or `--bind fd:N` from a web server);
    ``BindError`` when ``fd`` is not a listening stream socket. The listener is named ``address`` when given, else by
    the socket's own name; its unix socket path, if any, is left alone at exit: it belongs to whoever made it."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise BindError(exc.errno, f"inherited descriptor {fd} is not a socket: {exc.strerror or exc}") from exc
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        if sock.type != socket.SOCK_STREAM or not listening:
            raise BindError(errno.EINVAL, f"inherited descriptor {fd} is not a listening stream socket")
        sock.setblocking(False)
        if address is not None:
            return Listener(address, sock)
        if sock.family == socket.AF_UNIX:
            name = sock.getsockname()
            path = name if isinstance(name, str) and name else "@abstract"
            return Listener(Address(path=path), sock)
        host, port = sock.getsockname()[:2]
        return Listener(Address(host=host, port=port), sock)
    except BaseException:
        sock.detach()  # not ours to close: the caller reports the error and exits
        raise


def _clear_stale_path(path: str) -> None:
    """Unlink ``path`` if it is a socket nobody listens on; refuse if it is live or not a socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise BindError(errno.EEXIST, f"{path} exists and is not a socket; refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(_PROBE_TIMEOUT)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        log.info("removing stale unix socket %s", path)
        os.unlink(path)
        return
    except OSError as exc:
        raise BindError(exc.errno, f"cannot tell whether {path} is in use ({exc}); refusing to replace it") from exc
    finally:
        probe.close()
    raise BindError(errno.EADDRINUSE, f"{path} is the socket of a running instance; refusing to replace it")


def accept(listener: Union[Listener, socket.socket]) -> Optional[_socket.socket]:
    """Accept one connection as a blocking socket (TCP_NODELAY set for TCP), or None if another worker won it or
    the peer is not one of the listener's allowed clients (closed at once, logged by ``clients``).

    The socket is the C-level ``_socket.socket`` that ``socket.socket`` wraps: every call a request thread makes on it
    (recv, sendall, shutdown, close, sendmsg) is a C method already, and skipping the Python wrapper's constructor,
    its ``close()`` and the enum conversions of ``accept()`` saves a few microseconds per connection, which counts
    when Apache opens one per request (no ``enablereuse``).
    """
    sock = listener.sock if isinstance(listener, Listener) else listener
    try:
        fd, peer = sock._accept()  # type: ignore[attr-defined]  # socket.accept() without its wrapper
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        # A connection reset while it waited in the backlog is the peer's business, not an error of ours. Anything
        # else (EMFILE, ENOBUFS...) is raised so the worker can pause accepting instead of spinning on it.
        if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
            return None
        raise
    if isinstance(listener, Listener) and listener.clients is not None and not listener.clients.allows(peer[0]):
        os.close(fd)  # before a byte is read: the peer sees the connection closed, nothing runs
        listener.clients.refused(peer[0], str(listener.address))
        return None
    family = _socket.socket.family.__get__(sock)  # the int, not the enum socket.socket.family converts it to
    conn = _socket.socket(family, socket.SOCK_STREAM, 0, fd)
    # Linux's accept() never passes the listener's O_NONBLOCK on, and the new socket gets the default timeout, None
    # unless something in this process set one: then it is blocking already and setblocking(True) would only cost a
    # system call per connection. Elsewhere (BSD) the flag is inherited, so prepare() resets it.
    if _ACCEPT_INHERITS_NONBLOCK or conn.gettimeout() is not None:
        prepare(conn)
    elif family in _TCP_FAMILIES:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def prepare(conn: _socket.socket) -> None:
    """Make an accepted or handed-over socket ready for a request thread: blocking, and TCP_NODELAY on TCP.

    Blocking because a thread owns the socket while a request runs and a timeout would add a poll() per recv/send;
    Apache's own timeout (and its closing the connection) bounds every wait on our side.
    """
    conn.setblocking(True)
    if conn.family in _TCP_FAMILIES:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

"""How many connections wait in a listening socket's accept queue, read from the kernel as ``ss -l`` reads it.

Connections nobody has accepted yet are the first sign of a pool that is too small (php-fpm's status shows the same
"listen queue"). For TCP, Linux reports a listening socket's current and maximum accept queue in ``TCP_INFO``
(``tcpi_unacked`` and ``tcpi_sacked`` are reused for it). For unix sockets there is no socket option: the numbers
come from the ``sock_diag`` netlink interface (``UNIX_DIAG_RQLEN``: receive queue = waiting connections, write
queue = backlog), looked up by the socket's inode. Anything the kernel will not tell gives ``(None, None)``.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Optional, Tuple

# struct tcp_info: eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked (linux/tcp.h).
_TCP_INFO_FIELDS = struct.Struct("=8xIIIIII")
_TCP_INFO_SIZE = 104

# linux/netlink.h, linux/sock_diag.h, linux/unix_diag.h.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x01
NLMSG_ERROR = 0x02
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_RQLEN = 4
_NLMSGHDR = struct.Struct("=IHHII")
_UNIX_DIAG_REQ = struct.Struct("=BBHIIIII")  # family, protocol, pad, states, ino, show, cookie[2]
_UNIX_DIAG_MSG = struct.Struct("=BBBBIII")  # family, type, state, pad, ino, cookie[2]
_RTATTR = struct.Struct("=HH")
_NO_COOKIE = 0xFFFFFFFF
_TCP_LISTEN_STATE = 10
Queue = Tuple[Optional[int], Optional[int]]


def listen_queue(sock: socket.socket) -> Queue:
    """(connections waiting to be accepted, the queue's limit) for a listening socket, or (None, None)."""
    try:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            return _tcp_queue(sock)
        if sock.family == socket.AF_UNIX:
            return _unix_queue(os.fstat(sock.fileno()).st_ino)
    except (OSError, struct.error, ValueError):
        pass
    return None, None


def _tcp_queue(sock: socket.socket) -> Queue:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    if len(info) < _TCP_INFO_FIELDS.size or info[0] != _TCP_LISTEN_STATE:
        return None, None
    _rto, _ato, _snd_mss, _rcv_mss, unacked, sacked = _TCP_INFO_FIELDS.unpack_from(info)
    return unacked, sacked


def _unix_queue(inode: int) -> Queue:
    request = _UNIX_DIAG_REQ.pack(socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, UDIAG_SHOW_RQLEN, _NO_COOKIE, _NO_COOKIE)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(1.0)
        nl.sendto(header + request, (0, 0))
        reply = nl.recv(8192)
    length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(reply)
    if kind == NLMSG_ERROR or length > len(reply):
        return None, None
    offset = _NLMSGHDR.size + _UNIX_DIAG_MSG.size
    while offset + _RTATTR.size <= length:
        attr_len, attr_type = _RTATTR.unpack_from(reply, offset)
        if attr_len < _RTATTR.size:
            break
        if attr_type == UNIX_DIAG_RQLEN:
            queued, limit = struct.unpack_from("=II", reply, offset + _RTATTR.size)
            return queued, limit
        offset += (attr_len + 3) & ~3
    return None, None

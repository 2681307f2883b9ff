"""Who the daemon's processes run as, and who owns its unix sockets.

Started as root, the arbiter binds every socket, gives each unix socket to the owner and group asked for (Apache's
children must be able to connect: Debian runs them as www-data), and forks workers that switch to the `--user` and
`--group` account before they import any handler code, as php-fpm's pools and gunicorn's workers do. The arbiter
itself stays root: it only binds, forks, signals and reaps, and so it can still remove its socket path at exit.

Names are resolved once, when the settings are read, so a misspelt account is a usage error before anything is bound,
and the server layer carries plain numbers. The order of the switch is the one setuid(2) demands: supplementary groups,
then the group, then the user (after setuid the process could no longer change its groups).
"""
from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class RunAs:
    """The identity workers switch to: uid, primary gid and supplementary groups (``name`` for log lines)."""

    uid: int
    gid: int
    groups: Tuple[int, ...]
    name: str

    def __str__(self) -> str:
        return f"{self.name} (uid {self.uid}, gid {self.gid})"


def user_id(value: object) -> int:
    """The uid of an account given by name or number; ``ValueError`` when the account does not exist."""
    text = str(value)
    try:
        entry = pwd.getpwuid(int(text)) if text.isdigit() else pwd.getpwnam(text)
    except (KeyError, OverflowError):
        raise ValueError("no such user") from None
    return entry.pw_uid


def group_id(value: object) -> int:
    """The gid of a group given by name or number; ``ValueError`` when the group does not exist."""
    text = str(value)
    try:
        entry = grp.getgrgid(int(text)) if text.isdigit() else grp.getgrnam(text)
    except (KeyError, OverflowError):
        raise ValueError("no such group") from None
    return entry.gr_gid


def run_as(uid: Optional[int], gid: Optional[int]) -> Optional[RunAs]:
    """The identity for `--user`/`--group` (either may be None): the user's own supplementary groups, and its
    primary group unless a group is given; None when neither is given."""
    if uid is None:
        if gid is None:
            return None
        current = pwd.getpwuid(os.getuid())
        return RunAs(uid=os.getuid(), gid=gid, groups=(gid,), name=current.pw_name)
    entry = pwd.getpwuid(uid)
    primary = entry.pw_gid if gid is None else gid
    groups = tuple(dict.fromkeys([primary, *os.getgrouplist(entry.pw_name, primary)]))
    return RunAs(uid=uid, gid=primary, groups=groups, name=entry.pw_name)


def is_current(identity: RunAs) -> bool:
    """Whether this process already is `identity` (then switching is a no-op anyone may do)."""
    return os.geteuid() == identity.uid and os.getegid() == identity.gid


def check_switch(identity: Optional[RunAs]) -> None:
    """Raise ``PermissionError`` (one line, for the user) when this process cannot become `identity`."""
    if identity is None or is_current(identity) or os.geteuid() == 0:
        return
    raise PermissionError(f"switching to {identity} needs root; this process runs as uid {os.geteuid()}")


def check_chown(owner: Optional[int], group: Optional[int]) -> None:
    """Raise ``PermissionError`` when this process cannot give a file it creates to `owner`/`group` (chown(2): only
    root gives files away; others may pick a group they belong to)."""
    if os.geteuid() == 0:
        return
    if owner is not None and owner != os.geteuid():
        raise PermissionError(f"only root can give a socket to uid {owner}; this process runs as uid {os.geteuid()}")
    if group is not None and group != os.getegid() and group not in os.getgroups():
        raise PermissionError(f"this process (uid {os.geteuid()}) is not a member of gid {group}, so cannot give a "
                              "socket to it")


def switch_to(identity: RunAs) -> None:
    """Become `identity` for good (no way back to root); ``OSError`` when the system refuses."""
    if is_current(identity):
        return
    os.setgroups(list(identity.groups))
    os.setgid(identity.gid)
    os.setuid(identity.uid)
    # HOME is what user-level libraries (and handler code) read for per-user files; root's would be unreadable.
    os.environ["HOME"] = pwd.getpwuid(identity.uid).pw_dir

"""`req.finfo`: mod_python's `mp_finfo`, from the daemon's own stat of req.filename.

Rule: mod_python hands out Apache's stat of r->filename (done by the URI-to-file walk); Apache does not send it to a
FastCGI backend, so the daemon stats the file itself, on first read of `req.finfo`, and only where that is the same
file Apache looked at and a safe one to look at: req.filename is set (the `<Directory>`/SetHandler form) and its real
path lies inside DOCUMENT_ROOT or CONTEXT_DOCUMENT_ROOT (Apache's own mapping; a handler that rewrote req.filename
cannot make the daemon stat arbitrary paths through finfo). Everywhere else, and for a file the daemon cannot see
(Apache and the daemon on different hosts without a shared document root), `req.finfo` is None, where mod_python
would give an object whose filetype is APR_NOFILE.

The object reads as mod_python's (observed side by side): attributes (`size`, `mtime`, `filetype`, ...) and indexing
by FINFO_MODE ... FINFO_NAME; times are whole seconds, `protection` APR's permission bits (0x644 for mode 0644),
`filetype` an APR_* file type. As in mod_python, `finfo[FINFO_FILETYPE]` raises IndexError (its sequence stops at
FINFO_NAME): read `finfo.filetype`.
"""

from __future__ import annotations

import os
import stat
from typing import Mapping, Optional

from .constants import (APR_BLK, APR_CHR, APR_DIR, APR_FINFO_CSIZE, APR_FINFO_NLINK, APR_FINFO_NORM, APR_LNK,
                        APR_PIPE, APR_REG, APR_SOCK, APR_UNKFILE)

# FINFO_* index -> attribute, in mod_python's order (FINFO_MODE = 0 ... FINFO_NAME = 11).
_FIELDS = ("protection", "inode", "device", "nlink", "user", "group", "size", "atime", "mtime", "ctime", "fname",
           "name")
# What APR's stat() fills on Linux (observed `valid` from mod_python).
_VALID = APR_FINFO_NORM | APR_FINFO_NLINK | APR_FINFO_CSIZE


def apr_protection(mode: int) -> int:
    """st_mode's permission bits as APR's apr_fileperms_t: one hex digit per octal one, plus the special bits."""
    bits = ((mode >> 6) & 7) << 8 | ((mode >> 3) & 7) << 4 | (mode & 7)
    for flag, apr_flag in ((stat.S_ISUID, 0x8000), (stat.S_ISGID, 0x4000), (stat.S_ISVTX, 0x2000)):
        if mode & flag:
            bits |= apr_flag
    return bits


def _file_type(mode: int) -> int:
    """The APR_* file type of a st_mode."""
    for test, apr_type in ((stat.S_ISREG, APR_REG), (stat.S_ISDIR, APR_DIR), (stat.S_ISCHR, APR_CHR),
                           (stat.S_ISBLK, APR_BLK), (stat.S_ISFIFO, APR_PIPE), (stat.S_ISLNK, APR_LNK),
                           (stat.S_ISSOCK, APR_SOCK)):
        if test(mode):
            return apr_type
    return APR_UNKFILE


class mp_finfo:  # noqa: N801 - mod_python's type name
    """What stat() said about one file, as mod_python's finfo object shows it."""

    def __init__(self, path: str, info: os.stat_result) -> None:
        self.fname: str = path
        self.name: Optional[str] = None   # APR fills the name only for directory entries
        self.valid: int = _VALID
        self.protection: int = apr_protection(info.st_mode)
        self.filetype: int = _file_type(info.st_mode)
        self.user: int = info.st_uid
        self.group: int = info.st_gid
        self.inode: int = info.st_ino
        self.device: int = info.st_dev
        self.nlink: int = info.st_nlink
        self.size: int = info.st_size
        self.atime: int = int(info.st_atime)
        self.mtime: int = int(info.st_mtime)
        self.ctime: int = int(info.st_ctime)

    def __getitem__(self, index: int) -> object:
        if not isinstance(index, int) or not 0 <= index < len(_FIELDS):
            raise IndexError("tuple index out of range")
        return getattr(self, _FIELDS[index])

    def __repr__(self) -> str:
        return f"<mp_finfo {self.fname!r} size={self.size} filetype={self.filetype}>"


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def file_info(filename: Optional[str], params: Mapping[str, str]) -> Optional[mp_finfo]:
    """req.finfo for `filename` (see the module docstring): an mp_finfo, or None."""
    # A NUL cannot be in a path Apache sends (its variables are C strings), only in params from another client:
    # such a path names no file, and os.stat would raise ValueError on it.
    if not filename or "\0" in filename:
        return None
    roots = [os.path.realpath(root) for root in (params.get("CONTEXT_DOCUMENT_ROOT"), params.get("DOCUMENT_ROOT"))
             if root and "\0" not in root]
    real = os.path.realpath(filename)
    if not roots or not _inside(real, roots):
        return None
    try:
        return mp_finfo(filename, os.stat(real))
    except OSError:
        return None

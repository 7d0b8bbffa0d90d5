"""Atomic file writes: a killed run leaves either the old file or the new one, never half of one.

A temporary file is named ``.{name}.{pid}@{host}.{random}.tmp`` so that a later run can tell whose it is: one whose
process is gone (``kill -9``, power loss) is removed by the next write of the same file and by
:func:`remove_stale_temps` at the start of a run; a live concurrent run's temporary file is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# Hosts sharing a folder (NFS) see each other's files; a pid means something only on the host that wrote it.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[0-9a-f]{8})\.[0-9a-z]+\.tmp$")


def temp_name(name: str) -> str:
    """The temporary file name for target ``name``, owned by this process."""
    return f".{name}.{os.getpid()}@{_HOST}.{secrets.token_hex(4)}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_stale_temp(filename: str) -> bool:
    """True for a temporary file of :func:`atomic_write` whose writer (on this host) no longer runs."""
    m = _TEMP_RE.match(filename)
    if m is None or m["host"] != _HOST:
        return False
    pid = int(m["pid"])
    return pid != os.getpid() and not _pid_alive(pid)


def _candidates(folder: Path, recursive: bool) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:  # missing or unreadable: nothing we could clean anyway
        return
    for entry in entries:
        if entry.name.endswith(".tmp") and entry.name.startswith("."):
            yield Path(entry.path)
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _candidates(Path(entry.path), recursive)


def remove_stale_temps(folder: str | os.PathLike[str], *, name: str | None = None, recursive: bool = False) -> int:
    """Remove temporary files left in ``folder`` by killed writers; ``name``: only those of that target file.

    Returns how many were removed. Errors are ignored: cleaning is a courtesy, never a reason to fail a run.
    """
    removed = 0
    for path in _candidates(Path(folder), recursive):
        m = _TEMP_RE.match(path.name)
        if m is None or (name is not None and m["name"] != name) or not is_stale_temp(path.name):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The file gets the usual permissions (``0o666 & ~umask``), not ``mkstemp``'s 0600. On any error the temporary
    file is removed and the old ``path`` (if any) is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, name=path.name)
    tmp = path.parent / temp_name(path.name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, **dump_kwargs: Any) -> None:
    # allow_nan=False: a NaN must have been turned into null before it gets here (strict JSON).
    atomic_write_text(path, json.dumps(obj, allow_nan=False, **dump_kwargs))


def describe_os_error(e: OSError) -> str:
    """``strerror`` plus a hint for the cases a user can fix (full disk, read-only or forbidden folder)."""
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{reason} (free some space or choose another location)"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{reason} (choose a writable location)"
    return reason

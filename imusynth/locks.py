"""One writer per folder: a lock file holding its owner's pid and host.

A run folder (``imusynth train``) and an experiment's results folder (``imusynth
experiment``) each have one writer at a time. The writer holds ``.imusynth.lock`` in the
folder: a small JSON file ``{"pid": ..., "host": ...}`` that is also locked with ``flock``
where the system has it, so a writer that dies (even by ``kill -9``) releases it at once.
A lock file left behind by a process that no longer runs on this host is stale: it is taken
over with a warning. A lock held by a live process, or by a process on another host (which
cannot be checked from here), is a :class:`~imusynth.errors.LockError` naming the folder.

Within one process the lock is re-entrant for the thread that holds it, so a function that
locks a folder may call another that locks it too (``train_run`` and the training loop).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from imusynth.errors import LockError

try:  # POSIX; elsewhere the pid check alone decides
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "folder_lock", "read_lock"]

LOCK_NAME = ".imusynth.lock"
log = logging.getLogger(__name__)

# Folders this process holds: resolved path -> [thread id, depth, open file descriptor].
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def read_lock(folder: str | Path) -> dict[str, object] | None:
    """The owner recorded in ``folder``'s lock file, or ``None`` (no file, or unreadable)."""
    try:
        owner = json.loads((Path(folder) / LOCK_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


@contextlib.contextmanager
def folder_lock(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Hold ``folder``'s writer lock for the ``with`` block; the folder must exist.

    Parameters
    ----------
    folder : str or Path
        The run or results folder.
    what : str
        What the folder is, for the refusal message (``"run folder"``...).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    LockError
        Another live process (or a process on another host) holds the lock.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with folder_lock(d) as lock:
    ...     read_lock(d)["pid"] == os.getpid()
    True
    >>> read_lock(d) is None
    True
    """
    folder = Path(folder)
    path = folder / LOCK_NAME
    key = str(folder.resolve())
    me = threading.get_ident()
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            if held[0] != me:
                raise LockError(f"{what} is in use by another thread of this process", path=folder)
            held[1] += 1
    if held is not None:
        try:
            yield path
        finally:
            with _held_guard:
                held[1] -= 1
        return
    fd = _acquire(path, folder, what)
    with _held_guard:
        _held[key] = [me, 1, fd]
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
        # Unlink before closing: the flock is held until the file is gone.
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _acquire(path: Path, folder: Path, what: str) -> int:
    host = socket.gethostname()
    for _ in range(10):  # retried only when the file changed under us
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise LockError(_busy(folder, what, read_lock(folder)), path=folder) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed it between our open and our flock
            os.close(fd)
            continue
        owner = _read_fd(fd)
        if owner is not None:
            pid, their_host = owner.get("pid"), owner.get("host")
            if their_host != host:
                os.close(fd)
                raise LockError(
                    _busy(folder, what, owner) + f"; remove {path} if that process has ended",
                    path=folder,
                )
            if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
                os.close(fd)
                raise LockError(_busy(folder, what, owner), path=folder)
            log.warning(
                "taking over a stale lock of process %s (no longer running) in %s", pid, folder
            )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps({"pid": os.getpid(), "host": host}) + "\n").encode())
        os.fsync(fd)
        return fd
    raise LockError(f"could not lock the {what}", path=folder)


def _read_fd(fd: int) -> dict[str, object] | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    try:
        owner = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None  # empty or half written: its writer died before it finished
    return owner if isinstance(owner, dict) else None


def _busy(folder: Path, what: str, owner: dict[str, object] | None) -> str:
    by = ""
    if owner is not None:
        by = f" (process {owner.get('pid')} on {owner.get('host')})"
    return f"{what} is in use by another imusynth process{by}"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return False
    try:  # a killed child not yet reaped by its parent is a zombie: it holds nothing
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True

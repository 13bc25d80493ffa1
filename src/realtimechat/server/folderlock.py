"""The lock that says a server is using a ``--data`` folder.

A running ``rtchat-server`` holds an exclusive ``flock`` on ``server.lock``
in its data folder for as long as its store is open. ``restore`` and
``import``, which replace or fill the store under a server's feet, take the
same lock, so they refuse while a server runs, and a second server on the
same folder refuses to start. The kernel lets go of the lock when the
process ends, however it ends: a crashed or killed server never leaves a
folder locked, and there is no stale lock file to clean up (the file stays;
only the lock on it matters).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Final

from ..errors import ConfigError

LOCK_FILE: Final = "server.lock"


class FolderInUse(ConfigError):
    """Another process holds the data folder's lock."""


class FolderLock:
    """An exclusive lock on a data folder, held until ``release`` (or the process ends)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def hold(folder: Path, doing: str) -> FolderLock:
    """Lock ``folder`` (which must exist) for ``doing``; FolderInUse if another holds it.

    ``doing`` ends the refusal's sentence ("cannot restore: ..."). The pid of
    the holder is written into the file, to name it in the next refusal.
    """
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot {doing}: cannot open {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise FolderInUse(
            f"cannot {doing}: a server{holder} is using {folder}: stop it first"
        ) from None
    except OSError as exc:  # no flock on this file system: say so rather than guess
        os.close(fd)
        raise ConfigError(f"cannot {doing}: cannot lock {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):  # the pid is a courtesy, the lock is what counts
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return FolderLock(path, fd)


def _holder(fd: int) -> str:
    """`` (pid N)`` as the holder wrote it, or nothing if unreadable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""

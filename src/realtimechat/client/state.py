"""What the client remembers between runs: the last message id it showed.

One small JSON file maps each server-and-identity to the highest message
id shown there, so that the next ``hello`` carries ``since`` and the
server replays exactly what was missed: nothing twice, nothing lost,
whether the connection dropped or the client was restarted.

Writes are atomic (temporary file, fsync, rename) and debounced: at most
one a second while messages arrive, and one at exit. Several clients may
share the file (``make chat`` runs alice and bob on one), so each write
reads, updates and replaces it under an exclusive lock on a sibling lock
file; without it two clients saving at once lost one's resume point.
A lock that cannot be had (no flock there, a held lock that is not let go
within a second) never stops the save: it is then written without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

SAVE_DELAY: Final = 1.0
LOCK_WAIT: Final = 1.0  # seconds a save waits for another client's lock
_LOCK_RETRY: Final = 0.01


class ResumePoint:
    """The last id shown for one server and identity, kept in a shared file."""

    def __init__(self, path: Path | None, key: str, *, lock_wait: float = LOCK_WAIT) -> None:
        self.path = path
        self.key = key
        self.lock_wait = lock_wait  # how long a save waits for another client's lock
        self.last_id = self._load()
        self._save_handle: asyncio.TimerHandle | None = None

    def _load(self) -> int:
        if self.path is None:
            return 0
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            value = data.get(self.key, 0)
        except (OSError, ValueError, AttributeError):
            return 0  # no file yet, or one we cannot read: start without a resume point
        return value if isinstance(value, int) and value >= 0 else 0

    def advance(self, msg_id: int) -> None:
        """Record that ``msg_id`` was shown; saved shortly after."""
        if msg_id <= self.last_id:
            return
        self.last_id = msg_id
        if self.path is not None and self._save_handle is None:
            loop = asyncio.get_running_loop()
            self._save_handle = loop.call_later(SAVE_DELAY, self.save)

    def restart(self, last_id: int) -> None:
        """The server's ids started again: remember its current last id instead."""
        self.last_id = last_id
        self.save()

    def save(self) -> None:
        """Write now (also called at exit)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self.path is None:
            return
        with contextlib.suppress(OSError):  # a read-only home must not stop the chat
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with _locked(self.path, self.lock_wait):
                _write_entry(self.path, self.key, self.last_id)


def _write_entry(path: Path, key: str, last_id: int) -> None:
    """Read the shared file, set one entry, write it back atomically."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[key] = last_id
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with temporary.open("w", encoding="utf-8") as file:
        json.dump(data, file, indent=1, sort_keys=True)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


@contextlib.contextmanager
def _locked(path: Path, wait: float) -> Iterator[None]:
    """Hold an exclusive lock shared by every client writing ``path``, if one can be had.

    The lock is on a sibling file, not on ``path`` itself: ``path`` is
    replaced by a rename on every write, so a lock on it would guard a file
    nobody reads any more.

    The lock only protects the other clients' entries; the save itself must
    not depend on it. Without it the write goes ahead as before there was a
    lock: on a filesystem without flock (NFS without a lock daemon), with a
    lock file we may not open (left by another user), or when its holder
    has not let go within ``wait`` seconds (a client stopped mid-save with
    Ctrl-Z: the save runs on the event loop, which must not wait for good).
    """
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        descriptor = -1
    if descriptor < 0:
        yield  # unlocked
        return
    try:
        _acquire(descriptor, wait)  # or go on without it
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _acquire(descriptor: int, wait: float) -> bool:
    """Lock ``descriptor`` exclusively, waiting at most ``wait`` seconds; False if not done."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_LOCK_RETRY)  # the holder only reads and writes a small file
        except OSError:
            return False  # no flock on this filesystem
        else:
            return True

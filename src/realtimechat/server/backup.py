"""Backups of the message store, taken while the server runs, and putting one back.

``backup`` copies ``messages.db`` with SQLite's online backup API
(``sqlite3.Connection.backup``) inside one read transaction: in WAL mode a
reader sees one committed state for as long as it stays open, so the copy
holds exactly the messages committed when it began (ids 1 to N, no torn
row) however many the server commits meanwhile, and the server is never
blocked. The copy is a single file (journal mode DELETE, no ``-wal``),
checked with ``PRAGMA integrity_check`` before it takes FILE's name, and
mode 0600 from its creation: it holds private messages.

``restore`` puts such a file back into a ``--data`` folder. It holds the
folder's lock (folderlock.py) while it works, so it refuses while a server
uses the folder and no server can start half-way through. The file is
copied into the folder and checked there (a realtimechat store of a schema
this version knows, undamaged) before anything is moved; the store it
replaces is kept beside it as ``messages.db.before-restore-<time>``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import ConfigError
from . import folderlock
from .store import _COMPANIONS, FILE_MODE, SCHEMA_VERSION, _private_folder

PAGES_PER_STEP: Final = 1024  # 4 MiB of 4 KiB pages between progress reports
MAX_ASIDE_TRIES: Final = 100  # restores within one second that each keep their store
KNOWN_SCHEMAS: Final = range(1, SCHEMA_VERSION + 1)  # older ones are upgraded at start
Progress = Callable[[int, int], None]  # (pages copied, pages in all)


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What a checked store holds."""

    schema: int
    messages: int
    first_id: int  # 0 when there are none
    last_id: int  # highest id ever given (ids are never reused), 0 for a new store

    def ids(self) -> str:
        """``ids 1-42`` or ``no messages``, for one-line reports."""
        return f"ids {self.first_id}-{self.last_id}" if self.messages else "no messages"


def check_store(db: sqlite3.Connection, what: Path) -> StoreFacts:
    """The facts of the store open in ``db``; ConfigError naming ``what`` if it is none.

    Refuses a file that is not SQLite, a damaged one, one without the store's
    tables, and one of a schema version this server does not know.
    """
    try:
        problems = [row[0] for row in db.execute("PRAGMA integrity_check(1)")]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{what} is not a realtimechat message store: {exc}") from None
    if problems != ["ok"]:
        raise ConfigError(f"{what} is damaged: {problems[0]}")
    if not {"meta", "messages"} <= tables:
        raise ConfigError(f"{what} is not a realtimechat message store (no meta or messages table)")
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    version = int(row[0]) if row is not None and str(row[0]).isdigit() else 0
    if version not in KNOWN_SCHEMAS:
        raise ConfigError(
            f"{what} has schema version {row[0] if row else 'none'}: this rtchat-server "
            f"reads versions {KNOWN_SCHEMAS.start} to {KNOWN_SCHEMAS.stop - 1}"
        )
    count, first = db.execute("SELECT COUNT(*), COALESCE(MIN(id), 0) FROM messages").fetchone()
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
    return StoreFacts(version, count, first, seq[0] if seq else 0)


# --------------------------------------------------------------------------
# Backup


def backup(
    database: Path, target: Path, *, force: bool = False, progress: Progress | None = None
) -> StoreFacts:
    """Copy the store ``database`` to ``target`` while a server may be writing it.

    ``target`` is replaced only with ``force``; it appears whole or not at all
    (the copy is written beside it and renamed once checked).
    """
    if not database.is_file():
        raise ConfigError(f"no message store at {database}: is --data right?")
    if target.is_dir():
        raise ConfigError(f"{target} is a folder: give the backup's file name")
    if target.exists() and not force:
        raise ConfigError(f"{target} exists: give another FILE, or --force to replace it")
    partial = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()  # ours, left by a backup that was stopped
    try:
        _create_private(partial)
        facts = _copy(database, partial, progress)
        _fsync(partial)
        _publish(partial, target, force=force)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return facts


def _create_private(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def _copy(database: Path, partial: Path, progress: Progress | None) -> StoreFacts:
    with _connection(database, "rw") as source, _connection(partial, "rw") as copy:
        source.execute("PRAGMA busy_timeout = 10000")
        # One read transaction for the whole copy: every step reads the same
        # snapshot, so the server's commits neither tear the copy nor restart it.
        source.execute("BEGIN")
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        report = None if progress is None else _pages_done(progress)
        try:
            source.backup(copy, pages=PAGES_PER_STEP, progress=report)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot back up {database}: {exc}") from None
        finally:
            source.execute("COMMIT")
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        return check_store(copy, partial)


def _pages_done(progress: Progress) -> Callable[[int, int, int], None]:
    def report(_status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    return report


def _publish(partial: Path, target: Path, *, force: bool) -> None:
    """Give ``partial`` the name ``target``: atomically, and without replacing unless ``force``."""
    try:
        if force:
            partial.replace(target)
        else:
            os.link(partial, target)  # fails if target appeared meanwhile
            partial.unlink()
        _fsync_folder(target.parent)
    except FileExistsError:
        raise ConfigError(f"{target} exists: give another FILE, or --force to replace it") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None


# --------------------------------------------------------------------------
# Restore


@dataclass(frozen=True, slots=True)
class Restored:
    facts: StoreFacts
    kept: Path | None  # where the store it replaced now is (None: there was none)
    next_id: int  # the id the next message gets: above any the replaced store gave


def restore(source: Path, database: Path, *, now: dt.datetime | None = None) -> Restored:
    """Make the backup ``source`` the store ``database``; the old one is kept aside."""
    if not source.is_file():
        raise ConfigError(f"no backup at {source}")
    if _has_wal(source):
        raise ConfigError(
            f"{source} has a -wal file beside it: it is a live store, not a backup;"
            " make one with rtchat-server backup"
        )
    folder = database.parent
    try:
        _private_folder(folder)
    except OSError as exc:
        raise ConfigError(f"cannot use {folder}: {exc.strerror}") from None
    with folderlock.hold(folder, "restore"):
        incoming = database.with_name(database.name + ".restoring")
        with contextlib.suppress(FileNotFoundError):
            incoming.unlink()  # ours, left by a restore that was stopped
        try:
            facts = _bring_in(source, incoming)
            next_id = _keep_ids_rising(incoming, _highest_id_given(database)) + 1
            kept = _set_aside(database, now or dt.datetime.now(dt.UTC))
            incoming.replace(database)
            _fsync_folder(folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                incoming.unlink()
            raise
    return Restored(facts, kept, next_id)


def _highest_id_given(database: Path) -> int:
    """The highest id the store at ``database`` ever gave out (0: no store there).

    Opened read-write so that a -wal a killed server left is applied first.
    """
    if not database.exists():
        return 0
    with _connection(database, "rw") as db:
        try:
            return check_store(db, database).last_id
        except ConfigError:
            return 0  # not a store of ours (or damaged): it gave out no id we know of


def _keep_ids_rising(incoming: Path, given: int) -> int:
    """Make the restored store's next ids follow ``given``; its highest id given, returned.

    Clients skip a message whose id they have already shown: had the
    restored store given again the ids the replaced one gave after the
    backup, a client that saw them would hide the new messages. The messages
    between are lost; the ids are not reused.
    """
    with _connection(incoming, "rw") as db:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        if row is None:
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (given,))
            return given
        highest = max(int(row[0]), given)
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'messages'", (highest,))
        return highest


def _has_wal(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    return wal.is_file() and wal.stat().st_size > 0


def _bring_in(source: Path, incoming: Path) -> StoreFacts:
    """Copy ``source`` to ``incoming`` (0600) and check the copy, the file that will be used."""
    _create_private(incoming)
    try:
        with source.open("rb") as reader, incoming.open("r+b") as writer:
            while chunk := reader.read(1 << 20):
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    except OSError as exc:
        raise ConfigError(f"cannot copy {source}: {exc.strerror}") from None
    with _connection(incoming, "rw") as db:
        return check_store(db, source)


def _set_aside(database: Path, now: dt.datetime) -> Path | None:
    """Rename ``database`` and its companions to ``<name>.before-restore-<time>``."""
    if not database.exists():
        return None
    kept = _aside_name(database, now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"))
    # Companions keep their suffix after the new name, so that SQLite finds
    # a -wal a crashed server left when the kept file is opened.
    for suffix in _COMPANIONS:
        path = database.with_name(database.name + suffix)
        if path.exists():
            path.replace(kept.with_name(kept.name + suffix))
    return kept


def _aside_name(database: Path, stamp: str) -> Path:
    """``<name>.before-restore-<stamp>``, or with ``-2``... if a restore that second took it."""
    for attempt in range(1, MAX_ASIDE_TRIES + 1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        kept = database.with_name(f"{database.name}.before-restore-{stamp}{suffix}")
        if not any(kept.with_name(kept.name + end).exists() for end in _COMPANIONS):
            return kept
    raise ConfigError(f"cannot set {database} aside: {kept} and the names before it are taken")


# --------------------------------------------------------------------------
# Files


@contextlib.contextmanager
def _connection(path: Path, mode: str) -> Iterator[sqlite3.Connection]:
    """A connection to an existing database (``mode`` rw or ro: it never makes one)."""
    try:
        db = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open {path}: {exc}") from None
    try:
        yield db
    finally:
        db.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: fsync the folder that holds it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

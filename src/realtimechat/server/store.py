"""What the server remembers: messages, seen ``ref``s, name owners, rooms and their members.

``Store`` is the interface the hub uses; it can be implemented by an
embedded store (``SqliteStore``, what ``rtchat-server`` uses by default,
and ``MemoryStore``, the library's default, for tests and ``--ephemeral``)
or a networked one, without touching sessions or the protocol. Every
method is a coroutine: a store never blocks the event loop.

Guarantees every store gives:

* ``append`` stores a batch in one transaction (group commit) and returns
  only once it is durable at the store's level; ids increase, survive
  restarts and are never reused (SQLite ``AUTOINCREMENT``).
* A message whose ``(sender identity, ref)`` was stored before is not
  stored again: ``append`` reports the first id instead. SQLite keeps seen
  refs ``REF_DAYS`` days: ``purge``, which the server runs at start and
  hourly whether or not it forgets messages, deletes older ones (through
  an index on when they were seen, so that it costs what it deletes, not
  a walk of the table); the memory store keeps the refs of twice as many
  messages as it keeps.
* Private messages are visible only to the sender's and recipient's
  identities (not names: a name released and claimed again does not open
  anyone's old private messages).
* A read covers a ``Scope``: the lobby (with the reader's private
  messages) and the rooms named, all in one id order. Which rooms a reader
  may read is the hub's decision, not the store's.
* Rooms and memberships are kept as they are written (``join_room``,
  ``part_room``, ``set_topic``); a room with neither members nor messages
  is deleted when its last member parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sqlite3
import stat
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol, TypeVar

from ..errors import ConfigError, StoreClosed
from ..protocol import MAX_INTEGER, Msg
from . import folderlock
from .folderlock import FolderLock

REF_DAYS: Final = 7
SCHEMA_VERSION: Final = 3  # 2: rooms (a room column, the rooms and members tables); 3: signatures
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Draft:
    """A message accepted from a client, not yet stored."""

    sender: str  # identity key
    from_name: str
    text: str
    ts: str
    ref: str | None = None
    to_name: str | None = None
    recipient: str | None = None  # identity key of ``to_name``
    action: str | None = None
    room: str | None = None  # the room's name; None: the lobby (or a private message)
    sig: str | None = None  # a signed message's fields (protocol.md 6.8), kept as sent
    fp: str | None = None
    sent: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """What became of one draft: a new message, or the id it was stored under before."""

    msg: Msg | None
    duplicate_of: int | None = None

    @property
    def id(self) -> int:
        if self.msg is not None:
            return self.msg.id
        assert self.duplicate_of is not None
        return self.duplicate_of


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages after some id, as one reader may see them, oldest first."""

    messages: list[Msg]
    more: bool  # further visible messages exist beyond this page
    first_kept: int  # lowest id still stored (0 when nothing is stored)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which messages a read covers: the lobby, with the reader's private messages, and rooms.

    Rooms are named as shown (a room keeps the name it was created with for
    as long as it has messages, so its name finds all of them).
    """

    lobby: bool = True
    rooms: frozenset[str] = frozenset()


LOBBY: Final = Scope()


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """A room as stored: its key (folded name), its name as created, its topic."""

    key: str
    name: str
    topic: str | None = None
    topic_by: str | None = None  # the name that set it
    topic_ts: str | None = None


class SanctionKind(StrEnum):
    """What an operator's sanction does to an identity (docs/protocol.md 6.7)."""

    BAN = "ban"  # refused at hello
    MUTE = "mute"  # its messages refused


@dataclass(frozen=True, slots=True)
class Sanction:
    """A ban or a mute of one identity, until a moment; one of each kind per identity."""

    kind: str  # a SanctionKind
    identity: str  # identity key
    name: str  # the name it was given under, for people (``bans``, notices)
    until: str  # timestamp (protocol.format_ts): it ends then
    by: str  # the operator's name, or "rtchat-server" from the host
    reason: str | None = None
    ts: str = ""  # when it was given


class Durability(StrEnum):
    FULL = "full"  # survives power loss (fsync at each commit)
    NORMAL = "normal"  # survives a killed process; the last commits may be lost on power loss


class Store(Protocol):
    """The storage interface the hub needs."""

    last_id: int  # highest id stored so far

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def append(self, drafts: Sequence[Draft]) -> list[Stored]: ...
    async def after(
        self, since: int, limit: int, reader: str, scope: Scope = LOBBY
    ) -> HistoryPage: ...
    async def recent(
        self, count: int, reader: str, upto: int | None = None, scope: Scope = LOBBY
    ) -> HistoryPage: ...
    async def names(self) -> dict[str, tuple[str, str]]: ...
    async def own_name(self, key: str, identity: str, name: str) -> None: ...
    async def release_name(self, key: str) -> bool: ...
    async def rooms(self) -> tuple[list[RoomRecord], list[tuple[str, str]]]:
        """Every room, and every membership as (room key, identity key)."""
        ...

    async def join_room(self, room: RoomRecord, identity: str) -> None:
        """Make ``identity`` a member of ``room``, creating the room if it is new."""
        ...

    async def part_room(self, key: str, identity: str) -> bool:
        """End a membership; True if the room went with it (no members, no messages left)."""
        ...

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None: ...
    async def sanctions(self) -> list[Sanction]:
        """Every ban and mute stored, ended ones included (the hub ignores those)."""
        ...

    async def put_sanction(self, sanction: Sanction) -> None:
        """Store ``sanction``, replacing the identity's earlier one of that kind."""
        ...

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        """Delete the identity's sanction of ``kind``; whether there was one."""
        ...

    async def motd(self) -> str | None:
        """The message of the day an operator set (None: none; the --motd file's applies)."""
        ...

    async def set_motd(self, text: str | None) -> None: ...
    async def put_cert(self, fp: str, pem: str, identity: str) -> None:
        """Keep a certificate a session of ``identity`` connected with, by its SHA-256
        fingerprint (6.8); it becomes the identity's latest."""
        ...

    async def cert(self, fp: str) -> str | None:
        """The certificate (PEM) kept under ``fp``, or None."""
        ...

    async def cert_of(self, identity: str) -> str | None:
        """The fingerprint of the certificate ``identity`` last connected with, or None."""
        ...

    async def purge(self, older_than: dt.datetime | None, keep: int | None) -> int: ...
    async def ping(self) -> None:
        """Answer a trivial query (``/readyz``); raise if the store cannot."""

    def describe(self) -> str: ...


def _visible(kept: _Kept, reader: str, scope: Scope) -> bool:
    room = kept.msg.room
    if room is not None:
        return room in scope.rooms
    return scope.lobby and (kept.recipient is None or reader in (kept.sender, kept.recipient))


# --------------------------------------------------------------------------
# In memory


@dataclass(frozen=True, slots=True)
class _Kept:
    msg: Msg
    sender: str
    recipient: str | None


class MemoryStore:
    """The last ``capacity`` messages in memory; everything is lost at exit."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._kept: deque[_Kept] = deque(maxlen=max(capacity, 0))
        # Refs of the messages kept (and then some): a resend of a message
        # this store has forgotten anyway is stored again, as it must be.
        self._refs: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._refs_kept = max(capacity, 1) * 2
        self._names: dict[str, tuple[str, str]] = {}
        self._rooms: dict[str, RoomRecord] = {}
        self._members: dict[str, set[str]] = {}  # room key -> identity keys
        self._sanctions: dict[tuple[str, str], Sanction] = {}  # (kind, identity) -> it
        self._motd: str | None = None
        self._certs: dict[str, str] = {}  # fingerprint -> PEM, until exit
        self._latest: dict[str, str] = {}  # identity key -> fingerprint of its last certificate
        self.last_id = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        """Nothing to ask: memory always answers."""

    def describe(self) -> str:
        """Where messages are kept, for the log at start."""
        return f"messages in memory only: the last {self._kept.maxlen:,}, gone at exit"

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        out = []
        for draft in drafts:
            if draft.ref is not None and (draft.sender, draft.ref) in self._refs:
                out.append(Stored(None, self._refs[draft.sender, draft.ref]))
                continue
            self.last_id += 1
            msg = message_of(self.last_id, draft)
            if self._kept.maxlen:
                self._kept.append(_Kept(msg, draft.sender, draft.recipient))
            if draft.ref is not None:
                self._refs[draft.sender, draft.ref] = msg.id
                if len(self._refs) > self._refs_kept:
                    self._refs.popitem(last=False)
            out.append(Stored(msg))
        return out

    async def after(self, since: int, limit: int, reader: str, scope: Scope = LOBBY) -> HistoryPage:
        visible = [k.msg for k in self._kept if k.msg.id > since and _visible(k, reader, scope)]
        return HistoryPage(visible[:limit], len(visible) > limit, self._first_kept())

    async def recent(
        self, count: int, reader: str, upto: int | None = None, scope: Scope = LOBBY
    ) -> HistoryPage:
        visible = [
            k.msg
            for k in self._kept
            if _visible(k, reader, scope) and (upto is None or k.msg.id <= upto)
        ]
        page = visible[-count:] if count > 0 else []
        return HistoryPage(page, False, self._first_kept())

    def _first_kept(self) -> int:
        return self._kept[0].msg.id if self._kept else 0

    async def names(self) -> dict[str, tuple[str, str]]:
        return dict(self._names)

    async def own_name(self, key: str, identity: str, name: str) -> None:
        self._names.setdefault(key, (identity, name))

    async def release_name(self, key: str) -> bool:
        return self._names.pop(key, None) is not None

    async def rooms(self) -> tuple[list[RoomRecord], list[tuple[str, str]]]:
        members = [(key, identity) for key, ids in self._members.items() for identity in ids]
        return list(self._rooms.values()), members

    async def join_room(self, room: RoomRecord, identity: str) -> None:
        self._rooms.setdefault(room.key, room)
        self._members.setdefault(room.key, set()).add(identity)

    async def part_room(self, key: str, identity: str) -> bool:
        members = self._members.get(key, set())
        members.discard(identity)
        room = self._rooms.get(key)
        if members or room is None or any(k.msg.room == room.name for k in self._kept):
            return False
        del self._rooms[key]
        self._members.pop(key, None)
        return True

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None:
        room = self._rooms.get(key)
        if room is not None:
            self._rooms[key] = RoomRecord(room.key, room.name, topic, by, ts)

    async def sanctions(self) -> list[Sanction]:
        return list(self._sanctions.values())

    async def put_sanction(self, sanction: Sanction) -> None:
        self._sanctions[sanction.kind, sanction.identity] = sanction

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        return self._sanctions.pop((kind, identity), None) is not None

    async def motd(self) -> str | None:
        return self._motd

    async def set_motd(self, text: str | None) -> None:
        self._motd = text

    async def put_cert(self, fp: str, pem: str, identity: str) -> None:
        self._certs.setdefault(fp, pem)
        self._latest[identity] = fp

    async def cert(self, fp: str) -> str | None:
        return self._certs.get(fp)

    async def cert_of(self, identity: str) -> str | None:
        return self._latest.get(identity)

    async def purge(self, older_than: dt.datetime | None, keep: int | None) -> int:
        before = len(self._kept)
        cutoff = _ts(older_than) if older_than else None
        while self._kept and (
            (cutoff is not None and self._kept[0].msg.ts < cutoff)
            or (keep is not None and len(self._kept) > keep)
        ):
            self._kept.popleft()
        return before - len(self._kept)


def message_of(msg_id: int, draft: Draft) -> Msg:
    """The ``msg`` a stored ``draft`` is delivered as (every store, every engine)."""
    return Msg(
        id=msg_id,
        ts=draft.ts,
        from_=draft.from_name,
        text=draft.text,
        to=draft.to_name,
        action=draft.action,
        room=draft.room,
        sig=draft.sig,
        ref=draft.ref if draft.sig is not None else None,
        fp=draft.fp,
        sent=draft.sent,
        seq=draft.seq,
    )


def _ts(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------
# SQLite

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    sender TEXT NOT NULL,
    from_name TEXT NOT NULL,
    text TEXT NOT NULL,
    to_name TEXT,
    recipient TEXT,
    action TEXT,
    room TEXT,
    sig TEXT,
    ref TEXT,
    fp TEXT,
    sent TEXT,
    seq INTEGER
);
CREATE INDEX IF NOT EXISTS messages_private ON messages (recipient, id)
    WHERE recipient IS NOT NULL;
CREATE TABLE IF NOT EXISTS refs (
    sender TEXT NOT NULL,
    ref TEXT NOT NULL,
    msg_id INTEGER NOT NULL,
    seen REAL NOT NULL,
    PRIMARY KEY (sender, ref)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_seen ON refs (seen);
CREATE TABLE IF NOT EXISTS names (
    key TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    name TEXT NOT NULL
) WITHOUT ROWID;
"""
# What schema 2 added besides messages.room, for a new file and an upgraded one alike.
_ROOMS_SCHEMA: Final = """
CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id) WHERE room IS NOT NULL;
CREATE TABLE IF NOT EXISTS rooms (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    topic TEXT,
    topic_by TEXT,
    topic_ts TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    room TEXT NOT NULL,
    identity TEXT NOT NULL,
    PRIMARY KEY (room, identity)
) WITHOUT ROWID;
"""
# Operators' bans and mutes (no schema version of their own: a table an older
# server never reads, made where it is missing).
_SANCTIONS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sanctions (
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    name TEXT NOT NULL,
    until TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    ts TEXT NOT NULL,
    PRIMARY KEY (kind, identity)
) WITHOUT ROWID;
"""
# The certificates sessions connected with, for readers of signed messages
# (protocol.md 6.8): like sanctions, a table an older server never reads.
_CERTS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS certs (
    fp TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    identity TEXT NOT NULL,
    seen REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS certs_identity ON certs (identity, seen);
"""
_MOTD_KEY: Final = "motd"  # in the meta table
_COLUMNS: Final = "id, ts, from_name, text, to_name, action, room, sig, ref, fp, sent, seq"
# The lobby: public messages without a room, and the reader's private messages.
_LOBBY: Final = "(room IS NULL AND (recipient IS NULL OR recipient = :reader OR sender = :reader))"

Row = tuple[
    int,
    str,
    str,
    str,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    int | None,
]


# SQLite creates the database with mode 0644 (less the umask) and gives its
# -wal, -shm and -journal files the database's own mode: a database made 0600
# first keeps all of them private, whatever the umask.
FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
_COMPANIONS: Final = ("", "-wal", "-shm", "-journal")


def _private_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) if missing; the folder itself mode 0700."""
    if folder.is_dir():
        return  # the operator's folder: its mode is theirs (the files in it are private)
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    os.chmod(folder, FOLDER_MODE)  # mkdir's mode goes through the umask


def _private_files(database: Path) -> list[str]:
    """Create ``database`` 0600 if missing; make it and its companions 0600 if open to others.

    Returns the names of the files whose mode was changed. The history holds
    private messages: another local user must not read it, whatever the
    umask or the mode of an existing folder.
    """
    fd = os.open(database, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)
    tightened = []
    for suffix in _COMPANIONS:
        path = database.with_name(database.name + suffix)
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                os.chmod(path, FILE_MODE)
                tightened.append(f"{path.name} (was {mode:04o})")
        except FileNotFoundError:
            continue
    return tightened


def _row_message(row: Row) -> Msg:
    msg_id, ts, from_name, text, to_name, action, room, sig, ref, fp, sent, seq = row
    return Msg(
        id=msg_id,
        ts=ts,
        from_=from_name,
        text=text,
        to=to_name,
        action=action,
        room=room,
        sig=sig,
        ref=ref,
        fp=fp,
        sent=sent,
        seq=seq,
    )


def _scope_clause(scope: Scope, params: dict[str, object]) -> str:
    """The WHERE clause of ``scope``, its room names added to ``params`` (:room0, ...)."""
    parts = [_LOBBY] if scope.lobby else []
    if scope.rooms:
        names = sorted(scope.rooms)
        params.update({f"room{index}": name for index, name in enumerate(names)})
        placeholders = ", ".join(f":room{index}" for index in range(len(names)))
        parts.append(f"room IN ({placeholders})")
    return "(" + " OR ".join(parts) + ")" if parts else "0"


class SqliteStore:
    """Messages, refs and names in one SQLite file, used from one dedicated thread.

    WAL mode; ``synchronous=FULL`` by default (a committed message survives
    power loss), ``NORMAL`` with ``Durability.NORMAL`` (it survives a killed
    process). The event loop never waits on disk: every call runs on the
    store's own thread.
    """

    def __init__(
        self, path: Path, durability: Durability = Durability.FULL, *, exclusive: bool = False
    ) -> None:
        self.path = path
        self.durability = durability
        # A server's store holds its folder's lock while open (folderlock.py): a
        # restore or a second server refuses then. The CLI's tools leave it alone.
        self.exclusive = exclusive
        self._lock: FolderLock | None = None
        self.last_id = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtchat-store")
        self._db: sqlite3.Connection | None = None
        self._tightened: list[str] = []  # files found open to others, made 0600 at open

    def describe(self) -> str:
        """Where messages are kept, for the log at start."""
        said = f"messages in {self.path} (SQLite, durability {self.durability.value})"
        if self._tightened:
            said += f"; made {', '.join(self._tightened)} private (mode 0600)"
        return said

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._db is None:  # closed at shutdown while this waited its turn
                raise StoreClosed(f"{self.path} is closed")
            return work(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def ping(self) -> None:
        """``SELECT 1`` on the store's thread: behind the commits queued there, as a read is."""
        await self._run(lambda db: db.execute("SELECT 1").fetchone())

    async def open(self) -> None:
        """Open (creating if needed) the database; ConfigError if it is unusable."""
        loop = asyncio.get_running_loop()
        self._db, self.last_id = await loop.run_in_executor(self._executor, self._connect)

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        db: sqlite3.Connection | None = None
        try:
            _private_folder(self.path.parent)
            if self.exclusive:
                self._lock = folderlock.hold(self.path.parent, "start")
            self._tightened = _private_files(self.path)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.durability.value.upper()}")
            db.execute("PRAGMA foreign_keys=ON")
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check}")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            version = int(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
            if version == 1:
                _upgrade_to_rooms(db)
            if version in (1, 2):
                _upgrade_to_signatures(db)
            elif version != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"unknown schema version {version}")
            db.executescript(_ROOMS_SCHEMA)
            db.executescript(_SANCTIONS_SCHEMA)
            db.executescript(_CERTS_SCHEMA)
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()  # not left to the garbage collector (Python 3.13 warns then)
            self._release()
            raise ConfigError(f"cannot use the message store {self.path}: {exc}") from None
        return db, (row[0] if row else 0)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        results = await self._run(lambda db: self._append(db, drafts))
        for result in results:
            if result.msg is not None:
                self.last_id = max(self.last_id, result.msg.id)
        return results

    @staticmethod
    def _append(db: sqlite3.Connection, drafts: Sequence[Draft]) -> list[Stored]:
        out = []
        now = time.time()
        with _transaction(db):
            for draft in drafts:
                if draft.ref is not None:
                    row = db.execute(
                        "SELECT msg_id FROM refs WHERE sender = ? AND ref = ?",
                        (draft.sender, draft.ref),
                    ).fetchone()
                    if row is not None:
                        out.append(Stored(None, row[0]))
                        continue
                cursor = db.execute(
                    "INSERT INTO messages"
                    " (ts, sender, from_name, text, to_name, recipient, action, room,"
                    " sig, ref, fp, sent, seq)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        draft.ts,
                        draft.sender,
                        draft.from_name,
                        draft.text,
                        draft.to_name,
                        draft.recipient,
                        draft.action,
                        draft.room,
                        draft.sig,
                        draft.ref if draft.sig is not None else None,  # delivered when signed
                        draft.fp,
                        draft.sent,
                        draft.seq,
                    ),
                )
                msg_id = cursor.lastrowid
                assert msg_id is not None
                if draft.ref is not None:
                    db.execute(
                        "INSERT INTO refs VALUES (?, ?, ?, ?)",
                        (draft.sender, draft.ref, msg_id, now),
                    )
                out.append(Stored(message_of(msg_id, draft)))
        return out

    async def after(self, since: int, limit: int, reader: str, scope: Scope = LOBBY) -> HistoryPage:
        def read(db: sqlite3.Connection) -> HistoryPage:
            params: dict[str, object] = {"since": since, "reader": reader, "limit": limit + 1}
            visible = _scope_clause(scope, params)
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE id > :since AND {visible}"  # noqa: S608
                " ORDER BY id LIMIT :limit",
                params,
            ).fetchall()
            return HistoryPage(
                [_row_message(r) for r in rows[:limit]], len(rows) > limit, _first_kept(db)
            )

        return await self._run(read)

    async def recent(
        self, count: int, reader: str, upto: int | None = None, scope: Scope = LOBBY
    ) -> HistoryPage:
        def read(db: sqlite3.Connection) -> HistoryPage:
            params: dict[str, object] = {
                "reader": reader,
                "count": max(count, 0),
                "upto": MAX_INTEGER if upto is None else upto,
            }
            visible = _scope_clause(scope, params)
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE {visible} AND id <= :upto"  # noqa: S608
                " ORDER BY id DESC LIMIT :count",
                params,
            ).fetchall()
            return HistoryPage([_row_message(r) for r in reversed(rows)], False, _first_kept(db))

        return await self._run(read)

    async def names(self) -> dict[str, tuple[str, str]]:
        rows = await self._run(
            lambda db: db.execute("SELECT key, identity, name FROM names").fetchall()
        )
        return {key: (identity, name) for key, identity, name in rows}

    async def own_name(self, key: str, identity: str, name: str) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT OR IGNORE INTO names VALUES (?, ?, ?)", (key, identity, name)
            )
        )

    async def release_name(self, key: str) -> bool:
        cursor = await self._run(lambda db: db.execute("DELETE FROM names WHERE key = ?", (key,)))
        return cursor.rowcount > 0

    async def rooms(self) -> tuple[list[RoomRecord], list[tuple[str, str]]]:
        def read(db: sqlite3.Connection) -> tuple[list[RoomRecord], list[tuple[str, str]]]:
            rooms = [
                RoomRecord(*row)
                for row in db.execute("SELECT key, name, topic, topic_by, topic_ts FROM rooms")
            ]
            members = db.execute("SELECT room, identity FROM members").fetchall()
            return rooms, [(room, identity) for room, identity in members]

        return await self._run(read)

    async def join_room(self, room: RoomRecord, identity: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "INSERT OR IGNORE INTO rooms VALUES (?, ?, ?, ?, ?)",
                    (room.key, room.name, room.topic, room.topic_by, room.topic_ts),
                )
                db.execute("INSERT OR IGNORE INTO members VALUES (?, ?)", (room.key, identity))

        await self._run(write)

    async def part_room(self, key: str, identity: str) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                db.execute("DELETE FROM members WHERE room = ? AND identity = ?", (key, identity))
                return _drop_if_empty(db, key)

        return await self._run(write)

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE rooms SET topic = ?, topic_by = ?, topic_ts = ? WHERE key = ?",
                (topic, by, ts, key),
            )
        )

    async def sanctions(self) -> list[Sanction]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT kind, identity, name, until, by, reason, ts FROM sanctions"
            ).fetchall()
        )
        return [Sanction(*row) for row in rows]

    async def put_sanction(self, sanction: Sanction) -> None:
        s = sanction
        await self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO sanctions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (s.kind, s.identity, s.name, s.until, s.by, s.reason, s.ts),
            )
        )

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        cursor = await self._run(
            lambda db: db.execute(
                "DELETE FROM sanctions WHERE kind = ? AND identity = ?", (kind, identity)
            )
        )
        return cursor.rowcount > 0

    async def motd(self) -> str | None:
        row = await self._run(
            lambda db: db.execute("SELECT value FROM meta WHERE key = ?", (_MOTD_KEY,)).fetchone()
        )
        return row[0] if row else None

    async def put_cert(self, fp: str, pem: str, identity: str) -> None:
        keep = (
            "INSERT INTO certs (fp, pem, identity, seen) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (fp) DO UPDATE SET seen = excluded.seen"  # the PEM is the same
        )
        await self._run(lambda db: db.execute(keep, (fp, pem, identity, time.time())))

    async def cert_of(self, identity: str) -> str | None:
        latest = "SELECT fp FROM certs WHERE identity = ? ORDER BY seen DESC LIMIT 1"
        row = await self._run(lambda db: db.execute(latest, (identity,)).fetchone())
        return None if row is None else str(row[0])

    async def cert(self, fp: str) -> str | None:
        row = await self._run(
            lambda db: db.execute("SELECT pem FROM certs WHERE fp = ?", (fp,)).fetchone()
        )
        return None if row is None else str(row[0])

    async def set_motd(self, text: str | None) -> None:
        def write(db: sqlite3.Connection) -> None:
            if text is None:
                db.execute("DELETE FROM meta WHERE key = ?", (_MOTD_KEY,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_MOTD_KEY, text))

        await self._run(write)

    async def purge(self, older_than: dt.datetime | None, keep: int | None) -> int:
        """Delete messages older than ``older_than`` or beyond the newest ``keep`` (either
        may be None: that rule is off), and, always, refs older than REF_DAYS."""

        def purge(db: sqlite3.Connection) -> int:
            removed = 0
            with _transaction(db):
                if older_than is not None:
                    removed += db.execute(
                        "DELETE FROM messages WHERE ts < ?", (_ts(older_than),)
                    ).rowcount
                if keep is not None:
                    removed += db.execute(
                        "DELETE FROM messages WHERE id <= "
                        "(SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (keep,),
                    ).rowcount
                db.execute("DELETE FROM refs WHERE seen < ?", (time.time() - REF_DAYS * 86400,))
            return removed

        return await self._run(purge)


def _drop_if_empty(db: sqlite3.Connection, key: str) -> bool:
    """Delete room ``key`` if it has neither members nor messages; whether it went."""
    cursor = db.execute(
        "DELETE FROM rooms WHERE key = :key"
        " AND NOT EXISTS (SELECT 1 FROM members WHERE room = :key)"
        " AND NOT EXISTS (SELECT 1 FROM messages WHERE room = rooms.name)",
        {"key": key},
    )
    return cursor.rowcount > 0


def _upgrade_to_rooms(db: sqlite3.Connection) -> None:
    """Schema 1 to 2: messages get a room (NULL: the lobby, as every one so far)."""
    with _transaction(db):
        db.execute("ALTER TABLE messages ADD COLUMN room TEXT")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")


def _upgrade_to_signatures(db: sqlite3.Connection) -> None:
    """Schema 2 to 3: messages get a signature's fields (NULL: unsigned, as every one so far)."""
    with _transaction(db):
        for column in ("sig TEXT", "ref TEXT", "fp TEXT", "sent TEXT", "seq INTEGER"):
            db.execute(f"ALTER TABLE messages ADD COLUMN {column}")
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))


def _first_kept(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT MIN(id) FROM messages").fetchone()
    return row[0] or 0


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

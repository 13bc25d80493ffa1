"""The message history as JSON Lines, out of a store and into an empty one.

One line per message, oldest first: the ``msg`` frame a client receives
(docs/protocol.md, with its field names and its rule that an unset field
is left out), plus ``sender``, the identity key of whoever sent it, and,
on a private message, ``recipient``, the identity key it was for. The two
keys are what the store decides visibility by (a private message is shown
to those identities, not to whoever holds the name later), so an import
that kept only names would lose who may read what.

``export`` reads one snapshot (a read transaction), so it is consistent
while the server writes. ``import_messages`` fills an empty store only: it
keeps the ids, so that clients' resume points still mean the same
messages, and a store that ever held a message has given ids that must
never be given again. Every line is checked (the frame's own rules, then
the keys, ids in increasing order); the first bad one stops the import
with its line number and nothing is stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from ..errors import ConfigError, ProtocolError
from ..protocol import ACTIONS, Msg, frame_to_dict, parse_frame, parse_json_line, parse_ts
from ..rooms import is_lobby, room_key, room_problem
from . import folderlock
from .backup import StoreFacts, _connection, check_store
from .store import SqliteStore, _private_folder, _transaction

_MSG_FRAME: Final = {Msg.TYPE: Msg}
# A signed message's fields (protocol.md 6.8) travel too: without them a
# reader of the imported history could no longer verify who wrote what.
_COLUMNS: Final = (
    "id, ts, sender, from_name, text, to_name, recipient, action, room, sig, ref, fp, sent, seq"
)


@dataclass(frozen=True, slots=True)
class Line:
    """One message of an export: the frame and the identity keys beside it."""

    msg: Msg
    sender: str
    recipient: str | None = None

    def encode(self) -> str:
        """The JSON line, without its newline."""
        obj = frame_to_dict(self.msg)
        obj["sender"] = self.sender
        if self.recipient is not None:
            obj["recipient"] = self.recipient
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------
# Export


def export(
    database: Path,
    out: TextIO,
    *,
    since: int = 0,
    room: str | None = None,
    include_private: bool = False,
) -> int:
    """Write the messages with id > ``since`` to ``out``; how many were written.

    ``room``: only that room's messages (``lobby``: the lobby's). Private
    messages only with ``include_private``; they are in the lobby.
    """
    if not database.is_file():
        raise ConfigError(f"no message store at {database}: is --data right?")
    written = 0
    with _connection(database, "rw") as db:
        check_store(db, database)
        db.execute("BEGIN")  # one snapshot, however long the writing takes
        try:
            for line in _lines(db, since, room, include_private):
                out.write(line.encode() + "\n")
                written += 1
        finally:
            db.execute("COMMIT")
    return written


def _lines(db: sqlite3.Connection, since: int, room: str | None, private: bool) -> Iterator[Line]:
    params: dict[str, object] = {"since": since}
    where = ["id > :since"]
    if not private:
        where.append("recipient IS NULL")
    if room is not None and is_lobby(room):
        where.append("room IS NULL")
    elif room is not None:
        names = _room_names(db, room)
        params.update({f"room{n}": name for n, name in enumerate(names)})
        where.append(f"room IN ({', '.join(f':room{n}' for n in range(len(names)))})")
    query = f"SELECT {_COLUMNS} FROM messages WHERE {' AND '.join(where)} ORDER BY id"  # noqa: S608
    for row in db.execute(query, params):
        msg_id, ts, sender, from_name, text, to_name, recipient, action, room_name = row[:9]
        sig, ref, fp, sent, seq = row[9:]
        msg = Msg(
            msg_id,
            ts,
            from_name,
            text,
            to=to_name,
            action=action,
            room=room_name,
            sig=sig,
            ref=ref,
            fp=fp,
            sent=sent,
            seq=seq,
        )
        yield Line(msg, sender, recipient)


def _room_names(db: sqlite3.Connection, room: str) -> list[str]:
    """The names ``room`` is stored under: those that fold to its key (#Ops finds #ops)."""
    problem = room_problem(room)
    if problem is not None:
        raise ConfigError(f"--room: {problem}")
    key = room_key(room)
    stored = db.execute("SELECT DISTINCT room FROM messages WHERE room IS NOT NULL")
    return [name for (name,) in stored if room_key(name) == key]


# --------------------------------------------------------------------------
# Import


def import_messages(database: Path, lines: Iterable[bytes], source: str) -> StoreFacts:
    """Store the export ``lines`` (read from ``source``) in the empty store ``database``."""
    try:
        _private_folder(database.parent)
    except OSError as exc:
        raise ConfigError(f"cannot use {database.parent}: {exc.strerror}") from None
    with folderlock.hold(database.parent, "import"):
        db, last_id = SqliteStore(database)._connect()  # creates it as the server would
        try:
            if last_id or db.execute("SELECT 1 FROM messages LIMIT 1").fetchone():
                raise ConfigError(
                    f"cannot import into {database}: it is not empty (last id {last_id});"
                    " import fills a new store: give an empty --data folder"
                )
            with _transaction(db):  # all or nothing
                rooms = _insert(db, lines, source)
                db.executemany(
                    "INSERT OR IGNORE INTO rooms (key, name) VALUES (?, ?)",
                    [(room_key(name), name) for name in rooms],
                )
            return check_store(db, database)
        finally:
            db.close()


def _insert(db: sqlite3.Connection, lines: Iterable[bytes], source: str) -> list[str]:
    """Insert every line's message; the rooms they were in, in order of first use."""
    rooms: dict[str, None] = {}
    previous = 0
    for number, raw in enumerate(lines, start=1):
        line = _numbered(raw, number, previous, source)
        previous = line.msg.id
        msg = line.msg
        db.execute(
            f"INSERT INTO messages ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",  # noqa: S608
            (
                msg.id,
                msg.ts,
                line.sender,
                msg.from_,
                msg.text,
                msg.to,
                line.recipient,
                msg.action,
                msg.room,
                msg.sig,
                msg.ref if msg.sig is not None else None,  # kept only with a signature
                msg.fp,
                msg.sent,
                msg.seq,
            ),
        )
        if msg.room is not None:
            rooms.setdefault(msg.room)
    return list(rooms)


def _numbered(raw: bytes, number: int, previous: int, source: str) -> Line:
    """Line ``number`` of ``source``, its id above ``previous``; ConfigError naming it if not."""
    try:
        line = parse_line(raw.rstrip(b"\r\n"))
    except ValueError as exc:
        raise ConfigError(f"{source} line {number}: {exc}") from None
    if line.msg.id <= previous:
        raise ConfigError(
            f"{source} line {number}: id {line.msg.id} is not above the previous line's"
            f" {previous}: lines go in increasing id order"
        )
    return line


def parse_line(raw: bytes) -> Line:
    """One export line (without its newline) as a message; ValueError saying what is wrong."""
    if not raw.strip():
        raise ValueError("the line is empty")
    try:
        obj = parse_json_line(raw)
        if obj.get("type") != Msg.TYPE:
            raise ValueError(f"'type' must be {Msg.TYPE!r}")
        frame = parse_frame(obj, _MSG_FRAME)
    except ProtocolError as exc:
        raise ValueError(str(exc)) from None
    assert isinstance(frame, Msg)
    _check_message(frame)
    sender = _identity(obj, "sender")
    recipient = _identity(obj, "recipient") if frame.to is not None else None
    if frame.to is None and "recipient" in obj:
        raise ValueError("'recipient' belongs to a private message (one with 'to')")
    return Line(frame, sender, recipient)


def _check_message(msg: Msg) -> None:
    """What the server itself would never have stored."""
    if msg.id < 1:
        raise ValueError("'id' must be at least 1")
    if parse_ts(msg.ts) is None:
        raise ValueError(f"'ts' {msg.ts!r} is not an RFC 3339 time with a time zone")
    if not msg.text:
        raise ValueError("'text' is empty")
    if msg.action is not None and msg.action not in ACTIONS:
        raise ValueError(f"unknown action {msg.action!r}")
    if msg.room is not None:
        problem = room_problem(msg.room)
        if problem is not None:
            raise ValueError(f"'room': {problem}")
        if msg.to is not None:
            raise ValueError("a private message ('to') has no room")
    if msg.replay:
        raise ValueError("'replay' is no part of an export")


def _identity(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field!r} must be the identity key, a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: JSON lets it through, SQLite would not
        raise ValueError(f"{field!r} contains a lone surrogate") from None
    return value

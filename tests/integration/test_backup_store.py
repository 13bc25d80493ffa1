"""Backups and the data folder's lock at the store's level: real SQLite files, no server."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

import pytest

from realtimechat.errors import ConfigError
from realtimechat.server import backup, export, folderlock
from realtimechat.server.store import SCHEMA_VERSION, Draft, SqliteStore

TS = "2026-12-07T10:00:00.000Z"


async def filled(folder: Path, texts: list[str], *, exclusive: bool = False) -> SqliteStore:
    """An open store in ``folder`` holding ``texts`` (ids from 1)."""
    store = SqliteStore(folder / "messages.db", exclusive=exclusive)
    await store.open()
    for text in texts:
        await store.append([Draft("ca:x/alice", "alice", text, TS)])
    return store


def backup_of(store: SqliteStore) -> Path:
    target = store.path.with_name("copy.db")
    backup.backup(store.path, target)
    return target


def texts_in(database: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT id, text FROM messages ORDER BY id").fetchall()


async def test_a_servers_store_holds_the_folder_until_it_closes(tmp_path: Path) -> None:
    """An exclusive store refuses a second one and a restore; closed, it lets both in."""
    store = await filled(tmp_path, ["one"], exclusive=True)
    second = SqliteStore(tmp_path / "messages.db", exclusive=True)
    try:
        with pytest.raises(folderlock.FolderInUse) as refused:
            await second.open()
        assert str(refused.value).startswith("cannot start: a server (pid ")
        assert str(refused.value).endswith(f") is using {tmp_path}: stop it first")
        with pytest.raises(folderlock.FolderInUse, match=r"^cannot restore: a server"):
            backup.restore(backup_of(store), store.path)
        plain = await filled(tmp_path, [])  # the CLI's tools (names release, ban) still open it
        await plain.close()
    finally:
        await store.close()
    await second.open()
    await second.close()
    with folderlock.hold(tmp_path, "restore") as held:
        assert held.path == tmp_path / folderlock.LOCK_FILE


async def test_backup_copies_the_store_whole_and_replaces_only_with_force(tmp_path: Path) -> None:
    """The copy holds every message and the same last id; an existing FILE needs --force."""
    store = await filled(tmp_path / "data", ["one", "two", "three"])
    target = tmp_path / "copy.db"
    seen: list[tuple[int, int]] = []
    try:
        facts = backup.backup(
            store.path, target, progress=lambda done, all: seen.append((done, all))
        )
        assert facts == backup.StoreFacts(SCHEMA_VERSION, 3, 1, 3)
        await store.append([Draft("ca:x/alice", "alice", "four", TS)])
        with pytest.raises(ConfigError, match="exists: give another FILE, or --force"):
            backup.backup(store.path, target)
        assert texts_in(target) == [(1, "one"), (2, "two"), (3, "three")]
        assert backup.backup(store.path, target, force=True).messages == 4
    finally:
        await store.close()
    assert seen[-1][0] == seen[-1][1], "the last report: every page copied"
    assert texts_in(target)[-1] == (4, "four")


def test_backup_of_a_missing_store_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^no message store at .*: is --data right\?$"):
        backup.backup(tmp_path / "messages.db", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def schema(database: Path, version: str) -> None:
    with closing(sqlite3.connect(database)) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (version,))
        db.commit()


def another_database(path: Path) -> None:
    path.unlink()
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (
            partial(schema, version="99"),
            "has schema version 99: this rtchat-server reads versions 1 to",
        ),
        (partial(schema, version="two"), "has schema version two: this rtchat-server reads"),
        (lambda path: path.write_bytes(b"not sqlite" * 100), "is not a realtimechat message"),
        (another_database, "is not a realtimechat message store \\(no meta or messages table"),
    ],
)
async def test_restore_refuses_what_is_no_store_of_a_known_schema_and_changes_nothing(
    tmp_path: Path, spoil: Callable[[Path], object], why: str
) -> None:
    """Checked before anything moves: the folder's store is left as it was, nothing beside it."""
    source = tmp_path / "source.db"
    made = await filled(tmp_path / "made", ["theirs"])
    await made.close()
    made.path.replace(source)
    spoil(source)
    store = await filled(tmp_path / "data", ["ours"])
    await store.close()
    before = sorted(path.name for path in (tmp_path / "data").iterdir())
    with pytest.raises(ConfigError, match=f"^{source} {why}"):
        backup.restore(source, store.path)
    assert texts_in(store.path) == [(1, "ours")]
    after = sorted(path.name for path in (tmp_path / "data").iterdir())
    assert after == sorted([*before, folderlock.LOCK_FILE]), "no partial copy left, nothing moved"


async def test_restore_keeps_the_replaced_store_aside_under_the_time(tmp_path: Path) -> None:
    """The old store is renamed, not deleted (not even by a second restore in the same
    second), and the restored one is opened as usual."""
    made = await filled(tmp_path / "made", ["restored 1", "restored 2"])
    await made.close()
    assert backup.backup(made.path, tmp_path / "copy.db").messages == 2
    store = await filled(tmp_path / "data", ["old"])
    await store.close()
    when = dt.datetime(2026, 12, 7, 23, 5, 9, tzinfo=dt.UTC)
    done = backup.restore(tmp_path / "copy.db", store.path, now=when)
    assert done.kept == tmp_path / "data" / "messages.db.before-restore-20261207T230509Z"
    assert texts_in(done.kept) == [(1, "old")]
    assert done.facts.messages == 2
    reopened = SqliteStore(store.path)
    await reopened.open()
    assert reopened.last_id == 2
    await reopened.close()
    again = backup.restore(tmp_path / "copy.db", store.path, now=when)
    assert again.kept == tmp_path / "data" / "messages.db.before-restore-20261207T230509Z-2"
    assert texts_in(again.kept) == [(1, "restored 1"), (2, "restored 2")]
    assert texts_in(done.kept) == [(1, "old")], "the same second: the first kept file stays"


async def test_restore_never_gives_again_an_id_the_replaced_store_gave(tmp_path: Path) -> None:
    """Ids 3-5 were given after the backup: the restored store's next message is 6, not 3
    (a client that showed 3-5 would hide a new 3-5), and the restore says so."""
    store = await filled(tmp_path / "data", ["one", "two"])
    assert backup.backup(store.path, tmp_path / "copy.db").last_id == 2
    for text in ["three", "four", "five"]:
        await store.append([Draft("ca:x/alice", "alice", text, TS)])
    await store.close()
    done = backup.restore(tmp_path / "copy.db", store.path)
    assert (done.facts.last_id, done.next_id) == (2, 6)
    reopened = SqliteStore(store.path)
    await reopened.open()
    try:
        [stored] = await reopened.append([Draft("ca:x/alice", "alice", "after the restore", TS)])
        assert stored.id == 6
    finally:
        await reopened.close()
    assert texts_in(store.path) == [(1, "one"), (2, "two"), (6, "after the restore")]


async def test_restore_refuses_a_live_store_with_its_wal_beside_it(tmp_path: Path) -> None:
    """A store copied with its -wal is not a backup: its last commits are in the -wal."""
    store = await filled(tmp_path / "live", ["in the wal"])
    try:
        with pytest.raises(ConfigError, match="has a -wal file beside it: it is a live store"):
            backup.restore(store.path, tmp_path / "data" / "messages.db")
    finally:
        await store.close()
    assert not (tmp_path / "data" / "messages.db").exists()


async def test_export_and_import_keep_a_signed_messages_fields(tmp_path: Path) -> None:
    """sig, fp, sent, seq and the ref travel (protocol.md 6.8): the imported history
    verifies as the original did; an unsigned message's ref stays the server's own."""
    store = SqliteStore(tmp_path / "data" / "messages.db")
    await store.open()
    signed = Draft(
        "ca:x/alice", "alice", "signed", TS, ref="r1", sig="c2ln", fp="ab" * 32,
        sent="2026-12-07T09:59:59.000Z", seq=4,
    )  # fmt: skip
    await store.append([signed, Draft("ca:x/alice", "alice", "plain", TS, ref="r2")])
    await store.close()
    out = io.StringIO()
    assert export.export(store.path, out) == 2
    first, second = out.getvalue().splitlines()
    assert json.loads(first) | {"id": 0} == {
        "type": "msg", "id": 0, "ts": TS, "from": "alice", "text": "signed", "sig": "c2ln",
        "ref": "r1", "fp": "ab" * 32, "sent": "2026-12-07T09:59:59.000Z", "seq": 4,
        "sender": "ca:x/alice",
    }  # fmt: skip
    assert "ref" not in json.loads(second)
    fresh = tmp_path / "fresh" / "messages.db"
    export.import_messages(fresh, [line.encode() for line in out.getvalue().splitlines()], "x")
    again = io.StringIO()
    export.export(fresh, again)
    assert again.getvalue() == out.getvalue()

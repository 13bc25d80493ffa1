"""The stores: what survives a restart, what each reader may see, what is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from realtimechat.errors import ConfigError
from realtimechat.pki import fingerprint_sha256
from realtimechat.protocol import Bye, Cert, CertRequest, Error, Msg, SendMsg
from realtimechat.server.app import ChatServer
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.redis_store import RedisStore
from realtimechat.server.store import REF_DAYS, Draft, MemoryStore, SqliteStore, Store

from ..support import (
    Pki,
    RawPeer,
    ServerFactory,
    connect,
    eventually,
    join,
    receive_n,
    receive_until,
)

TS = "2026-11-26T08:00:00.000Z"
StoreMaker = Callable[[], Awaitable[Store]]


def draft(text: str, *, sender: str = "id:alice", ref: str | None = None, **extra: Any) -> Draft:
    name = sender.split(":")[1]
    return Draft(sender=sender, from_name=name, text=text, ts=TS, ref=ref, **extra)


@pytest.fixture(params=["sqlite", "memory", "redis"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreMaker]:
    """Open stores of one kind on one path (one Redis); all closed after the test."""
    opened: list[Store] = []
    memory = MemoryStore()
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""

    async def make() -> Store:
        store: Store
        if request.param == "sqlite":
            store = SqliteStore(tmp_path / "messages.db")
        elif request.param == "redis":
            store = RedisStore(url, server_id="test")
        else:
            store = memory
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.mark.protocol("6.1", "6.3")
async def test_ids_increase_and_a_resent_ref_is_stored_once(make_store: StoreMaker) -> None:
    """append gives increasing ids; the same (sender, ref) again yields the first id."""
    store = await make_store()
    first = await store.append([draft("a", ref="r1"), draft("b"), draft("a again", ref="r1")])
    one = first[0].id  # 1, or Redis's clock in microseconds (docs/scaling.md)
    assert [r.msg.id if r.msg else None for r in first] == [one, one + 1, None]
    assert first[2].duplicate_of == one
    other = await store.append([draft("same ref, other sender", sender="id:bob", ref="r1")])
    assert other[0].msg is not None
    assert store.last_id == one + 2


@pytest.mark.protocol("8.2")
async def test_private_messages_are_visible_to_their_two_identities(make_store: StoreMaker) -> None:
    """after/recent show a private message to sender and recipient identities only."""
    store = await make_store()
    await store.append(
        [
            draft("public"),
            draft("psst", to_name="bob", recipient="id:bob"),
        ]
    )
    for reader, expected in (("id:alice", 2), ("id:bob", 2), ("id:carol", 1)):
        assert len((await store.after(0, 10, reader)).messages) == expected
        assert len((await store.recent(10, reader)).messages) == expected


async def test_after_pages_and_says_when_there_is_more(make_store: StoreMaker) -> None:
    """after(since, limit) returns the oldest first, at most limit, and 'more'."""
    store = await make_store()
    stored = await store.append([draft(f"m{n}") for n in range(5)])
    page = await store.after(stored[0].id, 2, "id:alice")
    assert [m.text for m in page.messages] == ["m1", "m2"]
    assert page.more
    assert [m.text for m in (await store.recent(2, "id:alice")).messages] == ["m3", "m4"]


@pytest.mark.protocol("6.1", "8.4")
async def test_purge_by_count_and_age(make_store: StoreMaker) -> None:
    """Retention removes the oldest messages; ids are not reused afterwards."""
    store = await make_store()
    stored = await store.append([draft(f"m{n}") for n in range(5)])
    one = stored[0].id
    assert await store.purge(None, 2) == 3
    page = await store.after(0, 10, "id:alice")
    assert [m.text for m in page.messages] == ["m3", "m4"]
    assert page.first_kept == one + 3
    tomorrow = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    assert await store.purge(tomorrow, None) == 2
    (again,) = await store.append([draft("after purge")])
    assert again.msg is not None
    assert again.msg.id == one + 5


@pytest.mark.protocol("6.1", "6.3", "9.4")
async def test_sqlite_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    """Ids, refs and name owners survive closing and reopening the file."""
    path = tmp_path / "data" / "messages.db"
    store = SqliteStore(path)
    await store.open()
    await store.append([draft("one", ref="r1"), draft("two")])
    await store.own_name("alice", "id:alice", "alice")
    await store.close()
    reopened = SqliteStore(path)
    await reopened.open()
    try:
        assert reopened.last_id == 2
        (resent,) = await reopened.append([draft("one", ref="r1")])
        assert resent.duplicate_of == 1
        (fresh,) = await reopened.append([draft("three")])
        assert fresh.id == 3
        assert await reopened.names() == {"alice": ("id:alice", "alice")}
        assert await reopened.release_name("alice")
        assert await reopened.names() == {}
    finally:
        await reopened.close()
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


@pytest.mark.protocol("8.4")
async def test_corrupt_store_refuses_to_open(tmp_path: Path) -> None:
    """A file that is not a database is a clear ConfigError, never silence."""
    path = tmp_path / "messages.db"
    path.write_bytes(b"this is not sqlite" * 100)
    store = SqliteStore(path)
    with pytest.raises(ConfigError, match="cannot use the message store"):
        await store.open()
    await store.close()


async def test_a_refused_store_closes_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that refuses to open closes the connection it made (Python 3.13 warns otherwise)."""
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording_connect(database: Path, **kwargs: Any) -> sqlite3.Connection:
        # Any thread: the store connects in its executor, the test looks from here.
        opened.append(connect(database, check_same_thread=False, **kwargs))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    path = tmp_path / "messages.db"
    path.write_bytes(b"this is not sqlite" * 100)
    store = SqliteStore(path)
    with pytest.raises(ConfigError, match="cannot use the message store"):
        await store.open()
    await store.close()
    assert len(opened) == 1
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """umask 0 for one test: files are made as their creator asks, nothing filtered out."""
    saved = os.umask(0)
    try:
        yield
    finally:
        os.umask(saved)


def modes(folder: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}


@pytest.mark.usefixtures("loose_umask")
async def test_the_database_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """messages.db, -wal and -shm 0600 and a new data folder 0700, even under umask 0.

    Before: messages.db was 0644 (SQLite's default, less the umask) and
    another local user read private messages from it in an existing 0755
    folder.
    """
    data = tmp_path / "new" / "data"
    store = SqliteStore(data / "messages.db")
    await store.open()
    try:
        await store.append([draft("private", to_name="bob", recipient="id:bob")])
        assert modes(data) == {
            "messages.db": 0o600,
            "messages.db-wal": 0o600,
            "messages.db-shm": 0o600,
        }
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    finally:
        await store.close()


async def test_database_files_open_to_others_are_made_private(tmp_path: Path) -> None:
    """An existing store made 0644 by an older version becomes 0600 at open, and the log says so."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    path = data / "messages.db"
    store = SqliteStore(path)
    await store.open()
    await store.append([draft("one")])
    await store.close()
    for name in ("messages.db", "messages.db-wal"):
        (data / name).touch()
        (data / name).chmod(0o644)
    reopened = SqliteStore(path)
    await reopened.open()
    try:
        assert set(modes(data).values()) == {0o600}
        assert reopened.describe().endswith(
            "; made messages.db (was 0644), messages.db-wal (was 0644) private (mode 0600)"
        )
        assert stat.S_IMODE(data.stat().st_mode) == 0o755  # the operator's folder stays theirs
    finally:
        await reopened.close()


@pytest.mark.protocol("8.4")
async def test_store_in_a_file_where_a_folder_should_be_refuses(tmp_path: Path) -> None:
    """--data pointing below a regular file cannot be created: ConfigError."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    store = SqliteStore(blocker / "messages.db")
    with pytest.raises(ConfigError):
        await store.open()
    await store.close()


# -- through the server -------------------------------------------------------------


@pytest.mark.protocol("6.1", "8.3", "9.4")
async def test_restart_on_the_same_data_continues_ids_and_resumes(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """After a restart, ids go on from where they were and hello{since} gets what followed."""
    path = tmp_path / "messages.db"
    first = await start_server(store=SqliteStore(path))
    alice = await join(first, pki, "alice")
    for n in range(3):
        await alice.send(SendMsg(text=f"before {n}"))
    before = await receive_n(alice, Msg, 3)
    await alice.close()
    await first.shutdown()

    second = await start_server(store=SqliteStore(path))
    bob = await join(second, pki, "bob")  # a late joiner: the recent lines come first
    recent = await receive_n(bob, Msg, 3, replays=True)
    assert [m.text for m in recent] == ["before 0", "before 1", "before 2"]
    await bob.send(SendMsg(text="after"))
    after = await receive_until(bob, Msg)
    assert after.id == before[-1].id + 1
    alice = await connect(second, pki.client("alice"))
    await alice.hello(None, since=before[0].id)
    resumed = await receive_n(alice, Msg, 3, replays=True)
    assert [m.text for m in resumed] == ["before 1", "before 2", "after"]
    await alice.close()
    await bob.close()


@pytest.mark.protocol("5.3", "9.4")
async def test_claims_survive_a_restart(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """A name claimed before a restart still belongs to its identity after it."""
    path = tmp_path / "messages.db"
    claim = ServerSettings(names=NamesMode.CLAIM)
    first = await start_server(settings=claim, store=SqliteStore(path))
    alice = await join(first, pki, "alice", name="Wonder")
    await alice.close()
    await first.shutdown()
    second = await start_server(settings=claim, store=SqliteStore(path))
    bob = await connect(second, pki.client("bob"))
    with pytest.raises(Exception, match="belongs to someone else"):
        await bob.hello("wonder")
    again = await join(second, pki, "alice", name="Wonder")
    assert again.welcome is not None
    assert again.welcome.name == "Wonder"
    await again.close()


class SlowNames(MemoryStore):
    """A store that takes its time to record a name owner, or fails to."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail

    async def own_name(self, key: str, identity: str, name: str) -> None:
        await asyncio.sleep(0.05)  # longer than a welcome takes to reach the client
        if self.fail:
            raise OSError("disk full")
        await super().own_name(key, identity, name)


@pytest.mark.protocol("5.3")
async def test_a_welcome_means_the_new_name_is_recorded(
    start_server: ServerFactory, pki: Pki
) -> None:
    """The owner of a new name is in the store before its first welcome goes out.

    It used to be written in the background after the welcome, so a stop or a
    kill right after it could free the name for someone else.
    """
    store = SlowNames()
    server = await start_server(store=store)
    alice = await join(server, pki, "alice")
    assert (await store.names()).get("alice") == (alice_key(server), "alice")
    await alice.close()


def alice_key(server: ChatServer) -> str:
    """The identity key of the one session on ``server``."""
    (session,) = server.hub.sessions
    assert session.identity is not None
    return session.identity.key


@pytest.mark.protocol("5.3", "12.1")
async def test_a_name_that_cannot_be_recorded_is_not_given(
    start_server: ServerFactory, pki: Pki
) -> None:
    """own_name fails: error internal, bye internal_error, and the name stays free for others."""
    store = SlowNames(fail=True)
    server = await start_server(store=store, settings=ServerSettings(names=NamesMode.CLAIM))
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(b'{"type":"hello","v":1}\n')
    seen = await carol.closed()
    assert seen == [Error(code="internal", message="internal error"), Bye(reason="internal_error")]
    assert await store.names() == {}
    store.fail = False
    bob = await join(server, pki, "bob", name="carol")  # free: carol never got it
    assert bob.welcome is not None
    assert bob.welcome.name == "carol"
    await bob.close()


@pytest.mark.protocol("6.4", "8.3")
async def test_private_message_waits_for_an_offline_recipient(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A private message to someone known but offline is stored and shown on their next join."""
    chat = await start_server()
    bob = await join(chat, pki, "bob")
    await bob.close()  # bob is known now, and offline
    alice = await join(chat, pki, "alice")
    await alice.send(SendMsg(text="for your eyes", to="bob", ref="p1"))
    assert (await receive_until(alice, Msg)).to == "bob"
    carol = await join(chat, pki, "carol")
    bob = await join(chat, pki, "bob")
    waiting = await receive_until(bob, Msg, replays=True)
    assert (waiting.text, waiting.replay) == ("for your eyes", True)
    await carol.send(SendMsg(text="hi all"))
    assert (await receive_until(carol, Msg, replays=True)).text == "hi all"  # carol saw no secret
    for client in (alice, bob, carol):
        await client.close()


@pytest.mark.protocol("8.4")
async def test_sqlite_file_is_a_real_database(tmp_path: Path) -> None:
    """What the store writes is plain SQLite, readable by anyone with the file."""
    # Awaited in the test's own loop: an asyncio.run() of its own here left
    # pytest-asyncio (0.26 and 1.0 at least) making a loop it never closed for the next test.
    store = SqliteStore(tmp_path / "m.db")
    await store.open()
    await store.append([draft("inspect me")])
    await store.close()
    with closing(sqlite3.connect(tmp_path / "m.db")) as db:
        assert db.execute("SELECT text FROM messages").fetchall() == [("inspect me",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _age_ref(path: Path, ref: str, days: float) -> None:
    """Make the record of ``ref`` look ``days`` old."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE refs SET seen = ? WHERE ref = ?", (time.time() - days * 86400, ref))


@pytest.mark.protocol("6.3", "8.4")
async def test_refs_past_their_days_go_at_start_without_retention(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """A server that forgets no message still forgets ref records older than REF_DAYS, at
    start; a recent one stays, and so do the messages."""
    path = tmp_path / "messages.db"
    store = SqliteStore(path)
    await store.open()
    await store.append(
        [draft("old", sender="ca:x/alice", ref="old"), draft("new", sender="ca:x/alice", ref="new")]
    )
    await store.close()
    _age_ref(path, "old", REF_DAYS + 1)
    await start_server(store=SqliteStore(path))  # no retention: every message is kept

    def refs() -> list[str]:
        with closing(sqlite3.connect(path)) as db:
            return [ref for (ref,) in db.execute("SELECT ref FROM refs ORDER BY ref")]

    await eventually(lambda: refs() == ["new"])
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (2,)


async def test_forgetting_old_refs_walks_an_index_not_the_table(tmp_path: Path) -> None:
    """The hourly deletion of old refs costs what it deletes: SQLite's plan uses an index."""
    store = SqliteStore(tmp_path / "m.db")
    await store.open()
    await store.close()
    with closing(sqlite3.connect(tmp_path / "m.db")) as db:
        plan = db.execute("EXPLAIN QUERY PLAN DELETE FROM refs WHERE seen < 0").fetchall()
    assert any("refs_seen" in str(row) for row in plan), plan


# -- signed messages (protocol.md 6.8) ----------------------------------------------

SIGNATURE: dict[str, Any] = {"sig": "c2ln", "fp": "ab" * 32, "sent": TS}


@pytest.mark.protocol("6.8")
async def test_every_store_keeps_a_signature_as_sent(make_store: StoreMaker) -> None:
    """The four signature fields come back from after and recent; an unsigned message has none."""
    store = await make_store()
    signed = Draft(
        sender="id:alice", from_name="alice", text="a", ts=TS, ref="r-1", seq=3, **SIGNATURE
    )
    await store.append([signed, draft("plain", ref="r-2")])
    for page in (await store.after(0, 10, "id:bob"), await store.recent(10, "id:bob")):
        first, second = page.messages
        assert (first.sig, first.ref, first.fp, first.sent, first.seq) == (
            "c2ln",
            "r-1",
            "ab" * 32,
            TS,
            3,
        )
        assert (second.sig, second.ref, second.fp, second.seq) == (None, None, None, None)
    await store.put_cert("ab" * 32, "PEM one", "id:alice")
    await store.put_cert("ab" * 32, "PEM again", "id:alice")  # the first copy stays
    assert (await store.cert("ab" * 32), await store.cert("cd" * 32)) == ("PEM one", None)
    await store.put_cert("cd" * 32, "PEM renewed", "id:alice")
    assert (await store.cert_of("id:alice"), await store.cert_of("id:bob")) == ("cd" * 32, None)


SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '2');
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, sender TEXT NOT NULL,
    from_name TEXT NOT NULL, text TEXT NOT NULL, to_name TEXT, recipient TEXT,
    action TEXT, room TEXT
);
INSERT INTO messages (ts, sender, from_name, text) VALUES ('2026-11-26T08:00:00.000Z',
    'id:alice', 'alice', 'from before signatures');
"""


@pytest.mark.protocol("6.8", "8.4")
async def test_a_store_of_schema_2_is_upgraded_and_keeps_its_messages(tmp_path: Path) -> None:
    """A file from before signatures opens, keeps its messages unsigned and stores signed ones."""
    path = tmp_path / "messages.db"
    with closing(sqlite3.connect(path)) as db:
        db.executescript(SCHEMA_2)
    store = SqliteStore(path)
    await store.open()
    try:
        signed = Draft(sender="id:bob", from_name="bob", text="b", ts=TS, seq=1, **SIGNATURE)
        await store.append([signed])
        old, new = (await store.after(0, 10, "id:carol")).messages
        assert (old.text, old.sig, new.text, new.sig, new.seq) == (
            "from before signatures",
            None,
            "b",
            "c2ln",
            1,
        )
    finally:
        await store.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("3",)


@pytest.mark.protocol("6.8", "9.4")
async def test_a_signature_is_relayed_live_and_in_history_after_a_restart(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """The server relays a msg's signature fields unchanged, live and after a restart."""
    path = tmp_path / "messages.db"
    first = await start_server(store=SqliteStore(path))
    bob = await join(first, pki, "bob")
    alice = await join(first, pki, "alice")
    await alice.send(SendMsg(text="signed", ref="r", seq=9, **SIGNATURE))
    live = await receive_until(bob, Msg)
    assert (live.text, live.sig, live.ref, live.fp, live.sent, live.seq) == (
        "signed",
        "c2ln",
        "r",
        "ab" * 32,
        TS,
        9,
    )
    for client in (alice, bob):
        await client.close()
    await first.shutdown()
    second = await start_server(store=SqliteStore(path))
    carol = await join(second, pki, "carol")
    (replayed,) = await receive_n(carol, Msg, 1, replays=True)
    assert (replayed.sig, replayed.fp, replayed.sent, replayed.seq) == ("c2ln", "ab" * 32, TS, 9)
    await carol.close()


def fingerprint_of(path: Path) -> str:
    return fingerprint_sha256(x509.load_pem_x509_certificate(path.read_bytes()))


@pytest.mark.protocol("6.8", "9.4")
async def test_a_certificate_is_offered_by_its_fingerprint_also_after_a_restart(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """cert {fp} brings the certificate alice used, after a restart too; else no_such_cert."""
    path = tmp_path / "messages.db"
    alice_fp = fingerprint_of(pki.client("alice").cert)
    first = await start_server(store=SqliteStore(path))
    alice = await join(first, pki, "alice")
    await alice.close()
    await first.shutdown()
    second = await start_server(store=SqliteStore(path))
    bob = await join(second, pki, "bob")
    await bob.send(CertRequest(fp=alice_fp))
    got = await receive_until(bob, Cert)
    assert (got.fp, fingerprint_sha256(x509.load_pem_x509_certificate(got.pem.encode()))) == (
        alice_fp,
        alice_fp,
    )
    await bob.send(CertRequest(fp="0" * 64))
    refused = await receive_until(bob, Error)
    assert refused.code == "no_such_cert"
    await bob.close()

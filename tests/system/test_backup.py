"""rtchat-server backup, restore, export and import as console commands, beside a real server.

The server is a real ``rtchat-server`` process (tests/support.py's
ServerProcess); its clients speak the protocol over real mutual TLS on
loopback; every backup, restore, export and import is the console command
run as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.protocol import Ack, HistoryEnd, Msg, SendMsg
from realtimechat.server.store import Draft, SqliteStore
from realtimechat.tls import client_context

from ..support import BIN, WAIT, Pki, ServerProcess, mode_of, receive_until

UNLIMITED = ("--rate", "0", "--identity-rate", "0")  # a stream, not a flood to refuse
STREAM = 400  # messages sent while the backup runs, at most


def rtchat_server(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rtchat-server"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def rtchat_server_async(*args: str | Path) -> tuple[int, str, str]:
    """The command as a subprocess, without stopping this loop (its clients keep talking)."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "rtchat-server"),
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def joined(pki: Pki, user: str, port: int, since: int | None = None) -> ServerConnection:
    connection = await ServerConnection.open(
        Endpoint(host="127.0.0.1", port=port, cn="chatserver"),
        client_context(pki.client(user)),
        timeout=WAIT,
    )
    await connection.hello(since=since)
    return connection


def stored(database: Path) -> list[tuple[int, str]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT id, text FROM messages ORDER BY id").fetchall()


async def send_acked(alice: ServerConnection, texts: list[str]) -> list[int]:
    """Send ``texts`` one after another without waiting; their ids, from the acks."""
    for n, text in enumerate(texts):
        await alice.send(SendMsg(text, ref=f"{text}-{n}"))
    acks = [await receive_until(alice, Ack) for _ in texts]
    assert [ack.ref for ack in acks] == [f"{text}-{n}" for n, text in enumerate(texts)]
    return [ack.id for ack in acks]


async def test_a_backup_taken_while_messages_stream_in_holds_a_whole_prefix(
    pki: Pki, tmp_path: Path
) -> None:
    """While a client sends a stream, `backup` copies ids 1..N whole and in order, 0600."""
    server = ServerProcess(pki, tmp_path, extra=UNLIMITED)
    target = tmp_path / "backup.db"
    acked: list[int] = []
    alice = await joined(pki, "alice", server.port)
    try:

        async def stream(stop: asyncio.Event) -> None:
            for n in range(STREAM):
                if stop.is_set():
                    return
                acked.extend(await send_acked(alice, [f"m{n}"]))

        stop = asyncio.Event()
        sending = asyncio.create_task(stream(stop))
        async with asyncio.timeout(WAIT):
            while len(acked) < 20:
                await asyncio.sleep(0.01)
        before = len(acked)
        code, out, err = await rtchat_server_async("backup", target, "--data", tmp_path / "data")
        after = len(acked)
        stop.set()
        await sending
    finally:
        await alice.close()
        server.stop()
    assert code == 0, err
    rows = stored(target)
    count = len(rows)
    assert before <= count <= after + 1, "what was committed while the copy ran, no less"
    assert rows == [(n + 1, f"m{n}") for n in range(count)], "ids 1..N, each row whole"
    assert out == f"backed up {count:,} messages (ids 1-{count}) to {target}\n"
    assert err.startswith("backup: ")
    assert err.endswith("pages (100%)\n")
    assert mode_of(target) == 0o600
    assert not (tmp_path / "backup.db.partial").exists()
    with closing(sqlite3.connect(target)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",), "one file, no -wal"
    again = rtchat_server("backup", target, "--data", tmp_path / "data")
    assert again.returncode == 1
    assert again.stderr == (
        f"rtchat-server: {target} exists: give another FILE, or --force to replace it\n"
    )
    assert stored(target) == rows, "the existing backup left as it was"


@pytest.mark.protocol("8.3")
async def test_backup_restore_into_a_new_folder_and_resume_gives_the_same_ids(
    pki: Pki, tmp_path: Path
) -> None:
    """Backup, stop, restore into a fresh folder, start: a resume with `since` gets the
    same ids and texts, none lost or doubled, and new ids carry on after them."""
    (tmp_path / "old").mkdir()
    old = ServerProcess(pki, tmp_path / "old", extra=UNLIMITED)
    target = tmp_path / "backup.db"
    texts = [f"before the move {n}" for n in range(30)]
    try:
        alice = await joined(pki, "alice", old.port)
        bob = await joined(pki, "bob", old.port)
        ids = await send_acked(alice, texts)
        seen = [await receive_until(bob, Msg) for _ in texts]
        assert [(m.id, m.text) for m in seen] == list(zip(ids, texts, strict=True))
        await alice.close()
        await bob.close()
        backed = rtchat_server("backup", target, "--data", tmp_path / "old" / "data")
        assert backed.returncode == 0, backed.stderr
        refused = rtchat_server("restore", target, "--data", tmp_path / "old" / "data")
        assert refused.returncode == 1
        assert refused.stderr == (
            f"rtchat-server: cannot restore: a server (pid {old.process.pid}) is using"
            f" {tmp_path / 'old' / 'data'}: stop it first\n"
        )
    finally:
        old.stop()
    (tmp_path / "new").mkdir()
    restored = rtchat_server("restore", target, "--data", tmp_path / "new" / "data")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == f"restored 30 messages (ids 1-30) from {target}\n"
    new = ServerProcess(pki, tmp_path / "new", extra=UNLIMITED)
    try:
        bob = await joined(pki, "bob", new.port, since=12)
        assert bob.welcome is not None
        assert bob.welcome.last_id == 30
        replay = []
        async with asyncio.timeout(WAIT):
            while not isinstance(frame := await bob.receive(), HistoryEnd):
                if isinstance(frame, Msg):
                    replay.append(frame)
        assert [(m.id, m.text) for m in replay] == [(m.id, m.text) for m in seen[12:]]
        assert all(m.replay for m in replay)
        assert frame.count == 18
        alice = await joined(pki, "alice", new.port)
        assert await send_acked(alice, ["after the move"]) == [31], "no id given twice"
        live = await receive_until(bob, Msg)
        assert (live.id, live.text) == (31, "after the move")
        await alice.close()
        await bob.close()
    finally:
        new.stop()


def test_a_second_server_on_the_folder_is_refused_and_a_killed_one_blocks_nothing(
    pki: Pki, tmp_path: Path
) -> None:
    """One server per data folder; kill -9 lets go of it: a restore then works and keeps
    the old store aside, its -wal applied first (read for the highest id it gave)."""
    data = tmp_path / "data"
    server = ServerProcess(pki, tmp_path)
    try:
        second = rtchat_server(
            *("--host", "127.0.0.1", "--port", "0", "--pki", pki.folder.root, "--data", data)
        )
        assert second.returncode == 1
        assert second.stderr.endswith(
            f"rtchat-server: cannot start: a server (pid {server.process.pid}) is using {data}:"
            " stop it first\n"
        )
        backed = rtchat_server("backup", tmp_path / "backup.db", "--data", data)
        assert backed.returncode == 0, backed.stderr
    finally:
        server.kill()
    assert (data / "messages.db-wal").exists(), "kill -9: the server's WAL is left"
    done = rtchat_server("restore", tmp_path / "backup.db", "--data", data)
    assert done.returncode == 0, done.stderr
    kept = done.stdout.splitlines()[1].removeprefix("the store it replaced is kept as ")
    assert Path(kept).parent == data
    assert Path(kept).name.startswith("messages.db.before-restore-")
    assert not Path(kept + "-wal").exists(), "the old -wal was applied to its database"
    assert not (data / "messages.db-wal").exists()


# -- export and import ------------------------------------------------------------------

ALICE = "ca:CN=test CA/alice"
BOB = "ca:CN=test CA/bob"
DRAFTS = [
    Draft(ALICE, "alice", "hello all", "2026-12-07T10:00:00.000Z"),
    Draft(BOB, "bob", "psst", "2026-12-07T10:00:01.000Z", to_name="alice", recipient=ALICE),
    Draft(BOB, "bob", "waves", "2026-12-07T10:00:02.000Z", action="me", room="#Ops"),
    Draft(ALICE, "alice", "ünïcode ✓", "2026-12-07T10:00:03.000Z"),
    Draft(ALICE, "alice", "in ops", "2026-12-07T10:00:04.000Z", room="#Ops"),
]
LINES = [
    '{"type":"msg","id":1,"ts":"2026-12-07T10:00:00.000Z","from":"alice","text":"hello all",'
    f'"sender":"{ALICE}"}}',
    '{"type":"msg","id":2,"ts":"2026-12-07T10:00:01.000Z","from":"bob","text":"psst",'
    f'"to":"alice","sender":"{BOB}","recipient":"{ALICE}"}}',
    '{"type":"msg","id":3,"ts":"2026-12-07T10:00:02.000Z","from":"bob","text":"waves",'
    f'"action":"me","room":"#Ops","sender":"{BOB}"}}',
    '{"type":"msg","id":4,"ts":"2026-12-07T10:00:03.000Z","from":"alice","text":"ünïcode ✓",'
    f'"sender":"{ALICE}"}}',
    '{"type":"msg","id":5,"ts":"2026-12-07T10:00:04.000Z","from":"alice","text":"in ops",'
    f'"room":"#Ops","sender":"{ALICE}"}}',
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data folder whose store holds DRAFTS, ids 1-5."""

    async def fill() -> None:
        store = SqliteStore(tmp_path / "data" / "messages.db")
        await store.open()
        try:
            for draft in DRAFTS:
                await store.append([draft])
        finally:
            await store.close()

    asyncio.run(fill())
    return tmp_path / "data"


def exported(*args: str | Path) -> list[str]:
    done = rtchat_server("export", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("options", "lines"),
    [
        ((), [1, 3, 4, 5]),
        (("--include-private",), [1, 2, 3, 4, 5]),
        (("--since", "3"), [4, 5]),
        (("--room", "#ops"), [3, 5]),
        (("--room", "lobby"), [1, 4]),
        (("--room", "lobby", "--include-private"), [1, 2, 4]),
        (("--room", "#Ops", "--since", "3", "--include-private"), [5]),
        (("--room", "#nowhere"), []),
    ],
)
def test_export_writes_the_chosen_messages_as_json_lines_in_id_order(
    data: Path, options: tuple[str, ...], lines: list[int]
) -> None:
    """Each filter gives exactly its lines, oldest first; private ones only when asked."""
    assert exported("--data", data, *options) == [LINES[n - 1] for n in lines]


def test_export_to_a_file_is_private_and_says_how_many(data: Path, tmp_path: Path) -> None:
    """--output writes the lines to a 0600 file and the count on stderr."""
    out = tmp_path / "all.jsonl"
    done = rtchat_server("export", "--data", data, "--include-private", "--output", out)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "exported 5 messages\n")
    assert out.read_text(encoding="utf-8").splitlines() == LINES
    assert mode_of(out) == 0o600


def test_export_then_import_into_an_empty_store_then_export_gives_the_same_lines(
    data: Path, tmp_path: Path
) -> None:
    """The round trip keeps every field and id; the rooms come back with their messages."""
    out = tmp_path / "all.jsonl"
    done = rtchat_server("export", "--data", data, "--include-private", "--output", out)
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "fresh"
    done = rtchat_server("import", out, "--data", fresh)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"imported 5 messages (ids 1-5) into {fresh / 'messages.db'}\n"
    assert exported("--data", fresh, "--include-private") == LINES
    with closing(sqlite3.connect(fresh / "messages.db")) as db:
        assert db.execute("SELECT key, name FROM rooms").fetchall() == [("#ops", "#Ops")]
        assert db.execute("SELECT seq FROM sqlite_sequence").fetchall() == [(5,)]


def test_import_refuses_a_store_that_is_not_empty(data: Path, tmp_path: Path) -> None:
    """Ids once given are never given again: import only fills a new store."""
    out = tmp_path / "all.jsonl"
    out.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    done = rtchat_server("import", out, "--data", data)
    assert done.returncode == 1
    assert done.stderr == (
        f"rtchat-server: cannot import into {data / 'messages.db'}: it is not empty"
        " (last id 5); import fills a new store: give an empty --data folder\n"
    )
    assert len(stored(data / "messages.db")) == 5


def line(**fields: object) -> str:
    """An export line of id 9 from bob, with ``fields`` changed (None: left out)."""
    base: dict[str, object] = {"type": "msg", "id": 9, "ts": "2026-12-07T10:00:00Z"}
    base.update({"from": "bob", "text": "t", "sender": BOB})
    base.update(fields)
    return json.dumps({key: value for key, value in base.items() if value is not None})


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        # One of each kind, through the command; tests/unit/test_export_format.py
        # holds every refusal of a line's fields.
        (line()[:-1], "frame is not valid JSON"),
        (line(id=2), "id 2 is not above the previous line's 2: lines go in increasing id order"),
        (line(room="ops"), "'room': 'ops' is not a room name"),
        ("", "the line is empty"),
    ],
)
def test_import_refuses_a_bad_line_by_its_number_and_stores_nothing(
    tmp_path: Path, bad: str, why: str
) -> None:
    """The first bad line stops the import, named by number; the store stays empty."""
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join([*LINES[:2], bad, *LINES[2:]]) + "\n", encoding="utf-8")
    fresh = tmp_path / "fresh"
    done = rtchat_server("import", source, "--data", fresh)
    assert done.returncode == 1
    assert done.stderr.startswith(f"rtchat-server: {source} line 3: {why}"), done.stderr
    assert stored(fresh / "messages.db") == []
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    assert rtchat_server("import", good, "--data", fresh).returncode == 0, "still empty: usable"

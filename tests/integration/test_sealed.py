"""Sealed private messages end to end: real TLS, a real SQLite store, real clients."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from realtimechat.client.chat import Chat
from realtimechat.pki.issue import issue_client
from realtimechat.sealing import SealError, is_sealed, open_sealed
from realtimechat.server.store import SqliteStore

from ..support import WAIT, Pki, Recorder, ServerFactory, eventually, opener_for, port_of
from .test_signed import signatures_of

pytestmark = pytest.mark.protocol("6.9")

SECRET = "the door code is 4711"


def stored_bytes(folder: Path) -> bytes:
    """Every byte of the store's files (the database, its WAL and what else SQLite keeps)."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("messages.db*")))


async def started(chat: Chat) -> asyncio.Task[None]:
    running = asyncio.create_task(chat.run())
    async with asyncio.timeout(WAIT):
        await chat.welcomed.wait()
    return running


async def stopped(chat: Chat, running: asyncio.Task[None]) -> None:
    await chat.leave()
    async with asyncio.timeout(WAIT):
        await running


async def test_only_the_two_read_it_live_and_after_a_restart_and_the_store_never_holds_it(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """bob reads alice's sealed message live and from history after a restart; alice reads
    her own; the database file never holds the text; carol's key cannot open it."""
    path = tmp_path / "messages.db"
    server = await start_server(store=SqliteStore(path))
    views = {name: Recorder() for name in ("alice", "bob")}
    chats = {
        name: Chat(
            opener_for(pki.client(name), port_of(server)),
            views[name],
            signatures=signatures_of(pki, name),
        )
        for name in views
    }
    running = {name: await started(chat) for name, chat in chats.items()}
    assert await chats["alice"].perform(f"/msg bob {SECRET}")
    for view in views.values():
        await eventually(lambda view=view: SECRET in view.texts())  # type: ignore[misc]
    for name, chat in chats.items():
        await stopped(chat, running[name])
    await server.shutdown()
    stored = stored_bytes(tmp_path)
    assert b"4711" not in stored
    assert b"rtchat-sealed-v1:" in stored

    again = await start_server(store=SqliteStore(path))
    view = Recorder()
    bob = Chat(
        opener_for(pki.client("bob"), port_of(again)), view, signatures=signatures_of(pki, "bob")
    )
    task = await started(bob)
    await eventually(lambda: SECRET in view.texts())  # the replay after welcome: history
    (msg,) = [m for m in view.messages if m.text == SECRET]
    assert (msg.from_, msg.to, msg.replay) == ("alice", "bob", True)
    await stopped(bob, task)

    # What the server holds, given to carol: her key cannot open it.
    with closing(sqlite3.connect(path)) as db:
        (text,) = db.execute("SELECT text FROM messages WHERE to_name = 'bob'").fetchone()
    assert is_sealed(text)
    carol = signatures_of(pki, "carol")
    with pytest.raises(SealError, match="sealed for others"):
        open_sealed(text, carol.key, carol.cert)


async def test_a_recipient_with_an_ed25519_key_is_said_before_and_nothing_is_sent(
    start_server: ServerFactory, pki: Pki
) -> None:
    """/msg to a key that cannot be encrypted to: refused before sending; /msg! sends in clear."""
    issue_client(pki.folder.root, "edna", key_type="ed25519", force=True)
    server = await start_server()
    views = {name: Recorder() for name in ("alice", "edna")}
    chats = {
        name: Chat(
            opener_for(pki.client(name), port_of(server)),
            views[name],
            signatures=signatures_of(pki, name),
        )
        for name in views
    }
    running = {name: await started(chat) for name, chat in chats.items()}
    assert await chats["alice"].perform("/msg edna sealed?")
    await eventually(lambda: bool(chats["alice"].failures))
    (failure,) = chats["alice"].failures
    assert failure.code == "not_sealed"
    assert "an Ed25519 key can only sign" in failure.message
    assert "/msg! edna TEXT sends it in the clear" in failure.message
    assert await chats["alice"].perform("/msg! edna in the clear")
    await eventually(lambda: "in the clear" in views["edna"].texts())
    assert "sealed?" not in views["edna"].texts()
    assert not any(is_sealed(text) for text in views["edna"].texts())
    for name, chat in chats.items():
        await stopped(chat, running[name])


async def test_sealed_for_a_recipient_offline_since_before_a_restart(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """bob left before the restart: alice still seals for him, and he reads it when back."""
    path = tmp_path / "messages.db"
    first = await start_server(store=SqliteStore(path))
    bob_view = Recorder()
    bob = Chat(
        opener_for(pki.client("bob"), port_of(first)),
        bob_view,
        signatures=signatures_of(pki, "bob"),
    )
    await stopped(bob, await started(bob))
    await first.shutdown()

    second = await start_server(store=SqliteStore(path))
    alice_view = Recorder()
    alice = Chat(
        opener_for(pki.client("alice"), port_of(second)),
        alice_view,
        signatures=signatures_of(pki, "alice"),
    )
    running = await started(alice)
    assert await alice.perform(f"/msg bob {SECRET}")
    await eventually(lambda: SECRET in alice_view.texts())
    assert alice.failures == []
    await stopped(alice, running)

    view = Recorder()
    back = Chat(
        opener_for(pki.client("bob"), port_of(second)), view, signatures=signatures_of(pki, "bob")
    )
    running = await started(back)
    await eventually(lambda: SECRET in view.texts())
    await stopped(back, running)

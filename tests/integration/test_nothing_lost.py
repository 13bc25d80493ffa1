"""Nothing lost, nothing shown twice: crashes, cut links, silent links, slow readers."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from functools import partial
from pathlib import Path

import pytest

from realtimechat.client.chat import Backoff, Chat
from realtimechat.client.commands import Say
from realtimechat.protocol import Ack, HistoryEnd, Msg, Welcome
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.server.store import LOBBY, HistoryPage, MemoryStore, Scope, SqliteStore

from ..support import (
    WAIT,
    Pki,
    Proxy,
    RawPeer,
    Recorder,
    ServerFactory,
    ServerProcess,
    eventually,
    opener_for,
    port_of,
)

HELLO = b'{"type":"hello","v":1}\n'
FAST = Backoff(first=0.05, most=0.5)  # reconnect quickly: the tests wait on it

pytestmark = pytest.mark.engines


class Running:
    """Chats started in a test, all left and awaited at the end."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Chat, asyncio.Task[None]]] = []

    def start(self, chat: Chat) -> Chat:
        self.tasks.append((chat, asyncio.create_task(chat.run())))
        return chat

    async def stop(self) -> None:
        for chat, _ in self.tasks:
            await chat.leave()
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(task for _, task in self.tasks), return_exceptions=True)


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    chats = Running()
    yield chats
    await chats.stop()


def chat_for(
    pki: Pki, user: str, port: int, *, ping_interval: float = 30.0, pong_timeout: float = 15.0
) -> tuple[Chat, Recorder]:
    view = Recorder()
    opener = opener_for(
        pki.client(user), port, ping_interval=ping_interval, pong_timeout=pong_timeout
    )
    return Chat(opener, view, backoff=Backoff(FAST.first, FAST.most)), view


async def until(predicate: Callable[[], bool], timeout: float = 60) -> None:
    await eventually(predicate, timeout=timeout)


def exactly_once(texts: list[str], expected: list[str]) -> None:
    counts = Counter(texts)
    missing = [text for text in expected if counts[text] == 0]
    twice = [text for text, count in counts.items() if count > 1]
    assert not missing, f"never shown: {missing[:5]} ({len(missing)} in all)"
    assert not twice, f"shown more than once: {twice[:5]}"


@pytest.mark.protocol("9.1", "9.2", "9.4")
@pytest.mark.system  # a real rtchat-server process, killed and started again
async def test_kill_9_mid_burst_loses_nothing_and_shows_nothing_twice(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """kill -9 during a burst; restart on the same data: everything arrives once, in order."""
    server = ServerProcess(pki, tmp_path)
    try:
        alice, _ = chat_for(pki, "alice", server.port)
        bob, bob_saw = chat_for(pki, "bob", server.port)
        carol, carol_saw = chat_for(pki, "carol", server.port)
        for chat in (alice, bob, carol):
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        burst = [f"burst {n}" for n in range(150)]
        for n, text in enumerate(burst):
            await alice.say(Say(text))
            if n == 50:
                server.kill()  # mid-burst: some stored, some in flight, the rest typed while down
            if n == 100:
                server.start()  # same port, same --data
            await asyncio.sleep(0)
        await until(lambda: alice.all_echoed.is_set() and not alice.pending)
        await until(lambda: len(set(bob_saw.texts()) & set(burst)) == len(burst))
        await until(lambda: len(set(carol_saw.texts()) & set(burst)) == len(burst))
        exactly_once([t for t in bob_saw.texts() if t.startswith("burst")], burst)
        exactly_once([t for t in carol_saw.texts() if t.startswith("burst")], burst)
        assert any("reconnecting" in line for line in bob_saw.notices)
    finally:
        server.stop()
    with closing(sqlite3.connect(tmp_path / "data" / "messages.db")) as db:
        stored = [text for (text,) in db.execute("SELECT text FROM messages ORDER BY id")]
    exactly_once(stored, burst)
    assert stored == burst, "stored in the order typed, across the kill"


@pytest.mark.protocol("6.5.6", "9.1", "9.2", "9.4")
@pytest.mark.system  # a real rtchat-server process, killed and started again
async def test_kill_9_while_three_rooms_talk_loses_nothing_and_keeps_the_rooms(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """kill -9 while three clients talk in three rooms; restart on the same data: every
    message once, in its room, in order, on every member's screen; memberships back."""
    members = {"#a": ("alice", "bob", "carol"), "#b": ("alice", "bob"), "#c": ("bob", "carol")}
    talks = {"alice": "#a", "bob": "#b", "carol": "#c"}  # each talks in one room
    lines = {room: [f"{room} {user} {n}" for n in range(60)] for user, room in talks.items()}

    def rooms_of(user: str) -> list[str]:
        return [room for room, users in members.items() if user in users]

    server = ServerProcess(pki, tmp_path)
    try:
        chats = {user: chat_for(pki, user, server.port) for user in talks}
        for chat, _ in chats.values():
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        for user, (chat, _) in chats.items():
            for room in rooms_of(user):
                await chat.perform(f"/join {room}")
            await until(partial(in_rooms, chat, rooms_of(user)))
            await chat.perform(f"/go {talks[user]}")
        for n in range(60):
            for user, room in talks.items():
                await chats[user][0].say(Say(lines[room][n]))
            if n == 20:
                server.kill()  # mid-talk: some stored, some in flight, the rest typed while down
            if n == 40:
                server.start()  # same port, same --data
            await asyncio.sleep(0)
        for chat, _ in chats.values():
            await until(partial(all_echoed, chat))
        for user, (chat, saw) in chats.items():
            expected = {line for room in rooms_of(user) for line in lines[room]}
            await until(partial(shows_all, saw, expected))
            for room in members:
                shown_in_room = [msg.text for msg in saw.messages if msg.room == room]
                assert shown_in_room == (lines[room] if room in rooms_of(user) else []), room
            assert chat.rooms.names == rooms_of(user), "memberships back after the restart"
        assert any("reconnecting" in line for line in chats["bob"][1].notices)
    finally:
        server.stop()


def in_rooms(chat: Chat, rooms: list[str]) -> bool:
    return chat.rooms.names == rooms


def all_echoed(chat: Chat) -> bool:
    return chat.all_echoed.is_set() and not chat.pending


def shows_all(view: Recorder, texts: set[str]) -> bool:
    return texts <= set(view.texts())


@pytest.mark.protocol("6.3", "9.1")
async def test_link_cut_between_store_and_ack_stores_the_resend_once(
    start_server: ServerFactory, pki: Pki, tmp_path: Path, running: Running
) -> None:
    """The server stores a message, the link dies before the ack: the resend is not stored again."""
    server = await start_server(store=SqliteStore(tmp_path / "m.db"))
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, alice_saw = chat_for(pki, "alice", proxy.port)
        bob, bob_saw = chat_for(pki, "bob", port_of(server))
        for chat in (alice, bob):
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)

        def swallow_replies(index: int, data: bytes) -> None:
            proxy.blackhole(index)  # the msg itself got through; nothing comes back

        proxy.on_client_bytes = swallow_replies
        await alice.say(Say("exactly once"))
        await until(lambda: "exactly once" in bob_saw.texts())  # stored and fanned out
        assert alice.pending, "alice never got her ack"
        proxy.on_client_bytes = None
        proxy.cut(proxy.connections - 1)
        await until(lambda: not alice.pending)  # reconnected, resent, acked with the first id
        await until(lambda: "exactly once" in alice_saw.texts())
        exactly_once(bob_saw.texts(), ["exactly once"])
        exactly_once(alice_saw.texts(), ["exactly once"])
        page = await server.hub.store.after(0, 100, "anyone")
        assert [m.text for m in page.messages] == ["exactly once"]
    finally:
        await proxy.close()


@pytest.mark.protocol("9.2")
async def test_silent_link_is_noticed_by_missing_pongs(
    start_server: ServerFactory, pki: Pki, running: Running
) -> None:
    """A link that swallows everything is declared dead after a missing pong; then we reconnect."""
    server = await start_server()
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, alice_saw = chat_for(pki, "alice", proxy.port, ping_interval=0.3, pong_timeout=0.5)
        running.start(alice)
        await asyncio.wait_for(alice.welcomed.wait(), WAIT)
        proxy.blackhole(0)
        await until(lambda: proxy.connections >= 2 and alice.connection is not None, timeout=30)
        assert any("stopped answering" in line for line in alice_saw.notices)
        await alice.say(Say("back again"))
        await until(lambda: "back again" in alice_saw.texts())
    finally:
        await proxy.close()


@pytest.mark.protocol("8.3", "9.2")
async def test_a_client_welcomed_on_an_empty_history_resumes_from_it(
    start_server: ServerFactory, pki: Pki, running: Running
) -> None:
    """carol came when nothing had been said (welcome last_id 0) and lost her link before
    any message reached her; 80 are said meanwhile: back, she shows all 80, not the
    newcomer's most recent 50 (her hello resumes with since 0)."""
    server = await start_server()
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, _ = chat_for(pki, "alice", port_of(server))
        carol, carol_saw = chat_for(pki, "carol", proxy.port)
        for chat in (alice, carol):
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        assert carol.welcome is not None
        assert carol.welcome.last_id == 0
        proxy.blackhole(proxy.connections - 1)  # nothing reaches her, nothing comes back
        sent = [f"while away {n}" for n in range(80)]
        for text in sent:
            await alice.say(Say(text))
        await until(lambda: not alice.pending)  # all stored and acked
        proxy.cut(proxy.connections - 1)
        await until(lambda: set(sent) <= set(carol_saw.texts()))
        exactly_once([t for t in carol_saw.texts() if t.startswith("while away")], sent)
    finally:
        await proxy.close()


@pytest.mark.protocol("8.3", "9.2")
async def test_resume_boundary_has_no_hole_and_no_duplicate(
    start_server: ServerFactory, pki: Pki, running: Running
) -> None:
    """Carol's link is cut again and again while alice talks: carol shows every id once."""
    server = await start_server()
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, _ = chat_for(pki, "alice", port_of(server))
        carol, carol_saw = chat_for(pki, "carol", proxy.port)
        for chat in (alice, carol):
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        sent = [f"stream {n}" for n in range(300)]

        async def talk() -> None:
            for text in sent:
                await alice.say(Say(text))
                await asyncio.sleep(0.002)

        talking = asyncio.create_task(talk())
        cuts = 0
        while not talking.done() and cuts < 20:
            await until(lambda: carol.connection is not None)
            await asyncio.sleep(0.02)
            proxy.cut(proxy.connections - 1)
            cuts += 1
        await talking
        await until(lambda: set(sent) <= set(carol_saw.texts()))
        ids = carol_saw.ids()
        assert len(ids) == len(set(ids)), "an id was shown twice"
        assert ids == sorted(ids), "a resume showed something out of order"
        exactly_once([t for t in carol_saw.texts() if t.startswith("stream")], sent)
        assert cuts >= 5
    finally:
        await proxy.close()


@pytest.mark.protocol("9.2", "9.3")
async def test_slow_reader_fills_its_gap_and_shows_everything(
    start_server: ServerFactory, pki: Pki, running: Running
) -> None:
    """Carol stops reading, the server drops her messages (gap); she fetches them all back."""
    server: ChatServer = await start_server(
        queue_frames=32, queue_bytes=256 * 1024, write_timeout=120.0
    )
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, alice_saw = chat_for(pki, "alice", port_of(server))
        carol, carol_saw = chat_for(pki, "carol", proxy.port)
        for chat in (alice, carol):
            running.start(chat)
            await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        proxy.flowing.clear()  # carol reads nothing for a while
        big = "y" * 30_000
        sent = [f"{n}:{big}" for n in range(300)]
        for start in range(0, len(sent), 10):
            for text in sent[start : start + 10]:
                await alice.say(Say(text))
            await until(lambda: not alice.pending)
        assert any(s.outbox.dropped for s in server.hub.sessions if s.name == "carol")
        proxy.flowing.set()
        await until(lambda: set(sent) <= set(carol_saw.texts()), timeout=90)
        exactly_once([t for t in carol_saw.texts() if ":" in t], sent)
        assert any("missed" in line for line in carol_saw.notices)
        assert len(alice_saw.texts()) == len(sent)
    finally:
        await proxy.close()


@pytest.mark.protocol("6.4", "8.2")
async def test_private_messages_stay_private_through_resume_and_history(
    start_server: ServerFactory, pki: Pki, running: Running
) -> None:
    """A private message reaches only its two parties, live, on resume and via history."""
    server = await start_server()
    port = port_of(server)
    alice, _ = chat_for(pki, "alice", port)
    bob, bob_saw = chat_for(pki, "bob", port)
    carol, carol_saw = chat_for(pki, "carol", port)
    for chat in (alice, bob, carol):
        running.start(chat)
        await asyncio.wait_for(chat.welcomed.wait(), WAIT)
    await bob.leave()
    await carol.leave()
    await alice.say(Say("public before"))
    await alice.say(Say("only for bob", to="bob"))
    await alice.say(Say("public after"))
    await until(lambda: not alice.pending)
    # bob and carol come back and resume from where they were
    bob_back, bob_back_saw = chat_for(pki, "bob", port)
    bob_back.resume.last_id = max(bob_saw.ids(), default=0)
    carol_back, carol_back_saw = chat_for(pki, "carol", port)
    carol_back.resume.last_id = max(carol_saw.ids(), default=0)
    for chat in (bob_back, carol_back):
        running.start(chat)
    await until(lambda: "public after" in bob_back_saw.texts())
    await until(lambda: "public after" in carol_back_saw.texts())
    assert "only for bob" in bob_back_saw.texts()
    assert "only for bob" not in carol_back_saw.texts()
    for reader, expected in (("bob", True), ("carol", False)):
        session = next(s for s in server.hub.sessions if s.name == reader)
        assert session.identity is not None
        page = await server.hub.store.after(0, 100, session.identity.key)
        assert ("only for bob" in [m.text for m in page.messages]) is expected


class SlowRecentStore(MemoryStore):
    """A memory store whose 'recent' read waits until told: commits land meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False  # only the read of the replay under test waits
        self.reading = asyncio.Event()
        self.go_on = asyncio.Event()

    async def recent(
        self, count: int, reader: str, upto: int | None = None, scope: Scope = LOBBY
    ) -> HistoryPage:
        if self.armed:
            self.reading.set()
            await self.go_on.wait()
        return await super().recent(count, reader, upto, scope)


@pytest.mark.protocol("8.3")
async def test_a_late_joiner_gets_everything_stored_while_its_replay_is_read(
    start_server: ServerFactory, pki: Pki
) -> None:
    """More messages than --history-lines committed during the replay read: none is lost."""
    store = SlowRecentStore()
    server = await start_server(settings=ServerSettings(history_lines=5), store=store)
    talker = await RawPeer.open(server, pki.client("alice"))
    await talker.send(HELLO)
    await talker.until(HistoryEnd)  # alice's own replay is done (nothing stored yet)
    store.armed = True
    late = await RawPeer.open(server, pki.client("bob"))
    await late.send(HELLO)
    welcome = await late.until(Welcome)
    async with asyncio.timeout(WAIT):
        await store.reading.wait()  # bob's replay is being read...
    await talker.send(b"".join(f'{{"type":"msg","text":"m{n}"}}\n'.encode() for n in range(20)))
    for _ in range(20):  # ...while alice's 20 messages are stored and delivered
        await talker.until(Msg)
    store.go_on.set()
    seen: list[int] = []
    while len(seen) < 20:
        frame = await late.until(Msg)
        seen.append(frame.id)
    assert seen == list(range(welcome.last_id + 1, welcome.last_id + 21))
    talker.close()
    late.close()


class GatedReadStore(MemoryStore):
    """A memory store whose history reads ('after') wait at a gate; counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.reading = 0
        self.most_at_once = 0

    async def after(self, since: int, limit: int, reader: str, scope: Scope = LOBBY) -> HistoryPage:
        self.reading += 1
        self.most_at_once = max(self.most_at_once, self.reading)
        try:
            await self.gate.wait()
            return await super().after(since, limit, reader, scope)
        finally:
            self.reading -= 1


async def test_history_requests_are_read_one_at_a_time_per_session(
    start_server: ServerFactory, pki: Pki
) -> None:
    """Five history requests at once: one store read at a time, all five answered."""
    store = GatedReadStore()
    server = await start_server(store=store)
    asker = await RawPeer.open(server, pki.client("alice"))
    await asker.send(HELLO)
    await asker.until(HistoryEnd)
    await asker.send(b'{"type":"history","since":0}\n' * 5)
    await eventually(lambda: store.reading == 1)
    other = await RawPeer.open(server, pki.client("bob"))  # a full round trip elsewhere
    await other.send(HELLO + b'{"type":"msg","text":"meanwhile","ref":"m"}\n')
    assert (await other.until(Ack)).ref == "m"  # commits are not stuck behind alice's reads
    assert store.most_at_once == 1
    store.gate.set()
    for _ in range(5):
        await asker.until(HistoryEnd)
    assert store.most_at_once == 1
    asker.close()
    other.close()

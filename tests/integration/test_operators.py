"""Operators named by the certificate: kick, mute, ban, motd, announce, any room's topic.

Real TLS on loopback, certificates from a real CA folder: ``op`` carries the
group ``admin``, the others none. The server's wall clock is the test's
(``Clock``), so a mute or a ban ends when the test says, not after a sleep.
``carol`` is the honest witness: while each action runs, ``dave`` talks, and
carol must see every one of his messages, in order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from realtimechat.client.chat import Chat, Status
from realtimechat.client.connection import ServerConnection
from realtimechat.client.events import Reconnecting
from realtimechat.errors import SessionRefused
from realtimechat.pki import CaFolder, issue_client
from realtimechat.protocol import (
    Ack,
    Announce,
    Ban,
    Error,
    Frame,
    HistoryEnd,
    Joined,
    JoinRoom,
    Kick,
    Leave,
    Msg,
    Mute,
    Notice,
    SendMsg,
    SetMotd,
    SetTopic,
    Topic,
    Unban,
    Unmute,
    Users,
    Who,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.server.moderation import ban_in_store, in_force, unban_in_store
from realtimechat.server.store import SqliteStore
from realtimechat.tls import ClientFiles, ServerFiles, client_context

from ..support import (
    WAIT,
    Recorder,
    ServerFactory,
    endpoint,
    eventually,
    opener_for,
    port_of,
    receive_until,
)

pytestmark = pytest.mark.protocol("6.7")

Arrive = Callable[[str], Awaitable[ServerConnection]]


class Clock:
    """The server's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def team(ca_root: Path) -> CaFolder:
    """A CA whose ``op`` is in group admin; bob, carol and dave are in none."""
    issue_client(ca_root, "op", groups=["admin"])
    for user in ("bob", "carol", "dave"):
        issue_client(ca_root, user)
    return CaFolder(ca_root)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "messages.db"


Start = Callable[[], Awaitable[ChatServer]]
Opener = Callable[[ChatServer, str], Awaitable[ServerConnection]]


@pytest.fixture
def start(start_server: ServerFactory, team: CaFolder, clock: Clock, db: Path) -> Start:
    """Start a server of ``team``'s CA on the SQLite store ``db`` (again: a restart)."""

    async def begin() -> ChatServer:
        files = ServerFiles(team.server_cert, team.server_key, team.ca_cert, team.crl)
        settings = ServerSettings(watch_interval=0.1, motd="from the file")
        return await start_server(
            settings=settings, files=files, store=SqliteStore(db), clock=clock
        )

    return begin


@pytest.fixture
async def server(start: Start) -> ChatServer:
    return await start()


@pytest.fixture
async def opener(
    team: CaFolder,
) -> AsyncIterator[Opener]:
    """Connect as a user of ``team`` to a server (no hello yet); all closed after."""
    connections: list[ServerConnection] = []

    async def open_(server: ChatServer, user: str) -> ServerConnection:
        files = ClientFiles(team.client_cert(user), team.client_key(user), team.ca_cert)
        connection = await ServerConnection.open(
            endpoint(server), client_context(files), timeout=WAIT
        )
        connections.append(connection)
        return connection

    yield open_
    for connection in connections:
        await connection.close()


@pytest.fixture
def arrive(server: ChatServer, opener: Opener) -> Arrive:
    """Join ``server`` as a user, past the replay after welcome."""

    async def come(user: str) -> ServerConnection:
        connection = await opener(server, user)
        await connection.hello()
        await receive_until(connection, HistoryEnd)
        return connection

    return come


async def until_notice(connection: ServerConnection, kind: str) -> Notice:
    async with asyncio.timeout(WAIT):
        while True:
            notice = await receive_until(connection, Notice)
            if notice.kind == kind:
                return notice


async def ended_with(connection: ServerConnection) -> tuple[list[Frame], SessionRefused]:
    """What a session got until its end, and the refusal its end raised."""
    seen: list[Frame] = []
    async with asyncio.timeout(WAIT):
        while True:
            try:
                seen.append(await connection.receive())
            except SessionRefused as refused:
                return seen, refused


async def talk(speaker: ServerConnection, witness: ServerConnection, texts: list[str]) -> None:
    """``speaker`` says ``texts``; the witness sees each, in order, with nothing missing."""
    for text in texts:
        await speaker.send(SendMsg(text=text, ref=text))
    got: list[str] = []
    async with asyncio.timeout(WAIT):
        while len(got) < len(texts):
            frame = await witness.receive()
            if isinstance(frame, Msg) and frame.from_ == "dave":
                got.append(frame.text)
    assert got == texts


def moderation_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("moderation ")]


@pytest.fixture(autouse=True)
def _log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="realtimechat.server")


@pytest.mark.protocol("12.2")
async def test_a_kick_ends_the_users_sessions_and_tells_everyone(
    arrive: Arrive, caplog: pytest.LogCaptureFixture
) -> None:
    """kick: bob gets the notice then bye kicked (no retry); carol the notice and leave kicked."""
    op, bob, carol, dave = [await arrive(u) for u in ("op", "bob", "carol", "dave")]
    await talk(dave, carol, ["k1", "k2"])
    await op.send(Kick(name="BOB", reason="flooding the lobby"))
    seen, refused = await ended_with(bob)
    notices = [f for f in seen if isinstance(f, Notice)]
    assert [(n.kind, n.name, n.by, n.reason) for n in notices] == [
        ("kick", "bob", "op", "flooding the lobby")
    ]
    assert refused.reason == "kicked"
    notice = await until_notice(carol, "kick")
    assert (notice.name, notice.by, notice.reason) == ("bob", "op", "flooding the lobby")
    leave = await receive_until(carol, Leave)
    assert (leave.name, leave.reason) == ("bob", "kicked")
    await talk(dave, carol, ["k3", "k4"])
    (line,) = moderation_lines(caplog)
    assert "action=kick by=op" in line
    assert "target=bob" in line
    assert 'reason="flooding the lobby"' in line


async def test_everyone_else_is_not_permitted(arrive: Arrive) -> None:
    """Each operator request from bob: not_permitted, and nothing happens; motd alone is his."""
    bob, carol = await arrive("bob"), await arrive("carol")
    requests: list[Frame] = [
        Kick(name="carol"),
        Mute(name="carol", seconds=60),
        Unmute(name="carol"),
        Ban(name="carol", seconds=60),
        Unban(name="carol"),
        SetMotd(text="mine now"),
        Announce(text="hear me"),
    ]
    messages: list[str] = []
    for request in requests:
        await bob.send(request)
        error = await receive_until(bob, Error)
        assert error.code == "not_permitted", request
        messages.append(error.message.split(" (")[0])
    assert messages == [
        "only operators may kick",
        "only operators may mute",
        "only operators may unmute",
        "only operators may ban",
        "only operators may unban",
        "only operators may set the message of the day",
        "only operators may announce",
    ]
    await bob.send(SetMotd())
    assert (await until_notice(bob, "motd")).text == "from the file"
    await carol.send(SendMsg(text="still here", ref="c1"))
    assert (await receive_until(carol, Ack)).ref == "c1"


async def test_a_mute_refuses_messages_until_it_ends(
    arrive: Arrive, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """mute: bob's msg gets error muted (with its ref, saying until when) until the time."""
    op, bob, carol, dave = [await arrive(u) for u in ("op", "bob", "carol", "dave")]
    await op.send(Mute(name="bob", seconds=600, reason="cool down"))
    notice = await until_notice(bob, "mute")
    assert (notice.name, notice.by, notice.reason) == ("bob", "op", "cool down")
    assert notice.until is not None
    assert (await until_notice(carol, "mute")).name == "bob"
    await talk(dave, carol, ["m1", "m2"])
    await bob.send(SendMsg(text="let me speak", ref="b1"))
    error = await receive_until(bob, Error)
    assert (error.code, error.ref) == ("muted", "b1")
    assert "muted until" in error.message
    assert "by op: cool down" in error.message
    clock.advance(601)
    await bob.send(SendMsg(text="thank you", ref="b2"))
    assert (await receive_until(bob, Ack)).ref == "b2"
    said = await receive_until(carol, Msg)
    assert (said.from_, said.text) == ("bob", "thank you")
    await talk(dave, carol, ["m3"])
    (line,) = moderation_lines(caplog)
    assert "action=mute by=op" in line
    assert "target=bob" in line
    assert "duration=10m" in line


async def test_an_unmute_ends_a_mute_at_once(arrive: Arrive) -> None:
    """unmute: bob speaks again; a second unmute is no_such_user (nothing to lift)."""
    op, bob = await arrive("op"), await arrive("bob")
    await op.send(Mute(name="bob", seconds=600))
    await until_notice(bob, "mute")
    await op.send(Unmute(name="bob"))
    notice = await until_notice(bob, "unmute")
    assert (notice.name, notice.by) == ("bob", "op")
    await bob.send(SendMsg(text="free", ref="f"))
    assert (await receive_until(bob, Ack)).ref == "f"
    await op.send(Unmute(name="bob"))
    assert (await receive_until(op, Error)).code == "no_such_user"


@pytest.mark.protocol("5.2", "12.1", "12.2")
async def test_a_ban_holds_at_hello_and_across_a_restart(
    start: Start,
    opener: Opener,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ban: bob's session ends (bye banned); his hello is refused, also after a restart, until
    an unban; a second ban that has run out lets him in."""
    server = await start()

    async def come(user: str) -> ServerConnection:
        connection = await opener(server, user)
        await connection.hello()
        await receive_until(connection, HistoryEnd)
        return connection

    op, bob, carol, dave = [await come(u) for u in ("op", "bob", "carol", "dave")]
    await op.send(Ban(name="bob", seconds=3600, reason="spam"))
    seen, refused = await ended_with(bob)
    assert [(f.kind, f.name) for f in seen if isinstance(f, Notice)] == [("ban", "bob")]
    assert refused.reason == "banned"
    leave = await receive_until(carol, Leave)
    assert (leave.name, leave.reason) == ("bob", "banned")
    await talk(dave, carol, ["b1", "b2"])

    async def refused_hello() -> SessionRefused:
        again = await opener(server, "bob")
        with pytest.raises(SessionRefused) as caught:
            await again.hello()
        return caught.value

    first = await refused_hello()
    assert first.reason == "banned"
    assert "banned until" in str(first)
    assert "by op: spam" in str(first)

    await server.shutdown()
    server = await start()
    assert (await refused_hello()).reason == "banned"
    op = await come("op")
    await op.send(Unban(name="bob"))
    assert (await until_notice(op, "unban")).name == "bob"
    await come("bob")  # welcomed
    await op.send(Ban(name="bob", seconds=60))
    await until_notice(op, "ban")
    assert (await refused_hello()).reason == "banned"
    clock.advance(61)
    await come("bob")  # the ban has run out
    actions = [line.split()[1] for line in moderation_lines(caplog)]
    assert actions == ["action=ban", "action=unban", "action=ban"]


async def test_a_ban_from_the_host_ends_a_live_session(
    arrive: Arrive, clock: Clock, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """rtchat-server ban's write to the store, server running: bob's session ends within
    seconds, everyone told by rtchat-server; unban from the host lets him in again."""
    bob, carol, dave = await arrive("bob"), await arrive("carol"), await arrive("dave")
    store = SqliteStore(db)
    await store.open()
    try:
        done = await ban_in_store(store, "Bob", 3600, "from the host", clock())
        assert [s.name for s in await in_force(store, clock())] == ["bob"]
    finally:
        await store.close()
    assert done.by == "rtchat-server"
    _, refused = await ended_with(bob)
    assert refused.reason == "banned"
    notice = await until_notice(carol, "ban")
    assert (notice.name, notice.by, notice.reason) == ("bob", "rtchat-server", "from the host")
    await talk(dave, carol, ["h1"])
    store = SqliteStore(db)
    await store.open()
    try:
        assert await unban_in_store(store, "bob") == "bob"
    finally:
        await store.close()
    assert (await until_notice(carol, "unban")).by == "rtchat-server"
    await arrive("bob")
    assert [line.split()[1] for line in moderation_lines(caplog)] == [
        "action=ban",
        "action=unban",
    ]


async def test_the_motd_an_operator_sets_is_shown_and_kept(
    start: Start,
    opener: Opener,
) -> None:
    """motd TEXT: everyone told, welcome carries it, across a restart; cleared: the file's."""
    server = await start()

    async def come(user: str) -> tuple[ServerConnection, str | None]:
        connection = await opener(server, user)
        welcome = await connection.hello()
        await receive_until(connection, HistoryEnd)
        return connection, welcome.motd

    op, motd = await come("op")
    assert motd == "from the file"
    carol, _ = await come("carol")
    await op.send(SetMotd(text="  be kind  "))
    notice = await until_notice(carol, "motd")
    assert (notice.text, notice.by) == ("be kind", "op")
    assert (await come("bob"))[1] == "be kind"
    await server.shutdown()
    server = await start()
    op, motd = await come("op")
    assert motd == "be kind"
    await op.send(SetMotd(text=""))
    assert (await until_notice(op, "motd")).text == "from the file"
    assert (await come("bob"))[1] == "from the file"


async def test_an_announcement_reaches_everyone(arrive: Arrive) -> None:
    """announce: a notice with the text and the operator to every session, op's own too."""
    op, bob = await arrive("op"), await arrive("bob")
    await op.send(Announce(text="restart at noon"))
    for each in (op, bob):
        notice = await until_notice(each, "announce")
        assert (notice.text, notice.by) == ("restart at noon", "op")


async def test_an_operator_sets_the_topic_of_any_room(arrive: Arrive) -> None:
    """topic: op, no member of #den, sets it; the members and op see it; bob may not."""
    op, bob, carol = await arrive("op"), await arrive("bob"), await arrive("carol")
    await carol.send(JoinRoom(room="#den"))
    await receive_until(carol, Joined)
    await bob.send(SetTopic(room="#den", text="bob was here"))
    assert (await receive_until(bob, Error)).code == "not_a_member"
    await op.send(SetTopic(room="#den", text="be nice"))
    for each in (carol, op):
        topic = await receive_until(each, Topic)
        assert (topic.room, topic.text, topic.name) == ("#den", "be nice", "op")


async def test_operators_are_marked_in_who(arrive: Arrive) -> None:
    """users entries: op true for op only."""
    await arrive("op")
    bob = await arrive("bob")
    await bob.send(Who())
    users = await receive_until(bob, Users)
    assert [(u.name, u.op) for u in users.users] == [("bob", False), ("op", True)]


async def test_an_operator_cannot_sanction_itself_nor_nobody(arrive: Arrive) -> None:
    """kick/ban of one's own identity: not_permitted; of an unknown name: no_such_user."""
    op = await arrive("op")
    await op.send(Ban(name="op", seconds=60))
    assert (await receive_until(op, Error)).code == "not_permitted"
    await op.send(Kick(name="nobody"))
    assert (await receive_until(op, Error)).code == "no_such_user"
    await op.send(Mute(name="nobody", seconds=60))
    assert (await receive_until(op, Error)).code == "no_such_user"


# -- the bundled client ---------------------------------------------------------------


async def chat_of(
    server: ChatServer, team: CaFolder, user: str
) -> tuple[Chat, Recorder, asyncio.Task[None]]:
    """Run rtchat's Chat as ``user`` until welcomed."""
    files = ClientFiles(team.client_cert(user), team.client_key(user), team.ca_cert)
    view = Recorder()
    chat = Chat(opener_for(files, port_of(server)), view)
    task = asyncio.create_task(chat.run())
    async with asyncio.timeout(WAIT):
        await chat.welcomed.wait()
    return chat, view, task


async def test_the_client_kicked_says_why_and_does_not_come_back(
    server: ChatServer, team: CaFolder
) -> None:
    """/kick from op's client: bob's client shows who and why ("you were kicked"), and ends
    (no reconnect loop); op's shows "bob was kicked"; /who shows op as @op."""
    op, op_view, op_task = await chat_of(server, team, "op")
    bob, bob_view, bob_task = await chat_of(server, team, "bob")
    try:
        await op.perform("/who")
        await eventually(lambda: any("online: bob, @op" in line for line in op_view.notices))
        await op.perform("/kick bob spamming")
        async with asyncio.timeout(WAIT):
            (outcome,) = await asyncio.gather(bob_task, return_exceptions=True)
        assert isinstance(outcome, SessionRefused)
        assert outcome.reason == "kicked"
        assert "not reconnecting" in str(outcome)
        assert any(line.endswith("-- you were kicked by op: spamming") for line in bob_view.notices)
        assert bob.status is Status.CLOSED
        assert not any(isinstance(event, Reconnecting) for event in bob_view.events)
        await eventually(lambda: any("bob left (kicked)" in line for line in op_view.notices))
        assert any(line.endswith("-- bob was kicked by op: spamming") for line in op_view.notices)
    finally:
        await op.leave()
        await asyncio.gather(op_task, bob_task, return_exceptions=True)


async def test_the_client_muted_sees_the_error_and_goes_on(
    server: ChatServer, team: CaFolder
) -> None:
    """/mute bob 10m: bob's line is refused (muted, until when); his later /motd is answered."""
    op, _, op_task = await chat_of(server, team, "op")
    bob, bob_view, bob_task = await chat_of(server, team, "bob")
    try:
        await op.perform("/mute bob 10m cool down")
        await eventually(lambda: any("-- you are muted until" in line for line in bob_view.notices))
        await bob.perform("hello?")
        await eventually(
            lambda: any("!! muted: you are muted until" in n for n in bob_view.notices)
        )
        await bob.perform("/motd")
        await eventually(
            lambda: any("message of the day: from the file" in n for n in bob_view.notices)
        )
        assert bob.status is Status.CONNECTED
    finally:
        for chat in (op, bob):
            await chat.leave()
        await asyncio.gather(op_task, bob_task, return_exceptions=True)


async def test_a_mute_holds_for_private_messages_and_rooms_too(
    arrive: Arrive, caplog: pytest.LogCaptureFixture
) -> None:
    """Muted: a private message, a room's and a room topic are refused as the lobby's; unban
    of nobody is no_such_user; a motd and a topic are logged with the operator."""
    op, bob, carol = await arrive("op"), await arrive("bob"), await arrive("carol")
    await bob.send(JoinRoom(room="#den"))
    await receive_until(bob, Joined)
    await op.send(Mute(name="bob", seconds=60))
    await until_notice(bob, "mute")
    await bob.send(SendMsg(text="psst", to="carol", ref="p"))
    error = await receive_until(bob, Error)
    assert (error.code, error.ref) == ("muted", "p")
    await bob.send(SendMsg(text="in the den", room="#den", ref="r"))
    error = await receive_until(bob, Error)
    assert (error.code, error.ref) == ("muted", "r")
    await bob.send(SetTopic(room="#den", text="buy my stuff"))
    error = await receive_until(bob, Error)
    assert error.code == "muted"
    assert error.message.startswith("you are muted until "), error.message
    await op.send(Unban(name="nobody"))
    assert (await receive_until(op, Error)).code == "no_such_user"
    await op.send(SetMotd(text="hello"))
    await until_notice(carol, "motd")
    await op.send(SetTopic(room="#den", text="quiet"))
    await receive_until(op, Topic)
    topic = await receive_until(bob, Topic)
    assert (topic.text, topic.name) == ("quiet", "op"), "bob's topic never took"
    actions = [line.split()[1] for line in moderation_lines(caplog)]
    assert actions == ["action=mute", "action=motd", "action=topic"]
    assert all(" by=op by_fp=" in line for line in moderation_lines(caplog))

"""Rooms over real TLS on loopback: join, part, topics, the list, per-room msg/who/history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from realtimechat.client.connection import ServerConnection
from realtimechat.protocol import (
    Error,
    Frame,
    HistoryEnd,
    HistoryRequest,
    Join,
    Joined,
    JoinRoom,
    Leave,
    ListRooms,
    Msg,
    Parted,
    PartRoom,
    RoomList,
    SendMsg,
    SetTopic,
    Topic,
    Users,
    Who,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.server.store import SqliteStore

from ..support import WAIT, Pki, ServerFactory, connect, receive_until

pytestmark = [pytest.mark.protocol("6.5"), pytest.mark.engines]

Come = Callable[..., Awaitable[ServerConnection]]


@pytest.fixture
async def come(pki: Pki) -> AsyncIterator[Come]:
    """Connect as a user (to ``server``), past the replay after welcome; all closed after."""
    connections: list[ServerConnection] = []

    async def arrive(
        server: ChatServer, user: str, *, since: int | None = None
    ) -> ServerConnection:
        connection = await connect(server, pki.client(user))
        await connection.hello(since=since)
        connections.append(connection)
        if since is None:
            await frames_until(connection, HistoryEnd)
        return connection

    yield arrive
    for connection in connections:
        await connection.close()


async def frames_until(
    connection: ServerConnection, last: type[Frame], *, room: str | None = None
) -> list[Frame]:
    """Every frame up to and including the first ``last`` (of ``room``, if given)."""
    seen: list[Frame] = []
    async with asyncio.timeout(WAIT):
        while True:
            frame = await connection.receive()
            seen.append(frame)
            if isinstance(frame, last) and (room is None or getattr(frame, "room", None) == room):
                return seen


async def enter(connection: ServerConnection, room: str) -> tuple[Joined, list[Msg]]:
    """Join ``room``; its ``joined`` and the history that follows, up to its history_end."""
    await connection.send(JoinRoom(room=room))
    seen = await frames_until(connection, Joined)
    joined = seen[-1]
    assert isinstance(joined, Joined)
    history = await frames_until(connection, HistoryEnd, room=joined.room)
    replayed = [f for f in history if isinstance(f, Msg) and f.replay]
    end = history[-1]
    assert isinstance(end, HistoryEnd)
    assert end.count == len(replayed)
    return joined, replayed


async def refused(connection: ServerConnection, frame: Frame) -> Error:
    """Send ``frame``; the error it gets."""
    await connection.send(frame)
    return await receive_until(connection, Error)


async def said(connection: ServerConnection, text: str, room: str | None = None) -> Msg:
    """Send ``text`` (to ``room``) and wait for its echo."""
    await connection.send(SendMsg(text=text, room=room, ref=text))
    while True:
        msg = await receive_until(connection, Msg)
        if msg.text == text:
            return msg


@pytest.mark.protocol("6.5.2", "6.5.3")
async def test_a_room_message_reaches_its_members_only(server: ChatServer, come: Come) -> None:
    """A msg in #ops goes to its members, with its room, and not to someone outside it."""
    alice, bob, carol = [await come(server, n) for n in ("alice", "bob", "carol")]
    joined, history = await enter(alice, "#ops")
    assert (joined.room, joined.members, history) == ("#ops", 1, [])
    await enter(bob, "#ops")
    assert (await receive_until(alice, Join)).room == "#ops"
    sent = await said(alice, "deploy at 5", "#ops")
    assert sent.room == "#ops"
    got = await receive_until(bob, Msg)
    assert (got.text, got.room, got.id) == ("deploy at 5", "#ops", sent.id)
    lobby = await said(alice, "hello all")
    assert (await receive_until(carol, Msg)).id == lobby.id  # carol saw nothing of #ops first
    assert lobby.room is None


@pytest.mark.protocol("6.5.3")
async def test_a_non_member_is_refused_and_a_room_that_is_not_is_no_such_room(
    server: ChatServer, come: Come
) -> None:
    """msg, who and history of a room one is not in are not_a_member; of no room, no_such_room."""
    alice, bob = await come(server, "alice"), await come(server, "bob")
    await enter(alice, "#ops")
    error = await refused(bob, SendMsg(text="let me in", room="#ops", ref="x1"))
    assert (error.code, error.ref) == ("not_a_member", "x1")
    assert (await refused(bob, Who(room="#ops"))).code == "not_a_member"
    assert (await refused(bob, HistoryRequest(since=0, room="#ops"))).code == "not_a_member"
    for room in ("#nowhere", "kitchen", "#bad name"):
        error = await refused(bob, SendMsg(text="hi", room=room, ref="x2"))
        assert (error.code, error.ref) == ("no_such_room", "x2")
    assert (await refused(bob, PartRoom(room="#ops"))).code == "not_a_member"


@pytest.mark.protocol("6.5.1")
async def test_room_names_are_folded_and_shown_as_created(server: ChatServer, come: Come) -> None:
    """#Ops, #OPS and #ops in full-width letters are one room, shown as first joined."""
    alice, bob = await come(server, "alice"), await come(server, "bob")
    joined, _ = await enter(alice, "#Ops")
    assert joined.room == "#Ops"
    joined, _ = await enter(bob, "#\uff4f\uff50\uff53")  # full-width letters
    assert (joined.room, joined.members) == ("#Ops", 2)
    msg = await said(bob, "same room?", "#OPS")
    assert msg.room == "#Ops"
    for bad in ("#", "#" + "x" * 51, "#a/b", "ops", "lobby"):
        assert (await refused(bob, JoinRoom(room=bad))).code == "no_such_room", bad


@pytest.mark.protocol("6.5.2")
async def test_part_tells_the_member_and_the_room(server: ChatServer, come: Come) -> None:
    """part: the member gets parted, the others leave {room, reason: part}; it may not speak."""
    alice, bob = await come(server, "alice"), await come(server, "bob")
    await enter(alice, "#ops")
    await enter(bob, "#ops")
    await receive_until(alice, Join)
    await bob.send(PartRoom(room="#ops"))
    parted = await receive_until(bob, Parted)
    assert (parted.room, parted.reason) == ("#ops", None)
    leave = await receive_until(alice, Leave)
    assert (leave.name, leave.room, leave.reason) == ("bob", "#ops", "part")
    assert (await refused(bob, SendMsg(text="x", room="#ops"))).code == "not_a_member"
    await said(alice, "still here", "#ops")
    lobby = await said(alice, "lobby line")
    assert (await receive_until(bob, Msg)).id == lobby.id  # the #ops line never reached bob


@pytest.mark.protocol("6.5.2")
async def test_a_late_joiner_gets_the_rooms_recent_lines_then_live_ones_in_order(
    start_server: ServerFactory, come: Come
) -> None:
    """joined, the room's last history lines (oldest first), then live messages, each once."""
    server = await start_server(settings=ServerSettings(history_lines=3))
    alice, bob = await come(server, "alice"), await come(server, "bob")
    await enter(alice, "#ops")
    ids = [(await said(alice, f"ops {n}", "#ops")).id for n in range(5)]
    await said(alice, "in the lobby")

    async def keep_talking() -> list[int]:
        return [(await said(alice, f"live {n}", "#ops")).id for n in range(20)]

    talking = asyncio.create_task(keep_talking())
    await bob.send(JoinRoom(room="#ops"))
    await receive_until(bob, Joined)  # before the history's first line
    live = await talking
    got: list[Msg] = []
    while len(got) < 3 + len(live):
        frame = await bob.receive()
        if isinstance(frame, Msg) and frame.room == "#ops":
            got.append(frame)
    assert [m.id for m in got[:3]] == ids[2:]
    assert all(m.replay for m in got[:3])
    assert [m.id for m in got[3:]] == live  # no hole, no duplicate, in order


@pytest.mark.protocol("6.5.4")
async def test_topics_are_set_by_members_and_cleared_with_nothing(
    start_server: ServerFactory, come: Come
) -> None:
    """A member's topic reaches every member (itself too); too long or not a member: refused."""
    server = await start_server(max_topic_chars=20)
    alice, bob = await come(server, "alice"), await come(server, "bob")
    await enter(alice, "#ops")
    await enter(bob, "#ops")
    await alice.send(SetTopic(room="#ops", text="on call: bob"))
    for each in (alice, bob):
        topic = await receive_until(each, Topic)
        assert (topic.room, topic.text, topic.name) == ("#ops", "on call: bob", "alice")
    carol = await come(server, "carol")
    assert (await refused(carol, SetTopic(room="#ops", text="mine"))).code == "not_a_member"
    error = await refused(alice, SetTopic(room="#ops", text="x" * 21))
    assert error.code == "topic_too_long"
    joined, _ = await enter(carol, "#ops")
    assert joined.topic == "on call: bob"
    await bob.send(SetTopic(room="#ops", text=""))
    assert (await receive_until(carol, Topic)).text == ""
    await carol.send(ListRooms())
    listed = await receive_until(carol, RoomList)
    assert [(r.name, r.topic) for r in listed.rooms] == [("#ops", None)]


@pytest.mark.protocol("6.5.5")
async def test_the_room_list_pages_with_counts_and_membership(
    start_server: ServerFactory, come: Come
) -> None:
    """rooms lists every room in name order, a page at a time, with members and member."""
    server = await start_server(max_rooms_per_identity=200)  # a page holds 100, as who's
    alice, bob = await come(server, "alice"), await come(server, "bob")
    names = [f"#r{n:03d}" for n in range(105)]
    for name in names:
        await enter(alice, name)
    await enter(bob, "#r001")
    await bob.send(ListRooms())
    first = await receive_until(bob, RoomList)
    assert [r.name for r in first.rooms] == names[:100]
    assert first.next is not None
    assert (first.rooms[1].members, first.rooms[1].member) == (2, True)
    assert (first.rooms[0].members, first.rooms[0].member, first.rooms[0].may_join) == (
        1,
        False,
        True,
    )
    await bob.send(ListRooms(cursor=first.next))
    second = await receive_until(bob, RoomList)
    assert [r.name for r in second.rooms] == names[100:]
    assert second.next is None


@pytest.mark.protocol("6.5.3")
async def test_who_and_history_of_a_room(server: ChatServer, come: Come) -> None:
    """who #ops lists its members online; history #ops brings only its messages."""
    alice, bob, carol = [await come(server, n) for n in ("alice", "bob", "carol")]
    await enter(alice, "#ops")
    await enter(bob, "#ops")
    await bob.send(Who(room="#ops"))
    users = await receive_until(bob, Users)
    assert ([u.name for u in users.users], users.room) == (["alice", "bob"], "#ops")
    ops = await said(alice, "in ops", "#ops")
    await said(alice, "in the lobby")
    await bob.send(HistoryRequest(since=0, room="#ops"))
    reply = await frames_until(bob, HistoryEnd, room="#ops")
    assert [m.id for m in reply if isinstance(m, Msg) and m.replay] == [ops.id]
    await carol.send(HistoryRequest(since=0))
    reply = await frames_until(carol, HistoryEnd)
    assert [m.text for m in reply if isinstance(m, Msg) and m.replay] == ["in the lobby"]


@pytest.mark.protocol("6.5.6")
async def test_membership_belongs_to_the_identity_and_welcome_lists_it(
    server: ChatServer, come: Come
) -> None:
    """A second session of the identity is told of the join; a new one's welcome lists the room."""
    alice, phone = await come(server, "alice"), await come(server, "alice")
    await enter(alice, "#ops")
    joined = await receive_until(phone, Joined)
    assert joined.room == "#ops"
    msg = await said(alice, "both devices", "#ops")
    assert (await receive_until(phone, Msg)).id == msg.id
    alice.abort()
    phone.abort()
    again = await come(server, "alice")
    assert again.welcome is not None
    assert again.welcome.rooms is not None
    assert [(r.name, r.member) for r in again.welcome.rooms] == [("#ops", True)]


@pytest.mark.protocol("6.5.6", "8.3")
async def test_a_resume_replays_every_room_after_since_in_one_order(
    server: ChatServer, come: Come
) -> None:
    """A since covers the lobby, private messages and each room: all, once, in id order."""
    alice, bob = await come(server, "alice"), await come(server, "bob")
    for room in ("#a", "#b", "#c"):
        await enter(alice, room)
        await enter(bob, room)
    since = (await said(bob, "before")).id
    bob.abort()
    sent = []
    for n in range(4):
        for where in ("#a", None, "#b", "#c"):
            sent.append((await said(alice, f"{where} {n}", where)).id)
    await alice.send(SendMsg(text="psst", to="bob", ref="p"))
    sent.append((await receive_until(alice, Msg)).id)
    bob = await come(server, "bob", since=since)
    replay = await frames_until(bob, HistoryEnd)
    got = [m.id for m in replay if isinstance(m, Msg)]
    assert got == sent


@pytest.mark.protocol("6.5.6")
async def test_a_client_that_never_names_a_room_sees_what_it_saw_before(
    server: ChatServer, come: Come
) -> None:
    """No room field anywhere: the welcome has no rooms, and no room's message arrives."""
    alice, bob = await come(server, "alice"), await come(server, "bob")
    assert bob.welcome is not None
    assert bob.welcome.rooms is None
    await enter(alice, "#ops")
    await said(alice, "not for bob", "#ops")
    lobby = await said(alice, "for everyone")
    got = await receive_until(bob, Msg)
    assert (got.id, got.room) == (lobby.id, None)


async def test_a_private_message_has_no_room(server: ChatServer, come: Come) -> None:
    """to and a room together are bad_field: private messages stay outside rooms."""
    alice = await come(server, "alice")
    await enter(alice, "#ops")
    error = await refused(alice, SendMsg(text="x", to="bob", room="#ops", ref="p1"))
    assert (error.code, error.ref) == ("bad_field", "p1")


@pytest.mark.protocol("6.5.8")
async def test_rooms_per_identity_and_per_server_are_limited(
    start_server: ServerFactory, come: Come
) -> None:
    """Over max_rooms_per_identity or max_rooms a join is too_many_rooms, and nothing changes."""
    server = await start_server(max_rooms=3, max_rooms_per_identity=2)
    alice, bob = await come(server, "alice"), await come(server, "bob")
    await enter(alice, "#a")
    await enter(alice, "#b")
    error = await refused(alice, JoinRoom(room="#c"))
    assert error.code == "too_many_rooms"
    await enter(bob, "#c")
    assert (await refused(bob, JoinRoom(room="#d"))).code == "too_many_rooms"
    await enter(bob, "#a")  # an existing room is no new room
    await alice.send(ListRooms())
    listed = await receive_until(alice, RoomList)
    assert [(r.name, r.members, r.member) for r in listed.rooms] == [
        ("#a", 2, True),
        ("#b", 1, True),
        ("#c", 1, False),
    ]


@pytest.mark.protocol("6.5.6")
async def test_memberships_and_topics_survive_a_restart(
    start_server: ServerFactory, come: Come, pki: Pki, tmp_path: Path
) -> None:
    """On the same SQLite store, a restarted server welcomes members with their rooms."""
    path = tmp_path / "messages.db"
    server = await start_server(store=SqliteStore(path))
    alice = await come(server, "alice")
    await enter(alice, "#ops")
    await alice.send(SetTopic(room="#ops", text="kept"))
    await receive_until(alice, Topic)
    msg = await said(alice, "kept too", "#ops")
    await server.shutdown()
    server = await start_server(store=SqliteStore(path))
    alice = await connect(server, pki.client("alice"))
    await alice.hello()
    welcome = alice.welcome
    assert welcome is not None
    assert welcome.rooms is not None
    assert [(r.name, r.topic, r.members) for r in welcome.rooms] == [("#ops", "kept", 1)]
    replay = await frames_until(alice, HistoryEnd)
    assert [m.id for m in replay if isinstance(m, Msg)] == [msg.id]
    await alice.close()

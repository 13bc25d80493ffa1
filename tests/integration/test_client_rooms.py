"""The bundled client in rooms, against a real server: /join, /go, /part, --room, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from realtimechat.client.chat import Chat, Status
from realtimechat.server.app import ChatServer

from ..support import WAIT, Pki, Proxy, Recorder, ServerFactory, eventually, opener_for, port_of

pytestmark = pytest.mark.protocol("6.5")

Start = Callable[..., Awaitable[tuple[Chat, Recorder]]]


@pytest.fixture
async def start(server: ChatServer, pki: Pki) -> AsyncIterator[Start]:
    """Run a Chat for a user until welcomed; every chat is left after the test."""
    running: list[tuple[Chat, asyncio.Task[None]]] = []

    async def begin(
        user: str, *, port: int | None = None, **options: object
    ) -> tuple[Chat, Recorder]:
        view = Recorder()
        opener = opener_for(pki.client(user), port or port_of(server))
        chat = Chat(opener, view, **options)  # type: ignore[arg-type]
        task = asyncio.create_task(chat.run())
        running.append((chat, task))
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
        return chat, view

    yield begin
    for chat, task in running:
        await chat.leave()
        async with asyncio.timeout(WAIT):
            await asyncio.gather(task, return_exceptions=True)


async def type_(chat: Chat, line: str) -> None:
    await chat.perform(line)


def texts_in(view: Recorder, room: str | None) -> list[str]:
    return [msg.text for msg in view.messages if msg.room == room]


async def test_join_types_into_the_room_and_go_switches_back(start: Start) -> None:
    """/join #ops: lines go to #ops, in order; /go lobby: to the lobby; each shown in its room."""
    alice, _ = await start("alice")
    bob, bob_view = await start("bob")
    await type_(bob, "/join #ops")
    await type_(alice, "/join #ops")
    await eventually(lambda: alice.rooms.current_name == "#ops")
    for n in range(5):
        await type_(alice, f"ops {n}")
    await type_(alice, "/go lobby")
    await type_(alice, "for everyone")
    await eventually(lambda: len(bob_view.messages) == 6)
    assert texts_in(bob_view, "#ops") == [f"ops {n}" for n in range(5)]
    assert texts_in(bob_view, None) == ["for everyone"]
    assert bob.rooms.unread() == [("lobby", 1)]  # bob types into #ops since his /join


async def test_part_leaves_and_the_lobby_is_typed_into(start: Start) -> None:
    """/part in a room: parted, the lobby typed into; the room's next line never comes."""
    alice, alice_view = await start("alice")
    bob, _ = await start("bob")
    for chat in (alice, bob):
        await type_(chat, "/join #ops")
    await eventually(lambda: alice.rooms.names == bob.rooms.names == ["#ops"])
    await type_(alice, "/part")
    await eventually(lambda: alice.rooms.names == [])
    assert alice.rooms.current_name is None
    await type_(bob, "not for alice")
    await type_(bob, "/go lobby")
    await type_(bob, "for alice")
    await eventually(lambda: texts_in(alice_view, None) == ["for alice"])
    assert texts_in(alice_view, "#ops") == []
    assert any(line.endswith("-- you left #ops") for line in alice_view.notices)


async def test_a_room_option_joins_and_sends_there_from_the_first_line(start: Start) -> None:
    """--room #ops: joined after welcome, before the lines typed before it are sent."""
    bob, bob_view = await start("bob")
    await type_(bob, "/join #ops")
    await eventually(lambda: bob.rooms.names == ["#ops"])
    alice, _ = await start("alice", room="#ops")
    await type_(alice, "first")
    await eventually(lambda: texts_in(bob_view, "#ops") == ["first"])
    assert alice.rooms.names == ["#ops"]


async def test_rooms_come_back_after_a_reconnect_and_a_restart(
    server: ChatServer, start: Start
) -> None:
    """A dropped connection, or a new client of the same identity, is in its rooms again."""
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, view = await start("alice", port=proxy.port)
        await type_(alice, "/join #ops")
        await eventually(lambda: alice.rooms.names == ["#ops"])
        proxy.cut(0)
        await eventually(lambda: alice.status is Status.RECONNECTING)
        await eventually(lambda: alice.status is Status.CONNECTED and proxy.connections == 2)
        assert alice.rooms.names == ["#ops"]
        assert alice.rooms.current_name == "#ops"  # still typing into it
        await type_(alice, "after the drop")
        await eventually(lambda: texts_in(view, "#ops") == ["after the drop"])
    finally:
        await proxy.close()
    again, _ = await start("alice")
    assert again.rooms.names == ["#ops"]
    assert again.rooms.current_name is None  # a new client starts in the lobby


async def test_lines_typed_right_after_a_join_go_to_that_room(start: Start) -> None:
    """/join #qa then a line at once (no wait for joined): the line is #qa's, never the
    lobby's; /part then a line: the lobby's, after the line typed before the part."""
    alice, alice_view = await start("alice")
    _, bob_view = await start("bob")
    await type_(alice, "lobby 1")
    await type_(alice, "/join #qa")
    assert alice.rooms.current_name == "#qa"  # typed into at once
    await type_(alice, "qa 1")
    await type_(alice, "/join #qa2")
    await type_(alice, "qa2 1")
    await type_(alice, "/part")
    await type_(alice, "lobby 2")
    await eventually(lambda: texts_in(bob_view, None) == ["lobby 1", "lobby 2"])
    await eventually(lambda: len(alice_view.messages) == 4)
    assert [(msg.room, msg.text) for msg in alice_view.messages] == [
        (None, "lobby 1"),
        ("#qa", "qa 1"),
        ("#qa2", "qa2 1"),
        (None, "lobby 2"),
    ]
    assert alice.rooms.names == ["#qa"]
    assert not alice.failures
    assert texts_in(bob_view, "#qa") == []  # bob is in no room


async def test_a_join_typed_offline_goes_before_the_lines_typed_after_it(
    server: ChatServer, start: Start
) -> None:
    """While reconnecting: /join #ops and a line; after the reconnect both go, in order."""
    proxy = Proxy(port_of(server))
    await proxy.start()
    try:
        alice, view = await start("alice", port=proxy.port)
        proxy.cut(0)
        proxy.refuse = True
        await eventually(lambda: alice.status is Status.RECONNECTING)
        await type_(alice, "/join #ops")
        await type_(alice, "meant for ops")
        assert alice.rooms.current_name == "#ops"
        proxy.refuse = False
        alice.retry_now()
        await eventually(lambda: texts_in(view, "#ops") == ["meant for ops"])
        assert texts_in(view, None) == []
    finally:
        await proxy.close()


async def test_a_refused_join_puts_the_lobby_back(
    start_server: ServerFactory, start: Start
) -> None:
    """A join the server refuses (here too_many_rooms; --room too): the lobby is typed into
    again, and said; a line typed before the refusal came is refused, not sent elsewhere."""
    server = await start_server(max_rooms_per_identity=1)
    port = port_of(server)
    alice, view = await start("alice", port=port)
    await type_(alice, "/join #one")
    await eventually(lambda: alice.rooms.names == ["#one"])
    await type_(alice, "/join #two")
    await eventually(lambda: alice.rooms.current_name is None)
    assert any(line.endswith("-- you type into the lobby now") for line in view.notices)
    await type_(alice, "back in the lobby")
    await eventually(lambda: texts_in(view, None) == ["back in the lobby"])
    carol, carol_view = await start("carol", port=port, room="#x")
    await type_(carol, "/join #y")  # one room at most: #x is carol's, #y is refused
    await eventually(lambda: carol.rooms.current_name is None and carol.rooms.names == ["#x"])
    assert [failure.code for failure in carol.failures] == []
    assert any("too_many_rooms" in line for line in carol_view.notices)


async def test_who_in_a_room_lists_its_members(start: Start) -> None:
    """/who #ops: the room's members; /who #nowhere: refused, and the next question answered."""
    alice, alice_view = await start("alice")
    bob, _ = await start("bob")
    await start("carol")
    for chat in (alice, bob):
        await type_(chat, "/join #ops")
    await eventually(lambda: alice.rooms.names == bob.rooms.names == ["#ops"])
    await type_(alice, "/who #ops")
    await type_(alice, "/who #nowhere")
    await type_(alice, "/who")
    await eventually(alice.answered.is_set)
    online = [line.split(" ", 1)[1] for line in alice_view.notices if "-- online" in line]
    assert online == ["-- online in #ops: alice, bob", "-- online: alice, bob, carol"]
    assert any("no_such_room" in line or "not_a_member" in line for line in alice_view.notices)

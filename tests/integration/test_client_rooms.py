"""The bundled client in rooms, against a real server: /join, /go, /part, --room, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from realtimechat.client.chat import Chat, Status
from realtimechat.server.app import ChatServer

from ..support import WAIT, Pki, Proxy, Recorder, eventually, opener_for, port_of

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
    await eventually(lambda: bob.rooms.current_name == "#ops")
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
        await eventually(lambda: alice.rooms.current_name == "#ops")
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

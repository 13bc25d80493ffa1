"""Operators' actions across servers on one Redis: kick, ban, mute, motd, announce.

``op`` (group admin) acts on server A; its targets and witnesses are on B.
The servers look at their files and the stored bans only once an hour
here, so whatever reaches B comes through the control stream, at once
(docs/scaling.md, "Operators"). Each witness reads its stream whole, in
order, up to a marker, and sees each notice exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from realtimechat.client.connection import ServerConnection
from realtimechat.errors import SessionRefused
from realtimechat.pki import CaFolder, issue_client
from realtimechat.protocol import (
    Announce,
    Ban,
    Error,
    Frame,
    HistoryEnd,
    Join,
    Kick,
    Leave,
    Msg,
    Mute,
    Notice,
    SendMsg,
    SetMotd,
    Unmute,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.tls import ClientFiles, ServerFiles, client_context

from ..support import WAIT, ServerFactory, endpoint, receive_until

pytestmark = pytest.mark.protocol("6.7")

Arrive = Callable[[ChatServer, str], Awaitable[ServerConnection]]


@pytest.fixture
def engine() -> str:
    """Every server of this module runs on the Redis engine."""
    return "redis"


@pytest.fixture
def team(ca_root: Path) -> CaFolder:
    """A CA whose ``op`` is in group admin; bob, carol and dave are in none."""
    issue_client(ca_root, "op", groups=["admin"])
    for user in ("bob", "carol", "dave"):
        issue_client(ca_root, user)
    return CaFolder(ca_root)


@pytest.fixture
async def servers(start_server: ServerFactory, team: CaFolder) -> list[ChatServer]:
    """A and B on the test's Redis, with the motd file "from the file"."""
    files = ServerFiles(team.server_cert, team.server_key, team.ca_cert, team.crl)
    settings = ServerSettings(watch_interval=3600.0, motd="from the file", presence_grace=1.0)
    return [await start_server(settings=settings, files=files) for _ in range(2)]


@pytest.fixture
async def arrive(team: CaFolder) -> AsyncIterator[Arrive]:
    """Join a server as a user of ``team``, past the replay; all closed after."""
    connections: list[ServerConnection] = []

    async def come(server: ChatServer, user: str) -> ServerConnection:
        files = ClientFiles(team.client_cert(user), team.client_key(user), team.ca_cert)
        connection = await ServerConnection.open(
            endpoint(server), client_context(files), timeout=WAIT
        )
        connections.append(connection)
        await connection.hello()
        await receive_until(connection, HistoryEnd)
        return connection

    yield come
    for connection in connections:
        await connection.close()


async def frames_until(client: ServerConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    """Every frame ``client`` receives, up to and with the first that is ``done``."""
    seen: list[Frame] = []
    async with asyncio.timeout(WAIT):
        while True:  # bounded by the timeout
            seen.append(await client.receive())
            if done(seen[-1]):
                return seen


def notices(frames: list[Frame]) -> list[tuple[str, str | None]]:
    return [(frame.kind, frame.name or frame.text) for frame in frames if isinstance(frame, Notice)]


async def ended_with(connection: ServerConnection) -> tuple[list[Frame], SessionRefused]:
    """What a session got until its end, and the refusal its end raised."""
    seen: list[Frame] = []
    async with asyncio.timeout(WAIT):
        while True:  # bounded by the timeout
            try:
                seen.append(await connection.receive())
            except SessionRefused as refused:
                return seen, refused


async def test_a_kick_on_a_ends_the_target_on_b_and_everyone_is_told_once(
    servers: list[ChatServer], arrive: Arrive
) -> None:
    """op on A kicks bob, who is on B only: bob gets the notice and bye kicked; carol on B
    and dave on A each see one notice and then bob leave, kicked."""
    a, b = servers
    op, dave = await arrive(a, "op"), await arrive(a, "dave")
    bob, carol = await arrive(b, "bob"), await arrive(b, "carol")
    await op.send(Kick(name="bob", reason="spam"))
    seen, refused = await ended_with(bob)
    assert refused.reason == "kicked"
    assert notices(seen) == [("kick", "bob")]
    for witness in (carol, dave):
        got = await frames_until(witness, lambda f: isinstance(f, Leave) and f.name == "bob")
        assert notices(got) == [("kick", "bob")]
        assert isinstance(got[-1], Leave)
        assert got[-1].reason == "kicked"


async def test_a_ban_on_a_ends_the_target_on_b_and_b_refuses_its_hello(
    servers: list[ChatServer], arrive: Arrive
) -> None:
    """op on A bans bob, on B: bob's session ends banned, and B refuses him at once."""
    a, b = servers
    op = await arrive(a, "op")
    bob, carol = await arrive(b, "bob"), await arrive(b, "carol")
    await op.send(Ban(name="bob", seconds=3600, reason="spam"))
    _, refused = await ended_with(bob)
    assert refused.reason == "banned"
    got = await frames_until(carol, lambda f: isinstance(f, Leave) and f.name == "bob")
    assert notices(got) == [("ban", "bob")]
    with pytest.raises(SessionRefused, match="banned"):
        await arrive(b, "bob")


async def test_a_mute_on_a_silences_the_target_on_b_until_unmuted_on_a(
    servers: list[ChatServer], arrive: Arrive
) -> None:
    """op on A mutes bob, on B: his next message there is refused; unmuted on A, it goes."""
    a, b = servers
    op, bob = await arrive(a, "op"), await arrive(b, "bob")
    await op.send(Mute(name="bob", seconds=3600))
    await frames_until(bob, lambda f: isinstance(f, Notice) and f.kind == "mute")
    await bob.send(SendMsg(text="hello?", ref="m1"))
    error = await receive_until(bob, Error)
    assert (error.code, error.ref) == ("muted", "m1")
    await op.send(Unmute(name="bob"))
    await frames_until(bob, lambda f: isinstance(f, Notice) and f.kind == "unmute")
    await bob.send(SendMsg(text="back", ref="m2"))
    echo = await receive_until(op, Msg)
    assert (echo.from_, echo.text) == ("bob", "back")


async def test_a_motd_set_on_a_is_every_server_s_and_an_announce_reaches_b_once(
    servers: list[ChatServer], arrive: Arrive
) -> None:
    """op on A sets the motd and announces: carol on B is told each once, in order; dave,
    arriving on B, is welcomed with the new motd, and /motd on B shows it."""
    a, b = servers
    op, carol = await arrive(a, "op"), await arrive(b, "carol")
    await op.send(SetMotd(text="new rules"))
    await op.send(Announce(text="restart at noon"))
    got = await frames_until(carol, lambda f: isinstance(f, Notice) and f.kind == "announce")
    assert notices(got) == [("motd", "new rules"), ("announce", "restart at noon")]
    dave = await arrive(b, "dave")
    assert dave.welcome is not None
    assert dave.welcome.motd == "new rules"
    await dave.send(SetMotd())
    shown = await receive_until(dave, Notice)
    assert (shown.kind, shown.text) == ("motd", "new rules")
    await op.send(Announce(text="marker"))
    later = await frames_until(carol, lambda f: isinstance(f, Notice) and f.text == "marker")
    assert notices(later) == [("announce", "marker")]  # nothing told twice meanwhile
    assert [f.name for f in later if isinstance(f, Join)] == ["dave"]

"""Presence across servers on one Redis: who, users_online, join/leave, the reaper.

Each client here is an honest witness: it reads its stream whole, in
order, up to a marker that the servers order after the change under test
(a later join, carried by the same control stream), and the test asserts
on everything it saw before it (docs/scaling.md, "Presence").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis.asyncio as redis

from realtimechat.client.connection import ServerConnection
from realtimechat.protocol import Frame, Join, Joined, JoinRoom, Leave, Msg, SendMsg, Users, Who
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings
from realtimechat.server.redis_engine import RedisEngine
from realtimechat.server.redis_store import RedisStore

from ..support import WAIT, Pki, ServerFactory, eventually, join

GRACE = 1.0  # seconds: short, so that the reaper's work is seen quickly
# ...but where a client must come back within it, long enough for any machine.
RECONNECT_GRACE = 3.0


@pytest.fixture
def engine() -> str:
    """Every server of this module runs on the Redis engine."""
    return "redis"


async def start(
    start_server: ServerFactory, count: int, *, presence_limit: int = 200, grace: float = GRACE
) -> list[ChatServer]:
    """``count`` servers on the test's Redis, with a short presence grace."""
    chosen = ServerSettings(presence_grace=grace, presence_limit=presence_limit)
    return [await start_server(settings=chosen) for _ in range(count)]


async def frames_until(
    client: ServerConnection, done: Callable[[Frame], bool], *, timeout: float = WAIT
) -> list[Frame]:
    """Every frame ``client`` receives, up to and with the first that is ``done``."""
    seen: list[Frame] = []
    async with asyncio.timeout(timeout):
        while True:  # bounded by the timeout
            frame = await client.receive()
            seen.append(frame)
            if done(frame):
                return seen


def joined(name: str) -> Callable[[Frame], bool]:
    return lambda frame: isinstance(frame, Join) and frame.name == name


def left(name: str) -> Callable[[Frame], bool]:
    return lambda frame: isinstance(frame, Leave) and frame.name == name


def presence(frames: list[Frame]) -> list[tuple[str, str]]:
    """The joins and leaves among ``frames``, in order: ("join"|"leave", name)."""
    return [(frame.TYPE, frame.name) for frame in frames if isinstance(frame, Join | Leave)]


async def who(client: ServerConnection) -> list[str]:
    """The names ``who`` lists, first page, in the order given."""
    await client.send(Who())
    async with asyncio.timeout(WAIT):
        while True:  # bounded by the timeout
            frame = await client.receive()
            if isinstance(frame, Users):
                return [user.name for user in frame.users]


def origin_of(server: ChatServer) -> str:
    store = server.store
    assert isinstance(store, RedisStore)
    return store.origin


async def until_reaped(redis_url: str, origin: str) -> None:
    """Wait until the reaper has removed ``origin`` from ``{rtc}:servers``."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        async with asyncio.timeout(WAIT):
            while await client.zscore("{rtc}:servers", origin) is not None:
                await asyncio.sleep(0.05)  # polled: the reaper runs every GRACE / 5
    finally:
        await client.aclose()


async def test_who_and_users_online_span_three_servers(
    start_server: ServerFactory, pki: Pki
) -> None:
    """alice on A, bob on B, carol on C: every one of them lists all three, in name order."""
    a, b, c = await start(start_server, 3)
    alice = await join(a, pki, "alice")
    bob = await join(b, pki, "bob")
    carol = await join(c, pki, "carol")
    assert carol.welcome is not None
    assert carol.welcome.users_online == 3
    assert [user.name for user in carol.welcome.users or ()] == ["alice", "bob", "carol"]
    for client in (alice, bob, carol):
        assert await who(client) == ["alice", "bob", "carol"]
    assert a.hub.users_online == b.hub.users_online == c.hub.users_online == 3
    for client in (alice, bob, carol):
        await client.close()


async def test_join_and_leave_are_seen_once_and_a_second_device_is_silent(
    start_server: ServerFactory, pki: Pki
) -> None:
    """bob comes on B, a second bob on A comes and goes, then bob goes: alice on A and
    carol on C each see join bob once and leave bob once, in that order."""
    a, b, c = await start(start_server, 3)
    alice, carol = await join(a, pki, "alice"), await join(c, pki, "carol")
    await frames_until(alice, joined("carol"))
    bob = await join(b, pki, "bob")
    second = await join(a, pki, "bob")
    await second.close()
    await bob.close()
    dave = await join(b, pki, "dave")  # the marker: told after everything above
    for witness in (alice, carol):
        seen = await frames_until(witness, joined("dave"))
        assert presence(seen) == [("join", "bob"), ("leave", "bob"), ("join", "dave")]
        leave = next(frame for frame in seen if isinstance(frame, Leave))
        assert leave.reason == "quit"
    for client in (alice, carol, dave):
        await client.close()


async def test_the_presence_limit_counts_names_on_every_server(
    start_server: ServerFactory, pki: Pki
) -> None:
    """presence_limit 2: bob (the second name, on B) is announced to alice on A; carol,
    the third, on B, is not, but is listed; nor is her leave announced."""
    a, b = await start(start_server, 2, presence_limit=2)
    alice = await join(a, pki, "alice")
    bob = await join(b, pki, "bob")
    carol = await join(b, pki, "carol")
    await carol.close()
    await bob.send(SendMsg(text="marker", ref="m"))  # stored after carol's leave was written
    seen = await frames_until(alice, lambda frame: isinstance(frame, Msg))
    assert presence(seen) == [("join", "bob")]
    assert isinstance(seen[-1], Msg)
    assert seen[-1].text == "marker"
    assert await who(alice) == ["alice", "bob"]
    await alice.close()
    await bob.close()


async def test_a_dead_server_s_sessions_are_reaped_after_the_grace(
    start_server: ServerFactory, pki: Pki, redis_url: str
) -> None:
    """A's heartbeat and follower stop (as if killed, nothing deregistered): after the
    grace B reaps it, and bob sees alice leave, disconnected, and lists her no more."""
    a, b = await start(start_server, 2)
    alice = await join(a, pki, "alice")
    bob = await join(b, pki, "bob")
    assert await who(bob) == ["alice", "bob"]
    engine = a.hub.engine
    assert isinstance(engine, RedisEngine)
    await engine.close()  # A is dead to the others; alice's connection stays
    seen = await frames_until(bob, left("alice"))
    assert presence(seen) == [("leave", "alice")]
    assert isinstance(seen[-1], Leave)
    assert seen[-1].reason == "disconnected"
    await until_reaped(redis_url, origin_of(a))
    assert await who(bob) == ["bob"]
    await alice.close()
    await bob.close()


async def test_a_reconnect_elsewhere_within_the_grace_shows_no_leave_or_join(
    start_server: ServerFactory, pki: Pki, redis_url: str
) -> None:
    """A stops (bye shutdown) and alice comes back on B at once: once A has been reaped,
    bob has seen neither a leave nor a join of alice, and still lists her."""
    a, b = await start(start_server, 2, grace=RECONNECT_GRACE)
    alice = await join(a, pki, "alice")
    bob = await join(b, pki, "bob")
    await a.shutdown()  # a clean stop: its sessions are the reaper's after the grace
    await alice.close()
    again = await join(b, pki, "alice")
    await until_reaped(redis_url, origin_of(a))
    carol = await join(b, pki, "carol")  # the marker: told after the reap
    seen = await frames_until(bob, joined("carol"))
    assert presence(seen) == [("join", "carol")]
    assert await who(bob) == ["alice", "bob", "carol"]
    for client in (again, bob, carol):
        await client.close()


async def test_sessions_that_hang_up_at_once_are_left_online_nowhere(
    start_server: ServerFactory, pki: Pki
) -> None:
    """alice comes to A and hangs up without bye, five times: she is left online nowhere."""
    a, b = await start(start_server, 2)
    bob = await join(b, pki, "bob")
    for _ in range(5):
        alice = await join(a, pki, "alice")
        await alice.close(say_bye=False)
    await eventually(lambda: a.hub.users_online == b.hub.users_online == 1)
    assert await who(bob) == ["bob"]
    await bob.close()


async def test_who_of_a_room_lists_its_members_on_every_server(
    start_server: ServerFactory, pki: Pki
) -> None:
    """carol joins #ops on A, bob on B: `who #ops` on either lists both (rooms as on one
    server); alice, online but no member, is not listed."""
    a, b = await start(start_server, 2)
    alice, carol, bob = (
        await join(a, pki, "alice"),
        await join(a, pki, "carol"),
        await join(b, pki, "bob"),
    )
    await carol.send(JoinRoom(room="#ops"))
    await frames_until(carol, lambda frame: isinstance(frame, Joined))
    await bob.send(JoinRoom(room="#ops"))
    await frames_until(bob, lambda frame: isinstance(frame, Joined) and frame.members == 2)
    for client in (bob, carol):
        await client.send(Who(room="#ops"))
        answer = await frames_until(client, lambda frame: isinstance(frame, Users))
        users = answer[-1]
        assert isinstance(users, Users)
        assert (users.room, [user.name for user in users.users]) == ("#ops", ["bob", "carol"])
    for client in (alice, bob, carol):
        await client.close()

"""Two servers on one Redis: one conversation, one order, resume on either (docs/scaling.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from realtimechat.client.chat import Backoff, Chat
from realtimechat.client.connection import ServerConnection
from realtimechat.errors import SessionRefused
from realtimechat.names import name_key
from realtimechat.protocol import (
    Ack,
    Error,
    ErrorCode,
    Frame,
    Gap,
    HistoryEnd,
    Joined,
    JoinRoom,
    Msg,
    Parted,
    PartRoom,
    SendMsg,
    SetTopic,
    Topic,
)
from realtimechat.server import redis_engine
from realtimechat.server.app import ChatServer
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.redis_engine import RedisEngine
from realtimechat.server.redis_store import RedisDurability, RedisStore

from ..support import (
    WAIT,
    Pki,
    RawPeer,
    Recorder,
    RedisServer,
    ServerFactory,
    connect,
    eventually,
    join,
    opener_for,
    port_of,
    receive_n,
    receive_until,
    start_redis,
)

SERVERS = 2


@pytest.fixture
def engine() -> str:
    """Every server of this module runs on the Redis engine."""
    return "redis"


@pytest.fixture
async def servers(start_server: ServerFactory) -> list[ChatServer]:
    """Two servers on the test's Redis: one conversation."""
    return [await start_server() for _ in range(SERVERS)]


def engine_of(server: ChatServer) -> RedisEngine:
    engine = server.hub.engine
    assert isinstance(engine, RedisEngine)
    return engine


async def test_clients_of_two_servers_see_one_order(servers: list[ChatServer], pki: Pki) -> None:
    """Three clients on two servers, two talking at once: every screen has the same ids in order."""
    a, b = servers
    alice, bob, carol = (
        await join(a, pki, "alice"),
        await join(b, pki, "bob"),
        await join(a, pki, "carol"),
    )
    per_sender = 25

    async def talk(client: ServerConnection, who: str) -> None:
        for n in range(per_sender):
            await client.send(SendMsg(text=f"{who}{n}", ref=f"r{n}"))

    await asyncio.gather(talk(alice, "a"), talk(bob, "b"))
    received = await asyncio.gather(
        *(receive_n(client, Msg, 2 * per_sender) for client in (alice, bob, carol))
    )
    orders = [[(msg.id, msg.text) for msg in got] for got in received]
    assert orders[0] == orders[1] == orders[2]
    ids = [msg_id for msg_id, _ in orders[0]]
    assert ids == sorted(set(ids))  # increasing, none twice
    for who in ("a", "b"):
        assert [text for _, text in orders[0] if text[0] == who] == [
            f"{who}{n}" for n in range(per_sender)
        ]
    for client in (alice, bob, carol):
        await client.close()


async def test_own_messages_are_delivered_as_stored_and_not_kept_after(
    servers: list[ChatServer], pki: Pki
) -> None:
    """A's messages reach A's and B's clients alike (A's from the append reply, B's decoded
    from the log), and A keeps none of them once its follower has read them back."""
    a, b = servers
    alice, bob = await join(a, pki, "alice"), await join(b, pki, "bob")
    for n in range(5):
        await alice.send(SendMsg(text=f"m{n}", ref=f"r{n}"))
    on_a, on_b = await receive_n(alice, Msg, 5), await receive_n(bob, Msg, 5)
    assert on_a == on_b
    assert [msg.text for msg in on_a] == [f"m{n}" for n in range(5)]
    assert {msg.from_ for msg in on_a} == {"alice"}
    assert engine_of(a)._mine == {}
    for client in (alice, bob):
        await client.close()


async def test_each_sender_gets_its_ack_before_its_echo(
    servers: list[ChatServer], pki: Pki
) -> None:
    """On both servers, under traffic from the other, every ack comes before its echo."""
    peers = []
    for server, user in zip(servers, ("alice", "bob"), strict=True):
        peer = await RawPeer.open(server, pki.client(user))
        await peer.send(b'{"type":"hello","v":1}\n')
        peers.append(peer)
    count = 30
    for n in range(count):
        for index, peer in enumerate(peers):
            await peer.send(SendMsg(text=f"{index}-{n}", ref=f"p{index}-{n}"))
    for index, peer in enumerate(peers):
        seen: list[Frame] = []
        async with asyncio.timeout(WAIT):
            while sum(isinstance(f, Msg) for f in seen) < 2 * count:
                frame = await peer.next_frame()
                assert frame is not None
                seen.append(frame)
        acks = {f.id: at for at, f in enumerate(seen) if isinstance(f, Ack)}
        echoes = {
            f.id: at for at, f in enumerate(seen) if isinstance(f, Msg) and f.text[0] == str(index)
        }
        assert len(acks) == len(echoes) == count
        assert all(acks[msg_id] < at for msg_id, at in echoes.items())
        peer.close()


async def test_resume_on_the_other_server_has_no_hole_and_no_duplicate(
    servers: list[ChatServer], pki: Pki
) -> None:
    """Alice leaves A, bob talks on B meanwhile; alice resumes on B: exactly what she missed."""
    a, b = servers
    alice, bob = await join(a, pki, "alice"), await join(b, pki, "bob")
    for n in range(5):
        await bob.send(SendMsg(text=f"before{n}", ref=f"x{n}"))
    seen = await receive_n(alice, Msg, 5)
    await alice.close()
    for n in range(7):
        await bob.send(SendMsg(text=f"missed{n}", ref=f"y{n}"))
    await receive_n(bob, Msg, 12)
    again = await join_since(b, pki, "alice", seen[-1].id)
    replayed = await receive_n(again, Msg, 7, replays=True)
    end = await receive_until(again, HistoryEnd)
    assert end.count == 7
    await bob.send(SendMsg(text="live", ref="z"))
    live = await receive_until(again, Msg)
    assert [msg.text for msg in replayed] == [f"missed{n}" for n in range(7)]
    assert all(msg.replay for msg in replayed)
    assert live.text == "live"
    ids = [msg.id for msg in (*seen, *replayed, live)]
    assert ids == sorted(set(ids))
    await again.close()
    await bob.close()


async def test_resume_on_a_server_that_lags_waits_for_it(
    servers: list[ChatServer], pki: Pki
) -> None:
    """B's follower is stopped while A stores messages; alice resumes on B with A's last id:
    she is welcomed once B has caught up, and gets none of them again."""
    a, b = servers
    alice = await join(a, pki, "alice")
    lagging = engine_of(b)
    await lagging.close()  # B reads nothing of the log from here
    for n in range(6):
        await alice.send(SendMsg(text=f"on-a{n}", ref=f"a{n}"))
    seen = await receive_n(alice, Msg, 6)
    assert b.hub.last_id < seen[-1].id  # B is behind what alice has seen
    resumed = asyncio.create_task(join_since(b, pki, "alice", seen[-1].id))
    await eventually(lambda: deciding(b))  # her hello waits for B to catch up
    assert not resumed.done()
    lagging.follow(b.hub._deliver, b.hub)
    again = await resumed
    end = await receive_until(again, HistoryEnd)
    assert end.count == 0
    await alice.send(SendMsg(text="after", ref="after"))
    nxt = await receive_until(again, Msg, replays=True)
    assert nxt.text == "after"  # not one of on-a0..5 again
    assert nxt.id > seen[-1].id
    await again.close()
    await alice.close()


@pytest.mark.protocol("9.3")
async def test_a_follower_behind_retention_tells_its_sessions_with_a_gap_and_goes_on(
    servers: list[ChatServer], pki: Pki
) -> None:
    """B's follower stops; A stores 6 more messages and retention keeps the last 2: when B
    reads again, bob (on B) gets a gap for the 4 trimmed ids, then the 2 kept, then live ones."""
    a, b = servers
    alice, bob = await join(a, pki, "alice"), await join(b, pki, "bob")
    await alice.send(SendMsg(text="first", ref="first"))
    await receive_until(bob, Msg)  # B has read an id: the ones after it are what it misses
    lagging = engine_of(b)
    await lagging.close()  # B reads nothing of the log from here
    for n in range(6):
        await alice.send(SendMsg(text=f"t{n}", ref=f"t{n}"))
    sent = (await receive_n(alice, Msg, 7))[1:]
    assert await a.hub.engine.store.purge(None, 2) == 5
    lagging.follow(b.hub._deliver, b.hub)
    gap = await receive_until(bob, Gap)
    assert (gap.from_id, gap.to_id, gap.missed) == (sent[0].id, sent[3].id, 4)
    kept = await receive_n(bob, Msg, 2)
    assert [msg.text for msg in kept] == ["t4", "t5"]
    await alice.send(SendMsg(text="live", ref="live"))
    live = await receive_until(bob, Msg)
    assert live.text == "live"
    await alice.close()
    await bob.close()


def deciding(server: ChatServer) -> bool:
    """Whether a session of ``server`` is between its hello and its welcome."""
    return any(c.session is not None and c.session._deciding for c in server._connections)


async def join_since(server: ChatServer, pki: Pki, user: str, since: int) -> ServerConnection:
    """Connect as ``user`` and resume after ``since``."""
    connection = await connect(server, pki.client(user))
    await connection.hello(None, since)
    return connection


@pytest.mark.protocol("6.3")
async def test_a_ref_resent_through_the_other_server_gets_the_first_id(
    servers: list[ChatServer], pki: Pki
) -> None:
    """The same (identity, ref) sent through B after A stored it gets A's id, and shows once."""
    a, b = servers
    carol = await join(b, pki, "carol")
    first = await join(a, pki, "alice")
    await first.send(SendMsg(text="once", ref="same"))
    ack = await receive_until(first, Ack)
    await first.close()
    second = await join(b, pki, "alice")
    await second.send(SendMsg(text="once", ref="same"))
    again = await receive_until(second, Ack)
    assert again.id == ack.id
    await second.send(SendMsg(text="next", ref="next"))
    shown = await receive_n(carol, Msg, 2)
    assert [msg.text for msg in shown] == ["once", "next"]
    await second.close()
    await carol.close()


async def test_private_message_reaches_the_recipient_on_the_other_server_only(
    servers: list[ChatServer], pki: Pki
) -> None:
    """alice on A writes to bob on B: bob gets it, carol (on B too) does not."""
    a, b = servers
    bob, carol = await join(b, pki, "bob"), await join(b, pki, "carol")
    alice = await join(a, pki, "alice")
    await alice.send(SendMsg(text="psst", to="bob", ref="p"))
    await alice.send(SendMsg(text="all", ref="q"))
    got = await receive_n(bob, Msg, 2)
    assert [(msg.text, msg.to) for msg in got] == [("psst", "bob"), ("all", None)]
    assert (await receive_until(carol, Msg)).text == "all"
    for client in (alice, bob, carol):
        await client.close()


@pytest.mark.protocol("6.5")
async def test_rooms_and_topics_written_on_one_server_reach_the_other(
    servers: list[ChatServer], pki: Pki
) -> None:
    """carol creates #ops on A; bob joins on B; topic and messages cross both ways."""
    a, b = servers
    carol, bob = await join(a, pki, "carol"), await join(b, pki, "bob")
    await carol.send(JoinRoom(room="#ops"))
    await receive_until(carol, Joined)
    await bob.send(JoinRoom(room="#ops"))
    joined = await receive_until(bob, Joined)
    assert joined.members == 2  # B knows carol is in it
    await bob.send(SetTopic(room="#ops", text="deploys"))
    topic = await receive_until(carol, Topic)
    assert (topic.text, topic.name) == ("deploys", "bob")
    await carol.send(SendMsg(text="in ops", room="#ops", ref="o"))
    got = await receive_until(bob, Msg)
    assert (got.text, got.room) == ("in ops", "#ops")
    for client in (bob, carol):
        await client.close()


@pytest.mark.protocol("6.5")
async def test_a_room_joined_on_one_device_is_entered_by_the_other_on_another_server(
    servers: list[ChatServer], pki: Pki
) -> None:
    """alice on A and on B; she joins #ops on A: her session on B gets joined, then the room's
    messages; she parts on B: her session on A gets parted."""
    a, b = servers
    on_a, on_b = await join(a, pki, "alice"), await join(b, pki, "alice")
    await on_a.send(JoinRoom(room="#ops"))
    await receive_until(on_a, Joined)
    joined = await receive_until(on_b, Joined)
    assert joined.room == "#ops"
    await on_a.send(SendMsg(text="to ops", room="#ops", ref="o"))
    got = await receive_until(on_b, Msg)
    assert (got.text, got.room) == ("to ops", "#ops")
    await on_b.send(PartRoom(room="#ops"))
    parted = await receive_until(on_a, Parted)
    assert parted.room == "#ops"
    for client in (on_a, on_b):
        await client.close()


async def test_a_name_claimed_on_one_server_is_taken_on_the_other(
    start_server: ServerFactory, pki: Pki
) -> None:
    """In claim mode, a name alice claimed on A is refused to bob on B."""
    settings = ServerSettings(names=NamesMode.CLAIM)
    a, b = await start_server(settings=settings), await start_server(settings=settings)
    alice = await join(a, pki, "alice", name="captain")
    with pytest.raises(SessionRefused, match="name"):
        await join(b, pki, "bob", name="captain")
    await alice.close()


async def test_a_claim_race_across_servers_has_one_winner(
    start_server: ServerFactory, pki: Pki
) -> None:
    """B has not heard of alice's claim yet (its follower stopped): bob's claim of the same name
    there loses in Redis, and his hello is refused name_taken, not welcomed."""
    settings = ServerSettings(names=NamesMode.CLAIM)
    a, b = await start_server(settings=settings), await start_server(settings=settings)
    await engine_of(b).close()
    alice = await join(a, pki, "alice", name="captain")
    assert name_key("captain") not in b.hub._owners  # B believes it is free
    with pytest.raises(SessionRefused, match="belongs to someone else"):
        await join(b, pki, "bob", name="captain")
    assert name_key("captain") not in b.hub._owners  # bob's reservation was dropped
    await alice.close()


async def test_a_look_alike_claimed_on_another_server_in_the_same_moment_is_refused(
    start_server: ServerFactory, pki: Pki
) -> None:
    """B has not heard of alice's "wall" (its follower stopped): bob's "waII" (capital i's)
    there is refused in Redis as a look-alike; once released, bob may have it."""
    settings = ServerSettings(names=NamesMode.CLAIM)
    a, b = await start_server(settings=settings), await start_server(settings=settings)
    await engine_of(b).close()
    alice = await join(a, pki, "alice", name="wall")
    with pytest.raises(SessionRefused, match="belongs to someone else"):
        await join(b, pki, "bob", name="waII")
    await alice.close()
    assert await b.store.release_name(name_key("wall"))
    b.hub.engine.follow(b.hub._deliver, b.hub)  # B follows again: bob's welcome waits for it
    bob = await join(b, pki, "bob", name="waII")
    assert bob.welcome is not None
    await bob.close()


async def test_a_name_released_on_redis_is_free_on_every_running_server(
    start_server: ServerFactory, pki: Pki, redis_url: str
) -> None:
    """names release through Redis (as the CLI does) while A and B run: bob may take it on B."""
    settings = ServerSettings(names=NamesMode.CLAIM)
    a, b = await start_server(settings=settings), await start_server(settings=settings)
    alice = await join(a, pki, "alice", name="captain")
    await alice.close()
    await eventually(lambda: name_key("captain") in b.hub._owners)  # B heard of the claim
    releaser = RedisStore(redis_url, server_id="names-release")
    await releaser.open()
    try:
        assert await releaser.release_name(name_key("captain"))
    finally:
        await releaser.close()
    await eventually(lambda: name_key("captain") not in b.hub._owners)
    bob = await join(b, pki, "bob", name="captain")
    assert bob.welcome is not None
    assert bob.welcome.name == "captain"
    await bob.close()


async def test_ids_keep_rising_after_redis_forgets_everything(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """A Redis without persistence restarted: new ids are above every old one, and a resume
    gets a gap for what was forgotten."""
    redis = start_redis(tmp_path, persist=False)
    try:
        store = RedisStore(redis.url, server_id="forgetful", durability=RedisDurability.NONE)
        server = await start_server(store=store)
        alice = await join(server, pki, "alice")
        await alice.send(SendMsg(text="old", ref="old"))
        old = await receive_until(alice, Msg)
        redis.restart()
        new = await send_until_acked(alice, "new")
        assert new > old.id
        echo = await receive_until(alice, Msg)
        assert (echo.id, echo.text) == (new, "new")
        bob = await join_since(server, pki, "bob", old.id)
        gap = await receive_until(bob, Gap)
        assert (gap.from_id, gap.to_id) == (old.id + 1, new - 1)
        replayed = await receive_until(bob, Msg, replays=True)
        assert replayed.id == new
        await bob.close()
        await alice.close()
    finally:
        redis.stop()


async def test_acked_messages_survive_kill_9_of_redis_with_its_aof(
    servers: list[ChatServer], pki: Pki, redis_server: RedisServer
) -> None:
    """kill -9 of Redis (appendfsync always) after 20 acks: all 20 come back, ids go on above."""
    a, b = servers
    alice = await join(a, pki, "alice")
    for n in range(20):
        await alice.send(SendMsg(text=f"kept{n}", ref=f"k{n}"))
    acks: list[Ack] = []
    echoes: list[Msg] = []
    async with asyncio.timeout(WAIT):
        while len(echoes) < 20:  # acks come first: they are all in by then
            frame = await alice.receive()
            if isinstance(frame, Ack):
                acks.append(frame)
            elif isinstance(frame, Msg):
                echoes.append(frame)
    assert [ack.id for ack in acks] == [msg.id for msg in echoes]
    redis_server.kill()
    redis_server.start()
    new = await send_until_acked(alice, "after")
    assert new > max(ack.id for ack in acks)
    await eventually(lambda: engine_of(b).available)  # until then B refuses hellos: unavailable
    bob = await join_since(b, pki, "bob", 0)
    replayed = await receive_n(bob, Msg, 21, replays=True)
    assert [msg.text for msg in replayed] == [*(f"kept{n}" for n in range(20)), "after"]
    assert [msg.id for msg in replayed[:20]] == [msg.id for msg in echoes]
    await bob.close()
    await alice.close()


async def test_a_message_sent_while_redis_is_down_is_acked_once_it_is_back(
    servers: list[ChatServer], pki: Pki, redis_server: RedisServer
) -> None:
    """Redis killed: a msg without ref fails at once (error unavailable); one with a ref is
    sent again until Redis is back, then acked and delivered on both servers."""
    a, b = servers
    alice, bob = await join(a, pki, "alice"), await join(b, pki, "bob")
    redis_server.kill()
    await alice.send(SendMsg(text="no ref"))
    error = await receive_until(alice, Error)
    assert (error.code, error.ref) == (ErrorCode.UNAVAILABLE, None)
    assert "may or may not have been stored" in error.message
    await alice.send(SendMsg(text="while down", ref="down"))
    await eventually(lambda: a.hub._committer.busy)  # being sent again meanwhile
    redis_server.start()
    ack = await receive_until(alice, Ack)
    got = await receive_until(bob, Msg)
    assert (got.id, got.text) == (ack.id, "while down")
    echo = await receive_until(alice, Msg)
    assert echo.id == ack.id
    await alice.close()
    await bob.close()


@pytest.mark.protocol("6.2", "12.1")
async def test_a_send_past_the_deadline_gets_a_clear_error_and_the_session_goes_on(
    servers: list[ChatServer], pki: Pki, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis down past the resend deadline: the sender gets error unavailable with its ref and
    a message saying it was not stored; its session stays, and sends again once Redis is back."""
    monkeypatch.setattr(redis_engine, "RESEND_FOR", 0.3)  # the deadline, short for the test
    a, _ = servers
    alice = await join(a, pki, "alice")
    redis_server.kill()
    await alice.send(SendMsg(text="too late", ref="late"))
    error = await receive_until(alice, Error)
    assert (error.code, error.ref) == (ErrorCode.UNAVAILABLE, "late")
    assert error.message.startswith("not stored:")
    redis_server.start()
    await send_until_acked(alice, "again")
    echo = await receive_until(alice, Msg)
    assert echo.text == "again"
    await alice.close()


@pytest.mark.protocol("5.2", "12.1", "12.2")
async def test_a_hello_while_redis_is_down_is_refused_as_unavailable_until_it_is_back(
    servers: list[ChatServer], pki: Pki, redis_server: RedisServer
) -> None:
    """While Redis is down a new session (alice: a known name; bob: a new one) gets error +
    bye unavailable, which clients retry; once the follower reads Redis again, bob is welcomed."""
    a, _ = servers
    alice = await join(a, pki, "alice")  # her name is known on both servers
    await alice.close()
    redis_server.kill()
    await eventually(lambda: not engine_of(a).available)
    for user in ("alice", "bob"):
        with pytest.raises(SessionRefused) as refused:
            await join(a, pki, user)
        assert refused.value.reason == ErrorCode.UNAVAILABLE
    redis_server.start()
    await eventually(lambda: engine_of(a).available)
    bob = await join(a, pki, "bob")
    assert bob.welcome is not None
    assert bob.welcome.name == "bob"
    await bob.close()


@pytest.mark.protocol("12.2")
async def test_the_bundled_client_retries_an_unavailable_hello_until_it_is_welcomed(
    servers: list[ChatServer], pki: Pki, redis_server: RedisServer
) -> None:
    """A first connection while Redis is down: refused as unavailable, the client waits and
    tries again (any other refusal before a first welcome ends it), and is welcomed after."""
    a, _ = servers
    redis_server.kill()
    await eventually(lambda: not engine_of(a).available)
    view = Recorder()
    chat = Chat(opener_for(pki.client("alice"), port_of(a)), view, backoff=Backoff(0.05, 0.2))
    task = asyncio.create_task(chat.run())
    try:
        await eventually(lambda: any("cannot reach its store" in line for line in view.notices))
        assert not task.done()  # not ended by the refusal: waiting to try again
        redis_server.start()
        await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        assert chat.name == "alice"
    finally:
        await chat.leave()
        await asyncio.wait_for(task, WAIT)


async def send_until_acked(client: ServerConnection, text: str) -> int:
    """Send ``text`` until the server acks it (the first tries meet the Redis that went away)."""
    for attempt in range(20):
        await client.send(SendMsg(text=text, ref=f"{text}{attempt}"))
        async with asyncio.timeout(WAIT):
            frame = await client.receive()
            while not isinstance(frame, Ack | Error):
                frame = await client.receive()
        if isinstance(frame, Ack):
            return frame.id
    raise AssertionError(f"{text!r} was never acked")

"""The chat itself over real TLS on loopback: fan-out, presence, names, who."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from realtimechat.client.chat import Backoff, Chat, Opener, Status
from realtimechat.client.commands import Say
from realtimechat.client.connection import ServerConnection
from realtimechat.client.events import Retrying, Welcomed
from realtimechat.errors import CannotConnect, SessionRefused
from realtimechat.protocol import (
    Ack,
    Error,
    Gap,
    HistoryEnd,
    HistoryRequest,
    Join,
    Leave,
    Msg,
    Ping,
    Pong,
    SendMsg,
    Users,
    Who,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.store import Draft, MemoryStore, Stored

from ..support import (
    WAIT,
    Pki,
    Proxy,
    RawPeer,
    Recorder,
    ServerFactory,
    connect,
    eventually,
    join,
    opener_for,
    port_of,
    receive_n,
    receive_until,
)

pytestmark = pytest.mark.engines


@pytest.mark.protocol("6.1")
async def test_three_clients_see_every_message_in_the_same_order(
    server: ChatServer, pki: Pki
) -> None:
    """Every message reaches all three clients, sender included, in one order."""
    clients = [await join(server, pki, name) for name in ("alice", "bob", "carol")]
    per_sender = 20

    async def talk(index: int) -> None:
        for n in range(per_sender):
            await clients[index].send(SendMsg(text=f"{index}:{n}", ref=f"r{n}"))

    await asyncio.gather(*(talk(i) for i in range(3)))
    received = await asyncio.gather(*(receive_n(client, Msg, 3 * per_sender) for client in clients))
    orders = [[(msg.id, msg.from_, msg.text) for msg in got] for got in received]
    assert orders[0] == orders[1] == orders[2]
    ids = [msg_id for msg_id, _, _ in orders[0]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3 * per_sender
    for index, name in enumerate(("alice", "bob", "carol")):
        from_sender = [text for _, sender, text in orders[0] if sender == name]
        assert from_sender == [f"{index}:{n}" for n in range(per_sender)]
    for client in clients:
        await client.close()


@pytest.mark.protocol("6.2")
async def test_sender_gets_ack_then_its_echo_with_id_and_ts(server: ChatServer, pki: Pki) -> None:
    """A msg with a ref is acked with its id, and the echo carries that id and a ts."""
    alice = await join(server, pki, "alice")
    await alice.send(SendMsg(text="hello", ref="abc"))
    ack = await receive_until(alice, Ack)
    echo = await receive_until(alice, Msg)
    assert ack.ref == "abc"
    assert echo.id == ack.id
    assert echo.from_ == "alice"
    assert echo.ts.endswith("Z")
    await alice.close()


@pytest.mark.protocol("6.3", "9.1")
async def test_a_resent_ref_is_acked_again_but_not_shown_twice(
    server: ChatServer, pki: Pki
) -> None:
    """The same ref from the same identity is stored once; the resend gets the same id."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    await alice.send(SendMsg(text="once", ref="dup"))
    first = await receive_until(alice, Ack)
    await alice.send(SendMsg(text="once", ref="dup"))
    second = await receive_until(alice, Ack)
    await alice.send(SendMsg(text="after", ref="new"))
    texts = [msg.text for msg in await receive_n(bob, Msg, 2)]
    assert first.id == second.id
    assert texts == ["once", "after"]
    await alice.close()
    await bob.close()


@pytest.mark.protocol("7.2")
async def test_join_and_leave_are_announced_to_the_others(server: ChatServer, pki: Pki) -> None:
    """Others see join when a name arrives and leave with a reason when it goes."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    joined = await receive_until(alice, Join)
    await bob.close()
    left = await receive_until(alice, Leave)
    assert joined.name == "bob"
    assert (left.name, left.reason) == ("bob", "quit")
    await alice.close()


@pytest.mark.protocol("4.2", "7.1")
async def test_welcome_lists_who_is_online(server: ChatServer, pki: Pki) -> None:
    """welcome counts distinct names online and carries the first page of users."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    assert bob.welcome is not None
    assert bob.welcome.name == "bob"
    assert bob.welcome.users_online == 2
    assert [user.name for user in bob.welcome.users or ()] == ["alice", "bob"]
    assert all(len(user.fp) == 16 for user in bob.welcome.users or ())
    await alice.close()
    await bob.close()


@pytest.mark.protocol("7.1", "7.2")
async def test_one_identity_may_have_several_sessions(server: ChatServer, pki: Pki) -> None:
    """Two devices of alice both get messages; the second does not announce a join."""
    laptop = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    await receive_until(laptop, Join)
    phone = await join(server, pki, "alice")
    assert phone.welcome is not None
    assert phone.welcome.users_online == 2
    await bob.send(SendMsg(text="to both devices"))
    for device in (laptop, phone):
        assert (await receive_until(device, Msg)).text == "to both devices"
    await phone.close()
    await bob.send(SendMsg(text="still here?"))
    # No leave for alice: her laptop is still online. The next frame bob
    # causes at the laptop is the message, not a leave.
    frame = await laptop.receive()
    assert isinstance(frame, Msg)
    assert frame.text == "still here?"
    await laptop.close()
    await bob.close()


@pytest.mark.protocol("5.3")
async def test_cn_mode_grants_the_certificate_name(server: ChatServer, pki: Pki) -> None:
    """Under --names cn a requested name is not an error: welcome says the CN."""
    alice = await join(server, pki, "alice", name="bob")
    assert alice.welcome is not None
    assert alice.welcome.name == "alice"
    await alice.close()


@pytest.mark.protocol("5.3", "12.1")
async def test_claim_mode_lets_users_pick_free_names(start_server: ServerFactory, pki: Pki) -> None:
    """Under --names claim a name is granted, kept by its first identity, refused to others."""
    server = await start_server(settings=ServerSettings(names=NamesMode.CLAIM))
    alice = await join(server, pki, "alice", name="Wonder")
    assert alice.welcome is not None
    assert alice.welcome.name == "Wonder"
    with pytest.raises(SessionRefused) as taken:
        await join(server, pki, "bob", name="wonder")  # same name after case folding
    assert taken.value.reason == "name_taken"
    with pytest.raises(SessionRefused) as spoof:
        await join(server, pki, "carol", name="ALICE")  # another identity's CN
    assert spoof.value.reason == "name_taken"
    with pytest.raises(SessionRefused) as bad:
        await join(server, pki, "carol", name="evil\u202ename")
    assert bad.value.reason == "bad_name"
    await alice.close()
    # The claim outlives the session.
    with pytest.raises(SessionRefused):
        await join(server, pki, "bob", name="Wonder")
    again = await join(server, pki, "alice", name="Wonder")
    assert again.welcome is not None
    assert again.welcome.name == "Wonder"
    await again.close()


@pytest.mark.protocol("7.3")
async def test_who_is_paged(start_server: ServerFactory, pki: Pki) -> None:
    """who answers in pages of who_page_size, and next leads to the rest."""
    server = await start_server(settings=ServerSettings(who_page_size=2))
    clients = [await join(server, pki, name) for name in ("alice", "bob", "carol", "dave", "erin")]
    asker = clients[0]
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        await asker.send(Who(cursor=cursor))
        page = await receive_until(asker, Users)
        pages += 1
        assert len(page.users) <= 2
        names += [user.name for user in page.users]
        cursor = page.next
        if cursor is None:
            break
    assert pages == 3
    assert names == ["alice", "bob", "carol", "dave", "erin"]
    for client in clients:
        await client.close()


@pytest.mark.protocol("7.2")
async def test_presence_stops_above_the_limit(start_server: ServerFactory, pki: Pki) -> None:
    """Above presence_limit users, join/leave are no longer sent to everyone."""
    server = await start_server(settings=ServerSettings(presence_limit=2))
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    assert (await receive_until(alice, Join)).name == "bob"
    carol = await join(server, pki, "carol")  # now 3 > 2: no join for carol
    await carol.send(SendMsg(text="marker"))
    frame = await alice.receive()
    assert isinstance(frame, Msg)
    assert frame.text == "marker"
    for client in (alice, bob, carol):
        await client.close()


@pytest.mark.protocol("6.4", "12.1")
async def test_private_message_reaches_only_the_two_parties(server: ChatServer, pki: Pki) -> None:
    """A msg with 'to' goes to the recipient and the sender, nobody else."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    carol = await join(server, pki, "carol")
    await alice.send(SendMsg(text="psst", to="BOB"))
    await alice.send(SendMsg(text="public"))
    got_bob = await receive_n(bob, Msg, 2)
    got_alice = await receive_n(alice, Msg, 2)
    got_carol = await receive_n(carol, Msg, 1)
    assert [(m.text, m.to) for m in got_bob] == [("psst", "bob"), ("public", None)]
    assert [m.text for m in got_alice] == ["psst", "public"]
    assert [m.text for m in got_carol] == ["public"]
    await alice.send(SendMsg(text="hello?", to="nobody", ref="r1"))
    error = await receive_until(alice, Error)
    assert (error.code, error.ref) == ("no_such_user", "r1")
    for client in (alice, bob, carol):
        await client.close()


@pytest.mark.protocol("6.5")
async def test_another_room_is_refused_with_the_ref(server: ChatServer, pki: Pki) -> None:
    """This server serves only the lobby: msg to another room gets no_such_room."""
    alice = await join(server, pki, "alice")
    await alice.send(SendMsg(text="hi", room="lobby", ref="ok"))
    assert (await receive_until(alice, Msg)).text == "hi"
    await alice.send(SendMsg(text="hi", room="kitchen", ref="r2"))
    error = await receive_until(alice, Error)
    assert (error.code, error.ref) == ("no_such_room", "r2")
    await alice.close()


@pytest.mark.protocol("8.1", "8.3")
async def test_history_and_resume_replay_what_was_missed(server: ChatServer, pki: Pki) -> None:
    """history returns stored messages after 'since'; hello{since} replays them first."""
    alice = await join(server, pki, "alice")
    for n in range(5):
        await alice.send(SendMsg(text=f"m{n}"))
    sent = await receive_n(alice, Msg, 5)
    await alice.send(HistoryRequest(since=sent[1].id, limit=2))
    page = await receive_n(alice, Msg, 2, replays=True)
    end = await receive_until(alice, HistoryEnd)
    assert [m.text for m in page] == ["m2", "m3"]
    assert all(m.replay for m in page)
    assert (end.count, end.more) == (2, True)
    bob = await connect(server, pki.client("bob"))
    await bob.hello(None, since=sent[2].id)
    replayed = await receive_n(bob, Msg, 2, replays=True)
    assert [(m.text, m.replay) for m in replayed] == [("m3", True), ("m4", True)]
    await alice.close()
    await bob.close()


@pytest.mark.protocol("4.1")
async def test_ping_is_answered_with_the_same_t(server: ChatServer, pki: Pki) -> None:
    """The server answers ping with pong carrying the same t, before and after hello."""
    peer = await RawPeer.open(server, pki.client("alice"))
    await peer.send(Ping(t="before"))
    assert await peer.until(Pong) == Pong(t="before")
    await peer.send(b'{"type":"hello","v":1}\n{"type":"ping","t":42}\n')
    assert await peer.until(Pong) == Pong(t=42)
    peer.close()


@pytest.mark.protocol("11")
async def test_server_pings_an_idle_client_and_drops_a_silent_one(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A silent peer is pinged, then dropped with bye timeout; others see it leave."""
    server = await start_server(ping_interval=0.3, idle_timeout=1.0)
    silent = await RawPeer.open(server, pki.client("bob"))
    await silent.send(b'{"type":"hello","v":1}\n')
    alice = await join(server, pki, "alice")
    # alice reads (and so answers pings) meanwhile: on Redis, bob's leave comes
    # through the control stream, maybe after alice's own idle time would end.
    leave = asyncio.ensure_future(receive_until(alice, Leave))
    assert await silent.until(Ping) is not None
    seen = await silent.closed()
    assert seen[-1].__class__.__name__ == "Bye"
    left = await leave
    assert (left.name, left.reason) == ("bob", "timeout")
    await alice.close()


async def test_a_session_ending_leaves_no_trace_in_the_hub(server: ChatServer, pki: Pki) -> None:
    """After clients leave, the hub holds no session and no member."""
    clients = [await join(server, pki, name) for name in ("alice", "bob")]
    await eventually(lambda: server.hub.users_online == 2)
    for client in clients:
        await client.close()
    await eventually(lambda: server.hub.users_online == 0 and not server.hub.sessions)


@pytest.mark.protocol("7.2")
async def test_presence_is_symmetric_at_the_limit(start_server: ServerFactory, pki: Pki) -> None:
    """A user whose join was not announced (over the limit) has no leave announced either."""
    server = await start_server(settings=ServerSettings(presence_limit=2))
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    carol = await join(server, pki, "carol")  # 3 > 2: not announced
    await carol.close()
    await eventually(lambda: server.hub.users_online == 2)
    await bob.close()  # 2 <= 2: announced
    left = await receive_until(alice, Leave)
    assert left.name == "bob"
    await alice.close()


@pytest.mark.protocol("8.3", "8.4", "9.3")
async def test_resume_beyond_kept_history_starts_with_a_gap(
    start_server: ServerFactory, pki: Pki
) -> None:
    """hello{since} older than what is kept: a gap names the forgotten ids, then the replay."""
    server = await start_server(store=MemoryStore(capacity=3))
    alice = await join(server, pki, "alice")
    for n in range(6):
        await alice.send(SendMsg(text=f"m{n}"))
    sent = await receive_n(alice, Msg, 6)
    bob = await connect(server, pki.client("bob"))
    await bob.hello(None, since=0)
    gap = await bob.receive()
    assert gap == Gap(from_id=sent[0].id, to_id=sent[2].id, missed=3)
    replayed = await receive_n(bob, Msg, 3, replays=True)
    assert [m.text for m in replayed] == ["m3", "m4", "m5"]
    end = await receive_until(bob, HistoryEnd)
    assert (end.count, end.more) == (3, False)
    await alice.close()
    await bob.close()


@pytest.mark.protocol("6.3")
async def test_a_resend_is_acked_even_if_its_recipient_left(server: ChatServer, pki: Pki) -> None:
    """De-duplication comes first: a resent private message is acked, not refused."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    await alice.send(SendMsg(text="psst", to="bob", ref="p1"))
    first = await receive_until(alice, Ack)
    await bob.close()
    await receive_until(alice, Leave)
    await alice.send(SendMsg(text="psst", to="bob", ref="p1"))
    again = await receive_until(alice, Ack)
    assert again.id == first.id
    await alice.close()


@pytest.mark.protocol("6.5")
async def test_who_and_history_for_another_room_are_refused(server: ChatServer, pki: Pki) -> None:
    """Only the lobby exists: who and history naming another room get no_such_room."""
    alice = await join(server, pki, "alice")
    await alice.send(Who(room="kitchen"))
    assert (await receive_until(alice, Error)).code == "no_such_room"
    await alice.send(HistoryRequest(since=0, room="kitchen"))
    assert (await receive_until(alice, Error)).code == "no_such_room"
    await alice.close()


@pytest.mark.protocol("4.2")
async def test_motd_rides_in_welcome(start_server: ServerFactory, pki: Pki) -> None:
    """The message of the day reaches every joining user in welcome."""
    server = await start_server(settings=ServerSettings(motd="be kind"))
    alice = await join(server, pki, "alice")
    assert alice.welcome is not None
    assert alice.welcome.motd == "be kind"
    await alice.close()


class FailingDiskStore(MemoryStore):
    """A memory store whose commits fail while ``failing`` is set, like a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True
        self.tried: list[str] = []  # the text of every draft a commit was tried for

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        self.tried += [draft.text for draft in drafts]
        if self.failing:
            raise OSError(28, "No space left on device")
        return await super().append(drafts)


@pytest.mark.protocol("6.2", "9.2")
async def test_the_client_drops_a_message_the_server_could_not_store(
    start_server: ServerFactory, pki: Pki
) -> None:
    """error internal with our ref: the message is dropped and the error shown, never resent.

    docs/protocol.md 9.2: only rate_limited is worth sending again; a store
    that keeps failing must not be fed the same message every second forever.
    """
    store = FailingDiskStore()
    server = await start_server(store=store)
    view = Recorder()
    chat = Chat(opener_for(pki.client("alice"), port_of(server)), view)
    running = asyncio.create_task(chat.run())
    try:
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
        await chat.say(Say("lost to a full disk"))
        refused = "!! internal: the message could not be stored"
        await eventually(lambda: any(line.endswith(refused) for line in view.notices))
        assert not chat.pending
        assert chat.all_echoed.is_set()

        store.failing = False
        await chat.say(Say("stored"))
        await eventually(lambda: view.texts() == ["stored"])
        assert store.tried == ["lost to a full disk", "stored"]
    finally:
        await chat.leave()
        async with asyncio.timeout(WAIT):
            await running


async def welcome_notices(server: ChatServer, pki: Pki, name: str | None) -> list[str]:
    """What alice's client says on joining ``server`` after asking for ``name``."""
    view = Recorder()
    chat = Chat(opener_for(pki.client("alice"), port_of(server)), view, name=name)
    running = asyncio.create_task(chat.run())
    try:
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
        return list(view.notices)
    finally:
        await chat.leave()
        async with asyncio.timeout(WAIT):
            await running


async def test_a_name_the_server_did_not_grant_is_explained(
    server: ChatServer, start_server: ServerFactory, pki: Pki
) -> None:
    """--names cn grants the certificate's name: the client says the one asked for was not used."""
    shown = await welcome_notices(server, pki, "mallory")
    assert shown[0].endswith("-- joined as alice; 1 online: alice")
    assert shown[1].endswith(
        "-- the server names you by your certificate, so you are alice here "
        "('mallory' was not used)"
    )
    for same in (None, "alice", "ALICE"):  # nothing to explain
        assert not any("was not used" in line for line in await welcome_notices(server, pki, same))
    claim = await start_server(settings=ServerSettings(names=NamesMode.CLAIM))
    granted = await welcome_notices(claim, pki, "mallory")
    assert granted[0].endswith("-- joined as mallory; 1 online: mallory")
    assert not any("was not used" in line for line in granted)


class Switch:
    """An opener that fails while ``down`` (a server that is away), else connects."""

    def __init__(self, opener: Opener) -> None:
        self.opener = opener
        self.down = False
        self.attempts = 0

    async def __call__(self) -> ServerConnection:
        self.attempts += 1
        if self.down:
            raise CannotConnect("cannot connect: connection refused (is the server running?)")
        return await self.opener()


async def test_enter_on_an_empty_line_reconnects_at_once(server: ChatServer, pki: Pki) -> None:
    """Waiting a minute to reconnect, an empty line (or /reconnect) tries now (issue 15, 6)."""
    proxy = Proxy(port_of(server))
    await proxy.start()
    switch = Switch(opener_for(pki.client("alice"), proxy.port))
    view = Recorder()
    chat = Chat(switch, view, backoff=Backoff(first=60.0, most=60.0))
    running = asyncio.create_task(chat.run())
    try:
        async with asyncio.timeout(WAIT):
            await chat.welcomed.wait()
        assert await chat.perform("/reconnect")  # connected: nothing to do, and it says so
        assert view.notices[-1].endswith(
            "-- connected: /reconnect is for when the connection is lost"
        )
        switch.down = True
        proxy.cut(0)
        await eventually(lambda: chat.status is Status.RECONNECTING)
        assert "reconnecting in" in view.notices[-1]
        attempts = switch.attempts
        await chat.perform("")  # still away: one more attempt, and a line saying so
        await eventually(lambda: switch.attempts == attempts + 1)
        await eventually(lambda: "still no connection" in view.notices[-1])
        assert chat.status is Status.RECONNECTING
        switch.down = False
        await chat.perform("/reconnect")
        await eventually(lambda: chat.status is Status.CONNECTED)
        assert sum(isinstance(event, Welcomed) and event.again for event in view.events) == 1
        assert any(isinstance(event, Retrying) for event in view.events)
    finally:
        await chat.leave()
        async with asyncio.timeout(WAIT):
            await running
        await proxy.close()

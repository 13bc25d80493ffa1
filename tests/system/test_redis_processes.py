"""Issue 17 with real processes: two and three ``rtchat-server --redis`` on one redis-server.

Each test starts its own ``rtchat-server --redis unix://...`` processes
(tests/support.py ``ServerProcess``) on the run's redis-server (emptied for
the test; a missing redis-server skips, and fails under
RTCHAT_REQUIRE_REDIS=1), and talks to them with the client library over
real mutual TLS on loopback. The in-process versions of these checks are
tests/integration/test_redis.py, test_redis_presence.py and
test_redis_revocation.py; here the servers share nothing but Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import trustme

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.errors import SessionRefused
from realtimechat.pki import CaFolder, init_ca, issue_client, revoke
from realtimechat.protocol import Ack, Frame, Join, Leave, Msg, SendMsg, Users, Welcome, Who
from realtimechat.tls import client_context

from ..support import WAIT, Pki, ServerProcess, receive_until

pytestmark = pytest.mark.system  # real rtchat-server and redis-server processes

STREAM = 30  # lines each sender sends in the numbered stream


class Cluster:
    """rtchat-server processes named a, b, c... on one Redis; stopped (and woken) at the end."""

    def __init__(self, servers: Sequence[ServerProcess]) -> None:
        self.servers = list(servers)

    def port(self, index: int) -> int:
        return self.servers[index].port

    def stop(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                os.kill(server.process.pid, signal.SIGCONT)  # a test may have stopped it
                server.stop()


def start_cluster(pki: Pki, tmp_path: Path, redis_url: str, count: int, *extra: str) -> Cluster:
    """``count`` server processes on ``redis_url``, each in a folder of its own."""
    servers: list[ServerProcess] = []
    try:
        for name in "abc"[:count]:
            folder = tmp_path / name
            folder.mkdir()
            options = ["--redis", redis_url, "--server-id", name, *extra]
            servers.append(ServerProcess(pki, folder, extra=options))
    except BaseException:
        Cluster(servers).stop()
        raise
    return Cluster(servers)


@pytest.fixture
def clusters() -> Iterator[list[Cluster]]:
    """Clusters a test starts, all stopped after it (pass or fail)."""
    started: list[Cluster] = []
    yield started
    for cluster in started:
        cluster.stop()


async def connect(pki: Pki, port: int, user: str) -> ServerConnection:
    """A TLS connection as ``user`` to the server process on ``port``, no hello yet."""
    endpoint = Endpoint(host="127.0.0.1", port=port, cn="chatserver")
    return await ServerConnection.open(endpoint, client_context(pki.client(user)), timeout=WAIT)


async def session(
    pki: Pki, port: int, user: str, *, name: str | None = None, since: int | None = None
) -> ServerConnection:
    """``user`` welcomed by the server process on ``port``."""
    connection = await connect(pki, port, user)
    await connection.hello(name, since)
    return connection


async def messages(connection: ServerConnection, count: int) -> list[Msg]:
    """The next ``count`` messages (replays included), other frames skipped."""
    got: list[Msg] = []
    async with asyncio.timeout(WAIT):
        while len(got) < count:  # bounded by the timeout
            frame = await connection.receive()
            if isinstance(frame, Msg):
                got.append(frame)
    return got


async def send_and_read(connection: ServerConnection, prefix: str) -> list[Frame]:
    """Send ``STREAM`` numbered lines while reading: the acks and messages, in arrival order."""
    frames: list[Frame] = []

    async def read() -> None:
        echoes = 0
        while echoes < STREAM:  # bounded by the timeout below
            frame = await connection.receive()
            if isinstance(frame, Ack | Msg):
                frames.append(frame)
            if isinstance(frame, Msg) and frame.text.startswith(prefix):
                echoes += 1

    reader = asyncio.create_task(read())
    for n in range(STREAM):
        await connection.send(SendMsg(text=f"{prefix} {n}", ref=f"{prefix}{n}"))
    await asyncio.wait_for(reader, WAIT)
    return frames


def acked_before_echoed(frames: list[Frame], prefix: str) -> list[str]:
    """The refs whose ack came after the echo of their message (or never): should be none."""
    late = []
    for n in range(STREAM):
        acks = [i for i, f in enumerate(frames) if isinstance(f, Ack) and f.ref == f"{prefix}{n}"]
        if not acks:
            late.append(f"{prefix}{n}")
            continue
        ack = frames[acks[0]]
        assert isinstance(ack, Ack)
        echo = [i for i, f in enumerate(frames) if isinstance(f, Msg) and f.id == ack.id]
        if not echo or echo[0] < acks[0]:
            late.append(f"{prefix}{n}")
    return late


@pytest.mark.protocol("6.1", "6.2")
async def test_three_processes_show_one_order_on_every_screen_and_ack_before_echo(
    pki: Pki, tmp_path: Path, redis_url: str, clusters: list[Cluster]
) -> None:
    """alice on A and bob on B send numbered streams at once; carol on A, dave on B and erin on
    C each see all 60 lines once, in one identical id order; each sender's ack precedes its echo."""
    cluster = start_cluster(pki, tmp_path, redis_url, 3)
    clusters.append(cluster)
    alice = await session(pki, cluster.port(0), "alice")
    bob = await session(pki, cluster.port(1), "bob")
    witnesses = [
        await session(pki, cluster.port(index), user)
        for index, user in enumerate(("carol", "dave", "erin"))
    ]
    watching = [asyncio.create_task(messages(w, 2 * STREAM)) for w in witnesses]
    sent = await asyncio.gather(send_and_read(alice, "alice"), send_and_read(bob, "bob"))
    seen = await asyncio.gather(*watching)
    for frames, prefix in zip(sent, ("alice", "bob"), strict=True):
        assert acked_before_echoed(frames, prefix) == []
    screens = [[(m.id, m.from_, m.text) for m in screen] for screen in seen]
    assert screens[1] == screens[0]
    assert screens[2] == screens[0]
    ids = [entry[0] for entry in screens[0]]
    assert all(x < y for x, y in itertools.pairwise(ids)), "ids rise, none twice"
    for user in ("alice", "bob"):
        mine = [text for _, sender, text in screens[0] if sender == user]
        assert mine == [f"{user} {n}" for n in range(STREAM)], f"{user}'s lines once, in order"
    for connection in (alice, bob, *witnesses):
        await connection.close()


async def send_lines(connection: ServerConnection, lines: Sequence[str]) -> None:
    """Send ``lines`` and wait for each one's ack (so Redis holds them all)."""
    for text in lines:  # each its own ref: a ref used again is de-duplicated (6.3)
        await connection.send(SendMsg(text=text, ref=text))
        await receive_until(connection, Ack)


@pytest.mark.protocol("8.3", "9.1")
@pytest.mark.parametrize("lagging", [False, True], ids=["caught-up", "lagging"])
async def test_a_resume_on_another_process_has_no_hole_and_no_duplicate(
    pki: Pki, tmp_path: Path, redis_url: str, clusters: list[Cluster], lagging: bool
) -> None:
    """alice reads 15 of bob's lines on A, drops, and resumes on B with since: the replay and
    the live lines continue where she was, each once. Lagging: B is stopped (SIGSTOP) while the
    rest is sent and her resume reaches it as it wakes (SIGCONT), behind on Redis."""
    cluster = start_cluster(pki, tmp_path, redis_url, 2)
    clusters.append(cluster)
    lines = [f"line {n}" for n in range(40)]
    bob = await session(pki, cluster.port(0), "bob")
    alice = await session(pki, cluster.port(0), "alice")
    await send_lines(bob, lines[:20])
    before = await messages(alice, 15)
    await alice.close(say_bye=False, timeout=0.5)
    b = cluster.servers[1].process
    if lagging:
        os.kill(b.pid, signal.SIGSTOP)
    resuming = asyncio.create_task(session(pki, cluster.port(1), "alice", since=before[-1].id))
    await send_lines(bob, lines[20:])
    if lagging:
        os.kill(b.pid, signal.SIGCONT)
    again = await asyncio.wait_for(resuming, WAIT)
    after = await messages(again, len(lines) - len(before))
    shown = [m.text for m in (*before, *after)]
    assert shown == lines
    ids = [m.id for m in (*before, *after)]
    assert all(x < y for x, y in itertools.pairwise(ids))
    for connection in (bob, again):
        await connection.close()


@pytest.mark.protocol("6.4")
async def test_a_private_message_from_a_to_c_reaches_only_its_recipient(
    pki: Pki, tmp_path: Path, redis_url: str, clusters: list[Cluster]
) -> None:
    """alice on A writes to carol on C: carol gets it; bob on B does not (he sees only the
    public line alice sends next)."""
    cluster = start_cluster(pki, tmp_path, redis_url, 3)
    clusters.append(cluster)
    alice = await session(pki, cluster.port(0), "alice")
    bob = await session(pki, cluster.port(1), "bob")
    carol = await session(pki, cluster.port(2), "carol")
    await alice.send(SendMsg(text="for carol only", to="carol", ref="p"))
    await receive_until(alice, Ack)
    await alice.send(SendMsg(text="for everyone", ref="q"))
    await receive_until(alice, Ack)
    private, public = await messages(carol, 2)
    assert (private.text, private.from_, private.to) == ("for carol only", "alice", "carol")
    assert public.text == "for everyone"
    assert [m.text for m in await messages(bob, 1)] == ["for everyone"]
    for connection in (alice, bob, carol):
        await connection.close()


async def presence_until(connection: ServerConnection, marker: str) -> list[tuple[str, ...]]:
    """Joins and leaves seen up to the message ``marker``: (type, name, reason), in order."""
    seen: list[tuple[str, ...]] = []
    async with asyncio.timeout(WAIT):
        while True:  # bounded by the timeout
            frame = await connection.receive()
            if isinstance(frame, Join | Leave):
                seen.append((frame.TYPE, frame.name, str(frame.reason)))
            if isinstance(frame, Msg) and frame.text == marker:
                return seen


@pytest.mark.protocol("7.2", "7.3")
async def test_who_on_c_lists_a_and_b_and_a_quit_on_a_is_one_leave_elsewhere(
    pki: Pki, tmp_path: Path, redis_url: str, clusters: list[Cluster]
) -> None:
    """who on C lists alice (A), bob (B) and carol (C); alice quits on A: bob and carol each
    see her leave once."""
    cluster = start_cluster(pki, tmp_path, redis_url, 3)
    clusters.append(cluster)
    alice = await session(pki, cluster.port(0), "alice")
    bob = await session(pki, cluster.port(1), "bob")
    carol = await session(pki, cluster.port(2), "carol")
    await carol.send(Who())
    users = await receive_until(carol, Users)
    assert sorted(user.name for user in users.users) == ["alice", "bob", "carol"]
    await alice.close()
    left = await receive_until(bob, Leave)
    assert (left.name, left.reason) == ("alice", "quit")
    await carol.send(SendMsg(text="after the quit", ref="m"))
    assert await presence_until(carol, "after the quit") == [("leave", "alice", "quit")]
    assert await presence_until(bob, "after the quit") == []  # her leave was seen above
    for connection in (bob, carol):
        await connection.close()


async def outcome(pki: Pki, port: int, user: str, name: str) -> str:
    """ "welcome", or the reason the hello was refused."""
    connection = await connect(pki, port, user)
    try:
        welcome = await connection.hello(name)
    except SessionRefused as refused:
        return refused.reason
    assert isinstance(welcome, Welcome)
    assert welcome.name == name
    await connection.close()
    return "welcome"


@pytest.mark.protocol("5.3")
async def test_a_name_claimed_through_a_and_b_at_once_has_exactly_one_winner(
    pki: Pki, tmp_path: Path, redis_url: str, clusters: list[Cluster]
) -> None:
    """--names claim: alice through A and bob through B ask for "captain" at the same moment;
    one is welcomed as captain, the other refused name_taken."""
    cluster = start_cluster(pki, tmp_path, redis_url, 2, "--names", "claim")
    clusters.append(cluster)
    results = await asyncio.gather(
        outcome(pki, cluster.port(0), "alice", "captain"),
        outcome(pki, cluster.port(1), "bob", "captain"),
    )
    assert sorted(results) == ["name_taken", "welcome"]


def fresh_ca(folder: Path, *users: str) -> Pki:
    """A CA of this test's own, so that revoking someone harms no other test."""
    root = folder / "ca"
    init_ca(root, "chatserver", ["127.0.0.1"])
    for user in users:
        issue_client(root, user)
    return Pki(folder=CaFolder(root), rogue=trustme.CA(), rogue_dir=folder)


def stale_files(ca: Pki, folder: Path) -> list[str]:
    """Options for the server's files copied to ``folder`` now: later revocations miss them."""
    folder.mkdir()
    files = ca.server
    options: list[str] = []
    named = (("--cert", files.cert), ("--key", files.key), ("--ca", files.ca), ("--crl", files.crl))
    for option, path in named:
        assert path is not None
        options += [option, str(shutil.copy2(path, folder / path.name))]
    return options


@pytest.mark.protocol("12.2")
async def test_a_revocation_loaded_by_a_on_sighup_ends_the_session_on_b(
    tmp_path: Path, redis_url: str, clusters: list[Cluster]
) -> None:
    """bob is on B, whose CRL is a stale copy; bob is revoked in the CA folder and A is sent
    SIGHUP: B ends bob's session with bye revoked, and alice on B stays."""
    ca = fresh_ca(tmp_path, "alice", "bob")
    quiet = ("--watch-interval", "0")  # reload only on SIGHUP: no server finds it by itself
    a = ServerProcess(ca, _folder(tmp_path / "a"), extra=[*_redis(redis_url, "a"), *quiet])
    clusters.append(Cluster([a]))
    b_options = [*_redis(redis_url, "b"), *quiet, *stale_files(ca, tmp_path / "stale")]
    b = ServerProcess(ca, _folder(tmp_path / "b"), extra=b_options)
    clusters.append(Cluster([b]))
    alice = await session(ca, b.port, "alice")
    bob = await session(ca, b.port, "bob")
    revoke(ca.folder.root, "bob")
    os.kill(a.process.pid, signal.SIGHUP)
    with pytest.raises(SessionRefused) as ended:
        await receive_until(bob, Msg)  # never a message: the bye comes first
    assert ended.value.reason == "revoked"
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("bob", "revoked")
    await alice.send(SendMsg(text="still here", ref="s"))
    assert (await receive_until(alice, Msg)).text == "still here"
    await alice.close()


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _redis(url: str, name: str) -> list[str]:
    return ["--redis", url, "--server-id", name]

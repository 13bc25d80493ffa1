"""A reader that falls behind loses only its own messages, and is told which."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

from realtimechat.protocol import Gap, Leave, Msg, SendMsg, Welcome
from realtimechat.server.app import ChatServer
from realtimechat.server.session import Session
from realtimechat.tls import client_context

from ..support import (
    Pki,
    RawPeer,
    ServerFactory,
    eventually,
    join,
    port_of,
    receive_n,
)

TEXT = "x" * 30_000
BURST = 300  # 300 x 30 kB = 9 MB: more than every kernel and TLS buffer in the way
ROUND = 10


async def open_tiny_window_peer(server: ChatServer, pki: Pki, user: str) -> RawPeer:
    """A TLS peer with a tiny receive buffer and a small stream buffer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port_of(server)))
    context: ssl.SSLContext = client_context(pki.client(user))
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=context, server_hostname="chatserver", limit=16_384
    )
    return RawPeer(reader, writer)


def session_of(server: ChatServer, name: str) -> Session:
    return next(session for session in server.hub.sessions if session.name == name)


@pytest.mark.protocol("9.3", "10")
async def test_slow_reader_gets_a_gap_and_the_others_get_everything(
    start_server: ServerFactory, pki: Pki
) -> None:
    """While carol stops reading, alice and bob lose nothing; carol later learns her gap."""
    server = await start_server(queue_frames=64, queue_bytes=512 * 1024, write_timeout=60.0)
    carol = await open_tiny_window_peer(server, pki, "carol")
    await carol.send(b'{"type":"hello","v":1}\n')
    # Carol's tiny window can hold the handshake up for a delayed ACK (40 ms):
    # she must be a member before alice talks, or ids 1.. are not hers to miss.
    assert isinstance(await carol.next_frame(timeout=10), Welcome)
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")

    # Alice talks in rounds, each waiting until bob and she have it all: a
    # pace every healthy reader keeps up with, so only carol falls behind.
    got_bob: list[Msg] = []
    for round_start in range(0, BURST, ROUND):
        for n in range(round_start, round_start + ROUND):
            await alice.send(SendMsg(text=f"{n}:{TEXT}"))
        got_bob += await receive_n(bob, Msg, ROUND, timeout=30)
        await receive_n(alice, Msg, ROUND, timeout=30)
    sent_ids = [msg.id for msg in got_bob]
    assert [msg.text.split(":")[0] for msg in got_bob] == [str(n) for n in range(BURST)]
    assert session_of(server, "bob").outbox.dropped == 0

    carol_session = session_of(server, "carol")
    assert carol_session.outbox.dropped > 0
    assert carol_session.outbox.queued_bytes <= 512 * 1024
    assert carol_session.outbox.queued_frames <= 64

    # Carol reads again: what she gets plus what the gap names is everything.
    received: list[int] = []
    gaps: list[Gap] = []
    async with asyncio.timeout(60):
        while not received or received[-1] != sent_ids[-1]:
            frame = await carol.next_frame(timeout=60)
            assert frame is not None
            if isinstance(frame, Msg):
                received.append(frame.id)
            elif isinstance(frame, Gap):
                gaps.append(frame)
            if gaps and frame is gaps[-1] and gaps[-1].to_id == sent_ids[-1]:
                break
    assert gaps, "carol was never told what she missed"
    missed = {msg_id for gap in gaps for msg_id in sent_ids if gap.from_id <= msg_id <= gap.to_id}
    assert set(received) | missed == set(sent_ids)
    assert not set(received) & missed
    assert sum(gap.missed for gap in gaps) == len(missed)
    # What --metrics reports (rtchat_gaps_sent_total, ..._dropped_messages_total): carol's.
    assert server.hub.scheduler.gaps == len(gaps)
    assert server.hub.scheduler.dropped == len(missed) == carol_session.outbox.dropped
    carol.close()
    await alice.close()
    await bob.close()


@pytest.mark.protocol("10", "12.2")
async def test_reader_blocked_past_the_write_timeout_is_disconnected(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A peer that never reads is ended with slow_consumer; the others see it leave."""
    server = await start_server(queue_bytes=1024 * 1024, write_timeout=0.5)
    carol = await open_tiny_window_peer(server, pki, "carol")
    await carol.send(b'{"type":"hello","v":1}\n')
    alice = await join(server, pki, "alice")
    await eventually(lambda: server.hub.users_online == 2)
    leaves: list[Leave] = []
    for round_start in range(0, 10 * BURST, ROUND):
        for n in range(round_start, round_start + ROUND):
            await alice.send(SendMsg(text=f"{n}:{TEXT}"))
        echoes = 0
        while echoes < ROUND:
            frame = await alice.receive()
            echoes += isinstance(frame, Msg)
            if isinstance(frame, Leave):
                leaves.append(frame)
        if leaves:
            break
    assert [(left.name, left.reason) for left in leaves] == [("carol", "slow_consumer")]
    carol.close()
    await alice.close()

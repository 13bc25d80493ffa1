"""Stopping the server: everyone is told, nobody is reported as leaving."""

from __future__ import annotations

import asyncio

import pytest

from realtimechat.protocol import Bye, Join, Leave
from realtimechat.server.app import ChatServer

from ..support import TEST_LIMITS, WAIT, Pki, RawPeer, ServerFactory


@pytest.mark.protocol("12.2")
async def test_shutdown_says_bye_and_announces_nobody_leaving(
    start_server: ServerFactory, pki: Pki
) -> None:
    """Each client gets bye shutdown, and no 'alice left (shutdown)' about the others first."""
    server = await start_server()
    peers = []
    for name in ("alice", "bob", "carol"):
        peer = await RawPeer.open(server, pki.client(name))
        await peer.send(b'{"type":"hello","v":1}\n')
        peers.append(peer)
    await receive_until_joined(peers[0], "carol")
    await server.shutdown()
    for peer in peers:
        seen = await peer.closed()
        assert seen[-1] == Bye(reason="shutdown")
        assert [frame for frame in seen if isinstance(frame, Leave)] == []


async def receive_until_joined(peer: RawPeer, name: str) -> None:
    """Wait until ``peer`` has been told that ``name`` joined (everyone is in)."""
    while True:
        frame = await peer.until(Join)
        if frame.name == name:
            return


class BrokenKeepalive(ChatServer):
    """A server whose keepalive loop fails the way an unforeseen bug would."""

    async def _keepalive_loop(self) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("a bug in keepalive")


async def test_a_failing_background_loop_surfaces(pki: Pki) -> None:
    """A loop that raises: the others are cancelled, the failure is logged and ``failed`` set."""
    server = BrokenKeepalive(pki.server, hosts=["127.0.0.1"], port=0, limits=TEST_LIMITS)
    await server.start()
    try:
        async with asyncio.timeout(WAIT):
            await server.failed.wait()
        assert isinstance(server.failure, ExceptionGroup)
        assert [repr(error) for error in server.failure.exceptions] == [
            "RuntimeError('a bug in keepalive')"
        ]
    finally:
        await server.shutdown()

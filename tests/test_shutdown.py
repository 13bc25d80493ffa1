"""Stopping the server: everyone is told, nobody is reported as leaving."""

from __future__ import annotations

import pytest

from realtimechat.protocol import Bye, Join, Leave

from .support import Pki, RawPeer, ServerFactory


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

"""What each connection costs in memory: the private knob we turn is still there."""

from __future__ import annotations

from asyncio import sslproto

from realtimechat.server.app import SSL_READ_BUFFER
from realtimechat.server.app import shrink_ssl_read_buffers as shrink

from .support import Pki, ServerFactory, join


async def test_tls_connections_get_the_small_read_buffer(
    start_server: ServerFactory, pki: Pki
) -> None:
    """asyncio still sizes each TLS read buffer by SSLProtocol.max_size, which we set small."""
    server = await start_server()
    assert sslproto.SSLProtocol.max_size == SSL_READ_BUFFER
    alice = await join(server, pki, "alice")
    (session,) = server.hub.sessions
    transport = session._transport
    assert transport is not None
    protocol = transport._ssl_protocol  # type: ignore[attr-defined]
    assert len(protocol._ssl_buffer) == SSL_READ_BUFFER
    await alice.close()
    shrink()  # idempotent
    assert sslproto.SSLProtocol.max_size == SSL_READ_BUFFER

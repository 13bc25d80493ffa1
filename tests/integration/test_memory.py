"""A connection that ends is freed when it ends, not when a garbage collection happens to run.

Issue 16: closed connections sat in reference cycles (the connection and
its session through ``on_closed``, the session and its transport, timer
handles, callbacks) with their memory BIOs, which hold the largest write
they ever passed, until a full cyclic collection found them. These tests
turn the collector off and wait for the objects of a closed connection to
go by reference counting alone.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import weakref
from collections.abc import Iterator

import pytest

from realtimechat.protocol import SendMsg
from realtimechat.server.app import ChatServer
from realtimechat.server.session import Session
from realtimechat.server.tlsconn import TLSTransport

from ..support import Pki, ServerFactory, eventually, join
from .test_slow_consumer import open_tiny_window_peer

HELLO = b'{"type":"hello","v":1}\n'


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off for the test (reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def watch(session: Session) -> list[weakref.ref[object]]:
    """Weak references to a session, its transports and its TLS object."""
    transport = session._transport
    assert isinstance(transport, TLSTransport)
    protocol = transport._protocol
    objects: list[object] = [session, transport, protocol]
    sslobj = protocol.extra_info("ssl_object")
    assert isinstance(sslobj, ssl.SSLObject)
    objects.append(sslobj)
    return [weakref.ref(thing) for thing in objects]


def only_session_of(server: ChatServer, name: str) -> Session:
    (session,) = [session for session in server.hub.sessions if session.name == name]
    return session


async def all_freed(references: list[weakref.ref[object]]) -> None:
    await eventually(lambda: all(reference() is None for reference in references))


@pytest.mark.usefixtures("no_gc")
@pytest.mark.parametrize("how", ["bye", "abort"])
async def test_a_client_that_leaves_is_freed_without_the_collector(
    server: ChatServer, pki: Pki, how: str
) -> None:
    """Whether it says bye or vanishes, nothing of its connection is left once it is gone."""
    alice = await join(server, pki, "alice")
    await alice.send(SendMsg(text="x" * 60_000, ref="r"))
    references = watch(only_session_of(server, "alice"))
    if how == "bye":
        await alice.close()
    else:
        alice.abort()
    await eventually(lambda: server.connection_count == 0)
    await all_freed(references)


@pytest.mark.usefixtures("no_gc")
async def test_a_slow_consumer_is_freed_without_the_collector(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A peer that never reads, ended at the write timeout: freed once its connection is cut."""
    server = await start_server(queue_bytes=256 * 1024, write_timeout=0.3)
    sleeper = await open_tiny_window_peer(server, pki, "carol")
    await sleeper.send(HELLO)
    await eventually(lambda: server.hub.users_online == 1)
    references = watch(only_session_of(server, "carol"))
    alice = await join(server, pki, "alice")
    async with asyncio.timeout(30):
        while any(session.name == "carol" for session in server.hub.sessions):
            await alice.send(SendMsg(text="x" * 60_000))
            await asyncio.sleep(0.01)  # pacing, not synchronisation
    await eventually(lambda: server.connection_count == 1)  # alice's alone
    await all_freed(references)
    sleeper.close()
    await alice.close()

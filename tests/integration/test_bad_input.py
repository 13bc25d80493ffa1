"""Bad input gets a clear error or a closed connection, and harms no one else."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from realtimechat.protocol import Bye, Error, Leave, Msg, SendMsg
from realtimechat.server.app import ChatServer

from ..support import Pki, RawPeer, ServerFactory, eventually, join, receive_until

HELLO = b'{"type":"hello","v":1}\n'


async def witnesses_still_chat(server: ChatServer, pki: Pki, text: str) -> None:
    """Alice says something and bob receives it: the room is unharmed."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    await alice.send(SendMsg(text=text))
    assert (await receive_until(bob, Msg)).text == text
    await alice.close()
    await bob.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"this is not json\n", "bad_json"),
        (b'{"type":"msg","text":"caf\xe9"}\n', "bad_utf8"),
        (b'{"type":"msg","text":42,"ref":"r7"}\n', "bad_field"),
        (b'{"type":"teleport","to":"mars"}\n', "unknown_type"),
        (b'{"type":"msg","text":"\\udc00"}\n', "bad_field"),
        (b'{"type":"msg","text":"x","text":"y"}\n', "bad_json"),
        (b'{"type":"ping","t":NaN}\n', "bad_json"),
        (b"[" * 3000 + b"]" * 3000 + b"\n", "bad_json"),
        (b'{"type":"ping","t":1e400}\n', "bad_field"),
    ],
)
@pytest.mark.protocol("3", "12.1")
async def test_bad_frames_get_an_error_and_the_session_goes_on(
    server: ChatServer, pki: Pki, payload: bytes, code: str
) -> None:
    """A bad frame is answered with its error code; the same session still works."""
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(HELLO)
    await carol.send(payload)
    error = await carol.until(Error)
    assert error.code == code
    if b'"ref":"r7"' in payload:
        assert error.ref == "r7"
    await carol.send(SendMsg(text="still here"))
    assert (await carol.until(Msg)).text == "still here"
    await witnesses_still_chat(server, pki, f"after {code}")
    carol.close()


@pytest.mark.protocol("5.1", "12.1")
async def test_msg_before_hello_is_an_error(server: ChatServer, pki: Pki) -> None:
    """Saying something before hello gets hello_required, not a broadcast."""
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(SendMsg(text="too early", ref="e1"))
    error = await carol.until(Error)
    assert (error.code, error.ref) == ("hello_required", "e1")
    carol.close()


@pytest.mark.protocol("5.2", "12.2")
async def test_unsupported_version_is_refused(server: ChatServer, pki: Pki) -> None:
    """hello with v=2 gets unsupported_version and the session ends."""
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(b'{"type":"hello","v":2}\n')
    seen = await carol.closed()
    assert isinstance(seen[0], Error)
    assert seen[0].code == "unsupported_version"
    assert seen[-1] == Bye(reason="unsupported_version")


@pytest.mark.protocol("2", "12.1")
async def test_oversized_line_in_pieces_closes_only_that_session(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A line over the limit, sent in small pieces with no newline, ends that session."""
    server = await start_server(max_line_bytes=4096)
    alice = await join(server, pki, "alice")
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(HELLO)
    await carol.send(b'{"type":"msg","text":"')
    for _ in range(10):
        await carol.send(b"A" * 500)
    seen = await carol.closed()
    errors = [frame for frame in seen if isinstance(frame, Error)]
    assert errors[-1].code == "frame_too_long"
    assert seen[-1] == Bye(reason="protocol_error")
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("carol", "protocol_error")
    await witnesses_still_chat(server, pki, "after an oversized line")
    await alice.close()


@pytest.mark.protocol("12.1")
async def test_too_many_errors_end_the_session(start_server: ServerFactory, pki: Pki) -> None:
    """A peer that keeps sending garbage is disconnected after max_errors errors."""
    server = await start_server(max_errors=5)
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(HELLO + b"junk\n" * 10)
    seen = await carol.closed()
    assert sum(isinstance(frame, Error) for frame in seen) == 5
    assert seen[-1] == Bye(reason="protocol_error")


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.protocol("12.2")
async def test_peer_vanishing_mid_frame_is_a_plain_leave(
    server: ChatServer, pki: Pki, how: str
) -> None:
    """A peer that disappears halfway through a frame leaves; nothing else breaks."""
    alice = await join(server, pki, "alice")
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(HELLO)
    await carol.send(b'{"type":"msg","text":"half a mess')
    if how == "reset":
        sock = carol.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    carol.close()
    left = await receive_until(alice, Leave)
    assert (left.name, left.reason) == ("carol", "disconnected")
    await eventually(lambda: server.hub.users_online == 1)
    await witnesses_still_chat(server, pki, f"after a {how}")
    await alice.close()


@pytest.mark.protocol("8.4")
async def test_no_message_text_reaches_the_log(
    server: ChatServer, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """The server logs sessions, never what people say."""
    await witnesses_still_chat(server, pki, "secret-words-123")
    await asyncio.sleep(0)
    assert server_log.records
    assert not any("secret-words-123" in r.getMessage() for r in server_log.records)


@pytest.mark.protocol("12.1")
async def test_refused_requests_do_not_count_as_misbehaviour(
    start_server: ServerFactory, pki: Pki
) -> None:
    """Many well-formed but refused requests (no_such_user) never end the session."""
    server = await start_server(max_errors=3)
    carol = await RawPeer.open(server, pki.client("carol"))
    await carol.send(HELLO + b'{"type":"msg","text":"hi","to":"nobody"}\n' * 10)
    for _ in range(10):
        assert (await carol.until(Error)).code == "no_such_user"
    await carol.send(SendMsg(text="still welcome"))
    assert (await carol.until(Msg)).text == "still welcome"
    carol.close()

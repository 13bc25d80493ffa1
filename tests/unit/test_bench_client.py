"""rtchat-bench's connection until its replay ends: the client machine's rules, the tool's words.

A ``BenchClient`` is an asyncio protocol: these tests play the transport
and hand it bytes as the loop would, with no server and no TLS.
tests/system/test_bench.py runs the same paths against a real server.
"""

from __future__ import annotations

import pytest

from realtimechat.bench.clients import BenchClient, Tally, failure_code
from realtimechat.bench.wire import Marker
from realtimechat.errors import CertificateRejected, ConnectionLost, SessionRefused
from realtimechat.protocol import (
    CLIENT_FRAME_TYPES,
    Bye,
    ByeReason,
    Error,
    ErrorCode,
    Frame,
    FrameDecoder,
    Hello,
    HistoryEnd,
    Ping,
    Pong,
    SendMsg,
    Welcome,
    decode_line,
    encode,
)

WELCOME = Welcome(v=1, name="bench0", last_id=0, users_online=1)


class Transport:
    """What a BenchClient writes, and whether it was closed."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def frames(self) -> list[Frame]:
        decoder = FrameDecoder.for_server()
        out = [item for item in decoder.feed(bytes(self.written)) if isinstance(item, Frame)]
        self.written.clear()
        return out


def connected(name: str | None = "bench0") -> tuple[BenchClient, Transport]:
    """A client whose TLS handshake just finished (it says hello at once)."""
    client = BenchClient(0, name, Tally(), Marker("run1", 64), server="127.0.0.1:8443")
    transport = Transport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


async def test_hello_goes_out_once_tls_is_up() -> None:
    """connection_made says hello with the name asked for."""
    _, transport = connected("bench7")
    assert transport.frames() == [Hello(v=1, name="bench7")]


@pytest.mark.parametrize("pieces", ["whole", "a byte at a time"])
async def test_a_ping_is_answered_and_the_replays_end_makes_it_ready(pieces: str) -> None:
    """ping before welcome: pong; welcome, then history_end: ready, live, timed."""
    client, transport = connected()
    transport.frames()
    data = encode(Ping(t=3)) + encode(WELCOME) + encode(HistoryEnd(count=0, more=False))
    for piece in [data] if pieces == "whole" else [data[i : i + 1] for i in range(len(data))]:
        client.data_received(piece)
    assert transport.frames() == [Pong(t=3)]
    assert client.welcomed
    assert client.live
    assert client.ready.done()
    assert client.ready.exception() is None
    assert client.t_ready >= client.t_tls


async def test_a_bye_before_welcome_is_a_refusal_with_the_tools_hint() -> None:
    """bye too_many_connections: SessionRefused with that reason and what to change."""
    client, _ = connected()
    client.data_received(encode(Bye(reason=ByeReason.TOO_MANY_CONNECTIONS)))
    error = client.ready.exception()
    assert isinstance(error, SessionRefused)
    assert failure_code(error) == "too_many_connections"
    assert str(error).startswith("the server said bye before welcome: too_many_connections; ")
    assert "rtchat-server --max-per-address" in str(error)


async def test_an_error_before_welcome_is_a_refusal_in_rtchats_words() -> None:
    """error name_taken (then its bye): one SessionRefused, as rtchat says it."""
    client, _ = connected()
    client.data_received(
        encode(Error(code=ErrorCode.NAME_TAKEN, message="taken"))
        + encode(Bye(reason=ByeReason.NAME_TAKEN))
    )
    error = client.ready.exception()
    assert isinstance(error, SessionRefused)
    assert (error.reason, str(error)) == ("name_taken", "the server refused us: taken")


async def test_a_close_before_welcome_means_our_certificate_was_refused() -> None:
    """EOF before welcome: CertificateRejected (TLS 1.3); after it, the replay was cut short."""
    refused, _ = connected()
    refused.connection_lost(None)
    assert isinstance(refused.ready.exception(), CertificateRejected)
    cut, _ = connected()
    cut.data_received(encode(WELCOME))
    cut.connection_lost(None)
    error = cut.ready.exception()
    assert isinstance(error, ConnectionLost)
    assert str(error) == "the connection closed before the replay ended: EOF"


async def test_an_unreadable_frame_before_welcome_is_counted_and_skipped() -> None:
    """A frame from a newer server is one error in the tally; the welcome still counts."""
    client, _ = connected()
    client.data_received(b'{"type":"sparkle"}\n' + encode(WELCOME))
    assert client.welcomed
    assert list(client.tally.errors) == [
        ("unknown_type", "unreadable frame from the server (unknown_type)")
    ]


@pytest.mark.protocol("6.8")
def test_a_signed_run_sends_frames_a_server_takes_as_signed() -> None:
    """--signed: each msg line carries the four signature fields, within the server's bounds."""
    marker = Marker("abcd1234", 100, signed=True)
    for room in (None, "#r"):
        line = marker.line(b"3", 42, room)
        frame = decode_line(line.rstrip(b"\n"), CLIENT_FRAME_TYPES)
        assert isinstance(frame, SendMsg)
        assert (frame.fp, frame.seq, frame.room) == ("0" * 64, 1, room)
        assert marker.find(line) == [(b"3", b"42")]
    plain = Marker("abcd1234", 100).line(b"3", 42)
    signed = marker.line(b"3", 42)
    assert len(signed) - len(plain) > 150  # what a signature costs on the wire

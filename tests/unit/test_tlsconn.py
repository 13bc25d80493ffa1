"""server/tlsconn.py byte by byte: our TLS layer against a client SSLObject, all in memory.

In the manner of trio's ``trio/_tests/test_ssl.py``: no sockets and no
ports. ``TLSServerProtocol`` sits on a ``FakeRaw`` transport that records
what it is asked to do; a client ``ssl.SSLObject`` over ``MemoryBIO``s
plays the peer; the test carries the bytes between them, so it decides
the order in which things happen. Each test runs over TLS 1.3 and TLS 1.2
(``client`` fixture), since the two close and refuse differently.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any, Final

import pytest

from realtimechat.server import tlsconn
from realtimechat.server.tlsconn import (
    NOTHING_SENT,
    Progress,
    TLSServerProtocol,
    TLSTransport,
    shed_reason,
)
from realtimechat.tls import client_context, server_context

from ..support import Pki, eventually

BIG: Final = 100 * 1024 + 7  # several 16 KiB records, and not a multiple of one
PEER: Final = ("127.0.0.1", 40000)


class FakeRaw(asyncio.Transport):
    """The TCP transport under tlsconn: keeps what is written, records every call in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.sent = bytearray()  # written and not yet carried to the client
        self.closing = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append("write")
        self.sent += data

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.calls.append("pause_reading")
        self.reading = False

    def resume_reading(self) -> None:
        self.calls.append("resume_reading")
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.calls.append("set_write_buffer_limits")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return PEER if name == "peername" else default

    def take(self) -> bytes:
        data = bytes(self.sent)
        self.sent.clear()
        return data

    def after(self, call: str) -> list[str]:
        """The calls made after the last ``call``."""
        index = len(self.calls) - 1 - self.calls[::-1].index(call)
        return self.calls[index + 1 :]


class App(asyncio.Protocol):
    """The application on the TLS transport (a ``Session`` in the server): records what it gets."""

    def __init__(self, transport: TLSTransport, *, keep_open_on_eof: bool) -> None:
        self.transport = transport
        self.keep_open_on_eof = keep_open_on_eof
        self.chunks: list[bytes] = []
        self.eofs = 0
        self.lost: list[Exception | None] = []
        self.on_data: Callable[[bytes], None] = lambda _: None

    @property
    def received(self) -> bytes:
        return b"".join(self.chunks)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.on_data(data)

    def eof_received(self) -> bool:
        self.eofs += 1
        return self.keep_open_on_eof

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


class Link:
    """Our server protocol on a ``FakeRaw``, and a client ``SSLObject``, joined by the test."""

    def __init__(
        self,
        server: ssl.SSLContext,
        client: ssl.SSLContext,
        *,
        handshake_timeout: float = 10.0,
        first_byte_timeout: float | None = None,
        keep_open_on_eof: bool = True,
    ) -> None:
        self.apps: list[App] = []
        self.refusals: list[str] = []
        self.keep_open_on_eof = keep_open_on_eof
        self.protocol = TLSServerProtocol(
            server,
            on_ready=self._ready,
            on_refused=self.refusals.append,
            handshake_timeout=handshake_timeout,
            first_byte_timeout=first_byte_timeout,
        )
        self.raw = FakeRaw()
        self.client_in, self.client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = client.wrap_bio(self.client_in, self.client_out, server_hostname="chatserver")
        self.protocol.connection_made(self.raw)

    def _ready(self, transport: TLSTransport) -> App:
        app = App(transport, keep_open_on_eof=self.keep_open_on_eof)
        self.apps.append(app)
        return app

    @property
    def app(self) -> App:
        (app,) = self.apps
        return app

    def to_server(self, *, piece: int | None = None) -> None:
        """Deliver what the client wrote, at once or ``piece`` bytes per ``data_received``."""
        data = self.client_out.read()
        step = piece or len(data) or 1
        for start in range(0, len(data), step):
            self.protocol.data_received(data[start : start + step])

    def to_client(self) -> None:
        self.client_in.write(self.raw.take())

    def client_handshake(self) -> bool:
        """One step of the client's handshake; True once it is done on the client's side."""
        self.to_client()
        try:
            self.client.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def handshake(self) -> App:
        """Both sides complete the handshake; the application the server started."""
        for _ in range(10):
            client_done = self.client_handshake()
            self.to_server()
            if client_done and self.apps:
                return self.app
        raise AssertionError(f"no handshake; refused: {self.refusals}")

    def client_talks(self) -> None:
        """Handshake, then read, as a client does (TLS 1.3: the server may refuse after)."""
        for _ in range(10):
            if self.client_handshake():
                self.client_read()
            self.to_server()

    def client_send(self, data: bytes, *, piece: int | None = None) -> None:
        self.client.write(data)
        self.to_server(piece=piece)

    def client_read(self) -> bytes:
        """All plaintext the server has sent so far; b"" also after its close_notify."""
        self.to_client()
        out = bytearray()
        while True:
            try:
                chunk = self.client.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                return bytes(out)
            if not chunk:
                return bytes(out)
            out += chunk


def _received_shutdown(side: ssl.SSLObject) -> bool:
    """True once ``side`` has read its peer's close_notify (a read then ends cleanly)."""
    try:
        return side.read(1) == b""
    except ssl.SSLZeroReturnError:
        return True
    except ssl.SSLWantReadError:
        return False


@pytest.fixture(params=["TLSv1.3", "TLSv1.2"])
def client(request: pytest.FixtureRequest, pki: Pki) -> ssl.SSLContext:
    """Our client context for alice, limited to one TLS version."""
    context = client_context(pki.client("alice"))
    context.maximum_version = ssl.TLSVersion[request.param.replace(".", "_")]
    return context


@pytest.fixture
def server(pki: Pki) -> ssl.SSLContext:
    """The server's context, as the server builds it."""
    return server_context(pki.server)


# -- the handshake --------------------------------------------------------------------------


async def test_handshake_starts_the_app(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """A trusted client completes the handshake: one app, data both ways, nothing refused."""
    link = Link(server, client)
    app = link.handshake()
    assert link.refusals == []
    assert app.transport.get_extra_info("peercert")["subject"] == ((("commonName", "alice"),),)
    assert app.transport.get_extra_info("peername") == PEER
    link.client_send(b"hello\n")
    assert app.received == b"hello\n"
    app.transport.write(b"welcome\n")
    assert link.client_read() == b"welcome\n"
    assert link.client.version() == link.protocol.extra_info("ssl_object").version()


async def test_untrusted_client_hears_the_alert_before_the_close(
    pki: Pki, server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A client of another CA is refused once, with the reason, and gets the alert, then FIN."""
    rogue = client_context(pki.rogue_client())
    rogue.maximum_version = client.maximum_version
    link = Link(server, rogue)
    with pytest.raises(ssl.SSLError, match="ALERT_UNKNOWN_CA"):
        link.client_talks()
    assert link.apps == []
    assert len(link.refusals) == 1
    assert link.refusals[0].startswith("certificate verify failed: ")
    assert link.raw.calls[-2:] == ["write", "close"]  # the alert went out before the close


async def test_eof_during_the_handshake_is_a_refusal(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A peer that sends FIN mid-handshake is refused once, and no app is started."""
    link = Link(server, client)
    link.client_handshake()
    link.to_server()
    assert link.protocol.eof_received() is False
    link.protocol.connection_lost(None)
    assert link.refusals == ["peer closed the connection during the handshake"]
    assert link.apps == []
    assert "close" in link.raw.calls


async def test_handshake_done_before_the_timeout_fires(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A handshake that completes in the same loop turn its timer falls due is not cut."""
    link = Link(server, client, handshake_timeout=0)  # due at once: the race, decided by us
    app = link.handshake()
    for _ in range(3):
        await asyncio.sleep(0)
    assert link.refusals == []
    assert "abort" not in link.raw.calls
    link.client_send(b"still here\n")
    assert app.received == b"still here\n"


async def test_handshake_finished_after_the_timeout_fired(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """After the timeout cut a handshake, the client's late last flight starts nothing."""
    link = Link(server, client, handshake_timeout=0)
    link.client_handshake()
    link.to_server()  # ClientHello
    link.client_handshake()  # the client's last flight (Finished), not delivered yet
    with contextlib.suppress(ssl.SSLWantReadError):
        # TLS 1.3: an application record right behind the Finished (TLS 1.2
        # waits for the server's Finished first).
        link.client.write(b"hello\n")
    await eventually(lambda: bool(link.refusals))
    assert link.refusals == ["handshake timed out"]
    assert link.raw.calls[-1] == "abort"
    calls = len(link.raw.calls)
    link.to_server()  # arrived before the abort took effect
    assert link.apps == []
    assert link.refusals == ["handshake timed out"]
    assert link.raw.calls[calls:] == []
    link.protocol.connection_lost(None)
    assert link.refusals == ["handshake timed out"]


async def test_connection_lost_during_the_handshake_is_one_refusal(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A reset mid-handshake is reported once, with its reason, and the timer is gone."""
    link = Link(server, client, handshake_timeout=0.05)
    link.client_handshake()
    link.to_server()
    link.protocol.connection_lost(ConnectionResetError("reset by peer"))
    await asyncio.sleep(0.1)  # past the timeout: it must not report a second time
    assert link.refusals == ["peer closed the connection during the handshake"]


async def test_progress_is_idle_then_hello_then_answered(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """Nothing yet, then part of a ClientHello (nothing answered), then our flight sent."""
    link = Link(server, client)
    seen = [link.protocol.progress]
    link.client_handshake()
    hello = link.client_out.read()
    link.protocol.data_received(hello[:3])
    seen.append(link.protocol.progress)
    assert link.raw.sent == bytearray()  # nothing answered yet
    link.protocol.data_received(hello[3:])
    seen.append(link.protocol.progress)
    assert seen == [Progress.IDLE, Progress.HELLO, Progress.ANSWERED]
    assert link.raw.sent  # the ServerHello flight


async def test_silence_is_cut_at_the_first_byte_timeout(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """Not one byte by the first-byte timeout: cut, with its own reason, long before the other."""
    link = Link(server, client, handshake_timeout=10.0, first_byte_timeout=0)
    await eventually(lambda: bool(link.refusals))
    assert link.refusals == [NOTHING_SENT]
    assert link.raw.calls[-1] == "abort"


async def test_the_first_byte_leaves_the_handshake_timeout(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A ClientHello that comes before the first-byte deadline fires is given the whole timeout."""
    link = Link(server, client, handshake_timeout=10.0, first_byte_timeout=0)  # due at once
    link.client_handshake()
    link.to_server()  # in the same loop turn: the race, decided by us
    for _ in range(3):
        await asyncio.sleep(0)
    assert link.refusals == []
    link.handshake()
    assert link.refusals == []


async def test_a_shed_handshake_reports_at_once_and_once(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """shed() aborts and reports before it returns (the slot is free); the close adds nothing."""
    link = Link(server, client)
    link.client_handshake()
    link.protocol.data_received(link.client_out.read()[:3])
    link.protocol.shed()
    assert link.refusals == [shed_reason(Progress.HELLO)]
    assert link.raw.calls[-1] == "abort"
    link.protocol.connection_lost(None)
    link.protocol.shed()
    assert link.refusals == [shed_reason(Progress.HELLO)]


# -- application data -----------------------------------------------------------------------


@pytest.mark.parametrize("piece", [None, 1000], ids=["at_once", "in_pieces"])
async def test_big_records_from_the_client(
    server: ssl.SSLContext, client: ssl.SSLContext, piece: int | None
) -> None:
    """Over 16 KiB from the client arrives whole and in order, however the bytes are split."""
    link = Link(server, client)
    app = link.handshake()
    data = bytes(range(256)) * (BIG // 256) + b"end"
    link.client_send(data, piece=piece)
    assert app.received == data
    assert max(len(chunk) for chunk in app.chunks) <= tlsconn.READ_SIZE


async def test_big_records_to_the_client(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """Over 16 KiB written by the app (write and writelines) reaches the client whole."""
    link = Link(server, client)
    app = link.handshake()
    data = bytes(range(256)) * (BIG // 256)
    app.transport.write(data)
    app.transport.writelines([b"one ", bytearray(b"two "), memoryview(data)])
    assert link.client_read() == data + b"one two " + data


async def test_a_large_write_passes_through_openssl_in_pieces(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """A 1 MiB write reaches the raw transport as writes of at most WRITE_SIZE and its
    records' overhead: the outgoing memory BIO, which never gives back what it grew to,
    never holds it whole."""
    link = Link(server, client)
    app = link.handshake()
    sizes: list[int] = []
    write = link.raw.write

    def measured(data: bytes | bytearray | memoryview) -> None:
        sizes.append(len(data))
        write(data)

    link.raw.write = measured  # type: ignore[method-assign]
    data = bytes(range(256)) * 4096
    app.transport.write(data)
    assert len(sizes) >= len(data) // tlsconn.WRITE_SIZE
    assert max(sizes) <= tlsconn.WRITE_SIZE + 1024
    assert link.client_read() == data


async def test_pause_reading_during_a_read(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """An app that pauses in data_received gets nothing more until it resumes, then all of it."""
    link = Link(server, client)
    app = link.handshake()
    app.on_data = lambda _: app.transport.pause_reading() if len(app.chunks) == 1 else None
    data = b"x" * BIG
    link.client_send(data)  # one data_received carrying several records
    assert len(app.chunks) == 1
    assert not app.transport.is_reading()
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(app.chunks) == 1  # nothing delivered while paused
    app.transport.resume_reading()
    await eventually(lambda: len(app.received) == len(data))  # no new bytes from the peer needed
    assert app.received == data
    assert app.transport.is_reading()


async def test_pause_reading_holds_back_the_peers_close(
    server: ssl.SSLContext, client: ssl.SSLContext
) -> None:
    """Data and close_notify behind a pause come after resume, the data first."""
    link = Link(server, client)
    app = link.handshake()
    app.on_data = lambda _: app.transport.pause_reading() if len(app.chunks) == 1 else None
    link.client.write(b"a" * BIG)
    with pytest.raises(ssl.SSLWantReadError):
        link.client.unwrap()
    link.to_server()
    assert app.eofs == 0
    app.transport.resume_reading()
    await eventually(lambda: app.eofs == 1)
    assert app.received == b"a" * BIG


# -- closing --------------------------------------------------------------------------------


async def test_server_closes_first(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """The app's close sends close_notify after what it wrote; the client's answer is ignored."""
    link = Link(server, client)
    app = link.handshake()
    app.transport.write(b"bye\n")
    app.transport.close()
    assert app.transport.is_closing()
    assert link.raw.after("write") == ["close"]
    assert link.client_read() == b"bye\n"
    assert _received_shutdown(link.client)
    link.client.unwrap()  # the client answers with its own close_notify
    link.to_server()
    assert link.raw.after("close") == []
    link.protocol.connection_lost(None)
    assert app.lost == [None]
    assert app.eofs == 0


@pytest.mark.parametrize("keep_open", [True, False], ids=["app_answers", "app_done"])
async def test_client_closes_first(
    server: ssl.SSLContext, client: ssl.SSLContext, keep_open: bool
) -> None:
    """The client's close_notify is the app's EOF; ours follows the app's answers."""
    link = Link(server, client, keep_open_on_eof=keep_open)
    app = link.handshake()
    link.client.write(b"last words\n")
    with pytest.raises(ssl.SSLWantReadError):
        link.client.unwrap()
    link.to_server()
    assert app.received == b"last words\n"
    assert app.eofs == 1
    if keep_open:
        assert not app.transport.is_closing()
        app.transport.write(b"answer\n")
        app.transport.close()
    assert link.raw.calls[-1] == "close"
    assert link.client_read() == (b"answer\n" if keep_open else b"")
    link.client.unwrap()  # the server's close_notify completes the client's shutdown


async def test_half_close_from_the_peer(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """A FIN without close_notify: the app hears EOF once and can still answer before closing."""
    link = Link(server, client, keep_open_on_eof=True)
    app = link.handshake()
    link.client_send(b"request\n")
    assert link.protocol.eof_received() is True  # our side stays open
    assert app.eofs == 1
    app.transport.write(b"reply\n")
    assert link.client_read() == b"reply\n"
    app.transport.close()
    link.to_client()
    assert _received_shutdown(link.client)  # still a clean TLS close on our side
    assert link.protocol.eof_received() is False
    assert app.eofs == 1


async def test_write_after_close_is_dropped(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """After close, and after the connection is lost, writes raise nothing and write nothing."""
    link = Link(server, client)
    app = link.handshake()
    app.transport.close()
    app.transport.write(b"too late\n")
    app.transport.writelines([b"much ", b"too late\n"])
    assert link.raw.after("close") == []
    link.protocol.connection_lost(None)
    app.transport.write(b"far too late\n")
    app.transport.close()
    assert link.raw.after("close") == []
    assert app.lost == [None]


async def test_an_ssl_error_on_write_aborts(
    server: ssl.SSLContext, client: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SSLError from OpenSSL on write does not reach the writer: the connection is aborted."""
    link = Link(server, client)
    app = link.handshake()
    error = ssl.SSLError(1, "[SSL] internal error")

    def fail(_: bytes) -> int:
        raise error

    monkeypatch.setattr(app.transport.get_extra_info("ssl_object"), "write", fail)
    app.transport.write(b"lost\n")  # must not raise, as asyncio's transports never do
    assert link.raw.calls[-1] == "abort"
    assert app.transport.is_closing()
    link.protocol.connection_lost(None)
    assert app.lost == [error]  # the app learns why


async def test_connection_lost_while_closing(
    server: ssl.SSLContext, client: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lost while flushing its close: the app hears it once, and the grace abort is called off."""
    monkeypatch.setattr(tlsconn, "_CLOSE_GRACE", 0.01)
    link = Link(server, client)
    app = link.handshake()
    app.transport.close()
    error = ConnectionResetError("reset while closing")
    link.protocol.connection_lost(error)
    assert app.lost == [error]
    await asyncio.sleep(0.05)  # past the grace period
    assert link.raw.after("close") == []  # no abort on a transport that is gone
    assert app.lost == [error]


async def test_a_reader_that_never_takes_the_close_is_cut(
    server: ssl.SSLContext, client: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the grace period: a close that never completes is aborted after it."""
    monkeypatch.setattr(tlsconn, "_CLOSE_GRACE", 0.01)
    link = Link(server, client)
    app = link.handshake()
    app.transport.close()
    await eventually(lambda: "abort" in link.raw.calls)
    assert link.raw.after("close") == ["abort"]

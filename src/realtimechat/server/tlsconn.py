"""Server-side TLS on a plain TCP transport, done here with ``ssl.MemoryBIO``.

Why not asyncio's own TLS layer (``ssl=`` on the listener, or
``loop.start_tls``)? Measured on this stack (in the development environment's
shared notes, ../shared/pitfalls.md, outside this repository):

* with ``ssl=``, a refused handshake never reaches the application, so it
  cannot be logged with its reason and address;
* ``start_tls`` fixes that on the default loop but never completes on
  uvloop, the faster loop;
* both give every connection a 256 KiB read buffer, zero-filled up front
  (about 300 KiB per idle connection on CPython's loop).

Here the handshake is ours: every refusal is an exception we log, with the
alert OpenSSL wrote for the peer flushed before the connection closes (so a
refused client hears why, rather than a reset); the context is chosen per
connection (SIGHUP takes effect for the next one); nothing is allocated per
connection beyond OpenSSL's own state; and it runs on asyncio and uvloop
alike, because it only needs a plain transport.

``TLSServerProtocol`` is the ``asyncio.Protocol`` of the TCP connection.
Once the handshake is done it hands the application protocol (a
``Session``) a ``TLSTransport``: an ``asyncio.Transport`` that encrypts
what it is given and passes flow control through.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ssl
from collections.abc import Callable
from typing import Any, Final, cast

from ..tls import describe_handshake_error

READ_SIZE: Final = 16 * 1024  # plaintext taken from OpenSSL per call; no buffer is kept
# Plaintext given to OpenSSL per call before its records are moved on: an
# outgoing memory BIO grows to the largest write it ever held and never
# shrinks, so one large write must not pass through it whole.
WRITE_SIZE: Final = 64 * 1024
_CLOSE_GRACE: Final = 5.0  # seconds a closing connection may take to flush before it is cut


class TLSTransport(asyncio.Transport):
    """What the application sees: a transport that speaks TLS underneath."""

    def __init__(self, protocol: TLSServerProtocol) -> None:
        super().__init__()
        self._protocol = protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._protocol.write_plaintext(data)

    def writelines(self, list_of_data: Any) -> None:
        self._protocol.write_plaintext(b"".join(list_of_data))

    def close(self) -> None:
        self._protocol.close()

    def abort(self) -> None:
        self._protocol.abort()

    def is_closing(self) -> bool:
        return self._protocol.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._protocol.extra_info(name, default)

    def pause_reading(self) -> None:
        self._protocol.pause_reading()

    def resume_reading(self) -> None:
        self._protocol.resume_reading()

    def is_reading(self) -> bool:
        return self._protocol.raw.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._protocol.raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._protocol.raw.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return False


class Progress(enum.IntEnum):
    """How far a handshake has come: the server sheds the least advanced first."""

    IDLE = 0  # connected, not one byte yet: costs the peer nothing to hold
    HELLO = 1  # bytes came, but not yet a whole ClientHello (nothing answered)
    ANSWERED = 2  # we sent our flight (ServerHello ...) and wait for the client's


TIMED_OUT: Final = "handshake timed out"
NOTHING_SENT: Final = "no ClientHello within the first-byte timeout"
_PROGRESS_WORDS: Final = {
    Progress.IDLE: "nothing sent yet",
    Progress.HELLO: "ClientHello unfinished",
    Progress.ANSWERED: "waiting for the client's answer",
}


def shed_reason(progress: Progress) -> str:
    """The reason logged for a handshake shed at ``progress`` to make room for a newcomer."""
    return f"shed to make room: every handshake slot taken ({_PROGRESS_WORDS[progress]})"


class TLSServerProtocol(asyncio.Protocol):
    """One TCP connection: the TLS handshake, then encrypted application data.

    ``on_ready(transport)`` is called once the handshake has succeeded and
    must return the application protocol; ``on_refused(reason)`` is called
    once if it fails (reason as ``describe_handshake_error`` words it, or
    "handshake timed out", or NOTHING_SENT when not one byte came within
    ``first_byte_timeout``, or ``shed_reason``). ``progressed()`` is called
    each time ``progress`` moves on.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        on_ready: Callable[[TLSTransport], asyncio.Protocol],
        on_refused: Callable[[str], None],
        handshake_timeout: float,
        first_byte_timeout: float | None = None,
    ) -> None:
        self._context = context
        self._on_ready = on_ready
        self._on_refused = on_refused
        self._handshake_timeout = handshake_timeout
        self._first_byte_timeout = (
            handshake_timeout
            if first_byte_timeout is None
            else min(first_byte_timeout, handshake_timeout)
        )
        self._started = 0.0  # loop time of connection_made: the handshake deadline counts from it
        self.progress = Progress.IDLE
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._sslobj: ssl.SSLObject | None = None
        self._raw: asyncio.Transport | None = None
        self._app: asyncio.Protocol | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._grace: asyncio.TimerHandle | None = None  # aborts a close that does not finish
        self.closing = False
        self.handshaking = True
        self._peer_done = False  # the peer has finished sending (close_notify or FIN)
        self._paused = False  # the app paused reading: no plaintext is delivered
        self._error: Exception | None = None  # why we aborted, for the app's connection_lost

    @property
    def raw(self) -> asyncio.Transport:
        assert self._raw is not None, "not connected"
        return self._raw

    # ------------------------------------------------------------------
    # The TCP side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._raw = transport
        self._sslobj = self._context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._timer = loop.call_later(self._first_byte_timeout, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        if self._peer_done or self.closing:
            # After its close_notify the peer has nothing more to say; after
            # ours (or a refusal, or the timeout) we listen no more. Not buffered.
            return
        if self.progress is Progress.IDLE and self.handshaking:
            self._first_bytes()
        self._incoming.write(data)
        if self.handshaking and not self._handshake():
            return
        self._read_plaintext()

    def eof_received(self) -> bool:
        if self.handshaking:
            self._incoming.write_eof()
            self._refuse("peer closed the connection during the handshake")
            return False
        # TCP's FIN: the peer sends no more. Everything it sent has been read
        # (data_received), a close_notify included. The EOF is not fed to
        # OpenSSL: an EOF without close_notify is a fatal error there, and
        # it would refuse to encrypt the answers still owed to the peer.
        self._peer_finished()
        return not self.closing  # keep our side open while the app still answers

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._grace is not None:
            self._grace.cancel()  # nothing left to abort; do not hold the connection 5 s more
            self._grace = None
        self.closing = True
        try:
            if self.handshaking:
                self.handshaking = False
                self._on_refused(
                    describe_handshake_error(exc)
                    if exc
                    else "peer closed the connection during the handshake"
                )
            elif self._app is not None:
                self._app.connection_lost(exc or self._error)
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """Drop every reference that leads back here: the app (whose transport refers to
        us), the callbacks (a subclass's own methods), the error (its traceback holds our
        frames), the TLS state. The connection is then freed when its last reference goes,
        with its memory BIOs, rather than at the next full garbage collection."""
        self._app = None
        self._on_ready = _no_app
        self._on_refused = _not_told
        self._error = None
        self._sslobj = None

    def pause_writing(self) -> None:
        if self._app is not None:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        if self._app is not None:
            self._app.resume_writing()

    # ------------------------------------------------------------------
    # Handshake

    def _first_bytes(self) -> None:
        """The ClientHello has begun: the rest of --handshake-timeout (from connect) applies."""
        self._cancel_timer()
        deadline = self._started + self._handshake_timeout
        self._timer = asyncio.get_running_loop().call_at(deadline, self._handshake_timed_out)
        self._advance(Progress.HELLO)

    def _advance(self, progress: Progress) -> None:
        if progress > self.progress:
            self.progress = progress
            self.progressed()

    def progressed(self) -> None:
        """``progress`` moved on (a subclass keeps its books); nothing here."""

    def _handshake(self) -> bool:
        """Advance the handshake; True once it is done (and the app started)."""
        assert self._sslobj is not None
        try:
            self._sslobj.do_handshake()
        except ssl.SSLWantReadError:
            if self._outgoing.pending:  # OpenSSL answered: the ClientHello was whole
                self._advance(Progress.ANSWERED)
            self._flush()
            return False
        except ssl.SSLError as exc:
            self._refuse(describe_handshake_error(exc, self._context))
            return False
        self.handshaking = False
        self._cancel_timer()
        self._flush()  # the last flight, and TLS 1.3 session tickets
        self._app = self._on_ready(TLSTransport(self))
        return True

    def _refuse(self, reason: str) -> None:
        """The handshake failed: tell the peer (alert), close, report once."""
        if not self.handshaking:
            return
        self.handshaking = False
        self._cancel_timer()
        self._flush()  # the alert OpenSSL wrote, so the peer learns why
        self._close_raw()
        self._on_refused(reason)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        self.cut(NOTHING_SENT if self.progress is Progress.IDLE else TIMED_OUT)

    def shed(self) -> None:
        """Give up this handshake now, so that a newcomer can have its slot."""
        self.cut(shed_reason(self.progress))

    def cut(self, reason: str) -> None:
        """End a handshake in progress at once (no alert: the peer is stalling), reporting now.

        ``on_refused`` runs before this returns, so whoever counts handshake
        slots has the slot back at once (the transport's own
        ``connection_lost`` comes later and reports nothing more).
        """
        if self.handshaking:
            self.handshaking = False
            self._cancel_timer()
            # closing: bytes that were already on their way must not finish
            # the handshake inside a read, with no app to give them to.
            self.abort()
            self._on_refused(reason)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------------
    # Application data

    def _read_plaintext(self) -> None:
        sslobj = self._sslobj
        if sslobj is None:  # gone since this read was scheduled (resume_reading)
            return
        # One raw read can hold many records: stop as soon as the app pauses
        # (resume_reading delivers the rest, which OpenSSL keeps meanwhile).
        while not self.closing and not self._peer_done and not self._paused:
            try:
                chunk = sslobj.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                # close_notify: the peer has finished sending, not necessarily reading.
                self._peer_finished()
                break
            except ssl.SSLError as exc:
                self._fail(exc)  # a corrupt record: nothing more can be read
                break
            if not chunk:
                self._peer_finished()
                break
            assert self._app is not None
            self._app.data_received(chunk)
        self._flush()  # reading may have produced records to send (key updates)

    def _peer_finished(self) -> None:
        """The peer sends no more: the app may still answer what it sent, then close."""
        if self._peer_done:
            return
        self._peer_done = True
        keep_open = self._app is not None and bool(self._app.eof_received())
        if not keep_open:
            self.close()

    def pause_reading(self) -> None:
        self._paused = True
        self.raw.pause_reading()

    def resume_reading(self) -> None:
        self._paused = False
        self.raw.resume_reading()
        if not self.handshaking and not self.closing:
            # What arrived before the pause may be waiting in OpenSSL, and the
            # peer may send nothing more to wake us: deliver it, but not from
            # inside the app's own call.
            asyncio.get_running_loop().call_soon(self._read_plaintext)

    def write_plaintext(self, data: bytes | bytearray | memoryview) -> None:
        sslobj = self._sslobj
        if self.closing or sslobj is None or not data:
            return
        view = memoryview(data)
        try:
            while view:
                # At most WRITE_SIZE at a time through the memory BIO (see there).
                written = sslobj.write(view[:WRITE_SIZE])
                view = view[written:]
                if view:
                    self._flush()
        except ssl.SSLError as exc:
            # Like asyncio's transports: a broken connection is reported by
            # connection_lost, never raised at the writer.
            self._fail(exc)
            return
        self._flush()

    def _flush(self) -> None:
        if self._outgoing.pending and self._raw is not None and not self._raw.is_closing():
            self._raw.write(self._outgoing.read())

    # ------------------------------------------------------------------
    # Ending

    def close(self) -> None:
        """Send close_notify and what is still buffered, then close."""
        if self.closing:
            return
        if self._sslobj is not None and not self.handshaking:
            # Sends our close_notify; the peer's is not awaited: we are done either way.
            with contextlib.suppress(ssl.SSLError):
                self._sslobj.unwrap()
        self._flush()
        self._close_raw()

    def abort(self) -> None:
        self.closing = True
        if self._raw is not None:
            self._raw.abort()

    def _fail(self, exc: Exception) -> None:
        """TLS is broken (OpenSSL raised): cut the connection, and tell the app why when it goes."""
        self._error = exc
        self.abort()

    def _close_raw(self) -> None:
        self.closing = True
        raw = self._raw
        if raw is not None and not raw.is_closing():
            raw.close()
            # close() waits for the peer to take what is buffered; one that
            # never reads must not keep the connection forever.
            self._grace = asyncio.get_running_loop().call_later(_CLOSE_GRACE, raw.abort)

    def extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._sslobj
        if name == "sslcontext":
            return self._context
        if name == "peercert" and self._sslobj is not None:
            return self._sslobj.getpeercert()
        return self.raw.get_extra_info(name, default)


def _no_app(transport: TLSTransport) -> asyncio.Protocol:
    """``on_ready`` once the connection is gone: it can never be called then."""
    raise AssertionError("a closed connection finished its handshake")


def _not_told(reason: str) -> None:
    """``on_refused`` once the connection is gone: it was reported already."""

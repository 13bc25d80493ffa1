"""One benchmark connection: an ``asyncio.BufferedProtocol`` over mutual TLS that counts cheaply.

Until the replay after ``welcome`` has ended (``history_end``), every line
is decoded with the project's protocol code. From then on a block of
complete lines that holds only ``msg`` frames is counted by scanning its
raw bytes for this run's markers (``wire.Marker``), and anything else
(``ping``, ``error``, ``gap``, ``bye``, presence) is decoded line by line.
So counting stays exact: every ``msg`` line is scanned, whichever path it
takes, and a marker cannot hide inside another frame (JSON escapes quotes,
so ``{"type":"msg",`` only ever starts a line).

Reads land in one buffer shared by every connection of the process: a plain
``Protocol`` under uvloop's TLS gets a fresh 256 KiB ``bytes`` per read, which
glibc serves with mmap, mremap and munmap unless its mmap threshold was
raised earlier (which only a read without application data, such as a
session ticket's, does). That doubled the tool's CPU at 25,000 deliveries/s
against our server when it sent no ticket, and the tool's latency with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from array import array
from collections import Counter
from time import monotonic_ns
from typing import Final, cast

from ..client.connection import Endpoint
from ..client.connection import connect_error as client_connect_error
from ..errors import (
    CannotConnect,
    CertificateRejected,
    ClientError,
    ConnectionLost,
    ProtocolError,
    ServerNameMismatch,
    ServerNotTrusted,
    SessionRefused,
)
from ..protocol import (
    SERVER_FRAME_TYPES,
    Bye,
    ByeReason,
    Error,
    ErrorCode,
    Frame,
    Gap,
    HistoryEnd,
    Ping,
    Pong,
    decode_line,
    encode,
)
from ..sanitize import visible
from ..sansio.client import (
    ClientProtocol,
    Ending,
    FrameReceived,
    Refused,
    Unreadable,
    Welcomed,
    error_for,
)
from .errors import ConnectTimedOut
from .messages import ErrorKey
from .wire import MSG_PREFIX, Marker

#: Longest incomplete line kept while waiting for its newline (the client limit of protocol v1).
MAX_LINE: Final = 4 * 64 * 1024
#: Latency samples kept per worker process (8 bytes each).
MAX_SAMPLES: Final = 8_000_000
NEVER: Final = 2**63 - 1
#: Where every connection of this process reads into; ``buffer_updated`` copies
#: the bytes out before the loop reads anything else (one thread, one loop).
_READ_BUFFER: Final = memoryview(bytearray(256 * 1024))
#: What to do about a refusal whose cause is one of the server's limits (bye reasons).
REFUSAL_HINTS: Final[dict[str, str]] = {
    ByeReason.TOO_MANY_CONNECTIONS: "the server allows a limited number of connections from one "
    "address (rtchat-server --max-per-address, default 64): raise it on the server, or use "
    "fewer --clients",
    ByeReason.TOO_MANY_SESSIONS: "the server allows a limited number of connections with one "
    "certificate (rtchat-server --max-per-identity, default 8): raise it on the server, or "
    "give the clients more certificates (--ca-dir)",
    ByeReason.SERVER_FULL: "the server allows a limited number of connections in all "
    "(rtchat-server --max-connections, default 20,000) and holds that many: raise it on the "
    "server, or use fewer --clients",
}
#: The ``t`` of the ``ping`` a sender writes after its last message: the server
#: handles one connection's frames in order and answers a ``rate_limited``
#: refusal at once, so by the ``pong`` every refusal of that sender has arrived.
SETTLE_MARK: Final = "rtchat-bench-settle"
FLOODING: Final = (
    "the server ended the connection after too many rate_limited refusals in a row "
    "(what it sent after that is counted as expected but never arrives)"
)
_LIMITS: Final = (
    "the server's --rate/--burst limits apply to each connection (defaults 20/s, burst 60), "
    "--identity-rate/--identity-burst to all connections of one certificate together "
    "(40/s, burst 120), and --identity-text-rate to the text they send (16384 bytes/s)"
)
_RAISE: Final = (
    "raise them on the server (rtchat-server --rate 0 --identity-rate 0 "
    "--identity-text-rate 0 turns them off)"
)
#: What to do about ``rate_limited``, by what is being sent (``Tally.rate_advice``).
RATE_ADVICE: Final[dict[str, str]] = {
    "rate": f"{_LIMITS}: {_RAISE}, or lower this tool's --rate; --spawn lifts them",
    "fanout": f"{_LIMITS}, and fanout publishers send as fast as they can: {_RAISE}; "
    "--spawn lifts them",
    "broadcast": f"{_LIMITS}: {_RAISE}; --spawn lifts them",
}


class Tally:
    """What all the clients of one worker process received, and what went wrong."""

    def __init__(self) -> None:
        self.w0 = NEVER  # the measurement window [w0, w1), monotonic ns
        self.w1 = NEVER
        self.delivered = 0
        self.delivered_in_window = 0
        self.latencies = array("q")  # ns, deliveries inside the window
        self.capped = False
        self.errors: Counter[ErrorKey] = Counter()
        self.gap_missed = 0
        self.refused = 0  # our messages the server refused (rate_limited): never delivered
        self.refused_in_window = 0  # of those, refusals that arrived inside the window
        self.rate_advice = RATE_ADVICE["broadcast"]  # the worker sets its scenario's
        self.stalls = 0
        self.lost = 0
        self.expected = NEVER  # per client, once the senders have stopped
        self.pending = 0  # live clients still short of ``expected``
        self.all_in = asyncio.Event()

    def record(self, found: list[tuple[bytes, bytes]], now: int) -> None:
        """Count deliveries received at ``now`` and, inside the window, their latencies."""
        count = len(found)
        self.delivered += count
        if self.w0 <= now < self.w1:
            self.delivered_in_window += count
            if len(self.latencies) + count <= MAX_SAMPLES:
                self.latencies.extend([now - int(stamp) for _, stamp in found])
            else:
                self.capped = True

    def refusal(self, now: int) -> None:
        """Count one of our messages refused by the server (it arrived at ``now``)."""
        self.refused += 1
        # By arrival, not by send time: the refusal names no message (the tool
        # sends no ``ref``), so the window's count can be off by the few
        # refusals in flight at its edges. The totals are exact.
        if self.w0 <= now < self.w1:
            self.refused_in_window += 1

    def error(self, code: str, text: str) -> None:
        """Count one error of the kind ``code`` (machines) and ``text`` (people)."""
        self.errors[(code, text)] += 1

    def finished_one(self) -> None:
        """A live client has everything it should get (or is gone)."""
        self.pending -= 1
        if self.pending <= 0:
            self.all_in.set()


class BenchClient(asyncio.BufferedProtocol):
    """One mutual-TLS connection: says hello, counts marked messages, sends on demand.

    Until ``welcome`` the client machine (``sansio.client``) has the rules,
    as in rtchat: hello, refusals, pings. After it, this class reads on its
    own, the cheap way (module docstring).
    """

    def __init__(
        self, index: int, name: str | None, tally: Tally, marker: Marker, *, server: str
    ) -> None:
        self.index = index
        self.sender = b"%d" % index
        self.name = name
        self.tally = tally
        self.marker = marker
        self.transport: asyncio.Transport | None = None
        self.t_start = monotonic_ns()
        self.t_tls = 0
        self.t_ready = 0
        self.machine = ClientProtocol(server, self.t_start / 1e9)
        self.live = False  # the replay after welcome is over: count from here on
        self.closed = False
        self.closing = False  # we close it on purpose: not an error
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tail = b""
        self.received = 0
        self.done = False  # received everything expected (see Tally.expected)
        self.sent = 0
        self.sent_in_window = 0
        self.publisher = False
        self.in_flight = 0
        self.wake_at = 0
        self.refused_at = 0  # when the server last refused one of our messages (monotonic ns)
        self.room = asyncio.Event()  # set when the in-flight window has room again
        self.writable = asyncio.Event()  # cleared while the transport's buffer is full
        self.writable.set()
        self.settled = asyncio.Event()  # the server has answered every message we sent

    # -- asyncio.BufferedProtocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """TLS is up: remember when, and say hello."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.t_tls = monotonic_ns()
        self.transport.write(self.machine.hello(self.name))

    def get_buffer(self, sizehint: int) -> memoryview:
        """The process's shared read buffer (see ``_READ_BUFFER``)."""
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` arrived in the shared buffer: take them before the next read."""
        self.data_received(bytes(_READ_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Split off complete lines; count them the cheap way when they are all ``msg``."""
        buffer = self._tail + data if self._tail else data
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            self._tail = buffer
            if len(buffer) > MAX_LINE:
                self._broken(
                    ErrorCode.FRAME_TOO_LONG, f"the server sent a line longer than {MAX_LINE} bytes"
                )
            return
        self._tail = buffer[cut:]
        block = buffer[:cut] if self._tail else buffer
        now = monotonic_ns()
        if self.live and block.count(b"\n") == block.count(MSG_PREFIX):
            self._count(block, now)
            return
        for line in block.split(b"\n"):
            if not line:
                continue
            if self.live and line.startswith(MSG_PREFIX):
                self._count(line, now)
            else:
                self._frame_line(line, now)

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone: fail a pending connect, and count it when it was not our doing."""
        self.closed = True
        if not self.ready.done() and self.closing:
            self.ready.cancel()  # open_client gave up on it: nobody waits any more
        elif not self.ready.done():
            error: ClientError = (
                ConnectionLost(f"the connection closed before the replay ended: {exc or 'EOF'}")
                if self.welcomed
                else CertificateRejected(
                    "the server closed the connection before welcome: "
                    "it did not accept our certificate"
                )
            )
            self.ready.set_exception(error)
        elif not self.closing:
            self.tally.lost += 1
            self.tally.error("connection_lost", f"connection lost: {exc or 'closed by the server'}")
        if self.live and not self.done and self.tally.expected != NEVER:
            self.done = True  # draining: it will get nothing more
            self.tally.finished_one()
        self.room.set()
        self.writable.set()
        self.settled.set()  # nothing more will come: stop waiting for it

    def pause_writing(self) -> None:
        """The transport's buffer is full: senders wait."""
        self.writable.clear()

    def resume_writing(self) -> None:
        """The transport's buffer drained."""
        self.writable.set()

    # -- receiving -------------------------------------------------------------------

    @property
    def welcomed(self) -> bool:
        return self.machine.welcomed

    def _count(self, data: bytes, now: int) -> None:
        """Count this run's markers in ``data`` (complete ``msg`` lines)."""
        found = self.marker.find(data)
        if not found:
            return
        self.received += len(found)
        self.tally.record(found, now)
        if self.publisher:
            own = sum(1 for sender, _ in found if sender == self.sender)
            if own:
                self._free(own)
        if not self.done and self.received >= self.tally.expected:
            self.done = True
            self.tally.finished_one()

    def _frame_line(self, line: bytes, now: int) -> None:
        """Decode one line that is not a live ``msg`` and act on it."""
        if not self.welcomed:
            self._before_welcome(line, now)
            return
        try:
            frame = decode_line(line.removesuffix(b"\r"), SERVER_FRAME_TYPES)
        except ProtocolError as exc:
            self._unreadable(exc)
            return
        self._frame(frame, now)

    def _before_welcome(self, line: bytes, now: int) -> None:
        """One line before ``welcome``, through the client machine (its pongs written)."""
        machine = self.machine
        machine.receive_data(line + b"\n", now / 1e9)
        while (event := machine.next_event()) is not None:
            match event:
                case Welcomed():
                    self.t_ready = now
                case FrameReceived():  # after welcome: the tool's, as for the next lines
                    self._frame(event.frame, now)
                case Unreadable(error=error):
                    self._unreadable(error)
                case _:
                    self._ended(event)
        for data in machine.data_to_send():
            self.write(data)

    def _ended(self, ending: Ending) -> None:
        """The server refused us before ``welcome``: rtchat's error, the tool's words for a bye."""
        if not isinstance(ending, Refused) or not ending.bye:
            self._fail(error_for(ending))
            return
        reason = visible(ending.reason)
        hint = REFUSAL_HINTS.get(reason)
        message = f"the server said bye before welcome: {reason}"
        self._fail(SessionRefused(reason, f"{message}; {hint}" if hint else message))

    def _unreadable(self, error: ProtocolError) -> None:
        self.tally.error(error.code, f"unreadable frame from the server ({error.code})")

    def _frame(self, frame: Frame, now: int) -> None:
        """A frame after ``welcome`` (its replay or live) that is not a counted ``msg``."""
        if isinstance(frame, HistoryEnd):
            if not self.live:
                self.live = True
                if not self.ready.done():
                    self.ready.set_result(None)
        elif isinstance(frame, Ping):
            self.write(encode(Pong(t=frame.t)))
        elif isinstance(frame, Pong):
            if frame.t == SETTLE_MARK:
                self.settled.set()
        elif isinstance(frame, Error):
            self._error(frame, now)
        elif isinstance(frame, Bye):
            self._bye(frame)
        elif isinstance(frame, Gap):
            self.tally.gap_missed += frame.missed
            self.tally.error("gap", "gap: the server dropped messages for a slow reader")

    def _error(self, frame: Error, now: int) -> None:
        if frame.code == ErrorCode.RATE_LIMITED:
            self._rate_limited(frame, now)
        else:
            self.tally.error(frame.code, f"error {frame.code}: {visible(frame.message)}")

    def _bye(self, frame: Bye) -> None:
        reason = visible(frame.reason or "no reason given")
        if reason == ByeReason.FLOODING:
            self.tally.error(reason, f"bye {reason}: {FLOODING}; {self.tally.rate_advice}")
        else:
            self.tally.error(reason, f"bye {reason}")

    def _rate_limited(self, frame: Error, now: int) -> None:
        """One of our messages was refused: it will reach nobody, and no longer fills the window.

        The tool sends only ``msg`` frames (each costs a token), so every
        ``rate_limited`` is exactly one refused message of this connection.
        """
        self.tally.refusal(now)
        self.refused_at = now
        self.tally.error(
            frame.code, f"error {frame.code}: {visible(frame.message)}; {self.tally.rate_advice}"
        )
        if self.publisher:
            self._free(1)

    def _free(self, count: int) -> None:
        """``count`` of our messages are out of flight (echoed or refused): wake the publisher."""
        self.in_flight = max(0, self.in_flight - count)
        if self.in_flight <= self.wake_at:
            self.room.set()

    def _fail(self, error: ClientError) -> None:
        if not self.ready.done():
            self.ready.set_exception(error)

    def _broken(self, code: str, message: str) -> None:
        self.tally.error(code, message)
        if self.transport is not None:
            self.transport.abort()

    # -- sending ---------------------------------------------------------------------

    @property
    def gone(self) -> bool:
        """Closed, or closing (the server said bye): nothing more can be sent."""
        return self.transport is None or self.closed or self.transport.is_closing()

    def write(self, data: bytes) -> bool:
        """Write unless the connection is gone or going (a TLS transport would complain)."""
        if self.transport is None or self.gone:
            return False
        self.transport.write(data)
        return True

    def send_marked(self, timestamp: int) -> None:
        """Send one message stamped ``timestamp`` (one write: one TLS record).

        A message that could not be written (the server is closing the
        connection) is not counted as sent: nobody could expect it.
        """
        if not self.write(self.marker.line(self.sender, timestamp)):
            return
        self.sent += 1
        self.in_flight += 1
        if self.tally.w0 <= timestamp < self.tally.w1:
            self.sent_in_window += 1

    def settle(self) -> None:
        """Ask for the ``pong`` that follows the server's answers to all we sent (``settled``)."""
        self.settled.clear()
        if self.closed:
            self.settled.set()
        else:
            self.write(encode(Ping(t=SETTLE_MARK)))

    def close(self) -> None:
        """Say bye and close (flushing what is buffered)."""
        self.closing = True
        if self.transport is not None and not self.closed:
            self.transport.write(encode(Bye()))
            self.transport.close()


async def open_client(
    client: BenchClient, context: ssl.SSLContext, endpoint: Endpoint, timeout: float
) -> BenchClient:
    """Connect ``client``, wait for its welcome and replay; raise a ClientError on failure."""
    loop = asyncio.get_running_loop()
    client.t_start = monotonic_ns()
    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(
                lambda: client,
                endpoint.host,
                endpoint.port,
                ssl=context,
                server_hostname=endpoint.cn,
                ssl_handshake_timeout=timeout,
            )
            await client.ready
    except BaseException as exc:
        if client.transport is not None:
            client.closing = True
            client.transport.abort()
        if client.ready.done() and not client.ready.cancelled():
            client.ready.exception()  # retrieved: no "never retrieved" warning
        else:
            client.ready.cancel()
        if isinstance(exc, ClientError):
            raise
        if isinstance(exc, Exception):
            raise connect_error(exc, endpoint, timeout) from None
        raise
    return client


def connect_error(exc: Exception, endpoint: Endpoint, timeout: float) -> ClientError:
    """What a failed connect means for the user: rtchat's words (``client.connection``).

    But for a timeout: here it covers the welcome and the replay too.
    """
    if isinstance(exc, TimeoutError):
        return ConnectTimedOut(f"cannot connect to {endpoint}: no welcome within {timeout:g} s")
    if isinstance(exc, OSError):  # ssl.SSLError included
        return client_connect_error(exc, endpoint)
    return CannotConnect(f"cannot connect to {endpoint}: {exc!r}")


#: The machine code of each connect failure, by the class of the error ``connect_error`` or
#: the client machine made of it (see ``failure_code``).
_FAILURE_CODES: Final[dict[type[ClientError], str]] = {
    ConnectTimedOut: "connect_timeout",
    CannotConnect: "cannot_connect",
    ServerNotTrusted: "server_not_trusted",
    ServerNameMismatch: "server_name_mismatch",
    CertificateRejected: "certificate_rejected",
    ConnectionLost: "connection_lost",
}


def failure_code(exc: Exception) -> str:
    """A short code for why a connect failed: the server's own reason when it gave one."""
    if isinstance(exc, SessionRefused):
        return exc.reason
    return _FAILURE_CODES.get(type(exc), "other") if isinstance(exc, ClientError) else "other"


async def close_all(clients: list[BenchClient], timeout: float) -> None:
    """Say bye on every connection and wait (at most ``timeout`` s) until they are closed."""
    for client in clients:
        client.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            for client in clients:
                while not client.closed:
                    client.room.clear()
                    await client.room.wait()

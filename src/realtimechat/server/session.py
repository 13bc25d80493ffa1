"""One client connection, from the end of its TLS handshake to its close.

A ``Session`` is the ``asyncio.Protocol`` on top of the TLS transport. It
feeds received bytes to the sans-I/O decoder, answers frames, and writes
only through its ``Outbox``. Every way a session can end goes through
``end`` (our decision) or ``connection_lost`` (the peer's); either way the
hub forgets it, the others get ``leave`` with a reason, and one log line
names the peer's address, CN and fingerprint. Peer misbehaviour never
produces a traceback; an unexpected exception is logged once and ends this
session only.

Lifecycle::

    (TLS handshake) --start()--> AWAIT_HELLO --hello--> ACTIVE --> CLOSED
                                      \\______ hello timeout ______/
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from collections.abc import Callable
from typing import Final

from ..errors import ProtocolError
from ..protocol import (
    E_BAD_NAME,
    E_DUPLICATE_HELLO,
    E_HELLO_REQUIRED,
    E_INTERNAL,
    E_NAME_TAKEN,
    E_RATE_LIMITED,
    E_UNSUPPORTED_VERSION,
    MALFORMED,
    PROTOCOL_VERSION,
    Bye,
    Error,
    Frame,
    FrameDecoder,
    Hello,
    HistoryRequest,
    Ping,
    Pong,
    SendMsg,
    Welcome,
    Who,
    encode,
)
from .audit import log_event
from .hub import Hub, Member
from .identity import PeerIdentity
from .outbox import Outbox
from .ratelimit import TokenBucket
from .trust import EXPIRED, REVOKED, Trust

# Leave/bye reasons (docs/protocol.md, "bye reasons").
R_QUIT: Final = "quit"
R_DISCONNECTED: Final = "disconnected"
R_TIMEOUT: Final = "timeout"
R_HELLO_TIMEOUT: Final = "hello_timeout"
R_SLOW_CONSUMER: Final = "slow_consumer"
R_PROTOCOL_ERROR: Final = "protocol_error"
R_SHUTDOWN: Final = "shutdown"
R_INTERNAL: Final = "internal_error"
R_FLOODING: Final = "flooding"
R_SERVER_FULL: Final = "server_full"
R_TOO_MANY_CONNECTIONS: Final = "too_many_connections"
R_REVOKED: Final = REVOKED
R_EXPIRED: Final = EXPIRED


class State(enum.Enum):
    HANDSHAKE = "handshake"
    AWAIT_HELLO = "await_hello"
    ACTIVE = "active"
    CLOSED = "closed"


class Session(asyncio.Protocol):
    """One mutual-TLS client connection speaking protocol v1."""

    def __init__(self, hub: Hub, trust: Trust, peer: str) -> None:
        self.hub = hub
        self.peer = peer
        self._trust = trust  # as it was when this connection's handshake began
        self.state = State.HANDSHAKE
        self.identity: PeerIdentity | None = None
        self.member: Member | None = None
        self.last_received = hub.loop.time()
        self.ping_outstanding = False
        self.outbox = Outbox(
            self._write,
            hub.scheduler,
            max_frames=hub.limits.queue_frames,
            max_bytes=hub.limits.queue_bytes,
        )
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder.for_server(hub.limits.max_line_bytes)
        self._early: list[bytes] = []  # bytes that arrived before start()
        self._errors = 0
        self._bucket = TokenBucket(rate=hub.limits.rate, burst=hub.limits.burst)
        # history requests are answered one at a time (each is a store read
        # that commits queue behind); past one waiting, we stop reading.
        self.history_turn = asyncio.Lock()
        self._history_waiting = 0
        self._reading_stopped = False  # shutdown: no more requests from this peer
        self._reading_paused = False
        self._hello_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None  # runs while writing is paused
        self._abort_timer: asyncio.TimerHandle | None = None
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._finish_reason = R_DISCONNECTED  # why a draining session ends (quit or EOF)
        self.on_closed: Callable[[], None] | None = None  # the server's bookkeeping
        self.refuse_with: str | None = None  # set when a cap was hit: refuse after TLS

    def __repr__(self) -> str:
        return f"<Session {self.peer} {self.state.value}>"

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def name(self) -> str | None:
        return self.member.name if self.member is not None else None

    # ------------------------------------------------------------------
    # Start and asyncio.Protocol callbacks

    def start(self, transport: asyncio.Transport) -> None:
        """Begin the session once the TLS handshake has succeeded."""
        if self.state is not State.HANDSHAKE:
            transport.abort()  # lost or ended (shutdown) while the handshake finished
            return
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None:  # cannot happen with CERT_REQUIRED; refuse rather than guess
            log_event(
                self.hub.log,
                logging.WARNING,
                "refused",
                peer=self.peer,
                reason="no peer certificate after the handshake",
            )
            transport.abort()
            self.state = State.CLOSED
            return
        try:
            self.identity = self._trust.identify(der)
        except ValueError as exc:  # OpenSSL accepted what cryptography cannot parse
            log_event(
                self.hub.log,
                logging.WARNING,
                "refused",
                peer=self.peer,
                reason=f"unreadable certificate: {exc}",
            )
            transport.abort()
            self.state = State.CLOSED
            return
        self.state = State.AWAIT_HELLO
        refusal = self.refuse_with or self._trust.refusal(self.identity)
        if refusal is not None:  # say why in words, so the client need not guess
            self._log("refused", reason=refusal)
            self.end(refusal, log=False)
            return
        self._hello_timer = self.hub.loop.call_later(
            self.hub.limits.hello_timeout, self.end, R_HELLO_TIMEOUT
        )
        self._expiry_timer = self.hub.loop.call_later(
            max(0.0, (self.identity.not_after - dt.datetime.now(dt.UTC)).total_seconds()),
            self.end,
            R_EXPIRED,
        )
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self.state is State.HANDSHAKE:
            self._early.append(data)  # before start(): kept, not lost, should a transport do that
            return
        if self.state is State.CLOSED:
            return
        self.last_received = self.hub.loop.time()
        self.ping_outstanding = False
        try:
            events = self._decoder.feed(data)
        except ProtocolError:
            return  # the decoder already failed; the session is ending
        for event in events:
            if self.closed or self._reading_stopped:  # ended, said bye, or shutting down
                return
            if isinstance(event, ProtocolError):
                self._protocol_error(event)
                continue
            try:
                self._dispatch(event)
            except ProtocolError as exc:
                self._protocol_error(exc)
            except Exception:
                self._log("internal_error", level=logging.ERROR, exc_info=True)
                self.outbox.put_control(encode(Error(code=E_INTERNAL, message="internal error")))
                self.end(R_INTERNAL)

    def eof_received(self) -> bool:
        self._finish(R_DISCONNECTED)
        return True  # end() closes our side, after the outbox is flushed

    def _finish(self, reason: str) -> None:
        """The peer has finished sending (EOF, or ``bye``): answer what it sent, then end.

        What it asked for just before is still being worked on: messages
        being stored (their acks and echoes), the replay after welcome, and
        history answers. All of it goes out first (bounded by
        ``shutdown_grace``), so a client that sends and then leaves still
        gets everything it is owed.
        """
        if self in self.hub.draining:
            return  # already finishing (bye, then EOF)
        if self.state is State.ACTIVE and self._owes_answers():
            self._finish_reason = reason
            self._reading_stopped = True
            self._sync_reading()
            self.hub.draining.add(self)  # told after each commit (Hub._commit)
            self._drain_timer = self.hub.loop.call_later(
                self.hub.limits.shutdown_grace, self._drained
            )
        else:
            self.end(reason, send_bye=False)

    def answered(self) -> None:
        """Something this session waited for is out: a commit, its replay, a history answer."""
        if self in self.hub.draining and not self._owes_answers():
            self._drained()

    def _owes_answers(self) -> bool:
        return self.hub.has_pending(self) or self.outbox.holding or self._history_waiting > 0

    def _drained(self) -> None:
        self.end(self._finish_reason, send_bye=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._abort_timer)
        if self.on_closed is not None:
            self.on_closed()
        if self.state is State.CLOSED:
            return
        was_started = self.state is not State.HANDSHAKE
        self._close_state()
        if was_started:
            self._forget(R_DISCONNECTED)

    def pause_writing(self) -> None:
        """The peer is not reading: queue, stop reading it, end it if this lasts.

        While we cannot write to a peer we do not read from it either, so a
        peer that never reads cannot make us do work (such as ``history``
        replies) that piles up in memory.
        """
        self.outbox.pause()
        self._sync_reading()
        if self.state is not State.CLOSED and self._write_timer is None:
            self._write_timer = self.hub.loop.call_later(
                self.hub.limits.write_timeout, self.end, R_SLOW_CONSUMER
            )

    def resume_writing(self) -> None:
        self._cancel(self._write_timer)
        self._write_timer = None
        self.outbox.resume()
        self._sync_reading()

    def history_asked(self) -> None:
        """A ``history`` request is waiting for its turn (``history_turn``)."""
        self._history_waiting += 1
        self._sync_reading()

    def history_answered(self) -> None:
        self._history_waiting -= 1
        self._sync_reading()
        self.answered()

    def stop_reading(self) -> None:
        """At shutdown: take no more requests from this peer."""
        self._reading_stopped = True
        self._sync_reading()

    def _sync_reading(self) -> None:
        """Read from the peer unless it is not reading us or its history requests pile up."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        paused = self._reading_stopped or self.outbox.paused or self._history_waiting > 1
        if paused != self._reading_paused:
            self._reading_paused = paused
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # ------------------------------------------------------------------
    # Frames

    def _dispatch(self, frame: Frame) -> None:
        match frame:
            case SendMsg():
                self._require_active(frame.ref)
                if self._spend(frame.ref):
                    self.hub.publish(self, frame)
            case Ping():
                self.outbox.put_control(encode(Pong(t=frame.t)))
            case Pong():
                pass  # receiving anything already counts as alive
            case Hello():
                self._hello(frame)
            case Who():
                self._require_active(None)
                if self._spend(None):
                    self.hub.answer_who(self, frame)
            case HistoryRequest():
                self._require_active(None)
                if self._spend(None):
                    self.hub.answer_history(self, frame)
            case Bye():
                self._finish(R_QUIT)
            case _:  # pragma: no cover - the decoder only yields client frames
                raise AssertionError(f"unexpected frame {frame!r}")

    def _spend(self, ref: str | None) -> bool:
        """Take a token for a request; False (and the peer told) when there is none.

        Policy: ``ratelimit``. Refusals are not protocol errors: they do not
        count toward ``max_errors``, only toward ``flood_limit``.
        """
        bucket = self._bucket
        if bucket.take(self.hub.loop.time()):
            return True
        if bucket.refused_in_a_row == 1:  # one log line per episode, not per request
            self._log("limited", level=logging.WARNING, limit="rate", rate=bucket.rate)
        message = f"slow down: at most {bucket.rate:g} requests a second"
        self.outbox.put_control(encode(Error(code=E_RATE_LIMITED, message=message, ref=ref)))
        if bucket.refused_in_a_row >= self.hub.limits.flood_limit:
            self.end(R_FLOODING)  # after that refusal's error: every refusal is told
        return False

    def _require_active(self, ref: str | None) -> None:
        if self.state is not State.ACTIVE:
            raise ProtocolError(E_HELLO_REQUIRED, "send hello first", ref=ref)

    def _hello(self, hello: Hello) -> None:
        if self.state is State.ACTIVE:
            raise ProtocolError(E_DUPLICATE_HELLO, "hello was already accepted")
        if hello.v != PROTOCOL_VERSION:
            raise ProtocolError(
                E_UNSUPPORTED_VERSION,
                f"this server speaks protocol v{PROTOCOL_VERSION}, not v{hello.v}",
            )
        assert self.identity is not None
        name = self.hub.choose_name(self.identity, hello.name)
        self._cancel(self._hello_timer)
        self._hello_timer = None
        self.state = State.ACTIVE
        self.member = self.hub.admit(self, name)
        users = self.hub.users_page(None, self.hub.settings.welcome_users)
        welcome = Welcome(
            v=PROTOCOL_VERSION,
            name=name,
            last_id=self.hub.last_id,
            users_online=self.hub.users_online,
            users=users.users,
            users_next=users.next,
            motd=self.hub.settings.motd,
        )
        self.outbox.put_control(encode(welcome))
        self.hub.replay_on_join(self, hello.since)
        self._log("joined", name=name)

    def _protocol_error(self, exc: ProtocolError) -> None:
        if exc.code in MALFORMED:  # refusals such as no_such_user are not misbehaviour
            self._errors += 1
        self.outbox.put_control(encode(Error(code=exc.code, message=exc.message, ref=exc.ref)))
        if exc.code in _REFUSALS:  # a hello we will not accept: say why, then go
            self.end(exc.code)
        elif exc.fatal or self._errors >= self.hub.limits.max_errors:
            self.end(R_PROTOCOL_ERROR)
        elif exc.code in MALFORMED:
            self._log("protocol_error", code=exc.code)
        else:  # a well-formed request refused (a typo in /msg): routine, not for the log
            self._log("request_refused", level=logging.DEBUG, code=exc.code)

    # ------------------------------------------------------------------
    # Ending

    def end(self, reason: str, *, send_bye: bool = True, log: bool = True) -> None:
        """End this session: ``bye {reason}`` to the peer, ``leave`` to the others."""
        if self.state is State.CLOSED:
            return
        was_started = self.state is not State.HANDSHAKE
        self._close_state()
        transport = self._transport
        if transport is not None:
            if send_bye:
                self.outbox.put_control(encode(Bye(reason=reason)))
            self.outbox.paused = False  # the bye goes out even to a slow reader
            self.outbox.flush()
            transport.close()
            # close() waits for the peer to take what is buffered; a peer
            # that never reads would hold the connection forever.
            self._abort_timer = self.hub.loop.call_later(
                self.hub.limits.shutdown_grace, transport.abort
            )
        if was_started:
            self._forget(reason, log=log)

    def recheck(self, trust: Trust) -> None:
        """After a reload: end this session if its certificate no longer qualifies."""
        if self.identity is None or self.closed:
            return
        refusal = trust.refusal(self.identity)
        if refusal is not None:
            self.end(refusal)

    def ping_or_drop(self, now: float) -> None:
        """Keepalive, called periodically by the server for every session."""
        silent = now - self.last_received
        limits = self.hub.limits
        if silent >= limits.idle_timeout:
            self.end(R_TIMEOUT)
        elif silent >= limits.ping_interval and not self.ping_outstanding:
            self.ping_outstanding = True
            self.outbox.put_control(encode(Ping(t=round(now, 3))))

    def _close_state(self) -> None:
        self.state = State.CLOSED
        self.hub.draining.discard(self)
        for timer in (self._hello_timer, self._write_timer, self._expiry_timer, self._drain_timer):
            self._cancel(timer)

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def _forget(self, reason: str, *, log: bool = True) -> None:
        self.hub.remove(self, reason)
        if log and self.name is None:  # never welcomed: it did not "leave" the chat
            self._log("closed", reason=reason, before="hello")
        elif log:
            self._log("left", reason=reason, name=self.name, dropped=self.outbox.dropped or None)

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    # ------------------------------------------------------------------
    # Logging

    def _log(
        self, event: str, *, level: int = logging.INFO, exc_info: bool = False, **fields: object
    ) -> None:
        identity = self.identity
        log_event(
            self.hub.log,
            level,
            event,
            exc_info=exc_info,
            peer=self.peer,
            cn=identity.cn if identity else None,
            fp=identity.short_fp if identity else None,
            **fields,
        )


# Errors that refuse a hello: the session ends with the code as its reason.
_REFUSALS: Final = frozenset({E_BAD_NAME, E_NAME_TAKEN, E_UNSUPPORTED_VERSION})

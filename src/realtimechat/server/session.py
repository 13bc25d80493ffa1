"""One client connection, from the end of its TLS handshake to its close.

A ``Session`` is the ``asyncio.Protocol`` on top of the TLS transport and
a thin adapter around ``sansio.server.ServerProtocol``, which holds the
protocol's rules (frame order, errors, refusals, rate limit, keepalive,
"answer what you owe, then close"). The session feeds it bytes and the
loop's time, carries out the requests it hands over (through the hub),
writes only through its ``Outbox``, and owns what needs a loop: timers,
flow control (history turns, pausing a peer that does not read) and the
log. Every way a session can end goes through ``end`` (our decision) or
``connection_lost`` (the peer's); either way the hub forgets it, the
others get ``leave`` with a reason, and one log line names the peer's
address, CN and fingerprint. Peer misbehaviour never produces a
traceback; an unexpected exception is logged once and ends this session
only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..errors import ProtocolError, ProtocolViolation
from ..protocol import (
    PROTOCOL_VERSION,
    ByeReason,
    Hello,
    HistoryEnd,
    HistoryRequest,
    Msg,
    SendMsg,
    Welcome,
    Who,
    encode,
)
from ..sansio.server import (
    Closed,
    ErrorSent,
    Event,
    Finishing,
    HelloReceived,
    RateLimited,
    Request,
    RequestReceived,
    Rules,
    ServerProtocol,
    State,
)
from .audit import log_event
from .config import Limits, ServerSettings
from .hub import Hub, Member, check_room
from .identity import PeerIdentity
from .outbox import FlushScheduler, Outbox
from .store import HistoryPage
from .trust import Trust


def connection_rules(limits: Limits) -> Rules:
    """The limits the sans-I/O machine enforces on one connection."""
    return Rules(
        max_line_bytes=limits.max_line_bytes,
        max_errors=limits.max_errors,
        rate=limits.rate,
        burst=limits.burst,
        flood_limit=limits.flood_limit,
        ping_interval=limits.ping_interval,
        idle_timeout=limits.idle_timeout,
    )


@dataclass(frozen=True, slots=True)
class SessionContext:
    """What every session of one server shares; each session is given it, not the hub's."""

    loop: asyncio.AbstractEventLoop
    limits: Limits
    settings: ServerSettings
    log: logging.Logger
    scheduler: FlushScheduler
    rules: Rules
    clock: Callable[[], dt.datetime]  # the wall clock: when a certificate expires

    @classmethod
    def of(cls, hub: Hub[Session], clock: Callable[[], dt.datetime]) -> SessionContext:
        return cls(
            hub.loop,
            hub.limits,
            hub.settings,
            hub.log,
            hub.scheduler,
            connection_rules(hub.limits),
            clock,
        )


class Session(asyncio.Protocol):
    """One mutual-TLS client connection speaking protocol v1."""

    def __init__(self, context: SessionContext, hub: Hub[Session], trust: Trust, peer: str) -> None:
        self.context = context
        self.hub = hub
        self.peer = peer
        self._trust = trust  # as it was when this connection's handshake began
        self.started = False  # start() has run: the TLS handshake is done
        self.identity: PeerIdentity | None = None
        self.member: Member | None = None
        self.machine = ServerProtocol(context.rules, context.loop.time())
        self.outbox = Outbox(
            self._write,
            context.scheduler,
            max_frames=context.limits.queue_frames,
            max_bytes=context.limits.queue_bytes,
        )
        self._transport: asyncio.Transport | None = None
        self._early: list[bytes] = []  # bytes that arrived before start()
        # history requests are answered one at a time (each is a store read
        # that commits queue behind); past one waiting, we stop reading.
        self.history_turn = asyncio.Lock()
        self._history_waiting = 0
        self._reading_stopped = False  # shutdown, or the peer finished: take no more requests
        self._reading_paused = False
        self._hello_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None  # runs while writing is paused
        self._abort_timer: asyncio.TimerHandle | None = None
        self._expiry_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._deciding = False  # the hello's new names are being written
        self.on_closed: Callable[[], None] | None = None  # the server's bookkeeping
        self.refuse_with: str | None = None  # set when a cap was hit: refuse after TLS
        # The server's per-identity cap: counts this session, or says why not.
        self.admit_identity: Callable[[PeerIdentity], str | None] | None = None

    def __repr__(self) -> str:
        return f"<Session {self.peer} {self.machine.state.value}>"

    @property
    def closed(self) -> bool:
        return self.machine.state is State.CLOSED

    @property
    def name(self) -> str | None:
        return self.member.name if self.member is not None else None

    # ------------------------------------------------------------------
    # Start and asyncio.Protocol callbacks

    def start(self, transport: asyncio.Transport) -> None:
        """Begin the session once the TLS handshake has succeeded."""
        if self.started or self.closed:
            transport.abort()  # lost or ended (shutdown) while the handshake finished
            return
        self._transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None:  # cannot happen with CERT_REQUIRED; refuse rather than guess
            self._refuse_unseen(transport, "no peer certificate after the handshake")
            return
        try:
            self.identity = self._trust.identify(der)
        except ValueError as exc:  # OpenSSL accepted what cryptography cannot parse
            self._refuse_unseen(transport, f"unreadable certificate: {exc}")
            return
        self.started = True
        self.machine.last_received = self.context.loop.time()
        refusal = self.refuse_with or self._trust.refusal(self.identity)
        if refusal is None and self.admit_identity is not None:
            refusal = self.admit_identity(self.identity)
        self.admit_identity = None  # asked once; it holds the server's connection
        if refusal is not None:  # say why in words, so the client need not guess
            self._log("refused", reason=refusal)
            self.end(refusal, log=False)
            return
        self._hello_timer = self.context.loop.call_later(
            self.context.limits.hello_timeout, self.end, ByeReason.HELLO_TIMEOUT
        )
        self._expiry_timer = self.context.loop.call_later(
            max(0.0, (self.identity.not_after - self.context.clock()).total_seconds()),
            self.end,
            ByeReason.EXPIRED,
        )
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def _refuse_unseen(self, transport: asyncio.Transport, reason: str) -> None:
        """Drop a connection whose peer we cannot even name."""
        log_event(self.context.log, logging.WARNING, "refused", peer=self.peer, reason=reason)
        transport.abort()
        self.machine.close(ByeReason.DISCONNECTED, send_bye=False)

    def data_received(self, data: bytes) -> None:
        if not self.started:
            if not self.closed:  # before start(): kept, not lost, should a transport do that
                self._early.append(data)
            return
        if self.closed or self._reading_stopped:
            return
        self.machine.receive_data(data, self.context.loop.time())
        self._pump()

    def eof_received(self) -> bool:
        self.machine.receive_eof()
        self._pump()
        return True  # the machine's Closed closes our side, after the outbox is flushed

    def _pump(self) -> None:
        """Act on every event the machine has, in order, writing what it says as we go.

        Not while a hello's names are being written: the frames after it are
        judged once it is accepted (``_claim_then_welcome`` pumps again).
        """
        machine = self.machine
        now = self.context.loop.time()
        while not self._deciding:
            event = machine.next_event(now)
            if event is None:
                break
            if machine.has_data_to_send:  # its answers to this frame come before ours
                self._flush_machine()
            try:
                self._on_event(event)
            except ProtocolError as exc:  # a request the hub refused (no such user, say)
                self._log("request_refused", level=logging.DEBUG, code=exc.code)
                self._apply(machine.refuse(exc))
            except Exception:
                self._log("internal_error", level=logging.ERROR, exc_info=True)
                self._apply(machine.fail())
        if machine.has_data_to_send:  # pongs, and what the last events said
            self._flush_machine()

    def _on_event(self, event: Event) -> None:
        match event:
            case RequestReceived(frame):
                self._request(frame)
            case HelloReceived(hello):
                self._hello(hello)
            case ErrorSent(error) if isinstance(error, ProtocolViolation):
                self._log("protocol_error", code=error.code)
            case ErrorSent(error):  # a refusal such as empty_text: routine, not for the log
                self._log("request_refused", level=logging.DEBUG, code=error.code)
            case RateLimited(rate, limit):  # one log line per episode, not per request
                self._log("limited", level=logging.WARNING, limit=limit, rate=rate)
            case Finishing():
                self._finishing()
            case Closed():
                self._closed(event)

    def _flush_machine(self) -> None:
        for data in self.machine.data_to_send():
            self.outbox.put_control(data)

    def _apply(self, closed: Closed | None) -> None:
        if closed is not None:
            self._closed(closed)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._abort_timer)
        self._abort_timer = None
        on_closed, self.on_closed = self.on_closed, None
        if on_closed is not None:
            on_closed()
        if not self.closed:
            self.machine.close(ByeReason.DISCONNECTED, send_bye=False)  # nothing can be sent now
            self._cancel_timers()
            if self.started:
                self._forget(ByeReason.DISCONNECTED)
        self._let_go()

    def _let_go(self) -> None:
        """The connection is gone: drop what refers back to this session.

        The server's bookkeeping, the transport (whose protocol refers to
        us), the outbox's writer (our method) and the timers: so the
        session, its TLS state and its memory BIOs are freed as soon as
        the last reference goes, not whenever a full garbage collection
        runs (a closed connection used to wait in reference cycles,
        holding the buffers of its last writes).
        """
        self.outbox.close()
        self._transport = None
        self._early = []
        self._cancel_timers()
        self._hello_timer = self._write_timer = self._expiry_timer = self._drain_timer = None

    def pause_writing(self) -> None:
        """The peer is not reading: queue, stop reading it, end it if this lasts.

        While we cannot write to a peer we do not read from it either, so a
        peer that never reads cannot make us do work (such as ``history``
        replies) that piles up in memory.
        """
        transport = self._transport
        self.outbox.pause(transport.get_write_buffer_size() if transport is not None else 0)
        self._sync_reading()
        if not self.closed and self._write_timer is None:
            self._write_timer = self.context.loop.call_later(
                self.context.limits.write_timeout, self.end, ByeReason.SLOW_CONSUMER
            )

    def resume_writing(self) -> None:
        self._cancel(self._write_timer)
        self._write_timer = None
        self.outbox.resume()
        self._sync_reading()

    # ------------------------------------------------------------------
    # What the session owes (the machine counts; the hub and the replay report)

    def owe(self) -> None:
        """One more answer is owed: a message being stored, the replay, a history reply."""
        self.machine.owe()

    def answered(self) -> None:
        """One owed answer is out; a session whose peer has finished may close now."""
        closed = self.machine.answered()
        if closed is not None:
            self._closed(closed)

    def history_asked(self) -> None:
        """A ``history`` request is waiting for its turn (``history_turn``)."""
        self._history_waiting += 1
        self.owe()
        self._sync_reading()

    def history_answered(self) -> None:
        self._history_waiting -= 1
        self._sync_reading()
        self.answered()

    def _finishing(self) -> None:
        """The peer sent ``bye`` or EOF but is still owed answers: wait for them, a while."""
        self._reading_stopped = True
        self._sync_reading()
        self._drain_timer = self.context.loop.call_later(
            self.context.limits.shutdown_grace, self._stop_waiting
        )

    def _stop_waiting(self) -> None:
        self._apply(self.machine.close(self.machine.finish_reason, send_bye=False))

    def stop_reading(self) -> None:
        """At shutdown: take no more requests from this peer."""
        self._reading_stopped = True
        self._sync_reading()

    def _sync_reading(self) -> None:
        """Read from the peer unless it is not reading us or its history requests pile up."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        paused = (
            self._reading_stopped
            or self.outbox.paused
            or self._history_waiting > 1
            or self._deciding  # until the hello is decided, frames wait
        )
        if paused != self._reading_paused:
            self._reading_paused = paused
            if paused:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # ------------------------------------------------------------------
    # Requests

    def _request(self, frame: Request) -> None:
        match frame:
            case SendMsg():
                self.hub.publish(self, frame)
            case Who():
                self.hub.answer_who(self, frame)
            case HistoryRequest():
                self._history(frame)

    def _hello(self, hello: Hello) -> None:
        """Choose the name; if it (or the CN) is new, record it durably first; then welcome.

        The name is reserved at once, so nobody else can take it while it is
        written; frames that arrive meanwhile wait in the machine.
        """
        assert self.identity is not None
        name = self.hub.choose_name(self.identity, hello.name)
        new_names = self.hub.unclaimed(self.identity, name)
        if not new_names:
            self._welcome(hello, name)
            return
        self._deciding = True
        # A hub task, so that a stop waits for the write rather than closing
        # the store under it.
        self.hub.background(self._claim_then_welcome(hello, name, new_names), "record a name")
        self._sync_reading()

    async def _claim_then_welcome(self, hello: Hello, name: str, new_names: list[str]) -> None:
        assert self.identity is not None
        try:
            await self.hub.claim(self.identity, new_names)
        except Exception:
            self._log("internal_error", level=logging.ERROR, exc_info=True)
            self._apply(self.machine.fail())
            self._flush_machine()
            return
        finally:
            self._deciding = False
            self._sync_reading()
        if self.closed:  # hello timeout, shutdown or the peer gone while we wrote
            return
        self._welcome(hello, name)
        self._pump()  # what the peer sent after its hello

    def _welcome(self, hello: Hello, name: str) -> None:
        assert self.identity is not None
        self._cancel(self._hello_timer)
        self._hello_timer = None
        self.member = self.hub.admit(self, name)
        users = self.hub.users_page(None, self.context.settings.welcome_users)
        welcome = Welcome(
            v=PROTOCOL_VERSION,
            name=name,
            last_id=self.hub.last_id,
            users_online=self.hub.users_online,
            users=users.users,
            users_next=users.next,
            motd=self.context.settings.motd,
        )
        self.machine.accept(welcome, shared=self.hub.budget(self.identity).requests)
        self._flush_machine()
        self._replay(hello.since)
        self._log("joined", name=name)

    # ------------------------------------------------------------------
    # History: the replay after welcome, and history requests, one at a time

    def _replay(self, since: int | None) -> None:
        """After ``welcome``: what was said before (recent lines, or all after ``since``).

        Live messages for this session are held back while the store is
        read and released after the replay, minus any the replay already
        carried: no hole and no duplicate between the two.
        """
        self.outbox.hold()
        self.owe()  # answered once the replay is out
        # Everything stored after this moment reaches us live (held until
        # the replay is out); the replay covers what came before.
        upto = self.hub.last_id
        self.hub.background(self._replay_from(since, upto), "replay history")

    async def _replay_from(self, since: int | None, upto: int) -> None:
        assert self.identity is not None
        replayed: list[Msg] = []
        gap = None
        try:
            # One replay at a time (Hub.replay_turn): the finally below hands
            # this one over as the turn passes, before the next read starts.
            async with self.hub.replay_turn:
                replayed, gap = await self.hub.what_to_replay(self.identity.key, since, upto)
        finally:  # even if the store failed, live traffic must flow again
            self.outbox.release(
                [(encode(replace(msg, replay=True)), msg.id) for msg in replayed], gap=gap
            )
            self.outbox.put_control(encode(HistoryEnd(count=len(replayed), more=False)))
            self.answered()

    def _history(self, request: HistoryRequest) -> None:
        check_room(request.room, None)
        limit = self.hub.history_limit(request.limit)
        self.history_asked()
        self.hub.background(self._history_in_turn(request.since, limit), "answer history")

    async def _history_in_turn(self, since: int, limit: int) -> None:
        """One store read per session at a time: commits never queue behind a pile of them."""
        try:
            async with self.history_turn:
                if not self.closed and not self.hub.stopping:
                    await self._history_page(since, limit)
        finally:
            self.history_answered()

    async def _history_page(self, since: int, limit: int) -> None:
        assert self.identity is not None
        page = HistoryPage([], False, 0)
        try:
            page, gap = await self.hub.history(self.identity.key, since, limit)
            if gap is not None:
                self.outbox.put_control(encode(gap))
            for msg in page.messages:
                # Not held back by a replay in progress: this reply ends with
                # its own history_end and must carry everything it counts.
                self.outbox.put_msg(encode(replace(msg, replay=True)), msg.id, hold=False)
        finally:  # even if the store failed, the request gets its end
            self.outbox.put_control(encode(HistoryEnd(count=len(page.messages), more=page.more)))

    # ------------------------------------------------------------------
    # Ending

    def end(self, reason: str, *, send_bye: bool = True, log: bool = True) -> None:
        """End this session: ``bye {reason}`` to the peer, ``leave`` to the others."""
        closed = self.machine.close(reason, send_bye=send_bye)
        if closed is not None:
            self._closed(closed, log=log)

    def _closed(self, closed: Closed, *, log: bool = True) -> None:
        """The machine has ended the session: flush what it said, close, tell the hub."""
        self._cancel_timers()
        transport = self._transport
        if transport is not None:
            # A peer that is not reading gets a gap for its queue rather than
            # the queue itself; the bye goes out even to a slow reader.
            self.outbox.end()
            self._flush_machine()  # its error and bye, if any
            self.outbox.flush()
            transport.close()
            # close() waits for the peer to take what is buffered; a peer
            # that never reads would hold the connection forever.
            self._abort_timer = self.context.loop.call_later(
                self.context.limits.shutdown_grace, transport.abort
            )
        if self.started:
            self._forget(closed.reason, log=log)

    def shed(self) -> None:
        """All queues together hold too much, and ours is among the biggest: end it."""
        self.end(ByeReason.SLOW_CONSUMER)

    def recheck(self, trust: Trust) -> None:
        """After a reload: end this session if its certificate no longer qualifies."""
        if self.identity is None or self.closed:
            return
        refusal = trust.refusal(self.identity)
        if refusal is not None:
            self.end(refusal)

    def ping_or_drop(self, now: float) -> None:
        """Keepalive, called periodically by the server for every session."""
        closed = self.machine.tick(now)
        self._flush_machine()
        self._apply(closed)

    def _cancel_timers(self) -> None:
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
            self.context.log,
            level,
            event,
            exc_info=exc_info,
            peer=self.peer,
            cn=identity.cn if identity else None,
            fp=identity.short_fp if identity else None,
            **fields,
        )

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
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ProtocolError, ProtocolViolation, Refusal
from ..names import name_from_cn
from ..protocol import (
    PROTOCOL_VERSION,
    ByeReason,
    CertRequest,
    Error,
    ErrorCode,
    Hello,
    HistoryEnd,
    HistoryRequest,
    Joined,
    JoinRoom,
    ListRooms,
    Msg,
    Parted,
    PartReason,
    PartRoom,
    SendMsg,
    SetTopic,
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
    OperatorRequest,
    RateLimited,
    Request,
    RequestReceived,
    Rules,
    ServerProtocol,
    State,
)
from .audit import log_event
from .config import Limits, ServerSettings
from .engine import unavailable
from .hub import Hub, Member
from .identity import PeerIdentity
from .outbox import FlushScheduler, Outbox
from .rooms import Room
from .stats import ServerStats
from .store import HistoryPage, Scope
from .trust import REVOKED, Trust

Work = Coroutine[Any, Any, None]


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
    stats: ServerStats

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
            hub.stats,
        )


class Holds:
    """Reads that hold a session's live messages back, one at a time, in the order asked.

    The replay after ``welcome`` and the history of each room the session
    starts receiving both hold its live messages (``Outbox.hold``, which has
    one level) while the store is read. Each begins with a step that runs at
    once, in one go -- hold, start receiving, note the last id -- so that
    nothing slips between them, and goes on with a coroutine; the next one
    begins when that ends.
    """

    __slots__ = ("_busy", "_run", "_waiting")

    def __init__(self, run: Callable[[Work, str], None]) -> None:
        self._run = run  # Hub.background: a stop waits for every read
        # Made when a read must wait for another: most sessions only ever
        # have their replay, and a deque per connection costs 600 bytes.
        self._waiting: deque[tuple[Callable[[], Work | None], str]] | None = None
        self._busy = False

    def add(self, begin: Callable[[], Work | None], what: str) -> None:
        """Queue a read: ``begin`` holds and returns what to await (None: nothing to read)."""
        if self._busy:
            if self._waiting is None:
                self._waiting = deque()
            self._waiting.append((begin, what))
            return
        self._begin(begin, what)

    def _begin(self, begin: Callable[[], Work | None], what: str) -> None:
        work = begin()
        if work is None:
            self._next()
            return
        self._busy = True
        self._run(self._then_next(work), what)

    def _next(self) -> None:
        self._busy = False
        if self._waiting:
            self._begin(*self._waiting.popleft())

    async def _then_next(self, work: Work) -> None:
        try:
            await work
        finally:
            self._next()


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
        # A hello's new names, or a room change, are being written: the frames
        # after it wait, as they depend on it (a msg to the room just joined).
        self._deciding = False
        self._holds = Holds(hub.background)
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
        refusal = (
            self.refuse_with
            or self._trust.refusal(self.identity)
            or self.hub.refusal(self.identity)  # revoked on another server
        )
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
            case RateLimited(rate, limit, first):
                self.context.stats.rate_limited[limit] += 1
                if first:  # one log line per episode, not per request
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
            case JoinRoom():
                self._join(frame)
            case PartRoom():
                room = self.hub.check_part(self, frame)
                self._write_then_go_on(self.hub.part(self, room), "part a room")
            case SetTopic():
                room = self.hub.check_topic(self, frame)
                self._write_then_go_on(self.hub.set_topic(self, room, frame.text), "set a topic")
            case ListRooms():
                self.hub.answer_rooms(self, frame)
            case CertRequest():
                work = self._answer_cert(frame.fp, frame.name)
                self._write_then_go_on(work, "read a certificate")
            case _:  # an operator's (docs/protocol.md 6.7)
                self._operate(frame)

    async def _answer_cert(self, fp: str | None, name: str | None) -> None:
        """``cert`` or ``error no_such_cert``, in its place among the session's answers."""
        try:
            self.outbox.put_control(encode(await self.hub.cert_frame(fp, name)))
        except Refusal as exc:
            self.outbox.put_control(encode(Error(code=exc.code, message=exc.message)))

    def _operate(self, frame: OperatorRequest) -> None:
        work = self.hub.moderation.request(self, frame)
        if work is not None:  # a ban, a mute or the motd: written first, then told
            self._write_then_go_on(work, f"carry out {frame.TYPE}")

    def _join(self, request: JoinRoom) -> None:
        room, new = self.hub.plan_join(self, request)
        if new:
            self._write_then_go_on(self.hub.join(self, room), "join a room")
            return
        # Already a member: joined again, with nothing to replay (its
        # messages have been coming, or are about to, after their history).
        self.outbox.put_control(encode(self._joined(room, self.hub.last_id)))
        self.outbox.put_control(encode(HistoryEnd(count=0, more=False, room=room.name)))

    def _write_then_go_on(self, write: Work, what: str) -> None:
        """Carry out a write through the engine; this session's next frames wait for it."""
        self._deciding = True
        self.owe()
        self.hub.background(self._written(write, what), what)
        self._sync_reading()

    async def _written(self, write: Work, what: str) -> None:
        try:
            await write
        except Exception:
            # As a batch that fails to store (protocol.md 6.2): said, and the session goes on.
            self._log("internal_error", level=logging.ERROR, exc_info=True, during=what)
            self.outbox.put_control(
                encode(Error(code=ErrorCode.INTERNAL, message=f"could not {what}"))
            )
        finally:
            self._deciding = False
            self._sync_reading()
            self.answered()
        if not self.closed:
            self._pump()  # what the peer sent after it

    # ------------------------------------------------------------------
    # Rooms: what the hub tells a session of its identity's memberships

    def enter_room(self, room: Room) -> None:
        """Its identity joined ``room``: ``joined``, the room's history, then its live messages."""
        if self.closed:
            return
        self.owe()  # answered once the history is out
        self._holds.add(lambda: self._begin_room(room), "send a room's history")

    def _begin_room(self, room: Room) -> Work | None:
        assert self.identity is not None
        if self.closed or not self.hub.rooms.member_of(self.identity.key, room):
            self.answered()  # parted (or gone) before its turn came
            return None
        self.outbox.hold()
        self.hub.receive_room(self, room)
        upto = self.hub.last_id  # later messages come live, held until the history is out
        self.outbox.put_control(encode(self._joined(room, upto)))
        self._log("room_joined", name=self.name, room=room.name)
        return self._room_history(room, upto)

    def _joined(self, room: Room, upto: int) -> Joined:
        return Joined(
            room=room.name, members=len(room.members), last_id=upto, topic=room.shown_topic
        )

    async def _room_history(self, room: Room, upto: int) -> None:
        assert self.identity is not None
        replayed: list[Msg] = []
        try:
            async with self.hub.replay_turn:  # as a welcome's replay (_replay)
                replayed = await self.hub.room_history(self.identity.key, room, upto)
        finally:  # even if the store failed, live traffic must flow again
            self.outbox.release(
                [(encode(replace(msg, replay=True)), msg.id) for msg in replayed],
                end=encode(HistoryEnd(count=len(replayed), more=False, room=room.name)),
            )
            self.answered()

    def leave_room(self, room: Room, reason: str | None) -> None:
        """Its identity is no longer in ``room`` (the hub stopped sending it): ``parted``."""
        if self.closed:
            return
        self.outbox.put_control(encode(Parted(room=room.name, reason=reason)))
        self._log("room_parted", name=self.name, room=room.name, reason=reason or PartReason.PART)

    def _hello(self, hello: Hello) -> None:
        """Choose the name; if it (or the CN) is new, record it durably first; then welcome.

        The name is reserved at once, so nobody else can take it while it is
        written; frames that arrive meanwhile wait in the machine.
        """
        assert self.identity is not None
        revoked = self.hub.refusal(self.identity)  # revoked on another server meanwhile
        if revoked is not None:
            self.end(revoked)
            return
        self.hub.moderation.check_hello(self.identity)  # a banned identity: bye banned
        if not self.hub.engine.available:  # Redis down: nothing to replay from; come back soon
            raise unavailable()
        name = self.hub.choose_name(self.identity, hello.name)
        new_names = self.hub.unclaimed(self.identity, name)
        # A resume from another server may name ids this one has not handed
        # on yet (engine.catch_up); that waits, as a name being written does.
        behind = hello.since is not None and hello.since > self.hub.last_id
        new_cert = self.hub.cert_unkept(self.identity)
        # Presence shared by several servers: registered before the welcome (Hub.enter).
        if not new_names and not behind and not new_cert and not self.hub.shares_presence:
            self._welcome(hello, name)
            return
        self._deciding = True
        # A hub task, so that a stop waits for the write rather than closing
        # the store under it.
        work = self._claim_then_welcome(hello, name, new_names, new_cert)
        self.hub.background(work, "record a name")
        self._sync_reading()

    async def _claim_then_welcome(
        self, hello: Hello, name: str, new_names: list[str], new_cert: bool
    ) -> None:
        assert self.identity is not None
        try:
            await self.hub.claim(self.identity, new_names)
            if new_cert:
                await self.hub.keep_cert(self.identity)
            if hello.since is not None:
                await self.hub.engine.catch_up(hello.since)
            if self.hub.shares_presence and not self.closed:
                await self.hub.enter(self, name)
        except Refusal as exc:  # another server's identity took the name meanwhile
            self._apply(self.machine.refuse(exc))
            self._flush_machine()
            return
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
        revoked = self.hub.refusal(self.identity)  # by another server while we waited
        if revoked is not None:
            self.end(revoked)
            return
        self._welcome(hello, name)
        self._pump()  # what the peer sent after its hello

    def _welcome(self, hello: Hello, name: str) -> None:
        assert self.identity is not None
        self._cancel(self._hello_timer)
        self._hello_timer = None
        self.member = self.hub.admit(self, name)
        rooms = self.hub.welcome_rooms(self)
        users = self.hub.users_page(None, self.context.settings.welcome_users)
        welcome = Welcome(
            v=PROTOCOL_VERSION,
            name=name,
            last_id=self.hub.last_id,
            users_online=self.hub.users_online,
            users=users.users,
            users_next=users.next,
            motd=self.hub.moderation.motd,
            rooms=self.hub.room_infos(rooms),
        )
        self.machine.accept(welcome, shared=self.hub.budget(self.identity).requests)
        self._flush_machine()
        self._replay(hello.since, rooms)
        self._log("joined", name=name)

    # ------------------------------------------------------------------
    # History: the replay after welcome, and history requests, one at a time

    def _replay(self, since: int | None, rooms: list[Room]) -> None:
        """After ``welcome``: what was said before (recent lines, or all after ``since``),
        in the lobby, the identity's private messages and every room it is in.

        Live messages for this session are held back while the store is
        read and released after the replay, minus any the replay already
        carried: no hole and no duplicate between the two. Nothing else
        holds yet, so this begins at once, with the welcome.
        """
        self.owe()  # answered once the replay is out
        self._holds.add(lambda: self._begin_replay(since, rooms), "replay history")

    def _begin_replay(self, since: int | None, rooms: list[Room]) -> Work:
        assert self.identity is not None
        self.outbox.hold()
        receiving = [room for room in rooms if self.hub.receive_room(self, room)]
        # Everything stored after this moment reaches us live (held until
        # the replay is out); the replay covers what came before.
        upto = self.hub.last_id
        return self._replay_from(since, upto, self.hub.scope_of(self.identity.key, receiving))

    async def _replay_from(self, since: int | None, upto: int, scope: Scope) -> None:
        assert self.identity is not None
        replayed: list[Msg] = []
        gap = None
        try:
            # One replay at a time (Hub.replay_turn): the finally below hands
            # this one over as the turn passes, before the next read starts.
            async with self.hub.replay_turn:
                replayed, gap = await self.hub.what_to_replay(self.identity.key, since, upto, scope)
        finally:  # even if the store failed, live traffic must flow again
            self.outbox.release(
                [(encode(replace(msg, replay=True)), msg.id) for msg in replayed], gap=gap
            )
            self.outbox.put_control(encode(HistoryEnd(count=len(replayed), more=False)))
            self.answered()

    def _history(self, request: HistoryRequest) -> None:
        scope, room = self.hub.history_scope(self, request.room)
        limit = self.hub.history_limit(request.limit)
        self.history_asked()
        self.hub.background(
            self._history_in_turn(request.since, limit, scope, room), "answer history"
        )

    async def _history_in_turn(
        self, since: int, limit: int, scope: Scope, room: str | None
    ) -> None:
        """One store read per session at a time: commits never queue behind a pile of them."""
        try:
            async with self.history_turn:
                if not self.closed and not self.hub.stopping:
                    await self._history_page(since, limit, scope, room)
        finally:
            self.history_answered()

    async def _history_page(self, since: int, limit: int, scope: Scope, room: str | None) -> None:
        assert self.identity is not None
        page = HistoryPage([], False, 0)
        try:
            page, gap = await self.hub.history(self.identity.key, since, limit, scope)
            if gap is not None:
                self.outbox.put_control(encode(gap))
            for msg in page.messages:
                # Not held back by a replay in progress: this reply ends with
                # its own history_end and must carry everything it counts.
                self.outbox.put_msg(encode(replace(msg, replay=True)), msg.id, hold=False)
        finally:  # even if the store failed, the request gets its end
            end = HistoryEnd(count=len(page.messages), more=page.more, room=room)
            self.outbox.put_control(encode(end))

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
        if refusal is None:
            return
        if refusal == REVOKED:  # a revoked certificate loses every room, at once
            name = self.name or name_from_cn(self.identity.cn)
            self.hub.part_all(self.identity.key, PartReason.REVOKED, name)
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
        self.context.stats.session_closed(reason)
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

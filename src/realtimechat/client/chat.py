"""The chat every client front end shares: it survives disconnects.

``Chat`` owns the connection. It reconnects by itself after a drop, a
dead connection (no ``pong``) or a server restart, with exponential
backoff and jitter, and resumes with ``hello {since: last id shown}``.
Nothing is lost and nothing is shown twice:

* Every message we send carries a unique ``ref`` and stays *pending* until
  the server echoes it back. One sender per connection sends them in the
  order typed, one at a time, and resends one refused for the rate limit
  before anything newer (``sansio.sender.Sender`` holds the rules). Pending
  messages -- including those typed while disconnected -- are sent again,
  in order, after each reconnect. The server stores a ``ref`` once and
  acks a resend with the first id.
* Every message shown is remembered by id; an id is never shown twice,
  whether it comes live, replayed after a resume, or from a gap fill.
* A ``gap`` (we read too slowly, or history was cut) is filled with
  ``history`` requests (``gaps.GapFiller``); what they bring is shown as
  earlier messages.
* Rooms are the server's to remember (the identity's memberships come in
  every ``welcome``); the client keeps which one its lines go to and what
  is unread in the others (``rooms.Rooms``). ``--room`` is joined after a
  welcome that does not list it, before any message is sent.

A permanent refusal (certificate rejected, revoked, expired, name taken)
is never retried. On the first connection every failure is final, so a
wrong address is reported at once rather than retried forever.

Front ends implement ``ChatView`` and call ``perform`` with what the user
typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Final, NoReturn, Protocol

from cryptography import x509

from ..errors import (
    CannotConnect,
    CertificateRejected,
    ClientError,
    ConnectionLost,
    SessionRefused,
)
from ..names import name_key, shown
from ..protocol import (
    DEFAULT_ROOM,
    FINAL_BYE_REASONS,
    MAX_LINE_BYTES,
    TRANSIENT_BYE_REASONS,
    Ack,
    Bye,
    Cert,
    CertRequest,
    Error,
    ErrorCode,
    Frame,
    Gap,
    HistoryEnd,
    HistoryRequest,
    Join,
    JoinRoom,
    Leave,
    ListRooms,
    Msg,
    Parted,
    PartRoom,
    RoomList,
    SendMsg,
    SetTopic,
    Topic,
    Users,
    Welcome,
    encode,
    parse_ts,
)
from ..protocol import (
    Joined as RoomJoinedFrame,
)
from ..protocol import (
    Notice as ServerNotice,
)
from ..rooms import room_key
from ..sansio.sender import RATE_RETRY_DELAY, Pending, Request, Sender
from ..sealing import SealError, is_sealed, open_sealed, seal, seal_problem
from .commands import (
    HELP_LINES,
    AskWho,
    Clear,
    GoTo,
    Ignore,
    JoinRoomCmd,
    ListRoomsCmd,
    OperatorCmd,
    OperatorFrame,
    PartRoomCmd,
    Quit,
    Reconnect,
    Say,
    ShowHelp,
    TopicCmd,
    Unknown,
    WhoIs,
    parse_line,
)
from .connection import ServerConnection
from .events import (
    NOT_SEALED,
    TOO_LONG,
    USAGE,
    CertificateExpiring,
    DayChanged,
    EnteredRoom,
    Event,
    Failed,
    Help,
    HistoryReset,
    HistoryShown,
    Ignoring,
    Joined,
    Left,
    LeftRoom,
    Message,
    Missed,
    Notice,
    OperatorNotice,
    Reconnecting,
    Renamed,
    Retrying,
    RoomsListed,
    TopicChanged,
    TopicShown,
    Welcomed,
    WhoisAnswer,
)
from .gaps import GapFiller
from .render import mentions
from .rooms import Rooms
from .roster import Roster
from .signatures import Signatures, Verdict
from .state import ResumePoint

SHOWN_IDS_KEPT: Final = 10_000
FILL_PAGE: Final = 100  # small pages: a slow reader gets a fill through in rounds
CERTIFICATE_RETRIES: Final = 3  # EOF before welcome after we were welcome before
LEAVE_WAIT: Final = 5.0  # after our bye, seconds the server has to answer what it owes
CERT_WAIT: Final = 10.0  # seconds a sealed message waits for its recipient's certificate
EXPIRY_WARNING: Final = dt.timedelta(days=14)  # warn at join when our certificate expires sooner

Opener = Callable[[], Awaitable[ServerConnection]]


class ChatView(Protocol):
    """What a front end shows: every event (``events.py``), drawn or printed its own way."""

    def show(self, event: Event) -> None: ...
    def changed(self) -> None: ...  # status, pending messages or who is online changed
    def clear(self) -> None: ...


class Status(Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class Backoff:
    """Delays between reconnection attempts: doubling, capped, with jitter."""

    def __init__(self, first: float = 0.5, most: float = 30.0) -> None:
        self.first = first
        self.most = most
        self._next = first

    def delay(self) -> float:
        current = self._next
        self._next = min(self._next * 2, self.most)
        return current * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not secrecy

    def reset(self) -> None:
        self._next = self.first


class Chat:
    """A chat session that outlives its connections (policy: module docstring)."""

    def __init__(
        self,
        opener: Opener,
        view: ChatView,
        *,
        name: str | None = None,
        resume: ResumePoint | None = None,
        backoff: Backoff | None = None,
        retry_delay: float = RATE_RETRY_DELAY,
        room: str | None = None,
        certificate_expires: dt.datetime | None = None,
        signatures: Signatures | None = None,
        require_signed: bool = False,
    ) -> None:
        self._opener = opener
        # Signed messages (protocol.md 6.8): ours signed as they first leave,
        # others' judged before they are shown. None: neither (tests, old use).
        self.signatures = signatures
        self.require_signed = require_signed
        # What waits for a signer's certificate, in order: a message (msg, own), and every
        # event after it, so that the screen keeps the order things came in.
        self._held: deque[tuple[Msg, bool] | Event | Callable[[], None]] = deque()
        self._releasing = False  # showing what was held
        self._certs_asked: deque[str] = deque()  # cert requests out, in order: fp or name:KEY
        # A recipient's certificate asked by name: it, the server's refusal, or None (no answer).
        self._cert_waiters: dict[str, asyncio.Future[x509.Certificate | Error | None]] = {}
        self._recipient_certs: dict[str, x509.Certificate] = {}  # name key -> checked cert
        self.view = view
        self.requested_name = name
        self.resume = resume or ResumePoint(None, "")
        self.backoff = backoff or Backoff()
        self.certificate_expires = certificate_expires  # ours: warned about at the first welcome
        self.status = Status.CONNECTING
        self.retry_at: float | None = None  # loop time of the next attempt
        self.welcome: Welcome | None = None
        self.connection: ServerConnection | None = None
        self._sender = Sender(retry_delay)
        self._sender_woken = asyncio.Event()  # the sender may have something to send now
        self.all_echoed = asyncio.Event()
        self.all_echoed.set()
        self.answered = asyncio.Event()  # every message settled and every /who, /whois answered
        self.answered.set()
        self.welcomed = asyncio.Event()  # set at the first welcome
        self.failures: list[Failed] = []  # lines not carried out: refused, too long, no command
        self._shown: set[int] = set()
        self._shown_order: deque[int] = deque()
        self._last_day: dt.date | None = None  # the local date of the last message shown
        self._gaps = GapFiller()
        self._resumed = False  # this connection's hello carried ``since``
        self._refs = itertools.count(1)
        self._ref_prefix = secrets.token_hex(4)
        self._leaving = asyncio.Event()
        self._retry = asyncio.Event()  # the user asked to reconnect now
        self._attempts = 0  # attempts that failed since the connection ended
        self._asked = False  # the attempt under way was asked for by the user
        self.roster = Roster()
        self.rooms = Rooms(wanted=room)
        self.ignored: set[str] = set()  # name keys hidden by /ignore

    @property
    def name(self) -> str | None:
        return self.welcome.name if self.welcome is not None else None

    def _names_me(self, name: str | None) -> bool:
        """Whether ``name`` is ours, as the server compares names (``Bob`` is bob)."""
        return name is not None and self.name is not None and name_key(name) == name_key(self.name)

    @property
    def pending(self) -> Mapping[str, Pending]:
        """Our messages not yet both acked and echoed, in the order typed."""
        return self._sender.pending

    # ------------------------------------------------------------------
    # Running

    async def run(self) -> None:
        """Chat until ``leave``; raise ClientError when it cannot go on."""
        first = True
        certificate_failures = 0
        try:
            while not self._leaving.is_set():
                try:
                    connection = await self._opener()
                    since = self._since()
                    welcome = await connection.hello(self.requested_name, since=since)
                except ClientError as exc:
                    if isinstance(exc, CertificateRejected):
                        certificate_failures += 1
                    if (first and not _passing(exc)) or not _retryable(exc, certificate_failures):
                        raise
                    await self._pause(str(exc))
                    continue
                first = False
                certificate_failures = 0
                self.backoff.reset()
                try:
                    await self._session(connection, welcome, since)
                except ConnectionLost as exc:
                    if self._leaving.is_set():
                        return  # the server closed after our bye, as it should
                    connection.abort()
                    self.connection = None
                    await self._pause(str(exc))
                finally:
                    self.connection = None
                    connection.abort()
        finally:
            self.status = Status.CLOSED
            self.resume.save()
            self.view.changed()

    async def leave(self, *, timeout: float = LEAVE_WAIT) -> None:
        """Say ``bye``; ``run`` ends once the server has answered what it owes and closed.

        The server answers every frame read before our ``bye`` (acks, echoes,
        ``users``) and then closes (docs/protocol.md 9.1): a message sent is
        never counted as lost only because we left before its echo. The
        message that may go now goes before the ``bye``; nothing goes after
        it. ``timeout`` bounds the wait for a server that does not close.
        """
        self._leaving.set()
        self._sender_woken.set()  # the sender stops
        connection = self.connection
        if connection is None:
            return
        loop = asyncio.get_running_loop()
        head = self._sender.next(loop.time())
        with contextlib.suppress(ConnectionLost):  # the receiver notices, and run ends
            if head is not None:
                await connection.send(head.frame)
            await connection.send(Bye())
        loop.call_later(timeout, connection.abort)

    def retry_now(self) -> bool:
        """Reconnect at once if waiting to (Enter on an empty line, /reconnect)."""
        if self.status is not Status.RECONNECTING:
            return False
        self._retry.set()
        self._show(Retrying())
        return True

    def _since(self) -> int | None:
        """What our ``hello`` resumes after: the last id shown, or None to be a newcomer.

        Once welcomed, always an id, 0 included: a welcome on an empty
        history (``last_id`` 0) followed by a lost connection must get every
        message since on the way back, not the newcomer's most recent few.
        """
        if self.welcomed.is_set():
            return self.resume.last_id
        return self.resume.last_id or None

    async def _session(
        self, connection: ServerConnection, welcome: Welcome, since: int | None
    ) -> None:
        self.connection = connection
        self.welcome = welcome
        first = not self.welcomed.is_set()
        self.welcomed.set()
        self.status = Status.CONNECTED
        self.retry_at = None
        self._gaps.connected()
        self._resumed = bool(since)
        self.roster.welcome(welcome)
        self._show(Welcomed(welcome, again=not first))
        unsent = [frame.room for frame in self._sender.requests_of(JoinRoom)]
        to_join = self.rooms.welcome(welcome.rooms, still_asking=unsent)
        if to_join is not None:  # --room: before any pending message goes, which may be for it
            await connection.send(JoinRoom(room=to_join))
        asked = self.requested_name
        if first and asked and name_key(asked) != name_key(welcome.name):
            # Only a server that names users by their certificate (--names cn)
            # grants another name than the one asked for; say so, once.
            self._show(Renamed(welcome.name, asked))
        if first:
            self._expiry_warning()
        if since is None:
            # A newcomer: what came before this welcome is history (its most
            # recent lines are replayed now); a reconnect resumes after it.
            self.resume.advance(welcome.last_id)
        if since is not None and welcome.last_id < since:
            # The server has fewer messages than we have seen: its history
            # was reset (a new --data, or --ephemeral), so its ids start
            # again and must not be mistaken for ones already shown.
            self._show(HistoryReset(welcome.last_id))
            self._shown.clear()
            self._shown_order.clear()
            self.resume.restart(welcome.last_id)
        self.view.changed()
        self._sender.connected()
        self.roster.connected()
        await self._ask_next()  # /who and /whois typed before the welcome, or while away
        await self._ask_certs_again(connection)
        await self._exchange(connection)

    async def _ask_certs_again(self, connection: ServerConnection) -> None:
        """The certificates asked on a connection that ended unanswered: asked again.

        Held messages wait for them; a recipient's waits no longer (its line failed).
        """
        for waiter in self._cert_waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        self._cert_waiters.clear()
        self._certs_asked = deque(key for key in self._certs_asked if not key.startswith("name:"))
        for fp in self._certs_asked:
            await connection.send(CertRequest(fp=fp))

    def _expiry_warning(self) -> None:
        expires = self.certificate_expires
        if expires is None:
            return
        left = expires - dt.datetime.now(dt.UTC)
        if left <= EXPIRY_WARNING:
            self._show(CertificateExpiring(expires, max(0, left.days)))

    async def _exchange(self, connection: ServerConnection) -> NoReturn:
        """Receive frames and send messages until either side fails; raise why.

        Two tasks, ended together: a send that fails ends the session as a
        receive does, and a fault in either surfaces instead of leaving the
        other running alone.
        """
        tasks = [
            asyncio.create_task(self._receive_frames(connection), name="receiver"),
            asyncio.create_task(self._send_messages(connection), name="sender"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:  # the receiver's reason first: it knows why a connection ended
            if task in done:
                task.result()
        raise AssertionError("the receiver and the sender run until they fail")

    async def _receive_frames(self, connection: ServerConnection) -> None:
        while True:
            frame = await connection.receive()
            await self._observe(frame)

    async def _pause(self, why: str) -> None:
        """Wait before the next attempt (or until ``leave``, or the user says "now").

        Every attempt is an event (``reconnecting``); the terminal and plain
        mode show the first after a connection ends, and one the user asked
        for, as a line: later ones only update the status line's countdown,
        so an hour offline is not an hour of lines.
        """
        delay = self.backoff.delay()
        loop = asyncio.get_running_loop()
        attempt = 0 if self.status is not Status.RECONNECTING else self._attempts + 1
        self._attempts = attempt
        asked, self._asked = self._asked, False
        self._show(Reconnecting(why, delay, attempt, asked=asked))
        self.status = Status.RECONNECTING
        self.retry_at = loop.time() + delay
        self.view.changed()
        leaving = asyncio.ensure_future(self._leaving.wait())
        retry = asyncio.ensure_future(self._retry.wait())
        try:
            await asyncio.wait({leaving, retry}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            leaving.cancel()
            retry.cancel()
        if self._retry.is_set():
            self._retry.clear()
            self._asked = True

    # ------------------------------------------------------------------
    # Sending

    async def perform(self, line: str) -> bool:
        """Carry out one typed line; False when it asks to leave (``/quit``)."""
        command = parse_line(line)
        match command:
            case None:  # Enter on an empty line
                self.retry_now()
            case Say():
                await self.say(command)
            case AskWho(room):
                await self._ask(None, room)
            case WhoIs():
                await self._ask(command.name)
            case Ignore():
                self._ignore(command)
            case (
                JoinRoomCmd() | PartRoomCmd() | GoTo() | ListRoomsCmd() | TopicCmd() | OperatorCmd()
            ):
                await self._room_command(command)
            case Clear():
                self.view.clear()
            case ShowHelp():
                self._show(Help(HELP_LINES))
            case Reconnect():
                if not self.retry_now():
                    self._show(Notice("not_reconnecting", _NOT_RECONNECTING[self.status]))
            case Unknown():
                self._failed(Failed(command.code, command.problem, local=True))
            case Quit():
                return False
        return True

    async def _room_command(
        self, command: JoinRoomCmd | PartRoomCmd | GoTo | ListRoomsCmd | TopicCmd | OperatorCmd
    ) -> None:
        """/join, /part, /go, /rooms, /topic: asked of the server, or the room typed into;
        an operator's command (/kick, /ban, /motd, ...) is asked of the server, which says
        whether we may (``not_permitted``).

        The room typed into changes as each line is carried out, not when the
        server answers: a line typed after ``/join #ops`` is meant for #ops.
        """
        rooms = self.rooms
        match command:
            case JoinRoomCmd(room) if rooms.get(room) is not None:
                rooms.go(room)  # a member already: only typed into
                self.typing_into()
            case JoinRoomCmd(room):
                rooms.asked(room)
                await self._ask_room(JoinRoom(room=room))
            case PartRoomCmd(room):
                await self._part(room or rooms.current_name)
            case GoTo(room):
                problem = rooms.go(room)
                if problem is not None:
                    self._failed(Failed(USAGE, problem, local=True))
                else:
                    self.typing_into()
            case ListRoomsCmd():
                await self._ask_room(ListRooms())
            case TopicCmd(text, room):
                await self._topic(text, room)
            case OperatorCmd(frame):
                await self._ask_room(frame)

    async def _part(self, room: str | None) -> None:
        if room is None:
            self._failed(Failed(USAGE, "you are in the lobby: /part #ROOM", local=True))
            return
        await self._ask_room(PartRoom(room=room))
        if self.rooms.current == room_key(room):
            self.rooms.go(None)  # the lines typed next are the lobby's
            self.typing_into()

    async def _topic(self, text: str | None, named: str | None = None) -> None:
        room = named or self.rooms.current_name
        if named is not None and text is not None:  # any room: the server decides (6.7)
            await self._ask_room(SetTopic(room=named, text=text))
        elif room is None:
            self._failed(Failed(USAGE, "the lobby has no topic: /go #ROOM first", local=True))
        elif text is None:  # as far as we were told (none yet for a join under way)
            state = self.rooms.get(room)
            self._show(TopicShown(room, state.topic if state is not None else None))
        else:
            await self._ask_room(SetTopic(room=room, text=text))

    def typing_into(self) -> None:
        """The room typed into changed: said, so that the lines above it are not ambiguous."""
        where = self.rooms.current_name or f"the {DEFAULT_ROOM}"
        self._show(Notice("typing_into", f"-- you type into {where} now"))
        self.view.changed()

    async def _ask_room(
        self, frame: JoinRoom | PartRoom | ListRooms | SetTopic | OperatorFrame
    ) -> None:
        """A room request: in its place among the messages typed (``Sender.add_request``)."""
        self._sender.add_request(frame)
        self.answered.clear()
        self._sender_woken.set()

    def _ignore(self, command: Ignore) -> None:
        key = name_key(command.name)
        if command.ignore:
            self.ignored.add(key)
        else:
            self.ignored.discard(key)
        self._show(Ignoring(command.name, command.ignore))

    def _failed(self, failure: Failed) -> None:
        """A line not carried out: shown, and counted (plain mode's exit code)."""
        self.failures.append(failure)
        self._show(failure)

    async def say(self, say: Say) -> Pending | None:
        """Queue a message: it goes after every one typed before, now or once connected.

        A message too large for the server is not sent (and we say so).
        """
        text = say.text
        if say.to is not None and not say.clear and self.signatures is not None:
            sealed = await self._seal(say.to, say.text)
            if sealed is None:
                return None
            text = sealed
        ref = f"{self._ref_prefix}-{next(self._refs)}"
        room = None if say.to is not None else self.rooms.current_name  # private: no room
        frame = SendMsg(text=text, to=say.to, ref=ref, action=say.action, room=room)
        size = len(encode(frame)) - 1
        if size > MAX_LINE_BYTES:
            limit = f"the server takes {MAX_LINE_BYTES:,}"
            problem = f"not sent: the message is {size:,} bytes, {limit}"
            self._failed(Failed(TOO_LONG, problem, text=say.text, local=True))
            return None
        pending = self._sender.add(frame)
        self.all_echoed.clear()
        self.answered.clear()
        self.view.changed()
        self._sender_woken.set()
        return pending

    async def _seal(self, to: str, text: str) -> str | None:
        """``text`` sealed for ``to`` and for us (protocol.md 6.9), or None, having said why.

        The recipient's certificate comes from the server by name and is
        checked as a signer's would be; the line waits for it (a second at
        most on a LAN), so that what is typed after it stays after it.
        """
        assert self.signatures is not None
        cert: x509.Certificate | Error | None = self._recipient_certs.get(name_key(to))
        if cert is None:
            cert = await self._ask_cert_of(to)
        if isinstance(cert, Error) and cert.code == ErrorCode.NO_SUCH_USER:
            self._failed(Failed(cert.code, cert.message, text=text))  # as the msg would get
            return None
        if isinstance(cert, Error):
            cert = None
        now = dt.datetime.now(dt.UTC)
        problem = (
            f"the server has no certificate of {to!r} (they never connected to it?)"
            if cert is None
            else self.signatures.recipient_problem(cert, to, now)
            or seal_problem(cert)
            or seal_problem(self.signatures.cert)
        )
        if problem is not None or cert is None:
            clear = f"/msg! {to} TEXT sends it in the clear"
            why = f"not sent: cannot seal it for {to}: {problem}; {clear}"
            self._failed(Failed(NOT_SEALED, why, text=text, local=True))
            return None
        self._recipient_certs[name_key(to)] = cert
        return seal(text, [cert, self.signatures.cert])

    async def _ask_cert_of(self, name: str) -> x509.Certificate | Error | None:
        """``cert {name}``: the certificate, the server's refusal, or None (not connected)."""
        if self.connection is None:
            return None
        key = f"name:{name_key(name)}"
        waiter = self._cert_waiters.get(key)
        if waiter is None:
            waiter = asyncio.get_running_loop().create_future()
            self._cert_waiters[key] = waiter
            self._certs_asked.append(key)
            await self._send_if_connected(CertRequest(name=name))
        try:
            async with asyncio.timeout(CERT_WAIT):
                return await asyncio.shield(waiter)
        except TimeoutError:
            return None

    async def _send_messages(self, connection: ServerConnection) -> None:
        """The connection's one sender of messages: ``Sender`` says which, and when.

        Runs for as long as the session; the receiver feeds the ``Sender``
        the server's answers and wakes this up. ConnectionLost ends it.
        After ``leave`` it sends nothing more (the server reads nothing after
        our ``bye``) but runs on until the receiver sees the connection end.
        """
        loop = asyncio.get_running_loop()
        while True:
            self._sender_woken.clear()
            head = None if self._leaving.is_set() else self._sender.next(loop.time())
            if head is not None:
                if isinstance(head, Pending):
                    self._sign(head)
                await connection.send(head.frame)
                if isinstance(head, Request):
                    self._check_answered()  # sent is done for a request
                continue
            resend_at = None if self._leaving.is_set() else self._sender.resend_at
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(resend_at):
                    await self._sender_woken.wait()

    def _sign(self, pending: Pending) -> None:
        """Sign a message as it first leaves: once welcomed, so under the name granted.

        Resends carry the same signature (the frame is kept), as they carry the same ref.
        """
        me = self.name
        if self.signatures is None or pending.frame.sig is not None or me is None:
            return
        now = dt.datetime.now(dt.UTC)
        pending.frame = self.signatures.sign(pending.frame, me, now)

    async def _ask(self, whois: str | None, room: str | None = None) -> None:
        """``/who`` (None), ``/who #ROOM`` or ``/whois NAME``: asked now, or once connected."""
        self.roster.ask(whois, room)
        self.answered.clear()
        await self._ask_next()

    async def _ask_next(self) -> None:
        """Send the next ``who`` the roster needs, if connected and none is out."""
        if self.connection is None or self._leaving.is_set():
            return
        frame = self.roster.next_request()
        if frame is not None:
            await self._send_if_connected(frame)

    async def _send_if_connected(self, frame: Frame) -> None:
        connection = self.connection
        if connection is None:
            return  # the roster asks again after the reconnect; gaps are filled again
        with contextlib.suppress(ConnectionLost):  # the receive side notices and reconnects
            await connection.send(frame)

    # ------------------------------------------------------------------
    # Receiving

    async def _observe(self, frame: Frame) -> None:
        match frame:
            case Msg():
                await self._message(frame)
            case Cert():
                self._cert(frame)
            case Ack():
                self._sender_changed(self._sender.acked(frame.ref, frame.id))
            case Gap():
                self._show(Missed(frame))
                await self._ask_history(self._gaps.gap(frame.from_id, frame.to_id))
            case HistoryEnd():
                await self._history_end(frame)
            case Error():
                await self._error(frame)
            case Users():
                await self._users(frame)
            case RoomList():
                self.rooms.listed(frame)
                self._show(RoomsListed(frame))
            case RoomJoinedFrame() | Parted() | Topic():
                self._room_event(frame)
            case Join() | Leave():
                self._presence(frame)
            case ServerNotice():
                self._show(OperatorNotice(frame, about_me=self._names_me(frame.name)))
            case _:
                pass  # ping and bye are the connection's; anything else is not for us

    async def _error(self, frame: Error) -> None:
        cert_refused = frame.code == ErrorCode.NO_SUCH_CERT or (
            frame.code == ErrorCode.NO_SUCH_USER
            and frame.ref is None
            and self._certs_asked
            and self._certs_asked[0].startswith("name:")
        )
        if cert_refused and self._certs_asked and self.signatures:
            asked = self._certs_asked.popleft()  # answers come in the order asked
            waiter = self._cert_waiters.pop(asked, None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(frame)
            else:
                self.signatures.unknown.add(asked)
            self._show_held()
            return
        ref = frame.ref
        if ref is not None and ref in self.pending:
            # Only rate_limited is resent (we sent too fast). Any other
            # refusal is final (docs/protocol.md 9.2), `internal` included:
            # a store that failed once may keep failing, and resending
            # every second would feed it the message forever.
            now = asyncio.get_running_loop().time()
            dropped = self._sender.refused(ref, frame.code, now)
            self._sender_changed(dropped)
            if dropped is not None:
                text = dropped.frame.text
                self._failed(Failed(frame.code, frame.message, ref=ref, text=text))
            return
        self._show(Failed(frame.code, frame.message, ref=ref))
        if frame.code in ROOM_REFUSALS and self.roster.room_refused():
            self._check_answered()
            await self._ask_next()
        elif frame.code in JOIN_REFUSALS and self.rooms.join_refused() is not None:
            self.typing_into()  # the lobby again: the lines typed next go there

    async def _history_end(self, frame: HistoryEnd) -> None:
        if frame.room is not None:
            # A room's history after ``joined``: not an answer to our own
            # history requests, which never name a room.
            room = frame.room
            self._after_held(lambda: self._room_history_shown(room))  # once its lines are shown
            return
        if self._gaps.in_join_replay and frame.count:
            # A resume replays what we missed; a fresh join, recent history.
            self._show(HistoryShown(frame.count, missed=self._resumed))
        await self._ask_history(self._gaps.end(more=frame.more))

    def _room_history_shown(self, room: str) -> None:
        shown = self.rooms.history_ended(room)  # not frame.count: some were on screen already
        if shown:
            self._show(HistoryShown(shown, missed=False, room=room))

    async def _users(self, page: Users) -> None:
        event, ask = self.roster.users(page)
        if event is not None:
            self._show(event)
            if isinstance(event, WhoisAnswer) and self.signatures is not None:
                self._show(Notice("signer", self.signatures.describe(event.name)))
        if ask is not None:
            await self._send_if_connected(ask)
        else:
            await self._ask_next()
        self._check_answered()

    def _room_event(self, frame: RoomJoinedFrame | Parted | Topic) -> None:
        """The identity's rooms changed: noted, said, and the prompt redrawn."""
        match frame:
            case RoomJoinedFrame():
                self.rooms.joined(frame)
                self._show(EnteredRoom(frame))
            case Parted():
                self._show(LeftRoom(frame, to_lobby=self.rooms.parted(frame)))
            case Topic():
                self.rooms.topic(frame)
                self._show(TopicChanged(frame))
        self.view.changed()

    def _presence(self, frame: Join | Leave) -> None:
        """Someone came or went: online (the lobby), or a room's membership (``room``)."""
        if frame.room is not None:
            self.rooms.members_changed(frame.room, 1 if isinstance(frame, Join) else -1)
            self.roster.spoke(frame.name)
        elif isinstance(frame, Join):
            self.roster.joined(frame.name)
        else:
            self.roster.left()
        self.view.changed()
        self._show(Joined(frame) if isinstance(frame, Join) else Left(frame))

    async def _message(self, msg: Msg) -> None:
        self._gaps.received(msg.id, replay=msg.replay)
        own = msg.from_ == self.name
        if own:
            self._sender_changed(self._sender.echoed(msg.id))
        if msg.id in self._shown:
            return  # already on screen: never twice
        self._shown.add(msg.id)
        self._shown_order.append(msg.id)
        if len(self._shown_order) > SHOWN_IDS_KEPT:
            self._shown.discard(self._shown_order.popleft())
        self.resume.advance(msg.id)
        self.roster.spoke(msg.from_)
        if name_key(msg.from_) in self.ignored:
            return  # counted as seen, never shown
        fp = self.signatures.needs(msg) if self.signatures is not None else None
        if fp is not None and fp not in self._certs_asked:
            self._certs_asked.append(fp)
            await self._send_if_connected(CertRequest(fp=fp))
        if fp is not None or self._held:
            self._held.append((msg, own))  # shown in order, once its signer's certificate is in
            return
        self._show_message(msg, own)

    def _cert(self, frame: Cert) -> None:
        """A certificate came: a signer's (the messages waiting for it are shown, in
        order) or, asked by name, a recipient's to seal for."""
        asked = frame.fp if frame.name is None else f"name:{name_key(frame.name)}"
        if asked in self._certs_asked:
            self._certs_asked.remove(asked)
        learnt = self.signatures is not None and self.signatures.learn(frame.fp, frame.pem)
        waiter = self._cert_waiters.pop(asked, None)
        if waiter is not None and not waiter.done():
            certs = self.signatures.certs if self.signatures is not None else {}
            waiter.set_result(certs.get(frame.fp) if learnt else None)
        self._show_held()

    def _show(self, event: Event) -> None:
        """Show ``event`` now, or after the messages held for a certificate."""
        # What the connection is doing is news of now: it never waits behind messages.
        now = isinstance(event, Reconnecting | Retrying)
        if self._held and not self._releasing and not now:
            self._held.append(event)
        else:
            self.view.show(event)

    def _after_held(self, action: Callable[[], None]) -> None:
        """Do ``action`` now, or once what is held before it has been shown."""
        if self._held and not self._releasing:
            self._held.append(action)
        else:
            action()

    def _waits(self, msg: Msg) -> bool:
        """True while ``msg``'s signer's certificate is on its way."""
        return self.signatures is not None and self.signatures.needs(msg) is not None

    def _show_held(self) -> None:
        while self._held:
            item = self._held[0]
            if isinstance(item, tuple) and self._waits(item[0]):
                return  # its certificate is still on its way
            self._held.popleft()
            self._releasing = True  # what showing it says comes now, not after the rest
            try:
                if isinstance(item, tuple):
                    self._show_message(*item)
                elif callable(item):
                    item()
                else:
                    self.view.show(item)
            finally:
                self._releasing = False

    def _show_message(self, msg: Msg, own: bool) -> None:
        verdict = self.signatures.judge(msg) if self.signatures is not None else None
        sealed = self.signatures is not None and msg.to is not None and is_sealed(msg.text)
        if sealed:
            msg = dataclasses.replace(msg, text=self._open(msg.text))  # judged as sealed
        if verdict is not None:
            self._tell_verdict(msg, verdict)
            if self.require_signed and not verdict.verified:
                who, why = shown(msg.from_), verdict.reason
                text = f"-- hidden: a message from {who} that is not verified ({why})"
                self._show(Notice("unverified_hidden", text))
                return
        day = _local_day(msg.ts)
        if day is not None and day != self._last_day:
            if self._last_day is not None or day != dt.datetime.now().astimezone().date():
                self._show(DayChanged(day))  # not before today's first message of a run
            self._last_day = day
        me = self.name
        self.rooms.message(msg, own=own)
        mention = not own and me is not None and mentions(msg.text, me)
        self._show(Message(msg, own=own, mention=mention, verdict=verdict, sealed=sealed))

    def _open(self, text: str) -> str:
        """A sealed private message's text, or what stands in for it when we cannot read it."""
        assert self.signatures is not None
        try:
            return open_sealed(text, self.signatures.key, self.signatures.cert)
        except SealError as exc:
            return f"[a sealed message you cannot read: {exc}]"

    def _tell_verdict(self, msg: Msg, verdict: Verdict) -> None:
        """What a verdict says beyond the message's own mark: a skipped message, a new key."""
        who = shown(msg.from_)
        if verdict.missing:
            count = "a message" if verdict.missing == 1 else f"{verdict.missing} messages"
            self._show(Notice("missing", f"-- {count} from {who} is missing (withheld?)"))
        if verdict.pin_changed:
            text = (
                f"-- WARNING: {who} signs with a certificate other than the one first seen "
                "for that name: someone may be impersonating them"
            )
            self._show(Notice("certificate_changed", text))

    def _sender_changed(self, settled: Pending | None) -> None:
        """After the server answered: the sender may go on; a settled message leaves the list."""
        self._sender_woken.set()
        if settled is None:
            return
        if not self.pending:
            self.all_echoed.set()
        self._check_answered()
        self.view.changed()

    def _check_answered(self) -> None:
        if not self.pending and not self._sender.requests and not self.roster.asking:
            self.answered.set()

    async def _ask_history(self, since: int | None) -> None:
        if since is not None:
            await self._send_if_connected(HistoryRequest(since=since, limit=FILL_PAGE))


# Refusals of a join (protocol.md 6.5.2): the room typed into goes back to the lobby.
JOIN_REFUSALS: Final = frozenset({ErrorCode.NO_SUCH_ROOM, ErrorCode.TOO_MANY_ROOMS})
# Refusals of a who for a room: the question is answered.
ROOM_REFUSALS: Final = frozenset({ErrorCode.NO_SUCH_ROOM, ErrorCode.NOT_A_MEMBER})

_NOT_RECONNECTING: Final = {
    Status.CONNECTING: "-- still connecting for the first time",
    Status.CONNECTED: "-- connected: /reconnect is for when the connection is lost",
    Status.CLOSED: "-- the chat has ended",
    Status.RECONNECTING: "-- reconnecting now",
}


def _local_day(ts: str) -> dt.date | None:
    moment = parse_ts(ts)
    return moment.astimezone().date() if moment is not None else None


def _passing(exc: ClientError) -> bool:
    """A refusal that says "not now" (Redis down): retried even before a first welcome."""
    return isinstance(exc, SessionRefused) and exc.reason in TRANSIENT_BYE_REASONS


def _retryable(exc: ClientError, certificate_failures: int) -> bool:
    """After a first welcome, which failures are worth another attempt."""
    if isinstance(exc, CannotConnect | ConnectionLost):
        return True
    if isinstance(exc, CertificateRejected):
        # A server killed mid-handshake looks the same as one refusing us.
        return certificate_failures <= CERTIFICATE_RETRIES
    if isinstance(exc, SessionRefused):
        # A refused hello ends with a bye of its code as the reason (5.2):
        # the permanent reasons cover those codes too; after a kick or a ban
        # we do not come straight back (FINAL_BYE_REASONS, protocol.md 6.7).
        return exc.reason not in FINAL_BYE_REASONS
    return False  # the server's certificate changed, or is not for --cn: never retry

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
import itertools
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Final, NoReturn, Protocol

from ..errors import (
    CannotConnect,
    CertificateRejected,
    ClientError,
    ConnectionLost,
    SessionRefused,
)
from ..names import name_key, shown
from ..protocol import (
    MAX_LINE_BYTES,
    PERMANENT_BYE_REASONS,
    Ack,
    Error,
    Frame,
    Gap,
    HistoryEnd,
    HistoryRequest,
    Join,
    Joined,
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
    Who,
    encode,
)
from ..sanitize import visible
from ..sansio.sender import RATE_RETRY_DELAY, Pending, Sender
from .commands import (
    HELP_LINES,
    AskWho,
    Clear,
    GoTo,
    Ignore,
    JoinRoomCmd,
    ListRoomsCmd,
    PartRoomCmd,
    Quit,
    Say,
    ShowHelp,
    TopicCmd,
    Unknown,
    WhoIs,
    parse_line,
)
from .connection import ServerConnection
from .gaps import GapFiller
from .render import Fragments, event_fragments, notice, room_list_lines, welcome_lines
from .rooms import Rooms
from .roster import Roster
from .state import ResumePoint

SHOWN_IDS_KEPT: Final = 10_000
FILL_PAGE: Final = 100  # small pages: a slow reader gets a fill through in rounds
CERTIFICATE_RETRIES: Final = 3  # EOF before welcome after we were welcome before

Opener = Callable[[], Awaitable[ServerConnection]]


class ChatView(Protocol):
    """What a front end shows."""

    def message(self, msg: Msg, *, own: bool) -> None: ...
    def notice(self, fragments: Fragments) -> None: ...
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
        error_codes: bool = True,
        retry_delay: float = RATE_RETRY_DELAY,
        room: str | None = None,
    ) -> None:
        self._opener = opener
        self.error_codes = error_codes  # False: the user's own errors without protocol codes
        self.view = view
        self.requested_name = name
        self.resume = resume or ResumePoint(None, "")
        self.backoff = backoff or Backoff()
        self.status = Status.CONNECTING
        self.retry_at: float | None = None  # loop time of the next attempt
        self.welcome: Welcome | None = None
        self.connection: ServerConnection | None = None
        self._sender = Sender(retry_delay)
        self._sender_woken = asyncio.Event()  # the sender may have something to send now
        self.all_echoed = asyncio.Event()
        self.all_echoed.set()
        self.welcomed = asyncio.Event()  # set at the first welcome
        self._shown: set[int] = set()
        self._shown_order: deque[int] = deque()
        self._gaps = GapFiller()
        self._resumed = False  # this connection's hello carried ``since``
        self._refs = itertools.count(1)
        self._ref_prefix = secrets.token_hex(4)
        self._leaving = asyncio.Event()
        self.roster = Roster()
        self.rooms = Rooms(wanted=room)
        self.ignored: set[str] = set()  # name keys hidden by /ignore

    @property
    def name(self) -> str | None:
        return self.welcome.name if self.welcome is not None else None

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
                    since = self.resume.last_id or None
                    welcome = await connection.hello(self.requested_name, since=since)
                except ClientError as exc:
                    if isinstance(exc, CertificateRejected):
                        certificate_failures += 1
                    if first or not _retryable(exc, certificate_failures):
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
                        return
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

    async def leave(self) -> None:
        """Say ``bye`` and end ``run``."""
        self._leaving.set()
        connection = self.connection
        if connection is not None:
            await connection.close()

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
        for line in welcome_lines(welcome):
            self.view.notice(line)
        to_join = self.rooms.welcome(welcome.rooms)
        if to_join is not None:  # --room: before any pending message goes, which may be for it
            await connection.send(JoinRoom(room=to_join))
        asked = self.requested_name
        if first and asked and name_key(asked) != name_key(welcome.name):
            # Only a server that names users by their certificate (--names cn)
            # grants another name than the one asked for; say so, once.
            self.view.notice(
                notice(
                    "-- the server names you by your certificate, so you are "
                    f"{shown(welcome.name)} here ('{shown(asked)}' was not used)"
                )
            )
        if since is not None and welcome.last_id < since:
            # The server has fewer messages than we have seen: its history
            # was reset (a new --data, or --ephemeral), so its ids start
            # again and must not be mistaken for ones already shown.
            self.view.notice(notice("-- the server's history was reset; ids start again"))
            self._shown.clear()
            self._shown_order.clear()
            self.resume.restart(welcome.last_id)
        self.view.changed()
        self._sender.connected()
        await self._exchange(connection)

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
        """Wait before the next attempt (or until ``leave``).

        The first failure after a connection ends is told in a line; later
        attempts only update the status (the toolbar's countdown), so an
        hour offline is not an hour of lines.
        """
        delay = self.backoff.delay()
        loop = asyncio.get_running_loop()
        if self.status is not Status.RECONNECTING:
            self.view.notice(notice(f"-- {visible(why)}; reconnecting in {delay:.1f} s"))
        self.status = Status.RECONNECTING
        self.retry_at = loop.time() + delay
        self.view.changed()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._leaving.wait()

    # ------------------------------------------------------------------
    # Sending

    async def perform(self, line: str, show: Callable[[Fragments], None]) -> bool:
        """Carry out one typed line; False when it asks to leave (``/quit``)."""
        command = parse_line(line)
        match command:
            case Say():
                await self.say(command)
            case AskWho():
                await self._send_if_connected(Who())
            case WhoIs():
                self.roster.start_whois(command.name)
                await self._send_if_connected(Who())
            case Ignore():
                self._ignore(command, show)
            case JoinRoomCmd() | PartRoomCmd() | GoTo() | ListRoomsCmd() | TopicCmd():
                await self._room_command(command, show)
            case Clear():
                self.view.clear()
            case ShowHelp():
                for help_line in HELP_LINES:
                    show(notice(f"-- {help_line}"))
            case Unknown():
                show(notice(f"-- {command.problem}", style="class:error"))
            case Quit():
                return False
        return True

    async def _room_command(
        self,
        command: JoinRoomCmd | PartRoomCmd | GoTo | ListRoomsCmd | TopicCmd,
        show: Callable[[Fragments], None],
    ) -> None:
        """/join, /part, /go, /rooms, /topic: asked of the server, or the room typed into."""
        rooms = self.rooms
        match command:
            case JoinRoomCmd(room):
                if rooms.get(room) is not None:
                    rooms.go(room)
                    self.view.changed()
                    return
                rooms.asked(room)
                await self._ask(JoinRoom(room=room), show)
            case PartRoomCmd(room):
                target = room or rooms.current_name
                if target is None:
                    show(notice("-- you are in the lobby: /part #ROOM", style="class:error"))
                    return
                await self._ask(PartRoom(room=target), show)
            case GoTo(room):
                problem = rooms.go(room)
                if problem is not None:
                    show(notice(f"-- {problem}", style="class:error"))
                self.view.changed()
            case ListRoomsCmd():
                await self._ask(ListRooms(), show)
            case TopicCmd(text):
                self._topic(text, show)
                if text is not None and rooms.current_name is not None:
                    await self._ask(SetTopic(room=rooms.current_name, text=text), show)

    def _topic(self, text: str | None, show: Callable[[Fragments], None]) -> None:
        """/topic without text: the topic of the room typed into (the lobby has none)."""
        state = self.rooms.get(self.rooms.current_name)
        if state is None:
            show(notice("-- the lobby has no topic: /go #ROOM first", style="class:error"))
        elif text is None:
            topic = visible(state.topic) if state.topic else "(none)"
            show(notice(f"-- topic of {visible(state.name)}: {topic}"))

    async def _ask(self, frame: Frame, show: Callable[[Fragments], None]) -> None:
        """A room request: sent now, or refused for being offline (it is not kept)."""
        if self.connection is None:
            show(notice("-- not connected: try again once connected", style="class:error"))
            return
        await self._send_if_connected(frame)

    def _ignore(self, command: Ignore, show: Callable[[Fragments], None]) -> None:
        key = name_key(command.name)
        if command.ignore:
            self.ignored.add(key)
            show(notice(f"-- ignoring {shown(command.name)} (on this client; /unignore to undo)"))
        else:
            self.ignored.discard(key)
            show(notice(f"-- showing {shown(command.name)} again"))

    async def say(self, say: Say) -> Pending | None:
        """Queue a message: it goes after every one typed before, now or once connected.

        A message too large for the server is not sent (and we say so).
        """
        ref = f"{self._ref_prefix}-{next(self._refs)}"
        room = None if say.to is not None else self.rooms.current_name  # private: no room
        frame = SendMsg(text=say.text, to=say.to, ref=ref, action=say.action, room=room)
        size = len(encode(frame)) - 1
        if size > MAX_LINE_BYTES:
            limit = f"the server takes {MAX_LINE_BYTES:,}"
            self.view.notice(
                notice(f"!! not sent: the message is {size:,} bytes, {limit}", style="class:error")
            )
            return None
        pending = self._sender.add(frame)
        self.all_echoed.clear()
        self.view.changed()
        self._sender_woken.set()
        return pending

    async def _send_messages(self, connection: ServerConnection) -> None:
        """The connection's one sender of messages: ``Sender`` says which, and when.

        Runs for as long as the session; the receiver feeds the ``Sender``
        the server's answers and wakes this up. ConnectionLost ends it.
        """
        loop = asyncio.get_running_loop()
        while True:
            self._sender_woken.clear()
            pending = self._sender.next(loop.time())
            if pending is not None:
                await connection.send(pending.frame)
                continue
            resend_at = self._sender.resend_at  # a refused message waits until then
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(resend_at):
                    await self._sender_woken.wait()

    async def _send_if_connected(self, frame: Frame) -> None:
        connection = self.connection
        if connection is None:
            return  # pending messages go out after the reconnect; a lost `who` does not matter
        with contextlib.suppress(ConnectionLost):  # the receive side notices and reconnects
            await connection.send(frame)

    # ------------------------------------------------------------------
    # Receiving

    async def _observe(self, frame: Frame) -> None:
        match frame:
            case Msg():
                self._message(frame)
            case Ack():
                self._sender_changed(self._sender.acked(frame.ref, frame.id))
            case Gap():
                self.view.notice(_shown(frame))
                await self._ask_history(self._gaps.gap(frame.from_id, frame.to_id))
            case HistoryEnd():
                await self._history_end(frame)
            case Error(ref=str(ref)) if ref in self.pending:
                # Only rate_limited is resent (we sent too fast). Any other
                # refusal is final (docs/protocol.md 9.2), `internal` included:
                # a store that failed once may keep failing, and resending
                # every second would feed it the message forever.
                now = asyncio.get_running_loop().time()
                dropped = self._sender.refused(ref, frame.code, now)
                self._sender_changed(dropped)
                if dropped is not None:
                    self.view.notice(_shown(frame, codes=self.error_codes))
            case Users():
                await self._users(frame)
            case RoomList():
                self.rooms.listed(frame)
                for line in room_list_lines(frame):
                    self.view.notice(line)
            case Joined() | Parted() | Topic():
                self._room_event(frame)
            case _:
                self._presence(frame)
                fragments = event_fragments(frame, codes=self.error_codes)
                if fragments is not None:
                    self.view.notice(fragments)

    async def _history_end(self, frame: HistoryEnd) -> None:
        plural = "" if frame.count == 1 else "s"
        if frame.room is not None:
            # A room's history after ``joined``: not an answer to our own
            # history requests, which never name a room.
            self.rooms.history_ended(frame.room)
            if frame.count:
                text = f"-- {frame.count} earlier message{plural} of {visible(frame.room)} above"
                self.view.notice(notice(text))
            return
        if self._gaps.in_join_replay and frame.count:
            # A resume replays what we missed; a fresh join, recent history.
            kind = "missed" if self._resumed else "earlier"
            self.view.notice(notice(f"-- {frame.count} {kind} message{plural} above"))
        await self._ask_history(self._gaps.end(more=frame.more))

    async def _users(self, page: Users) -> None:
        step = self.roster.users(page)
        if step is None:
            self.view.notice(_shown(page))
        elif step.ask_after is not None:
            await self._send_if_connected(Who(cursor=step.ask_after))
        elif step.answer is not None:
            self.view.notice(notice(step.answer))

    def _room_event(self, frame: Joined | Parted | Topic) -> None:
        """The identity's rooms changed: noted, said, and the prompt redrawn."""
        match frame:
            case Joined():
                self.rooms.joined(frame)
            case Parted():
                if self.rooms.parted(frame):
                    self.view.notice(notice("-- you type into the lobby now"))
            case Topic():
                self.rooms.topic(frame)
        self.view.notice(_shown(frame))
        self.view.changed()

    def _presence(self, frame: Frame) -> None:
        if isinstance(frame, Join | Leave) and frame.room is not None:
            self.rooms.members_changed(frame.room, 1 if isinstance(frame, Join) else -1)
            self.roster.spoke(frame.name)
        elif isinstance(frame, Join):
            self.roster.joined(frame.name)
        elif isinstance(frame, Leave):
            self.roster.left()
        else:
            return
        self.view.changed()

    def _message(self, msg: Msg) -> None:
        self._gaps.received(msg.id, replay=msg.replay)
        if msg.from_ == self.name:
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
        own = msg.from_ == self.name
        self.rooms.message(msg, own=own)
        self.view.message(msg, own=own)

    def _sender_changed(self, settled: Pending | None) -> None:
        """After the server answered: the sender may go on; a settled message leaves the list."""
        self._sender_woken.set()
        if settled is None:
            return
        if not self.pending:
            self.all_echoed.set()
        self.view.changed()

    async def _ask_history(self, since: int | None) -> None:
        if since is not None:
            await self._send_if_connected(HistoryRequest(since=since, limit=FILL_PAGE))


def _shown(frame: Frame, *, codes: bool = True) -> Fragments:
    fragments = event_fragments(frame, codes=codes)
    assert fragments is not None
    return fragments


def _retryable(exc: ClientError, certificate_failures: int) -> bool:
    """After a first welcome, which failures are worth another attempt."""
    if isinstance(exc, CannotConnect | ConnectionLost):
        return True
    if isinstance(exc, CertificateRejected):
        # A server killed mid-handshake looks the same as one refusing us.
        return certificate_failures <= CERTIFICATE_RETRIES
    if isinstance(exc, SessionRefused):
        # A refused hello ends with a bye of its code as the reason (5.2):
        # the permanent reasons cover those codes too.
        return exc.reason not in PERMANENT_BYE_REASONS
    return False  # the server's certificate changed, or is not for --cn: never retry

"""The server's side of one connection, sans I/O: protocol v1's session rules in one place.

In the style of h11 and websockets: ``server/session.py`` feeds this
machine the bytes it receives (``receive_data``, with the loop's time),
pulls ``events`` one at a time and writes what ``data_to_send`` returns.
Nothing here touches a socket, an event loop, a timer or the hub, so every
rule of docs/protocol.md 5, 11 and 12 is checked by a unit test in
microseconds (tests/unit/test_server_machine.py).

What the machine owns:

* the frame order: which frame is accepted in which state (``_TRANSITIONS``,
  docs/protocol.md 5.1 and 5.2);
* errors: a ``ProtocolViolation`` counts toward ``max_errors``, a
  ``Refusal`` does not; a fatal one, or the last one allowed, ends the
  session with ``bye protocol_error`` (12.1);
* refused hellos end the session with their code as the reason (5.2);
* the rate limit and ``bye flooding`` (12.3): the session's own token
  bucket, and its identity's, shared by all the sessions of one
  certificate, which the application hands over with ``accept``;
* keepalive: ``ping`` after ``ping_interval`` of silence, ``bye timeout``
  after ``idle_timeout`` (11);
* "answer what you owe, then close": after ``bye`` or EOF the session
  reads nothing more, but the answers it owes (acks and echoes of
  messages being stored, the replay, history replies) still go out before
  it closes (9.1). The application says what it owes with ``owe`` and
  ``answered``; the machine says when the session may close.

States::

    AWAIT_HELLO --hello--> DECIDING --accept()--> ACTIVE --bye/EOF--> FINISHING
        |                     \\--refuse()--> CLOSED        \\             | all answered
        |                                                  \\---------> CLOSED
        \\--- close(reason), from any state, and any fatal error ---> CLOSED

In DECIDING the application chooses the name (the hub knows who owns
which): it must call ``accept`` or ``refuse`` before it asks for the next
event, which is why events are pulled one at a time, as in h11.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..errors import ProtocolError, ProtocolViolation, Refusal
from ..protocol import (
    HELLO_REFUSALS,
    PROTOCOL_VERSION,
    Announce,
    Ban,
    Bye,
    ByeReason,
    CertRequest,
    Error,
    ErrorCode,
    Frame,
    FrameDecoder,
    Hello,
    HistoryRequest,
    JoinRoom,
    Kick,
    ListRooms,
    Mute,
    PartRoom,
    Ping,
    Pong,
    SendMsg,
    SetMotd,
    SetTopic,
    Unban,
    Unmute,
    Welcome,
    Who,
    encode,
)
from .ratelimit import TokenBucket


class LocalProtocolError(Exception):
    """The application used the machine wrongly (h11's name): a bug here, not the peer's."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The limits one connection is held to (``server.config.Limits`` carries the values)."""

    max_line_bytes: int
    max_errors: int
    rate: float  # requests a second; 0: unlimited
    burst: int
    flood_limit: int
    ping_interval: float
    idle_timeout: float


class State(enum.Enum):
    AWAIT_HELLO = "await_hello"
    DECIDING = "deciding"  # a hello is in; the application picks the name
    ACTIVE = "active"
    FINISHING = "finishing"  # the peer is done sending; answers still owed
    CLOSED = "closed"


# -- events the application gets ------------------------------------------------------
# Plain (not frozen) slotted dataclasses: one is made per frame, and a frozen
# dataclass's __init__ costs several times more. Treat them as read-only.


@dataclass(slots=True)
class HelloReceived:
    """A ``hello`` of the right version: call ``accept`` or ``refuse`` next."""

    hello: Hello


# An operator's requests (docs/protocol.md 6.7): rate-limited as every request is.
OperatorRequest = Kick | Mute | Unmute | Ban | Unban | SetMotd | Announce
Request = (
    SendMsg
    | Who
    | HistoryRequest
    | JoinRoom
    | PartRoom
    | ListRooms
    | SetTopic
    | CertRequest
    | OperatorRequest
)


@dataclass(slots=True)
class RequestReceived:
    """A request to carry out (state and rate limit already checked)."""

    frame: Request


@dataclass(slots=True)
class ErrorSent:
    """A frame was answered with ``error`` and the session goes on (for the log).

    A ``ProtocolViolation`` is the peer's misbehaviour; a ``Refusal`` (an
    empty text) is routine.
    """

    error: ProtocolError


@dataclass(slots=True)
class RateLimited:
    """A request refused for want of a token (counted; logged when ``first``).

    ``limit`` says whose bucket was empty: ``rate``, the session's own;
    ``identity_rate``, the one all sessions of its identity share. ``first``:
    the first refused in a row of them (one log line per episode).
    """

    rate: float
    limit: str = "rate"
    first: bool = True


@dataclass(slots=True)
class Finishing:
    """The peer has finished sending; stop reading it and wait for ``Closed``."""

    reason: ByeReason


@dataclass(slots=True)
class Closed:
    """The session is over: close the connection after ``data_to_send``.

    ``welcomed`` says whether it had been (only then do the others hear it
    left); ``bye_sent`` whether a ``bye`` is among the data to send.
    """

    reason: str
    welcomed: bool
    bye_sent: bool


Event = HelloReceived | RequestReceived | ErrorSent | RateLimited | Finishing | Closed


# -- the rules, as data ---------------------------------------------------------------


class _EndOfInput:
    """The peer's EOF, in line behind the frames that came before it."""


_EOF: Final = _EndOfInput()


class _Act(enum.Enum):
    HELLO = "hello"
    DUPLICATE_HELLO = "duplicate_hello"
    HELLO_REQUIRED = "hello_required"
    REQUEST = "request"
    PONG = "pong"  # answer a ping
    ALIVE = "alive"  # a pong: nothing to do (receiving already counts)
    FINISH = "finish"  # the peer's bye


# Every request costs a token of the rate limit (12.3) and needs a welcome first.
_OPERATOR_REQUESTS: Final = (Kick, Mute, Unmute, Ban, Unban, SetMotd, Announce)
_REQUESTS: Final = (
    *(SendMsg, Who, HistoryRequest, JoinRoom, PartRoom, ListRooms, SetTopic, CertRequest),
    *_OPERATOR_REQUESTS,
)

# What each frame does in each state that reads frames (docs/protocol.md 5.1, 5.2).
_TRANSITIONS: Final[Mapping[State, Mapping[type[Frame], _Act]]] = {
    State.AWAIT_HELLO: {
        Hello: _Act.HELLO,
        **dict.fromkeys(_REQUESTS, _Act.HELLO_REQUIRED),
        Ping: _Act.PONG,
        Pong: _Act.ALIVE,
        Bye: _Act.FINISH,
    },
    State.ACTIVE: {
        Hello: _Act.DUPLICATE_HELLO,
        **dict.fromkeys(_REQUESTS, _Act.REQUEST),
        Ping: _Act.PONG,
        Pong: _Act.ALIVE,
        Bye: _Act.FINISH,
    },
}


# The states in which frames from the peer are taken (DECIDING: kept until decided).
_READING_STATES: Final = frozenset({State.AWAIT_HELLO, State.DECIDING, State.ACTIVE})


class ServerProtocol:
    """The server's side of one client connection, from the end of the TLS handshake."""

    def __init__(self, rules: Rules, now: float) -> None:
        self.rules = rules
        self.state = State.AWAIT_HELLO
        # What the current state does with each frame (None: it reads no frames);
        # kept beside the state, not looked up per frame (an Enum hashes in Python).
        self._table: Mapping[type[Frame], _Act] | None = _TRANSITIONS[State.AWAIT_HELLO]
        self._reading = True  # frames are taken: AWAIT_HELLO, DECIDING, ACTIVE
        self.errors = 0  # violations so far; never decreases (12.1)
        self.last_received = now
        self.welcomed = False
        self._decoder = FrameDecoder.for_server(rules.max_line_bytes)
        # Lists, not deques: an empty deque costs ~620 bytes, and every
        # connection holds two for its whole life (2,000 idle connections:
        # 2.4 MB). The received items are read from ``_next`` on, and the list
        # emptied once read; events are one or two at a time.
        self._received: list[Frame | ProtocolError | _EndOfInput] = []
        self._next = 0  # the first item of _received not handled yet
        self._events: list[Event] = []
        self._outgoing: list[bytes] = []
        self._bucket = TokenBucket(rate=rules.rate, burst=rules.burst)
        # The identity's bucket, shared with its other sessions (accept() is given it).
        self._shared: TokenBucket | None = None
        self._refused_in_a_row = 0  # requests refused for want of a token, in a row
        self._pinged = False  # a ping is out and nothing came back since
        self._owed = 0
        self.finish_reason = ByeReason.DISCONNECTED  # why a finishing session ends

    def __repr__(self) -> str:
        return f"<ServerProtocol {self.state.value} errors={self.errors} owed={self._owed}>"

    @property
    def reading(self) -> bool:
        """Whether frames from the peer are still taken (not after bye, EOF or close)."""
        return self._reading

    # -- input --------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the peer, at ``now`` (every byte is a sign of life, valid or not)."""
        if not self._reading:
            return
        self.last_received = now
        self._pinged = False
        try:
            items = self._decoder.feed(data)
        except ProtocolError:
            return  # the framing broke before: its error is already in line, and ends this
        self._received.extend(items)

    def receive_eof(self) -> None:
        """The peer has closed its side: after the frames before it, answer what it is owed,
        then close. (Frames still waiting, behind a hello being decided, come first.)"""
        if self.reading:
            self._received.append(_EOF)

    def next_event(self, now: float) -> Event | None:
        """The next thing the application must act on, or None until more data comes."""
        events = self._events
        if events:
            return events.pop(0)
        if self.state is State.DECIDING:
            raise LocalProtocolError("accept() or refuse() the hello before the next event")
        received = self._received
        while self._next < len(received) and not events and self._reading:
            item = received[self._next]
            self._next += 1
            if self._next == len(received):
                received.clear()  # all read: the list's storage goes
                self._next = 0
            self._handle(item, now)
        return events.pop(0) if events else None

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._outgoing)

    # -- the application's answers --------------------------------------------------

    def accept(self, welcome: Welcome, *, shared: TokenBucket | None = None) -> None:
        """The hello is accepted under ``welcome.name``: the session is ACTIVE.

        ``shared``: the token bucket of the peer's identity, which its other
        sessions spend from too; each request then needs a token of both.
        """
        self._expect(State.DECIDING, "accept")
        self._shared = shared
        self._enter(State.ACTIVE)
        self.welcomed = True
        self._send(welcome)

    def refuse(self, error: ProtocolError) -> Closed | None:
        """The application refuses what the last event asked for, with ``error``.

        A refused hello ends the session, with the code as the reason (5.2);
        a refused request (no such user, say) is answered and forgotten.
        """
        if self.state is State.CLOSED:
            return None
        if self.state is State.DECIDING:
            reason = HELLO_REFUSALS.get(error.code)
            if reason is None:
                raise LocalProtocolError(f"a hello cannot be refused with {error.code!r}")
            self._send_error(error)
            return self._close(reason, welcomed=False, send_bye=True)
        self._send_error(error)
        return None

    def fail(self) -> Closed | None:
        """An unexpected fault while handling this session's frame: ``error internal``, end."""
        if self.state is State.CLOSED:
            return None
        self._send(Error(code=ErrorCode.INTERNAL, message="internal error"))
        return self.close(ByeReason.INTERNAL_ERROR)

    def owe(self) -> None:
        """The session is owed one more answer (a message's ack and echo, a replay, a reply)."""
        self._owed += 1

    def answered(self) -> Closed | None:
        """One owed answer is out; a finishing session with none left closes now."""
        self._owed -= 1
        if self.state is State.FINISHING and self._owed <= 0:
            return self.close(self.finish_reason, send_bye=False)
        return None

    @property
    def owes_answers(self) -> bool:
        return self._owed > 0

    def close(self, reason: str, *, send_bye: bool = True) -> Closed | None:
        """End the session for ``reason`` (our decision); None if it is already over."""
        if self.state is State.CLOSED:
            return None
        return self._close(reason, welcomed=self.welcomed, send_bye=send_bye)

    def tick(self, now: float) -> Closed | None:
        """Keepalive (11): ping a silent ACTIVE session once; end one silent too long."""
        if self.state is not State.ACTIVE:
            return None
        silent = now - self.last_received
        if silent >= self.rules.idle_timeout:
            return self.close(ByeReason.TIMEOUT)
        if silent >= self.rules.ping_interval and not self._pinged:
            self._pinged = True
            self._send(Ping(t=round(now, 3)))
        return None

    def data_to_send(self) -> list[bytes]:
        """The frames the machine has to send, in order, each once."""
        out = self._outgoing
        if out:
            self._outgoing = []
        return out

    # -- inside -------------------------------------------------------------------

    def _handle(self, item: Frame | ProtocolError | _EndOfInput, now: float) -> None:
        if isinstance(item, _EndOfInput):
            self._finish(ByeReason.DISCONNECTED)
            return
        if isinstance(item, ProtocolError):
            self._error(item)
            return
        assert self._table is not None  # events are pulled only in a state that reads
        act = self._table[type(item)]
        if act is _Act.REQUEST:  # the common case first
            assert isinstance(item, _REQUESTS)
            if self._spend(item, now):
                self._events.append(RequestReceived(item))
            return
        match act:
            case _Act.HELLO:
                assert isinstance(item, Hello)
                self._hello(item)
            case _Act.HELLO_REQUIRED:
                ref = item.ref if isinstance(item, SendMsg) else None
                self._error(
                    ProtocolViolation(ErrorCode.HELLO_REQUIRED, "send hello first", ref=ref)
                )
            case _Act.DUPLICATE_HELLO:
                self._error(
                    ProtocolViolation(ErrorCode.DUPLICATE_HELLO, "hello was already accepted")
                )
            case _Act.PONG:
                assert isinstance(item, Ping)
                self._send(Pong(t=item.t))
            case _Act.ALIVE:
                pass
            case _Act.FINISH:
                self._finish(ByeReason.QUIT)

    def _hello(self, hello: Hello) -> None:
        if hello.v != PROTOCOL_VERSION:
            self._send_error(
                Refusal(
                    ErrorCode.UNSUPPORTED_VERSION,
                    f"this server speaks protocol v{PROTOCOL_VERSION}, not v{hello.v}",
                )
            )
            self._events.append(self._close_now(ByeReason.UNSUPPORTED_VERSION))
            return
        self._enter(State.DECIDING)
        self._events.append(HelloReceived(hello))

    def _spend(self, frame: Request, now: float) -> bool:
        """Take a token for a request, the session's and its identity's; False (the peer
        told) when either has none (12.3)."""
        own, shared = self._bucket, self._shared
        if own.take(now):
            if shared is None or shared.take(now):
                self._refused_in_a_row = 0
                return True
            own.refund()  # not spent: the request is refused
            empty, limit = shared, "identity_rate"
            message = (
                f"slow down: at most {shared.rate:g} requests a second "
                "from all sessions of your certificate together"
            )
        else:
            empty, limit = own, "rate"
            message = f"slow down: at most {own.rate:g} requests a second"
        self._refused_in_a_row += 1
        self._events.append(RateLimited(empty.rate, limit, first=self._refused_in_a_row == 1))
        ref = frame.ref if isinstance(frame, SendMsg) else None
        self._send_error(Refusal(ErrorCode.RATE_LIMITED, message, ref=ref))
        if self._refused_in_a_row >= self.rules.flood_limit:
            self._events.append(self._close_now(ByeReason.FLOODING))
        return False

    def _error(self, error: ProtocolError) -> None:
        """Answer an invalid frame; count a violation; past the limit, end the session."""
        self._send_error(error)
        if isinstance(error, ProtocolViolation):
            self.errors += 1
            if error.fatal or self.errors >= self.rules.max_errors:
                self._events.append(self._close_now(ByeReason.PROTOCOL_ERROR))
                return
        self._events.append(ErrorSent(error))

    def _finish(self, reason: ByeReason) -> None:
        """The peer is done sending (bye, EOF): close now, or once every answer is out."""
        self._drop_received()
        if self.state is State.ACTIVE and self._owed > 0:
            self._enter(State.FINISHING)
            self.finish_reason = reason
            self._events.append(Finishing(reason))
            return
        self._events.append(self._close_now(reason, send_bye=False))

    def _close_now(self, reason: str, *, send_bye: bool = True) -> Closed:
        closed = self.close(reason, send_bye=send_bye)
        assert closed is not None
        return closed

    def _close(self, reason: str, *, welcomed: bool, send_bye: bool) -> Closed:
        self._enter(State.CLOSED)
        self._drop_received()
        if send_bye:
            self._send(Bye(reason=reason))
        return Closed(reason=reason, welcomed=welcomed, bye_sent=send_bye)

    def _drop_received(self) -> None:
        self._received.clear()
        self._next = 0

    def _send_error(self, error: ProtocolError) -> None:
        self._send(Error(code=error.code, message=error.message, ref=error.ref))

    def _send(self, frame: Frame) -> None:
        self._outgoing.append(encode(frame))

    def _enter(self, state: State) -> None:
        self.state = state
        self._table = _TRANSITIONS.get(state)
        self._reading = (
            state is State.AWAIT_HELLO or state is State.DECIDING or state is State.ACTIVE
        )

    def _expect(self, state: State, what: str) -> None:
        if self.state is not state:
            raise LocalProtocolError(f"{what}() in state {self.state.value}")

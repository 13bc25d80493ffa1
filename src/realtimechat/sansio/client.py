"""The client's side of one connection, sans I/O: protocol v1 as a client lives it.

In the style of h11 and websockets, like ``server.py``: an adapter
(``client/connection.py`` for rtchat, ``bench/clients.py`` for
rtchat-bench) says hello with the bytes ``hello`` returns, feeds in what it
reads (``receive_data``, with the loop's time) and the end of the stream
(``receive_eof``), pulls events one at a time and writes what
``data_to_send`` returns. Keepalive is ``tick(now)``, called when a read has
waited until ``deadline`` in vain: no timers inside, so every rule is checked in
microseconds (tests/unit/test_client_machine.py).

What the machine owns:

* before ``welcome`` (docs/protocol.md 5): ``welcome`` connects us; an
  ``error`` or a ``bye`` means the server refused us; a ``ping`` is answered;
* after it, every frame is handed over, but a ``ping`` is answered here and a
  ``bye`` ends the connection: refused for a permanent reason (12.2), lost
  for any other (``chat.py`` then reconnects, 9.5);
* EOF before ``welcome`` means "the server did not accept our certificate":
  with TLS 1.3 our side of the handshake is done before the server has
  checked our certificate, and its refusal shows as an alert or a close
  (shared/pitfalls.md); after it, the connection is lost;
* a frame a newer server sends that we cannot read is skipped and counted
  (``protocol_errors``); broken framing (a line over the limit) loses the
  connection;
* keepalive (11): a ``ping`` after ``ping_interval`` of server silence; the
  connection is lost when nothing at all arrives ``pong_timeout`` after it.

How an ending reads for the user is decided once, here: ``Refused``,
``Rejected`` and ``Lost`` carry the sentence, and ``error_for`` the
exception (and so the exit code) each one means.

States::

    START --hello()--> HELLO_SENT --welcome--> CONNECTED
      |                    |                       |
      +--------------------+-----------------------+--> CLOSED
         before welcome: error, bye (Refused); EOF (Rejected)
         after welcome: bye (Refused if permanent, else Lost); EOF (Lost)
         in any: silence after our ping, broken framing (Lost)
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..errors import (
    CertificateRejected,
    ClientError,
    ConnectionLost,
    ProtocolError,
    SessionRefused,
)
from ..protocol import (
    FINAL_BYE_REASONS,
    MAX_LINE_BYTES,
    PROTOCOL_VERSION,
    Bye,
    ByeReason,
    Error,
    Frame,
    FrameDecoder,
    Hello,
    Ping,
    Pong,
    Welcome,
    encode,
)
from ..sanitize import visible
from .server import LocalProtocolError

#: What a clean close is called in the messages (a TLS alert or a reset has its own words).
SERVER_CLOSED: Final = "the server closed the connection"

# What a `bye` means to the user, for the reasons that need more than their name.
_BYE_EXPLAINED: Final[Mapping[str, str]] = {
    ByeReason.REVOKED: "your certificate has been revoked: ask your admin for a new one",
    ByeReason.EXPIRED: "your certificate has expired: ask your admin for a new one",
    ByeReason.UNTRUSTED: (
        "the server does not accept your certificate as a user's: no CA it trusts issued it, "
        "or it is a CA's certificate; ask your admin for one"
    ),
    ByeReason.SERVER_FULL: "the server is full: try again later",
    ByeReason.TOO_MANY_CONNECTIONS: (
        "too many connections from your address: close some and try again"
    ),
    ByeReason.TOO_MANY_SESSIONS: (
        "too many connections with your certificate: close some and try again"
    ),
    ByeReason.FLOODING: "the server disconnected us for sending too much too fast",
    ByeReason.KICKED: (
        "an operator removed you from the chat (the notice above says who and why); "
        "not reconnecting: start rtchat again to come back"
    ),
    ByeReason.BANNED: "an operator banned you from this server (the notice above says until when)",
}


class State(enum.Enum):
    START = "start"  # TLS is up; no hello yet
    HELLO_SENT = "hello_sent"
    CONNECTED = "connected"  # welcomed
    CLOSED = "closed"


# -- events the application gets ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcomed:
    """The server accepted our hello: we are connected (its replay follows, 8.3)."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """A frame after ``welcome`` for the application (never a ``ping`` or a ``bye``)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A frame we could not read was skipped (a newer server's, say); the connection goes on."""

    error: ProtocolError


@dataclass(frozen=True, slots=True)
class Refused:
    """The server will not have us: ``reason`` is its ``error.code`` or ``bye.reason``.

    ``bye`` says which of the two frames said it (rtchat-bench words them
    differently); the reason of a ``bye`` after ``welcome`` is a permanent one.
    """

    reason: str
    message: str
    bye: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """The connection ended before ``welcome``: the server did not accept our certificate."""

    message: str


@dataclass(frozen=True, slots=True)
class Lost:
    """The connection ended, or is dead, or broke: worth connecting again."""

    message: str


Ending = Refused | Rejected | Lost
Event = Welcomed | FrameReceived | Unreadable | Ending


def error_for(ending: Ending) -> ClientError:
    """The exception an ending is for the caller (its class decides the exit code)."""
    match ending:
        case Refused():
            return SessionRefused(ending.reason, ending.message)
        case Rejected():
            return CertificateRejected(ending.message)
        case Lost():
            return ConnectionLost(ending.message)


# -- the rules, as data ---------------------------------------------------------------


class _EndOfInput:
    """The server's EOF (or a broken connection), in line behind the frames before it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Act(enum.Enum):
    WELCOME = "welcome"
    REFUSED = "refused"  # an error before welcome
    BYE = "bye"
    PONG = "pong"  # answer a ping
    HAND_OVER = "hand_over"
    IGNORE = "ignore"  # before welcome the server sends nothing else (5.1)


_BEFORE_WELCOME: Final[Mapping[type[Frame], _Act]] = {
    Welcome: _Act.WELCOME,
    Error: _Act.REFUSED,
    Bye: _Act.BYE,
    Ping: _Act.PONG,
}
_AFTER_WELCOME: Final[Mapping[type[Frame], _Act]] = {Bye: _Act.BYE, Ping: _Act.PONG}

# What each frame does in each state that reads frames; a frame not listed: ``_DEFAULT``.
_TRANSITIONS: Final[Mapping[State, Mapping[type[Frame], _Act]]] = {
    State.START: _BEFORE_WELCOME,  # a server may refuse us before our hello (server_full)
    State.HELLO_SENT: _BEFORE_WELCOME,
    State.CONNECTED: _AFTER_WELCOME,
}
_DEFAULT: Final[Mapping[State, _Act]] = {
    State.START: _Act.IGNORE,
    State.HELLO_SENT: _Act.IGNORE,
    State.CONNECTED: _Act.HAND_OVER,
}


class ClientProtocol:
    """The client's side of one connection to a server, from the end of the TLS handshake.

    ``server`` names the server in messages (``host:port``).
    """

    def __init__(
        self,
        server: str,
        now: float,
        *,
        ping_interval: float = 30.0,
        pong_timeout: float = 15.0,
        max_line: int = 4 * MAX_LINE_BYTES,
    ) -> None:
        self.server = server
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.state = State.START
        self.welcome: Welcome | None = None
        self.ending: Ending | None = None  # why the connection is over, once it is
        self.protocol_errors = 0  # frames from the server we could not read
        self.last_received = now
        self._pinged_at: float | None = None  # our ping is out and nothing came since
        self._decoder = FrameDecoder.for_client(max_line)
        self._received: deque[Frame | ProtocolError | _EndOfInput] = deque()
        self._events: deque[Event] = deque()
        self._outgoing: list[bytes] = []

    def __repr__(self) -> str:
        return f"<ClientProtocol {self.state.value} {self.server}>"

    @property
    def welcomed(self) -> bool:
        """Whether ``welcome`` has come (the connection may have ended since)."""
        return self.welcome is not None

    # -- output -------------------------------------------------------------------

    def hello(self, name: str | None = None, since: int | None = None) -> bytes:
        """Our ``hello``, to write first (once): ``name`` asked for, ``since`` to resume after."""
        if self.state is not State.START:
            raise LocalProtocolError(f"hello() in state {self.state.value}")
        self.state = State.HELLO_SENT
        return encode(Hello(v=PROTOCOL_VERSION, name=name, since=since))

    def data_to_send(self) -> list[bytes]:
        """The frames the machine has to send (pongs, its ping), in order, each once."""
        out, self._outgoing = self._outgoing, []
        return out

    # -- input --------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes from the server, at ``now`` (every byte is a sign of life, valid or not)."""
        if self.state is State.CLOSED:
            return
        self.last_received = now
        self._pinged_at = None
        try:
            items = self._decoder.feed(data)
        except ProtocolError:
            return  # the framing broke before: its error is already in line, and ends this
        self._received.extend(items)

    def receive_eof(self, reason: str = SERVER_CLOSED) -> None:
        """The connection ended: a close (EOF), or ``reason`` (a TLS alert, a reset).

        It takes effect after the frames that came before it.
        """
        if self.state is not State.CLOSED:
            self._received.append(_EndOfInput(reason))

    def next_event(self) -> Event | None:
        """The next thing the application must act on, or None until more data comes."""
        while not self._events and self._received and self.state is not State.CLOSED:
            self._handle(self._received.popleft())
        return self._events.popleft() if self._events else None

    # -- keepalive (11) -------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When ``tick`` next has something to do if nothing arrives (None: never)."""
        if self.state is State.CLOSED:
            return None
        if self._pinged_at is not None:
            return self._pinged_at + self.pong_timeout
        return self.last_received + self.ping_interval

    def tick(self, now: float) -> None:
        """Time passed with nothing read: ping a silent server; a dead link is ``Lost``.

        Call it only once a read found nothing to read before ``deadline``:
        bytes waiting unread in a buffer are no silence. The ``Lost`` comes
        from ``next_event``, after any event still in line.
        """
        if self.state is State.CLOSED:
            return
        if self._pinged_at is not None:
            if now - self._pinged_at >= self.pong_timeout:
                self._end(Lost(f"the server at {self.server} stopped answering"))
            return
        if now - self.last_received >= self.ping_interval:
            self._pinged_at = now
            self._send(Ping())  # no ``t``: any answer, or anything at all, will do

    # -- inside -------------------------------------------------------------------

    def _handle(self, item: Frame | ProtocolError | _EndOfInput) -> None:
        if isinstance(item, _EndOfInput):
            self._end(self._eof_ending(item.reason))
            return
        if isinstance(item, ProtocolError):
            self._unreadable(item)
            return
        state = self.state
        act = _TRANSITIONS[state].get(type(item), _DEFAULT[state])
        match act:
            case _Act.WELCOME:
                assert isinstance(item, Welcome)
                self.state = State.CONNECTED
                self.welcome = item
                self._events.append(Welcomed(item))
            case _Act.REFUSED:
                assert isinstance(item, Error)
                self._end(Refused(item.code, f"the server refused us: {visible(item.message)}"))
            case _Act.BYE:
                assert isinstance(item, Bye)
                self._end(self._bye_ending(item))
            case _Act.PONG:
                assert isinstance(item, Ping)
                self._send(Pong(t=item.t))
            case _Act.HAND_OVER:
                self._events.append(FrameReceived(item))
            case _Act.IGNORE:
                pass

    def _bye_ending(self, frame: Bye) -> Refused | Lost:
        """A ``bye`` is final (refused) before ``welcome``, for a permanent reason (12.2), or
        after an operator's kick or ban (``FINAL_BYE_REASONS``: no reconnect loop)."""
        reason = frame.reason or "no reason given"
        message = _BYE_EXPLAINED.get(reason, f"the server ended the session: {visible(reason)}")
        if not self.welcomed or reason in FINAL_BYE_REASONS:
            return Refused(reason, message, bye=True)
        return Lost(message)

    def _eof_ending(self, reason: str) -> Rejected | Lost:
        if not self.welcomed:
            # With TLS 1.3 our side of the handshake is done before the server
            # has checked our certificate: its alert (or, from servers that
            # send none, a closed connection) is how a refusal shows.
            return Rejected(f"the server did not accept our certificate: {reason}")
        return Lost(f"connection to {self.server} lost: {reason}")

    def _unreadable(self, error: ProtocolError) -> None:
        if error.fatal:
            self._end(Lost(f"unreadable data from the server: {error.message}"))
            return
        # A newer server may send frames or values we do not know:
        # skip them rather than give up the session.
        self.protocol_errors += 1
        self._events.append(Unreadable(error))

    def _end(self, ending: Ending) -> None:
        self.state = State.CLOSED
        self.ending = ending
        self._received.clear()
        self._events.append(ending)

    def _send(self, frame: Frame) -> None:
        self._outgoing.append(encode(frame))

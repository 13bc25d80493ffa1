"""The client's sans-I/O connection machine: protocol v1 as a client lives it, no sockets, no loop.

Each test feeds a ``ClientProtocol`` what a server would send (and the
time) and checks the events it hands the application, the frames it would
write, and the error each ending means. The rules rtchat and rtchat-bench
once each kept a copy of (before ``welcome``, ``bye``, EOF, keepalive) are
checked here in microseconds. What needs a real server stays with one:
TLS alerts and the server's limits (tests/integration/test_refusals.py,
test_limits.py), the real commands' exit codes (tests/system/test_cli.py).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtimechat.errors import (
    CertificateRejected,
    ConnectionLost,
    ExitCode,
    SessionRefused,
)
from realtimechat.protocol import (
    PERMANENT_BYE_REASONS,
    Ack,
    Bye,
    ByeReason,
    Error,
    ErrorCode,
    Frame,
    FrameDecoder,
    Hello,
    Msg,
    Ping,
    Pong,
    Welcome,
    encode,
)
from realtimechat.sansio.client import (
    ClientProtocol,
    Event,
    FrameReceived,
    Lost,
    Refused,
    Rejected,
    State,
    Unreadable,
    Welcomed,
    error_for,
)
from realtimechat.sansio.server import LocalProtocolError

SERVER = "127.0.0.1:8443"
WELCOME = Welcome(v=1, name="alice", last_id=7, users_online=1)
TS = "2026-11-26T08:00:00.000Z"
MSG = Msg(id=8, ts=TS, from_="bob", text="hi")
UNKNOWN = b'{"type":"sparkle","v":2}\n'  # a frame type from a newer server


class Client:
    """One machine, the time, and what came out of it so far."""

    def __init__(self, *, ping_interval: float = 30.0, pong_timeout: float = 15.0) -> None:
        self.now = 1000.0
        self.machine = ClientProtocol(
            SERVER, self.now, ping_interval=ping_interval, pong_timeout=pong_timeout
        )
        self._decoder = FrameDecoder.for_server()

    def hear(self, *frames: Frame | bytes) -> list[Event]:
        """The server sends ``frames`` (or raw bytes) in one piece; every event they give."""
        data = b"".join(f if isinstance(f, bytes) else encode(f) for f in frames)
        self.machine.receive_data(data, self.now)
        return self.events()

    def eof(self, reason: str | None = None) -> list[Event]:
        """The connection ends: a clean close, or ``reason`` (an alert, a reset)."""
        if reason is None:
            self.machine.receive_eof()
        else:
            self.machine.receive_eof(reason)
        return self.events()

    def events(self) -> list[Event]:
        out: list[Event] = []
        while (event := self.machine.next_event()) is not None:
            out.append(event)
        return out

    def sent(self) -> list[Frame]:
        """The frames the machine would write since the last call, decoded."""
        frames: list[Frame] = []
        for data in self.machine.data_to_send():
            for item in self._decoder.feed(data):
                assert isinstance(item, Frame), item
                frames.append(item)
        return frames

    def said_hello(self) -> Client:
        self.machine.hello()
        return self

    def welcomed(self) -> Client:
        self.said_hello()
        assert self.hear(WELCOME) == [Welcomed(WELCOME)]
        return self


# -- hello and welcome (docs/protocol.md 5) ---------------------------------------------


def test_hello_carries_the_name_and_the_resume_point_and_goes_once() -> None:
    """hello() is the first frame, with name and since; a second hello is the caller's bug."""
    machine = ClientProtocol(SERVER, 0.0)
    assert machine.hello("alice", since=41) == encode(Hello(v=1, name="alice", since=41))
    assert machine.state is State.HELLO_SENT
    with pytest.raises(LocalProtocolError):
        machine.hello()


def test_welcome_connects() -> None:
    """welcome: Welcomed with the frame; the machine is connected and remembers it."""
    client = Client().said_hello()
    assert client.hear(WELCOME) == [Welcomed(WELCOME)]
    assert client.machine.state is State.CONNECTED
    assert client.machine.welcome == WELCOME
    assert client.machine.welcomed


def test_frames_after_the_welcome_in_the_same_read_are_handed_over_in_order() -> None:
    """The replay usually shares a read with the welcome: nothing is lost or reordered."""
    client = Client().said_hello()
    events = client.hear(WELCOME, MSG, Ack(ref="r1", id=9))
    assert events == [Welcomed(WELCOME), FrameReceived(MSG), FrameReceived(Ack(ref="r1", id=9))]


def test_ping_before_welcome_is_answered_with_its_t() -> None:
    """A ping before welcome gets its pong (11) and is no event."""
    client = Client().said_hello()
    assert client.hear(Ping(t="early")) == []
    assert client.sent() == [Pong(t="early")]


def test_other_frames_before_welcome_are_ignored() -> None:
    """Before welcome the server sends nothing but answers (5.1): a stray frame changes nothing."""
    client = Client().said_hello()
    assert client.hear(Pong(t=1), MSG) == []
    assert client.machine.state is State.HELLO_SENT


def test_an_error_before_welcome_is_a_refusal_with_its_code() -> None:
    """error name_taken, then bye name_taken: one Refused, with the code and the server's words."""
    client = Client().said_hello()
    events = client.hear(
        Error(code=ErrorCode.NAME_TAKEN, message="'bob' belongs to someone else"),
        Bye(reason=ByeReason.NAME_TAKEN),
    )
    refused = Refused("name_taken", "the server refused us: 'bob' belongs to someone else")
    assert events == [refused]
    assert client.machine.state is State.CLOSED
    error = error_for(refused)
    assert isinstance(error, SessionRefused)
    assert (error.reason, error.exit_code) == ("name_taken", ExitCode.REFUSED)


def test_the_servers_words_are_made_harmless() -> None:
    """An escape sequence in a refusal is shown, not obeyed (sanitize.visible)."""
    client = Client().said_hello()
    [event] = client.hear(Error(code="bad_name", message="no\x1b[2J"))
    assert isinstance(event, Refused)
    assert event.message == "the server refused us: no\\x1b[2J"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (ByeReason.SERVER_FULL, "the server is full: try again later"),
        (
            ByeReason.TOO_MANY_CONNECTIONS,
            "too many connections from your address: close some and try again",
        ),
        (ByeReason.REVOKED, "your certificate has been revoked: ask your admin for a new one"),
        (ByeReason.SHUTDOWN, "the server ended the session: shutdown"),
        (None, "the server ended the session: no reason given"),
    ],
)
def test_a_bye_before_welcome_is_a_refusal_whatever_the_reason(
    reason: str | None, message: str
) -> None:
    """Before welcome every bye is final (9.5): Refused, in words, even for shutdown."""
    client = Client().said_hello()
    refused = Refused(reason or "no reason given", message, bye=True)
    assert client.hear(Bye(reason=reason)) == [refused]
    assert isinstance(error_for(refused), SessionRefused)


def test_a_server_may_refuse_us_before_our_hello() -> None:
    """bye server_full comes right after the handshake, maybe before hello left: still Refused."""
    client = Client()
    [event] = client.hear(Bye(reason=ByeReason.SERVER_FULL))
    assert isinstance(event, Refused)
    assert event.reason == "server_full"


@pytest.mark.parametrize(
    ("reason", "ending"),
    [
        (
            None,
            Rejected("the server did not accept our certificate: the server closed the connection"),
        ),
        (
            "certificate verify failed: unable to get local issuer certificate",
            Rejected(
                "the server did not accept our certificate: "
                "certificate verify failed: unable to get local issuer certificate"
            ),
        ),
    ],
)
def test_eof_before_welcome_means_our_certificate_was_not_accepted(
    reason: str | None, ending: Rejected
) -> None:
    """With TLS 1.3 a refused certificate shows as a close or an alert after our handshake."""
    client = Client().said_hello()
    assert client.eof(reason) == [ending]
    error = error_for(ending)
    assert isinstance(error, CertificateRejected)
    assert error.exit_code == ExitCode.REFUSED


# -- after welcome -------------------------------------------------------------------------


def test_pings_after_welcome_are_answered_not_handed_over() -> None:
    """A ping between messages: its pong goes out, the messages come through."""
    client = Client().welcomed()
    assert client.hear(MSG, Ping(t=42), MSG) == [FrameReceived(MSG), FrameReceived(MSG)]
    assert client.sent() == [Pong(t=42)]


def test_eof_after_welcome_is_a_lost_connection() -> None:
    """EOF after welcome: Lost, naming the server; a reconnect may help (exit code 6)."""
    client = Client().welcomed()
    ending = Lost(f"connection to {SERVER} lost: the server closed the connection")
    assert client.eof() == [ending]
    assert isinstance(error_for(ending), ConnectionLost)
    assert error_for(ending).exit_code == ExitCode.CONNECTION_LOST


def test_eof_comes_after_the_frames_before_it() -> None:
    """Frames read before the close are all handed over first."""
    client = Client().welcomed()
    client.machine.receive_data(encode(MSG), client.now)
    client.machine.receive_eof("connection reset")
    assert client.events() == [
        FrameReceived(MSG),
        Lost(f"connection to {SERVER} lost: connection reset"),
    ]


@pytest.mark.parametrize("reason", sorted(PERMANENT_BYE_REASONS))
def test_a_permanent_bye_after_welcome_is_a_refusal(reason: ByeReason) -> None:
    """revoked, expired, ... (12.2): reconnecting cannot help, so Refused, never Lost."""
    client = Client().welcomed()
    [event] = client.hear(Bye(reason=reason))
    assert isinstance(event, Refused)
    assert event.reason == reason
    assert client.machine.state is State.CLOSED


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (ByeReason.SHUTDOWN, "the server ended the session: shutdown"),
        (ByeReason.FLOODING, "the server disconnected us for sending too much too fast"),
        (ByeReason.TIMEOUT, "the server ended the session: timeout"),
    ],
)
def test_any_other_bye_after_welcome_is_a_lost_connection(reason: str, message: str) -> None:
    """shutdown (a restart), flooding, timeout: Lost, so the chat reconnects (9.5)."""
    client = Client().welcomed()
    assert client.hear(MSG, Bye(reason=reason), MSG) == [FrameReceived(MSG), Lost(message)]


def test_an_ending_is_final_and_remembered() -> None:
    """After an ending nothing more is read, the next event is None, and ``ending`` says why."""
    client = Client().welcomed()
    [ending] = client.hear(Bye(reason=ByeReason.SHUTDOWN))
    assert client.hear(MSG, Ping(t=1)) == []
    assert client.eof() == []
    assert client.sent() == []
    assert client.machine.ending == ending
    assert client.machine.deadline is None


# -- frames we cannot read -----------------------------------------------------------------


def test_unreadable_frames_are_skipped_and_counted() -> None:
    """A newer server's frame type is skipped, counted, and the session goes on."""
    client = Client().welcomed()
    events = client.hear(UNKNOWN, MSG, b"not json\n")
    assert [type(event) for event in events] == [Unreadable, FrameReceived, Unreadable]
    assert [e.error.code for e in events if isinstance(e, Unreadable)] == [
        "unknown_type",
        "bad_json",
    ]
    assert client.machine.protocol_errors == 2
    assert client.machine.state is State.CONNECTED


def test_an_unreadable_frame_before_welcome_does_not_stop_the_welcome() -> None:
    """Skipped before welcome too: the welcome after it still connects."""
    client = Client().said_hello()
    events = client.hear(UNKNOWN, WELCOME)
    assert [type(event) for event in events] == [Unreadable, Welcomed]
    assert client.machine.protocol_errors == 1


def test_a_line_over_the_limit_loses_the_connection_after_what_came_before() -> None:
    """Broken framing cannot be skipped: the frames before it, then Lost; nothing after."""
    machine = ClientProtocol(SERVER, 0.0, max_line=100)
    machine.hello()
    machine.receive_data(encode(WELCOME) + b"x" * 101, 1.0)
    machine.receive_data(encode(MSG), 2.0)
    lost = Lost("unreadable data from the server: frame longer than 100 bytes")
    events = [machine.next_event(), machine.next_event(), machine.next_event()]
    assert events == [Welcomed(WELCOME), lost, None]
    assert isinstance(error_for(lost), ConnectionLost)


# -- pieces: byte at a time equals all at once ---------------------------------------------

SCRIPT = b"".join(
    [
        encode(Ping(t="a")),
        UNKNOWN,
        encode(WELCOME),
        encode(MSG),
        b'{"type":"ack","ref":"r\xc3\xa9","id":9}\r\n',  # a 2-byte character, CRLF
        b"\n",
        encode(Ping(t=2.5)),
        encode(Bye(reason=ByeReason.SHUTDOWN)),
        encode(MSG),  # after the bye: never read
    ]
)


def run_script(pieces: list[bytes]) -> tuple[list[Event | tuple[str, str]], list[Frame]]:
    """Everything the machine makes of the script arriving in ``pieces``.

    An ``Unreadable`` is given as its error's code and message: exceptions compare by identity.
    """
    client = Client().said_hello()
    events: list[Event] = []
    for piece in pieces:
        events += client.hear(piece)
    events += client.eof()
    shown: list[Event | tuple[str, str]] = [
        (e.error.code, e.error.message) if isinstance(e, Unreadable) else e for e in events
    ]
    return shown, client.sent()


def test_a_byte_at_a_time_is_the_same_as_all_at_once() -> None:
    """One read or one read per byte: the same events, pongs and count."""
    whole = run_script([SCRIPT])
    assert whole == run_script([SCRIPT[i : i + 1] for i in range(len(SCRIPT))])
    events, sent = whole
    assert events == [
        ("unknown_type", "unknown frame type 'sparkle'"),
        Welcomed(WELCOME),
        FrameReceived(MSG),
        FrameReceived(Ack(ref="r\u00e9", id=9)),
        Lost("the server ended the session: shutdown"),
    ]
    assert sent == [Pong(t="a"), Pong(t=2.5)]


@settings(deadline=None)  # a pure function of its input: the shared machine's load is no failure
@given(st.lists(st.integers(min_value=0, max_value=len(SCRIPT)), max_size=12))
def test_any_split_is_the_same_as_all_at_once(cuts: list[int]) -> None:
    """Reads cut anywhere, even mid-character: the same events and pongs."""
    bounds = [0, *sorted(cuts), len(SCRIPT)]
    pieces = [SCRIPT[a:b] for a, b in itertools.pairwise(bounds)]
    assert run_script(pieces) == run_script([SCRIPT])


# -- keepalive (11) ------------------------------------------------------------------------


def test_a_silent_server_gets_one_ping_then_the_link_is_declared_dead() -> None:
    """Silent for ping_interval: one ping without t; nothing for pong_timeout more: Lost."""
    client = Client(ping_interval=30.0, pong_timeout=15.0).welcomed()
    machine = client.machine
    assert machine.deadline == client.now + 30.0
    machine.tick(client.now + 29.9)
    assert client.sent() == []
    machine.tick(client.now + 30.0)
    assert client.sent() == [Ping()]
    assert machine.deadline == client.now + 45.0
    machine.tick(client.now + 44.9)
    assert client.sent() == []  # one ping until the server sends something
    assert client.events() == []
    machine.tick(client.now + 45.0)
    ending = Lost(f"the server at {SERVER} stopped answering")
    assert client.events() == [ending]
    assert isinstance(error_for(ending), ConnectionLost)


def test_anything_received_is_a_sign_of_life_even_an_unreadable_frame() -> None:
    """After our ping, any bytes (a frame we cannot read, half a line) count as an answer."""
    client = Client().welcomed()
    client.machine.tick(client.now + 30.0)
    client.sent()
    client.now += 40.0
    client.hear(b'{"type":"spark')  # half a line
    client.machine.tick(client.now + 14.9)
    assert client.events() == []
    assert client.machine.deadline == client.now + 30.0  # the next silence gets a new ping
    client.machine.tick(client.now + 30.0)
    assert client.sent() == [Ping()]


def test_silence_is_measured_from_the_last_bytes_not_the_last_tick() -> None:
    """A tick before the deadline changes nothing; the deadline follows what was received."""
    client = Client().welcomed()
    client.machine.tick(client.now + 10.0)
    client.now += 20.0
    client.hear(MSG)
    client.machine.tick(client.now + 29.0)
    assert client.sent() == []
    assert client.machine.deadline == client.now + 30.0


def test_keepalive_runs_before_welcome_too() -> None:
    """A server that never welcomes nor answers is pinged, then the link is declared dead."""
    client = Client(ping_interval=1.0, pong_timeout=2.0).said_hello()
    client.machine.tick(client.now + 1.0)
    assert client.sent() == [Ping()]
    client.machine.tick(client.now + 3.0)
    assert client.events() == [Lost(f"the server at {SERVER} stopped answering")]


def test_a_closed_machine_keeps_no_time() -> None:
    """After an ending, ticks send nothing and end nothing again."""
    client = Client().welcomed()
    client.eof()
    client.machine.tick(client.now + 1000.0)
    assert client.sent() == []
    assert client.events() == []

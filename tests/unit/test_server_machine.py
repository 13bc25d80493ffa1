"""The server's sans-I/O connection machine: protocol v1's session rules, no sockets, no loop.

Each test feeds bytes (and the time) to a ``ServerProtocol`` and checks the
events it hands the application and the frames it would send. The cases
that once needed a TLS server, an attacker, a talker and a witness
(tests/integration/test_faults.py) and need no concurrency are checked here in
microseconds; the witness table keeps what needs a real server.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from realtimechat.errors import ProtocolViolation, Refusal
from realtimechat.protocol import (
    Bye,
    ByeReason,
    Error,
    ErrorCode,
    Frame,
    FrameDecoder,
    HistoryRequest,
    JoinRoom,
    ListRooms,
    Ping,
    Pong,
    SendMsg,
    SetTopic,
    Welcome,
    Who,
)
from realtimechat.sansio.ratelimit import TokenBucket
from realtimechat.sansio.server import (
    Closed,
    ErrorSent,
    Event,
    Finishing,
    HelloReceived,
    LocalProtocolError,
    RateLimited,
    RequestReceived,
    Rules,
    ServerProtocol,
    State,
)

RULES = Rules(
    max_line_bytes=1024,
    max_errors=5,
    rate=0,
    burst=60,
    flood_limit=4,
    ping_interval=30.0,
    idle_timeout=75.0,
)
HELLO = b'{"type":"hello","v":1}\n'
WELCOME = Welcome(v=1, name="carol", last_id=0, users_online=1)


class Peer:
    """One machine, the time, and what came out of it so far."""

    def __init__(self, rules: Rules = RULES, shared: TokenBucket | None = None) -> None:
        self.now = 1000.0
        self.shared = shared  # the identity's bucket, handed over with accept()
        self.machine = ServerProtocol(rules, self.now)
        self._decoder = FrameDecoder.for_client()

    def send(self, data: bytes) -> list[Event]:
        """Feed ``data``; every event it gives, the application accepting every hello."""
        self.machine.receive_data(data, self.now)
        return self.events()

    def events(self) -> list[Event]:
        out: list[Event] = []
        while (event := self.machine.next_event(self.now)) is not None:
            out.append(event)
            if isinstance(event, HelloReceived):
                self.machine.accept(
                    replace(WELCOME, name=event.hello.name or "carol"), shared=self.shared
                )
        return out

    def sent(self) -> list[Frame]:
        """The frames the machine would write since the last call, decoded."""
        frames: list[Frame] = []
        for data in self.machine.data_to_send():
            for item in self._decoder.feed(data):
                assert isinstance(item, Frame), item
                frames.append(item)
        return frames

    def welcomed(self) -> Peer:
        self.send(HELLO)
        assert self.sent() == [WELCOME]
        return self


def errors(frames: list[Frame]) -> list[tuple[str, str | None]]:
    return [(frame.code, frame.ref) for frame in frames if isinstance(frame, Error)]


# -- hello and frame order (docs/protocol.md 5.1, 5.2) ------------------------------------


@pytest.mark.protocol("5.1", "12.1")
def test_msg_before_hello_is_hello_required_with_its_ref() -> None:
    """A msg before hello: error hello_required carrying the msg's ref; still awaiting hello.

    This case was once tests/integration/test_faults.py's case_msg_before_hello:
    a TLS server, an attacker, a talker and a witness, about a second. The rule
    is the machine's, and is checked here in microseconds.
    """
    peer = Peer()
    events = peer.send(b'{"type":"msg","text":"early","ref":"r1"}\n')
    assert errors(peer.sent()) == [("hello_required", "r1")]
    assert [type(event) for event in events] == [ErrorSent]
    assert peer.machine.state is State.AWAIT_HELLO
    assert peer.machine.errors == 1


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"who"}\n',
        b'{"type":"history","since":0}\n',
        b'{"type":"join","room":"#ops"}\n',
        b'{"type":"part","room":"#ops"}\n',
        b'{"type":"rooms"}\n',
        b'{"type":"topic","room":"#ops","text":"x"}\n',
    ],
)
@pytest.mark.protocol("5.1", "6.5.2")
def test_who_history_and_room_requests_before_hello_are_hello_required(frame: bytes) -> None:
    """who, history, join, part, rooms or topic before hello: hello_required; it goes on."""
    peer = Peer()
    peer.send(frame)
    assert errors(peer.sent()) == [("hello_required", None)]
    peer.send(HELLO)
    assert peer.sent() == [WELCOME]


def test_hello_is_handed_over_and_accepted_into_active() -> None:
    """A good hello: HelloReceived; accept() sends the welcome and the session is ACTIVE."""
    peer = Peer()
    peer.machine.receive_data(b'{"type":"hello","v":1,"name":"Carol","since":7}\n', peer.now)
    event = peer.machine.next_event(peer.now)
    assert isinstance(event, HelloReceived)
    assert (event.hello.name, event.hello.since) == ("Carol", 7)
    assert peer.machine.state is State.DECIDING
    peer.machine.accept(WELCOME)
    assert peer.machine.state is State.ACTIVE  # type: ignore[comparison-overlap]
    assert peer.sent() == [WELCOME]


def test_the_next_event_waits_for_the_decision_on_a_hello() -> None:
    """Asking for another event before accept() or refuse() is the application's bug."""
    peer = Peer()
    peer.machine.receive_data(HELLO + b'{"type":"who"}\n', peer.now)
    assert isinstance(peer.machine.next_event(peer.now), HelloReceived)
    with pytest.raises(LocalProtocolError):
        peer.machine.next_event(peer.now)


def test_frames_after_a_hello_are_judged_after_the_decision() -> None:
    """hello and who in one read: the who is a request, because the hello was accepted first."""
    peer = Peer()
    events = peer.send(HELLO + b'{"type":"who"}\n')
    assert [type(event) for event in events] == [HelloReceived, RequestReceived]
    assert events[1] == RequestReceived(Who())


@pytest.mark.protocol("5.2", "12.1")
def test_duplicate_hello_is_an_error_and_the_session_goes_on() -> None:
    """A second hello: duplicate_hello (whatever its v); still ACTIVE."""
    peer = Peer().welcomed()
    peer.send(b'{"type":"hello","v":2}\n')
    assert errors(peer.sent()) == [("duplicate_hello", None)]
    assert peer.machine.state is State.ACTIVE


@pytest.mark.protocol("5.2")
def test_unsupported_version_is_refused_with_its_own_bye() -> None:
    """hello v2: error unsupported_version, then bye with that reason; never welcomed."""
    peer = Peer()
    events = peer.send(b'{"type":"hello","v":2}\n')
    assert events == [Closed(reason="unsupported_version", welcomed=False, bye_sent=True)]
    sent = peer.sent()
    assert errors(sent) == [("unsupported_version", None)]
    assert sent[-1] == Bye(reason="unsupported_version")


@pytest.mark.parametrize("code", [ErrorCode.NAME_TAKEN, ErrorCode.BAD_NAME])
@pytest.mark.protocol("5.2")
def test_a_hello_refused_by_the_application_ends_with_the_code_as_reason(code: str) -> None:
    """refuse() on a hello (the name is someone else's): error, then bye with the same code."""
    peer = Peer()
    peer.machine.receive_data(HELLO, peer.now)
    assert isinstance(peer.machine.next_event(peer.now), HelloReceived)
    closed = peer.machine.refuse(Refusal(code, "no"))
    assert closed == Closed(reason=code, welcomed=False, bye_sent=True)
    assert peer.sent() == [Error(code=code, message="no"), Bye(reason=code)]


@pytest.mark.protocol("5.2")
def test_a_malformed_hello_leaves_the_session_waiting_for_a_good_one() -> None:
    """hello with since -1: bad_field, still AWAIT_HELLO; a correct hello then works."""
    peer = Peer()
    peer.send(b'{"type":"hello","v":1,"since":-1}\n')
    assert errors(peer.sent()) == [("bad_field", None)]
    assert peer.machine.state is State.AWAIT_HELLO
    peer.send(HELLO)
    assert peer.sent() == [WELCOME]


@pytest.mark.protocol("3", "5.2")
def test_a_hello_whose_version_has_a_fraction_is_a_bad_field_not_a_version() -> None:
    """hello with v 1.0: bad_field (integers have no fraction), still AWAIT_HELLO."""
    peer = Peer()
    peer.send(b'{"type":"hello","v":1.0}\n')
    assert errors(peer.sent()) == [("bad_field", None)]
    peer.send(HELLO)
    assert peer.sent() == [WELCOME]


@pytest.mark.protocol("5.1")
def test_bye_before_hello_closes_without_a_word() -> None:
    """bye in AWAIT_HELLO: the connection closes, nothing is sent."""
    peer = Peer()
    assert peer.send(b'{"type":"bye"}\n') == [Closed(reason="quit", welcomed=False, bye_sent=False)]
    assert peer.sent() == []


@pytest.mark.protocol("4.1", "5.1")
def test_pings_are_answered_before_and_after_hello_and_pongs_need_nothing() -> None:
    """ping: pong with the same t, in both states; pong: nothing at all."""
    peer = Peer()
    assert peer.send(b'{"type":"ping","t":1}\n{"type":"pong"}\n') == []
    assert peer.sent() == [Pong(t=1)]
    peer.welcomed()
    peer.send(b'{"type":"ping","t":"x"}\n')
    assert peer.sent() == [Pong(t="x")]


# -- errors and the error limit (12.1) ----------------------------------------------------


@pytest.mark.protocol("12.1")
def test_violations_count_and_the_last_allowed_one_ends_the_session() -> None:
    """max_errors violations: each answered; the last one is followed by bye protocol_error."""
    peer = Peer().welcomed()
    events = peer.send(b"not json\n" * RULES.max_errors)
    assert [type(event) for event in events] == [ErrorSent] * (RULES.max_errors - 1) + [Closed]
    sent = peer.sent()
    assert errors(sent) == [("bad_json", None)] * RULES.max_errors
    assert sent[-1] == Bye(reason="protocol_error")
    assert events[-1] == Closed(reason="protocol_error", welcomed=True, bye_sent=True)


@pytest.mark.protocol("12.1")
def test_violations_before_hello_count_too() -> None:
    """The count covers the whole session: 3 before hello and 2 after end it (limit 5)."""
    peer = Peer()
    peer.send(b'{"type":"who"}\n' * 3)
    assert errors(peer.sent()) == [("hello_required", None)] * 3
    peer.welcomed()
    events = peer.send(b"{}\n{}\n")
    assert isinstance(events[-1], Closed)
    assert events[-1].reason == "protocol_error"


@pytest.mark.protocol("12.1")
def test_refusals_do_not_count_toward_the_error_limit() -> None:
    """Ten empty texts (a refusal, not misbehaviour): ten errors, the session goes on."""
    peer = Peer().welcomed()
    events = peer.send(b'{"type":"msg","text":"  ","ref":"e"}\n' * 10)
    assert all(isinstance(event, ErrorSent) for event in events)
    assert errors(peer.sent()) == [("empty_text", "e")] * 10
    assert peer.machine.errors == 0
    assert peer.machine.state is State.ACTIVE


@pytest.mark.protocol("2", "12.1")
def test_an_oversized_line_ends_the_session_at_once() -> None:
    """A line over max_line_bytes, before its newline even comes: frame_too_long, bye."""
    peer = Peer().welcomed()
    events = peer.send(b'{"type":"msg","text":"' + b"x" * 2000)
    assert events == [Closed(reason="protocol_error", welcomed=True, bye_sent=True)]
    assert peer.sent() == [
        Error(code="frame_too_long", message="frame longer than 1024 bytes"),
        Bye(reason="protocol_error"),
    ]
    assert peer.send(b'"}\n') == []  # nothing after the close is read


@pytest.mark.protocol("12.1")
def test_the_application_refusing_a_request_does_not_count() -> None:
    """refuse() of a request (no such user): its error with the ref; no count; goes on."""
    peer = Peer().welcomed()
    (event,) = peer.send(b'{"type":"msg","text":"hi","to":"zed","ref":"z"}\n')
    assert isinstance(event, RequestReceived)
    assert peer.machine.refuse(Refusal(ErrorCode.NO_SUCH_USER, "nobody", ref="z")) is None
    assert errors(peer.sent()) == [("no_such_user", "z")]
    assert peer.machine.errors == 0


@pytest.mark.protocol("12.1", "12.2")
def test_a_fault_in_the_application_ends_the_session_with_internal_error() -> None:
    """fail(): error internal, then bye internal_error."""
    peer = Peer().welcomed()
    closed = peer.machine.fail()
    assert closed == Closed(reason="internal_error", welcomed=True, bye_sent=True)
    assert peer.sent() == [
        Error(code="internal", message="internal error"),
        Bye(reason="internal_error"),
    ]


def test_feeding_a_byte_at_a_time_gives_what_feeding_all_at_once_does() -> None:
    """The framing does not depend on how the bytes are cut."""
    stream = (
        HELLO
        + b'{"type":"msg","text":"h\xc3\xa9","ref":"1"}\r\n\n'
        + b'{"type":"who","cursor":"a"}\n{"type":"nope"}\n{"type":"history","since":3}\n'
    )
    whole = Peer()
    expected = whole.send(stream)
    cut = Peer()
    got: list[Event] = []
    for index in range(len(stream)):
        got += cut.send(stream[index : index + 1])
    assert list(map(repr, got)) == list(map(repr, expected))  # exceptions compare by identity
    assert cut.sent() == whole.sent()
    assert [type(event) for event in got] == [
        HelloReceived,
        RequestReceived,
        RequestReceived,
        ErrorSent,
        RequestReceived,
    ]


# -- the rate limit (12.3) ---------------------------------------------------------------


@pytest.mark.protocol("12.3")
def test_requests_past_the_burst_are_refused_and_one_log_event_per_episode() -> None:
    """burst 2: the third request is rate_limited (with its ref); a RateLimited per refusal
    (the metrics count them), the first of the episode marked (the log writes that one)."""
    peer = Peer(replace(RULES, rate=1, burst=2)).welcomed()
    events = peer.send(
        b'{"type":"msg","text":"1","ref":"a"}\n{"type":"msg","text":"2","ref":"b"}\n'
        b'{"type":"msg","text":"3","ref":"c"}\n{"type":"who"}\n'
    )
    assert [type(event) for event in events[:2]] == [RequestReceived, RequestReceived]
    assert events[2:] == [
        RateLimited(1.0, "rate", first=True),
        RateLimited(1.0, "rate", first=False),
    ]
    assert errors(peer.sent()) == [("rate_limited", "c"), ("rate_limited", None)]
    peer.now += 1.0  # one token back
    (event,) = peer.send(b'{"type":"msg","text":"3","ref":"c"}\n')
    assert event == RequestReceived(SendMsg(text="3", ref="c"))


@pytest.mark.protocol("12.3", "6.5.2")
def test_room_requests_are_handed_over_and_cost_a_token() -> None:
    """join, part, rooms and topic are requests: handed over in order, each a token."""
    peer = Peer(replace(RULES, rate=1, burst=3)).welcomed()
    events = peer.send(
        b'{"type":"join","room":"#ops"}\n{"type":"topic","room":"#ops","text":"hi"}\n'
        b'{"type":"rooms"}\n{"type":"part","room":"#ops"}\n'
    )
    assert events[:3] == [
        RequestReceived(JoinRoom(room="#ops")),
        RequestReceived(SetTopic(room="#ops", text="hi")),
        RequestReceived(ListRooms()),
    ]
    assert type(events[3]) is RateLimited
    assert errors(peer.sent()) == [("rate_limited", None)]


@pytest.mark.protocol("12.3")
def test_flooding_past_the_flood_limit_ends_the_session() -> None:
    """flood_limit refusals in a row: the last refusal's error, then bye flooding."""
    peer = Peer(replace(RULES, rate=1, burst=1)).welcomed()
    events = peer.send(b'{"type":"who"}\n' * (1 + RULES.flood_limit))
    assert isinstance(events[-1], Closed)
    assert events[-1].reason == "flooding"
    sent = peer.sent()
    assert errors(sent) == [("rate_limited", None)] * RULES.flood_limit
    assert sent[-1] == Bye(reason="flooding")


@pytest.mark.protocol("12.3")
def test_the_sessions_of_one_identity_share_its_bucket() -> None:
    """Two sessions, each with tokens of its own, spend from one identity bucket (burst 3):
    the fourth request between them is refused, and told as the identity's limit."""
    identity = TokenBucket(rate=1, burst=3)
    rules = replace(RULES, rate=10, burst=2)
    first, second = Peer(rules, identity).welcomed(), Peer(rules, identity).welcomed()
    assert [type(e) for e in first.send(b'{"type":"who"}\n' * 2)] == [RequestReceived] * 2
    events = second.send(b'{"type":"who"}\n{"type":"msg","text":"x","ref":"r"}\n')
    assert events == [RequestReceived(Who()), RateLimited(1.0, "identity_rate")]
    (refusal,) = [frame for frame in second.sent() if isinstance(frame, Error)]
    assert (refusal.code, refusal.ref) == ("rate_limited", "r")
    assert "all sessions of your certificate" in refusal.message
    second.now = first.now = first.now + 1.0  # one identity token back
    assert second.send(b'{"type":"who"}\n') == [RequestReceived(Who())]
    assert second.send(b'{"type":"who"}\n') == [RateLimited(1.0, "identity_rate")]


@pytest.mark.protocol("12.3")
def test_refusals_for_the_identity_count_toward_flooding() -> None:
    """A session refused again and again for its identity's limit is flooding too."""
    identity = TokenBucket(rate=1, burst=1)
    peer = Peer(replace(RULES, rate=100, burst=100), identity).welcomed()
    events = peer.send(b'{"type":"who"}\n' * (1 + RULES.flood_limit))
    assert isinstance(events[-1], Closed)
    assert events[-1].reason == "flooding"


@pytest.mark.protocol("12.3")
def test_ping_pong_hello_and_bye_are_never_rate_limited() -> None:
    """With no tokens left, pings are still answered."""
    peer = Peer(replace(RULES, rate=1, burst=1)).welcomed()
    peer.send(b'{"type":"who"}\n')
    peer.send(b'{"type":"ping","t":1}\n' * 3)
    assert peer.sent() == [Pong(t=1)] * 3


# -- keepalive (11) ------------------------------------------------------------------------


@pytest.mark.protocol("11")
def test_a_silent_session_gets_one_ping_then_is_ended_for_timeout() -> None:
    """Silent for ping_interval: one ping (not two); for idle_timeout: bye timeout."""
    peer = Peer().welcomed()
    assert peer.machine.tick(peer.now + 29.9) is None
    assert peer.sent() == []
    assert peer.machine.tick(peer.now + 30.0) is None
    assert peer.sent() == [Ping(t=1030.0)]
    assert peer.machine.tick(peer.now + 60.0) is None
    assert peer.sent() == []  # one ping until the peer sends something
    closed = peer.machine.tick(peer.now + 75.0)
    assert closed == Closed(reason="timeout", welcomed=True, bye_sent=True)
    assert peer.sent() == [Bye(reason="timeout")]


@pytest.mark.protocol("11")
def test_anything_received_is_a_sign_of_life_even_an_invalid_frame() -> None:
    """An invalid line resets the silence, and a later silence gets a new ping."""
    peer = Peer().welcomed()
    peer.machine.tick(peer.now + 30.0)
    peer.sent()
    peer.now += 50.0
    peer.send(b"garbage\n")
    peer.sent()
    assert peer.machine.tick(peer.now + 70.0) is None  # 70 s since the garbage: under 75
    assert peer.sent() == [Ping(t=1120.0)]


@pytest.mark.protocol("11")
def test_sessions_waiting_for_hello_are_not_pinged() -> None:
    """Before hello the hello timeout applies (the application's timer), not keepalive."""
    peer = Peer()
    assert peer.machine.tick(peer.now + 1000.0) is None
    assert peer.sent() == []


# -- answer what you owe, then close (9.1) ---------------------------------------------------


@pytest.mark.protocol("4.1")
def test_bye_with_answers_owed_waits_for_them_then_closes_quietly() -> None:
    """msg then bye: Finishing; nothing more is read; the last answer closes it (no bye)."""
    peer = Peer().welcomed()
    peer.machine.owe()  # the replay after welcome
    events = peer.send(b'{"type":"msg","text":"last","ref":"l"}\n{"type":"bye"}\n{"type":"who"}\n')
    assert events == [RequestReceived(SendMsg(text="last", ref="l")), Finishing(ByeReason.QUIT)]
    peer.machine.owe()  # the message, being stored
    assert not peer.machine.reading
    assert peer.send(b'{"type":"who"}\n') == []
    assert peer.machine.answered() is None
    assert peer.machine.answered() == Closed(reason="quit", welcomed=True, bye_sent=False)
    assert peer.sent() == []


@pytest.mark.protocol("4.1")
def test_eof_with_nothing_owed_closes_at_once_as_disconnected() -> None:
    """EOF, nothing owed: Closed disconnected, no bye."""
    peer = Peer().welcomed()
    peer.machine.receive_eof()
    assert peer.events() == [Closed(reason="disconnected", welcomed=True, bye_sent=False)]


@pytest.mark.protocol("4.1")
def test_eof_with_answers_owed_finishes_as_disconnected() -> None:
    """EOF while a history reply is owed: Finishing, then Closed disconnected once it is out."""
    peer = Peer().welcomed()
    peer.machine.owe()
    peer.machine.receive_eof()
    assert peer.events() == [Finishing(ByeReason.DISCONNECTED)]
    assert peer.machine.answered() == Closed(reason="disconnected", welcomed=True, bye_sent=False)


def test_close_is_said_once_and_then_nothing_is_read() -> None:
    """close(): one bye; a second close() is None; later bytes are not read."""
    peer = Peer().welcomed()
    assert peer.machine.close("shutdown") == Closed(reason="shutdown", welcomed=True, bye_sent=True)
    assert peer.machine.close("shutdown") is None
    assert peer.send(b'{"type":"who"}\n') == []
    assert peer.sent() == [Bye(reason="shutdown")]


def test_a_violation_and_a_refusal_are_different_types_of_one_error() -> None:
    """The decoder raises a ProtocolViolation for bad JSON and a Refusal for an empty text."""
    peer = Peer().welcomed()
    bad, empty = peer.send(b'nope\n{"type":"msg","text":" "}\n')
    assert isinstance(bad, ErrorSent)
    assert isinstance(bad.error, ProtocolViolation)
    assert isinstance(empty, ErrorSent)
    assert isinstance(empty.error, Refusal)


def test_requests_are_handed_over_in_the_order_they_came() -> None:
    """msg, who, history: three RequestReceived, in order."""
    peer = Peer().welcomed()
    events = peer.send(
        b'{"type":"msg","text":"a"}\n{"type":"who","cursor":"b"}\n{"type":"history","since":2}\n'
    )
    assert events == [
        RequestReceived(SendMsg(text="a")),
        RequestReceived(Who(cursor="b")),
        RequestReceived(HistoryRequest(since=2)),
    ]


def test_eof_behind_a_hello_being_decided_waits_for_the_frames_before_it() -> None:
    """hello, msg, EOF while the name is still being decided: after accept() the msg is
    handed over first, then the session finishes (the msg's answer is still owed)."""
    peer = Peer()
    peer.machine.receive_data(HELLO + b'{"type":"msg","text":"last","ref":"l"}\n', peer.now)
    assert isinstance(peer.machine.next_event(peer.now), HelloReceived)
    peer.machine.receive_eof()  # arrives while the application decides
    peer.machine.accept(WELCOME)
    assert peer.machine.next_event(peer.now) == RequestReceived(SendMsg(text="last", ref="l"))
    peer.machine.owe()
    assert peer.machine.next_event(peer.now) == Finishing(ByeReason.DISCONNECTED)
    assert peer.machine.next_event(peer.now) is None
    assert peer.machine.answered() == Closed(reason="disconnected", welcomed=True, bye_sent=False)

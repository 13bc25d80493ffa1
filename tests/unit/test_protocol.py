"""Protocol v1 without an event loop: encoding, decoding, validation, limits."""

from __future__ import annotations

import json
import unicodedata
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtimechat.errors import ProtocolError
from realtimechat.protocol import (
    CLIENT_FRAME_TYPES,
    SERVER_FRAME_TYPES,
    Ack,
    Bye,
    Error,
    Frame,
    FrameDecoder,
    Gap,
    Hello,
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
    Ping,
    Pong,
    RoomInfo,
    RoomList,
    SendMsg,
    SetTopic,
    Topic,
    UserInfo,
    Users,
    Welcome,
    Who,
    decode_line,
    encode,
    format_ts,
    parse_ts,
)

TS = "2026-11-26T08:00:00.000Z"
ALICE = UserInfo(name="alice", fp="0123456789abcdef", online_since=TS)
OPS = RoomInfo(name="#ops", members=2, topic="on call", member=True, may_join=True)

CLIENT_EXAMPLES: list[Frame] = [
    Hello(v=1),
    Hello(v=1, name="alice", since=42),
    SendMsg(text="hi"),
    SendMsg(text="waves", to="bob", ref="r-1", action="me", room="lobby"),
    Who(),
    Who(room="lobby", cursor="bob"),
    HistoryRequest(since=0),
    HistoryRequest(since=10, limit=50, room="lobby"),
    JoinRoom(room="#ops"),
    PartRoom(room="#ops"),
    ListRooms(),
    ListRooms(cursor="#dev"),
    SetTopic(room="#ops", text="on call: bob"),
    SetTopic(room="#ops", text=""),
    Ping(),
    Ping(t=12.5),
    Pong(t="abc"),
    Bye(),
]
SERVER_EXAMPLES: list[Frame] = [
    Welcome(v=1, name="alice", last_id=0, users_online=1),
    Welcome(
        v=1, name="alice", last_id=7, users_online=3, users=(ALICE,), users_next="c", motd="be nice"
    ),
    Msg(id=1, ts=TS, from_="alice", text="hello\nworld"),
    Msg(id=2, ts=TS, from_="alice", text="x", to="bob", action="me", room="lobby", replay=True),
    Ack(ref="r-1", id=3),
    Join(name="bob", ts=TS),
    Leave(name="bob", ts=TS, reason="quit", room="lobby"),
    Users(users=(ALICE,), next="alice"),
    Users(users=()),
    Gap(from_id=3, to_id=9, missed=5),
    HistoryEnd(count=2, more=False),
    Error(code="bad_json", message="nope", ref="r-2"),
    Welcome(v=1, name="alice", last_id=7, users_online=1, rooms=(OPS,)),
    Joined(room="#ops", members=3, last_id=40, topic="on call: bob"),
    Joined(room="#dev", members=1, last_id=0),
    Parted(room="#ops"),
    Parted(room="#ops", reason="not_allowed"),
    RoomList(rooms=(OPS, RoomInfo(name="#dev", members=0, may_join=True)), next="#dev"),
    RoomList(rooms=()),
    Topic(room="#ops", text="", name="alice", ts=TS),
    Msg(id=3, ts=TS, from_="alice", text="in ops", room="#ops"),
    Join(name="bob", ts=TS, room="#ops"),
    Leave(name="bob", ts=TS, reason="part", room="#ops"),
    Users(users=(ALICE,), room="#ops"),
    HistoryEnd(count=0, more=False, room="#ops"),
    Bye(reason="shutdown"),
    Ping(t=1),
    Pong(),
]


def server_decode(data: bytes) -> list[Frame | ProtocolError]:
    return FrameDecoder.for_server().feed(data)


def one_error(line: bytes | str) -> ProtocolError:
    raw = line.encode() if isinstance(line, str) else line
    (event,) = server_decode(raw + b"\n")
    assert isinstance(event, ProtocolError), event
    return event


@pytest.mark.parametrize("frame", CLIENT_EXAMPLES, ids=repr)
@pytest.mark.protocol("4.1")
def test_client_frames_round_trip(frame: Frame) -> None:
    """Every client frame survives encode then decode unchanged."""
    assert decode_line(encode(frame).rstrip(b"\n"), CLIENT_FRAME_TYPES) == frame


@pytest.mark.parametrize("frame", SERVER_EXAMPLES, ids=repr)
@pytest.mark.protocol("4.2")
def test_server_frames_round_trip(frame: Frame) -> None:
    """Every server frame survives encode then decode unchanged."""
    assert decode_line(encode(frame).rstrip(b"\n"), SERVER_FRAME_TYPES) == frame


@pytest.mark.protocol("2")
def test_encoding_is_one_compact_line_with_wire_names() -> None:
    """A frame is one line, ``from_`` is ``from``, unset optional fields are absent."""
    data = encode(Msg(id=5, ts=TS, from_="alice", text="a\nb"))
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    assert json.loads(data) == {"type": "msg", "id": 5, "ts": TS, "from": "alice", "text": "a\nb"}


def test_decoder_one_byte_at_a_time_matches_all_at_once() -> None:
    """Feeding a stream byte by byte yields exactly the frames of one big feed."""
    stream = b"".join(encode(frame) for frame in CLIENT_EXAMPLES) + b"not json\n"
    whole = server_decode(stream)
    decoder = FrameDecoder.for_server()
    pieces: list[Frame | ProtocolError] = []
    for index in range(len(stream)):
        pieces.extend(decoder.feed(stream[index : index + 1]))
    assert [repr(event) for event in pieces] == [repr(event) for event in whole]
    assert pieces[: len(CLIENT_EXAMPLES)] == CLIENT_EXAMPLES
    assert isinstance(pieces[-1], ProtocolError)
    assert pieces[-1].code == "bad_json"


@pytest.mark.protocol("2", "12.1")
def test_oversized_line_is_fatal_even_when_it_arrives_in_pieces() -> None:
    """A line over the limit fails as soon as the limit is crossed, without its newline."""
    decoder = FrameDecoder.for_server(max_line=100)
    assert decoder.feed(b'{"type":"msg","text":"') == []
    events: list[Frame | ProtocolError] = []
    for _ in range(10):
        events.extend(decoder.feed(b"x" * 20))
        if events:
            break
    (event,) = events
    assert isinstance(event, ProtocolError)
    assert event.code == "frame_too_long"
    assert event.fatal
    assert decoder.buffered == 0
    with pytest.raises(ProtocolError):
        decoder.feed(b'"}\n')


@pytest.mark.protocol("2")
def test_frames_before_an_oversized_line_are_still_returned() -> None:
    """Valid frames in the same read as an oversized line are not lost."""
    decoder = FrameDecoder.for_server(max_line=50)
    events = decoder.feed(encode(Ping()) + b"y" * 80 + b"\n")
    assert events[0] == Ping()
    assert isinstance(events[1], ProtocolError)
    assert events[1].code == "frame_too_long"


@pytest.mark.protocol("2")
def test_line_exactly_at_the_limit_is_accepted() -> None:
    """The limit counts bytes before the newline, and the limit itself is allowed."""
    line = encode(SendMsg(text="a")).rstrip(b"\n")
    padded = line[:-1] + b" " * (64 - len(line)) + b"}"
    assert len(padded) == 64
    assert FrameDecoder.for_server(max_line=64).feed(padded + b"\n") == [SendMsg(text="a")]
    over = FrameDecoder.for_server(max_line=63).feed(padded + b"\n")
    assert isinstance(over[0], ProtocolError)


@pytest.mark.protocol("2")
def test_blank_lines_and_crlf_are_tolerated() -> None:
    """Empty and whitespace-only lines are skipped; a CR before LF is ignored."""
    assert server_decode(b'\n  \r\n{"type":"ping"}\r\n\n') == [Ping()]


# Nesting too deep for json on every Python we support, yet within one line:
# 5,000 levels is too deep on 3.11 and 3.12, but 3.13 parses up to ~10,000.
DEEP: Final = 30_000


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"\xff\xfe{}", "bad_utf8"),
        (b'{"type":"msg","text":"\xc3"}', "bad_utf8"),
        ("not json", "bad_json"),
        ("[1,2]", "bad_json"),
        ('"just a string"', "bad_json"),
        ('{"type":"ping","t":NaN}', "bad_json"),
        ('{"type":"ping","t":Infinity}', "bad_json"),
        ('{"type":"msg","text":"a","text":"b"}', "bad_json"),
        ("[" * DEEP + "]" * DEEP, "bad_json"),
        ('{"type":"msg","text":"a","x":' + "[" * DEEP + "]" * DEEP + "}", "bad_json"),
        ('{"text":"no type"}', "bad_frame"),
        ('{"type":7}', "bad_frame"),
        ('{"type":"launch_missiles"}', "unknown_type"),
        ('{"type":"welcome","v":1,"name":"x","last_id":0,"users_online":1}', "unknown_type"),
        ('{"type":"hello"}', "missing_field"),
        ('{"type":"hello","v":"1"}', "bad_field"),
        ('{"type":"hello","v":true}', "bad_field"),
        ('{"type":"hello","v":1.0}', "bad_field"),
        ('{"type":"hello","v":1,"since":-1}', "bad_field"),
        ('{"type":"hello","v":1,"since":9223372036854775808}', "bad_field"),
        ('{"type":"msg","text":5}', "bad_field"),
        ('{"type":"msg","text":"a","to":["bob"]}', "bad_field"),
        ('{"type":"msg","text":"\\ud800"}', "bad_field"),
        ('{"type":"msg","text":"a","action":"dance"}', "bad_field"),
        ('{"type":"msg","text":"   "}', "empty_text"),
        ('{"type":"msg","text":"a","ref":""}', "bad_field"),
        ('{"type":"msg","text":"a","room":""}', "bad_field"),
        ('{"type":"history"}', "missing_field"),
        ('{"type":"history","since":0,"limit":"10"}', "bad_field"),
        ('{"type":"ping","t":[1]}', "bad_field"),
        ('{"type":"ping","t":false}', "bad_field"),
        ('{"type":"ping","t":1e400}', "bad_field"),
        ('{"type":"ping","t":1' + "0" * 400 + "}", "bad_field"),  # an integer past any double
        ('{"type":"ping","t":-1' + "0" * 400 + "}", "bad_field"),
        ('{"type":"msg","text":"   ","room":""}', "bad_field"),  # table order: before empty_text
        ('{"type":"msg","text":"   ","room":"' + "r" * 65 + '"}', "bad_field"),
        ('{"type":"history","since":0,"limit":0}', "bad_field"),
        ('{"type":"msg","text":"\u200b\u200d"}', "empty_text"),
        ('{"type":"msg","text":"\\u0007\\n"}', "empty_text"),
        ('{"type":"who","cursor":"' + "c" * 300 + '"}', "bad_field"),
    ],
)
@pytest.mark.protocol("3", "4.1", "6.6", "12.1")
def test_invalid_frames_get_stable_error_codes(line: str | bytes, code: str) -> None:
    """Each kind of bad frame maps to its documented error code and is not fatal."""
    error = one_error(line)
    assert error.code == code
    assert not error.fatal


@pytest.mark.protocol("2")
def test_decoder_goes_on_after_an_invalid_frame() -> None:
    """A bad line is reported and the next good line still decodes."""
    events = server_decode(b'{"type":"msg","text":5}\n{"type":"ping"}\n')
    assert isinstance(events[0], ProtocolError)
    assert events[1] == Ping()


@pytest.mark.protocol("3", "12.1")
def test_errors_about_a_message_carry_its_ref() -> None:
    """A msg that fails validation still names its ref, so the client can match it."""
    assert one_error('{"type":"msg","text":5,"ref":"r-9"}').ref == "r-9"
    assert one_error('{"type":"msg","text":" ","ref":"r-8"}').ref == "r-8"
    assert one_error('{"type":"msg","text":5,"ref":7}').ref is None


@pytest.mark.protocol("3")
def test_unknown_fields_are_ignored_and_null_means_absent() -> None:
    """Forward compatibility: extra fields vanish, ``null`` optional fields are unset."""
    (frame,) = server_decode(b'{"type":"msg","text":"hi","colour":"red","to":null}\n')
    assert frame == SendMsg(text="hi")


@pytest.mark.protocol("3")
def test_timestamps_are_rfc3339_utc() -> None:
    """``format_ts`` writes UTC with a Z; ``parse_ts`` reads it back, rejects junk."""
    moment = parse_ts(TS)
    assert moment is not None
    assert format_ts(moment) == TS
    assert parse_ts("yesterday") is None
    assert parse_ts("2026-11-26T08:00:00") is None  # no zone: not RFC 3339


# -- properties --------------------------------------------------------------

texts = st.text(max_size=200)
names = st.text(min_size=1, max_size=32)
ids = st.integers(min_value=0, max_value=2**53)
send_msgs = st.builds(
    SendMsg,
    text=texts.filter(
        lambda text: any(
            unicodedata.category(c) not in {"Cc", "Cf", "Zs", "Zl", "Zp"} for c in text
        )
    ),
    to=st.none() | names,
    ref=st.none() | st.text(min_size=1, max_size=128),
    action=st.none() | st.just("me"),
    room=st.none() | st.text(min_size=1, max_size=64),
).filter(lambda msg: msg.to is None or msg.room in (None, "lobby"))  # a private one has no room
msgs = st.builds(
    Msg,
    id=ids,
    ts=st.just(TS),
    from_=names,
    text=texts,
    to=st.none() | names,
    action=st.none() | st.just("me"),
    room=st.none() | names,
    replay=st.booleans(),
)


def _without_surrogates(value: Any) -> bool:
    return "\ud800" not in repr(value)


@given(st.lists(send_msgs, max_size=5), st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_property_client_frames_round_trip_under_any_split(
    frames: list[SendMsg], cuts: list[int]
) -> None:
    """Any valid messages, split at any points, decode to exactly themselves."""
    stream = b"".join(encode(frame) for frame in frames)
    decoder = FrameDecoder.for_server()
    events: list[Frame | ProtocolError] = []
    position = 0
    for cut in cuts * (len(stream) // max(sum(cuts), 1) + 1):
        events.extend(decoder.feed(stream[position : position + cut]))
        position += cut
        if position >= len(stream):
            break
    events.extend(decoder.feed(stream[position:]))
    assert events == frames


@given(msgs)
def test_property_server_messages_round_trip(msg: Msg) -> None:
    """Any server msg frame decodes to itself on the client side."""
    assert FrameDecoder.for_client().feed(encode(msg)) == [msg]


@given(st.binary(max_size=300), st.integers(1, 64))
def test_property_arbitrary_bytes_raise_nothing_but_protocol_errors(data: bytes, cut: int) -> None:
    """Garbage yields frames or ProtocolError events; the decoder itself never raises."""
    decoder = FrameDecoder.for_server(max_line=128)
    for start in range(0, len(data), cut):
        for event in decoder.feed(data[start : start + cut]):
            assert isinstance(event, Frame | ProtocolError)
            if isinstance(event, ProtocolError) and event.fatal:
                return


@pytest.mark.protocol("3")
def test_characters_newer_than_our_unicode_tables_are_text() -> None:
    """An emoji this Python does not know yet (unassigned here) is not 'empty'."""
    (frame,) = server_decode('{"type":"msg","text":"\U0001fae9"}\n'.encode())
    assert frame == SendMsg(text="\U0001fae9")


@pytest.mark.protocol("6.5.3")
def test_a_private_message_naming_a_room_is_bad_field() -> None:
    """``to`` with a room other than the lobby is bad_field, with the msg's ref."""
    error = one_error('{"type":"msg","text":"x","to":"bob","room":"#ops","ref":"r"}')
    assert (error.code, error.ref) == ("bad_field", "r")
    (ok,) = server_decode(b'{"type":"msg","text":"x","to":"bob","room":"lobby"}\n')
    assert isinstance(ok, SendMsg)


@pytest.mark.protocol("4.1")
@pytest.mark.parametrize(
    ("line", "code"),
    [
        ('{"type":"join"}', "missing_field"),
        ('{"type":"join","room":""}', "bad_field"),
        ('{"type":"part","room":7}', "bad_field"),
        ('{"type":"topic","room":"#ops"}', "missing_field"),
        ('{"type":"rooms","cursor":"' + "c" * 257 + '"}', "bad_field"),
        ('{"type":"join","room":"#' + "x" * 64 + '"}', "bad_field"),
    ],
)
def test_room_frames_are_checked_like_the_others(line: str, code: str) -> None:
    """join, part, topic and rooms: required fields, types and the room's 64 characters."""
    assert one_error(line).code == code


SIGNED = '"sig":"c2ln","fp":"' + "ab" * 32 + '","sent":"2026-12-07T23:00:00.000Z","seq":1'


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"msg","text":"a","ref":"r-1","sig":"c2ln"}',  # one of four
        '{"type":"msg","text":"a","ref":"r-1",' + SIGNED.replace('"seq":1', '"seq":0') + "}",
        '{"type":"msg","text":"a","ref":"r-1",' + SIGNED.replace("ab" * 32, "AB" * 32) + "}",
        '{"type":"msg","text":"a","ref":"r-1",' + SIGNED.replace("ab" * 32, "ab" * 31) + "}",
        '{"type":"msg","text":"a","ref":"r-1",' + SIGNED.replace("c2ln", "s" * 1401) + "}",
        '{"type":"msg","text":"a","ref":"r-1",' + SIGNED.replace("2026-", "2" * 41) + "}",
    ],
)
@pytest.mark.protocol("6.8")
def test_signature_fields_out_of_bounds_are_bad_fields_with_the_ref(line: str) -> None:
    """A signed msg missing a field, or with one out of its bounds, is bad_field naming its ref."""
    error = one_error(line)
    assert (error.code, error.ref) == ("bad_field", "r-1")


@pytest.mark.protocol("6.8")
def test_signature_fields_travel_both_ways_unchanged() -> None:
    """A client's four signature fields decode, and a server msg with them encodes them back."""
    (frame,) = server_decode(('{"type":"msg","text":"a",' + SIGNED + "}\n").encode())
    assert isinstance(frame, SendMsg)
    assert (frame.sig, frame.fp, frame.sent, frame.seq) == (
        "c2ln",
        "ab" * 32,
        "2026-12-07T23:00:00.000Z",
        1,
    )
    out = Msg(id=1, ts="t", from_="a", text="a", sig=frame.sig, fp=frame.fp, sent=frame.sent, seq=1)
    assert json.loads(encode(out))["fp"] == "ab" * 32

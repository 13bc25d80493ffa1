"""--json for bots: every event the client shows is a typed object the schema describes."""

from __future__ import annotations

import datetime as dt
import json
import re
import typing
from functools import cache
from typing import Any

import jsonschema
import pytest

from realtimechat.client import events
from realtimechat.client.events import (
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
    Online,
    OperatorNotice,
    Reconnecting,
    Renamed,
    Retrying,
    RoomsListed,
    TopicChanged,
    TopicShown,
    Welcomed,
    WhoisAnswer,
    as_json,
)
from realtimechat.client.render import as_text, event_lines
from realtimechat.protocol import (
    Gap,
    Join,
    Leave,
    Msg,
    Parted,
    RoomInfo,
    RoomList,
    Topic,
    UserInfo,
    Users,
    Welcome,
)
from realtimechat.protocol import (
    Joined as JoinedFrame,
)
from realtimechat.protocol import (
    Notice as NoticeFrame,
)

from ..support import REPO

SCHEMA = REPO / "docs" / "bots.schema.json"
BOTS = REPO / "docs" / "bots.md"
TS = "2026-12-07T15:10:00.123Z"
ALICE = UserInfo("alice", "a" * 16, TS)
BOB = UserInfo("bob", "b" * 16, TS)
OPS = RoomInfo("#ops", 2, topic="on call: bob", member=True, may_join=True)
WELCOME = Welcome(v=1, name="alice", last_id=7, users_online=2, users=(ALICE, BOB), motd="hi")


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(line: str) -> dict[str, Any]:
    """One line of --json output, checked against docs/bots.schema.json; the object."""
    event = json.loads(line)
    errors = sorted(validator().iter_errors(event), key=str)
    assert not errors, f"{line}: {[error.message for error in errors]}"
    assert isinstance(event, dict)
    return event


# One of every kind, with the fields each may or may not carry.
SAMPLES: list[Event] = [
    Welcomed(WELCOME),
    Welcomed(Welcome(v=1, name="alice", last_id=0, users_online=1), again=True),
    Renamed("alice", "mallory"),
    HistoryReset(0),
    Message(Msg(id=1, ts=TS, from_="bob", text="alice: hi \x1b[2J"), own=False, mention=True),
    Message(Msg(id=2, ts=TS, from_="alice", text="waves", action="me"), own=True, mention=False),
    Message(Msg(id=3, ts=TS, from_="bob", text="psst", to="alice", replay=True), False, False),
    HistoryShown(2, missed=True),
    Joined(Join(name="bob", ts=TS)),
    Left(Leave(name="bob", ts=TS, reason="quit")),
    Left(Leave(name="bob", ts=TS)),
    Online(Users(users=(ALICE, BOB), next="bob")),
    WhoisAnswer("bob", BOB),
    WhoisAnswer("zed", None),
    Missed(Gap(from_id=3, to_id=9, missed=7)),
    Failed("no_such_user", "nobody is called 'zed'", ref="ab-1", text="hello"),
    Failed("rate_limited", "slow down"),
    Failed(events.TOO_LONG, "not sent: too long", text="x", local=True),
    Failed(events.UNKNOWN_COMMAND, "unknown command /x (try /help)", local=True),
    Reconnecting("the server ended the session: shutdown", 0.512345, 0),
    Reconnecting("connection refused", 8.0, 4, asked=True),
    Retrying(),
    DayChanged(dt.date(2026, 12, 7)),
    CertificateExpiring(dt.datetime(2026, 12, 20, tzinfo=dt.UTC), 13),
    Ignoring("bob", ignored=True),
    Help(("/who  who is online",)),
    Notice("hint", "-- type to chat"),
    # Rooms (protocol.md 6.5), at the end: the indexes above stay put.
    Welcomed(Welcome(v=1, name="alice", last_id=7, users_online=1, rooms=(OPS,))),
    Message(Msg(id=4, ts=TS, from_="bob", text="deploy", room="#ops"), own=False, mention=False),
    HistoryShown(3, missed=False, room="#ops"),
    Joined(Join(name="bob", ts=TS, room="#ops")),
    Left(Leave(name="bob", ts=TS, room="#ops")),
    EnteredRoom(JoinedFrame(room="#ops", members=2, last_id=7, topic="on call: bob")),
    LeftRoom(Parted(room="#ops"), to_lobby=True),
    LeftRoom(Parted(room="#ops", reason="revoked"), to_lobby=False),
    TopicChanged(Topic(room="#ops", text="", name="bob", ts=TS)),
    TopicShown("#ops", None),
    RoomsListed(RoomList(rooms=(OPS, RoomInfo("#dev", 1, may_join=True)), next="#dev")),
    # Operators (protocol.md 6.7)
    OperatorNotice(NoticeFrame(kind="ban", ts=TS, name="bob", by="op", reason="spam", until=TS)),
    OperatorNotice(NoticeFrame(kind="motd", ts=TS)),
    Online(Users(users=(UserInfo("op", "00ff", TS, op=True),))),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_is_valid_json_of_the_schema(event: Event) -> None:
    """Each event is one JSON object with its kind, a ts, and the schema's fields exactly."""
    line = json.dumps(as_json(event), ensure_ascii=True)
    found = validate(line)
    assert found["event"] in {kind for kind in schema_kinds()}
    assert "\x1b" not in line


def test_every_kind_of_event_is_sampled_and_documented() -> None:
    """Every Event class has a sample; every kind emitted is in the schema and in bots.md."""
    classes = set(typing.get_args(Event))
    assert {type(event) for event in SAMPLES} == classes
    kinds = {as_json(event)["event"] for event in SAMPLES}
    assert kinds == schema_kinds()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", BOTS.read_text(), re.MULTILINE))
    assert kinds <= documented, kinds - documented


def schema_kinds() -> set[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return {
        definition["properties"]["event"]["const"]
        for definition in schema["$defs"].values()
        if "event" in definition.get("properties", {})
    }


def test_messages_carry_mention_and_private_is_its_own_kind() -> None:
    """A bot tells a mention and a private message apart without parsing text."""
    public, action, private = (as_json(event) for event in SAMPLES[4:7])
    assert (public["event"], public["mention"], public["text"]) == (
        "message",
        True,
        "alice: hi \x1b[2J",
    )
    assert (action["action"], action["own"], action["mention"]) == ("me", True, False)
    assert (private["event"], private["to"], private["replay"]) == ("private", "alice", True)
    assert (private["sealed"], "sealed" in public) == (False, False)


def test_facts_not_prose() -> None:
    """Joins, leaves, /who, /whois and errors carry their facts as fields."""
    welcome = as_json(SAMPLES[0])
    assert welcome["users"] == [
        {"name": "alice", "fp": "a" * 16, "online_since": TS, "op": False},
        {"name": "bob", "fp": "b" * 16, "online_since": TS, "op": False},
    ]
    assert as_json(Left(Leave(name="erin", ts=TS, reason="quit"))) == {
        "event": "leave",
        "ts": TS,
        "name": "erin",
        "room": None,
        "reason": "quit",
    }
    error = as_json(SAMPLES[15])
    assert (error["code"], error["ref"], error["text"]) == ("no_such_user", "ab-1", "hello")
    whois = as_json(SAMPLES[13])
    assert (whois["online"], whois["user"]) == (False, None)


def test_the_terminal_and_plain_mode_say_the_same_as_before() -> None:
    """The lines people read did not change with the events under them."""
    shown = [as_text(line) for event in SAMPLES for line in event_lines(event)]
    assert shown[0].endswith("-- joined as alice; 2 online: alice, bob")
    assert shown[1].endswith("-- motd: hi")
    assert any(line.endswith("-- bob left (quit)") for line in shown)
    assert any(line.endswith("!! no_such_user: nobody is called 'zed'") for line in shown)
    assert any(line.endswith("-- unknown command /x (try /help)") for line in shown)
    assert any("reconnecting in 0.5 s" in line for line in shown)
    assert "-- Monday 2026-12-07" in shown


def test_a_room_is_a_field_and_a_tag() -> None:
    """Rooms: JSON carries the room as a field; plain mode says it in words."""
    start = SAMPLES.index(Notice("hint", "-- type to chat")) + 1
    rooms = SAMPLES[start : start + 11]
    welcome, message, history, join, leave, entered, left, parted, topic, _, listed = rooms
    assert as_json(welcome)["rooms"] == [
        {
            "name": "#ops",
            "members": 2,
            "topic": "on call: bob",
            "member": True,
            "may_join": True,
            "private": False,
        }
    ]
    assert (as_json(message)["room"], as_json(history)["room"]) == ("#ops", "#ops")
    assert (as_json(join)["room"], as_json(leave)["room"]) == ("#ops", "#ops")
    assert as_json(entered)["event"] == "joined_room"
    assert as_json(parted) == {
        "event": "parted_room",
        "ts": as_json(parted)["ts"],
        "room": "#ops",
        "reason": "revoked",
    }
    assert as_json(listed)["more"] is True
    lines = [
        as_text(line) for event in (entered, left, parted, topic) for line in event_lines(event)
    ]
    assert [line.split(" ", 1)[1] for line in lines] == [
        "-- you are in #ops (2 members); topic: on call: bob",
        "-- you left #ops",
        "-- you type into the lobby now",
        "-- you are no longer in #ops: your certificate was revoked",
        "-- bob cleared the topic of #ops",
    ]
    (tagged,) = event_lines(message, tag="#ops")
    assert as_text(tagged).endswith("[#ops] bob: deploy")


def test_the_examples_in_bots_md_are_of_the_schema() -> None:
    """Every JSON line docs/bots.md shows is valid against docs/bots.schema.json."""
    examples = [line for line in BOTS.read_text().splitlines() if line.startswith('{"event"')]
    assert len(examples) >= 5
    for line in examples:
        validate(line)

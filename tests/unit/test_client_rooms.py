"""The client's rooms without a connection: commands, the room typed into, unread counts, tags."""

from __future__ import annotations

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from realtimechat.client.commands import (
    GoTo,
    JoinRoomCmd,
    ListRoomsCmd,
    PartRoomCmd,
    TopicCmd,
    Unknown,
    parse_line,
)
from realtimechat.client.interactive import ChatCompleter
from realtimechat.client.render import as_text, message_fragments
from realtimechat.client.rooms import Rooms
from realtimechat.protocol import Joined, Msg, Parted, RoomInfo, RoomList, Topic

TS = "2026-11-26T08:00:00.000Z"


def msg(n: int, room: str | None = None, *, to: str | None = None) -> Msg:
    return Msg(id=n, ts=TS, from_="bob", text=f"line {n}", room=room, to=to)


def in_rooms(*names: str, wanted: str | None = None) -> Rooms:
    rooms = Rooms(wanted=wanted)
    rooms.welcome(tuple(RoomInfo(name=name, members=2, member=True) for name in names))
    return rooms


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("/join #ops", JoinRoomCmd("#ops")),
        ("/part", PartRoomCmd()),
        ("/part #dev", PartRoomCmd("#dev")),
        ("/go lobby", GoTo(None)),
        ("/go #Ops", GoTo("#Ops")),
        ("/rooms", ListRoomsCmd()),
        ("/topic", TopicCmd()),
        ("/topic on call: bob", TopicCmd("on call: bob")),
        ("/topic --clear", TopicCmd("")),
    ],
)
def test_room_commands(line: str, command: object) -> None:
    """/join, /part, /go, /rooms and /topic parse to their commands."""
    assert parse_line(line) == command


@pytest.mark.parametrize("line", ["/join ops", "/join", "/join #a b", "/go kitchen", "/part x"])
def test_a_room_command_without_a_room_name_says_why(line: str) -> None:
    """A name that is no room name is refused before anything is sent."""
    assert isinstance(parse_line(line), Unknown)


def test_part_lobby_says_the_lobby_is_everyones() -> None:
    assert parse_line("/part Lobby") == Unknown(
        "everyone is in the lobby, always: /part #ROOM leaves a room"
    )


def test_a_join_asked_here_switches_to_the_room_and_one_from_elsewhere_does_not() -> None:
    """joined after /join: typed into; joined from another device: listed, not switched."""
    rooms = in_rooms()
    rooms.asked("#ops")
    assert rooms.joined(Joined(room="#ops", members=1, last_id=0))
    assert rooms.current_name == "#ops"
    assert not rooms.joined(Joined(room="#dev", members=3, last_id=0))
    assert (rooms.current_name, rooms.names) == ("#ops", ["#dev", "#ops"])


def test_unread_counts_go_to_the_rooms_not_typed_into_and_clear_on_going_there() -> None:
    """Lines elsewhere count per room (lobby first); going there clears; own lines never count."""
    rooms = in_rooms("#dev", "#ops")
    rooms.go("#ops")
    for message in (msg(1), msg(2, "#dev"), msg(3, "#dev"), msg(4, "#ops"), msg(5, to="alice")):
        rooms.message(message, own=False)
    rooms.message(msg(6, "#dev"), own=True)
    assert rooms.unread() == [("lobby", 1), ("#dev", 2)]
    rooms.go("#DEV")
    assert rooms.unread() == [("lobby", 1)]
    rooms.cycle(-1)  # #dev -> the lobby
    assert (rooms.current_name, rooms.unread()) == (None, [])


def test_a_rooms_history_after_joined_is_not_unread() -> None:
    """The history that follows joined is the past of a room just entered, not news."""
    rooms = in_rooms()
    rooms.joined(Joined(room="#ops", members=2, last_id=9))
    rooms.message(msg(7, "#ops"), own=False)
    rooms.message(msg(8, "#ops"), own=True)
    assert rooms.history_ended("#ops") == 2  # the lines of its history shown, ours too
    rooms.message(msg(10, "#ops"), own=False)
    assert rooms.unread() == [("#ops", 1)]


def test_a_join_is_typed_into_at_once_and_a_refusal_puts_the_lobby_back() -> None:
    """/join #qa: #qa is typed into before joined comes; refused: the lobby, unread cleared."""
    rooms = in_rooms("#ops")
    rooms.message(msg(1), own=False)  # the lobby's, while typing into #ops
    rooms.asked("#qa")
    assert rooms.current_name == "#qa"
    assert rooms.go("#qa") is None  # a join under way may be gone to
    rooms.asked("#qb")
    assert rooms.join_refused() is None  # #qa's refusal: #qb is typed into, not #qa
    assert rooms.current_name == "#qb"
    assert rooms.join_refused() == "#qb"
    assert (rooms.current, rooms.unread()) == (None, [])


def test_cycling_goes_through_the_lobby_and_the_rooms_in_order() -> None:
    """Alt-Right from the lobby: #a, #b, then the lobby again; Alt-Left the other way."""
    rooms = in_rooms("#b", "#a")
    seen = []
    for _ in range(3):
        rooms.cycle(1)
        seen.append(rooms.current_name)
    assert seen == ["#a", "#b", None]
    rooms.cycle(-1)
    assert rooms.current_name == "#b"


def test_parted_from_the_room_typed_into_falls_back_to_the_lobby() -> None:
    """parted (any reason) of the current room: the lobby is typed into; others stay."""
    rooms = in_rooms("#ops", "#dev")
    rooms.go("#ops")
    assert rooms.parted(Parted(room="#ops", reason="not_allowed"))
    assert (rooms.current_name, rooms.names) == (None, ["#dev"])
    assert not rooms.parted(Parted(room="#dev"))


def test_wanted_room_is_joined_after_a_welcome_without_it() -> None:
    """--room #ops: typed into from the start; joined if the welcome does not list it."""
    rooms = Rooms(wanted="#ops")
    assert rooms.current_name == "#ops"
    assert rooms.welcome(None) == "#ops"
    rooms.joined(Joined(room="#ops", members=1, last_id=0))
    assert rooms.welcome((RoomInfo(name="#ops", members=1, member=True),)) is None
    assert rooms.current_name == "#ops"


def test_a_welcome_without_the_current_room_falls_back_to_the_lobby() -> None:
    """Parted while away: the next welcome does not list the room; the lobby is typed into."""
    rooms = in_rooms("#ops")
    rooms.go("#ops")
    rooms.welcome(None)
    assert rooms.current_name is None


def test_tags_name_the_room_of_a_line_not_typed_into() -> None:
    """In #ops: lobby lines are [lobby], #dev lines [#dev], #ops and private lines untagged."""
    rooms = in_rooms("#ops", "#dev")
    rooms.go("#ops")
    assert [rooms.tag(m) for m in (msg(1), msg(2, "#dev"), msg(3, "#ops"), msg(4, to="x"))] == [
        "lobby",
        "#dev",
        None,
        None,
    ]
    line = as_text(message_fragments(msg(2, "#dev"), tag="#dev"))
    assert line.endswith("[#dev] bob: line 2")


def test_topics_and_lists_are_remembered() -> None:
    """topic updates the room's; room_list teaches Tab names of rooms not joined."""
    rooms = in_rooms("#ops")
    rooms.topic(Topic(room="#ops", text="on call", name="bob", ts=TS))
    state = rooms.get("#ops")
    assert state is not None
    assert state.topic == "on call"
    rooms.listed(RoomList(rooms=(RoomInfo(name="#zoo", members=1, may_join=True),)))
    assert rooms.completions() == ["#ops", "#zoo"]


def test_tab_completes_room_names_after_a_hash() -> None:
    """A word starting with # completes from the rooms; other words from names."""
    completer = ChatCompleter(lambda: ["bob"], lambda: ["#ops", "#dev"])
    got = [c.text for c in completer.get_completions(Document("/go #o"), CompleteEvent())]
    assert got == ["#ops "]
    got = [c.text for c in completer.get_completions(Document("hi b"), CompleteEvent())]
    assert got == ["bob "]
    got = [c.text for c in completer.get_completions(Document("/go lo"), CompleteEvent())]
    assert got == ["lobby "]
    got = [c.text for c in completer.get_completions(Document("/go lo lo"), CompleteEvent())]
    assert got == []  # only the word after /go

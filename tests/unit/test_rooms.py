"""Room rules without a server: names, the room file, and the directory's decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from realtimechat.errors import ConfigError, Refusal
from realtimechat.names import name_key
from realtimechat.rooms import group_key, group_problem, room_key, room_name, room_problem
from realtimechat.server.config import Limits, ServerSettings
from realtimechat.server.identity import PeerIdentity
from realtimechat.server.roomfile import RoomFile
from realtimechat.server.rooms import Caller, RoomDirectory
from realtimechat.server.store import RoomRecord

pytestmark = pytest.mark.protocol("6.5")


def identity(cn: str, *groups: str, pinned: bool = False) -> PeerIdentity:
    return PeerIdentity(
        key=f"ca:CN=ca/{cn}",
        cn=cn,
        fingerprint="0" * 64,
        serial=1,
        issuer="CN=ca",
        not_after=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
        pinned=pinned,
        groups=frozenset(group_key(g) for g in groups),
    )


def caller(cn: str, *groups: str) -> Caller:
    """``cn`` as the rules see it: it owns the name ``cn`` and nothing else."""
    who = identity(cn, *groups)
    return Caller(who.key, (who,), lambda key: key == name_key(cn))


def room_file(tmp_path: Path, text: str, max_topic: int = 200) -> RoomFile:
    path = tmp_path / "rooms.toml"
    path.write_text(text)
    return RoomFile.load(path, max_topic)


OPS_FILE = """
[rooms."#ops"]
allow = ["group:ops", "alice"]
topic = "on call"

[rooms."#announce"]
allow = ["*"]
"""


# -- names ---------------------------------------------------------------------------


@pytest.mark.protocol("6.5.1")
@pytest.mark.parametrize("name", ["#ops", "#a", "#dev-2.0_x", "#" + "x" * 50, "#Émile", "#日本"])
def test_valid_room_names(name: str) -> None:
    """# then 1-50 letters (any script), digits, -, _ or ."""
    assert room_problem(name) is None


@pytest.mark.protocol("6.5.1")
@pytest.mark.parametrize(
    "name", ["ops", "#", "#" + "x" * 51, "#a b", "#a/b", "#a\u200bb", "lobby", "##ops", "#a:b"]
)
def test_invalid_room_names(name: str) -> None:
    """No #, nothing after it, too long, spaces, slashes, invisible characters: no room name."""
    assert room_problem(name) is not None


@pytest.mark.protocol("6.5.1")
def test_room_names_fold_as_chat_names_do() -> None:
    """Case and width fold: #Ops, #OPS and full-width #ops are one key; shown NFKC."""
    full_width = "\uff03\uff4f\uff50\uff53"
    assert room_key("#Ops") == room_key("#OPS") == room_key(full_width)
    assert room_name(full_width) == "#ops"
    assert room_problem(full_width) is None


def test_group_names() -> None:
    """A group is a name of 1-50 letters, digits, -, _, .; Ops and ops are one group."""
    assert group_problem("ops") is None
    assert group_problem("on call") is not None
    assert group_problem("") is not None
    assert group_key("Ops") == group_key("ops")


# -- the room file -----------------------------------------------------------------------


@pytest.mark.protocol("6.5.7")
def test_the_room_file_names_rooms_and_their_doors(tmp_path: Path) -> None:
    """allow: names, group:NAME, *; a room without * is private; topic is kept."""
    rooms = room_file(tmp_path, OPS_FILE).rooms
    ops, announce = rooms[room_key("#ops")], rooms[room_key("#announce")]
    assert (ops.name, ops.topic, ops.access.private) == ("#ops", "on call", True)
    assert ops.access.admits(identity("bob", "OPS"), lambda key: False)
    assert ops.access.admits(identity("alice"), lambda key: key == "alice")
    assert not ops.access.admits(identity("carol", "dev"), lambda key: key == "carol")
    assert not announce.access.private
    assert announce.access.admits(identity("anyone"), lambda key: False)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[rooms."ops"]\nallow = ["*"]', "not a room name"),
        ('[rooms."#ops"]\ntopic = "x"', "'allow' is missing"),
        ('[rooms."#ops"]\nallow = "alice"', "must be a list"),
        ('[rooms."#ops"]\nallow = ["group:on call"]', "group name"),
        ('[rooms."#ops"]\nallow = ["al ice"]', "is not a name"),
        ('[rooms."#ops"]\nallow = ["*"]\ncolour = "red"', "unknown key 'colour'"),
        ('[rooms."#ops"]\nallow = ["*"]\ntopic = "' + "x" * 201 + '"', "at most 200"),
        ('[rooms."#ops"]\nallow = ["*"]\n[rooms."#OPS"]\nallow = ["*"]', "same room"),
        ("[room]\nx = 1", "unknown table 'room'"),
        ("rooms = [", "cannot read the room file"),
    ],
)
def test_a_room_file_that_cannot_be_used_says_why(tmp_path: Path, text: str, problem: str) -> None:
    """Each mistake is a ConfigError naming the file and the problem."""
    with pytest.raises(ConfigError, match=r"rooms\.toml") as raised:
        room_file(tmp_path, text)
    assert problem in str(raised.value)


# -- the directory ------------------------------------------------------------------------


def directory(tmp_path: Path | None = None, *, create: bool = True, **limits: int) -> RoomDirectory:
    rooms = RoomDirectory(Limits(**limits), ServerSettings(room_create=create))
    rooms.load([], [], room_file(tmp_path, OPS_FILE) if tmp_path is not None else RoomFile())
    return rooms


def joined(rooms: RoomDirectory, who: Caller, name: str) -> None:
    room = rooms.plan_join(name, who)
    rooms.joined(room, who.key)


@pytest.mark.protocol("6.5.7")
def test_a_private_room_is_no_room_to_whom_may_not_enter(tmp_path: Path) -> None:
    """Not listed, not joinable (no_such_room), not usable: as a room that does not exist."""
    rooms = directory(tmp_path)
    carol, bob = caller("carol", "dev"), caller("bob", "ops")
    with pytest.raises(Refusal) as raised:
        rooms.plan_join("#ops", carol)
    assert raised.value.code == "no_such_room"
    with pytest.raises(Refusal) as raised:
        rooms.resolve("#ops", carol)
    assert raised.value.code == "no_such_room"
    assert [r.name for r in rooms.page(carol, None, 10).rooms] == ["#announce"]
    listed = rooms.page(bob, None, 10).rooms
    assert [(r.name, r.may_join, r.topic) for r in listed] == [
        ("#announce", True, None),
        ("#ops", True, "on call"),
    ]
    with pytest.raises(Refusal) as raised:
        rooms.resolve("#ops", bob)
    assert raised.value.code == "not_a_member"
    joined(rooms, bob, "#ops")
    assert rooms.resolve("#OPS", bob) is rooms.get(room_key("#ops"))


@pytest.mark.protocol("6.5.7")
def test_without_room_creation_only_the_files_rooms_exist(tmp_path: Path) -> None:
    """--no-room-create: a join of any other room is no_such_room; the file's rooms work."""
    rooms = directory(tmp_path, create=False)
    bob = caller("bob", "ops")
    with pytest.raises(Refusal) as raised:
        rooms.plan_join("#new", bob)
    assert raised.value.code == "no_such_room"
    joined(rooms, bob, "#announce")
    assert len(rooms) == 2


@pytest.mark.protocol("6.5.8")
def test_limits_are_checked_before_anything_changes() -> None:
    """max_rooms_per_identity and max_rooms refuse with too_many_rooms and change nothing."""
    rooms = directory(max_rooms=2, max_rooms_per_identity=1)
    alice, bob, carol = caller("alice"), caller("bob"), caller("carol")
    joined(rooms, alice, "#a")
    with pytest.raises(Refusal) as raised:
        rooms.plan_join("#b", alice)
    assert raised.value.code == "too_many_rooms"
    joined(rooms, bob, "#b")
    with pytest.raises(Refusal) as raised:
        rooms.plan_join("#c", carol)
    assert raised.value.code == "too_many_rooms"
    assert len(rooms) == 2
    joined(rooms, carol, "#a")  # not a new room
    assert rooms.get(room_key("#a")).members == {alice.key, carol.key}  # type: ignore[union-attr]


def test_a_room_reserved_by_a_join_that_failed_goes_again() -> None:
    """A new room counts from its first join on; if that join is not written, it goes."""
    rooms = directory(max_rooms=1)
    alice, bob = caller("alice"), caller("bob")
    room = rooms.plan_join("#a", alice)
    with pytest.raises(Refusal):
        rooms.plan_join("#b", bob)  # #a holds the only place meanwhile
    rooms.abandon(room, alice.key)
    assert len(rooms) == 0
    joined(rooms, bob, "#b")


@pytest.mark.protocol("6.5.2")
def test_a_room_goes_only_when_the_store_says_it_went() -> None:
    """The last member parts: a room with messages stays (the store keeps it); else it goes."""
    rooms = directory()
    rooms.load([RoomRecord(room_key("#old"), "#old")], [], RoomFile())
    alice = caller("alice")
    joined(rooms, alice, "#old")
    joined(rooms, alice, "#new")
    old, new = rooms.get(room_key("#old")), rooms.get(room_key("#new"))
    assert old is not None
    assert new is not None
    rooms.parted(old, alice.key, gone=False)
    rooms.parted(new, alice.key, gone=True)
    assert rooms.get(room_key("#old")) is old
    assert rooms.get(room_key("#new")) is None
    assert rooms.rooms_of(alice.key) == []


@pytest.mark.protocol("6.5.7")
def test_a_room_file_reloaded_changes_doors_and_keeps_rooms_with_members(tmp_path: Path) -> None:
    """A room leaving the file stays as a public room while it has members; doors change."""
    rooms = directory(tmp_path)
    bob = caller("bob", "ops")
    joined(rooms, bob, "#ops")
    rooms.apply_file(room_file(tmp_path, '[rooms."#ops"]\nallow = ["carol"]'))
    ops = rooms.get(room_key("#ops"))
    assert ops is not None
    assert not bob.may_enter(ops)
    assert rooms.get(room_key("#announce")) is None  # nobody in it, no messages: gone
    rooms.apply_file(RoomFile())
    assert ops.access is None
    assert bob.may_enter(ops)

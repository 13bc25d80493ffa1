"""Which rooms exist, who is a member, who may enter: the rules of docs/protocol.md 6.5.

``RoomDirectory`` is the hub's picture of the rooms, in memory and without
I/O: the rooms loaded from the store and named in the room file, the
memberships of every identity (online or not), and the rules a request
must pass -- a room name that is valid, a room that exists or may be
created, a door (the room file's ``allow``) the caller may pass, the
limits. The hub writes memberships and topics through the engine first and
then records them here; which *sessions* receive a room's messages is kept
on each ``Room`` (``sessions``), by the hub.

Private rooms are not leaked: to a caller who may not enter one, a private
room answers exactly as a room that does not exist (``no_such_room``), is
left out of ``room_list``, and cannot be created by anyone (its name is
taken), which is all a caller can learn: that the name is not free.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import Refusal
from ..protocol import ErrorCode, RoomInfo, RoomList
from ..rooms import RULE, is_lobby, room_key, room_name, room_problem
from .config import Limits, ServerSettings
from .identity import PeerIdentity
from .roomfile import Access, RoomFile
from .store import RoomRecord


@dataclass(slots=True, eq=False)
class Room:
    """A room: its name as created, its topic, its members and the sessions receiving it."""

    key: str
    name: str
    topic: str | None = None
    topic_by: str | None = None
    topic_ts: str | None = None
    members: set[str] = field(default_factory=set)  # identity keys, online or not
    # Sessions of members that get this room's messages now, in the order
    # they came: a member's session is added once it has held its live
    # messages back for the room's history (docs/protocol.md 6.5).
    sessions: dict[Any, None] = field(default_factory=dict)
    access: Access | None = None  # the room file's door; None: anyone may enter
    in_file: bool = False  # named in the room file: it exists without members
    stored: bool = False  # the store has it (a member joined once; it has members or messages)
    joining: int = 0  # joins of it being written (a new room is reserved meanwhile)
    topic_default: str | None = None  # the room file's topic, while nobody set one

    @property
    def private(self) -> bool:
        return self.access is not None and self.access.private

    @property
    def shown_topic(self) -> str | None:
        return self.topic if self.topic_by is not None else self.topic_default

    def record(self) -> RoomRecord:
        return RoomRecord(self.key, self.name, self.topic, self.topic_by, self.topic_ts)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: an identity, its certificates in use, and which names it owns."""

    key: str
    certificates: tuple[PeerIdentity, ...]
    owns: Callable[[str], bool]  # owns(name_key)

    def may_enter(self, room: Room) -> bool:
        """Past the room's door (any of its live certificates will do: each can get in)."""
        access = room.access
        if access is None or access.everyone:
            return True
        return any(access.admits(certificate, self.owns) for certificate in self.certificates)


class RoomDirectory:
    """Every room, every membership, and the rules of entering (module docstring)."""

    def __init__(self, limits: Limits, settings: ServerSettings) -> None:
        self.limits = limits
        self.settings = settings
        self.file = RoomFile()
        self._rooms: dict[str, Room] = {}  # key -> room
        self._by_name: dict[str, Room] = {}  # name as created -> room (messages carry it)
        self._keys: list[str] = []  # the keys of _rooms, sorted (for room_list pages)
        self._of: dict[str, set[str]] = {}  # identity key -> keys of its rooms
        self._joining: Counter[str] = Counter()  # identity key -> joins being written

    # -- loading -----------------------------------------------------------------

    def load(
        self, records: Iterable[RoomRecord], members: Iterable[tuple[str, str]], file: RoomFile
    ) -> None:
        """What the store keeps, then the room file's rooms and doors over it."""
        for record in records:
            room = Room(record.key, record.name, record.topic, record.topic_by, record.topic_ts)
            room.stored = True
            self._add(room)
        for key, identity in members:
            found = self._rooms.get(key)
            if found is not None:
                found.members.add(identity)
                self._of.setdefault(identity, set()).add(key)
        self.apply_file(file)

    def apply_file(self, file: RoomFile) -> None:
        """A (re)loaded room file: its rooms exist, with its doors; others lose theirs.

        A room that leaves the file stays if it has members or messages (a
        public room now); the hub parts the members a new door keeps out.
        """
        self.file = file
        for room in list(self._rooms.values()):
            if room.in_file and room.key not in file.rooms:
                room.in_file, room.access, room.topic_default = False, None, None
                self._drop_if_empty(room)
        for entry in file.rooms.values():
            named = self._rooms.get(entry.key) or self._add(Room(entry.key, entry.name))
            named.in_file, named.access, named.topic_default = True, entry.access, entry.topic

    # -- looking up -------------------------------------------------------------------

    def get(self, key: str) -> Room | None:
        return self._rooms.get(key)

    def by_name(self, name: str) -> Room | None:
        """The room a stored message names (its name as created)."""
        return self._by_name.get(name)

    def rooms_of(self, identity: str) -> list[Room]:
        """The rooms ``identity`` is a member of, in key order."""
        return [self._rooms[key] for key in sorted(self._of.get(identity, ()))]

    def member_of(self, identity: str, room: Room) -> bool:
        return room.key in self._of.get(identity, ())

    def __iter__(self) -> Iterator[Room]:
        """Every room, in no particular order."""
        return iter(self._rooms.values())

    def __len__(self) -> int:
        return len(self._rooms)

    # -- the rules --------------------------------------------------------------------

    def resolve(self, room: str | None, caller: Caller, ref: str | None = None) -> Room | None:
        """The room a ``msg``, ``who`` or ``history`` names (None: the lobby), or a Refusal.

        Only a member may use a room; a room the caller may not enter is no
        room at all to it (``no_such_room``), one it may enter but has not
        joined is ``not_a_member``.
        """
        if is_lobby(room):
            return None
        assert room is not None
        found = self._find(room, caller, ref)
        if not self.member_of(caller.key, found):
            raise Refusal(
                ErrorCode.NOT_A_MEMBER, f"you are not in {found.name}: join it first", ref=ref
            )
        return found

    def plan_join(self, room: str, caller: Caller) -> Room:
        """The room a ``join`` enters -- an existing one, or a new one reserved -- or a Refusal.

        A new room is in the directory (and counts toward ``max_rooms``) from
        here on; ``abandon`` takes it back if its first join is not written.
        """
        if is_lobby(room):
            raise Refusal(ErrorCode.NO_SUCH_ROOM, "everyone is in the lobby: it is not joined")
        key = room_key(room)
        found = self._rooms.get(key)
        if found is None or not caller.may_enter(found):
            self._check_new(room, found)
        if found is not None and self.member_of(caller.key, found):
            return found  # already in: joined again, nothing written
        rooms = len(self._of.get(caller.key, ())) + self._joining[caller.key]
        if rooms >= self.limits.max_rooms_per_identity:
            most = self.limits.max_rooms_per_identity
            raise Refusal(
                ErrorCode.TOO_MANY_ROOMS,
                f"you are in {rooms} rooms already, the most allowed here ({most}): part one first",
            )
        if found is None:
            if len(self._rooms) >= self.limits.max_rooms:
                raise Refusal(
                    ErrorCode.TOO_MANY_ROOMS,
                    f"this server has {len(self._rooms)} rooms, the most it allows: "
                    "join one of them",
                )
            found = self._add(Room(key, room_name(room)))
        self._joining[caller.key] += 1
        found.joining += 1
        return found

    def _check_new(self, room: str, found: Room | None) -> None:
        """Why ``room`` cannot be created by a join (it always raises)."""
        problem = room_problem(room)
        if problem is not None:
            raise Refusal(ErrorCode.NO_SUCH_ROOM, f"{problem} ({RULE})")
        if found is not None:  # a private room the caller may not enter: as if it did not exist
            raise Refusal(ErrorCode.NO_SUCH_ROOM, f"there is no room {room!r} you may join")
        if not self.settings.room_create:
            raise Refusal(
                ErrorCode.NO_SUCH_ROOM,
                f"there is no room {room!r}: this server has only the rooms its operator named",
            )

    def joined(self, room: Room, identity: str) -> bool:
        """A join was written: ``identity`` is a member. False if it was one already."""
        self._settle_join(room, identity)
        room.stored = True
        if self._rooms.get(room.key) is not room:  # cannot happen while a join is pending
            self._add(room)
        return self._add_member(room, identity)

    def remote_joined(self, record: RoomRecord, identity: str) -> Room | None:
        """Another server wrote this membership: the room (added if new), or None if
        ``identity`` was a member already."""
        room = self._rooms.get(record.key)
        if room is None:
            room = self._add(Room(record.key, record.name, record.topic, record.topic_by,
                                  record.topic_ts))  # fmt: skip
        room.stored = True
        return room if self._add_member(room, identity) else None

    def abandon(self, room: Room, identity: str) -> None:
        """A join could not be written: undo ``plan_join`` (a room reserved for it goes)."""
        self._settle_join(room, identity)
        self._drop_if_empty(room)

    def _settle_join(self, room: Room, identity: str) -> None:
        room.joining -= 1
        self._joining[identity] -= 1
        if self._joining[identity] <= 0:
            del self._joining[identity]

    def parted(self, room: Room, identity: str, *, gone: bool = False) -> bool:
        """``identity`` is no longer a member (``gone``: the store deleted the room too).

        False if it was not one. A room with no member left goes from the
        directory when the store says it went (no messages either), unless
        the room file names it.
        """
        keys = self._of.get(identity)
        if keys is None or room.key not in keys:
            return False
        keys.discard(room.key)
        if not keys:
            del self._of[identity]
        room.members.discard(identity)
        if gone:
            self.gone(room)
        return True

    def gone(self, room: Room) -> None:
        """The store deleted ``room`` (its last member parted, no messages): forget it too."""
        room.stored = False
        self._drop_if_empty(room)

    def check_topic(self, room: str, text: str, caller: Caller, *, operator: bool = False) -> Room:
        """The room a ``topic`` sets, or a Refusal (not a member, too long).

        An operator may set the topic of any room, one it is not in too
        (docs/protocol.md 6.7).
        """
        if operator and not is_lobby(room):
            found: Room | None = self._rooms.get(room_key(room))
            if found is None:
                raise Refusal(ErrorCode.NO_SUCH_ROOM, f"no room {room!r}")
        else:
            found = self.resolve(room, caller)
        if found is None:
            raise Refusal(ErrorCode.NO_SUCH_ROOM, "the lobby has no topic")
        most = self.limits.max_topic_chars
        if len(text) > most:
            raise Refusal(
                ErrorCode.TOPIC_TOO_LONG, f"a topic has at most {most} characters, not {len(text)}"
            )
        return found

    def page(self, caller: Caller, cursor: str | None, size: int) -> RoomList:
        """One page of the rooms ``caller`` may see, in key order, after ``cursor``.

        A private room is listed only to whom may enter it (or is in it).
        """
        keys = self._keys
        index = 0 if cursor is None else bisect.bisect_right(keys, cursor)
        entries: list[RoomInfo] = []
        while index < len(keys) and len(entries) < size:
            room = self._rooms[keys[index]]
            index += 1
            member = self.member_of(caller.key, room)
            may_enter = caller.may_enter(room)
            if member or may_enter:
                entries.append(self.info(room, member=member, may_join=may_enter))
        more = any(self._visible(self._rooms[key], caller) for key in keys[index:])
        return RoomList(rooms=tuple(entries), next=keys[index - 1] if more else None)

    def _visible(self, room: Room, caller: Caller) -> bool:
        return self.member_of(caller.key, room) or caller.may_enter(room)

    @staticmethod
    def info(room: Room, *, member: bool, may_join: bool) -> RoomInfo:
        return RoomInfo(
            name=room.name,
            members=len(room.members),
            topic=room.shown_topic,
            member=member,
            may_join=may_join,
            private=room.private,
        )

    # -- inside ------------------------------------------------------------------------

    def _find(self, room: str, caller: Caller, ref: str | None) -> Room:
        found = self._rooms.get(room_key(room))
        if found is None or not (self.member_of(caller.key, found) or caller.may_enter(found)):
            why = room_problem(room)
            detail = f": {why}" if why is not None else ""
            raise Refusal(ErrorCode.NO_SUCH_ROOM, f"no room {room!r}{detail}", ref=ref)
        return found

    def _add(self, room: Room) -> Room:
        self._rooms[room.key] = room
        self._by_name[room.name] = room
        bisect.insort(self._keys, room.key)
        return room

    def _add_member(self, room: Room, identity: str) -> bool:
        keys = self._of.setdefault(identity, set())
        if room.key in keys:
            return False
        keys.add(room.key)
        room.members.add(identity)
        return True

    def _drop_if_empty(self, room: Room) -> None:
        """Forget a room nobody is in, that the file does not name and the store does not keep
        (a room with messages stays, in the store and here, until retention empties it)."""
        if room.members or room.in_file or room.stored or room.joining:
            return
        if self._rooms.get(room.key) is not room:
            return
        del self._rooms[room.key]
        self._by_name.pop(room.name, None)
        del self._keys[bisect.bisect_left(self._keys, room.key)]

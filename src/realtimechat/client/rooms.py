"""The rooms a client is in, the one it types into, and what it has not read (sans-I/O).

The server says which rooms the identity is in (``welcome.rooms``,
``joined``, ``parted``); the client only chooses which of them, or the
lobby, its lines go to (``current``), and counts per room the messages
that arrived while the user was typing elsewhere. ``/join #ops`` makes
``#ops`` the room typed into at once, before the server's ``joined``: the
lines typed after it are meant for it, and the sender sends them after the
``join`` (``sansio/sender.py``). A join the server refuses puts the lobby
back. ``Chat`` feeds it frames
and asks it where a message goes; the front ends show ``unread`` and
``tag`` lines that are not of the room typed into.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..protocol import DEFAULT_ROOM, Joined, Msg, Parted, RoomInfo, RoomList, Topic
from ..rooms import room_key


@dataclass(slots=True)
class RoomState:
    """One room of the identity, as far as the client was told."""

    name: str
    members: int
    topic: str | None = None
    unread: int = 0


class Rooms:
    """The identity's rooms, the one typed into, unread counts (module docstring)."""

    def __init__(self, wanted: str | None = None) -> None:
        self._rooms: dict[str, RoomState] = {}  # room key -> state
        self.current: str | None = None  # the key of the room typed into; None: the lobby
        self.lobby_unread = 0
        self.known: dict[str, str] = {}  # room key -> name: every room seen (what Tab offers)
        self._asked: list[str] = []  # keys of joins asked for here and not answered, in order
        # Rooms whose history after ``joined`` is arriving -> how many of its lines were shown.
        self._histories: dict[str, int] = {}
        self.wanted = wanted  # --room: joined if need be, and typed into
        if wanted is not None:
            self.current = room_key(wanted)
            self.known[self.current] = wanted

    # -- what the server says ---------------------------------------------------------

    def welcome(
        self, rooms: Iterable[RoomInfo] | None, still_asking: Iterable[str] = ()
    ) -> str | None:
        """A (new) welcome lists the identity's rooms; returns a room to join (--room), if any.

        ``still_asking``: rooms whose ``join`` is still to be sent; any other
        join asked for and not in ``rooms`` went with a lost connection.
        """
        previous = self._rooms
        self._rooms = {}
        for info in rooms or ():
            key = room_key(info.name)
            state = RoomState(info.name, info.members, info.topic)
            state.unread = previous[key].unread if key in previous else 0
            self._rooms[key] = state
            self.known[key] = info.name
        self._histories.clear()
        waiting = {room_key(room) for room in still_asking}
        self._asked = [key for key in self._asked if key in waiting]
        wanted = self.wanted
        if wanted is not None and room_key(wanted) not in self._rooms:
            self._asked.insert(0, room_key(wanted))  # joined before anything else is sent
            return wanted
        if self.current is not None and self.current not in (*self._rooms, *self._asked):
            self.go_key(None)  # no longer a member (parted while we were away)
        return None

    def joined(self, frame: Joined) -> bool:
        """``joined``: a room of the identity (from here or another device); True if typed into
        now (this client asked for it)."""
        key = room_key(frame.room)
        self._rooms[key] = RoomState(frame.room, frame.members, frame.topic)
        self.known[key] = frame.room
        self._histories[key] = 0
        if key in self._asked:
            self._asked.remove(key)
            if self.current == key:
                self.go_key(key)  # nothing of it is unread
            return True
        return False

    def join_refused(self) -> str | None:
        """The oldest join asked for here was refused; the room typed into, if it was that
        one (the lobby is typed into now)."""
        if not self._asked:
            return None
        key = self._asked.pop(0)
        if self.wanted is not None and room_key(self.wanted) == key:
            self.wanted = None  # not asked again at the next welcome
        if self.current != key:
            return None
        name = self.known.get(key, key)
        self.go_key(None)
        return name

    def history_ended(self, room: str) -> int:
        """The history after ``joined`` is over: later messages of the room are news. How many
        of its lines were shown (not those on screen already, nor the ignored)."""
        return self._histories.pop(room_key(room), 0)

    def parted(self, frame: Parted) -> bool:
        """``parted``: True if it was the room typed into (the lobby is, now)."""
        key = room_key(frame.room)
        self._rooms.pop(key, None)
        self._histories.pop(key, None)
        if self.wanted is not None and room_key(self.wanted) == key:
            self.wanted = None  # not joined again on the next welcome
        if self.current == key:
            self.go_key(None)
            return True
        return False

    def topic(self, frame: Topic) -> None:
        state = self._rooms.get(room_key(frame.room))
        if state is not None:
            state.topic = frame.text or None

    def listed(self, frame: RoomList) -> None:
        for info in frame.rooms:
            self.known[room_key(info.name)] = info.name

    def members_changed(self, room: str, change: int) -> None:
        """Someone else joined (+1) or left (-1) ``room``."""
        state = self._rooms.get(room_key(room))
        if state is not None:
            state.members = max(0, state.members + change)

    def asked(self, room: str) -> None:
        """The user asked to join ``room``: typed into from now on (until refused)."""
        key = room_key(room)
        self._asked.append(key)
        self.known.setdefault(key, room)
        self.go_key(key)

    def message(self, msg: Msg, *, own: bool) -> None:
        """Count ``msg`` as unread if it came to a room (or the lobby) not typed into; a line
        of a room's history as shown."""
        if msg.to is not None:
            return  # private messages show in every room
        key = room_key(msg.room) if msg.room is not None else None
        if key is not None and key in self._histories:
            self._histories[key] += 1
            return
        if own or key == self.current:
            return
        if key is None:
            self.lobby_unread += 1
        elif key in self._rooms:
            self._rooms[key].unread += 1

    # -- what the user does -----------------------------------------------------------

    def go(self, room: str | None) -> str | None:
        """Type into ``room`` (None: the lobby); why not, if it is no room of ours."""
        if room is None:
            self.go_key(None)
            return None
        key = room_key(room)
        if key not in self._rooms and key not in self._asked:
            return f"you are not in {room}: /join {room} first"
        self.go_key(key)
        return None

    def go_key(self, key: str | None) -> None:
        self.current = key
        if key is None:
            self.lobby_unread = 0
        elif key in self._rooms:
            self._rooms[key].unread = 0

    def cycle(self, step: int) -> None:
        """The next (+1) or previous (-1) of the lobby and the rooms, in name order."""
        order: list[str | None] = [None, *sorted(self._rooms)]
        index = order.index(self.current) if self.current in order else 0
        self.go_key(order[(index + step) % len(order)])

    # -- what the front ends show -----------------------------------------------------

    @property
    def current_name(self) -> str | None:
        """The name of the room typed into (None: the lobby): what a ``msg`` carries."""
        if self.current is None:
            return None
        state = self._rooms.get(self.current)
        return state.name if state is not None else self.known.get(self.current)

    def get(self, room: str | None) -> RoomState | None:
        return self._rooms.get(room_key(room)) if room is not None else None

    @property
    def names(self) -> list[str]:
        """The identity's rooms, in key order."""
        return [self._rooms[key].name for key in sorted(self._rooms)]

    def completions(self) -> list[str]:
        """Room names Tab offers: ours first, then others seen in ``room_list``."""
        ours = self.names
        others = [name for key, name in sorted(self.known.items()) if key not in self._rooms]
        return [*ours, *others]

    def unread(self) -> list[tuple[str, int]]:
        """(room, count) for every room with unread messages, the lobby first."""
        counts = [(DEFAULT_ROOM, self.lobby_unread)] if self.lobby_unread else []
        counts += [
            (self._rooms[key].name, self._rooms[key].unread)
            for key in sorted(self._rooms)
            if self._rooms[key].unread
        ]
        return counts

    def tag(self, msg: Msg) -> str | None:
        """``#ops`` (or ``lobby``) for a line not of the room typed into; None for one that is."""
        if msg.to is not None:
            return None
        key = room_key(msg.room) if msg.room is not None else None
        if key == self.current:
            return None
        return msg.room if msg.room is not None else DEFAULT_ROOM

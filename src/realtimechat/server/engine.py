"""The engine boundary: where a message gets its id, is kept, and comes back to be delivered.

The hub never stores a message and then delivers it itself: it hands a batch
to the engine (``publish``), which assigns ids and stores it durably, and it
delivers what the engine reports as stored (``follow``). On one server the
two are the same process (``LocalEngine``: a ``Store``, then the acks, then
the follower, in one turn of the event loop); on several (the Redis issue)
an engine that keeps one log for all of them reports every server's
messages, in the log's order, to each. The hub and the sessions do not
change between the two; docs/design.md ("The server core: one way through,
and the engine boundary") says what each side promises. Name ownership goes
through the engine too (``claim_name``), durably, before a session is
welcomed under a new name, and so do rooms: a message carries its room to
the follower, and memberships and topics are written through the engine
(``join_room``, ``part_room``, ``set_topic``) before anyone is told, so
that an engine shared by several servers can carry them; so are operators'
bans, mutes and the message of the day (``put_sanction``,
``drop_sanction``, ``set_motd``).

Presence (who is online) and which sessions of this server receive which
room are still the hub's own, in memory: the Redis issue extends this
boundary with presence, and with telling every server of a membership or
topic another one wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..protocol import Msg
from .store import Draft, RoomRecord, Sanction, Store, Stored


@dataclass(slots=True)  # one per message: not frozen, whose __init__ costs more
class Entry:
    """A stored message as it is delivered: the frame, and whose it is to see."""

    msg: Msg
    sender: str  # identity key
    recipient: str | None  # identity key of a private message's recipient; None: public
    room: str | None = None  # the room's name; None: the lobby (or a private message)


Follower = Callable[[Sequence[Entry]], None]
Stored_ = Callable[[list[Stored]], None]  # told what became of each draft of a batch


class Engine(Protocol):
    """What the hub needs of whatever keeps the conversation.

    * ``publish`` stores the batch durably and calls ``stored`` with one
      result per draft, in order (a resend of a stored ``ref`` gets the
      first id); it raises if the batch was not stored.
    * Every message stored, by this server or another, is handed to the
      follower exactly once, in id order, and a message published here
      only after ``stored`` has returned for its batch: so its sender's
      ``ack`` goes out before the echo (docs/protocol.md 6.2).
    * ``last_id``: every id up to it has been handed to the follower or is
      about to be, so a session that is welcomed now gets the messages up
      to it from history and the later ones live (docs/protocol.md 8.3).
    """

    store: Store

    @property
    def last_id(self) -> int: ...

    def follow(self, follower: Follower) -> None: ...

    async def publish(self, drafts: Sequence[Draft], stored: Stored_) -> None: ...

    async def claim_name(self, key: str, identity: str, name: str) -> None: ...

    async def join_room(self, room: RoomRecord, identity: str) -> None: ...

    async def part_room(self, key: str, identity: str) -> bool: ...

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None: ...

    async def put_sanction(self, sanction: Sanction) -> None: ...

    async def drop_sanction(self, kind: str, identity: str) -> bool: ...

    async def set_motd(self, text: str | None) -> None: ...


class LocalEngine:
    """One server: the store assigns ids; the follower is called on the event loop."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self._loop = loop
        self._follower: Follower = _nobody

    @property
    def last_id(self) -> int:
        return self.store.last_id

    def follow(self, follower: Follower) -> None:
        self._follower = follower

    async def publish(self, drafts: Sequence[Draft], stored: Stored_) -> None:
        results = await self.store.append(drafts)
        stored(results)  # the acks are queued first...
        entries = [
            Entry(result.msg, draft.sender, draft.recipient, draft.room)
            for draft, result in zip(drafts, results, strict=True)
            if result.msg is not None  # a resend: acked again, never delivered twice
        ]
        if entries:
            # ...then the messages, in the same turn of the event loop, so
            # that acks and echoes leave in the same write to each session.
            self._follower(entries)

    async def claim_name(self, key: str, identity: str, name: str) -> None:
        await self.store.own_name(key, identity, name)

    async def join_room(self, room: RoomRecord, identity: str) -> None:
        """Membership (and a new room) stored: commits and reads keep their one order."""
        await self.store.join_room(room, identity)

    async def part_room(self, key: str, identity: str) -> bool:
        return await self.store.part_room(key, identity)

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None:
        await self.store.set_topic(key, topic, by, ts)

    async def put_sanction(self, sanction: Sanction) -> None:
        """A ban or mute stored before anyone is told (docs/protocol.md 6.7)."""
        await self.store.put_sanction(sanction)

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        return await self.store.drop_sanction(kind, identity)

    async def set_motd(self, text: str | None) -> None:
        await self.store.set_motd(text)


def _nobody(entries: Sequence[Entry]) -> None:
    """The follower before the hub follows: nothing is published before then."""

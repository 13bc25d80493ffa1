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

What another server wrote -- a name claimed, a membership, a topic -- comes
back through ``follow``'s ``changes`` (the hub), so that each server's
picture in memory follows the shared one (``RedisEngine``; on one server
there is no other writer). Presence -- who is online -- crosses the
boundary too (``share_presence``, ``enter``, ``exit``): on one server it is
the hub's own, in memory, as it always was (``LocalEngine`` shares nothing);
on Redis each session is registered for every server to see, and names
coming online or going offline come back through ``changes`` (``came_online``,
``went_offline``), in the control stream's order, on every server alike.
Which sessions of this server receive which room stays the hub's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from ..errors import Refusal
from ..protocol import ErrorCode, Msg, PartReason, UserInfo
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


@dataclass(frozen=True, slots=True)
class OnlineUser:
    """A name online somewhere: its key, its identity, and how ``users`` lists it."""

    key: str  # names.name_key of info.name
    identity: str  # identity key
    info: UserInfo


class Changes(Protocol):
    """What another server wrote, as the hub applies it (its own sessions are told).

    ``came_online`` and ``went_offline`` are told for this server's own
    sessions too: presence is counted in one place, so every server's
    picture of who is online follows the same events in the same order.
    """

    def owned(self, key: str, identity: str, name: str) -> None: ...

    def released(self, key: str) -> None: ...

    def room_joined(self, room: RoomRecord, identity: str, name: str) -> None: ...

    def room_parted(
        self, key: str, identity: str, name: str, reason: PartReason, gone: bool
    ) -> None: ...

    def topic_set(self, key: str, topic: str | None, by: str, ts: str) -> None: ...

    def came_online(self, user: OnlineUser) -> None: ...

    def went_offline(self, key: str, identity: str, name: str, reason: str) -> None: ...

    def operated(self, event: dict[str, Any]) -> None: ...

    def revoked(self, keys: Sequence[str]) -> None: ...
    def forgotten(self, first: int, last: int) -> None:
        """Ids ``first``..``last`` were trimmed by retention before this server read them."""


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
      Reads of the store stop there too.
    * ``catch_up(since)``: wait until ``last_id`` has reached ``since`` (or
      the last id stored, if lower): a client resuming from another server
      may have seen ids this one has not handed on yet.
    * ``settle``: wait until everything published here has reached the
      follower (at shutdown, so that senders get their echoes first).
    * ``available``: False while the engine knows its shared store is
      unreachable (Redis down): new sessions are refused with
      ``unavailable``, which clients retry (docs/scaling.md, "Redis down").
      ``publish`` and the writes raise ``Refusal(unavailable)`` when they
      give up on a store that does not answer.
    * Writes made here (``claim_name``, rooms) are told to the other
      servers' ``changes``; ``name`` is the member's name, for their
      ``join``/``leave``.
    * ``revocations``: None if the trust files are all a server refuses
      by (one server); else the revocations every server shares (keys of
      ``trust.revocation_keys``), which ``revoke`` adds to (the new ones
      reach the other servers' ``changes.revoked``). They only refuse.
    * ``tell_servers``: an operator's action done here (moderation.py),
      for every other server's ``changes.operated``, once.
    * ``share_presence(grace)``: None if presence is the hub's own (one
      server); else who is online on every server now, and from then on
      each session is registered with ``enter`` (which returns once this
      server's ``came_online`` has been told of it, if it was the name's
      first session anywhere) and ``exit``, and the ``changes`` hear a name
      come online or go offline on any server. A server that stops
      (cleanly or not) has its sessions ended for everyone after ``grace``
      seconds, unless they came back elsewhere meanwhile.
    """

    store: Store

    @property
    def last_id(self) -> int: ...

    @property
    def available(self) -> bool: ...

    def follow(self, follower: Follower, changes: Changes | None = None) -> None: ...

    async def publish(self, drafts: Sequence[Draft], stored: Stored_) -> None: ...

    async def catch_up(self, since: int) -> None: ...

    async def settle(self) -> None: ...

    async def close(self) -> None: ...

    async def claim_name(self, key: str, identity: str, name: str) -> None: ...

    async def join_room(self, room: RoomRecord, identity: str, name: str = "") -> None: ...

    async def part_room(
        self, key: str, identity: str, name: str = "", reason: str = ""
    ) -> bool: ...

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None: ...

    async def put_sanction(self, sanction: Sanction) -> None: ...

    async def drop_sanction(self, kind: str, identity: str) -> bool: ...

    async def set_motd(self, text: str | None) -> None: ...

    async def share_presence(self, grace: float) -> list[OnlineUser] | None: ...

    async def enter(self, session: str, user: OnlineUser) -> None: ...

    async def exit(self, session: str, key: str, reason: str) -> None: ...

    async def tell_servers(self, event: Mapping[str, Any]) -> None: ...

    async def revocations(self) -> frozenset[str] | None: ...

    async def revoke(self, keys: Collection[str]) -> None: ...


class LocalEngine:
    """One server: the store assigns ids; the follower is called on the event loop."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self._loop = loop
        self._follower: Follower = nobody

    @property
    def last_id(self) -> int:
        return self.store.last_id

    @property
    def available(self) -> bool:
        """An embedded store is there as long as the process is."""
        return True

    def follow(self, follower: Follower, changes: Changes | None = None) -> None:
        self._follower = follower  # nobody else writes: there are no changes to tell

    async def catch_up(self, since: int) -> None:
        """Nothing to wait for: the follower is called as each batch is stored."""

    async def settle(self) -> None:
        """Nothing to wait for: a batch is delivered in the turn it is stored."""

    async def close(self) -> None:
        """Nothing to stop: the store is closed by its owner."""

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

    async def join_room(self, room: RoomRecord, identity: str, name: str = "") -> None:
        """Membership (and a new room) stored: commits and reads keep their one order."""
        await self.store.join_room(room, identity)

    async def part_room(self, key: str, identity: str, name: str = "", reason: str = "") -> bool:
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

    async def share_presence(self, grace: float) -> list[OnlineUser] | None:
        """None: one server's presence is its hub's own, in memory."""
        return None

    async def enter(self, session: str, user: OnlineUser) -> None:
        """Never called: presence is not shared."""

    async def exit(self, session: str, key: str, reason: str) -> None:
        """Never called: presence is not shared."""

    async def tell_servers(self, event: Mapping[str, Any]) -> None:
        """There is no other server to tell."""

    async def revocations(self) -> frozenset[str] | None:
        """None: one server's certificate files are all it refuses by."""
        return None

    async def revoke(self, keys: Collection[str]) -> None:
        """Never called: revocations are not shared."""


STORE_AWAY: Final = "the server cannot reach its store (Redis) just now: try again shortly"


def unavailable(message: str = STORE_AWAY) -> Refusal:
    """The refusal of what needs a shared store that does not answer (12.1 ``unavailable``)."""
    return Refusal(ErrorCode.UNAVAILABLE, message)


def nobody(entries: Sequence[Entry]) -> None:
    """The follower before the hub follows: nothing is published before then."""


@runtime_checkable
class SharedStore(Protocol):
    """A store that comes with an engine of its own (``RedisStore``: many servers on it)."""

    def engine(self, log: logging.Logger) -> Engine: ...


def engine_for(store: Store, loop: asyncio.AbstractEventLoop, log: logging.Logger) -> Engine:
    """The engine of ``store``: its own if it is shared, else this process's ``LocalEngine``."""
    if isinstance(store, SharedStore):
        return store.engine(log)
    return LocalEngine(store, loop)

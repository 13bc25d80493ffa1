"""``RedisEngine``: the engine of servers that share one conversation in Redis.

Publishing runs the store's ``append`` script (one round trip per batch)
and acks from its reply; delivering is the follower's alone: one task per
server reads ``{rtc}:log`` and ``{rtc}:ctl`` with a blocking ``XREAD``
from its own cursors and hands the entries to the hub in log order, this
server's and every other's alike. Delivering our own batches straight
from the append reply would let this server's clients see 10, 11 and then
another server's 9; so there is no fast path.

Ack before echo (docs/protocol.md 6.2): the append reply and the
follower's read may come back in either order. An entry marked with one
of this server's batches that has not been settled yet waits for it (the
reply is already on its way): the acks are queued first, then the echo.

Control events (names claimed, memberships, topics written by another
server) are applied before the messages of the same read, so that a
message to a room just created elsewhere finds the room here.

Presence (docs/scaling.md, "Presence"): each session is registered in
Redis (``enter``/``exit``); a name's first session anywhere and its last
one put ``online``/``offline`` in the control stream, and every server --
this one too -- applies those in the stream's order to its picture of who
is online. A second task beats this server's heartbeat and reaps servers
whose heartbeat stopped for the grace: their sessions end for everyone,
unless they came back on another server meanwhile.

The follower still reads our own entries (that is what keeps one order),
but it does not decode them again: the message each append reply gave us
is kept by id until the follower passes it (``_mine``), which spares a
JSON parse and a ``Msg`` per message (docs/performance.md, "Redis").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Final, cast

from redis import exceptions as redis_errors
from redis.typing import KeyT, StreamIdT

from ..errors import Refusal
from ..protocol import ByeReason, ErrorCode, PartReason, UserInfo
from .engine import Changes, Entry, Follower, OnlineUser, Stored_, nobody, unavailable
from .redis_store import Entries, RedisStore, decode_entry, entry_id
from .store import Draft, RoomRecord, Sanction, Store, Stored

BLOCK_MS: Final = 5_000  # one XREAD waits at most this long for something new
READ_COUNT: Final = 1_000  # entries per XREAD and stream
BACKOFF_FIRST: Final = 0.05  # seconds before reading again after Redis went away...
BACKOFF_MAX: Final = 2.0  # ...doubling up to this
RESEND_FOR: Final = 10.0  # seconds a batch in doubt is sent again before its senders get errors
BEATS_PER_GRACE: Final = 5  # heartbeats (and reaper rounds) per grace: a few may be lost
PRESENCE: Final = frozenset({"online", "offline"})  # applied by every server, the writer too
CLOSE_WAIT: Final = 2.0  # seconds close() waits for each task it cancelled
GONE: Final = (redis_errors.ConnectionError, redis_errors.TimeoutError)  # Redis (or the link) away


class RedisEngine:
    """Many servers on one Redis: ids from the ``append`` script, delivery from the follower."""

    def __init__(self, store: RedisStore, log: logging.Logger) -> None:
        self.store: Store = store
        self._redis = store
        self._log = log
        self._follower: Follower = nobody
        self._changes: Changes | None = None
        self._cursor = store.last_id  # every id up to it was there when we opened
        self._ctl_cursor = store.ctl_start
        store.bound = self._cursor
        for warning in store.warnings:
            log.warning("%s", warning)
        self._batch = 0  # batches published by this process
        self._settled = 0  # ...of which this many have been settled (acks queued)
        self._published = 0  # highest id published here
        self._moved = asyncio.Event()  # set whenever a batch settles or the cursor moves
        # Our stored messages, by id, until the follower reads them back; in id order
        # (one batch at a time), so those a Redis that lost data never hands on are
        # dropped as the cursor passes them.
        self._mine: dict[int, Entry] = {}
        self._task: asyncio.Task[None] | None = None
        self._presence: asyncio.Task[None] | None = None
        self._grace = 0.0
        # This server's registered sessions (session -> name key and record):
        # entered again if the server was reaped while alive (a long pause).
        self._sessions: dict[str, tuple[str, dict[str, Any]]] = {}
        # Sessions ended while Redis could not be told (session -> reason): the
        # heartbeat tells it later, or the name would stay online everywhere.
        self._unexited: dict[str, str] = {}
        # Set by close(): a cancellation that redis-py turns into a ConnectionError
        # (it closes the connection under the command) must still end the loops.
        self._closing = False
        self._stop = asyncio.Event()  # set by close(): the heartbeat ends at once
        self._down = False  # the last read or write found Redis away

    @property
    def available(self) -> bool:
        """False from a failed read or write of Redis until the follower reads again."""
        return not self._down

    @property
    def last_id(self) -> int:
        """The last id handed to the follower: later ones reach sessions live."""
        return self._cursor

    def follow(self, follower: Follower, changes: Changes | None = None) -> None:
        self._follower = follower
        self._changes = changes
        if self._task is None:
            self._closing = False  # following again after a close (a test does)
            self._stop = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-follower")
            self._task.add_done_callback(self._stopped)

    def _stopped(self, task: asyncio.Task[None]) -> None:
        """A follower that died of a fault is said loudly: nothing is delivered any more."""
        if not task.cancelled() and task.exception() is not None:
            self._log.error(
                "following Redis stopped: nothing more is delivered; restart the server",
                exc_info=task.exception(),
            )

    async def close(self) -> None:
        """Stop following (before the store closes).

        This server's sessions stay registered: its last heartbeat lets the
        reaper end them a grace later, unless they reconnect elsewhere first
        (a rolling restart shows no leave and join).
        """
        self._closing = True
        self._stop.set()
        if self._presence is not None:
            # Not cancelled in the middle of a command: a command of the shared
            # pool cancelled there left a connection nobody closed (ResourceWarning).
            done, _ = await asyncio.wait({self._presence}, timeout=CLOSE_WAIT)
            if not done:
                self._presence.cancel()
        if self._task is not None:  # in a blocking XREAD on a connection of its own
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_WAIT)  # bounded: shutdown goes on
        self._presence = self._task = None

    # -- publishing -----------------------------------------------------------------

    async def publish(self, drafts: Sequence[Draft], stored: Stored_) -> None:
        self._batch += 1
        batch = self._batch
        try:
            results = await self._append(drafts, f"{self._redis.origin}:{batch}")
            stored(results)
            self._keep(drafts, results)
        finally:  # stored or not: the follower must not wait for this batch any more
            self._settled = batch
            self._moved.set()

    def _keep(self, drafts: Sequence[Draft], results: Sequence[Stored]) -> None:
        """Remember the batch's new messages for the follower, which reads them back."""
        for draft, result in zip(drafts, results, strict=True):
            msg = result.msg
            if msg is not None:
                self._mine[msg.id] = Entry(msg, draft.sender, draft.recipient, msg.room)
                self._published = max(self._published, msg.id)

    async def _append(self, drafts: Sequence[Draft], origin: str) -> list[Stored]:
        """Run the append script; resend a batch whose outcome is unknown, if that is safe.

        A batch whose reply never came (Redis went away, or the link) may
        have been stored. When every draft has a ``ref``, sending it again
        is safe: a stored one comes back as a duplicate with its first id
        (docs/protocol.md 6.3). So it is sent again until Redis answers or
        RESEND_FOR seconds have passed; new messages wait meanwhile (one
        batch at a time). A batch with a draft without ``ref`` is not: it
        fails at once. Either way the senders get ``error unavailable``,
        whose message says which of the two happened.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESEND_FOR
        wait = BACKOFF_FIRST
        resendable = all(draft.ref is not None for draft in drafts)
        while True:  # ends: each round waits longer, up to the deadline
            try:
                results = await self._redis.append(drafts, origin=origin)
            except GONE as exc:
                self._down = True
                if not resendable:
                    raise unavailable(
                        "the server lost its store (Redis) while storing this; it may or may "
                        "not have been stored: a message with a ref can be sent again safely"
                    ) from exc
                if loop.time() + wait > deadline:
                    raise unavailable(
                        f"not stored: the server could not reach its store (Redis) for "
                        f"{RESEND_FOR:g} s; send it again"
                    ) from exc
                self._log.warning(
                    "storing %d messages: %s; again in %.2f s", len(drafts), exc, wait
                )
            else:
                self._down = False
                return results
            await asyncio.sleep(wait)
            wait = min(wait * 2, BACKOFF_MAX)

    async def settle(self) -> None:
        """Wait until every message published here has been handed to the follower.

        Not for ids a Redis that lost everything will never hand on: the
        wait ends at the last id Redis gave out, and at once if it is down.
        """
        if self._cursor >= self._published:
            return
        try:
            target = min(self._published, await self._redis.log_top())
        except redis_errors.RedisError:
            return
        await self._until(lambda: self._cursor >= target)

    async def catch_up(self, since: int) -> None:
        """Wait until the follower has handed on ``since``, or the last id given out if lower.

        A client that resumes here after another server may have seen ids
        this server's follower has not read yet.
        """
        if since <= self._cursor:
            return
        try:
            top = await self._redis.log_top()
        except GONE as exc:
            self._down = True
            raise unavailable() from exc
        target = min(since, top)
        await self._until(lambda: self._cursor >= target)

    async def _until(self, done: Callable[[], bool]) -> None:
        while not done():  # each wake-up is a settled batch or a cursor that moved
            self._moved.clear()
            await self._moved.wait()

    # -- writes other servers must hear of ------------------------------------------

    async def claim_name(self, key: str, identity: str, name: str) -> None:
        try:
            owner = await self._redis.claim(key, identity, name)
        except GONE as exc:  # a hello that waits for its name: the client comes back
            self._down = True
            raise unavailable() from exc
        if owner[0] != identity:
            raise Refusal(ErrorCode.NAME_TAKEN, f"the name {name!r} belongs to someone else")

    async def join_room(self, room: RoomRecord, identity: str, name: str = "") -> None:
        await self._redis.join_room(room, identity, name)

    async def part_room(self, key: str, identity: str, name: str = "", reason: str = "") -> bool:
        return await self._redis.part_room(key, identity, name, reason)

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None:
        await self._redis.set_topic(key, topic, by, ts)

    async def put_sanction(self, sanction: Sanction) -> None:
        await self._redis.put_sanction(sanction)

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        return await self._redis.drop_sanction(kind, identity)

    async def set_motd(self, text: str | None) -> None:
        await self._redis.set_motd(text)

    # -- presence ---------------------------------------------------------------------

    async def share_presence(self, grace: float) -> list[OnlineUser] | None:
        """Beat, reap, and read who is online now (later changes come from ``ctl``).

        The snapshot is read after the control stream's start was: the
        events in between are applied again on it, and since each says
        where one name ends up, the picture ends as Redis's.
        """
        self._grace = grace
        await self._redis.beat(grace)
        users = [_user(record) for record in await self._redis.online()]
        if self._presence is None:
            task = asyncio.get_running_loop().create_task(self._beat(), name="redis-presence")
            task.add_done_callback(self._stopped)
            self._presence = task
        return users

    async def enter(self, session: str, user: OnlineUser) -> None:
        """Register ``session``; return once the follower has read what that wrote."""
        record = _record(user)
        self._sessions[session] = (user.key, record)
        try:
            newest = await self._redis.enter(session, user.key, record, self._grace)
        except GONE as exc:  # the hello is refused as unavailable: the client comes back
            self._down = True
            raise unavailable() from exc
        await self._until(lambda: _stream_id(self._ctl_cursor) >= _stream_id(newest))

    async def exit(self, session: str, key: str, reason: str) -> None:
        self._sessions.pop(session, None)
        try:
            await self._redis.exit(session, reason)
        except GONE:
            self._unexited[session] = reason
            raise

    async def tell_servers(self, event: Mapping[str, Any]) -> None:
        await self._redis.tell("op", event)

    async def revocations(self) -> frozenset[str] | None:
        return await self._redis.revocations()

    async def revoke(self, keys: Collection[str]) -> None:
        await self._redis.revoke(sorted(keys))

    async def _beat(self) -> None:
        """Heartbeats and reaping, every grace / BEATS_PER_GRACE seconds, until cancelled."""
        every = self._grace / BEATS_PER_GRACE
        while not self._closing:  # until close()
            with contextlib.suppress(TimeoutError):  # the next beat is due, or we stop
                await asyncio.wait_for(self._stop.wait(), every)
            if self._closing:
                return
            try:
                if not await self._redis.beat(self._grace) and self._sessions:
                    await self._enter_again()
                for session, reason in list(self._unexited.items()):
                    await self._redis.exit(session, reason)
                    del self._unexited[session]
                await self._redis.reap(ByeReason.DISCONNECTED.value)
            except GONE as exc:
                self._log.warning("presence heartbeat: %s; again in %.2f s", exc, every)

    async def _enter_again(self) -> None:
        """Reaped while alive (Redis unreachable past the grace): register our sessions again."""
        self._log.warning(
            "this server was taken for dead; registering its %d sessions again",
            len(self._sessions),
        )
        for session, (key, record) in list(self._sessions.items()):
            await self._redis.enter(session, key, record, self._grace)

    # -- following ------------------------------------------------------------------

    async def _run(self) -> None:
        client = self._redis.connect(socket_timeout=None, single_connection_client=True)
        backoff = BACKOFF_FIRST
        try:
            while not self._closing:  # until close()
                streams: dict[KeyT, StreamIdT] = {
                    self._redis.ctl_key: self._ctl_cursor,
                    self._redis.log_key: f"{self._cursor}-0",
                }
                try:
                    if self._down:  # back? say so now, not after a blocking read's wait
                        await client.ping()
                        self._down = False
                    reply = await client.xread(streams, count=READ_COUNT, block=BLOCK_MS)
                except GONE as exc:
                    self._down = True
                    self._log.warning("following Redis: %s; reading again in %.2f s", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                backoff = BACKOFF_FIRST
                await self._handle(dict(cast(list[tuple[str, Entries]], reply or [])))
        finally:
            await client.aclose()

    async def _handle(self, reply: Mapping[str, Entries]) -> None:
        control = reply.get(self._redis.ctl_key, [])
        for stream_id, fields in control:
            self._ctl_cursor = stream_id
            kind = fields.get("k", "")
            # Ours were applied when written, but for presence, which is counted in Redis.
            if fields.get("o") != self._redis.origin or kind in PRESENCE:
                self._apply(kind, fields.get("e", "{}"))
        if control:
            self._moved.set()  # an enter may be waiting for its event
        raw = reply.get(self._redis.log_key, [])
        if not raw:
            return
        first = entry_id(raw[0][0])
        if first > self._cursor + 1:  # ids skipped: trimmed before we read them, or never given
            await self._behind(first)
        newest = max(self._our_batch(fields.get("o", "")) for _, fields in raw)
        await self._until(lambda: self._settled >= newest)  # ack before echo
        self._follower([self._entry(stream_id, fields) for stream_id, fields in raw])
        self._cursor = entry_id(raw[-1][0])
        self._forget(self._cursor)
        self._redis.bound = self._cursor
        self._moved.set()

    async def _behind(self, first: int) -> None:
        """Ids between our cursor and ``first`` (the next entry) are not in the log.

        If the log still holds an entry at or below our cursor, they were
        never given out (the jump to Redis's clock after a restart: no
        gap). If not, they are gone before this server read them: trimmed
        by retention while its follower was stopped, slow or cut off, or
        lost with a Redis without persistence. Its sessions then get a
        ``gap`` for them, as ``forgotten`` (9.3), before the messages after
        it -- the same range a resume from our cursor would get. A server
        that has read nothing yet (cursor 0: the log was empty when it
        started) says nothing: the first id of a log is far above 1.
        """
        if self._cursor == 0:
            return
        try:
            oldest = await self._redis.first_kept()
        except GONE as exc:  # the follower must go on: the entries are delivered anyway
            self._log.warning("following Redis: could not tell whether ids were trimmed: %s", exc)
            return
        if oldest > self._cursor and self._changes is not None:
            self._log.warning(
                "following Redis: ids %d to %d were gone before this server read them; "
                "its sessions get a gap",
                self._cursor + 1,
                first - 1,
            )
            self._changes.forgotten(self._cursor + 1, first - 1)

    def _entry(self, stream_id: str, fields: Mapping[str, str]) -> Entry:
        """The entry to deliver: ours as the append reply gave it, another's decoded."""
        mine = self._mine.pop(entry_id(stream_id), None)
        if mine is not None and self._our_batch(fields.get("o", "")):
            return mine
        decoded = decode_entry(stream_id, fields)
        return Entry(decoded.msg, decoded.sender, decoded.recipient, decoded.msg.room)

    def _forget(self, cursor: int) -> None:
        """Drop kept messages the follower has passed without reading (Redis lost them)."""
        while self._mine:  # ends: each round removes one
            first = next(iter(self._mine))
            if first > cursor:
                return
            del self._mine[first]

    def _our_batch(self, origin: str) -> int:
        """The number of our batch that ``origin`` names; 0 for another server's."""
        mine, _, batch = origin.rpartition(":")
        return int(batch) if mine == self._redis.origin and batch.isdigit() else 0

    def _apply(self, kind: str, event: str) -> None:
        """One control event of another server, to the hub; one it cannot read is logged."""
        changes = self._changes
        if changes is None:
            return
        try:
            _dispatch(changes, kind, json.loads(event))
        except (KeyError, TypeError, ValueError):
            self._log.warning("ignored a control event of another server: %s %r", kind, event)


def _dispatch(changes: Changes, kind: str, event: Any) -> None:
    """Hand one control event (JSON: an object; a list for ``revoke``) to the hub."""
    if kind == "own":
        identity, name = event["owner"]
        changes.owned(event["key"], identity, name)
    elif kind == "release":
        changes.released(event["key"])
    elif kind == "join":
        room = event["room"]
        record = RoomRecord(
            room["key"], room["name"], room.get("topic"), room.get("topic_by"), room.get("topic_ts")
        )
        changes.room_joined(record, event["identity"], event["name"])
    elif kind == "part":
        reason = PartReason(event["reason"]) if event["reason"] else PartReason.PART
        changes.room_parted(
            event["key"], event["identity"], event["name"], reason, bool(event["gone"])
        )
    elif kind == "topic":
        changes.topic_set(event["key"], event["topic"] or None, event["by"], event["ts"])
    elif kind == "revoke":
        changes.revoked([str(key) for key in event])
    elif kind == "op":
        changes.operated(event)
    elif kind == "online":
        changes.came_online(_user(event))
    elif kind == "offline":
        changes.went_offline(event["key"], event["identity"], event["name"], event["reason"])


def _record(user: OnlineUser) -> dict[str, Any]:
    """A name online as ``{rtc}:users`` and the ``online`` event hold it."""
    info = user.info
    return {
        "key": user.key,
        "identity": user.identity,
        "name": info.name,
        "fp": info.fp,
        "since": info.online_since,
        "op": info.op,
    }


def _user(record: Mapping[str, Any]) -> OnlineUser:
    info = UserInfo(record["name"], record["fp"], record["since"], bool(record["op"]))
    return OnlineUser(record["key"], record["identity"], info)


def _stream_id(text: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``) as a pair that orders as Redis orders them."""
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)

"""The hub: who is online, under which name, and who gets which frame.

One hub per server process. It serves a single room, the lobby; every
frame that names another room is refused with ``no_such_room``. Sessions
call into the hub; the hub writes only through sessions' outboxes (see
``outbox`` for the fan-out policy) and never blocks.

Presence is per *name*, not per connection: ``join`` goes out when a
name's first session arrives and ``leave`` when its last one goes, so a
second device does not announce itself. Above ``presence_limit`` members,
``join``/``leave`` are not sent at all (in a room of N, they would cost N
frames each: N^2 in all); ``who`` still answers, one page at a time.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import unicodedata
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import Refusal, StoreClosed
from ..names import name_from_cn, name_key, name_problem
from ..protocol import (
    DEFAULT_ROOM,
    Ack,
    Error,
    ErrorCode,
    Gap,
    HistoryEnd,
    HistoryRequest,
    Join,
    Leave,
    Msg,
    SendMsg,
    UserInfo,
    Users,
    Who,
    encode,
    now_ts,
)
from .config import Limits, NamesMode, ServerSettings
from .identity import PeerIdentity
from .outbox import FlushScheduler, Run
from .store import Draft, HistoryPage, MemoryStore, Store, Stored

# A run of messages fanned out as one piece is cut at about this size, so
# that a slow reader loses little when one does not fit its queue.
RUN_BYTES = 64 * 1024

if TYPE_CHECKING:
    from .session import Session


@dataclass(slots=True, eq=False)
class Member:
    """A name that is online, and the sessions (devices) using it."""

    name: str
    key: str  # name_key(name)
    identity: PeerIdentity
    online_since: str
    sessions: list[Session] = field(default_factory=list)

    def info(self) -> UserInfo:
        return UserInfo(name=self.name, fp=self.identity.short_fp, online_since=self.online_since)


class Hub:
    """Membership, names, fan-out and history for the lobby."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: Limits,
        settings: ServerSettings,
        log: logging.Logger,
        store: Store | None = None,
    ) -> None:
        self.loop = loop
        self.limits = limits
        self.settings = settings
        self.log = log
        self.store: Store = store if store is not None else MemoryStore()
        self.scheduler = FlushScheduler(loop)
        self._members: dict[str, Member] = {}
        self._sorted_keys: list[str] = []  # the keys of _members, in order (for who)
        self._active: dict[Session, Member] = {}  # welcomed sessions, oldest first
        self._owners: dict[str, tuple[str, str]] = {}  # name key -> (identity key, name)
        self._drafts: list[tuple[Session, Draft]] = []  # accepted, waiting for the next commit
        self._committing: asyncio.Task[None] | None = None
        self._stopping = False  # set by stop(): no more leave announcements
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Load what the store remembers (name owners)."""
        self._owners = await self.store.names()

    async def stop(self) -> None:
        """Finish the commits and store writes in flight: nothing accepted is lost.

        From here on nobody is announced as leaving: everyone is about to get
        ``bye shutdown``, and "alice left (shutdown)" would tell the others
        that alice left while it was the server that went.
        """
        self._stopping = True
        while True:  # a task may start a commit and a commit may start tasks
            if self._committing is not None and not self._committing.done():
                await asyncio.wait({self._committing})
            elif self._tasks:  # name owners being written, replays being read
                await asyncio.wait(set(self._tasks))
            else:
                return

    # ------------------------------------------------------------------
    # Membership

    @property
    def sessions(self) -> list[Session]:
        """Every welcomed session, oldest first."""
        return list(self._active)

    @property
    def users_online(self) -> int:
        """Distinct names online (what ``welcome.users_online`` counts)."""
        return len(self._members)

    @property
    def last_id(self) -> int:
        return self.store.last_id

    def choose_name(self, identity: PeerIdentity, requested: str | None) -> str:
        """The name a new session of ``identity`` gets, or ProtocolError.

        A name belongs to the first identity that used it, in both modes,
        for as long as the store remembers (``rtchat-server names release``
        frees one); so does the name of every certificate CN seen. Nobody
        else can take it, online or not: not a pinned certificate that
        happens to carry the same CN, not a claim.
        """
        if self.settings.names is NamesMode.CN or not requested:
            name = name_from_cn(identity.cn)
            problem = name_problem(name)
            if problem is not None:
                raise Refusal(
                    ErrorCode.BAD_NAME,
                    f"certificate CN {identity.cn!r} is not a usable name: {problem}",
                )
        else:
            name = unicodedata.normalize("NFKC", requested)
            problem = name_problem(name)
            if problem is not None:
                raise Refusal(ErrorCode.BAD_NAME, problem)
        owner = self._owners.get(name_key(name))
        if owner is not None and owner[0] != identity.key:
            raise Refusal(ErrorCode.NAME_TAKEN, f"the name {name!r} belongs to someone else")
        return name

    def admit(self, session: Session, name: str) -> Member:
        """Add a welcomed session under ``name`` (from ``choose_name``)."""
        identity = session.identity
        assert identity is not None
        self._own(name_from_cn(identity.cn), identity.key)
        self._own(name, identity.key)
        key = name_key(name)
        member = self._members.get(key)
        first_session = member is None
        if member is None:
            member = Member(name=name, key=key, identity=identity, online_since=now_ts())
            self._members[key] = member
            bisect.insort(self._sorted_keys, key)
        member.sessions.append(session)
        self._active[session] = member
        if first_session and self._presence_on():
            self._broadcast_control(encode(Join(name=name, ts=now_ts())), skip=member)
        return member

    def _own(self, name: str, identity: str) -> None:
        key = name_key(name)
        if key not in self._owners:
            self._owners[key] = (identity, name)
            self._background(self.store.own_name(key, identity, name), "remember a name")

    def remove(self, session: Session, reason: str) -> None:
        """Forget a session; the last one of a name sends ``leave``."""
        member = self._active.pop(session, None)
        if member is None:
            return
        member.sessions.remove(session)
        if member.sessions:
            return
        announce = self._presence_on()  # counted with the leaver, as its join was
        del self._members[member.key]
        del self._sorted_keys[bisect.bisect_left(self._sorted_keys, member.key)]
        if announce and not self._stopping:
            leave = Leave(name=member.name, ts=now_ts(), reason=reason)
            self._broadcast_control(encode(leave), skip=member)

    def _presence_on(self) -> bool:
        return len(self._members) <= self.settings.presence_limit

    def _broadcast_control(self, data: bytes, *, skip: Member | None = None) -> None:
        for session, member in self._active.items():
            if member is not skip:
                session.outbox.put_control(data)

    # ------------------------------------------------------------------
    # Messages: accept now, store in the next group commit, then deliver

    def publish(self, session: Session, frame: SendMsg) -> None:
        """Accept one message from ``session``; it is acked and fanned out once stored.

        Messages accepted while a commit is in flight wait for the next
        one: one transaction per batch (group commit), batches in order, so
        ids increase in the order everyone receives them.
        """
        member = session.member
        assert member is not None
        check_room(frame.room, frame.ref)
        to_name = recipient = None
        if frame.to is not None:
            owner = self._owners.get(name_key(frame.to))
            if owner is None:
                raise Refusal(
                    ErrorCode.NO_SUCH_USER, f"nobody is called {frame.to!r}", ref=frame.ref
                )
            recipient, to_name = owner
        draft = Draft(
            sender=member.identity.key,
            from_name=member.name,
            text=frame.text,
            ts=now_ts(),
            ref=frame.ref,
            to_name=to_name,
            recipient=recipient,
            action=frame.action,
        )
        self._drafts.append((session, draft))
        session.owe()  # its ack and echo (or error), answered once the batch is done
        if self._committing is None or self._committing.done():
            self._committing = self.loop.create_task(self._commit(), name="commit")

    async def _commit(self) -> None:
        while self._drafts:
            batch, self._drafts = self._drafts, []
            try:
                await self._commit_batch(batch)
            finally:
                for session, _ in batch:
                    session.answered()

    async def _commit_batch(self, batch: list[tuple[Session, Draft]]) -> None:
        """Store one batch; deliver it, or tell each sender it was not stored."""
        try:
            results = await self.store.append([draft for _, draft in batch])
        except Exception:
            self.log.exception("storing %d messages failed; they were not delivered", len(batch))
            for session, draft in batch:
                session.outbox.put_control(
                    encode(
                        Error(
                            code=ErrorCode.INTERNAL,
                            message="the message could not be stored",
                            ref=draft.ref,
                        )
                    )
                )
            return
        self._deliver(batch, results)

    def _deliver(self, batch: list[tuple[Session, Draft]], results: list[Stored]) -> None:
        """Acks to the senders, then the stored messages to everyone who may see them.

        Consecutive public messages go to every session as one run (one
        append each, not one per message); a private message goes on its
        own, to its two parties, in its place in the order.
        """
        run: list[Msg] = []
        for (session, draft), result in zip(batch, results, strict=True):
            if draft.ref is not None:
                session.outbox.put_control(encode(Ack(ref=draft.ref, id=result.id)))
            msg = result.msg
            if msg is None:
                continue  # a resend of a message stored before: acked again, never shown twice
            if draft.recipient is None:
                run.append(msg)
                continue
            self._fan_out(run)
            run = []
            data = encode(msg)
            for target, member in self._active.items():
                if member.identity.key in (draft.sender, draft.recipient):
                    target.outbox.put_msg(data, msg.id)
        self._fan_out(run)

    def _fan_out(self, messages: list[Msg]) -> None:
        """Public messages to every session, in runs of at most RUN_BYTES."""
        start = 0
        while start < len(messages):
            frames: list[bytes] = []
            size = 0
            end = start
            while end < len(messages) and (not frames or size < RUN_BYTES):
                frames.append(encode(messages[end]))
                size += len(frames[-1])
                end += 1
            run = Run(b"".join(frames), messages[start].id, messages[end - 1].id, end - start)
            for target in self._active:
                target.outbox.put_run(run)
            start = end

    # ------------------------------------------------------------------
    # History: on join, on resume, on request

    def replay_on_join(self, session: Session, since: int | None) -> None:
        """After ``welcome``: what was said before (recent lines, or all after ``since``).

        Live messages for this session are held back while the store is
        read and released after the replay, minus any the replay already
        carried: no hole and no duplicate between the two.
        """
        session.outbox.hold()
        session.owe()  # the replay: answered when it is out (_replay)
        # Everything stored after this moment reaches the session live (held
        # until the replay is out); the replay covers what came before.
        upto = self.last_id
        self._background(self._replay(session, since, upto), "replay history")

    async def _replay(self, session: Session, since: int | None, upto: int) -> None:
        member = session.member
        assert member is not None
        replayed: list[Msg] = []
        gap = None
        try:
            replayed, gap = await self._what_to_replay(member.identity.key, since, upto)
        finally:  # even if the store failed, live traffic must flow again
            session.outbox.release(
                [(encode(replace(msg, replay=True)), msg.id) for msg in replayed], gap=gap
            )
            session.outbox.put_control(encode(HistoryEnd(count=len(replayed), more=False)))
            session.answered()

    async def _what_to_replay(
        self, reader: str, since: int | None, upto: int
    ) -> tuple[list[Msg], Gap | None]:
        if since is None:
            # A late joiner: the last few lines before its welcome. Not the
            # last few at the time of the read: had more than that many been
            # stored meanwhile, those before them would be dropped from the
            # held live ones as "replayed" without ever being sent.
            page = await self.store.recent(self.settings.history_lines, reader, upto)
            return page.messages, None
        cap = self.settings.history_page_max
        page = await self.store.after(since, cap, reader)
        if not page.more:
            return page.messages, forgotten(since, page.first_kept, self.store.last_id)
        # More than we replay at once: the latest ones, and a gap for the
        # rest, which the client may fetch with ``history``.
        page = await self.store.recent(cap, reader, upto)  # upto: as for a late joiner
        latest = [msg for msg in page.messages if msg.id > since]
        if not latest:  # purged between the two reads
            return [], forgotten(since, 0, self.store.last_id)
        first = latest[0].id
        return latest, Gap(from_id=since + 1, to_id=first - 1, missed=first - 1 - since)

    def answer_history(self, session: Session, request: HistoryRequest) -> None:
        check_room(request.room, None)
        page_max = self.settings.history_page_max
        limit = min(request.limit or page_max, page_max)
        session.history_asked()
        self._background(self._history_in_turn(session, request.since, limit), "answer history")

    async def _history_in_turn(self, session: Session, since: int, limit: int) -> None:
        """One store read per session at a time: commits never queue behind a pile of them."""
        try:
            async with session.history_turn:
                if not session.closed and not self._stopping:
                    await self._history(session, since, limit)
        finally:
            session.history_answered()

    async def _history(self, session: Session, since: int, limit: int) -> None:
        member = session.member
        assert member is not None
        page = HistoryPage([], False, 0)
        try:
            page = await self.store.after(since, limit, member.identity.key)
            gap = forgotten(since, page.first_kept, self.store.last_id)
            if gap is not None:
                session.outbox.put_control(encode(gap))
            for msg in page.messages:
                # Not held back by a replay in progress: this reply ends with
                # its own history_end and must carry everything it counts.
                session.outbox.put_msg(encode(replace(msg, replay=True)), msg.id, hold=False)
        finally:  # even if the store failed, the request gets its end
            end = HistoryEnd(count=len(page.messages), more=page.more)
            session.outbox.put_control(encode(end))

    def _background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except StoreClosed:
                pass  # shutdown closed the store under a read that waited: nobody to answer
            except Exception:
                self.log.exception("could not %s", what)

        task = self.loop.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------
    # Who

    def users_page(self, cursor: str | None, size: int | None = None) -> Users:
        """One page of online users, in name order, after ``cursor``.

        The names are kept sorted as members come and go, so a page costs
        its own size, not a sort of everyone online.
        """
        size = size or self.settings.who_page_size
        keys = self._sorted_keys
        start = 0 if cursor is None else bisect.bisect_right(keys, cursor)
        page = keys[start : start + size]
        next_cursor = page[-1] if start + size < len(keys) else None
        return Users(users=tuple(self._members[key].info() for key in page), next=next_cursor)

    def answer_who(self, session: Session, request: Who) -> None:
        check_room(request.room, None)
        session.outbox.put_control(encode(self.users_page(request.cursor)))


def forgotten(since: int, first_kept: int, last_id: int) -> Gap | None:
    """A gap for ids after ``since`` that the store no longer keeps, or None.

    ``missed`` is an upper bound: it counts every id in the range, also
    private messages for others.
    """
    oldest = first_kept or last_id + 1
    if oldest <= since + 1:
        return None
    return Gap(from_id=since + 1, to_id=oldest - 1, missed=oldest - 1 - since)


def check_room(room: str | None, ref: str | None) -> None:
    """This server serves only the lobby (docs/protocol.md, "Rooms")."""
    if room is not None and room != DEFAULT_ROOM:
        raise Refusal(
            ErrorCode.NO_SUCH_ROOM,
            f"no room {room!r}: this server has only {DEFAULT_ROOM!r}",
            ref=ref,
        )

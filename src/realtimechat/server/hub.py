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
import logging
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import ProtocolError
from ..names import name_from_cn, name_key, name_problem
from ..protocol import (
    DEFAULT_ROOM,
    E_BAD_NAME,
    E_NAME_TAKEN,
    E_NO_SUCH_ROOM,
    E_NO_SUCH_USER,
    Ack,
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
from .outbox import FlushScheduler
from .store import MemoryHistory

if TYPE_CHECKING:
    from .session import Session

# Refs remembered per identity for de-duplication (docs/protocol.md, "ref").
SEEN_REFS_PER_IDENTITY = 1024


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
    ) -> None:
        self.loop = loop
        self.limits = limits
        self.settings = settings
        self.log = log
        self.scheduler = FlushScheduler(loop)
        self.history = MemoryHistory(settings.history_size)
        self._members: dict[str, Member] = {}
        self._active: dict[Session, Member] = {}  # welcomed sessions, oldest first
        self._claims: dict[str, str] = {}  # name key -> identity key (--names claim)
        self._cn_owners: dict[str, str] = {}  # CN name key -> identity key (every CN seen)
        self._seen_refs: dict[str, OrderedDict[str, int]] = {}

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

    def choose_name(self, identity: PeerIdentity, requested: str | None) -> str:
        """The name a new session of ``identity`` gets, or ProtocolError."""
        cn_name = name_from_cn(identity.cn)
        if self.settings.names is NamesMode.CN or not requested:
            name = cn_name
            if name_problem(name) is not None:
                raise ProtocolError(
                    E_BAD_NAME,
                    f"certificate CN {identity.cn!r} is not a usable name: {name_problem(name)}",
                )
        else:
            name = requested
            problem = name_problem(name)
            if problem is not None:
                raise ProtocolError(E_BAD_NAME, problem)
        key = name_key(name)
        holder = self._members.get(key)
        if holder is not None and holder.identity.key != identity.key:
            raise ProtocolError(E_NAME_TAKEN, f"the name {holder.name!r} is in use by someone else")
        if self.settings.names is NamesMode.CLAIM:
            owner = self._claims.get(key) or self._cn_owners.get(key)
            if owner is not None and owner != identity.key:
                raise ProtocolError(E_NAME_TAKEN, f"the name {name!r} belongs to someone else")
        return name

    def admit(self, session: Session, name: str) -> Member:
        """Add a welcomed session under ``name`` (from ``choose_name``)."""
        identity = session.identity
        assert identity is not None
        self._cn_owners.setdefault(name_key(name_from_cn(identity.cn)), identity.key)
        key = name_key(name)
        if self.settings.names is NamesMode.CLAIM:
            self._claims.setdefault(key, identity.key)
        member = self._members.get(key)
        first_session = member is None
        if member is None:
            member = Member(name=name, key=key, identity=identity, online_since=now_ts())
            self._members[key] = member
        member.sessions.append(session)
        self._active[session] = member
        if first_session and self._presence_on():
            self._broadcast_control(encode(Join(name=name, ts=now_ts())), skip=member)
        return member

    def remove(self, session: Session, reason: str) -> None:
        """Forget a session; the last one of a name sends ``leave``."""
        member = self._active.pop(session, None)
        if member is None:
            return
        member.sessions.remove(session)
        if member.sessions:
            return
        del self._members[member.key]
        if self._presence_on():
            leave = Leave(name=member.name, ts=now_ts(), reason=reason)
            self._broadcast_control(encode(leave), skip=member)

    def _presence_on(self) -> bool:
        return len(self._members) <= self.settings.presence_limit

    def _broadcast_control(self, data: bytes, *, skip: Member | None = None) -> None:
        for session, member in self._active.items():
            if member is not skip:
                session.outbox.put_control(data)

    # ------------------------------------------------------------------
    # Messages

    def publish(self, session: Session, frame: SendMsg) -> None:
        """Store, acknowledge and fan out one message from ``session``."""
        member = session.member
        assert member is not None
        check_room(frame.room, frame.ref)
        targets: list[Member] | None = None
        to_name: str | None = None
        if frame.to is not None:
            recipient = self._members.get(name_key(frame.to))
            if recipient is None:
                raise ProtocolError(E_NO_SUCH_USER, f"{frame.to!r} is not online", ref=frame.ref)
            to_name = recipient.name
            targets = [member] if recipient is member else [member, recipient]
        if frame.ref is not None:
            seen = self._seen_refs.setdefault(member.identity.key, OrderedDict())
            earlier = seen.get(frame.ref)
            if earlier is not None:
                # A resend of a message we already stored: ack it again,
                # never store or show it twice.
                session.outbox.put_control(encode(Ack(ref=frame.ref, id=earlier)))
                return
        msg = Msg(
            id=self.history.next_id(),
            ts=now_ts(),
            from_=member.name,
            text=frame.text,
            to=to_name,
            action=frame.action,
        )
        self.history.append(msg)
        if frame.ref is not None:
            seen[frame.ref] = msg.id
            if len(seen) > SEEN_REFS_PER_IDENTITY:
                seen.popitem(last=False)
            session.outbox.put_control(encode(Ack(ref=frame.ref, id=msg.id)))
        data = encode(msg)
        if targets is None:
            for target in self._active:
                target.outbox.put_msg(data, msg.id)
        else:
            for target_member in targets:
                for target in target_member.sessions:
                    target.outbox.put_msg(data, msg.id)

    def replay(self, session: Session, since: int, limit: int) -> HistoryEnd:
        """Queue stored messages after ``since`` for ``session``, marked replay."""
        member = session.member
        assert member is not None
        page = self.history.after(since, limit, member.key)
        for msg in page.messages:
            session.outbox.put_control(encode(replace(msg, replay=True)))
        return HistoryEnd(count=len(page.messages), more=page.more)

    def answer_history(self, session: Session, request: HistoryRequest) -> None:
        check_room(request.room, None)
        limit = min(request.limit or self.settings.history_page_max, self.settings.history_page_max)
        end = self.replay(session, request.since, limit)
        session.outbox.put_control(encode(end))

    # ------------------------------------------------------------------
    # Who

    def users_page(self, cursor: str | None) -> Users:
        """One page of online users, in name order, after ``cursor``."""
        keys = sorted(self._members)
        if cursor is not None:
            keys = [key for key in keys if key > cursor]
        size = self.settings.who_page_size
        page = keys[:size]
        next_cursor = page[-1] if len(keys) > size else None
        return Users(users=tuple(self._members[key].info() for key in page), next=next_cursor)

    def answer_who(self, session: Session, request: Who) -> None:
        check_room(request.room, None)
        session.outbox.put_control(encode(self.users_page(request.cursor)))


def check_room(room: str | None, ref: str | None) -> None:
    """This server serves only the lobby (docs/protocol.md, "Rooms")."""
    if room is not None and room != DEFAULT_ROOM:
        raise ProtocolError(
            E_NO_SUCH_ROOM, f"no room {room!r}: this server has only {DEFAULT_ROOM!r}", ref=ref
        )

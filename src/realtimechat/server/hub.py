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
import unicodedata
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
        self._owners: dict[str, str] = {}  # name key -> key of the identity it belongs to
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
        """The name a new session of ``identity`` gets, or ProtocolError.

        A name belongs to the first identity that used it, for the life of
        the server, in both modes; so does the name of every certificate CN
        seen. Nobody else can take it, online or not: not a pinned
        certificate that happens to carry the same CN, not a claim.
        """
        if self.settings.names is NamesMode.CN or not requested:
            name = name_from_cn(identity.cn)
            problem = name_problem(name)
            if problem is not None:
                raise ProtocolError(
                    E_BAD_NAME, f"certificate CN {identity.cn!r} is not a usable name: {problem}"
                )
        else:
            name = unicodedata.normalize("NFKC", requested)
            problem = name_problem(name)
            if problem is not None:
                raise ProtocolError(E_BAD_NAME, problem)
        owner = self._owners.get(name_key(name))
        if owner is not None and owner != identity.key:
            raise ProtocolError(E_NAME_TAKEN, f"the name {name!r} belongs to someone else")
        return name

    def admit(self, session: Session, name: str) -> Member:
        """Add a welcomed session under ``name`` (from ``choose_name``)."""
        identity = session.identity
        assert identity is not None
        self._owners.setdefault(name_key(name_from_cn(identity.cn)), identity.key)
        key = name_key(name)
        self._owners.setdefault(key, identity.key)
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
        announce = self._presence_on()  # counted with the leaver, as its join was
        del self._members[member.key]
        if announce:
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
        seen = self._seen_refs.setdefault(member.identity.key, OrderedDict())
        if frame.ref is not None and frame.ref in seen:
            # A resend of a message we already stored (its ack was lost):
            # ack it again, never store or show it twice.
            session.outbox.put_control(encode(Ack(ref=frame.ref, id=seen[frame.ref])))
            return
        check_room(frame.room, frame.ref)
        recipients = self._private_recipients(member, frame) if frame.to is not None else None
        msg = Msg(
            id=self.history.next_id(),
            ts=now_ts(),
            from_=member.name,
            text=frame.text,
            to=recipients[-1].name if recipients else None,
            action=frame.action,
        )
        self.history.append(msg)
        if frame.ref is not None:
            seen[frame.ref] = msg.id
            if len(seen) > SEEN_REFS_PER_IDENTITY:
                seen.popitem(last=False)
            session.outbox.put_control(encode(Ack(ref=frame.ref, id=msg.id)))
        data = encode(msg)
        targets = (
            self._active
            if recipients is None
            else (target for recipient in recipients for target in recipient.sessions)
        )
        for target in targets:
            target.outbox.put_msg(data, msg.id)

    def _private_recipients(self, sender: Member, frame: SendMsg) -> list[Member]:
        """The sender and the addressee (last), who must be online."""
        assert frame.to is not None
        recipient = self._members.get(name_key(frame.to))
        if recipient is None:
            raise ProtocolError(E_NO_SUCH_USER, f"{frame.to!r} is not online", ref=frame.ref)
        return [recipient] if recipient is sender else [sender, recipient]

    def replay(self, session: Session, since: int, limit: int) -> None:
        """Send ``session`` the stored messages after ``since``, then ``history_end``.

        Messages are marked ``replay`` and queued like live ones (a reader
        that does not keep up gets a ``gap``, never unbounded memory). If
        the oldest ones were already forgotten, a ``gap`` names them first.
        """
        member = session.member
        assert member is not None
        page = self.history.after(since, limit, member.key)
        oldest_kept = page.first_kept or self.history.last_id + 1
        if since + 1 < oldest_kept:
            gap = Gap(from_id=since + 1, to_id=oldest_kept - 1, missed=oldest_kept - 1 - since)
            session.outbox.put_control(encode(gap))
        for msg in page.messages:
            session.outbox.put_msg(encode(replace(msg, replay=True)), msg.id)
        session.outbox.put_control(encode(HistoryEnd(count=len(page.messages), more=page.more)))

    def answer_history(self, session: Session, request: HistoryRequest) -> None:
        check_room(request.room, None)
        page_max = self.settings.history_page_max
        self.replay(session, request.since, min(request.limit or page_max, page_max))

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

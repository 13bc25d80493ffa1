"""Operators, named by the certificate: kick, mute, ban, the message of the day, announcements.

An operator is whoever holds a CA-issued certificate in the operator group
(``--operator-group``, ``admin`` by default: ``rtchat-certs issue --group
admin``). Groups come only from CA-issued certificates (identity.py), so a
pinned certificate is never an operator: the CA decides who operates, as it
decides who enters a private room.

The rules (docs/protocol.md 6.7):

* every operator request from someone who is no operator is refused with
  ``not_permitted``; nothing happens;
* a ban or mute is of an *identity* (the owner of the name given, as
  names are owned: protocol.md 5.3), never of an address: a new
  certificate from the same CA with the same CN is the same identity, and
  a NAT full of users is not punished for one of them;
* a ban or mute (or its undoing) and the message of the day are written
  through the engine before anyone is told, so they survive a restart,
  and ``rtchat-server ban`` on the host writes the same store
  (``refresh`` applies what it wrote);
* everyone online gets one ``notice`` per action (the target among them,
  before its ``bye``); the log gets one ``moderation`` line naming the
  operator, the target and the reason;
* on several servers (Redis) every action is told to the others through
  the engine (``tell_servers``), which ``apply`` there: the same notice to
  everyone once, the same sessions ended, the same bans, mutes and motd at
  once (the periodic ``refresh`` then finds nothing new). A kick finds its
  target online on any server.

Time is the wall clock the hub is given (a test gives another): a ban
ends at its ``until``, to the millisecond, whether or not the server ran
meanwhile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigError, Refusal
from ..moderation import format_duration, until_of
from ..names import name_key
from ..protocol import (
    Announce,
    Ban,
    ByeReason,
    ErrorCode,
    Kick,
    Mute,
    Notice,
    NoticeKind,
    SetMotd,
    Unban,
    Unmute,
    encode,
    format_ts,
    parse_ts,
)
from ..rooms import group_key
from .audit import log_event
from .identity import PeerIdentity
from .store import Sanction, SanctionKind, Store

if TYPE_CHECKING:
    from ..sansio.server import OperatorRequest
    from .hub import Hub, Member, Peer

Work = Coroutine[Any, Any, None]
HOST: Final = "rtchat-server"  # the "operator" of a ban made on the server's host


def is_operator(identity: PeerIdentity, group: str) -> bool:
    """Whether ``identity``'s certificate puts it in the operator group (never a pinned one)."""
    return not identity.pinned and group_key(group) in identity.groups


def sanction_ends(sanction: Sanction) -> dt.datetime:
    """When ``sanction`` ends (an unreadable ``until``, written by hand: at once)."""
    return parse_ts(sanction.until) or dt.datetime.min.replace(tzinfo=dt.UTC)


def described(sanction: Sanction) -> str:
    """``banned until 2026-12-08 10:00 UTC by op: spam``: for error messages and the CLI."""
    verb = "banned" if sanction.kind == SanctionKind.BAN else "muted"
    until = sanction_ends(sanction).strftime("%Y-%m-%d %H:%M:%S UTC")
    said = f"{verb} until {until} by {sanction.by}"
    return f"{said}: {sanction.reason}" if sanction.reason else said


class Moderation:
    """The operator rules of one hub: who operates, the bans and mutes in force, the motd."""

    def __init__(
        self, hub: Hub[Any], group: str, motd: str | None, clock: Callable[[], dt.datetime]
    ) -> None:
        self._hub = hub
        self.group = group
        self.clock = clock
        self._file_motd = motd  # the --motd file's: what applies when no operator set one
        self.motd = motd
        self._sanctions: dict[tuple[str, str], Sanction] = {}  # (kind, identity) -> it
        # Counts writes, so that a refresh that read the store before one of
        # ours finished does not undo it (see ``refresh``).
        self._writes = 0

    async def load(self) -> None:
        """What the store keeps: bans, mutes and an operator's motd (at start)."""
        store = self._hub.store
        self._sanctions = {(s.kind, s.identity): s for s in await store.sanctions()}
        stored = await store.motd()
        if stored is not None:
            self.motd = stored

    # ------------------------------------------------------------------
    # What the rules say of one identity

    def is_operator(self, identity: PeerIdentity) -> bool:
        return is_operator(identity, self.group)

    def active(self, kind: SanctionKind, identity: str) -> Sanction | None:
        """The identity's ban (or mute) in force now, or None."""
        sanction = self._sanctions.get((kind, identity))
        if sanction is None or sanction_ends(sanction) <= self.clock():
            return None
        return sanction

    def check_hello(self, identity: PeerIdentity) -> None:
        """Refuse a hello from a banned identity (``banned``, then ``bye banned``)."""
        ban = self.active(SanctionKind.BAN, identity.key)
        if ban is not None:
            raise Refusal(ErrorCode.BANNED, f"you are {described(ban)}")

    def check_msg(self, identity: PeerIdentity, ref: str | None = None) -> None:
        """Refuse a message, or a topic, from a muted identity, saying until when.

        A topic is words everyone in the room reads, and keeps reading: a
        muted user who could still set one would not be muted.
        """
        mute = self.active(SanctionKind.MUTE, identity.key)
        if mute is not None:
            raise Refusal(ErrorCode.MUTED, f"you are {described(mute)}", ref=ref)

    # ------------------------------------------------------------------
    # Requests

    def request(self, session: Peer, frame: OperatorRequest) -> Work | None:
        """Carry out an operator's request, or refuse it; a store write comes back as Work.

        ``motd`` without text (show it) is anybody's; everything else is
        an operator's only (``not_permitted``).
        """
        if isinstance(frame, SetMotd) and frame.text is None:
            notice = Notice(kind=NoticeKind.MOTD, ts=self._now(), text=self.motd)
            session.outbox.put_control(encode(notice))
            return None
        # "only operators may motd" reads as a typo: say what was refused.
        what = "set the message of the day" if isinstance(frame, SetMotd) else frame.TYPE
        operator = self._operator(session, what)
        match frame:
            case Kick(name=name, reason=reason):
                self._kick(operator, name, reason)
                return None
            case Announce(text=text):
                self._tell(
                    Notice(kind=NoticeKind.ANNOUNCE, ts=self._now(), text=text, by=operator.name)
                )
                self._audit("announce", operator)
                return None
            case SetMotd(text=text):
                return self._set_motd(operator, text or None)
            case Mute() | Ban():
                kind = SanctionKind.BAN if isinstance(frame, Ban) else SanctionKind.MUTE
                return self._sanction(operator, kind, frame.name, frame.seconds, frame.reason)
            case Unmute() | Unban():
                kind = SanctionKind.BAN if isinstance(frame, Unban) else SanctionKind.MUTE
                return self._lift(operator, kind, frame.name)
        raise AssertionError(f"not an operator request: {frame!r}")  # pragma: no cover

    def _operator(self, session: Peer, what: str) -> Member:
        member = session.member
        assert member is not None
        assert session.identity is not None
        if not self.is_operator(session.identity):
            raise Refusal(
                ErrorCode.NOT_PERMITTED,
                f"only operators may {what} (a certificate in group {self.group!r})",
            )
        return member

    def _kick(self, operator: Member, name: str, reason: str | None) -> None:
        target = self._hub.online_named(name)
        if target is None:
            raise Refusal(ErrorCode.NO_SUCH_USER, f"nobody called {name!r} is online")
        shown = target.info.name
        self._not_self(operator, target.identity, "kick")
        notice = Notice(
            kind=NoticeKind.KICK, ts=self._now(), name=shown, by=operator.name, reason=reason
        )
        self._tell(notice, end=[target.identity, ByeReason.KICKED.value])
        self._audit("kick", operator, target=shown, identity=target.identity, reason=reason)
        self._end_sessions(target.identity, ByeReason.KICKED)

    def _sanction(
        self, operator: Member, kind: SanctionKind, name: str, seconds: int, reason: str | None
    ) -> Work:
        identity, shown = self._owner(name)
        self._not_self(operator, identity, kind.value)
        now = self.clock()
        sanction = Sanction(
            kind=kind,
            identity=identity,
            name=shown,
            until=format_ts(until_of(now, seconds)),
            by=operator.name,
            reason=reason,
            ts=format_ts(now),
        )
        return self._put(sanction, operator)

    async def _put(self, sanction: Sanction, operator: Member | None) -> None:
        self._writes += 1
        await self._hub.engine.put_sanction(sanction)
        self._sanctions[sanction.kind, sanction.identity] = sanction
        self._imposed(sanction, operator)

    def _imposed(self, sanction: Sanction, operator: Member | None) -> None:
        """Tell everyone, log it, and end a banned identity's sessions."""
        kind = NoticeKind.BAN if sanction.kind == SanctionKind.BAN else NoticeKind.MUTE
        notice = Notice(
            kind=kind,
            ts=self._now(),
            name=sanction.name,
            by=sanction.by,
            reason=sanction.reason,
            until=sanction.until,
        )
        banned = sanction.kind == SanctionKind.BAN
        self._tell(
            notice,
            sanction=dataclasses.asdict(sanction),
            end=[sanction.identity, ByeReason.BANNED.value] if banned else None,
        )
        given = parse_ts(sanction.ts) or self.clock()
        seconds = round((sanction_ends(sanction) - given).total_seconds())
        self._audit(
            sanction.kind,
            operator,
            by=sanction.by,
            target=sanction.name,
            identity=sanction.identity,
            until=sanction.until,
            duration=format_duration(max(seconds, 0)),
            reason=sanction.reason,
        )
        if sanction.kind == SanctionKind.BAN:
            self._end_sessions(sanction.identity, ByeReason.BANNED)

    def _lift(self, operator: Member, kind: SanctionKind, name: str) -> Work:
        identity, shown = self._owner(name)
        if self.active(kind, identity) is None:
            what = "banned" if kind == SanctionKind.BAN else "muted"
            raise Refusal(ErrorCode.NO_SUCH_USER, f"{shown!r} is not {what}")
        return self._drop(kind, identity, shown, operator)

    async def _drop(self, kind: SanctionKind, identity: str, name: str, operator: Member) -> None:
        self._writes += 1
        await self._hub.engine.drop_sanction(kind, identity)
        self._sanctions.pop((kind, identity), None)
        self._lifted(kind, identity, name, operator.name, operator)

    def _lifted(
        self, kind: str, identity: str, name: str, by: str, operator: Member | None
    ) -> None:
        notice_kind = NoticeKind.UNBAN if kind == SanctionKind.BAN else NoticeKind.UNMUTE
        notice = Notice(kind=notice_kind, ts=self._now(), name=name, by=by)
        self._tell(notice, lift=[kind, identity])
        self._audit(f"un{kind}", operator, by=by, target=name, identity=identity)

    async def _set_motd(self, operator: Member, text: str | None) -> None:
        stored = text.strip() if text is not None and text.strip() else None
        self._writes += 1
        await self._hub.engine.set_motd(stored)
        self.motd = stored if stored is not None else self._file_motd
        notice = Notice(kind=NoticeKind.MOTD, ts=self._now(), text=self.motd, by=operator.name)
        self._tell(notice, motd=[stored])
        self._audit("motd", operator, cleared=None if stored is not None else "yes")

    def topic_set(self, operator: Member, room: str) -> None:
        """The audit line of an operator's topic (the topic frame itself is the room's)."""
        self._audit("topic", operator, room=room)

    # ------------------------------------------------------------------
    # What the store says now (rtchat-server ban/unban while the server runs)

    async def refresh(self) -> None:
        """Read the bans and mutes again; apply what was added or lifted from the host.

        A read that overlapped a write of ours is thrown away (the next
        refresh reads it again): it might not hold that write yet.
        """
        writes = self._writes
        stored = {(s.kind, s.identity): s for s in await self._hub.store.sanctions()}
        if writes != self._writes:
            return
        known, self._sanctions = self._sanctions, stored
        for key, sanction in stored.items():
            if known.get(key) != sanction and self.active(
                SanctionKind(sanction.kind), sanction.identity
            ):
                self._imposed(sanction, None)
        for key, sanction in known.items():
            if key not in stored and sanction_ends(sanction) > self.clock():
                self._lifted(sanction.kind, sanction.identity, sanction.name, HOST, None)

    # ------------------------------------------------------------------

    def _owner(self, name: str) -> tuple[str, str]:
        """The identity that owns ``name`` and the name as owned, or ``no_such_user``."""
        owner = self._hub.owner_of(name_key(name))
        if owner is None:
            raise Refusal(ErrorCode.NO_SUCH_USER, f"nobody is called {name!r}")
        return owner

    @staticmethod
    def _not_self(operator: Member, identity: str, what: str) -> None:
        if operator.identity.key == identity:
            raise Refusal(ErrorCode.NOT_PERMITTED, f"an operator cannot {what} themselves")

    def _end_sessions(self, identity: str, reason: ByeReason) -> None:
        for session in list(self._hub.sessions_of(identity)):
            session.end(reason)

    def _tell(self, notice: Notice, **effects: Any) -> None:
        """``notice`` to everyone here, and the action to every other server (``apply``)."""
        self._hub.broadcast(encode(notice))
        event = {"notice": dataclasses.asdict(notice), **effects}
        self._hub.background(self._hub.engine.tell_servers(event), "tell the other servers")

    def apply(self, event: dict[str, Any]) -> None:
        """An operator's action on another server (``_tell`` there), as it applies here.

        A ban, mute or lift that ``refresh`` has already applied here (from
        the host's ``rtchat-server ban``, read by each server) is not told
        twice. A refresh under way may have read the store before the
        action: it is thrown away, as after a write of ours.
        """
        self._writes += 1
        sanction = event.get("sanction")
        if sanction is not None:
            imposed = Sanction(**sanction)
            key = (imposed.kind, imposed.identity)
            if self._sanctions.get(key) == imposed:
                return
            self._sanctions[key] = imposed
        lift = event.get("lift")
        if lift is not None and self._sanctions.pop((lift[0], lift[1]), None) is None:
            return
        motd = event.get("motd")
        if motd is not None:
            self.motd = motd[0] if motd[0] is not None else self._file_motd
        self._hub.broadcast(encode(Notice(**event["notice"])))
        end = event.get("end")
        if end is not None:
            self._end_sessions(end[0], ByeReason(end[1]))

    def _now(self) -> str:
        return format_ts(self.clock())

    def _audit(self, action: str, operator: Member | None, **fields: Any) -> None:
        """One ``moderation`` line: the action, who did it (its name and fingerprint), to whom."""
        if operator is not None:
            fields = {"by": operator.name, "by_fp": operator.identity.short_fp, **fields}
        log_event(self._hub.log, logging.WARNING, "moderation", action=action, **fields)


# --------------------------------------------------------------------------
# From the server's host: ``rtchat-server ban``, ``unban``, ``bans`` (on the store)


async def _owner_in(store: Store, name: str) -> tuple[str, str]:
    owner = (await store.names()).get(name_key(name))
    if owner is None:
        raise ConfigError(f"no identity owns the name {name!r}: nobody by that name has joined")
    return owner


async def ban_in_store(
    store: Store, name: str, seconds: int, reason: str | None, now: dt.datetime
) -> Sanction:
    """Ban the identity owning ``name`` for ``seconds`` from ``now``; a running server
    applies it at its next look (``Moderation.refresh``)."""
    identity, shown = await _owner_in(store, name)
    sanction = Sanction(
        kind=SanctionKind.BAN,
        identity=identity,
        name=shown,
        until=format_ts(until_of(now, seconds)),
        by=HOST,
        reason=reason,
        ts=format_ts(now),
    )
    await store.put_sanction(sanction)
    return sanction


async def unban_in_store(store: Store, name: str) -> str:
    """Lift the ban of the identity owning ``name``; the name as owned. ConfigError if none."""
    identity, shown = await _owner_in(store, name)
    if not await store.drop_sanction(SanctionKind.BAN, identity):
        raise ConfigError(f"{shown!r} is not banned")
    return shown


async def in_force(store: Store, now: dt.datetime) -> list[Sanction]:
    """The bans and mutes not yet ended, the soonest to end first."""
    sanctions = [s for s in await store.sanctions() if sanction_ends(s) > now]
    return sorted(sanctions, key=lambda s: (sanction_ends(s), s.name, s.kind))


def sanction_line(sanction: Sanction) -> str:
    """One line of ``rtchat-server bans``: name, kind, until, by, reason (tab-separated)."""
    return "\t".join(
        (sanction.name, sanction.kind, sanction.until, sanction.by, sanction.reason or "")
    )

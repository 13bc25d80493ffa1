"""The hub: who is online, under which name, in which rooms, and who gets which frame.

One hub per server process. Every session is in the lobby; rooms
(``#ops``) have members, identities rather than connections, kept in the
store through the engine (``rooms.RoomDirectory`` holds the rules). Sessions
call into the hub; the hub knows sessions only as ``Peer``s (what it needs
of one: its identity, its outbox, what it is owed, how to take a room's
history), writes only through their outboxes (see ``outbox`` for the
fan-out policy) and never blocks.

Messages go one way: a session's ``msg`` is accepted here (``publish``),
stored with its batch by the ``Committer`` through the ``Engine``
(``engine.py``), acked to its sender, and delivered to everyone who may
see it when the engine reports it stored (``_deliver``). The engine is
the boundary where one server becomes many.

Fan-out costs work only where a message goes: a lobby message goes to
every session, a room's message to the sessions receiving that room
(``Room.sessions``), a private one to the sessions of its two identities
(``_sessions_of``); nothing scans every session to find a room's members.

Presence is per *name*, not per connection: ``join`` goes out when a
name's first session arrives and ``leave`` when its last one goes, so a
second device does not announce itself. Above ``presence_limit`` members,
``join``/``leave`` are not sent at all (in a room of N, they would cost N
frames each: N^2 in all); ``who`` still answers, one page at a time. In a
room, ``join`` and ``leave`` (with ``room``) mean a membership began or
ended, not that someone came online. An identity that comes and goes
faster than ``presence_interval`` allows is announced less often, with
what changed in the end (``budgets.py``).

On Redis (``Engine.share_presence``) who is online is the cluster's: each
session is registered through the engine before its welcome, and names
come online and go offline for this hub when the engine says so
(``came_online``, ``went_offline``), for every server's sessions alike;
``who`` and ``users_online`` read this hub's copy (``_directory``), with
no round trip. On one server the directory is the members online here.

What one identity may cost over all its sessions (requests, stored text,
presence) is its ``IdentityBudget`` (``budgets.py``); what all queues
together may hold is bounded by ``Limits.queue_total_bytes``: past it the
sessions holding the most are ended as slow consumers (``_shed``). Both
are checked here, on this side of the engine boundary.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import logging
import ssl
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import Refusal, StoreClosed
from ..names import lookalike_keys, name_from_cn, name_key, name_problem, shown
from ..protocol import (
    DEFAULT_ROOM,
    Ack,
    Cert,
    Error,
    ErrorCode,
    Gap,
    Join,
    JoinRoom,
    Leave,
    ListRooms,
    Msg,
    PartReason,
    PartRoom,
    RoomInfo,
    SendMsg,
    SetTopic,
    Topic,
    UserInfo,
    Users,
    Who,
    encode,
    now_ts,
)
from .audit import log_event
from .budgets import IdentityBudget, IdentityBudgets, PresenceChange
from .config import Limits, NamesMode, ServerSettings
from .engine import Engine, Entry, LocalEngine, OnlineUser
from .identity import PeerIdentity
from .moderation import Moderation
from .outbox import FlushScheduler, Outbox, Run
from .roomfile import RoomFile
from .rooms import Caller, Room, RoomDirectory
from .stats import ServerStats
from .store import LOBBY, Draft, HistoryPage, MemoryStore, RoomRecord, Scope, Store, Stored
from .trust import REVOKED, revocation_keys

# A run of messages fanned out as one piece is cut at about this size, so
# that a slow reader loses little when one does not fit its queue.
RUN_BYTES = 64 * 1024
# The fingerprints the hub remembers having stored (then it forgets them all and
# writes each again once, at its next hello: cheaper than a lookup per hello).
CERTS_REMEMBERED = 100_000


class Peer(Protocol):
    """What the hub needs of a session (``server.session.Session`` is the one there is)."""

    identity: PeerIdentity | None
    member: Member | None
    outbox: Outbox

    @property
    def closed(self) -> bool: ...

    def owe(self) -> None:
        """One more answer is owed to this peer (a message's ack and echo, say)."""

    def answered(self) -> None:
        """One owed answer is out."""

    def enter_room(self, room: Room) -> None:
        """Its identity is a member of ``room`` now: start receiving it, after its history.

        The session calls ``Hub.receive_room`` when its live messages are held
        back (``Outbox.hold``), then sends ``joined``, the history and the
        held messages: no hole, no duplicate (docs/protocol.md 6.5).
        """

    def leave_room(self, room: Room, reason: str | None) -> None:
        """Its identity is no longer a member of ``room`` (it gets ``parted``)."""

    def shed(self) -> None:
        """End this peer as a slow consumer: all queues together hold too much."""

    def end(self, reason: str) -> None:
        """End this peer's session: ``bye {reason}`` (an operator's kick or ban)."""


P = TypeVar("P", bound=Peer)

# When all queues together hold more than Limits.queue_total_bytes, sessions
# are ended until they hold at most this share of it (not one per loop
# iteration while the total hovers at the limit).
SHED_TO = 0.75


@dataclass(slots=True, eq=False)
class Member:
    """A name that is online, and the sessions (devices) using it."""

    name: str
    key: str  # name_key(name)
    identity: PeerIdentity
    online_since: str
    sessions: list[Peer] = field(default_factory=list)
    op: bool = False  # an operator (moderation.is_operator), marked in ``users``

    def info(self) -> UserInfo:
        return UserInfo(
            name=self.name, fp=self.identity.short_fp, online_since=self.online_since, op=self.op
        )


@dataclass(slots=True)
class Registration:
    """A session registered with the engine (shared presence), as ``Hub.enter`` made it."""

    session: str  # its name for the engine, unique in this process
    key: str  # its name's key
    entered: bool = False  # the engine's enter is done (or failed)
    gone: str | None = None  # it ended before that, with this reason


class Committer:
    """Group commit: accepted messages are published in batches, one batch at a time.

    Messages accepted while a batch is being stored wait for the next one:
    one store transaction per batch, batches in order, so ids increase in
    the order everyone receives them. When a batch is done (stored or
    failed), ``settle`` gets each sender and its result, in order.
    """

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        log: logging.Logger,
        settle: Callable[[list[tuple[Peer, Draft]], list[Stored] | Refusal], None],
        stats: ServerStats,
    ) -> None:
        self._engine = engine
        self._loop = loop
        self._log = log
        self._settle = settle
        self._stats = stats
        self._drafts: list[tuple[Peer, Draft]] = []  # accepted, waiting for the next commit
        self._committing: asyncio.Task[None] | None = None

    def add(self, sender: Peer, draft: Draft) -> None:
        self._drafts.append((sender, draft))
        if self._committing is None or self._committing.done():
            self._committing = self._loop.create_task(self._commit(), name="commit")

    @property
    def busy(self) -> bool:
        return self._committing is not None and not self._committing.done()

    async def finish(self) -> None:
        """Wait until everything accepted so far is committed and settled."""
        while self.busy:
            assert self._committing is not None
            await asyncio.wait({self._committing})

    async def _commit(self) -> None:
        while self._drafts:
            batch, self._drafts = self._drafts, []
            await self._publish(batch)

    async def _publish(self, batch: list[tuple[Peer, Draft]]) -> None:
        """Store one batch; its senders are settled either way, once."""
        settled = False
        started = self._loop.time()

        def stored(results: list[Stored]) -> None:
            nonlocal settled
            settled = True
            # Timed to here, not to the end of publish: the fan-out after it is not the store's.
            self._stats.committed(len(batch), self._loop.time() - started)
            self._settle(batch, results)

        try:
            await self._engine.publish([draft for _, draft in batch], stored)
        except Refusal as exc:  # the engine says why: its store did not answer in time
            self._stats.commit_failures += 1
            self._log.error("storing %d messages failed: %s", len(batch), exc.message)
            if not settled:
                self._settle(batch, exc)
        except Exception:
            self._stats.commit_failures += 1
            self._log.exception("storing %d messages failed; they were not delivered", len(batch))
            if not settled:  # nothing was stored: each sender gets an error
                self._settle(batch, Refusal(ErrorCode.INTERNAL, "the message could not be stored"))


class Hub(Generic[P]):
    """Membership, names, rooms, fan-out and history, among peers of type ``P``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: Limits,
        settings: ServerSettings,
        log: logging.Logger,
        *,
        store: Store | None = None,
        engine: Engine | None = None,
        stats: ServerStats | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.loop = loop
        self.limits = limits
        self.settings = settings
        self.log = log
        self.stats = stats if stats is not None else ServerStats()  # read by metrics.py
        self.engine: Engine = (
            engine
            if engine is not None
            else LocalEngine(store if store is not None else MemoryStore(), loop)
        )
        self.store: Store = self.engine.store
        self.scheduler = FlushScheduler(loop, limit=limits.queue_total_bytes, over=self._shed)
        self.budgets = IdentityBudgets(limits, settings)
        self._members: dict[str, Member] = {}  # names with a session on this server
        # Names online (on every server, if presence is shared), and their keys in
        # order (for who): on one server, the same names as _members.
        self._directory: dict[str, OnlineUser] = {}
        self._sorted_keys: list[str] = []
        self._shared = False  # presence is the engine's (Redis), not this hub's alone
        self._registered: dict[P, Registration] = {}  # sessions entered in the engine
        self._serial = 0  # names this process's sessions for the engine
        # Revocations shared by the servers on one Redis (None: only the trust files).
        self._revoked: set[str] | None = None
        self._active: dict[P, Member] = {}  # welcomed sessions, oldest first: the lobby
        self._sessions_of: dict[str, list[P]] = {}  # identity key -> its welcomed sessions
        self._owners: dict[str, tuple[str, str]] = {}  # name key -> (identity key, name)
        self._certs_kept: set[str] = set()  # fingerprints written to the store this run
        self._cert_of: dict[str, str] = {}  # identity key -> its last certificate's fingerprint
        self.rooms = RoomDirectory(limits, settings)
        # Each skeleton of an owned name (names.lookalike_keys) -> its first owner, and
        # how many names each identity owns: both follow _owners (_own, _disown).
        self._looks: dict[str, tuple[str, str]] = {}
        self._owned: Counter[str] = Counter()
        self._committer = Committer(self.engine, loop, log, self._settle, self.stats)
        self._awaiting_echo: dict[int, Peer] = {}  # id -> the session that sent it, until echoed
        self.stopping = False  # set by stop(): no more leave announcements, no more reads
        self._tasks: set[asyncio.Task[None]] = set()
        # Replays are read and handed to their outboxes one at a time. A
        # replay is up to history_lines (or history_page_max) messages of up
        # to 64 KiB, read into a private copy per session: without a turn, a
        # burst of joins had 14 to 28 finished reads (3 MB each in the
        # non-reader test) waiting for the loop at once, and the freed heap
        # then stayed in the RSS (tests/system/test_non_readers.py).
        self.replay_turn = asyncio.Lock()
        self.moderation = Moderation(self, settings.operator_group, settings.motd, clock)

    async def start(self, room_file: RoomFile | None = None) -> None:
        """Load what the store remembers (name owners, rooms); follow what the engine stores."""
        self._owners = {}
        for key, (identity, name) in (await self.store.names()).items():
            self._own(key, identity, name, loading=True)
        records, members = await self.store.rooms()
        self.rooms.load(records, members, room_file or RoomFile())
        await self.moderation.load()
        shared = await self.engine.revocations()
        self._revoked = set(shared) if shared is not None else None
        online = await self.engine.share_presence(self.settings.presence_grace)
        self._shared = online is not None
        for user in online or ():
            self._list(user)
        self.engine.follow(self._deliver, self)

    def _own(self, key: str, identity: str, name: str, *, loading: bool = False) -> None:
        """Record ``identity`` as the owner of ``name`` (whose key is ``key``).

        Names owned before the name profile (docs/protocol.md 5.3) that it
        refuses, or that look like another identity's, stay their owners'
        (grandfathered): each is logged at start, its owner may still use
        it, and nobody else can take it. One the profile refuses blocks no
        look-alike: clients show it escaped (``alice\\u034f``), so it passes
        for no valid name, and the valid ``alice`` stays free for its
        rightful holder. ``rtchat-server names release`` frees one.
        """
        self._owners[key] = (identity, name)
        self._owned[identity] += 1
        problem = name_problem(name)
        if problem is not None:  # grandfathered: shown escaped, so it passes for no valid name
            if loading:
                self._grandfathered(name, identity, problem)
            return
        firsts = [self._looks.setdefault(look, (identity, name)) for look in lookalike_keys(name)]
        other = next((first for first in firsts if first[0] != identity), None)
        if loading and other is not None:
            self._grandfathered(name, identity, f"looks like {other[1]!r} of another identity")

    def _disown(self, key: str, identity: str, name: str) -> None:
        """Undo ``_own``: a reservation whose write failed, or a name released."""
        if self._owners.get(key) != (identity, name):
            return
        del self._owners[key]
        self._owned[identity] -= 1
        for look in lookalike_keys(name):
            if self._looks.get(look) == (identity, name):
                del self._looks[look]

    def _grandfathered(self, name: str, identity: str, why: str) -> None:
        escaped = shown(name)  # U+034F and its like are invisible in a log too
        log_event(
            self.log, logging.WARNING, "name_grandfathered", name=escaped, owner=identity, why=why
        )

    def _lookalike_owner(self, identity: PeerIdentity, name: str) -> tuple[str, str] | None:
        """Another identity's owned name that ``name`` looks like (a shared skeleton), if any."""
        for look in lookalike_keys(name):
            owner = self._looks.get(look)
            if owner is not None and owner[0] != identity.key:
                return owner
        return None

    async def stop(self) -> None:
        """Finish the commits and store reads in flight: nothing accepted is lost.

        From here on nobody is announced as leaving: everyone is about to get
        ``bye shutdown``, and "alice left (shutdown)" would tell the others
        that alice left while it was the server that went.
        """
        self.stopping = True
        self.budgets.cancel()  # no presence is announced from here on
        while True:  # a task may start a commit and a commit may start tasks
            if self._committer.busy:
                await self._committer.finish()
            elif self._tasks:  # replays being read, names being claimed
                await asyncio.wait(set(self._tasks))
            else:
                await self.engine.settle()  # the echoes of what was stored here
                return

    # ------------------------------------------------------------------
    # Membership

    @property
    def sessions(self) -> list[P]:
        """Every welcomed session, oldest first."""
        return list(self._active)

    @property
    def users_online(self) -> int:
        """Distinct names online (what ``welcome.users_online`` counts): on every server."""
        return len(self._directory)

    @property
    def shares_presence(self) -> bool:
        """Whether sessions are registered with the engine (``enter``) before their welcome."""
        return self._shared

    @property
    def last_id(self) -> int:
        return self.engine.last_id

    def choose_name(self, identity: PeerIdentity, requested: str | None) -> str:
        """The name a new session of ``identity`` gets, or a Refusal.

        A name belongs to the first identity that used it, in both modes,
        for as long as the store remembers (``rtchat-server names release``
        frees one); so does the name of every certificate CN seen. Nobody
        else can take it, online or not: not a pinned certificate that
        happens to carry the same CN, not a claim, and not a name that only
        looks like it (a shared confusable skeleton: ``alice`` with a
        Cyrillic a, U+0430, or ``aIice`` with a capital I). A name the profile refuses
        is ``bad_name``, unless its identity owned it before the profile
        (grandfathered, see ``_own``). In claim mode an identity owns at
        most ``limits.max_names_per_identity`` names.
        """
        if self.settings.names is NamesMode.CN or not requested:
            name = name_from_cn(identity.cn)
            why = f"certificate CN {identity.cn!r} is not a usable name: "
        else:
            name = unicodedata.normalize("NFKC", requested)
            why = ""
        owner = self._owners.get(name_key(name))
        if owner is not None and owner[0] == identity.key:
            return name  # its own, even if owned before the profile refused it
        problem = name_problem(name)
        if problem is not None:
            raise Refusal(ErrorCode.BAD_NAME, why + problem)
        if owner is not None:
            raise Refusal(ErrorCode.NAME_TAKEN, f"the name {name!r} belongs to someone else")
        lookalike = self._lookalike_owner(identity, name)
        if lookalike is not None:
            raise Refusal(
                ErrorCode.NAME_TAKEN,
                f"the name {name!r} looks like {lookalike[1]!r}, which belongs to someone else",
            )
        if self.settings.names is NamesMode.CLAIM:
            self._check_claim_limit(identity, name)
        return name

    def _check_claim_limit(self, identity: PeerIdentity, name: str) -> None:
        """Refuse a claim that would make ``identity`` own more names than the limit."""
        limit = self.limits.max_names_per_identity
        owned = self._owned[identity.key]
        if owned + len(self._new_names(identity, name)) <= limit:
            return
        mine = sorted(n for i, n in self._owners.values() if i == identity.key)
        raise Refusal(
            ErrorCode.NAME_TAKEN,
            f"you own {owned} names already ({', '.join(mine)}), and this server lets one "
            f"identity own at most {limit}: join under one of them, or ask the operator "
            "to release one (rtchat-server names release)",
        )

    def _new_names(self, identity: PeerIdentity, name: str) -> list[str]:
        """The names a session of ``identity`` welcomed as ``name`` would newly own.

        ``name`` (already chosen) and its certificate CN's name, when that
        is a valid name nobody owns and that looks like no other identity's.
        """
        names = []
        for candidate in dict.fromkeys((name_from_cn(identity.cn), name)):
            if name_key(candidate) in self._owners:
                continue
            if candidate != name and (
                name_problem(candidate) is not None
                or self._lookalike_owner(identity, candidate) is not None
            ):
                continue
            names.append(candidate)
        return names

    def unclaimed(self, identity: PeerIdentity, name: str) -> list[str]:
        """The names a session of ``identity`` welcomed as ``name`` would make its own.

        Its name and its certificate's CN (``_new_names``). They are
        reserved here at once (so no second identity can take them, or a
        name that looks like them, meanwhile) and must be written with
        ``claim`` before the session is welcomed.
        """
        names = self._new_names(identity, name)
        for candidate in names:
            self._own(name_key(candidate), identity.key, candidate)
        return names

    async def claim(self, identity: PeerIdentity, names: list[str]) -> None:
        """Make ``names`` (from ``unclaimed``) ``identity``'s for good, durably.

        If the write fails the reservation is dropped and the error raised:
        a name that was never recorded must not stay anyone's.
        """
        try:
            for name in names:
                await self.engine.claim_name(name_key(name), identity.key, name)
        except BaseException:
            for name in names:
                self._disown(name_key(name), identity.key, name)
            raise

    def cert_unkept(self, identity: PeerIdentity) -> bool:
        """True if ``identity``'s certificate may not be in the store yet, or not as its
        latest (``keep_cert``)."""
        latest = self._cert_of.get(identity.key) in (None, identity.fingerprint)
        return bool(identity.der) and not (identity.fingerprint in self._certs_kept and latest)

    async def keep_cert(self, identity: PeerIdentity) -> None:
        """Store the certificate before the welcome, so that a reader of its first signed
        message can always get it (``cert``, protocol.md 6.8)."""
        pem = ssl.DER_cert_to_PEM_cert(identity.der)
        await self.engine.store.put_cert(identity.fingerprint, pem, identity.key)
        if len(self._certs_kept) >= CERTS_REMEMBERED:
            self._certs_kept.clear()  # writing one again is harmless: the store keeps the first
        self._certs_kept.add(identity.fingerprint)

    async def cert_frame(self, fp: str | None, name: str | None = None) -> Cert:
        """The answer to ``cert {fp}`` or ``cert {name}``; ``no_such_cert`` if not known.

        By name: the certificate the name's owner last connected with (the
        sender of a sealed message checks it).
        """
        if fp is None:
            owner = self._owners.get(name_key(name or ""))
            if owner is None:  # as a msg to that name would be answered (6.4)
                raise Refusal(ErrorCode.NO_SUCH_USER, f"nobody is called {name!r}")
            fp = self._cert_of.get(owner[0]) or await self.engine.store.cert_of(owner[0])
            if fp is None:
                raise Refusal(
                    ErrorCode.NO_SUCH_CERT, f"no certificate of {name!r} is known here yet"
                )
        pem = await self.engine.store.cert(fp)
        if pem is None:
            raise Refusal(ErrorCode.NO_SUCH_CERT, f"no certificate {fp[:16]} is known here")
        return Cert(fp=fp, pem=pem, name=name)

    def admit(self, session: P, name: str) -> Member:
        """Add a welcomed session under ``name`` (chosen, and claimed where it was new)."""
        identity = session.identity
        assert identity is not None
        self._cert_of[identity.key] = identity.fingerprint
        key = name_key(name)
        member = self._members.get(key)
        first_session = member is None
        if member is None:
            op = self.moderation.is_operator(identity)
            member = Member(name=name, key=key, identity=identity, online_since=now_ts(), op=op)
            self._members[key] = member
        member.sessions.append(session)
        self._active[session] = member
        self._sessions_of.setdefault(identity.key, []).append(session)
        self.budgets.attach(identity.key)
        if first_session and not self._shared:  # shared: came_online told it, before
            self._list(OnlineUser(key, identity.key, member.info()))
            self._presence(identity.key, PresenceChange(key, name, online=True))
        return member

    async def enter(self, session: P, name: str) -> None:
        """Register ``session`` with the engine as ``name``, before its welcome (shared presence).

        Returns once this hub's directory lists the name, so the welcome
        counts its own session. If the session ends meanwhile, it is
        ended in the engine once the registration is done.
        """
        identity = session.identity
        assert identity is not None
        self._serial += 1
        registration = Registration(str(self._serial), name_key(name))
        self._registered[session] = registration
        info = UserInfo(
            name=name,
            fp=identity.short_fp,
            online_since=now_ts(),
            op=self.moderation.is_operator(identity),
        )
        try:
            user = OnlineUser(registration.key, identity.key, info)
            await self.engine.enter(registration.session, user)
        finally:
            registration.entered = True
            if registration.gone is not None:  # it ended while we waited: end it there too
                self._exit(registration, registration.gone)

    def _deregister(self, session: P, reason: str) -> None:
        """A registered session ended: end it in the engine (or once ``enter`` is done)."""
        registration = self._registered.pop(session, None)
        if registration is None:
            return
        if not registration.entered:
            registration.gone = reason
        elif not self.stopping:  # at shutdown the reaper ends them after the grace
            self._exit(registration, reason)

    def _exit(self, registration: Registration, reason: str) -> None:
        exit_ = self.engine.exit(registration.session, registration.key, reason)
        self.background(exit_, "end a session for the other servers")

    def member_named(self, name: str) -> Member | None:
        """The member online here under ``name`` (compared as names are), or None."""
        return self._members.get(name_key(name))

    def online_named(self, name: str) -> OnlineUser | None:
        """Who is online under ``name`` on any server (this one's only, on one), or None."""
        return self._directory.get(name_key(name))

    def owner_of(self, key: str) -> tuple[str, str] | None:
        """The identity owning the name whose key is ``key``, and that name; or None."""
        return self._owners.get(key)

    def sessions_of(self, identity: str) -> Sequence[P]:
        """The welcomed sessions of ``identity`` (a copy: ending them changes the list)."""
        return tuple(self._sessions_of.get(identity, ()))

    def broadcast(self, data: bytes) -> None:
        """A control frame to every welcomed session (an operator's notice)."""
        self._broadcast_control(data)

    def budget(self, identity: PeerIdentity) -> IdentityBudget:
        """The budget ``identity``'s sessions share (one of them is welcomed)."""
        return self.budgets.of(identity.key)

    def remove(self, session: P, reason: str) -> None:
        """Forget a session; the last one of a name sends ``leave``."""
        self._deregister(session, reason)
        member = self._active.pop(session, None)
        if member is None:
            return
        identity = member.identity.key
        for room in self.rooms.rooms_of(identity):
            room.sessions.pop(session, None)
        others = self._sessions_of[identity]
        others.remove(session)
        if not others:
            del self._sessions_of[identity]
        member.sessions.remove(session)
        if not member.sessions:
            del self._members[member.key]
            if not self._shared:  # shared: went_offline tells it, once the engine counts
                self._unlist(member.key)
                self._presence(identity, PresenceChange(member.key, member.name, False, reason))
        self.budgets.detach(identity)

    def sweep(self, now: float) -> None:
        """Forget the budgets of identities gone long enough (the keepalive loop calls this)."""
        self.budgets.sweep(now)

    # ------------------------------------------------------------------
    # Presence: join and leave, no faster than each identity's budget

    def _presence(self, identity: str, change: PresenceChange) -> None:
        """Announce ``change`` now if the identity's budget allows, else with what follows."""
        budget = self.budgets.of(identity)
        budget.pending[change.key] = change
        if budget.due is not None:  # announced with the others when it is due
            return
        now = self.loop.time()
        if budget.presence.take(now):
            self._announce(budget)
        elif not self.stopping:
            budget.due = self.loop.call_later(budget.presence.wait(now), self._presence_due, budget)

    def _presence_due(self, budget: IdentityBudget) -> None:
        budget.due = None
        budget.presence.spend(self.loop.time())
        if not self._announce(budget):
            budget.presence.refund()  # nothing had changed in the end: nothing was said

    def _announce(self, budget: IdentityBudget) -> bool:
        """Tell everyone else what changed; whether anything had."""
        changes = budget.settle()
        for change in changes:
            # A leave is counted with the leaver, as its join was.
            online = len(self._directory) + (0 if change.online else 1)
            if self.stopping or online > self.settings.presence_limit:
                continue
            frame: Join | Leave = (
                Join(name=change.name, ts=now_ts())
                if change.online
                else Leave(name=change.name, ts=now_ts(), reason=change.reason)
            )
            self._broadcast_control(encode(frame), skip=change.key)
        return bool(changes)

    def _broadcast_control(self, data: bytes, *, skip: str | None = None) -> None:
        """``data`` to every session but those of the name whose key is ``skip``."""
        for session, member in self._active.items():
            if member.key != skip:
                session.outbox.put_control(data)

    # ------------------------------------------------------------------
    # All queues together

    def _shed(self) -> None:
        """All queues hold more than queue_total_bytes: end the biggest holders first.

        Called by the flush scheduler after its flushes, when what the paused
        outboxes hold (with what their transports held) is over the limit.
        Each session ended drops its queue (``Outbox.discard``), down to
        SHED_TO of the limit.
        """
        scheduler = self.scheduler
        total = before = scheduler.holding
        if total <= scheduler.limit:
            return
        target = int(scheduler.limit * SHED_TO)
        holders = sorted(
            (session for session in self._active if session.outbox.paused),
            key=lambda session: session.outbox.holding_bytes,
            reverse=True,
        )
        shed = 0
        for session in holders:
            if total <= target:
                break
            total -= session.outbox.holding_bytes
            session.shed()
            shed += 1
        log_event(
            self.log,
            logging.WARNING,
            "limited",
            limit="queue_total_bytes",
            queued=before,
            max=scheduler.limit,
            shed=shed,
        )

    # ------------------------------------------------------------------
    # Messages: accept now, store in the next group commit, ack, deliver

    def publish(self, session: Peer, frame: SendMsg) -> None:
        """Accept one message from ``session``; it is acked and delivered once stored."""
        member = session.member
        assert member is not None
        room = None  # the lobby, the common case: no room rules to look up
        if frame.room is not None and frame.room != DEFAULT_ROOM:
            room = self.rooms.resolve(frame.room, self.caller(member.identity), frame.ref)
        to_name = recipient = None
        if frame.to is not None:
            owner = self._owners.get(name_key(frame.to))
            if owner is None:
                raise Refusal(
                    ErrorCode.NO_SUCH_USER, f"nobody is called {frame.to!r}", ref=frame.ref
                )
            recipient, to_name = owner
        self.moderation.check_msg(member.identity, frame.ref)
        self._spend_text(member.identity, frame)
        draft = Draft(
            sender=member.identity.key,
            from_name=member.name,
            text=frame.text,
            ts=now_ts(),
            ref=frame.ref,
            to_name=to_name,
            recipient=recipient,
            action=frame.action,
            room=room.name if room is not None else None,
            sig=frame.sig,
            fp=frame.fp,
            sent=frame.sent,
            seq=frame.seq,
        )
        session.owe()  # its ack and echo (or error): answered when its batch is settled
        self.stats.messages_in += 1
        self._committer.add(session, draft)

    def _spend_text(self, identity: PeerIdentity, frame: SendMsg) -> None:
        """Take the message's text from its identity's byte budget, or refuse it."""
        text = frame.text
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        budget = self.budgets.of(identity.key)
        bucket = budget.text
        if bucket.take(self.loop.time(), size):
            budget.text_limited = False
            return
        self.stats.rate_limited["identity_text_rate"] += 1
        if not budget.text_limited:  # one log line per episode, not per message
            budget.text_limited = True
            log_event(
                self.log,
                logging.WARNING,
                "limited",
                cn=identity.cn,
                fp=identity.short_fp,
                limit="identity_text_rate",
                rate=bucket.rate,
            )
        raise Refusal(
            ErrorCode.RATE_LIMITED,
            f"slow down: at most {bucket.rate:g} bytes of text a second "
            "from all sessions of your certificate together",
            ref=frame.ref,
        )

    def _settle(self, batch: list[tuple[Peer, Draft]], results: list[Stored] | Refusal) -> None:
        """A batch is done: each sender gets its ack (or, if nothing was stored, an error).

        The echoes follow from the engine (``_deliver``), after these acks;
        a sender is owed its echo until then (a client that sends and leaves
        gets both before the connection closes).
        """
        if not isinstance(results, Refusal):
            self.stats.messages_stored += sum(1 for result in results if result.msg is not None)
        for index, (session, draft) in enumerate(batch):
            if isinstance(results, Refusal):
                error = Error(code=results.code, message=results.message, ref=draft.ref)
                session.outbox.put_control(encode(error))
                session.answered()
                continue
            result = results[index]
            if draft.ref is not None:
                session.outbox.put_control(encode(Ack(ref=draft.ref, id=result.id)))
            if result.msg is None:  # a resend of a stored message: no echo will come
                session.answered()
            else:
                self._awaiting_echo[result.msg.id] = session

    def _deliver(self, entries: Sequence[Entry]) -> None:
        """Stored messages, in id order, to every session that may see each.

        Consecutive public messages of one room (the lobby is one) go to each
        of its sessions as one run: one append each, not one per message. A
        change of room, or a private message (to the sessions of its two
        parties), ends the run, so every session gets its messages in id
        order.
        """
        run: list[Msg] = []
        room: str | None = None  # the room of ``run`` (None: the lobby)
        for entry in entries:
            if entry.recipient is None:
                if entry.room != room:
                    self._fan_out(run, room)
                    run, room = [], entry.room
                run.append(entry.msg)
                continue
            self._fan_out(run, room)
            run = []
            data = encode(entry.msg)
            parties = self._parties(entry.sender, entry.recipient)
            self.stats.delivered += len(parties)
            for target in parties:
                target.outbox.put_msg(data, entry.msg.id)
        self._fan_out(run, room)
        if self._awaiting_echo:  # our own senders: their echo is out
            for entry in entries:
                sender = self._awaiting_echo.pop(entry.msg.id, None)
                if sender is not None:
                    sender.answered()

    def _parties(self, sender: str, recipient: str) -> list[P]:
        """The sessions of a private message's two identities (once each: to oneself too)."""
        targets = list(self._sessions_of.get(sender, ()))
        if recipient != sender:
            targets += self._sessions_of.get(recipient, ())
        return targets

    def _fan_out(self, messages: list[Msg], room_name: str | None) -> None:
        """Public messages of one room to its sessions, in runs of at most RUN_BYTES."""
        if not messages:
            return
        targets: Collection[Peer]
        stats = self.stats
        stats.room_messages[room_name] += len(messages)
        if room_name is None:
            targets = self._active
        else:
            room = self.rooms.by_name(room_name)
            if room is None:  # gone from this server's picture: nobody here receives it
                return
            targets = room.sessions
        stats.delivered += len(messages) * len(targets)
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
            for target in targets:
                target.outbox.put_run(run)
            start = end

    # ------------------------------------------------------------------
    # History: what a session's replay and its history requests read

    async def what_to_replay(
        self, reader: str, since: int | None, upto: int, scope: Scope = LOBBY
    ) -> tuple[list[Msg], Gap | None]:
        """After ``welcome``: what was said up to ``upto`` (recent lines, or all after since)."""
        if since is None:
            # A late joiner: the last few lines before its welcome. Not the
            # last few at the time of the read: had more than that many been
            # stored meanwhile, those before them would be dropped from the
            # held live ones as "replayed" without ever being sent.
            page = await self.store.recent(self.settings.history_lines, reader, upto, scope)
            return page.messages, None
        cap = self.settings.history_page_max
        page = await self.store.after(since, cap, reader, scope)
        if not page.more:
            return page.messages, forgotten(since, page.first_kept, self.last_id)
        # More than we replay at once: the latest ones, and a gap for the
        # rest, which the client may fetch with ``history``.
        page = await self.store.recent(cap, reader, upto, scope)  # upto: as for a late joiner
        latest = [msg for msg in page.messages if msg.id > since]
        if not latest:  # purged between the two reads
            return [], forgotten(since, 0, self.last_id)
        first = latest[0].id
        return latest, Gap(from_id=since + 1, to_id=first - 1, missed=first - 1 - since)

    async def room_history(self, reader: str, room: Room, upto: int) -> list[Msg]:
        """After ``joined``: the room's last history lines up to ``upto``."""
        scope = Scope(lobby=False, rooms=frozenset({room.name}))
        page = await self.store.recent(self.settings.history_lines, reader, upto, scope)
        return page.messages

    async def history(
        self, reader: str, since: int, limit: int, scope: Scope = LOBBY
    ) -> tuple[HistoryPage, Gap | None]:
        """One page of what ``reader`` may see after ``since``, and a gap for what is gone."""
        page = await self.store.after(since, limit, reader, scope)
        return page, forgotten(since, page.first_kept, self.last_id)

    def history_scope(self, session: Peer, room: str | None) -> tuple[Scope, str | None]:
        """What a ``history`` naming ``room`` reads, and the room its end names.

        No room: everything the identity may see (the lobby, its private
        messages, every room it is in), so that one ``since`` covers it all;
        ``lobby``: the lobby and its private messages; a room: that room.
        """
        member = session.member
        assert member is not None
        if room is None:
            return self.scope_of(member.identity.key), None
        found = self.rooms.resolve(room, self.caller(member.identity))
        if found is None:
            return LOBBY, DEFAULT_ROOM
        return Scope(lobby=False, rooms=frozenset({found.name})), found.name

    def scope_of(self, identity: str, rooms: Iterable[Room] | None = None) -> Scope:
        """The lobby, private messages and ``rooms`` (default: every room of ``identity``)."""
        if rooms is None:
            rooms = self.rooms.rooms_of(identity)
        return Scope(lobby=True, rooms=frozenset(room.name for room in rooms))

    def history_limit(self, requested: int | None) -> int:
        page_max = self.settings.history_page_max
        return min(requested or page_max, page_max)

    def background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``work`` as a task the hub waits for at stop; its failure is logged, not lost."""

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
        return Users(users=tuple(self._directory[key].info for key in page), next=next_cursor)

    def answer_who(self, session: Peer, request: Who) -> None:
        member = session.member
        assert member is not None
        room = self.rooms.resolve(request.room, self.caller(member.identity))
        if room is None:
            page = self.users_page(request.cursor)
        else:
            page = self.room_users_page(room, request.cursor)
        session.outbox.put_control(encode(page))

    def room_users_page(self, room: Room, cursor: str | None) -> Users:
        """One page of the names online in ``room``, in name order.

        On one server: the sessions receiving it. With shared presence
        (Redis): every member online on any server, from the cluster's
        picture, since a member on another server has no session here.
        """
        online: dict[str, UserInfo] = {}
        if self._shared:
            for user in self._directory.values():
                if user.identity in room.members:
                    online[user.key] = user.info
        for target in room.sessions:
            member = target.member
            if member is not None:
                online.setdefault(member.key, member.info())
        keys = sorted(online)
        start = 0 if cursor is None else bisect.bisect_right(keys, cursor)
        size = self.settings.who_page_size
        page = keys[start : start + size]
        next_cursor = page[-1] if start + size < len(keys) else None
        users = tuple(online[key] for key in page)
        return Users(users=users, next=next_cursor, room=room.name)

    # ------------------------------------------------------------------
    # Rooms: join, part, topic, the list

    def caller(self, identity: PeerIdentity) -> Caller:
        """``identity`` as the room rules see it: every certificate of it in use, what it owns."""
        sessions = self._sessions_of.get(identity.key, ())
        certificates = tuple(
            dict.fromkeys([identity, *(s.identity for s in sessions if s.identity is not None)])
        )
        key = identity.key
        owners = self._owners
        return Caller(key, certificates, lambda name: owners.get(name, ("",))[0] == key)

    def welcome_rooms(self, session: P) -> list[Room]:
        """The rooms a session being welcomed is in, after parting those its door now refuses.

        A member's groups are known only from a certificate in use, so a
        member the room file no longer admits is parted when it next comes.
        """
        identity = session.identity
        assert identity is not None
        caller = self.caller(identity)
        rooms = []
        for room in self.rooms.rooms_of(identity.key):
            if caller.may_enter(room):
                rooms.append(room)
            else:
                self.force_part(identity.key, room, PartReason.NOT_ALLOWED)
        return rooms

    def room_infos(self, rooms: Iterable[Room]) -> tuple[RoomInfo, ...] | None:
        """``welcome.rooms``: None (left out) when there are none, as before rooms."""
        infos = tuple(self.rooms.info(room, member=True, may_join=True) for room in rooms)
        return infos or None

    def receive_room(self, session: P, room: Room) -> bool:
        """``session`` gets ``room``'s messages from now on; False if it is no member now."""
        member = session.member
        if member is None or not self.rooms.member_of(member.identity.key, room):
            return False
        room.sessions[session] = None
        return True

    def plan_join(self, session: Peer, request: JoinRoom) -> tuple[Room, bool]:
        """The room ``request`` enters, and whether it must be written (False: a member
        already); or a Refusal. A room to write is reserved until ``join`` is done."""
        member = session.member
        assert member is not None
        caller = self.caller(member.identity)
        room = self.rooms.plan_join(request.room, caller)
        return room, not self.rooms.member_of(caller.key, room)

    async def join(self, session: Peer, room: Room) -> None:
        """Write the membership through the engine, then tell the room and every session of it.

        Others in the room get ``join {room}``; each session of the joining
        identity (other devices too) takes the room's history and then its
        live messages (``Peer.enter_room``).
        """
        member = session.member
        assert member is not None
        identity = member.identity.key
        try:
            await self.engine.join_room(room.record(), identity, member.name)
        except BaseException:
            self.rooms.abandon(room, identity)
            raise
        if not self.rooms.joined(room, identity):
            return  # another session of it joined meanwhile: that one told everyone
        if len(room.members) <= self.settings.presence_limit:
            join = encode(Join(name=member.name, ts=now_ts(), room=room.name))
            self._room_control(room, join, skip=identity)
        for target in self._sessions_of.get(identity, ()):
            target.enter_room(room)

    def check_part(self, session: Peer, request: PartRoom) -> Room:
        """The room ``request`` parts, or a Refusal (no such room, not a member)."""
        member = session.member
        assert member is not None
        room = self.rooms.resolve(request.room, self.caller(member.identity))
        if room is None:
            raise Refusal(ErrorCode.NO_SUCH_ROOM, "everyone is in the lobby: it cannot be parted")
        return room

    async def part(self, session: Peer, room: Room) -> None:
        """Write the end of a membership, then tell every session of it and the room."""
        member = session.member
        assert member is not None
        identity = member.identity.key
        gone = await self.engine.part_room(room.key, identity, member.name)
        self._parted(identity, member.name, room, PartReason.PART, gone=gone)

    def force_part(
        self, identity: str, room: Room, reason: PartReason, name: str | None = None
    ) -> None:
        """Part ``identity`` from ``room`` at once (a door closed, a certificate revoked).

        It is told and the room is told now (as ``name``, by default the name
        of its first session); the store is written after (a failure is
        logged, and the member is checked again when it comes).
        """
        if name is None:
            sessions = self._sessions_of.get(identity, ())
            member = sessions[0].member if sessions else None
            name = member.name if member is not None else None
        if not self._parted(identity, name, room, reason):
            return

        async def write() -> None:
            if await self.engine.part_room(room.key, identity, name or "", reason.value):
                self.rooms.gone(room)

        self.background(write(), f"part {room.name} for good")

    def _parted(
        self, identity: str, name: str | None, room: Room, reason: PartReason, *, gone: bool = False
    ) -> bool:
        if not self.rooms.parted(room, identity, gone=gone):
            return False
        own = None if reason is PartReason.PART else reason
        for target in self._sessions_of.get(identity, ()):
            room.sessions.pop(target, None)
            target.leave_room(room, own)
        if name is not None and len(room.members) + 1 <= self.settings.presence_limit:
            leave = encode(Leave(name=name, ts=now_ts(), reason=reason, room=room.name))
            self._room_control(room, leave, skip=identity)
        return True

    def part_all(self, identity: str, reason: PartReason, name: str) -> None:
        """Every room of ``identity`` (its certificate revoked: it loses them all)."""
        for room in self.rooms.rooms_of(identity):
            self.force_part(identity, room, reason, name)

    def check_access(self) -> None:
        """After the room file was reloaded (or certificates changed): part who may not stay.

        Only identities online are checked: a member's groups come from its
        certificate. An offline one is checked when it next comes.
        """
        for identity, sessions in list(self._sessions_of.items()):
            first = sessions[0].identity
            if first is None:
                continue
            caller = self.caller(first)
            for room in self.rooms.rooms_of(identity):
                if not caller.may_enter(room):
                    self.force_part(identity, room, PartReason.NOT_ALLOWED)

    def apply_room_file(self, room_file: RoomFile) -> None:
        """A reloaded room file: its rooms and doors, then part who may no longer stay."""
        self.rooms.apply_file(room_file)
        self.check_access()

    def check_topic(self, session: Peer, request: SetTopic) -> Room:
        member = session.member
        assert member is not None
        assert session.identity is not None
        operator = self.moderation.is_operator(session.identity)
        caller = self.caller(member.identity)
        room = self.rooms.check_topic(request.room, request.text, caller, operator=operator)
        self.moderation.check_msg(member.identity)  # after the room checks, as for msg
        return room

    async def set_topic(self, session: Peer, room: Room, text: str) -> None:
        """Write the topic, then tell every session of the room (the setter's too).

        An operator may set the topic of a room it is not in: it is told too.
        """
        member = session.member
        assert member is not None
        ts = now_ts()
        topic = text or None
        await self.engine.set_topic(room.key, topic, member.name, ts)
        room.topic, room.topic_by, room.topic_ts = topic, member.name, ts
        frame = encode(Topic(room=room.name, text=text, name=member.name, ts=ts))
        self._room_control(room, frame)
        if session not in room.sessions:
            session.outbox.put_control(frame)
        if session.identity is not None and self.moderation.is_operator(session.identity):
            self.moderation.topic_set(member, room.name)

    def answer_rooms(self, session: Peer, request: ListRooms) -> None:
        member = session.member
        assert member is not None
        page = self.rooms.page(
            self.caller(member.identity), request.cursor, self.settings.who_page_size
        )
        session.outbox.put_control(encode(page))

    # ------------------------------------------------------------------
    # What another server wrote (engine.Changes): this server's picture follows

    def owned(self, key: str, identity: str, name: str) -> None:
        """Another server recorded an owner: nobody here may take the name now."""
        if key not in self._owners:
            self._own(key, identity, name)

    def released(self, key: str) -> None:
        """``rtchat-server names release`` on the shared store: the next identity may own it."""
        owner = self._owners.get(key)
        if owner is not None:
            self._disown(key, *owner)

    def room_joined(self, record: RoomRecord, identity: str, name: str) -> None:
        """Another server wrote a membership: tell the room here, and the member's sessions."""
        room = self.rooms.remote_joined(record, identity)
        if room is None:
            return  # a member already (our own write, or a repeat)
        if len(room.members) <= self.settings.presence_limit:
            self._room_control(room, encode(Join(name=name, ts=now_ts(), room=room.name)))
        for target in self._sessions_of.get(identity, ()):
            target.enter_room(room)

    def room_parted(
        self, key: str, identity: str, name: str, reason: PartReason, gone: bool
    ) -> None:
        """Another server ended a membership (and maybe the room)."""
        room = self.rooms.get(key)
        if room is not None:
            self._parted(identity, name or None, room, reason, gone=gone)

    def topic_set(self, key: str, topic: str | None, by: str, ts: str) -> None:
        """Another server set a room's topic: every session here receiving the room is told."""
        room = self.rooms.get(key)
        if room is None:
            return
        room.topic, room.topic_by, room.topic_ts = topic, by, ts
        self._room_control(room, encode(Topic(room=room.name, text=topic or "", name=by, ts=ts)))

    def came_online(self, user: OnlineUser) -> None:
        """A name's first session on any server (shared presence): list it, tell everyone."""
        if user.key in self._directory:
            return  # a repeat (our snapshot already had it)
        self._list(user)
        self._presence(user.identity, PresenceChange(user.key, user.info.name, online=True))

    def went_offline(self, key: str, identity: str, name: str, reason: str) -> None:
        """A name's last session on any server ended (or was reaped): unlist it, tell everyone."""
        if key not in self._directory:
            return
        self._unlist(key)
        self._presence(identity, PresenceChange(key, name, False, reason))

    def _list(self, user: OnlineUser) -> None:
        if user.key not in self._directory:
            bisect.insort(self._sorted_keys, user.key)
        self._directory[user.key] = user

    def operated(self, event: dict[str, Any]) -> None:
        """An operator's action on another server (a kick, ban, motd...): as it applies here."""
        self.moderation.apply(event)

    def _unlist(self, key: str) -> None:
        del self._directory[key]
        del self._sorted_keys[bisect.bisect_left(self._sorted_keys, key)]

    # ------------------------------------------------------------------
    # Revocations every server on one Redis shares (only ever more refusals)

    def refusal(self, identity: PeerIdentity) -> str | None:
        """``revoked`` if another server revoked ``identity``'s certificate, else None.

        Only refuses: whom the trust files admit is still each server's own.
        """
        revoked = self._revoked
        if revoked and any(key in revoked for key in revocation_keys(identity)):
            return REVOKED
        return None

    async def revoke(self, keys: Collection[str]) -> None:
        """Share what this server's trust revokes (at start, after a reload) with the others."""
        if self._revoked is None:
            return
        new = set(keys) - self._revoked
        if new:
            self._revoked |= new
            await self.engine.revoke(new)

    def revoked(self, keys: Sequence[str]) -> None:
        """Another server revoked certificates: end their sessions here (``bye revoked``)."""
        if self._revoked is None:
            return
        self._revoked.update(keys)
        for session, member in list(self._active.items()):
            identity = session.identity
            if identity is None or self.refusal(identity) is None or session.closed:
                continue
            # As Session.recheck: a revoked certificate loses every room (once: a repeat parts
            # nothing), then its sessions end.
            self.part_all(identity.key, PartReason.REVOKED, member.name)
            session.end(REVOKED)

    def forgotten(self, first: int, last: int) -> None:
        """The follower fell behind retention: every session here gets a ``gap`` (9.3)."""
        data = encode(Gap(from_id=first, to_id=last, missed=last - first + 1))
        for session in self._active:
            session.outbox.put_control(data)

    def _room_control(self, room: Room, data: bytes, *, skip: str | None = None) -> None:
        """A control frame to every session receiving ``room`` (not ``skip``'s sessions)."""
        for target in room.sessions:
            member = target.member
            if member is None or member.identity.key != skip:
                target.outbox.put_control(data)


def forgotten(since: int, first_kept: int, last_id: int) -> Gap | None:
    """A gap for ids after ``since`` that the store no longer keeps, or None.

    ``missed`` is an upper bound: it counts every id in the range, also
    private messages for others.
    """
    oldest = first_kept or last_id + 1
    if oldest <= since + 1:
        return None
    return Gap(from_id=since + 1, to_id=oldest - 1, missed=oldest - 1 - since)

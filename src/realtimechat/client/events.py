"""What the client shows, as facts: one event per thing a user would see.

``Chat`` hands every event to its view (``ChatView.show``). The terminal
and ``--plain`` draw it as a line of text (``render.event_lines``);
``--json`` prints it as one JSON object (``as_json``) with the fields
docs/bots.md lists and docs/bots.schema.json defines, so a bot reads facts,
never prose. Strings are exactly as they came from the server: the JSON
encoding escapes them, so nothing here is sanitised.

Every event's JSON has ``event`` (its kind) and ``ts`` (the server's time
when it gave one, else the client's, both RFC 3339 in UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from ..protocol import (
    SIGNATURE_FIELDS,
    Gap,
    Join,
    Leave,
    Msg,
    Parted,
    RoomInfo,
    RoomList,
    Topic,
    UserInfo,
    Users,
    Welcome,
    frame_to_dict,
)
from ..protocol import (
    Joined as JoinedFrame,
)
from ..protocol import (
    Notice as NoticeFrame,
)
from .signatures import Verdict

# Codes of the client's own errors (the server's are protocol.md 12.1's).
TOO_LONG: Final = "too_long"  # a message larger than the server takes: never sent
UNKNOWN_COMMAND: Final = "unknown_command"
NOT_SEALED: Final = "not_sealed"  # a private message that cannot be sealed: never sent
USAGE: Final = "usage"  # a known command used wrongly


@dataclass(frozen=True, slots=True)
class Welcomed:
    """The server welcomed us: ``again`` after a reconnect (``reconnected``), else ``welcome``."""

    welcome: Welcome
    again: bool = False


@dataclass(frozen=True, slots=True)
class Renamed:
    """The server named us by our certificate, not as we asked."""

    name: str
    asked: str


@dataclass(frozen=True, slots=True)
class HistoryReset:
    """The server's ids started again (its history was reset)."""

    last_id: int


@dataclass(frozen=True, slots=True)
class Message:
    """A message shown: ``private`` when it has a ``to``, else ``message``."""

    msg: Msg
    own: bool
    mention: bool  # someone else's message that names us
    verdict: Verdict | None = None  # its signature judged (None: this client does not judge)


@dataclass(frozen=True, slots=True)
class HistoryShown:
    """The messages above came from history: recent ones, or the ones we ``missed``.

    ``room``: a room's recent history, sent after we entered it.
    """

    count: int
    missed: bool
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Joined:
    """Someone came online; with ``room``, someone became a member of that room."""

    frame: Join


@dataclass(frozen=True, slots=True)
class Left:
    """Someone went offline; with ``room``, someone's membership of that room ended."""

    frame: Leave


@dataclass(frozen=True, slots=True)
class EnteredRoom:
    """We are a member of a room now (the server's ``joined``); its history follows."""

    frame: JoinedFrame


@dataclass(frozen=True, slots=True)
class LeftRoom:
    """We are no longer in a room (``parted``); ``to_lobby``: we typed into it, now the lobby."""

    frame: Parted
    to_lobby: bool


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """Someone set (or cleared) a room's topic."""

    frame: Topic


@dataclass(frozen=True, slots=True)
class TopicShown:
    """``/topic`` without text: the topic of the room we type into (None: no topic)."""

    room: str
    topic: str | None


@dataclass(frozen=True, slots=True)
class RoomsListed:
    """A page of ``/rooms``."""

    frame: RoomList


@dataclass(frozen=True, slots=True)
class Online:
    """Who is online (a ``users`` page: the answer to ``/who``)."""

    frame: Users


@dataclass(frozen=True, slots=True)
class WhoisAnswer:
    """The answer to ``/whois name``: ``user`` is None when nobody online has that name."""

    name: str
    user: UserInfo | None


@dataclass(frozen=True, slots=True)
class Missed:
    """The server could not send us these messages (a ``gap``); the client asks for them."""

    frame: Gap


@dataclass(frozen=True, slots=True)
class Failed:
    """An error: the server's (``code`` from protocol.md 12.1) or the client's own.

    ``ref`` and ``text`` name our message it concerns, when it concerns one:
    that message was not sent.
    """

    code: str
    message: str
    ref: str | None = None
    text: str | None = None
    local: bool = False  # the client's own (TOO_LONG, UNKNOWN_COMMAND, USAGE)


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The connection is gone: the next attempt in ``delay`` seconds.

    ``attempt`` counts the attempts that failed since the connection ended
    (0: it has just ended); ``asked``: an attempt the user asked for failed.
    """

    reason: str
    delay: float
    attempt: int
    asked: bool = False


@dataclass(frozen=True, slots=True)
class Retrying:
    """The user asked to try now (Enter on an empty line, ``/reconnect``)."""


@dataclass(frozen=True, slots=True)
class DayChanged:
    """The next message is the first of ``day`` (local time)."""

    day: dt.date


@dataclass(frozen=True, slots=True)
class CertificateExpiring:
    """Our own certificate expires soon (within EXPIRY_WARNING)."""

    not_after: dt.datetime
    days: int


@dataclass(frozen=True, slots=True)
class Ignoring:
    """``/ignore`` (``ignored``) or ``/unignore`` took effect, on this client."""

    name: str
    ignored: bool


@dataclass(frozen=True, slots=True)
class Help:
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OperatorNotice:
    """What an operator did or said (the server's ``notice``: protocol.md 6.7)."""

    frame: NoticeFrame
    # The notice names us (we are kicked, muted, banned): said as "you".
    about_me: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """Anything else the client says (kept to a few: ``kind`` says which)."""

    kind: str
    text: str


Event = (
    Welcomed
    | Renamed
    | HistoryReset
    | Message
    | HistoryShown
    | Joined
    | Left
    | EnteredRoom
    | LeftRoom
    | TopicChanged
    | TopicShown
    | RoomsListed
    | Online
    | WhoisAnswer
    | Missed
    | Failed
    | Reconnecting
    | Retrying
    | DayChanged
    | CertificateExpiring
    | Ignoring
    | Help
    | Notice
    | OperatorNotice
)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user(user: UserInfo) -> dict[str, Any]:
    """Every field of a user entry, ``op`` included when false."""
    return {**frame_to_dict(user), "op": user.op}


def _users(users: tuple[UserInfo, ...] | None) -> list[dict[str, Any]]:
    return [_user(user) for user in users or ()]


def _rooms(rooms: tuple[RoomInfo, ...] | None) -> list[dict[str, Any]]:
    """Every field of every room, defaults included: a bot need not know them."""
    return [
        {
            "name": room.name,
            "members": room.members,
            "topic": room.topic,
            "member": room.member,
            "may_join": room.may_join,
            "private": room.private,
        }
        for room in rooms or ()
    ]


def as_json(event: Event, now: dt.datetime | None = None) -> dict[str, Any]:
    """The JSON object for ``event`` (docs/bots.md): ``event``, ``ts``, then its fields."""
    kind, fields, ts = _json_fields(event)
    return {"event": kind, "ts": ts or _utc(now or dt.datetime.now(dt.UTC)), **fields}


def _json_fields(event: Event) -> tuple[str, dict[str, Any], str | None]:  # noqa: PLR0911, PLR0912
    match event:
        case Welcomed(welcome=welcome):
            return (
                "reconnected" if event.again else "welcome",
                {
                    "name": welcome.name,
                    "online": welcome.users_online,
                    "users": _users(welcome.users),
                    "more_users": welcome.users_next is not None,
                    "motd": welcome.motd,
                    "last_id": welcome.last_id,
                    "rooms": _rooms(welcome.rooms),
                },
                None,
            )
        case Message(msg=msg):
            body = frame_to_dict(msg)
            del body["type"]
            body.setdefault("to", None)
            body.setdefault("action", None)
            body.setdefault("room", None)
            body["replay"] = msg.replay
            for wire in (*SIGNATURE_FIELDS, "ref"):  # judged here: a bot reads the verdict
                body.pop(wire, None)
            verdict = event.verdict
            verified = verdict is not None and verdict.verified
            reason = None if verified else (verdict.reason if verdict else "not checked")
            body.update(own=event.own, mention=event.mention, verified=verified, reason=reason)
            return ("private" if msg.to is not None else "message"), body, msg.ts
        case Joined(frame=frame):
            return "join", {"name": frame.name, "room": frame.room}, frame.ts
        case Left(frame=frame):
            return (
                "leave",
                {"name": frame.name, "room": frame.room, "reason": frame.reason},
                frame.ts,
            )
        case EnteredRoom(frame=frame):
            fields = {"room": frame.room, "topic": frame.topic, "members": frame.members}
            return "joined_room", {**fields, "last_id": frame.last_id}, None
        case LeftRoom(frame=frame):
            return "parted_room", {"room": frame.room, "reason": frame.reason}, None
        case TopicChanged(frame=frame):
            return "topic", {"room": frame.room, "name": frame.name, "text": frame.text}, frame.ts
        case RoomsListed(frame=frame):
            return "rooms", {"rooms": _rooms(frame.rooms), "more": frame.next is not None}, None
        case Online(frame=frame):
            return "users", {"users": _users(frame.users), "more": frame.next is not None}, None
        case WhoisAnswer():
            user = _user(event.user) if event.user is not None else None
            return "whois", {"name": event.name, "online": user is not None, "user": user}, None
        case Missed(frame=frame):
            ids = {"from_id": frame.from_id, "to_id": frame.to_id, "missed": frame.missed}
            return "gap", ids, None
        case Failed():
            failed = {"code": event.code, "message": event.message, "ref": event.ref}
            return "error", {**failed, "text": event.text, "local": event.local}, None
        case OperatorNotice(frame=frame):
            body = {key: getattr(frame, key) for key in ("kind", "name", "by", "reason", "until")}
            return "operator", {**body, "text": frame.text}, frame.ts
        case _:
            return _json_local(event)


def _json_local(event: Event) -> tuple[str, dict[str, Any], str | None]:  # noqa: PLR0911 - one per kind
    """The events of the client's own making."""
    match event:
        case Renamed():
            return "renamed", {"name": event.name, "asked": event.asked}, None
        case HistoryReset():
            return "history_reset", {"last_id": event.last_id}, None
        case HistoryShown():
            counted = {"count": event.count, "missed": event.missed}
            return "history", {**counted, "room": event.room}, None
        case TopicShown():
            return "topic_shown", {"room": event.room, "topic": event.topic}, None
        case Reconnecting():
            fields = {"reason": event.reason, "delay": round(event.delay, 3)}
            return "reconnecting", {**fields, "attempt": event.attempt, "asked": event.asked}, None
        case Retrying():
            return "retrying", {}, None
        case DayChanged():
            return "day", {"date": event.day.isoformat()}, None
        case CertificateExpiring():
            fields = {"not_after": _utc(event.not_after), "days": event.days}
            return "certificate_expiring", fields, None
        case Ignoring():
            return "ignore", {"name": event.name, "ignored": event.ignored}, None
        case Help():
            return "help", {"lines": list(event.lines)}, None
        case Notice():
            return "notice", {"kind": event.kind, "text": event.text}, None
    raise AssertionError(f"no JSON form for {event!r}")  # pragma: no cover - every kind has one

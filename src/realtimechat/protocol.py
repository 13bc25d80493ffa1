"""Protocol v1: frames, encoding, an incremental decoder and validation.

Sans-I/O: this module turns bytes into frames and frames into bytes and
never touches a socket, an event loop or TLS, so every rule here is
testable byte by byte. ``docs/protocol.md`` is the normative description;
this module is its implementation.

Wire format: one UTF-8 JSON object per line, ``\\n``-terminated, at most
``MAX_LINE_BYTES`` bytes before the newline. Every object has a ``type``.
Unknown fields are ignored; a known field of the wrong type is an error.

Frames are frozen dataclasses. Their fields *are* the schema: a field
annotated ``int`` is a required JSON integer, ``str | None`` an optional
string, and so on (see ``_field_specs``). A trailing underscore maps to a
Python keyword (``from_`` is ``from`` on the wire).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Final, TypeVar, Union

from .errors import ProtocolError, ProtocolViolation, Refusal
from .moderation import MAX_MOTD_CHARS, MAX_REASON_CHARS, MAX_SECONDS

PROTOCOL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 64 * 1024
"""Default server limit for one frame, excluding the newline."""
DEFAULT_ROOM: Final = "lobby"
MAX_REF_CHARS: Final = 128
MAX_ROOM_CHARS: Final = 64
MAX_CURSOR_CHARS: Final = 256
ACTIONS: Final = frozenset({"me"})
MAX_INTEGER: Final = 2**63 - 1  # ids and counts fit a signed 64-bit integer (SQLite, most JSON)
# A signed message's fields (docs/protocol.md 6.8): all four or none.
FP_CHARS: Final = 64  # a full SHA-256 fingerprint in lowercase hex
MAX_SIG_CHARS: Final = 1400  # base64 of an RSA signature up to 8192 bits (1368 characters)
MAX_SENT_CHARS: Final = 40  # a timestamp (docs/protocol.md 3) is 24
SIGNATURE_FIELDS: Final = ("sig", "fp", "sent", "seq")


class ErrorCode(StrEnum):
    """The stable ``error.code`` values (docs/protocol.md 12.1). Clients switch on these.

    Which ones count as the peer's misbehaviour is not a property of the
    code but of the exception that carries it (``ProtocolViolation`` or
    ``Refusal``, in errors.py).
    """

    FRAME_TOO_LONG = "frame_too_long"
    BAD_UTF8 = "bad_utf8"
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    MISSING_FIELD = "missing_field"
    HELLO_REQUIRED = "hello_required"
    DUPLICATE_HELLO = "duplicate_hello"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_NAME = "bad_name"
    NAME_TAKEN = "name_taken"
    NO_SUCH_ROOM = "no_such_room"
    NO_SUCH_USER = "no_such_user"
    EMPTY_TEXT = "empty_text"
    INTERNAL = "internal"
    RATE_LIMITED = "rate_limited"
    NOT_A_MEMBER = "not_a_member"
    TOO_MANY_ROOMS = "too_many_rooms"
    TOPIC_TOO_LONG = "topic_too_long"
    NOT_PERMITTED = "not_permitted"  # an operator's request from someone who is none (6.7)
    MUTED = "muted"  # a msg from an identity an operator muted (6.7)
    BANNED = "banned"  # a hello from an identity an operator banned (6.7)
    UNAVAILABLE = "unavailable"  # the server cannot reach its shared store (Redis) now (12.1)
    NO_SUCH_CERT = "no_such_cert"  # a cert request for a certificate the server never saw (6.8)


class ByeReason(StrEnum):
    """The server's ``bye.reason``, which is also the ``leave.reason`` the others see
    (docs/protocol.md 12.2)."""

    QUIT = "quit"
    DISCONNECTED = "disconnected"
    HELLO_TIMEOUT = "hello_timeout"
    TIMEOUT = "timeout"
    SLOW_CONSUMER = "slow_consumer"
    PROTOCOL_ERROR = "protocol_error"
    UNSUPPORTED_VERSION = "unsupported_version"
    BAD_NAME = "bad_name"
    NAME_TAKEN = "name_taken"
    INTERNAL_ERROR = "internal_error"
    SHUTDOWN = "shutdown"
    FLOODING = "flooding"
    SERVER_FULL = "server_full"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_SESSIONS = "too_many_sessions"  # of one identity (certificate)
    REVOKED = "revoked"
    EXPIRED = "expired"
    UNTRUSTED = "untrusted"
    KICKED = "kicked"  # an operator's kick (6.7)
    BANNED = "banned"  # an operator's ban, at hello or of a live session (6.7)
    UNAVAILABLE = "unavailable"  # hello refused while the shared store (Redis) is down


class NoticeKind(StrEnum):
    """What a ``notice`` tells (docs/protocol.md 6.7)."""

    ANNOUNCE = "announce"
    MOTD = "motd"
    KICK = "kick"
    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"


class PartReason(StrEnum):
    """Why a member left a room: ``parted.reason`` to its sessions, ``leave.reason`` (with
    ``room``) to the room's other members (docs/protocol.md 6.5)."""

    PART = "part"  # it sent ``part`` (its own sessions get ``parted`` without a reason)
    NOT_ALLOWED = "not_allowed"  # the room file, or its certificate, no longer lets it in
    REVOKED = "revoked"  # its certificate was revoked: it loses every room


# A refused hello ends the session with its error code as the bye reason (5.2).
HELLO_REFUSALS: Final[Mapping[str, ByeReason]] = {
    ErrorCode.UNSUPPORTED_VERSION: ByeReason.UNSUPPORTED_VERSION,
    ErrorCode.BAD_NAME: ByeReason.BAD_NAME,
    ErrorCode.NAME_TAKEN: ByeReason.NAME_TAKEN,
    ErrorCode.BANNED: ByeReason.BANNED,
    ErrorCode.UNAVAILABLE: ByeReason.UNAVAILABLE,
}

# After these a client cannot get in by trying again (docs/protocol.md 12.2).
PERMANENT_BYE_REASONS: Final = frozenset(
    {
        ByeReason.REVOKED,
        ByeReason.EXPIRED,
        ByeReason.UNTRUSTED,
        ByeReason.NAME_TAKEN,
        ByeReason.BAD_NAME,
        ByeReason.UNSUPPORTED_VERSION,
    }
)
# After these a client does not reconnect by itself: the permanent ones, and an
# operator's kick or ban (trying again at once would be the loop a kick ends).
FINAL_BYE_REASONS: Final = PERMANENT_BYE_REASONS | {ByeReason.KICKED, ByeReason.BANNED}

# Passing refusals: a client retries them with backoff even before its
# first welcome, where any other refusal ends it (docs/protocol.md 12.2).
TRANSIENT_BYE_REASONS: Final = frozenset({ByeReason.UNAVAILABLE})

Scalar = str | int | float


# --------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Frame:
    """Base of every frame; ``TYPE`` is the wire ``type``."""

    TYPE: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One entry of ``users`` (and of ``welcome.users``)."""

    name: str
    fp: str
    online_since: str
    op: bool = False  # an operator: its certificate is in the operator group (6.7)


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """One entry of ``room_list`` (and of ``welcome.rooms``)."""

    name: str
    members: int  # identities that are members, online or not
    topic: str | None = None
    member: bool = False  # the reader is a member
    may_join: bool = False  # the reader may join (a member may always part)
    private: bool = False  # only whom the room file names may enter (6.5.7)


# Frames both sides send -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ping(Frame):
    TYPE: ClassVar[str] = "ping"
    t: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Pong(Frame):
    TYPE: ClassVar[str] = "pong"
    t: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Bye(Frame):
    """Leave (client) or end the session (server; ``reason`` is then set)."""

    TYPE: ClassVar[str] = "bye"
    reason: str | None = None


# Client to server ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello(Frame):
    TYPE: ClassVar[str] = "hello"
    v: int
    name: str | None = None
    since: int | None = None


@dataclass(frozen=True, slots=True)
class SendMsg(Frame):
    """A message a client sends (``msg`` on the wire)."""

    TYPE: ClassVar[str] = "msg"
    text: str
    to: str | None = None
    ref: str | None = None
    action: str | None = None
    room: str | None = None
    sig: str | None = None  # a signed message (6.8): these four, or none of them
    fp: str | None = None
    sent: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Who(Frame):
    TYPE: ClassVar[str] = "who"
    room: str | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryRequest(Frame):
    """Ask for stored messages with id > ``since`` (``history`` on the wire)."""

    TYPE: ClassVar[str] = "history"
    since: int
    limit: int | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class JoinRoom(Frame):
    """Become a member of a room (``join`` on the wire, from a client)."""

    TYPE: ClassVar[str] = "join"
    room: str


@dataclass(frozen=True, slots=True)
class PartRoom(Frame):
    """Stop being a member of a room (``part`` on the wire)."""

    TYPE: ClassVar[str] = "part"
    room: str


@dataclass(frozen=True, slots=True)
class ListRooms(Frame):
    """Ask for the room list, a page at a time (``rooms`` on the wire)."""

    TYPE: ClassVar[str] = "rooms"
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SetTopic(Frame):
    """Set a room's topic; an empty ``text`` clears it (``topic`` on the wire, from a client)."""

    TYPE: ClassVar[str] = "topic"
    room: str
    text: str


@dataclass(frozen=True, slots=True)
class Kick(Frame):
    """An operator ends every session of ``name``'s identity (6.7)."""

    TYPE: ClassVar[str] = "kick"
    name: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Mute(Frame):
    """An operator refuses ``name``'s messages for ``seconds`` (6.7)."""

    TYPE: ClassVar[str] = "mute"
    name: str
    seconds: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unmute(Frame):
    TYPE: ClassVar[str] = "unmute"
    name: str


@dataclass(frozen=True, slots=True)
class Ban(Frame):
    """An operator keeps ``name``'s identity out for ``seconds`` (6.7)."""

    TYPE: ClassVar[str] = "ban"
    name: str
    seconds: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unban(Frame):
    TYPE: ClassVar[str] = "unban"
    name: str


@dataclass(frozen=True, slots=True)
class SetMotd(Frame):
    """Without ``text``: show the message of the day; with it, an operator sets it ("" clears)."""

    TYPE: ClassVar[str] = "motd"
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Announce(Frame):
    """An operator's notice to everyone online (6.7)."""

    TYPE: ClassVar[str] = "announce"
    text: str


@dataclass(frozen=True, slots=True)
class CertRequest(Frame):
    """Ask for a certificate by SHA-256 fingerprint, or the one ``name``'s owner last
    connected with (``cert`` on the wire, 6.8): one of the two."""

    TYPE: ClassVar[str] = "cert"
    fp: str | None = None
    name: str | None = None


# Server to client ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome(Frame):
    TYPE: ClassVar[str] = "welcome"
    v: int
    name: str
    last_id: int
    users_online: int
    users: tuple[UserInfo, ...] | None = None
    users_next: str | None = None
    motd: str | None = None
    rooms: tuple[RoomInfo, ...] | None = None  # the rooms this identity is a member of


@dataclass(frozen=True, slots=True)
class Msg(Frame):
    """A message as the server delivers it (``msg`` on the wire)."""

    TYPE: ClassVar[str] = "msg"
    id: int
    ts: str
    from_: str
    text: str
    to: str | None = None
    action: str | None = None
    room: str | None = None
    replay: bool = False
    sig: str | None = None  # as the sender sent them (6.8)
    ref: str | None = None  # the sender's ref: only with a signature, which covers it (6.8)
    fp: str | None = None
    sent: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Ack(Frame):
    TYPE: ClassVar[str] = "ack"
    ref: str
    id: int


@dataclass(frozen=True, slots=True)
class Join(Frame):
    TYPE: ClassVar[str] = "join"
    name: str
    ts: str
    reason: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Leave(Frame):
    TYPE: ClassVar[str] = "leave"
    name: str
    ts: str
    reason: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Users(Frame):
    TYPE: ClassVar[str] = "users"
    users: tuple[UserInfo, ...]
    next: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Gap(Frame):
    TYPE: ClassVar[str] = "gap"
    from_id: int
    to_id: int
    missed: int


@dataclass(frozen=True, slots=True)
class HistoryEnd(Frame):
    """Ends the reply to one ``history`` request (an addition: docs/protocol.md 4.2)."""

    TYPE: ClassVar[str] = "history_end"
    count: int
    more: bool
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Joined(Frame):
    """This identity is now a member of ``room``; its recent history follows."""

    TYPE: ClassVar[str] = "joined"
    room: str
    members: int
    last_id: int
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Parted(Frame):
    """This identity is no longer a member of ``room`` (``reason``: not by its own ``part``)."""

    TYPE: ClassVar[str] = "parted"
    room: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RoomList(Frame):
    """One page of the rooms the reader may see (the answer to ``rooms``)."""

    TYPE: ClassVar[str] = "room_list"
    rooms: tuple[RoomInfo, ...]
    next: str | None = None


@dataclass(frozen=True, slots=True)
class Topic(Frame):
    """A room's topic was set (``text`` empty: cleared) by ``name`` at ``ts``."""

    TYPE: ClassVar[str] = "topic"
    room: str
    text: str
    name: str
    ts: str


@dataclass(frozen=True, slots=True)
class Notice(Frame):
    """What an operator did, or said (``kind``: a ``NoticeKind``; 6.7)."""

    TYPE: ClassVar[str] = "notice"
    kind: str
    ts: str
    text: str | None = None  # announce, motd
    name: str | None = None  # whom a kick, mute, ban (or their undoing) concerns
    by: str | None = None  # the operator's name
    reason: str | None = None
    until: str | None = None  # mute, ban: when it ends (a timestamp)


@dataclass(frozen=True, slots=True)
class Cert(Frame):
    """A certificate some session connected with, in PEM: the answer to ``cert`` (6.8)."""

    TYPE: ClassVar[str] = "cert"
    fp: str
    pem: str
    name: str | None = None  # the name asked for, when it was asked by name


@dataclass(frozen=True, slots=True)
class Error(Frame):
    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    ref: str | None = None


ClientFrame = (
    Hello
    | SendMsg
    | Who
    | HistoryRequest
    | JoinRoom
    | PartRoom
    | ListRooms
    | SetTopic
    | Kick
    | Mute
    | Unmute
    | Ban
    | Unban
    | SetMotd
    | Announce
    | CertRequest
    | Ping
    | Pong
    | Bye
)
ServerFrame = (
    Welcome
    | Msg
    | Ack
    | Join
    | Leave
    | Users
    | Gap
    | HistoryEnd
    | Error
    | Ping
    | Pong
    | Bye
    | Joined
    | Parted
    | RoomList
    | Topic
    | Notice
    | Cert
)

CLIENT_FRAME_TYPES: Final[Mapping[str, type[Frame]]] = {
    cls.TYPE: cls
    for cls in (
        *(Hello, SendMsg, Who, HistoryRequest, Ping, Pong, Bye),
        *(JoinRoom, PartRoom, ListRooms, SetTopic),
        *(Kick, Mute, Unmute, Ban, Unban, SetMotd, Announce, CertRequest),
    )
}
SERVER_FRAME_TYPES: Final[Mapping[str, type[Frame]]] = {
    cls.TYPE: cls
    for cls in (
        *(Welcome, Msg, Ack, Join, Leave, Users, Gap, HistoryEnd, Error, Ping, Pong, Bye),
        *(Joined, Parted, RoomList, Topic, Notice, Cert),
    )
}


# --------------------------------------------------------------------------
# Schema derived from the dataclasses

_KIND_ENTRIES: Final = "entries"
_KIND_SCALAR: Final = "scalar"


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    attr: str
    wire: str
    kind: type | str  # str, int, bool, or one of the _KIND_* markers
    required: bool
    omit_default: Any  # encode() leaves the field out when it equals this
    entry: type | None = None  # for _KIND_ENTRIES: the class of each entry (UserInfo, RoomInfo)


def _field_specs(cls: type) -> tuple[_FieldSpec, ...]:
    """Read a frame's schema off its type hints, once per class."""
    hints = typing.get_type_hints(cls)
    specs = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = set(typing.get_args(hint)) if _is_union(hint) else {hint}
        args.discard(type(None))
        kind: type | str
        entry = None
        if args == {str, int, float}:
            kind = _KIND_SCALAR
        elif len(args) == 1 and typing.get_origin(next(iter(args))) is tuple:
            kind = _KIND_ENTRIES
            entry = typing.get_args(next(iter(args)))[0]
        else:
            (only,) = args
            kind = only
        has_default = field.default is not dataclasses.MISSING
        specs.append(
            _FieldSpec(
                attr=field.name,
                wire=field.name.rstrip("_"),
                kind=kind,
                required=not has_default,
                omit_default=field.default if has_default else dataclasses.MISSING,
                entry=entry,
            )
        )
    return tuple(specs)


def _is_union(hint: object) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


_SPECS: Final[dict[type, tuple[_FieldSpec, ...]]] = {
    cls: _field_specs(cls)
    for cls in {*CLIENT_FRAME_TYPES.values(), *SERVER_FRAME_TYPES.values(), UserInfo, RoomInfo}
}


# --------------------------------------------------------------------------
# Encoding

_json_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def frame_to_dict(frame: Frame | UserInfo | RoomInfo) -> dict[str, Any]:
    """The JSON object for ``frame``, optional fields left out when unset."""
    out: dict[str, Any] = {"type": frame.TYPE} if isinstance(frame, Frame) else {}
    for spec in _SPECS[type(frame)]:
        value = getattr(frame, spec.attr)
        if value is spec.omit_default:  # None, or False for ``replay``
            continue
        if spec.kind == _KIND_ENTRIES:
            value = [frame_to_dict(entry) for entry in value]
        out[spec.wire] = value
    return out


def encode(frame: Frame) -> bytes:
    """One frame as its wire line, newline included."""
    return (_json_encoder.encode(frame_to_dict(frame)) + "\n").encode("utf-8")


# --------------------------------------------------------------------------
# Decoding and validation


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # rare: find which key to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


_json_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicates
)


def parse_json_line(line: bytes) -> dict[str, Any]:
    """Decode one line (without its newline) into a JSON object.

    Raises ProtocolError ``bad_utf8`` or ``bad_json``; NaN/Infinity,
    duplicate keys and nesting too deep for the parser are ``bad_json``.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(
            ErrorCode.BAD_UTF8, f"frame is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        obj = _json_decoder.decode(text)
    except RecursionError:
        # json raises RecursionError, not ValueError, on deep nesting.
        raise ProtocolViolation(ErrorCode.BAD_JSON, "frame is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolViolation(ErrorCode.BAD_JSON, f"frame is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolViolation(ErrorCode.BAD_JSON, "frame must be a JSON object")
    return obj


def _is_valid_text(value: str) -> bool:
    """False for strings holding lone surrogates (they cannot be UTF-8)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_str(spec: _FieldSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise _field_error(spec, "must be a string")
    if not _is_valid_text(value):
        raise _field_error(spec, "contains a lone surrogate")
    return value


def _check_int(spec: _FieldSpec, value: Any) -> int:
    # bool is an int subclass in Python but not an integer on the wire.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _field_error(spec, "must be an integer")
    if value < 0:
        raise _field_error(spec, "must not be negative")
    if value > MAX_INTEGER:
        raise _field_error(spec, f"must be at most {MAX_INTEGER}")
    return value


def _check_bool(spec: _FieldSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _field_error(spec, "must be true or false")
    return value


def _check_scalar(spec: _FieldSpec, value: Any) -> Scalar:
    if isinstance(value, str):
        return _check_str(spec, value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _field_error(spec, "must be a string or a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _field_error(spec, "must be a finite number")  # 1e400 parses as inf
    if isinstance(value, int) and not _fits_a_double(value):
        raise _field_error(spec, "must be a finite number")  # what 1e400 would be
    number: int | float = value  # mypy < 2 keeps the narrowed value typed Any
    return number


def _fits_a_double(value: int) -> bool:
    """True if a peer that reads JSON numbers as doubles can read ``value``."""
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _check_entries(spec: _FieldSpec, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise _field_error(spec, "must be a list")
    if not all(isinstance(item, dict) for item in value):
        raise _field_error(spec, "entries must be objects")
    assert spec.entry is not None
    return tuple(_build(spec.entry, item) for item in value)


_CHECKS: Final[dict[type | str, Callable[[_FieldSpec, Any], Any]]] = {
    str: _check_str,
    int: _check_int,
    bool: _check_bool,
    _KIND_SCALAR: _check_scalar,
    _KIND_ENTRIES: _check_entries,
}


def _field_error(spec: _FieldSpec, what: str) -> ProtocolError:
    return ProtocolViolation(ErrorCode.BAD_FIELD, f"field {spec.wire!r} {what}")


_F = TypeVar("_F")


def _build(cls: type[_F], obj: Mapping[str, Any]) -> _F:
    kwargs: dict[str, Any] = {}
    for spec in _SPECS[cls]:
        value = obj.get(spec.wire)
        if value is None:  # absent, or JSON null: both mean "not given"
            if spec.required:
                raise ProtocolViolation(ErrorCode.MISSING_FIELD, f"field {spec.wire!r} is required")
            continue
        kwargs[spec.attr] = _CHECKS[spec.kind](spec, value)
    return cls(**kwargs)


def _check_semantics(frame: Frame) -> None:
    """Rules beyond types that every peer must keep (docs/protocol.md)."""
    if isinstance(frame, SendMsg):
        if frame.ref is not None and not 0 < len(frame.ref) <= MAX_REF_CHARS:
            raise ProtocolViolation(
                ErrorCode.BAD_FIELD, f"field 'ref' must be 1-{MAX_REF_CHARS} characters"
            )
        if frame.action is not None and frame.action not in ACTIONS:
            raise ProtocolViolation(
                ErrorCode.BAD_FIELD, f"unknown action {frame.action!r}", ref=frame.ref
            )
        if frame.to is not None and frame.room not in (None, DEFAULT_ROOM):
            raise ProtocolViolation(
                ErrorCode.BAD_FIELD, "a private message ('to') has no room", ref=frame.ref
            )
    if isinstance(frame, SendMsg | Msg):
        _check_signature_fields(frame)
    if isinstance(frame, CertRequest | Cert):
        _check_cert_frame(frame)
    if isinstance(frame, Mute | Ban | Kick | SetMotd):
        _check_operator_request(frame)
    if isinstance(frame, HistoryRequest) and frame.limit is not None and frame.limit < 1:
        raise ProtocolViolation(ErrorCode.BAD_FIELD, "field 'limit' must be at least 1")
    room = getattr(frame, "room", None)
    if room is not None and not 0 < len(room) <= MAX_ROOM_CHARS:
        raise ProtocolViolation(
            ErrorCode.BAD_FIELD, f"field 'room' must be 1-{MAX_ROOM_CHARS} characters"
        )
    cursor = getattr(frame, "cursor", None)
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise ProtocolViolation(ErrorCode.BAD_FIELD, "field 'cursor' is too long")
    # Last, as in protocol.md's table: every bad_field comes before empty_text
    # (which, unlike bad_field, does not count toward the error limit).
    if isinstance(frame, SendMsg) and _is_blank(frame.text):
        raise Refusal(ErrorCode.EMPTY_TEXT, "message text is empty", ref=frame.ref)
    if isinstance(frame, Announce) and _is_blank(frame.text):
        raise Refusal(ErrorCode.EMPTY_TEXT, "announcement text is empty")


def _check_cert_frame(frame: CertRequest | Cert) -> None:
    """``cert``: a full fingerprint; a request names a fingerprint or a name, not both."""
    if isinstance(frame, CertRequest) and (frame.fp is None) == (frame.name is None):
        raise ProtocolViolation(ErrorCode.BAD_FIELD, "a cert request names 'fp' or 'name'")
    if frame.fp is not None and (problem := fp_problem(frame.fp)):
        raise ProtocolViolation(ErrorCode.BAD_FIELD, problem)


def fp_problem(fp: str) -> str | None:
    """Why ``fp`` is no full SHA-256 fingerprint (64 lowercase hex digits), or None."""
    if len(fp) != FP_CHARS or fp.strip("0123456789abcdef"):
        return f"field 'fp' must be {FP_CHARS} lowercase hex digits"
    return None


def _check_signature_fields(frame: SendMsg | Msg) -> None:
    """Bounds of a signed message's fields (docs/protocol.md 6.8); the signature is not checked."""
    ref = frame.ref if isinstance(frame, SendMsg) else None
    given = [frame.sig, frame.fp, frame.sent, frame.seq]
    if all(value is None for value in given):
        return
    if any(value is None for value in given):
        fields = ", ".join(repr(name) for name in SIGNATURE_FIELDS)
        raise ProtocolViolation(
            ErrorCode.BAD_FIELD, f"a signed message needs all of {fields}", ref=ref
        )
    fp, sig, sent = str(frame.fp), str(frame.sig), str(frame.sent)  # all given, as checked
    problem = fp_problem(fp)
    if problem is None and not 0 < len(sig) <= MAX_SIG_CHARS:
        problem = f"field 'sig' must be 1-{MAX_SIG_CHARS} characters"
    if problem is None and not 0 < len(sent) <= MAX_SENT_CHARS:
        problem = f"field 'sent' must be 1-{MAX_SENT_CHARS} characters"
    if problem is None and frame.seq == 0:
        problem = "field 'seq' must be at least 1"
    if problem is not None:
        raise ProtocolViolation(ErrorCode.BAD_FIELD, problem, ref=ref)


def _check_operator_request(frame: Mute | Ban | Kick | SetMotd) -> None:
    """Bounds of an operator's request (docs/protocol.md 6.7)."""
    if isinstance(frame, Mute | Ban) and not 0 < frame.seconds <= MAX_SECONDS:
        raise ProtocolViolation(
            ErrorCode.BAD_FIELD, f"field 'seconds' must be 1-{MAX_SECONDS} (365 days)"
        )
    if isinstance(frame, SetMotd):
        if frame.text is not None and len(frame.text) > MAX_MOTD_CHARS:
            raise ProtocolViolation(
                ErrorCode.BAD_FIELD, f"field 'text' must be at most {MAX_MOTD_CHARS} characters"
            )
    elif frame.reason is not None and len(frame.reason) > MAX_REASON_CHARS:
        raise ProtocolViolation(
            ErrorCode.BAD_FIELD, f"field 'reason' must be at most {MAX_REASON_CHARS} characters"
        )


# Controls, format characters (zero-width, bidi) and separators. Not Cn:
# a character newer than this Python's Unicode tables is still visible.
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def _is_blank(text: str) -> bool:
    """True for text with nothing visible: spaces, controls, zero-width characters."""
    if not text.strip():
        return True
    if text.isprintable():
        return False
    return all(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


def _readable_ref(obj: Mapping[str, Any]) -> str | None:
    ref = obj.get("ref")
    if isinstance(ref, str) and 0 < len(ref) <= MAX_REF_CHARS and _is_valid_text(ref):
        return ref
    return None


def parse_frame(obj: Mapping[str, Any], frame_types: Mapping[str, type[Frame]]) -> Frame:
    """Validate a decoded JSON object and build its frame.

    ``frame_types`` says which side is speaking (``CLIENT_FRAME_TYPES`` for
    what a server receives, ``SERVER_FRAME_TYPES`` for what a client does).
    """
    frame_type = obj.get("type")
    if not isinstance(frame_type, str):
        raise ProtocolViolation(ErrorCode.BAD_FRAME, "frame has no string 'type'")
    cls = frame_types.get(frame_type)
    if cls is None:
        printable = frame_type[:32].encode("ascii", "backslashreplace").decode("ascii")
        raise ProtocolViolation(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {printable!r}")
    try:
        frame = _build(cls, obj)
        _check_semantics(frame)
    except ProtocolError as exc:
        if exc.ref is None:
            exc.ref = _readable_ref(obj) if cls is SendMsg else None
        raise
    return frame


def decode_line(line: bytes, frame_types: Mapping[str, type[Frame]]) -> Frame:
    """One wire line (without its newline) to a frame; ProtocolError if bad."""
    return parse_frame(parse_json_line(line), frame_types)


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get frames back.

    ``feed`` returns, in order, a ``Frame`` for every complete valid line
    and a ``ProtocolError`` for every complete invalid one: an invalid
    frame does not stop the decoder. Empty and whitespace-only lines are
    skipped, and a ``\\r`` before the newline is tolerated (for people
    typing into ``openssl s_client``).

    A line longer than ``max_line`` bytes is fatal: the decoder returns a
    ``ProtocolError`` with ``fatal=True`` as its last event, and ``feed``
    raises that error if called again. It is detected as soon as the
    limit is crossed, not when the newline finally arrives, so a peer
    cannot make us buffer more than ``max_line`` bytes.
    """

    __slots__ = ("_buffer", "_failed", "_frame_types", "max_line")

    def __init__(
        self, frame_types: Mapping[str, type[Frame]], max_line: int = MAX_LINE_BYTES
    ) -> None:
        self._frame_types = frame_types
        self.max_line = max_line
        self._buffer = bytearray()
        self._failed: ProtocolError | None = None

    @classmethod
    def for_server(cls, max_line: int = MAX_LINE_BYTES) -> FrameDecoder:
        """A decoder for what a server receives (client frames)."""
        return cls(CLIENT_FRAME_TYPES, max_line)

    @classmethod
    def for_client(cls, max_line: int = 4 * MAX_LINE_BYTES) -> FrameDecoder:
        """A decoder for what a client receives (server frames).

        Its limit is larger than the server's: a server frame wraps a
        client's line (a ``msg`` adds ``id``, ``ts``, ``from``), and JSON
        escaping can grow it.
        """
        return cls(SERVER_FRAME_TYPES, max_line)

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete line held back (bounded by ``max_line``)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | ProtocolError]:
        if self._failed is not None:
            raise self._failed
        events: list[Frame | ProtocolError] = []
        buffer = self._buffer
        start = len(buffer)
        buffer += data
        line_start = 0
        # Only the new bytes can hold a newline we have not seen.
        newline = buffer.find(b"\n", start)
        while newline != -1:
            if newline - line_start > self.max_line:
                return self._fail(events)
            line = bytes(buffer[line_start:newline])
            line_start = newline + 1
            self._decode_into(line, events)
            newline = buffer.find(b"\n", line_start)
        del buffer[:line_start]
        if len(buffer) > self.max_line:
            return self._fail(events)
        return events

    def _decode_into(self, line: bytes, events: list[Frame | ProtocolError]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return
        try:
            events.append(decode_line(line, self._frame_types))
        except ProtocolError as exc:
            events.append(exc)

    def _fail(self, events: list[Frame | ProtocolError]) -> list[Frame | ProtocolError]:
        self._buffer.clear()
        self._failed = ProtocolViolation(
            ErrorCode.FRAME_TOO_LONG, f"frame longer than {self.max_line} bytes", fatal=True
        )
        events.append(self._failed)
        return events


# --------------------------------------------------------------------------
# Timestamps


def format_ts(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-26T08:00:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


def parse_ts(value: str) -> datetime | None:
    """The moment an RFC 3339 ``ts`` names, or None if it is not one."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment

"""Turn server frames into what a person reads, in every client mode.

Each event becomes a list of ``(style, text)`` fragments -- the format
prompt_toolkit prints -- and plain mode joins their texts into one line.
Every string that came from the network goes through ``sanitize`` here,
once: nothing a peer sends can drive the terminal, whatever the mode.
What people write (message text, the message of the day) is shown with
``visible_text``, which keeps the joiners of Persian, Hindi and emoji;
names, reasons and codes with the stricter ``visible``.

Style classes: ``time``, ``name`` (plus the name's own colour), ``own``
(our name), ``text``, ``mention`` (a message that names us), ``private``,
``notice`` (joins, leaves, gaps: dimmed), ``error``; the interactive view
adds ``replay`` for history.
"""

from __future__ import annotations

import itertools
import operator
import re
import unicodedata
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ..names import name_key, shown
from ..protocol import (
    Bye,
    Error,
    ErrorCode,
    Frame,
    Gap,
    Join,
    Leave,
    Msg,
    NoticeKind,
    Parted,
    RoomInfo,
    RoomList,
    Topic,
    Users,
    Welcome,
    parse_ts,
)
from ..protocol import (
    Joined as JoinedFrame,
)
from ..protocol import (
    Notice as NoticeFrame,
)
from ..sanitize import visible, visible_lines, visible_text
from .events import (
    TOO_LONG,
    CertificateExpiring,
    DayChanged,
    EnteredRoom,
    Event,
    Failed,
    Help,
    HistoryReset,
    HistoryShown,
    Ignoring,
    Joined,
    Left,
    LeftRoom,
    Message,
    Missed,
    Notice,
    Online,
    OperatorNotice,
    Reconnecting,
    Renamed,
    Retrying,
    RoomsListed,
    TopicChanged,
    TopicShown,
    Welcomed,
    WhoisAnswer,
)

Fragments = list[tuple[str, str]]


def clock(ts: str) -> str:
    """``HH:MM`` in local time for an RFC 3339 ``ts`` (``--:--`` if unreadable)."""
    moment = parse_ts(ts)
    if moment is None:
        return "--:--"
    return moment.astimezone().strftime("%H:%M")


def now_clock() -> str:
    return datetime.now().strftime("%H:%M")


def as_text(fragments: Fragments) -> str:
    return "".join(text for _, text in fragments)


# Name colours: a stable pick from colours every terminal has, so that a name
# looks the same in every session and on every screen.
PALETTE: Final = (
    "ansired",
    "ansigreen",
    "ansiyellow",
    "ansiblue",
    "ansimagenta",
    "ansicyan",
    "ansibrightred",
    "ansibrightgreen",
    "ansibrightyellow",
    "ansibrightblue",
    "ansibrightmagenta",
    "ansibrightcyan",
)


def name_colour(name: str) -> str:
    """The colour ``name`` is always shown in (the same for Alice and ALICE)."""
    return PALETTE[zlib.crc32(name_key(name).encode("utf-8")) % len(PALETTE)]


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` mentions ``name`` as a word (any case)."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None


MIN_WRAP: Final = 20  # text under the head at least this wide, or continue under the clock
CLOCK_INDENT: Final = 6  # "HH:MM ": where a notice's text, or a narrow message's, continues


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two).

    Never less than a terminal gives it: a combining mark counts one column
    where a terminal gives it none, so a line is at worst a little shorter
    than it could be, never longer.
    """
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _cuts(text: str, first: int, rest: int) -> list[tuple[int, int]]:
    """Where ``text`` is cut into lines of ``first`` columns, then ``rest``: (start, end) pairs.

    Lines break at the last space that fits (the space itself is dropped; a
    line's leading spaces are no break), else at the edge. A line always
    takes one character at least. Linear in the length of ``text``: a 64 KiB
    message must not stall the client.
    """
    sizes = [width(char) for char in text]
    left = sum(sizes)  # columns from start to the end
    cuts: list[tuple[int, int]] = []
    start, room = 0, first
    while left > room:
        end, used = start, 0
        while end < len(text) and used + sizes[end] <= room:
            used += sizes[end]
            end += 1
        end = max(end, start + 1)
        lead = start
        while lead < end and text[lead] == " ":
            lead += 1
        space = text.rfind(" ", lead + 1, end + 1)
        after = space + 1 if space > start else end
        cuts.append((start, space if space > start else end))
        left -= sum(sizes[start:after])
        start, room = after, rest
    cuts.append((start, len(text)))
    return cuts


def wrap(text: str, room: int) -> list[str]:
    """``text`` in lines of at most ``room`` columns, broken at spaces where possible."""
    return [text[start:end] for start, end in _cuts(text, room, room)]


def fit(fragments: Fragments, columns: int | None, indent: int = CLOCK_INDENT) -> Fragments:
    """``fragments`` with every line at most ``columns`` wide, at any width.

    A longer line continues on the next, after ``indent`` spaces (fewer on a
    very narrow terminal, never none): the terminal never wraps a line
    itself, so no part of one can start at column 0 and pass for a line of
    its own (a padded message showing a fake ``15:09 alice: ...``). Lines
    already short enough are left as they are; None (no terminal) changes
    nothing.
    """
    if columns is None:
        return fragments
    columns = max(columns, 2)
    indent = max(1, min(indent, columns // 2))
    out: Fragments = []
    for number, line in enumerate(_lines(fragments)):
        if number:
            out.append(("", "\n"))
        text = "".join(char for _, char in line)
        if width(text) <= columns:
            out += _grouped(line)
            continue
        for index, (start, end) in enumerate(_cuts(text, columns, columns - indent)):
            if index:
                out += [("", "\n" + " " * indent)]
            out += _grouped(line[start:end])
    return out


def _lines(fragments: Fragments) -> list[list[tuple[str, str]]]:
    """The (style, character) pairs of each line of ``fragments``."""
    lines: list[list[tuple[str, str]]] = [[]]
    for style, text in fragments:
        for char in text:
            if char == "\n":
                lines.append([])
            else:
                lines[-1].append((style, char))
    return lines


def _grouped(chars: list[tuple[str, str]]) -> Fragments:
    """(style, character) pairs back into fragments, one per run of a style."""
    return [
        (style, "".join(char for _, char in run))
        for style, run in itertools.groupby(chars, key=operator.itemgetter(0))
    ]


UNVERIFIED_MARK: Final = "!! UNVERIFIED"  # where a message's signature fails or is missing


def _marked(line: Fragments, event: Message) -> Fragments:
    """A message whose signature was judged and failed: marked in front, and why after.

    Verified messages look as before; so do all messages where this client
    judges none (``verdict`` None). The mark comes before the time, so no
    text a sender types can line up to look like it, or hide it.
    """
    verdict = event.verdict
    if verdict is None or verdict.verified:
        return line
    why = visible(verdict.reason or "unverified")
    return [("class:error", f"{UNVERIFIED_MARK} ({why}) "), *line]


def message_fragments(
    msg: Msg,
    *,
    me: str | None = None,
    multiline: bool = False,
    columns: int | None = None,
    tag: str | None = None,
) -> Fragments:
    """``HH:MM name: text``; ``HH:MM * name text`` for /me; ``a -> b`` when private.

    ``tag`` (a room's name) comes after the time, as ``[#ops]``: the room
    of a line that is not the room typed into (plain mode: every room's
    line). ``me`` marks our own name and mentions of it; ``multiline`` keeps the
    message's line breaks, later lines indented under the first (the
    interactive client), instead of showing them as ``\n`` (plain mode).
    With ``columns`` (the terminal's width) every line fits it: long lines
    continue indented under the text, or under the clock when the head
    (time and names) leaves less than MIN_WRAP columns for it (``fit``).
    """
    own = me is not None and name_key(msg.from_) == name_key(me)
    head: Fragments = [("class:time", f"{clock(msg.ts)} ")]
    if tag is not None:
        head.append(("class:room", f"[{visible(tag)}] "))
    if msg.action == "me":
        head.append(("class:text", "* "))
    head.append(("class:own" if own else f"class:name {name_colour(msg.from_)}", shown(msg.from_)))
    if msg.to is not None:
        head.append(("class:private", f" -> {shown(msg.to)}"))
    head.append(("class:text", " " if msg.action == "me" else ": "))
    text_style = "class:text"
    if msg.to is not None:
        text_style += " class:private"
    if me is not None and not own and mentions(msg.text, me):
        text_style += " class:mention"
    if not multiline:
        return [*head, (text_style, visible_text(msg.text))]
    head_width = width(as_text(head))
    indent = head_width
    if columns is not None and columns - head_width < MIN_WRAP:
        indent = max(1, min(CLOCK_INDENT, max(columns, 2) // 2))
    lines = visible_lines(msg.text)
    body: Fragments = [(text_style, lines[0])]
    for line in lines[1:]:
        body += [("", "\n" + " " * indent), (text_style, line)]
    return fit(head + body, columns, indent)


def user_list(users: Users | Welcome) -> str:
    """The names, an operator's marked ``@`` (protocol.md 6.7: ``@`` is in no valid name)."""
    names = ", ".join(("@" if user.op else "") + shown(user.name) for user in users.users or ())
    more = users.next if isinstance(users, Users) else users.users_next
    return names + (", ... (/who for more)" if more else "")


def notice(text: str, *, ts: str | None = None, style: str = "class:notice") -> Fragments:
    """A line of our own (not a message): time, then dimmed text."""
    return [("class:time", f"{clock(ts) if ts else now_clock()} "), (style, text)]


def _join(frame: Join) -> Fragments:
    where = f" {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- {shown(frame.name)} joined{where}", ts=frame.ts)


def _leave(frame: Leave) -> Fragments:
    reason = f" ({visible(frame.reason)})" if frame.reason else ""
    where = f" {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- {shown(frame.name)} left{where}{reason}", ts=frame.ts)


def _users(frame: Users) -> Fragments:
    where = f" in {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- online{where}: {user_list(frame)}")


def _joined(frame: JoinedFrame) -> Fragments:
    members = "1 member" if frame.members == 1 else f"{frame.members} members"
    topic = f"; topic: {visible(frame.topic)}" if frame.topic else ""
    return notice(f"-- you are in {visible(frame.room)} ({members}){topic}")


# Why the server parted us (docs/protocol.md 6.5.7), in words.
_PARTED: Final = {
    "not_allowed": "you may no longer enter it (the server's rooms changed)",
    "revoked": "your certificate was revoked",
}


def _parted(frame: Parted) -> Fragments:
    if frame.reason is None:
        return notice(f"-- you left {visible(frame.room)}")
    why = _PARTED.get(frame.reason, visible(frame.reason))
    return notice(f"-- you are no longer in {visible(frame.room)}: {why}", style="class:error")


def _topic(frame: Topic) -> Fragments:
    room, name = visible(frame.room), shown(frame.name)
    if not frame.text:
        return notice(f"-- {name} cleared the topic of {room}", ts=frame.ts)
    return notice(f"-- {name} set the topic of {room}: {visible(frame.text)}", ts=frame.ts)


def room_line(info: RoomInfo) -> str:
    """One room of ``/rooms``: name, members, whether we are in it or may join, topic."""
    members = "1 member" if info.members == 1 else f"{info.members} members"
    state = "you are in it" if info.member else ("open to you" if info.may_join else "")
    kind = "private" if info.private else ""
    parts = [visible(info.name), kind, members, state, visible(info.topic) if info.topic else ""]
    return "-- " + " · ".join(part for part in parts if part)


def room_list_lines(frame: RoomList) -> list[Fragments]:
    """``/rooms``: a line per room (and one saying there is more)."""
    if not frame.rooms:
        return [notice("-- no rooms yet: /join #name makes one")]
    lines = [notice(room_line(info)) for info in frame.rooms]
    if frame.next:
        lines.append(notice("-- ... and more: /rooms again shows the next page"))
    return lines


def _gap(frame: Gap) -> Fragments:
    plural = "" if frame.missed == 1 else "s"
    ids = f"ids {frame.from_id}-{frame.to_id}"
    return notice(f"-- missed {frame.missed} message{plural} ({ids})")


# Refusals of what the user typed: the server's message says it all (the
# terminal client shows it without the code; plain and JSON output keep it).
USER_ERRORS: Final = frozenset(
    {
        ErrorCode.NO_SUCH_USER,
        ErrorCode.NO_SUCH_ROOM,
        ErrorCode.EMPTY_TEXT,
        ErrorCode.NOT_A_MEMBER,
        ErrorCode.TOO_MANY_ROOMS,
        ErrorCode.TOPIC_TOO_LONG,
        ErrorCode.NOT_PERMITTED,
        ErrorCode.MUTED,
    }
)


def _error(frame: Error, *, code: bool = True) -> Fragments:
    if not code and frame.code in USER_ERRORS:
        return notice(f"!! {visible(frame.message)}", style="class:error")
    return notice(f"!! {visible(frame.code)}: {visible(frame.message)}", style="class:error")


def _bye(frame: Bye) -> Fragments:
    return notice(f"-- the server ended the session: {visible(frame.reason or '')}")


OPERATOR_HINT: Final = "-- you are an operator: /kick, /mute, /ban, /motd, /announce (/help)"


def welcome_lines(frame: Welcome) -> list[Fragments]:
    """Who we are and who is here; then the message of the day, if any."""
    lines = [
        notice(f"-- joined as {shown(frame.name)}; {frame.users_online} online: {user_list(frame)}")
    ]
    # A new operator learns of their commands here, not by trying them. Only
    # when our entry is on welcome's first page (it always is in a small chat).
    if any(user.op and user.name == frame.name for user in frame.users or ()):
        lines.append(notice(OPERATOR_HINT))
    if frame.motd:
        lines.append(notice(f"-- motd: {visible_text(frame.motd)}"))
    if frame.rooms:
        rooms = ", ".join(visible(info.name) for info in frame.rooms)
        lines.append(notice(f"-- your rooms: {rooms}"))
    return lines


# What each kind of operator notice says; {name}, {by}, {why}, {until} filled in.
_OPERATOR: Final[dict[str, str]] = {
    NoticeKind.KICK: "{name} was kicked by {by}{why}",
    NoticeKind.MUTE: "{name} is muted until {until} by {by}{why}",
    NoticeKind.UNMUTE: "{name} may speak again ({by})",
    NoticeKind.BAN: "{name} is banned until {until} by {by}{why}",
    NoticeKind.UNBAN: "{name} is no longer banned ({by})",
}
# The same, told to their target: "bob was kicked" on bob's own screen
# reads as news about someone else of that name.
_OPERATOR_TO_ME: Final[dict[str, str]] = {
    NoticeKind.KICK: "you were kicked by {by}{why}",
    NoticeKind.MUTE: "you are muted until {until} by {by}{why}",
    NoticeKind.UNMUTE: "you may speak again ({by})",
    NoticeKind.BAN: "you are banned until {until} by {by}{why}",
    NoticeKind.UNBAN: "you are no longer banned ({by})",
}


def operator_notice(frame: NoticeFrame, *, about_me: bool = False) -> Fragments:
    """``-- bob was kicked by op: spam`` (to bob: ``you were``); announcements stand out."""
    by = shown(frame.by) if frame.by is not None else "the server"
    if frame.kind == NoticeKind.ANNOUNCE:
        return notice(f"** {by}: {visible(frame.text or '')}", ts=frame.ts, style="class:mention")
    if frame.kind == NoticeKind.MOTD:
        text = visible(frame.text) if frame.text else "(none)"
        if frame.by is None:  # the answer to /motd
            return notice(f"-- message of the day: {text}", ts=frame.ts)
        if not frame.text:  # "(set by op): (none)" read as if op had set the word "none"
            return notice(f"-- {by} cleared the message of the day", ts=frame.ts)
        return notice(f"-- {by} set the message of the day: {text}", ts=frame.ts)
    template = (_OPERATOR_TO_ME if about_me else _OPERATOR).get(frame.kind)
    if template is None:  # a newer server's kind: its text, if any
        return notice(f"-- {visible(frame.text or frame.kind)}", ts=frame.ts)
    until = stamp(frame.until) if frame.until is not None else "?"
    why = f": {visible(frame.reason)}" if frame.reason else ""
    name = shown(frame.name or "?")
    line = template.format(name=name, by=by, why=why, until=until)
    return notice(f"-- {line}", ts=frame.ts, style="class:error")


_NOTICES: dict[type[Frame], Callable[[Any], Fragments]] = {
    Join: _join,
    Leave: _leave,
    Users: _users,
    Gap: _gap,
    Bye: _bye,
    JoinedFrame: _joined,
    Parted: _parted,
    Topic: _topic,
    NoticeFrame: operator_notice,
}


def event_fragments(frame: Frame, *, me: str | None = None, codes: bool = True) -> Fragments | None:
    """What to show for ``frame``, or None for frames not shown (ack, pong, ...).

    ``codes``: False leaves the protocol's code out of the user's own errors.
    """
    if isinstance(frame, Msg):
        return message_fragments(frame, me=me)
    if isinstance(frame, Error):
        return _error(frame, code=codes)
    render = _NOTICES.get(type(frame))
    return render(frame) if render is not None else None


def event_line(frame: Frame) -> str | None:
    """The plain-mode line for ``frame``, or None."""
    fragments = event_fragments(frame)
    return as_text(fragments) if fragments is not None else None


def _room_lines(
    event: EnteredRoom | LeftRoom | TopicChanged | TopicShown | RoomsListed,
) -> list[Fragments]:
    match event:
        case EnteredRoom():
            return [_joined(event.frame)]
        case LeftRoom():
            lines = [_parted(event.frame)]
            if event.to_lobby:
                lines.append(notice("-- you type into the lobby now"))
            return lines
        case TopicChanged():
            return [_topic(event.frame)]
        case TopicShown():
            topic = visible(event.topic) if event.topic else "(none)"
            return [notice(f"-- topic of {visible(event.room)}: {topic}")]
        case RoomsListed():
            return room_list_lines(event.frame)


# -- events (events.py) as lines ---------------------------------------------------


def stamp(ts: str) -> str:
    """``YYYY-MM-DD HH:MM`` in local time for an RFC 3339 ``ts`` (``?`` if unreadable)."""
    moment = parse_ts(ts)
    if moment is None:
        return "?"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _whois(event: WhoisAnswer) -> Fragments:
    user = event.user
    if user is None:
        return notice(f"-- {shown(event.name)} is not online")
    role = " (operator)" if user.op else ""
    return notice(
        f"-- {shown(user.name)}{role}: certificate fingerprint {visible(user.fp)}, "
        f"online since {stamp(user.online_since)}"
    )


def _reconnecting(event: Reconnecting) -> list[Fragments]:
    """The first attempt after a drop, and one the user asked for: later ones only count down."""
    if event.asked:
        return [
            notice(
                f"-- still no connection: {visible(event.reason)}; next try in "
                f"{event.delay:.1f} s (Enter to try now)"
            )
        ]
    if event.attempt:
        return []
    return [notice(f"-- {visible(event.reason)}; reconnecting in {event.delay:.1f} s")]


def _failed(event: Failed, *, codes: bool) -> Fragments:
    if event.local:
        style_prefix = "!! " if event.code == TOO_LONG else "-- "
        return notice(f"{style_prefix}{event.message}", style="class:error")
    return _error(Error(code=event.code, message=event.message, ref=event.ref), code=codes)


def _expiring(event: CertificateExpiring) -> Fragments:
    when = event.not_after.astimezone().strftime("%Y-%m-%d %H:%M")
    days = "today" if event.days == 0 else f"in {event.days} day{'' if event.days == 1 else 's'}"
    return notice(
        f"!! your certificate expires on {when} ({days}): ask your admin for a new one "
        "now (rtchat-certs request NAME --force, then send NAME.csr; docs/certificates.md, 7)",
        style="class:error",
    )


def event_lines(  # noqa: PLR0911, PLR0912 - one case per kind of event
    event: Event,
    *,
    me: str | None = None,
    multiline: bool = False,
    columns: int | None = None,
    codes: bool = True,
    tag: str | None = None,
) -> list[Fragments]:
    """The lines a person sees for ``event`` (none for some: the status line shows those).

    ``me``, ``multiline``, ``columns`` and ``tag`` are ``message_fragments``';
    ``codes`` False leaves the protocol's code out of the user's own errors.
    """
    match event:
        case Message():
            msg = event.msg
            line = message_fragments(msg, me=me, multiline=multiline, columns=columns, tag=tag)
            return [_marked(line, event)]
        case Welcomed():
            return welcome_lines(event.welcome)
        case Renamed():
            return [
                notice(
                    "-- the server names you by your certificate, so you are "
                    f"{shown(event.name)} here ('{shown(event.asked)}' was not used)"
                )
            ]
        case HistoryReset():
            return [notice("-- the server's history was reset; ids start again")]
        case HistoryShown():
            plural = "" if event.count == 1 else "s"
            kind = "missed" if event.missed else "earlier"
            where = f" of {visible(event.room)}" if event.room is not None else ""
            return [notice(f"-- {event.count} {kind} message{plural}{where} above")]
        case EnteredRoom() | LeftRoom() | TopicChanged() | TopicShown() | RoomsListed():
            return _room_lines(event)
        case Joined():
            return [_join(event.frame)]
        case Left():
            return [_leave(event.frame)]
        case Online():
            return [_users(event.frame)]
        case WhoisAnswer():
            return [_whois(event)]
        case Missed():
            return [_gap(event.frame)]
        case Failed():
            return [_failed(event, codes=codes)]
        case Reconnecting():
            return _reconnecting(event)
        case Retrying():
            return [notice("-- reconnecting now")]
        case DayChanged():
            return [[("class:day", f"-- {event.day.strftime('%A %Y-%m-%d')}")]]
        case CertificateExpiring():
            return [_expiring(event)]
        case Ignoring():
            name = shown(event.name)
            if event.ignored:
                return [notice(f"-- ignoring {name} (on this client; /unignore to undo)")]
            return [notice(f"-- showing {name} again")]
        case Help():
            return [notice(f"-- {line}") for line in event.lines]
        case Notice():
            return [notice(event.text)]
        case OperatorNotice():
            return [operator_notice(event.frame, about_me=event.about_me)]
    raise AssertionError(f"no lines for {event!r}")  # pragma: no cover - every kind has some

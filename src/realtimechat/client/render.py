"""Turn server frames into what a person reads, in every client mode.

Each event becomes a list of ``(style, text)`` fragments -- the format
prompt_toolkit prints -- and plain mode joins their texts into one line.
Every string that came from the network goes through ``visible`` here,
once: nothing a peer sends can drive the terminal, whatever the mode.

Style classes: ``time``, ``name`` (plus the name's own colour), ``own``
(our name), ``text``, ``mention`` (a message that names us), ``private``,
``notice`` (joins, leaves, gaps: dimmed), ``error``; the interactive view
adds ``replay`` for history.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ..names import name_key
from ..protocol import (
    Bye,
    Error,
    ErrorCode,
    Frame,
    Gap,
    Join,
    Joined,
    Leave,
    Msg,
    Parted,
    RoomInfo,
    RoomList,
    Topic,
    Users,
    Welcome,
    parse_ts,
)
from ..sanitize import visible, visible_lines

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


MIN_WRAP: Final = 20  # a narrower text column is not worth wrapping for


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def wrap(text: str, room: int) -> list[str]:
    """``text`` in lines of at most ``room`` columns, broken at spaces where possible."""
    pieces: list[str] = []
    while width(text) > room:
        cut, used = 0, 0
        for char in text:
            used += width(char)
            if used > room:
                break
            cut += 1
        cut = max(cut, 1)
        space = text.rfind(" ", 0, cut + 1)
        if space > 0:
            pieces.append(text[:space])
            text = text[space + 1 :]
        else:
            pieces.append(text[:cut])
            text = text[cut:]
    pieces.append(text)
    return pieces


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
    With ``columns`` (the terminal's width) long lines wrap under the text
    the same way.
    """
    own = me is not None and name_key(msg.from_) == name_key(me)
    head: Fragments = [("class:time", f"{clock(msg.ts)} ")]
    if tag is not None:
        head.append(("class:room", f"[{visible(tag)}] "))
    if msg.action == "me":
        head.append(("class:text", "* "))
    head.append(
        ("class:own" if own else f"class:name {name_colour(msg.from_)}", visible(msg.from_))
    )
    if msg.to is not None:
        head.append(("class:private", f" -> {visible(msg.to)}"))
    head.append(("class:text", " " if msg.action == "me" else ": "))
    text_style = "class:text"
    if msg.to is not None:
        text_style += " class:private"
    if me is not None and not own and mentions(msg.text, me):
        text_style += " class:mention"
    if not multiline:
        return [*head, (text_style, visible(msg.text))]
    indent = " " * width("".join(text for _, text in head))
    lines = visible_lines(msg.text)
    if columns is not None and columns - len(indent) >= MIN_WRAP:
        lines = [piece for line in lines for piece in wrap(line, columns - len(indent))]
    body: Fragments = [(text_style, lines[0])]
    for line in lines[1:]:
        body += [("", "\n" + indent), (text_style, line)]
    return head + body


def user_list(users: Users | Welcome) -> str:
    names = ", ".join(visible(user.name) for user in users.users or ())
    more = users.next if isinstance(users, Users) else users.users_next
    return names + (", ... (/who for more)" if more else "")


def notice(text: str, *, ts: str | None = None, style: str = "class:notice") -> Fragments:
    """A line of our own (not a message): time, then dimmed text."""
    return [("class:time", f"{clock(ts) if ts else now_clock()} "), (style, text)]


def _join(frame: Join) -> Fragments:
    where = f" {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- {visible(frame.name)} joined{where}", ts=frame.ts)


def _leave(frame: Leave) -> Fragments:
    reason = f" ({visible(frame.reason)})" if frame.reason else ""
    where = f" {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- {visible(frame.name)} left{where}{reason}", ts=frame.ts)


def _users(frame: Users) -> Fragments:
    where = f" in {visible(frame.room)}" if frame.room is not None else ""
    return notice(f"-- online{where}: {user_list(frame)}")


def _joined(frame: Joined) -> Fragments:
    members = "1 member" if frame.members == 1 else f"{frame.members} members"
    topic = f"; topic: {visible(frame.topic)}" if frame.topic else ""
    return notice(f"-- you are in {visible(frame.room)} ({members}){topic}")


# Why the server parted us (docs/protocol.md 6.5.7), in words.
_PARTED: Final = {
    "not_allowed": "the room file no longer lets you in",
    "revoked": "your certificate was revoked",
}


def _parted(frame: Parted) -> Fragments:
    if frame.reason is None:
        return notice(f"-- you left {visible(frame.room)}")
    why = _PARTED.get(frame.reason, visible(frame.reason))
    return notice(f"-- you are no longer in {visible(frame.room)}: {why}", style="class:error")


def _topic(frame: Topic) -> Fragments:
    room, name = visible(frame.room), visible(frame.name)
    if not frame.text:
        return notice(f"-- {name} cleared the topic of {room}", ts=frame.ts)
    return notice(f"-- {name} set the topic of {room}: {visible(frame.text)}", ts=frame.ts)


def room_line(info: RoomInfo) -> str:
    """One room of ``/rooms``: name, members, whether we are in it or may join, topic."""
    members = "1 member" if info.members == 1 else f"{info.members} members"
    state = "you are in it" if info.member else ("open to you" if info.may_join else "")
    parts = [visible(info.name), members, state, visible(info.topic) if info.topic else ""]
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
    }
)


def _error(frame: Error, *, code: bool = True) -> Fragments:
    if not code and frame.code in USER_ERRORS:
        return notice(f"!! {visible(frame.message)}", style="class:error")
    return notice(f"!! {visible(frame.code)}: {visible(frame.message)}", style="class:error")


def _bye(frame: Bye) -> Fragments:
    return notice(f"-- the server ended the session: {visible(frame.reason or '')}")


def welcome_lines(frame: Welcome) -> list[Fragments]:
    """Who we are and who is here; then the message of the day, if any."""
    lines = [
        notice(
            f"-- joined as {visible(frame.name)}; {frame.users_online} online: {user_list(frame)}"
        )
    ]
    if frame.motd:
        lines.append(notice(f"-- motd: {visible(frame.motd)}"))
    if frame.rooms:
        rooms = ", ".join(visible(info.name) for info in frame.rooms)
        lines.append(notice(f"-- your rooms: {rooms}"))
    return lines


_NOTICES: dict[type[Frame], Callable[[Any], Fragments]] = {
    Join: _join,
    Leave: _leave,
    Users: _users,
    Gap: _gap,
    Bye: _bye,
    Joined: _joined,
    Parted: _parted,
    Topic: _topic,
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

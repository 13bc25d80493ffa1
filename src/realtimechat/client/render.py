"""Turn server frames into the lines a person reads.

Every string that came from the network goes through ``visible`` here,
once, whatever the client mode: nothing a peer sends can drive the
terminal.
"""

from __future__ import annotations

from datetime import datetime

from ..protocol import (
    Bye,
    Error,
    Frame,
    Gap,
    Join,
    Leave,
    Msg,
    Users,
    Welcome,
    parse_ts,
)
from ..sanitize import visible


def clock(ts: str) -> str:
    """``HH:MM`` in local time for an RFC 3339 ``ts`` (``--:--`` if unreadable)."""
    moment = parse_ts(ts)
    if moment is None:
        return "--:--"
    return moment.astimezone().strftime("%H:%M")


def now_clock() -> str:
    return datetime.now().strftime("%H:%M")


def message_line(msg: Msg) -> str:
    """``HH:MM name: text``, ``HH:MM * name text`` for /me, arrows for private."""
    who = visible(msg.from_)
    if msg.to is not None:
        who = f"{who} -> {visible(msg.to)}"
    text = visible(msg.text)
    if msg.action == "me":
        return f"{clock(msg.ts)} * {who} {text}"
    return f"{clock(msg.ts)} {who}: {text}"


def user_list(users: Users | Welcome) -> str:
    names = ", ".join(visible(user.name) for user in users.users or ())
    more = users.next if isinstance(users, Users) else users.users_next
    return names + (", ... (/who for more)" if more else "")


def notice_line(frame: Frame) -> str | None:
    """The line for a non-message event, or None for frames not shown."""
    match frame:
        case Join():
            return f"{clock(frame.ts)} -- {visible(frame.name)} joined"
        case Leave():
            reason = f" ({visible(frame.reason)})" if frame.reason else ""
            return f"{clock(frame.ts)} -- {visible(frame.name)} left{reason}"
        case Users():
            return f"{now_clock()} -- online: {user_list(frame)}"
        case Gap():
            return (
                f"{now_clock()} -- missed {frame.missed} message"
                f"{'' if frame.missed == 1 else 's'} (ids {frame.from_id}-{frame.to_id})"
            )
        case Error():
            return f"{now_clock()} !! {visible(frame.code)}: {visible(frame.message)}"
        case Bye():
            return f"{now_clock()} -- the server ended the session: {visible(frame.reason or '')}"
        case Welcome():
            return (
                f"{now_clock()} -- joined as {visible(frame.name)}; "
                f"{frame.users_online} online: {user_list(frame)}"
            )
    return None


def event_line(frame: Frame) -> str | None:
    if isinstance(frame, Msg):
        return message_line(frame)
    return notice_line(frame)

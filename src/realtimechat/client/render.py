"""Turn server frames into the lines a person reads.

Every string that came from the network goes through ``visible`` here,
once, whatever the client mode: nothing a peer sends can drive the
terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

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


def _join(frame: Join) -> str:
    return f"{clock(frame.ts)} -- {visible(frame.name)} joined"


def _leave(frame: Leave) -> str:
    reason = f" ({visible(frame.reason)})" if frame.reason else ""
    return f"{clock(frame.ts)} -- {visible(frame.name)} left{reason}"


def _users(frame: Users) -> str:
    return f"{now_clock()} -- online: {user_list(frame)}"


def _gap(frame: Gap) -> str:
    plural = "" if frame.missed == 1 else "s"
    ids = f"ids {frame.from_id}-{frame.to_id}"
    return f"{now_clock()} -- missed {frame.missed} message{plural} ({ids})"


def _error(frame: Error) -> str:
    return f"{now_clock()} !! {visible(frame.code)}: {visible(frame.message)}"


def _bye(frame: Bye) -> str:
    return f"{now_clock()} -- the server ended the session: {visible(frame.reason or '')}"


def _welcome(frame: Welcome) -> str:
    return (
        f"{now_clock()} -- joined as {visible(frame.name)}; "
        f"{frame.users_online} online: {user_list(frame)}"
    )


_NOTICES: dict[type[Frame], Callable[[Any], str]] = {
    Join: _join,
    Leave: _leave,
    Users: _users,
    Gap: _gap,
    Error: _error,
    Bye: _bye,
    Welcome: _welcome,
}


def notice_line(frame: Frame) -> str | None:
    """The line for a non-message event, or None for frames not shown (ack, pong, ...)."""
    render = _NOTICES.get(type(frame))
    return render(frame) if render is not None else None


def event_line(frame: Frame) -> str | None:
    if isinstance(frame, Msg):
        return message_line(frame)
    return notice_line(frame)

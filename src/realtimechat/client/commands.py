"""What a line the user typed means: a message, or a ``/command``.

Shared by the plain and the interactive client, so ``/me``, ``//text``
and friends behave the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..moderation import MAX_MOTD_CHARS, MAX_REASON_CHARS, parse_duration
from ..protocol import DEFAULT_ROOM, Announce, Ban, Kick, Mute, SetMotd, Unban, Unmute
from ..rooms import room_problem

# Every command: what it takes and what it does. Also what Tab completes.
COMMANDS: Final = {
    "/help": ("", "this list"),
    "/who": ("[#ROOM]", "who is online (in #ROOM: its members)"),
    "/whois": ("NAME", "NAME's certificate fingerprint and since when NAME is online"),
    "/me": ("TEXT", "an action: * alice waves"),
    "/msg": ("NAME TEXT", "a private message, sealed for NAME (kept for NAME if offline)"),
    "/msg!": ("NAME TEXT", "a private message in the clear, for a NAME it cannot be sealed to"),
    "/join": ("#ROOM", "join a room (made if new) and type into it"),
    "/part": ("[#ROOM]", "leave a room (this one if none is named)"),
    "/go": ("#ROOM|lobby", "type into another room (Alt-Left/Right, Ctrl-P/N)"),
    "/rooms": ("", "the rooms you may join"),
    "/topic": ("[#ROOM] [TEXT]", "this room's topic; with TEXT, set it (--clear clears)"),
    "/ignore": ("NAME", "hide NAME's messages (on this client only)"),
    "/unignore": ("NAME", "show them again"),
    "/clear": ("", "clear the screen"),
    "/reconnect": ("", "while reconnecting: try now (Enter on an empty line too)"),
    "/motd": ("[TEXT]", "the message of the day; operators: set it (--clear clears)"),
    "/kick": ("NAME [REASON]", "operators: disconnect NAME (no automatic reconnect)"),
    "/mute": ("NAME TIME [REASON]", "operators: refuse NAME's messages for TIME (10m, 2h)"),
    "/unmute": ("NAME", "operators: end NAME's mute"),
    "/ban": ("NAME TIME [REASON]", "operators: keep NAME's certificate out for TIME (7d)"),
    "/unban": ("NAME", "operators: end NAME's ban"),
    "/announce": ("TEXT", "operators: a notice to everyone online"),
    "/quit": ("", "leave (Ctrl-D too)"),
}
HELP_COLUMN: Final = 16  # where /help's descriptions start


def help_lines(usage: str, text: str) -> tuple[str, ...]:
    """``/who [#ROOM]      who is online``; a usage too long for the column gets a line of
    its own, so that every description starts in the same column."""
    if len(usage) < HELP_COLUMN:
        return (f"{usage:<{HELP_COLUMN}} {text}",)
    return (usage, f"{'':<{HELP_COLUMN}} {text}")


HELP_LINES: Final = (
    *(
        line
        for name, (args, text) in COMMANDS.items()
        for line in help_lines(f"{name} {args}".strip(), text)
    ),
    *help_lines("//text", "send a line that starts with /"),
    *help_lines("", "TIME: 30s, 10m, 2h, 7d, 1w or 1h30m, at most 365d"),
)
# The interactive client's keys, shown after HELP_LINES there.
KEY_HELP_LINES: Final = (
    *help_lines("Alt-Left/Right", "type into the previous/next room (Ctrl-P/Ctrl-N too)"),
    *help_lines("Ctrl-C", "clear the line typed; on an empty line, leave (as /quit)"),
    *help_lines("Ctrl-D", "on an empty line, leave (as /quit)"),
)


@dataclass(frozen=True, slots=True)
class Say:
    """Send ``text`` (to everyone, or privately ``to`` one name)."""

    text: str
    action: str | None = None
    to: str | None = None
    clear: bool = False  # /msg!: a private message not sealed (protocol.md 6.9)


@dataclass(frozen=True, slots=True)
class AskWho:
    """``/who`` (everyone online), or ``/who #ROOM`` (the room's members)."""

    room: str | None = None


@dataclass(frozen=True, slots=True)
class WhoIs:
    name: str


@dataclass(frozen=True, slots=True)
class Ignore:
    name: str
    ignore: bool = True  # False: /unignore


@dataclass(frozen=True, slots=True)
class JoinRoomCmd:
    room: str


@dataclass(frozen=True, slots=True)
class PartRoomCmd:
    room: str | None = None  # None: the room typed into


@dataclass(frozen=True, slots=True)
class GoTo:
    room: str | None  # None: the lobby


@dataclass(frozen=True, slots=True)
class ListRoomsCmd:
    pass


@dataclass(frozen=True, slots=True)
class TopicCmd:
    text: str | None = None  # None: show it; "": clear it
    room: str | None = None  # None: the room typed into (operators: any room)


OperatorFrame = Kick | Mute | Unmute | Ban | Unban | SetMotd | Announce


@dataclass(frozen=True, slots=True)
class OperatorCmd:
    """An operator's request, sent as it is (protocol.md 6.7); ``/motd`` alone is anyone's."""

    frame: OperatorFrame


@dataclass(frozen=True, slots=True)
class Clear:
    pass


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class Reconnect:
    pass


@dataclass(frozen=True, slots=True)
class Unknown:
    """A ``/command`` we do not know, or one used wrongly (``problem`` says how).

    ``code``: ``unknown_command`` or ``usage`` (what ``--json`` reports).
    """

    problem: str
    code: str = "usage"


Command = (
    Say
    | AskWho
    | WhoIs
    | Ignore
    | Clear
    | Quit
    | ShowHelp
    | Reconnect
    | Unknown
    | JoinRoomCmd
    | PartRoomCmd
    | GoTo
    | ListRoomsCmd
    | TopicCmd
    | OperatorCmd
)

_SIMPLE: Final[dict[str, Command]] = {
    "quit": Quit(),
    "exit": Quit(),
    "q": Quit(),
    "help": ShowHelp(),
    "?": ShowHelp(),
    "clear": Clear(),
    "rooms": ListRoomsCmd(),
    "reconnect": Reconnect(),
}


def parse_line(line: str) -> Command | None:
    """The command a typed line stands for; None for a blank line."""
    if not line.strip():
        return None
    if not line.startswith("/") or line.startswith("//"):
        return Say(line[1:] if line.startswith("//") else line)
    word, _, rest = line[1:].partition(" ")
    word = word.lower()
    simple = _SIMPLE.get(word)
    if simple is not None:
        return simple
    parse = _WITH_ARGUMENTS.get(word)
    if parse is None:
        return Unknown(f"unknown command /{word} (try /help)", "unknown_command")
    return parse(rest)


def _me(rest: str) -> Command:
    return Say(rest, action="me") if rest.strip() else Unknown("usage: /me TEXT")


def _msg(rest: str) -> Command:
    name, _, text = rest.strip().partition(" ")
    return Say(text, to=name) if name and text.strip() else Unknown("usage: /msg NAME TEXT")


def _msg_clear(rest: str) -> Command:
    name, _, text = rest.strip().partition(" ")
    if not (name and text.strip()):
        return Unknown("usage: /msg! NAME TEXT")
    return Say(text, to=name, clear=True)


def _one_name(command: str, make: Callable[[str], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        name = rest.strip()
        return make(name) if name and " " not in name else Unknown(f"usage: /{command} NAME")

    return parse


def _room_argument(command: str, rest: str) -> str | Unknown:
    """The room a command names, or why it is no room name (before anything is sent)."""
    room = rest.strip()
    if not room or " " in room:
        return Unknown(f"usage: /{command} #ROOM")
    problem = room_problem(room)
    return Unknown(problem) if problem is not None else room


def _join(rest: str) -> Command:
    room = _room_argument("join", rest)
    return room if isinstance(room, Unknown) else JoinRoomCmd(room)


def _part(rest: str) -> Command:
    if not rest.strip():
        return PartRoomCmd()
    if rest.strip().lower() == DEFAULT_ROOM:
        return Unknown("everyone is in the lobby, always: /part #ROOM leaves a room")
    room = _room_argument("part", rest)
    return room if isinstance(room, Unknown) else PartRoomCmd(room)


def _go(rest: str) -> Command:
    if rest.strip().lower() == DEFAULT_ROOM:
        return GoTo(None)
    room = _room_argument("go", rest)
    return room if isinstance(room, Unknown) else GoTo(room)


def _who(rest: str) -> Command:
    if not rest.strip():
        return AskWho()
    room = _room_argument("who", rest)
    return room if isinstance(room, Unknown) else AskWho(room)


def _topic(rest: str) -> Command:
    text = rest.strip()
    room = None
    first, _, after = text.partition(" ")
    if first.startswith("#") and room_problem(first) is None:  # /topic #ROOM [TEXT]
        room, text = first, after.strip()
    if not text:
        return TopicCmd(room=room)
    return TopicCmd("" if text == "--clear" else text, room)


def _too_long(what: str, text: str | None, most: int) -> Unknown | None:
    """Said here rather than sent: the server's ``bad_field`` would count toward the
    errors that end the session (protocol.md 12), and speaks of fields."""
    if text is not None and len(text) > most:
        return Unknown(f"{what} has at most {most} characters, not {len(text)}")
    return None


def _with_reason(command: str, rest: str) -> tuple[str, str | None] | Unknown:
    name, _, reason = rest.strip().partition(" ")
    if not name:
        return Unknown(f"usage: /{command} NAME [REASON]")
    return _too_long("a reason", reason.strip(), MAX_REASON_CHARS) or (name, reason.strip() or None)


def _kick(rest: str) -> Command:
    parsed = _with_reason("kick", rest)
    return parsed if isinstance(parsed, Unknown) else OperatorCmd(Kick(*parsed))


def _timed(command: str, make: type[Mute | Ban]) -> Callable[[str], Command]:
    """``/mute`` and ``/ban``: NAME TIME [REASON], TIME checked before anything is sent."""

    def parse(rest: str) -> Command:
        name, _, more = rest.strip().partition(" ")
        duration, _, reason = more.strip().partition(" ")
        if not name or not duration:
            return Unknown(f"usage: /{command} NAME TIME [REASON] (TIME: 10m, 2h, 7d)")
        try:
            seconds = parse_duration(duration)
        except ValueError as exc:
            return Unknown(str(exc))
        too_long = _too_long("a reason", reason.strip(), MAX_REASON_CHARS)
        return too_long or OperatorCmd(
            make(name=name, seconds=seconds, reason=reason.strip() or None)
        )

    return parse


def _motd(rest: str) -> Command:
    text = rest.strip()
    if not text:
        return OperatorCmd(SetMotd())
    too_long = _too_long("the message of the day", text, MAX_MOTD_CHARS)
    return too_long or OperatorCmd(SetMotd("" if text == "--clear" else text))


def _announce(rest: str) -> Command:
    return OperatorCmd(Announce(rest.strip())) if rest.strip() else Unknown("usage: /announce TEXT")


_WITH_ARGUMENTS: Final[dict[str, Callable[[str], Command]]] = {
    "me": _me,
    "msg": _msg,
    "msg!": _msg_clear,
    "join": _join,
    "part": _part,
    "go": _go,
    "topic": _topic,
    "who": _who,
    "whois": _one_name("whois", WhoIs),
    "ignore": _one_name("ignore", Ignore),
    "unignore": _one_name("unignore", lambda name: Ignore(name, ignore=False)),
    "kick": _kick,
    "mute": _timed("mute", Mute),
    "ban": _timed("ban", Ban),
    "unmute": _one_name("unmute", lambda name: OperatorCmd(Unmute(name))),
    "unban": _one_name("unban", lambda name: OperatorCmd(Unban(name))),
    "motd": _motd,
    "announce": _announce,
}

"""What a line the user typed means: a message, or a ``/command``.

Shared by the plain and the interactive client, so ``/me``, ``//text``
and friends behave the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Every command: what it takes and what it does. Also what Tab completes.
COMMANDS: Final = {
    "/help": ("", "this list"),
    "/who": ("", "who is online"),
    "/whois": ("NAME", "NAME's certificate fingerprint and since when NAME is online"),
    "/me": ("TEXT", "an action: * alice waves"),
    "/msg": ("NAME TEXT", "a private message (kept for NAME if offline)"),
    "/ignore": ("NAME", "hide NAME's messages (on this client only)"),
    "/unignore": ("NAME", "show them again"),
    "/clear": ("", "clear the screen"),
    "/reconnect": ("", "while reconnecting: try now (Enter on an empty line too)"),
    "/quit": ("", "leave (Ctrl-D too)"),
}
HELP_LINES: Final = (
    *(f"{f'{name} {args}'.strip():<16} {text}" for name, (args, text) in COMMANDS.items()),
    f"{'//text':<16} send a line that starts with /",
)
# The interactive client's keys, shown after HELP_LINES there.
KEY_HELP_LINES: Final = (
    f"{'Ctrl-C':<16} clear the line typed; on an empty line, leave (as /quit)",
    f"{'Ctrl-D':<16} on an empty line, leave (as /quit)",
)


@dataclass(frozen=True, slots=True)
class Say:
    """Send ``text`` (to everyone, or privately ``to`` one name)."""

    text: str
    action: str | None = None
    to: str | None = None


@dataclass(frozen=True, slots=True)
class AskWho:
    pass


@dataclass(frozen=True, slots=True)
class WhoIs:
    name: str


@dataclass(frozen=True, slots=True)
class Ignore:
    name: str
    ignore: bool = True  # False: /unignore


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


Command = Say | AskWho | WhoIs | Ignore | Clear | Quit | ShowHelp | Reconnect | Unknown

_SIMPLE: Final[dict[str, Command]] = {
    "quit": Quit(),
    "exit": Quit(),
    "q": Quit(),
    "who": AskWho(),
    "help": ShowHelp(),
    "?": ShowHelp(),
    "clear": Clear(),
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


def _one_name(command: str, make: Callable[[str], Command]) -> Callable[[str], Command]:
    def parse(rest: str) -> Command:
        name = rest.strip()
        return make(name) if name and " " not in name else Unknown(f"usage: /{command} NAME")

    return parse


_WITH_ARGUMENTS: Final[dict[str, Callable[[str], Command]]] = {
    "me": _me,
    "msg": _msg,
    "whois": _one_name("whois", WhoIs),
    "ignore": _one_name("ignore", Ignore),
    "unignore": _one_name("unignore", lambda name: Ignore(name, ignore=False)),
}

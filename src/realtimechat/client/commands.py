"""What a line the user typed means: a message, or a ``/command``.

Shared by the plain and the interactive client, so ``/me``, ``//text``
and friends behave the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass

HELP_TEXT = (
    "commands: /who (who is online), /me TEXT (an action), /msg NAME TEXT (private), "
    "/quit (leave), /help; start a line with // to send a literal /"
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
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class Unknown:
    """A ``/command`` we do not know, or one used wrongly (``problem`` says how)."""

    problem: str


Command = Say | AskWho | Quit | ShowHelp | Unknown


_SIMPLE: dict[str, Command] = {
    "quit": Quit(),
    "exit": Quit(),
    "q": Quit(),
    "who": AskWho(),
    "help": ShowHelp(),
    "?": ShowHelp(),
}


def parse_line(line: str) -> Command | None:
    """The command a typed line stands for; None for a blank line."""
    if not line.strip():
        return None
    if not line.startswith("/") or line.startswith("//"):
        return Say(line[1:] if line.startswith("//") else line)
    word, _, rest = line[1:].partition(" ")
    word = word.lower()
    if word in _SIMPLE:
        return _SIMPLE[word]
    if word == "me":
        return Say(rest, action="me") if rest.strip() else Unknown("usage: /me TEXT")
    if word == "msg":
        name, _, text = rest.strip().partition(" ")
        return Say(text, to=name) if name and text.strip() else Unknown("usage: /msg NAME TEXT")
    return Unknown(f"unknown command /{word} (try /help)")

"""Room names: what a valid one is and when two are the same room.

A room name is ``#`` followed by 1 to 50 letters, digits, ``-``, ``_`` or
``.`` (after NFKC normalisation, so the full-width form of ``#ops`` is ``#ops``).
Two names are the same room when their keys are equal: the server's own name
folding (``names.name_key``: NFKC, then case folding), so ``#Ops`` and
``#ops`` are one room. ``lobby`` is not a room name: it is the room every
session is in, named by ``DEFAULT_ROOM`` or by no ``room`` at all.

Group names (``group:NAME`` in a room file, ``urn:rtchat:group:NAME`` in a
certificate) follow the same rules without the ``#``.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from .names import name_key
from .protocol import DEFAULT_ROOM

ROOM_PREFIX: Final = "#"
MAX_ROOM_NAME_CHARS: Final = 50  # after the '#'
MAX_GROUP_CHARS: Final = 50
_PUNCTUATION: Final = frozenset("-_.")
RULE: Final = f"# followed by 1-{MAX_ROOM_NAME_CHARS} letters, digits, '-', '_' or '.'"


def _word_problem(word: str, most: int, what: str) -> str | None:
    """Why ``word`` cannot be the part of a room or group name after its prefix."""
    if not word:
        return f"a {what} needs at least one character"
    if len(word) > most:
        return f"a {what} has at most {most} characters"
    for char in word:
        if char in _PUNCTUATION:
            continue
        category = unicodedata.category(char)
        if not (category.startswith("L") or category == "Nd"):
            return f"a {what} has only letters, digits, '-', '_' and '.' (not U+{ord(char):04X})"
    return None


def room_problem(room: str) -> str | None:
    """Why ``room`` is not a room name (``RULE``), or None if it is one."""
    normal = unicodedata.normalize("NFKC", room)
    if not normal.startswith(ROOM_PREFIX):
        return f"{room!r} is not a room name: a room name is {RULE}"
    return _word_problem(normal[len(ROOM_PREFIX) :], MAX_ROOM_NAME_CHARS, "room name after '#'")


def room_name(room: str) -> str:
    """The form a valid room name is shown in: its NFKC form, case kept."""
    return unicodedata.normalize("NFKC", room)


def room_key(room: str) -> str:
    """The form two room names are compared in (the server's name folding)."""
    return name_key(room)


def is_lobby(room: str | None) -> bool:
    """Whether a frame's ``room`` names the lobby: absent, or exactly ``lobby``."""
    return room is None or room == DEFAULT_ROOM


def group_problem(group: str) -> str | None:
    """Why ``group`` cannot be a certificate group, or None if it can."""
    return _word_problem(unicodedata.normalize("NFKC", group), MAX_GROUP_CHARS, "group name")


def group_key(group: str) -> str:
    """Groups compare as names do: ``Ops`` and ``ops`` are one group."""
    return name_key(group)

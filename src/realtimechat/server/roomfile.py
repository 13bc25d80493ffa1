"""The room file (``--rooms FILE``): rooms that exist by the operator's word, and who may enter.

A TOML file with one table per room::

    [rooms."#ops"]
    allow = ["group:ops", "alice"]      # who may enter: names, groups, or "*"
    topic = "on call this week: bob"    # optional: the topic while nobody has set one

    [rooms."#announce"]
    allow = ["*"]                       # anyone: a public room that always exists

An entry of ``allow`` is a chat name (the identity that owns that name,
docs/protocol.md 5.3), ``group:NAME`` (a client certificate carrying that
group, issued by a trusted CA: ``rtchat-certs issue NAME --group ops``), or
``*`` (everyone). A room whose ``allow`` does not hold ``*`` is *private*:
only those it names may join it, see it in ``rooms`` or read it.

The file is read at start and again on SIGHUP or when it changes on disk,
with the certificate files (``ChatServer.reload_tls``); a file that cannot be
read keeps the previous rules. Nothing here does I/O but ``RoomFile.load``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError
from ..names import name_key, name_problem
from ..rooms import group_key, group_problem, room_key, room_name, room_problem
from .identity import PeerIdentity

EVERYONE: Final = "*"
GROUP_PREFIX: Final = "group:"


@dataclass(frozen=True, slots=True)
class Access:
    """Who may enter one room: everyone, or the names and groups listed."""

    everyone: bool = False
    names: frozenset[str] = frozenset()  # name keys
    groups: frozenset[str] = frozenset()  # group keys

    @property
    def private(self) -> bool:
        return not self.everyone

    def admits(self, identity: PeerIdentity, owns: Callable[[str], bool]) -> bool:
        """Whether ``identity`` may enter; ``owns(name_key)`` says if it owns a name."""
        if self.everyone:
            return True
        if self.groups & identity.groups:
            return True
        return any(owns(key) for key in self.names)

    @classmethod
    def parse(cls, entries: object, where: str) -> Access:
        """An ``allow`` list; ConfigError naming ``where`` if it is not one."""
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ConfigError(f"{where}: 'allow' must be a list of names, 'group:NAME' or '*'")
        everyone = False
        names: set[str] = set()
        groups: set[str] = set()
        for entry in entries:
            if entry == EVERYONE:
                everyone = True
            elif entry.startswith(GROUP_PREFIX):
                group = entry[len(GROUP_PREFIX) :]
                problem = group_problem(group)
                if problem is not None:
                    raise ConfigError(f"{where}: {entry!r}: {problem}")
                groups.add(group_key(group))
            else:
                problem = name_problem(entry)
                if problem is not None:
                    raise ConfigError(f"{where}: {entry!r} is not a name: {problem}")
                names.add(name_key(entry))
        return cls(everyone, frozenset(names), frozenset(groups))


@dataclass(frozen=True, slots=True)
class FileRoom:
    """One room of the room file."""

    key: str
    name: str
    access: Access
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class RoomFile:
    """Every room of the room file, by key (none without ``--rooms``)."""

    rooms: Mapping[str, FileRoom] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path, max_topic_chars: int) -> RoomFile:
        """Read and check ``path``; ConfigError (with the file's name) if it cannot be used."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the room file {path}: {exc}") from None
        return cls(_parse_rooms(document, str(path), max_topic_chars), path)

    def describe(self) -> str:
        """What is in force, for the log at start and on reload."""
        private = sum(1 for room in self.rooms.values() if room.access.private)
        return f"{len(self.rooms)} rooms in {self.path} ({private} private)"


def _parse_rooms(document: Mapping[str, Any], where: str, max_topic: int) -> dict[str, FileRoom]:
    unknown = set(document) - {"rooms"}
    if unknown:
        first = sorted(unknown)[0]
        raise ConfigError(f'{where}: unknown table {first!r} (expected [rooms."#name"])')
    tables = document.get("rooms", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{where}: 'rooms' must be a table of rooms")
    rooms: dict[str, FileRoom] = {}
    for name, table in tables.items():
        here = f"{where}: room {name!r}"
        problem = room_problem(name)
        if problem is not None:
            raise ConfigError(f"{here}: {problem}")
        if not isinstance(table, dict):
            raise ConfigError(f"{here} must be a table with 'allow'")
        extra = set(table) - {"allow", "topic"}
        if extra:
            raise ConfigError(f"{here}: unknown key {sorted(extra)[0]!r} (allow, topic)")
        if "allow" not in table:
            raise ConfigError(f"{here}: 'allow' is missing (use [\"*\"] for everyone)")
        topic = table.get("topic")
        if topic is not None and (not isinstance(topic, str) or len(topic) > max_topic):
            raise ConfigError(f"{here}: 'topic' must be text of at most {max_topic} characters")
        key = room_key(name)
        if key in rooms:
            raise ConfigError(f"{here} is the same room as {rooms[key].name!r}")
        access = Access.parse(table["allow"], here)
        rooms[key] = FileRoom(key, room_name(name), access, topic or None)
    return rooms

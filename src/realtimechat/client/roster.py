"""Who the client knows of: for the status line, ``/whois`` and Tab.

The server tells us who is online in ``welcome``, then ``join`` and
``leave`` (unless the room is too large for them), and in ``users`` pages
when asked. ``Roster`` keeps that picture, plus every name seen at all,
and runs ``/whois`` lookups across ``users`` pages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..names import name_key, shown
from ..protocol import UserInfo, Users, Welcome
from ..sanitize import visible
from .render import clock


@dataclass(frozen=True, slots=True)
class WhoisStep:
    """What a ``users`` page meant for a running ``/whois``."""

    answer: str | None = None  # the line to show, when the lookup is over
    ask_after: str | None = None  # otherwise: the cursor of the next page to ask for


class Roster:
    """Names online (as far as we were told), names ever seen, a /whois in progress."""

    def __init__(self) -> None:
        self.online = 0
        self.known: dict[str, str] = {}  # name key -> name, everyone seen this run
        self._whois: str | None = None

    def welcome(self, welcome: Welcome) -> None:
        self.online = welcome.users_online
        self._learn(user.name for user in welcome.users or ())

    def joined(self, name: str) -> None:
        self.online += 1
        self._learn([name])

    def left(self) -> None:
        self.online = max(0, self.online - 1)

    def spoke(self, name: str) -> None:
        self._learn([name])

    def names(self) -> list[str]:
        """Every name seen, in a stable order (what Tab offers)."""
        return sorted(self.known.values(), key=name_key)

    def start_whois(self, name: str) -> None:
        self._whois = name

    @property
    def looking_up(self) -> bool:
        return self._whois is not None

    def users(self, page: Users) -> WhoisStep | None:
        """A ``users`` page arrived; None when no /whois is running."""
        self._learn(user.name for user in page.users)
        wanted = self._whois
        if wanted is None:
            return None
        found = next((u for u in page.users if name_key(u.name) == name_key(wanted)), None)
        if found is None and page.next is not None:
            return WhoisStep(ask_after=page.next)
        self._whois = None
        if found is None:
            return WhoisStep(answer=f"-- {shown(wanted)} is not online")
        return WhoisStep(answer=_describe(found))

    def _learn(self, names: Iterable[str]) -> None:
        for name in names:
            self.known.setdefault(name_key(name), name)


def _describe(user: UserInfo) -> str:
    return (
        f"-- {shown(user.name)}: certificate fingerprint {visible(user.fp)}, "
        f"online since {clock(user.online_since)}"
    )

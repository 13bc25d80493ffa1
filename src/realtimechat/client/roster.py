"""Who the client knows of: for the status line, ``/who``, ``/whois`` and Tab.

The server tells us who is online in ``welcome``, then ``join`` and
``leave`` (unless the room is too large for them), and in ``users`` pages
when asked. ``Roster`` keeps that picture, plus every name seen at all,
and runs the ``/who`` and ``/whois`` asked for: one ``who`` out at a time,
in the order typed, so each ``users`` page answers the one asked first. A
question asked before the ``welcome`` or while reconnecting waits for the
connection (``connected`` asks the one under way again from its start).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..names import name_key
from ..protocol import Users, Welcome, Who
from .events import Online, WhoisAnswer


class Roster:
    """Names online (as far as we were told), names ever seen, the questions asked."""

    def __init__(self) -> None:
        self.online = 0
        self.known: dict[str, str] = {}  # name key -> name, everyone seen this run
        self._asked: deque[str | None] = deque()  # None: /who; a name: /whois NAME
        self._out = False  # a ``who`` for the first question is out

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

    def ask(self, whois: str | None) -> None:
        """``/who`` (None) or ``/whois NAME``: answered after those asked before."""
        self._asked.append(whois)

    @property
    def asking(self) -> bool:
        """Whether a question is still unanswered."""
        return bool(self._asked)

    def connected(self) -> None:
        """A new connection: the question under way is asked again from its first page."""
        self._out = False

    def next_request(self) -> Who | None:
        """The ``who`` to send now for the first question, or None (none, or one is out)."""
        if self._out or not self._asked:
            return None
        self._out = True
        return Who()

    def users(self, page: Users) -> tuple[Online | WhoisAnswer | None, Who | None]:
        """A ``users`` page arrived: what to show, and the next page to ask for, if any."""
        self._learn(user.name for user in page.users)
        if not self._out or not self._asked:
            return Online(page), None  # nobody asked: shown as it is
        wanted = self._asked[0]
        if wanted is None:
            self._done()
            return Online(page), None
        found = next((u for u in page.users if name_key(u.name) == name_key(wanted)), None)
        if found is None and page.next is not None:
            return None, Who(cursor=page.next)
        self._done()
        return WhoisAnswer(wanted, found), None

    def _done(self) -> None:
        self._asked.popleft()
        self._out = False

    def _learn(self, names: Iterable[str]) -> None:
        for name in names:
            self.known.setdefault(name_key(name), name)

"""Message history: ids, and what ``history`` and resume can replay.

``MemoryHistory`` keeps the last ``capacity`` messages in memory: enough
for ``hello {since}`` after a short disconnect and for a slow consumer to
fetch what its ``gap`` said it missed. It forgets everything at exit; a
durable store sits behind the same methods.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..names import name_key
from ..protocol import Msg


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages after some id, as one reader may see them."""

    messages: list[Msg]
    more: bool  # further visible messages exist beyond this page
    first_kept: int  # lowest id still stored (0 when nothing is stored)


def visible_to(msg: Msg, reader_key: str) -> bool:
    """Private messages are visible only to their two parties."""
    if msg.to is None:
        return True
    return reader_key in (name_key(msg.from_), name_key(msg.to))


class MemoryHistory:
    """The last ``capacity`` messages; ids start at 1 and never repeat."""

    def __init__(self, capacity: int) -> None:
        self._messages: deque[Msg] = deque(maxlen=max(capacity, 0))
        self.last_id = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def append(self, msg: Msg) -> None:
        if self._messages.maxlen:
            self._messages.append(msg)

    def after(self, since: int, limit: int, reader_key: str) -> HistoryPage:
        """Up to ``limit`` visible messages with id > ``since``, oldest first."""
        first_kept = self._messages[0].id if self._messages else 0
        page: list[Msg] = []
        more = False
        # Ids increase along the deque, so skip from the right end when the
        # reader is nearly up to date (the common resume case).
        start = self._index_after(since)
        for index in range(start, len(self._messages)):
            msg = self._messages[index]
            if not visible_to(msg, reader_key):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(msg)
        return HistoryPage(page, more, first_kept)

    def _index_after(self, since: int) -> int:
        messages = self._messages
        low, high = 0, len(messages)
        while low < high:
            middle = (low + high) // 2
            if messages[middle].id <= since:
                low = middle + 1
            else:
                high = middle
        return low

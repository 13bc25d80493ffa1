"""Which message ids a client still misses, and what to ask for next.

Sans-I/O: ``Chat`` feeds it the frames that matter and sends the
``history {since}`` requests it returns.

A ``gap`` adds a range of missing ids. One ``history`` request is out at a
time. When its reply ends (``history_end``), every missing id the reply
covered but did not bring is given up -- it is a private message for
someone else, or no longer stored -- while ids dropped *during* the reply
(another ``gap``, because we still read too slowly) stay missing and are
asked for again. Each round brings at least what fits in our queue, so
the fill always ends.

Right after a (re)connect the server replays what we missed and ends with
its own ``history_end``; requests wait until that one has been seen, so
the two replies are never confused.
"""

from __future__ import annotations

from typing import Final

INFINITY: Final = 2**63


class GapFiller:
    """Missing id ranges and the one history request that fetches them."""

    def __init__(self) -> None:
        self.missing: list[tuple[int, int]] = []  # inclusive, sorted, disjoint
        self.asking: int | None = None  # ``since`` of the request out now
        self._reply_max = 0  # highest replayed id seen in its reply
        self._during: list[tuple[int, int]] = []  # gaps that arrived during the reply
        self._join_replay = True  # the server's own replay after welcome is running

    @property
    def in_join_replay(self) -> bool:
        """The replay that follows ``welcome`` has not ended yet."""
        return self._join_replay

    def connected(self) -> None:
        """A new connection: its replay comes first; pending requests are void."""
        self.asking = None
        self._during = []
        self._join_replay = True

    def gap(self, first: int, last: int) -> int | None:
        """A ``gap`` arrived; returns the ``since`` to request now, if any."""
        if self.asking is not None:
            self._during.append((first, last))
            return None
        self.missing = _merge([*self.missing, (first, last)])
        return self._next()

    def received(self, msg_id: int, *, replay: bool) -> None:
        """A message arrived (shown or not): it is no longer missing."""
        if replay and self.asking is not None:
            self._reply_max = max(self._reply_max, msg_id)
        if self.missing:
            self.missing = _remove(self.missing, msg_id)

    def end(self, *, more: bool) -> int | None:
        """A ``history_end`` arrived; returns the ``since`` to request next, if any."""
        if self._join_replay:
            self._join_replay = False
            return self._next()
        if self.asking is None:
            return None
        covered_to = self._reply_max if more else INFINITY
        kept = _cut(self.missing, self.asking + 1, covered_to)
        self.missing = _merge(kept + self._during)
        self._during = []
        self.asking = None
        return self._next()

    def _next(self) -> int | None:
        if self._join_replay or self.asking is not None or not self.missing:
            return None
        self.asking = self.missing[0][0] - 1
        self._reply_max = self.asking
        return self.asking


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _cut(ranges: list[tuple[int, int]], low: int, high: int) -> list[tuple[int, int]]:
    """``ranges`` without the ids from ``low`` to ``high``."""
    out = []
    for first, last in ranges:
        if last < low or first > high:
            out.append((first, last))
            continue
        if first < low:
            out.append((first, low - 1))
        if last > high:
            out.append((high + 1, last))
    return out


def _remove(ranges: list[tuple[int, int]], msg_id: int) -> list[tuple[int, int]]:
    return _cut(ranges, msg_id, msg_id)

"""``refused`` lines that a flood cannot multiply: one per source and reason, then a count.

A TCP connect+RST loop made the server log 4,995 ``refused`` lines a
second (about 1.9 GB an hour), and a client without a certificate 1,100
(issue 16). Here, in each interval, the first refusal of a (source, reason)
is logged in full as before (``refused peer=ADDR:PORT reason=...``); the
ones after it are only counted, and at the end of the interval each count
becomes one line, ``refused peer=SOURCE reason=... times=N``. At most
``max_keys`` (source, reason) pairs are tallied per interval; refusals
beyond them are counted per reason under ``peer=others``. So an interval
writes at most about 2 * max_keys lines, whatever comes in.

Time is passed in (``now``): the caller owns the clock, and the tests
step it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Final

from .audit import log_event

OTHERS: Final = "others"  # the peer of a tally for sources past max_keys
_OTHER_REASONS: Final = "(other reasons)"  # past max_keys reasons as well


class RefusalLog:
    """Logs refusals, collapsing repeats per source and reason into one counted line."""

    def __init__(self, logger: logging.Logger, *, interval: float, max_keys: int) -> None:
        self._log = logger
        self._interval = interval
        self._max_keys = max_keys
        self._ends = float("-inf")  # when the current interval ends
        self._tallies: dict[tuple[str, str], int] = {}  # logged once: repeats since
        self._others: Counter[str] = Counter()  # refusals past max_keys, by reason

    def refused(self, now: float, *, peer: str, source: str, reason: str, **fields: Any) -> None:
        """One refusal of ``peer`` (from ``source``): logged, or counted for later."""
        if now >= self._ends:
            self.flush()
            self._ends = now + self._interval
        key = (source, reason)
        if key in self._tallies:
            self._tallies[key] += 1
        elif len(self._tallies) < self._max_keys:
            self._tallies[key] = 0
            log_event(self._log, logging.WARNING, "refused", peer=peer, reason=reason, **fields)
        elif reason in self._others or len(self._others) < self._max_keys:
            self._others[reason] += 1
        else:
            self._others[_OTHER_REASONS] += 1

    def flush(self) -> None:
        """Write the counts of the interval (one line each) and start afresh."""
        for (source, reason), times in self._tallies.items():
            if times:
                log_event(
                    self._log, logging.WARNING, "refused", peer=source, reason=reason, times=times
                )
        for reason, times in self._others.items():
            log_event(
                self._log, logging.WARNING, "refused", peer=OTHERS, reason=reason, times=times
            )
        self._tallies.clear()
        self._others.clear()

    def due(self, now: float) -> bool:
        """Whether the interval is over and counts are waiting to be written."""
        return now >= self._ends and (any(self._tallies.values()) or bool(self._others))

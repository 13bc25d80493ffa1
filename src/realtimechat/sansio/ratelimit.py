"""A token bucket per session: how fast one client may ask us for work.

Each ``msg``, ``who`` and ``history`` costs a token; tokens come back at
``rate`` per second up to ``burst``. A request without a token is refused
with ``error rate_limited`` (and its ``ref``) and costs nothing else. A
client that keeps going after ``flood_limit`` refusals in a row is ending
its own session (``bye flooding``). ``rate`` 0 turns the limit off.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second; 0 means unlimited
    burst: float
    tokens: float = 0.0
    stamp: float = 0.0
    refused_in_a_row: int = 0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> bool:
        """Spend a token if there is one (``now`` is the loop's clock)."""
        if self.rate <= 0:
            return True
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False

"""Token buckets: how fast a client, or an identity, may ask us for work.

Each ``msg``, ``who`` and ``history`` costs a token of the session's own
bucket and one of its identity's, shared by all the sessions of one
certificate (``server/budgets.py`` keeps those); tokens come back at
``rate`` per second up to ``burst``. A request without a token is refused
with ``error rate_limited`` (and its ``ref``) and costs nothing else. A
client that keeps going after ``flood_limit`` refusals in a row is ending
its own session (``bye flooding``). ``rate`` 0 turns a bucket off.

The same bucket measures other things by ``cost``: the bytes of message
text an identity has stored, the announcements of its presence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second; 0 means unlimited
    burst: float
    tokens: float = 0.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are as many (``now`` is the loop's clock).

        A cost above the burst is taken when the bucket is full, and the
        debt it leaves is paid back at ``rate``: a message larger than an
        identity's byte burst still goes, once it has been quiet a while.
        """
        if self.rate <= 0:
            return True
        self._refill(now)
        if self.tokens >= cost or self.tokens >= self.burst:
            self.tokens -= cost
            return True
        return False

    def spend(self, now: float, cost: float = 1.0) -> None:
        """Spend ``cost`` tokens whatever is there (the bucket may go into debt)."""
        self._refill(now)
        self.tokens -= cost

    def refund(self, cost: float = 1.0) -> None:
        """Give back what ``take`` took for something that did not happen after all."""
        self.tokens = min(self.burst, self.tokens + cost)

    def full(self, now: float) -> bool:
        """Whether the bucket is as if it had never been used (it may then be forgotten)."""
        if self.rate <= 0:
            return True
        self._refill(now)
        return self.tokens >= self.burst

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``take(cost)`` would succeed (0: now)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return max(0.0, (min(cost, self.burst) - self.tokens) / self.rate)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

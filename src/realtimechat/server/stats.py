"""What the server counts for its metrics: plain numbers, kept where things happen.

The hot path pays an integer addition, never a lock or a call into a
metrics library: the hub adds a batch's deliveries in one step per run, the
committer times a batch once. ``metrics.py`` reads these numbers (and the
server's state) only when ``/metrics`` is scraped. Nothing here does I/O.

Every label value is from a small, fixed vocabulary (``handshake_label``,
``close_label``, the rate limits), so no peer can make the number of time
series grow.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ..protocol import ByeReason

# Store commit latency (seconds) and batch sizes (messages): the upper
# bounds of the histogram buckets. A commit is an fsync (durability full)
# on a thread: from about 0.1 ms on tmpfs to tens of ms on a slow disk.
COMMIT_SECONDS_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
BATCH_SIZE_BUCKETS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)


@dataclass(slots=True)
class Histogram:
    """Observations counted into fixed buckets (``bounds``: their upper bounds, ascending)."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; +Inf last
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """The buckets as Prometheus writes them: (upper bound, observations up to it)."""
        out = []
        running = 0
        for bound, count in zip([*map(repr, self.bounds), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


# The refusals before or during TLS (server/app.py, server/tlsconn.py,
# tls.describe_handshake_error), as metric labels: the log keeps the words
# and the address, the metric a bounded vocabulary. Matched by prefix.
_HANDSHAKE_LABELS: Final = (
    ("no client certificate", "no_client_certificate"),
    ("the server requires a client certificate", "no_client_certificate"),
    ("certificate verify failed: unable to get local issuer", "unknown_issuer"),
    ("certificate verify failed: certificate has expired", "certificate_expired"),
    ("certificate verify failed: certificate is not yet valid", "certificate_not_yet_valid"),
    ("certificate verify failed", "certificate_invalid"),
    ("handshake timed out", "handshake_timeout"),
    ("no ClientHello within", "first_byte_timeout"),
    ("shed to make room", "shed"),
    ("not a TLS handshake", "not_tls"),
    ("an HTTP request", "not_tls"),
    ("TLS version too old", "tls_version"),
    ("no TLS version in common", "tls_version"),
    ("no cipher in common", "no_shared_cipher"),
    ("no signature algorithm in common", "no_shared_cipher"),
    ("peer closed the connection", "peer_closed"),
    ("too many handshakes in progress from this source", "too_many_handshakes_per_source"),
    ("too many handshakes in progress", "too_many_handshakes"),
    ("too many connections from this source", "too_many_connections_per_source"),
    ("bad PROXY header", "bad_proxy_header"),
)
HANDSHAKE_OTHER: Final = "other"
HANDSHAKE_LABELS: Final = (
    *dict.fromkeys(label for _, label in _HANDSHAKE_LABELS),
    HANDSHAKE_OTHER,
)

# Why a connection past TLS ended: the leave reasons (ByeReason), which
# include the refusals after TLS (server_full, revoked, ...).
CLOSE_LABELS: Final = (*(reason.value for reason in ByeReason), HANDSHAKE_OTHER)
_CLOSE_KNOWN: Final = frozenset(CLOSE_LABELS)

RATE_LIMITS: Final = ("rate", "identity_rate", "identity_text_rate")


def handshake_label(reason: str) -> str:
    """The metric label of a refusal before or during TLS, from the words logged."""
    for prefix, label in _HANDSHAKE_LABELS:
        if reason.startswith(prefix):
            return label
    return HANDSHAKE_OTHER


def close_label(reason: str) -> str:
    """The metric label of why a session ended: its leave reason, or ``other``."""
    return reason if reason in _CLOSE_KNOWN else HANDSHAKE_OTHER


@dataclass(slots=True)
class ServerStats:
    """The server's counters since it started (metrics.py turns them into metrics)."""

    messages_in: int = 0  # msg frames accepted for storing (Hub.publish)
    messages_stored: int = 0  # new messages stored by this server (resends not again)
    delivered: int = 0  # msg frames fanned out to sessions (live, echoes included)
    commit_failures: int = 0  # batches the store failed to commit
    commit_seconds: Histogram = field(default_factory=lambda: Histogram(COMMIT_SECONDS_BUCKETS))
    batch_messages: Histogram = field(default_factory=lambda: Histogram(BATCH_SIZE_BUCKETS))
    # Public messages fanned out, per room name as stored (None: the lobby).
    # At most Limits.max_rooms + 1 keys; metrics.py labels only some of them.
    room_messages: Counter[str | None] = field(default_factory=Counter)
    handshakes_refused: Counter[str] = field(default_factory=Counter)  # by handshake_label
    closed: Counter[str] = field(default_factory=Counter)  # sessions ended, by close_label
    rate_limited: Counter[str] = field(default_factory=Counter)  # requests refused, by limit

    def refused_handshake(self, reason: str) -> None:
        self.handshakes_refused[handshake_label(reason)] += 1

    def session_closed(self, reason: str) -> None:
        self.closed[close_label(reason)] += 1

    def committed(self, messages: int, seconds: float) -> None:
        """One batch of ``messages`` was stored, ``seconds`` after it was handed to the store."""
        self.commit_seconds.observe(seconds)
        self.batch_messages.observe(messages)

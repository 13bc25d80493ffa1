"""What the coordinating process and its worker processes say to each other over a pipe.

The coordinator sends a command to every worker and waits for one reply
from each; while a command runs, workers also send ``Progress`` about once
a second. A worker that cannot go on answers ``Failed`` instead. All times
are ``time.monotonic_ns()`` values: one clock for every process of a machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ExitCode

Kind = Literal["fanout", "rate", "broadcast"]
ErrorKey = tuple[str, str]
"""One kind of error: a short machine code (the protocol's error code or bye reason, or
the tool's own, such as ``connection_lost``) and the sentence the user reads."""


# -- commands --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Get certificates and TLS contexts ready for this worker's clients."""


@dataclass(frozen=True, slots=True)
class ConnectFirst:
    """Connect client 0 alone (worker 0): a target that is not there fails fast and clearly."""


@dataclass(frozen=True, slots=True)
class ConnectRest:
    """Connect every other client of this worker, within its share of the concurrency."""


@dataclass(frozen=True, slots=True)
class Start:
    """Send messages from ``t0`` until ``t_end``; the measurement window is [``w0``, ``w1``).

    Then wait (until ``settle_until`` at most) for the server to have
    answered everything sent, so that the refusals counted in ``Sent`` are all of them.
    """

    kind: Kind
    t0: int
    w0: int
    w1: int
    t_end: int
    settle_until: int
    publishers: int = 0  # fanout: clients 0 .. publishers-1 publish
    window: int = 0  # fanout: messages in flight per publisher
    rate: float = 0.0  # rate: messages per second per client (rooms too)


@dataclass(frozen=True, slots=True)
class Drain:
    """Wait (at most ``timeout`` s) until every live client received ``expected`` messages.

    ``by_room`` (the rooms scenario): a client of room ``n`` expects
    ``by_room[n]`` instead, the messages accepted from its room's members.
    """

    expected: int
    timeout: float
    by_room: dict[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Say bye on every connection and exit."""


Command = Prepare | ConnectFirst | ConnectRest | Start | Drain | Close


# -- replies -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    """Certificates and contexts are ready."""

    clients: int


@dataclass(frozen=True, slots=True)
class Connected:
    """How connecting went: timings of the clients that got in, reasons of those that did not."""

    ok: int
    failures: dict[ErrorKey, int]
    # (connect started, TLS handshake done, welcome received) per client that got in
    timings: list[tuple[int, int, int]]
    first_error: str | None = None  # ConnectFirst: why client 0 failed
    first_exit_code: int = int(ExitCode.ERROR)


@dataclass(frozen=True, slots=True)
class Sent:
    """What this worker's clients sent (``in_window``: sent or scheduled inside the window).

    ``refused``: how many of them the server refused (``rate_limited``);
    ``refused_in_window``: those refusals that arrived inside the window.
    """

    sent: int
    in_window: int
    refused: int = 0
    refused_in_window: int = 0
    accepted_by_room: dict[int, int] = field(default_factory=dict)  # rooms: room -> accepted


@dataclass(frozen=True, slots=True)
class Outcome:
    """What this worker's clients received, and everything that went wrong."""

    delivered: int
    delivered_in_window: int
    complete: int  # live clients that received everything expected
    live: int
    latency_histogram: dict[int, int]  # microsecond bucket -> deliveries (see wire.latency_bucket)
    latency_max_ns: int | None
    latency_capped: bool
    errors: dict[ErrorKey, int] = field(default_factory=dict)
    expected: int = 0  # what this worker's clients that got in were to receive, together
    gap_missed: int = 0
    stalls: int = 0
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Closed:
    """Every connection is closed; the worker exits."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Running totals, sent about once a second while a command runs."""

    connected: int
    sent: int
    delivered: int
    errors: int


@dataclass(frozen=True, slots=True)
class Failed:
    """The worker cannot go on (bad certificates, deadline, a bug): one line for the user."""

    message: str
    exit_code: int = int(ExitCode.ERROR)


Reply = Prepared | Connected | Sent | Outcome | Closed | Progress | Failed

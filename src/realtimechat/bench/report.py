"""What a run found: the figures, percentiles, the table for people and JSON for machines."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .redisstats import RedisFigures

QUANTILES = (0.5, 0.9, 0.99)
_MS_DIGITS = 3  # whole microseconds: the latency histogram's own resolution


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles and maximum, in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float


@dataclass(slots=True)
class ServerFigures:
    """What /proc says about a server the tool started itself (``--spawn``)."""

    pid: int  # the first server's
    count: int = 1  # servers spawned (--servers): CPU % and RSS are their sums
    cpu_percent: float | None = None  # over the measurement window (connect: while connecting)
    rss_kib: int | None = None  # at the end of the window (connect: rss_after_kib)
    rss_before_kib: int | None = None  # connect: before the first connection
    rss_after_kib: int | None = None  # connect: with ``connections_open`` connections open
    connections_open: int | None = None  # connect: when rss_after_kib was read
    rss_per_connection_kib: float | None = None  # connect: the growth over connections_open


@dataclass(slots=True)
class Report:
    """Everything one run measured; ``to_json`` is the ``--json`` output."""

    scenario: str
    run_id: str
    target: str
    spawned: bool
    clients: int
    connected: int
    workers: int
    loop: str  # the workers' event loop: asyncio or uvloop
    size: int
    warmup_s: float = 0.0
    duration_s: float = 0.0
    publishers: int | None = None
    window: int | None = None
    rate_per_client: float | None = None
    rooms: int | None = None  # rooms: how many the clients were spread over
    sent: int = 0  # messages written, accepted or not
    accepted: int = 0  # sent minus refused: what every client should receive
    refused: int = 0  # refused by the server (rate_limited): expected nowhere
    sent_in_window: int = 0
    msgs_in_per_s: float | None = None  # accepted in the window, per second
    delivered: int = 0
    expected: int = 0
    delivered_ratio: float | None = None
    clients_complete: int = 0  # clients that received every message sent
    clients_alive: int = 0  # connections still open at the end
    delivered_in_window: int = 0
    deliveries_per_s: float | None = None
    latency_ms: Latency | None = None
    latency_samples_capped: bool = False
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)  # by the sentence people read
    error_codes: dict[str, int] = field(default_factory=dict)  # the same, by machine code
    connect_failures: dict[str, int] = field(default_factory=dict)
    connect_failure_codes: dict[str, int] = field(default_factory=dict)
    gaps_missed: int = 0
    window_stalls: int = 0
    connections_lost: int = 0
    handshakes_per_s: float | None = None
    ready_per_s: float | None = None
    handshake_ms: Latency | None = None
    ready_ms: Latency | None = None
    server: ServerFigures | None = None
    redis: RedisFigures | None = None  # --redis: what that Redis did in the window
    tool_cpu_percent: float | None = None

    @property
    def complete(self) -> bool:
        """Every expected delivery arrived, exactly once."""
        return self.expected > 0 and self.delivered == self.expected

    @property
    def clean(self) -> bool:
        """Every client connected, every expected delivery arrived, and nothing went wrong.

        Anything less exits 7: a run whose figures are fine but that had
        refusals or errors measured a server that was not doing all it was asked.
        """
        return self.complete and self.connected == self.clients and self.errors == 0

    def add_errors(self, kinds: Mapping[tuple[str, str], int]) -> None:
        """Count errors keyed by (code, sentence) in ``error_kinds`` and ``error_codes``."""
        _add_kinds(self.error_kinds, self.error_codes, kinds)

    def add_connect_failures(self, kinds: Mapping[tuple[str, str], int]) -> None:
        """Count failed connects keyed by (code, sentence)."""
        _add_kinds(self.connect_failures, self.connect_failure_codes, kinds)

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False)


def _add_kinds(
    by_text: dict[str, int], by_code: dict[str, int], kinds: Mapping[tuple[str, str], int]
) -> None:
    for (code, text), count in kinds.items():
        by_text[text] = by_text.get(text, 0) + count
        by_code[code] = by_code.get(code, 0) + count


def histogram_percentiles(histogram: Mapping[int, int], quantiles: Sequence[float]) -> list[int]:
    """For each quantile, the smallest bucket that many of the samples do not exceed."""
    total = sum(histogram.values())
    buckets = sorted(histogram.items())
    out = []
    for quantile in quantiles:
        target = quantile * total
        seen = 0
        chosen = buckets[-1][0]
        for bucket, count in buckets:
            seen += count
            if seen >= target:
                chosen = bucket
                break
        out.append(chosen)
    return out


def latency_from_histogram(histogram: Mapping[int, int], max_ns: int) -> Latency | None:
    """Percentiles of microsecond buckets, with the exact maximum; None without samples."""
    if not histogram:
        return None
    p50, p90, p99 = histogram_percentiles(histogram, QUANTILES)
    return Latency(p50=p50 / 1000, p90=p90 / 1000, p99=p99 / 1000, max=_ns_to_ms(max_ns))


def latency_from_samples(samples_ns: Iterable[int]) -> Latency | None:
    """Exact percentiles (nearest rank) of a list of durations in ns; None when empty."""
    ordered = sorted(samples_ns)
    if not ordered:
        return None

    def rank(quantile: float) -> float:
        index = max(0, math.ceil(round(quantile * len(ordered), 9)) - 1)
        return _ns_to_ms(ordered[index])

    return Latency(p50=rank(0.5), p90=rank(0.9), p99=rank(0.99), max=_ns_to_ms(ordered[-1]))


def _ns_to_ms(nanoseconds: int) -> float:
    """Nanoseconds as milliseconds, rounded like every figure in the report."""
    return round(nanoseconds / 1e6, _MS_DIGITS)


# -- the table ---------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _ratio(report: Report) -> str:
    """delivered/expected with 4 decimals, never rounded to 1.0000 when it is not exactly 1."""
    ratio = report.delivered_ratio
    if ratio is None:
        return "-"
    if report.delivered == report.expected:
        return "1.0000"
    shown = math.floor(ratio * 10_000) if ratio < 1 else math.ceil(ratio * 10_000)
    return f"{shown / 10_000:.4f}"


def _server_cells(report: Report) -> list[tuple[str, str]]:
    if report.server is None:
        return []
    server = report.server
    rss = server.rss_after_kib if server.rss_after_kib is not None else server.rss_kib
    cells = [
        ("server CPU %", _number(server.cpu_percent, 1)),
        ("server RSS MiB", _number(None if rss is None else rss / 1024, 1)),
    ]
    if report.scenario == "connect":
        cells.append(("KiB/conn", _number(server.rss_per_connection_kib, 1)))
    return cells


def _columns(report: Report) -> list[tuple[str, str]]:
    """(header, value) pairs of the table's one row."""
    clients = (
        f"{report.connected:,}"
        if report.connected == report.clients
        else f"{report.connected:,}/{report.clients:,}"
    )
    if report.scenario == "connect":
        latency = report.ready_ms
        cells = [
            ("scenario", report.scenario),
            ("connections", clients),
            ("handshakes/s", _number(report.handshakes_per_s)),
            ("ready/s", _number(report.ready_per_s)),
            ("ready p50 ms", _ms(latency.p50 if latency else None)),
            ("p90 ms", _ms(latency.p90 if latency else None)),
            ("p99 ms", _ms(latency.p99 if latency else None)),
            ("max ms", _ms(latency.max if latency else None)),
        ]
    else:
        latency = report.latency_ms
        cells = [
            ("scenario", report.scenario),
            ("clients", clients),
            ("deliveries/s", _number(report.deliveries_per_s)),
            ("msgs in/s", _number(report.msgs_in_per_s)),
            ("p50 ms", _ms(latency.p50 if latency else None)),
            ("p90 ms", _ms(latency.p90 if latency else None)),
            ("p99 ms", _ms(latency.p99 if latency else None)),
            ("max ms", _ms(latency.max if latency else None)),
        ]
    cells += [("delivered/expected", _ratio(report)), ("errors", f"{report.errors:,}")]
    return cells + _server_cells(report)


def table(report: Report) -> str:
    """The aligned two-line table, then notes: what was expected, errors, CPU."""
    cells = _columns(report)
    widths = [max(len(header), len(value)) for header, value in cells]
    header = "  ".join(
        h.rjust(w) if i else h.ljust(w)
        for i, ((h, _), w) in enumerate(zip(cells, widths, strict=True))
    )
    row = "  ".join(
        v.rjust(w) if i else v.ljust(w)
        for i, ((_, v), w) in enumerate(zip(cells, widths, strict=True))
    )
    return "\n".join([header.rstrip(), row.rstrip(), *notes(report)])


def notes(report: Report) -> list[str]:
    """The lines under the table."""
    lines = [""]
    if report.scenario == "connect":
        lines.append(
            f"{report.connected:,} of {report.clients:,} connections ready; then one broadcast: "
            f"delivered {report.delivered:,} of {report.expected:,} expected"
        )
    else:
        lines.append(
            f"window {report.duration_s:g} s after {report.warmup_s:g} s warm-up; "
            f"messages of {report.size} bytes; delivered {report.delivered:,} of "
            f"{report.expected:,} expected ({_what_was_sent(report)})"
        )
    if report.server is not None and report.scenario == "connect":
        server = report.server
        lines.append(
            f"server RSS {_number(_mib(server.rss_before_kib), 1)} MiB before, "
            f"{_number(_mib(server.rss_after_kib), 1)} MiB with {_number(server.connections_open)} "
            f"connection{'' if server.connections_open == 1 else 's'} open "
            f"(CPU % while connecting)"
        )
    if report.server is not None and report.server.count > 1:
        lines.append(
            f"{report.server.count} servers on one Redis, the clients spread round robin: "
            "server CPU % and RSS are their sums"
        )
    lines += _redis_lines(report.redis)
    if report.tool_cpu_percent is not None:
        lines.append(
            f"tool CPU {report.tool_cpu_percent:.0f} % of one core, {report.workers} worker "
            f"process{'es' if report.workers != 1 else ''} on {report.loop}"
        )
        if _machine_was_full(report):
            lines.append(
                "the CPUs were nearly all in use: these figures may show the tool's limit "
                "or the machine's, not only the server's"
            )
    if report.latency_samples_capped:
        lines.append("latency: too many deliveries to keep every sample; the first ones were used")
    lines += _error_lines(report)
    return lines


def _redis_lines(redis: RedisFigures | None) -> list[str]:
    """Redis's work in the window, per message in (``--redis``)."""
    if redis is None:
        return []
    return [
        f"Redis, per message in the window ({redis.messages:,}): "
        f"{_number(redis.cpu_us_per_msg, 2)} CPU-us, "
        f"{_number(redis.publish_calls_per_msg, 4)} append scripts (publish round trips), "
        f"{_number(redis.follow_calls_per_msg, 4)} XREADs (all followers)"
    ]


def _what_was_sent(report: Report) -> str:
    """Where ``expected`` comes from: each accepted message goes to every connected client
    (rooms: to every connected member of its room)."""
    each = f"each to {report.connected:,} client{'s' if report.connected != 1 else ''}"
    if report.rooms:
        each = f"each to the members of its room ({report.rooms:,} rooms)"
    if not report.refused:
        return f"{report.sent:,} sent, {each}"
    return (
        f"{report.accepted:,} accepted of {report.sent:,} sent, {each}; "
        f"{report.refused:,} refused by the server"
    )


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def _machine_was_full(report: Report) -> bool:
    """Each worker near one core, or tool and server together near every core."""
    tool = report.tool_cpu_percent or 0.0
    server = report.server.cpu_percent if report.server is not None else None
    cores = os.cpu_count() or 1
    return tool >= 90 * report.workers or tool + (server or 0.0) >= 90 * cores


def _error_lines(report: Report) -> list[str]:
    lines = []
    for text, count in sorted(report.connect_failures.items(), key=lambda item: -item[1]):
        lines.append(f"could not connect ({count:,}x): {text}")
    for text, count in sorted(report.error_kinds.items(), key=lambda item: -item[1]):
        lines.append(f"error ({count:,}x): {text}")
    if report.gaps_missed:
        lines.append(f"the server dropped {report.gaps_missed:,} deliveries (gap frames)")
    if report.window_stalls:
        lines.append(
            f"{report.window_stalls:,} window stalls: a publisher's echoes did not come back "
            "within 1 s"
        )
    return lines

"""The four scenarios, run by the coordinating process.

``fanout``: every client receives; clients 0 .. P-1 publish, each keeping
``window`` messages in flight (its own echoes free the room), one message
per write. ``rate``: every client sends R messages a second on a fixed
schedule, stamped with the scheduled time. ``rooms``: the same, with client
``i`` in room ``#bench{i % rooms}``: it joins it, sends to it and receives
only its messages. ``connect``: open N connections with C handshakes at a
time, then one broadcast that must reach all of them.

A run: start the server (``--spawn``), start the workers, issue or load
certificates, connect client 0 alone (a target that is not there fails
here, once), connect the rest, send from ``t0`` to ``t_end`` (the window
[``w0``, ``w1``) follows the warm-up), then wait until every client has
every message sent (or ``drain`` seconds), and count.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic_ns
from typing import Final, Literal

from ..client.connection import Endpoint
from .certs import CertSource, IssueFrom, check_ca_dir, existing_clients
from .errors import BenchError, Interrupted
from .messages import (
    Connected,
    ConnectFirst,
    ConnectRest,
    Drain,
    Outcome,
    Prepare,
    Prepared,
    Sent,
    Start,
)
from .pool import WorkerPool
from .progress import ProgressLine
from .redisstats import RedisFigures, RedisSample, RedisWatch, figures
from .report import Report, ServerFigures, latency_from_histogram, latency_from_samples
from .spawn import SERVER_CN, CpuMeter, SpawnedServer, Store, make_pki, rss_kib
from .wire import new_run_id
from .worker import WorkerPlan

Scenario = Literal["fanout", "rate", "rooms", "connect"]
_START_DELAY_NS: Final = 300_000_000  # from the order to send until t0: every worker has it


@dataclass(frozen=True, slots=True)
class Target:
    """Which server, and where the client certificates come from."""

    host: str = "127.0.0.1"
    port: int = 0
    cn: str = SERVER_CN
    ca_dir: Path | None = None  # issue throwaway certificates from this CA folder
    pki: Path | None = None  # use the existing clients of this folder
    spawn: bool = False  # start our own rtchat-server
    server_args: tuple[str, ...] = ()
    store: Store = field(default_factory=Store)  # where the spawned servers keep the conversation
    servers: int = 1  # how many to spawn (more than one only on one Redis)


@dataclass(frozen=True, slots=True)
class Load:
    """What to do to the server, and every bound on it."""

    scenario: Scenario
    clients: int
    workers: int = 2
    size: int = 100
    signed: bool = False  # messages carry signature fields (wire.SIGNATURE)
    concurrency: int = 50
    connect_timeout: float = 30.0
    publishers: int = 5
    window: int = 64
    rate: float = 10.0
    rooms: int = 0  # rooms: the number of rooms the clients are spread over
    warmup: float = 2.0
    duration: float = 10.0
    drain: float = 10.0
    timeout: float = 300.0
    name_prefix: str = "bench"
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None  # None: asyncio's


def run(target: Target, load: Load, progress: ProgressLine) -> Report:
    """Carry out one run and report it; BenchError (or another RtchatError) if it cannot.

    Ctrl-C becomes ``Interrupted``, raised once the workers and the spawned
    server (if one was started) are stopped.
    """
    spawned: list[SpawnedServer] = []
    try:
        return _run(target, load, progress, spawned)
    except KeyboardInterrupt:
        raise Interrupted(server_stopped=bool(spawned)) from None
    finally:
        progress.clear()


def _run(
    target: Target, load: Load, progress: ProgressLine, spawned: list[SpawnedServer]
) -> Report:
    """``run``; every server it starts is added to ``spawned`` (and stopped at the end)."""
    deadline = monotonic_ns() + int(load.timeout * 1e9)
    run_id = new_run_id()
    with (
        tempfile.TemporaryDirectory(prefix="rtchat-bench-") as temp,
        contextlib.ExitStack() as stack,
    ):
        endpoints, source, servers = _open_target(
            target,
            load,
            folder=Path(temp),
            stack=stack,
            progress=progress,
            deadline=deadline,
            spawned=spawned,
        )
        plans = make_plans(
            load, endpoints=endpoints, source=source, run_id=run_id, deadline=deadline
        )
        server = servers[0] if servers else None
        rss_before = _rss(servers)
        pool = stack.enter_context(WorkerPool(plans, deadline))
        report = Report(
            scenario=load.scenario,
            run_id=run_id,
            target=", ".join(map(str, endpoints)) + (" (spawned)" if server is not None else ""),
            spawned=server is not None,
            clients=load.clients,
            connected=0,
            workers=len(plans),
            loop="asyncio" if load.loop_factory is None else load.loop_factory.__module__,
            size=load.size,
        )
        watch = RedisWatch(target.store.redis_url) if target.store.redis_url and servers else None
        if watch is not None:
            stack.callback(watch.close)
        session = _Session(load, pool, progress, servers, watch)
        if server is not None:
            report.server = ServerFigures(pid=server.pid, count=len(servers))
        if load.scenario == "connect":
            if report.server is not None:
                report.server.rss_before_kib = rss_before
            session.connect_scenario(report)
        else:
            session.message_scenario(report)
        for stopped in (one for one in servers if one.process.poll() is not None):
            report.add_errors(
                {
                    (
                        "server_exited",
                        f"the spawned server exited during the run "
                        f"(code {stopped.process.returncode}): {stopped.last_log_line()}",
                    ): 1
                }
            )
        report.errors = sum(report.error_kinds.values()) + sum(report.connect_failures.values())
        progress.show("closing connections ...")
    return report


def _open_target(
    target: Target,
    load: Load,
    *,
    folder: Path,
    stack: contextlib.ExitStack,
    progress: ProgressLine,
    deadline: int,
    spawned: list[SpawnedServer],
) -> tuple[list[Endpoint], CertSource, list[SpawnedServer]]:
    """Where to connect and with which certificates; starts the servers for ``--spawn``.

    Each server goes into ``spawned`` (and its stop onto ``stack``) as soon as
    its process exists, so that a Ctrl-C while it starts is reported right.
    All are started before any is waited for: they start side by side.
    """
    if target.spawn:
        progress.show("starting rtchat-server ...")
        ca_dir = make_pki(folder)
        for index in range(target.servers):
            server = SpawnedServer.launch(ca_dir, folder, target.server_args, target.store, index)
            stack.callback(server.stop)
            spawned.append(server)
        for server in spawned:
            server.wait_until_listening(deadline / 1e9)
        endpoints = [Endpoint(host="127.0.0.1", port=one.port, cn=SERVER_CN) for one in spawned]
        return endpoints, IssueFrom(ca_dir, folder / "issued", load.name_prefix), list(spawned)
    endpoint = Endpoint(host=target.host, port=target.port, cn=target.cn)
    if target.ca_dir is not None:
        check_ca_dir(target.ca_dir)
        return [endpoint], IssueFrom(target.ca_dir, folder / "issued", load.name_prefix), []
    if target.pki is None:
        raise BenchError("no target: --spawn, --ca-dir or --pki")
    return [endpoint], existing_clients(target.pki), []


def _rss(servers: Sequence[SpawnedServer]) -> int | None:
    """The servers' resident memory together, in KiB (None if any cannot be read)."""
    sizes = [rss_kib(server.pid) for server in servers]
    known = [size for size in sizes if size is not None]
    return sum(known) if known and len(known) == len(sizes) else None


def make_plans(
    load: Load, *, endpoints: Sequence[Endpoint], source: CertSource, run_id: str, deadline: int
) -> list[WorkerPlan]:
    """Split the clients (index ``i`` goes to worker ``i % workers``, and connects to
    ``endpoints[i % len(endpoints)]``) and the concurrency."""
    workers = max(1, min(load.workers, load.clients))
    return [
        WorkerPlan(
            worker=worker,
            indices=tuple(range(worker, load.clients, workers)),
            endpoints=tuple(endpoints),
            certs=source,
            run_id=run_id,
            size=load.size,
            signed=load.signed,
            concurrency=max(1, load.concurrency // workers + (worker < load.concurrency % workers)),
            connect_timeout=load.connect_timeout,
            deadline=deadline,
            loop_factory=load.loop_factory,
            rooms=load.rooms if load.scenario == "rooms" else 0,
        )
        for worker in range(workers)
    ]


class _Watch:
    """The pool's ticker: the progress line once a second, and actions at set moments."""

    def __init__(self, pool: WorkerPool, progress: ProgressLine) -> None:
        self.pool = pool
        self.progress = progress
        self.phase: Callable[[int], str] = lambda now: ""
        self._due: list[tuple[int, Callable[[], None]]] = []
        self._shown = 0
        self._last_delivered = 0

    def at(self, moment: int, action: Callable[[], None]) -> None:
        """Run ``action`` once the monotonic clock passes ``moment`` (ns)."""
        self._due.append((moment, action))
        self._due.sort(key=lambda item: item[0])

    def __call__(self) -> float:
        now = monotonic_ns()
        while self._due and self._due[0][0] <= now:
            self._due.pop(0)[1]()
        if now - self._shown >= 1_000_000_000:
            self._show(now)
        wake = self._shown + 1_000_000_000
        if self._due:
            wake = min(wake, self._due[0][0])
        return max(0.0, (wake - monotonic_ns()) / 1e9)

    def _show(self, now: int) -> None:
        totals = list(self.pool.progress.values())
        delivered = sum(item.delivered for item in totals)
        seconds = (now - self._shown) / 1e9 if self._shown else 0.0
        rate = (delivered - self._last_delivered) / seconds if seconds else 0.0
        parts = [
            self.phase(now),
            f"{sum(item.connected for item in totals):,} connected",
            f"{sum(item.sent for item in totals):,} sent",
            f"{rate:,.0f} deliveries/s",
            f"{sum(item.errors for item in totals):,} errors",
        ]
        self.progress.show(" | ".join(part for part in parts if part))
        self._shown = now
        self._last_delivered = delivered


class _Session:
    """One run's steps, shared by the scenarios."""

    def __init__(
        self,
        load: Load,
        pool: WorkerPool,
        progress: ProgressLine,
        servers: Sequence[SpawnedServer],
        redis: RedisWatch | None = None,
    ) -> None:
        self.load = load
        self.pool = pool
        self.watch = _Watch(pool, progress)
        self.servers = list(servers)
        self.server_cpu = CpuMeter([one.pid for one in servers]) if servers else None
        self.tool_cpu = CpuMeter([*pool.pids, os.getpid()])
        self.window_rss: int | None = None  # the servers', at the end of the window
        self.redis = redis
        self._redis_start: RedisSample | None = None
        self._redis_end: RedisSample | None = None

    def _begin_cpu(self) -> None:
        for meter in (self.server_cpu, self.tool_cpu):
            if meter is not None:
                meter.begin()
        if self.redis is not None:
            self._redis_start = self.redis.sample()

    def _end_cpu(self) -> None:
        for meter in (self.server_cpu, self.tool_cpu):
            if meter is not None:
                meter.end()
        if self.redis is not None:
            self._redis_end = self.redis.sample()

    def redis_figures(self, messages: int) -> RedisFigures | None:
        """What Redis did in the window, per message accepted then (``--redis``)."""
        if self._redis_start is None or self._redis_end is None:
            return None
        return figures(self._redis_start, self._redis_end, messages)

    def connect(
        self, report: Report, before_rest: Callable[[], None] = lambda: None
    ) -> list[tuple[int, int, int]]:
        """Certificates, client 0, then the rest; returns the timings of the rest."""
        self.watch.phase = lambda now: "preparing certificates"
        self.pool.ask(Prepare(), Prepared, self.watch)
        self.watch.phase = lambda now: "connecting"
        first = self.pool.ask(ConnectFirst(), Connected, self.watch)[0]
        if first.first_error is not None:
            raise BenchError(first.first_error, first.first_exit_code)
        before_rest()
        rest = self.pool.ask(ConnectRest(), Connected, self.watch)
        for reply in rest:
            report.add_connect_failures(reply.failures)
        report.connected = first.ok + sum(reply.ok for reply in rest)
        timings = [timing for reply in rest for timing in reply.timings]
        return timings or first.timings

    def message_scenario(self, report: Report) -> None:
        """fanout or rate: send for warm-up + duration, drain, count."""
        load = self.load
        self.connect(report)
        t0 = monotonic_ns() + _START_DELAY_NS
        w0 = t0 + int(load.warmup * 1e9)
        w1 = w0 + int(load.duration * 1e9)
        self.watch.at(w0, self._begin_cpu)
        self.watch.at(w1, self._end_window)
        self.watch.phase = lambda now: (
            f"warm-up {max(0, now - t0) / 1e9:.0f}/{load.warmup:g} s"
            if now < w0
            else f"{load.scenario} {min(now - w0, w1 - w0) / 1e9:.0f}/{load.duration:g} s"
        )
        start = Start(
            kind="fanout" if load.scenario == "fanout" else "rate",
            t0=t0,
            w0=w0,
            w1=w1,
            t_end=w1,
            settle_until=w1 + int(load.drain * 1e9),
            publishers=load.publishers,
            window=load.window,
            rate=load.rate,
        )
        report.warmup_s, report.duration_s = load.warmup, load.duration
        if load.scenario == "fanout":
            report.publishers, report.window = min(load.publishers, load.clients), load.window
        else:
            report.rate_per_client = load.rate
        if load.scenario == "rooms":
            report.rooms = load.rooms
        in_window = self._send_and_drain(report, start)
        report.redis = self.redis_figures(in_window)
        report.msgs_in_per_s = round(in_window / load.duration, 1)
        report.deliveries_per_s = round(report.delivered_in_window / load.duration, 1)

    def _send_and_drain(self, report: Report, start: Start) -> int:
        """Send, settle, drain until ``start.settle_until``, count; returns accepted in window.

        A message the server refused (``rate_limited``) reaches nobody, so
        every client expects only the accepted ones: the sent minus the
        refused, known once every sender has settled (``Worker._settle``).
        Settling and draining share the one --drain.
        """
        sent = self.pool.ask(start, Sent, self.watch)
        self.watch()  # the end-of-window samples, if the replies beat the tick
        report.sent = sum(item.sent for item in sent)
        report.refused = sum(item.refused for item in sent)
        report.accepted = report.sent - report.refused
        report.sent_in_window = sum(item.in_window for item in sent)
        self.watch.phase = lambda now: "draining"
        left = max(0.0, (start.settle_until - monotonic_ns()) / 1e9)
        by_room = None
        if self.load.scenario == "rooms":  # each room hears only its members
            by_room = Counter[int]()
            for item in sent:
                by_room.update(item.accepted_by_room)
        drain = Drain(report.accepted, left, dict(by_room) if by_room is not None else None)
        outcomes = self.pool.ask(drain, Outcome, self.watch)
        self._count(report, outcomes, report.accepted)
        return report.sent_in_window - sum(item.refused_in_window for item in sent)

    def _end_window(self) -> None:
        self._end_cpu()
        if self.servers:
            self.window_rss = _rss(self.servers)

    def connect_scenario(self, report: Report) -> None:
        """connect: handshakes and welcomes per second, memory per connection, one broadcast."""
        timings = self.connect(report, before_rest=self._begin_cpu)
        self._end_cpu()
        if timings:
            began = min(timing[0] for timing in timings)
            tls_done = max(timing[1] for timing in timings)
            ready = max(timing[2] for timing in timings)
            report.handshakes_per_s = round(len(timings) / max(tls_done - began, 1) * 1e9, 1)
            report.ready_per_s = round(len(timings) / max(ready - began, 1) * 1e9, 1)
            report.handshake_ms = latency_from_samples(t[1] - t[0] for t in timings)
            report.ready_ms = latency_from_samples(t[2] - t[0] for t in timings)
        self.watch.phase = lambda now: "broadcast"
        t0 = monotonic_ns() + _START_DELAY_NS
        until = t0 + int(self.load.drain * 1e9)
        start = Start(kind="broadcast", t0=t0, w0=t0, w1=until, t_end=t0, settle_until=until)
        self._send_and_drain(report, start)
        if self.servers and report.server is not None:
            _memory_per_connection(report.server, _rss(self.servers), report.clients_alive)

    def _count(self, report: Report, outcomes: Sequence[Outcome], per_client: int) -> None:
        """Merge what the workers received into ``report``."""
        report.delivered = sum(item.delivered for item in outcomes)
        report.delivered_in_window = sum(item.delivered_in_window for item in outcomes)
        report.clients_complete = sum(item.complete for item in outcomes)
        report.clients_alive = sum(item.live for item in outcomes)
        report.expected = (
            sum(item.expected for item in outcomes)
            if report.scenario == "rooms"
            else per_client * report.connected
        )
        report.delivered_ratio = report.delivered / report.expected if report.expected else None
        histogram: Counter[int] = Counter()
        for item in outcomes:
            histogram.update(item.latency_histogram)
        maxima = [item.latency_max_ns for item in outcomes if item.latency_max_ns is not None]
        report.latency_ms = latency_from_histogram(histogram, max(maxima)) if maxima else None
        report.latency_samples_capped = any(item.latency_capped for item in outcomes)
        for item in outcomes:
            report.add_errors(item.errors)
        report.gaps_missed = sum(item.gap_missed for item in outcomes)
        report.window_stalls = sum(item.stalls for item in outcomes)
        report.connections_lost = sum(item.lost for item in outcomes)
        report.tool_cpu_percent = self.tool_cpu.percent
        if report.server is not None and self.server_cpu is not None:
            report.server.cpu_percent = self.server_cpu.percent
            if report.scenario != "connect":
                report.server.rss_kib = self.window_rss


def _memory_per_connection(server: ServerFigures, rss_after: int | None, open_now: int) -> None:
    """The server's memory with ``open_now`` connections open, and its growth per connection.

    Per connection open when it was read: refused connections, and those
    lost since, hold nothing, and dividing by them would understate the cost.
    """
    server.rss_after_kib = server.rss_kib = rss_after
    server.connections_open = open_now
    if server.rss_before_kib is not None and rss_after is not None and open_now:
        server.rss_per_connection_kib = round((rss_after - server.rss_before_kib) / open_now, 1)

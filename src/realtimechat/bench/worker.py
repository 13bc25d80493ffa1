"""A worker process: one asyncio loop driving its share of the benchmark's clients.

The coordinator (``pool.WorkerPool``) starts the workers and sends them
commands (``messages``); each worker holds clients ``i`` with
``i % workers == worker``. Everything a worker does is bounded by the
run's deadline: past it, the worker closes its connections and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from time import monotonic_ns
from typing import Final

from ..client.connection import Endpoint
from ..errors import ClientError, RtchatError
from ..tls import client_context
from .certs import CertSource, IssueFrom, client_files
from .clients import RATE_ADVICE, BenchClient, Tally, close_all, failure_code, open_client
from .errors import DEADLINE_PASSED
from .messages import (
    Close,
    Closed,
    Command,
    Connected,
    ConnectFirst,
    ConnectRest,
    Drain,
    ErrorKey,
    Failed,
    Outcome,
    Prepare,
    Prepared,
    Progress,
    Reply,
    Sent,
    Start,
)
from .wire import Marker, latency_bucket

STALL_NS: Final = 1_000_000_000
"""A publisher whose window stays full this long assumes its echoes are lost and starts afresh."""
REFUSED_PAUSE_NS: Final = 1_000_000_000
"""A publisher the server refused (``rate_limited``) waits this long before it sends again, as
the bundled client does: refilling the window at once would meet refusal after refusal, and
the server ends a connection refused ``flood_limit`` (200) times in a row."""
_CLOSE_TIMEOUT: Final = 3.0
_MAX_ERROR_KINDS: Final = 20


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """Everything one worker needs to know, fixed before it starts."""

    worker: int
    indices: tuple[int, ...]  # the clients it drives
    endpoints: tuple[Endpoint, ...]  # client i connects to endpoints[i % len(endpoints)]
    certs: CertSource
    run_id: str
    size: int
    signed: bool
    concurrency: int  # handshakes this worker runs at once
    connect_timeout: float
    deadline: int  # monotonic ns: past this, give up
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None  # None: asyncio's
    rooms: int = 0  # the rooms scenario: client i is in room i % rooms (0: the lobby)


def worker_main(plan: WorkerPlan, pipe: Connection) -> None:
    """Process entry point: serve commands until ``Close``, the deadline or the pipe's end."""
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=plan.loop_factory) as runner,
    ):
        runner.run(Worker(plan, pipe).serve())


class Worker:
    """Runs the commands of one worker process on its event loop."""

    def __init__(self, plan: WorkerPlan, pipe: Connection) -> None:
        self.plan = plan
        self.pipe = pipe
        self.marker = Marker(plan.run_id, plan.size, signed=plan.signed)
        self.tally = Tally()
        self.contexts: dict[int, ssl.SSLContext] = {}
        self.clients: dict[int, BenchClient] = {}

    async def serve(self) -> None:
        """Answer commands one at a time; every reply goes back over the pipe."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Command] = asyncio.Queue()
        loop.add_reader(self.pipe.fileno(), self._receive, inbox)
        try:
            async with asyncio.timeout(max(0.0, (self.plan.deadline - monotonic_ns()) / 1e9)):
                while True:
                    command = await inbox.get()
                    if isinstance(command, Close):
                        await close_all(list(self.clients.values()), _CLOSE_TIMEOUT)
                        self._send(Closed())
                        return
                    self._send(await self._answer(command))
        except TimeoutError:
            self._send(Failed(DEADLINE_PASSED))
        finally:
            loop.remove_reader(self.pipe.fileno())
            for client in self.clients.values():
                if client.transport is not None:
                    client.transport.abort()

    def _receive(self, inbox: asyncio.Queue[Command]) -> None:
        """The pipe is readable: queue the command (a closed pipe means Close)."""
        try:
            command: Command = self.pipe.recv()
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.pipe.fileno())
            command = Close()
        inbox.put_nowait(command)

    def _send(self, reply: Reply) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send(reply)

    async def _answer(self, command: Command) -> Reply:
        """Run one command; our errors become ``Failed`` with their exit code."""
        try:
            if isinstance(command, Prepare):
                return self._prepare()
            if isinstance(command, ConnectFirst):
                return await self._connect_first()
            async with self._progress():
                return await self._long_command(command)
        except RtchatError as exc:
            return Failed(str(exc), int(exc.exit_code))
        except Exception as exc:  # a bug: still one line for the user, not a hang
            return Failed(f"worker {self.plan.worker} failed: {exc!r}")

    async def _long_command(self, command: Command) -> Reply:
        """The commands that report progress while they run."""
        if isinstance(command, ConnectRest):
            return await self._connect_rest()
        if isinstance(command, Start):
            return await self._start(command)
        if isinstance(command, Drain):
            return await self._drain(command)
        return Failed(f"worker {self.plan.worker}: unexpected command {command!r}")

    @contextlib.asynccontextmanager
    async def _progress(self) -> AsyncIterator[None]:
        """Send ``Progress`` once a second while the body runs."""

        async def tick() -> None:
            while True:
                await asyncio.sleep(1.0)
                self._send(self._totals())

        task = asyncio.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._send(self._totals())  # the final totals, before the reply

    def _totals(self) -> Progress:
        return Progress(
            connected=sum(1 for client in self.clients.values() if not client.closed),
            sent=sum(client.sent for client in self.clients.values()),
            delivered=self.tally.delivered,
            errors=sum(self.tally.errors.values()),
        )

    # -- commands ----------------------------------------------------------------------

    def _prepare(self) -> Prepared:
        """Issue or pick the certificates and build one TLS context per certificate."""
        files = client_files(self.plan.certs, self.plan.worker, self.plan.indices)
        by_cert: dict[Path, ssl.SSLContext] = {}
        for index, client in files.items():
            if client.cert not in by_cert:
                by_cert[client.cert] = client_context(client)
            self.contexts[index] = by_cert[client.cert]
        return Prepared(clients=len(self.contexts))

    def _new_client(self, index: int) -> BenchClient:
        """A client asking for its certificate's name (existing certificates: the server's pick)."""
        certs = self.plan.certs
        name = f"{certs.prefix}{index}" if isinstance(certs, IssueFrom) else None
        room = room_name(index % self.plan.rooms) if self.plan.rooms else None
        return BenchClient(
            index, name, self.tally, self.marker, server=str(self.endpoint(index)), room=room
        )

    def endpoint(self, index: int) -> Endpoint:
        """The server client ``index`` connects to: round robin over the plan's."""
        endpoints = self.plan.endpoints
        return endpoints[index % len(endpoints)]

    async def _open(self, index: int) -> BenchClient:
        plan = self.plan
        client = await open_client(
            self._new_client(index),
            self.contexts[index],
            self.endpoint(index),
            plan.connect_timeout,
        )
        self.clients[index] = client
        return client

    async def _connect_first(self) -> Connected:
        """Client 0 alone, so that a target that is not there fails once, clearly."""
        if 0 not in self.contexts:
            return Connected(ok=0, failures={}, timings=[])
        try:
            client = await self._open(0)
        except ClientError as exc:
            return Connected(
                ok=0,
                failures={(failure_code(exc), str(exc)): 1},
                timings=[],
                first_error=str(exc),
                first_exit_code=int(exc.exit_code),
            )
        return Connected(ok=1, failures={}, timings=[_timing(client)])

    async def _connect_rest(self) -> Connected:
        """Every other client, at most ``concurrency`` handshakes at a time."""
        gate = asyncio.Semaphore(self.plan.concurrency)

        async def one(index: int) -> BenchClient:
            async with gate:
                return await self._open(index)

        indices = [index for index in self.plan.indices if index not in self.clients]
        results = await asyncio.gather(*(one(index) for index in indices), return_exceptions=True)
        failures: Counter[ErrorKey] = Counter()
        timings = []
        for result in results:
            if isinstance(result, BenchClient):
                timings.append(_timing(result))
            elif isinstance(result, ClientError):
                failures[(failure_code(result), str(result))] += 1
            elif isinstance(result, Exception):
                failures[("other", repr(result))] += 1
            else:
                raise result
        return Connected(ok=len(timings), failures=dict(failures), timings=timings)

    async def _start(self, command: Start) -> Sent:
        """Send on the scenario's schedule until ``t_end``, then say how much was sent."""
        self.tally.w0, self.tally.w1 = command.w0, command.w1
        self.tally.rate_advice = RATE_ADVICE["rooms" if self.plan.rooms else command.kind]
        live = [client for client in self.clients.values() if not client.closed]
        senders = []
        if command.kind == "fanout":
            senders = [
                publish(client, command.window, command.t0, command.t_end, self.tally)
                for client in live
                if client.index < command.publishers
            ]
        elif command.kind == "rate":
            period = 1e9 / command.rate
            phases = random.Random(self.plan.worker)  # noqa: S311 - spreading sends, not secrets
            senders = [
                on_schedule(client, period, command.t0 + phases.random() * period, command.t_end)
                for client in live
            ]
        elif command.kind == "broadcast" and 0 in self.clients:
            senders = [send_once(self.clients[0], command.t0)]
        await asyncio.gather(*senders)
        await sleep_until(command.t_end)
        await self._settle(command.settle_until)
        accepted: Counter[int] = Counter()
        if self.plan.rooms:
            for client in self.clients.values():
                accepted[client.index % self.plan.rooms] += client.sent - client.refused
        return Sent(
            sent=sum(client.sent for client in self.clients.values()),
            in_window=sum(client.sent_in_window for client in self.clients.values()),
            refused=self.tally.refused,
            refused_in_window=self.tally.refused_in_window,
            accepted_by_room=dict(accepted),
        )

    async def _settle(self, until: int) -> None:
        """Wait (until ``until`` at most) until the server answered every message sent.

        Refused messages are not expected anywhere; only once every refusal
        is in is the number of accepted messages, and so the drain's goal, known.
        """
        senders = [client for client in self.clients.values() if client.sent and not client.closed]
        for client in senders:
            client.settle()
        for client in senders:
            await wait_for_event(client.settled, until)

    async def _drain(self, command: Drain) -> Outcome:
        """Wait until every live client has ``expected`` messages (or the timeout), then report."""
        tally = self.tally
        tally.draining = True
        tally.pending = 0
        for client in self.clients.values():
            client.expected = command.expected
            if command.by_room is not None:
                client.expected = command.by_room.get(client.index % self.plan.rooms, 0)
            if client.closed or client.received >= client.expected:
                client.done = True
            else:
                tally.pending += 1
        if tally.pending == 0:
            tally.all_in.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(command.timeout):
                await tally.all_in.wait()
        histogram = Counter(map(latency_bucket, tally.latencies))
        errors = Counter(dict(tally.errors.most_common(_MAX_ERROR_KINDS)))
        others = sum(tally.errors.values()) - sum(errors.values())
        if others:
            errors[("other", "(other errors)")] = others
        return Outcome(
            delivered=tally.delivered,
            delivered_in_window=tally.delivered_in_window,
            complete=sum(
                1 for client in self.clients.values() if client.received >= client.expected
            ),
            live=sum(1 for client in self.clients.values() if not client.closed),
            latency_histogram=dict(histogram),
            latency_max_ns=max(tally.latencies) if tally.latencies else None,
            latency_capped=tally.capped,
            errors=dict(errors),
            expected=sum(client.expected for client in self.clients.values()),
            gap_missed=tally.gap_missed,
            stalls=tally.stalls,
            lost=tally.lost,
        )


def room_name(room: int) -> str:
    """The name of room ``room`` of the rooms scenario (the same from run to run)."""
    return f"#bench{room}"


def _timing(client: BenchClient) -> tuple[int, int, int]:
    return (client.t_start, client.t_tls, client.t_ready)


async def sleep_until(moment: int) -> None:
    """Sleep until the monotonic clock reaches ``moment`` (ns)."""
    left = moment - monotonic_ns()
    if left > 0:
        await asyncio.sleep(left / 1e9)


async def wait_for_event(event: asyncio.Event, until: int) -> bool:
    """Wait for ``event`` until the monotonic ``until`` (ns); whether it was set."""
    left = (until - monotonic_ns()) / 1e9
    if left > 0 and not event.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await event.wait()
    return event.is_set()


async def publish(client: BenchClient, window: int, t0: int, t_end: int, tally: Tally) -> None:
    """Fan-out publisher: keep ``window`` messages in flight (own echoes free the room).

    One message per write. A window that stays full for ``STALL_NS``
    (echoes lost) is counted as a stall and started afresh. A refused
    message frees its room too, but pauses the publisher (``REFUSED_PAUSE_NS``).
    """
    client.publisher = True
    client.wake_at = window - 1
    client.in_flight = 0
    await sleep_until(t0)
    while not client.gone:
        now = monotonic_ns()
        if now >= t_end:
            break
        if not client.writable.is_set():
            await wait_for_event(client.writable, t_end)
            continue
        if client.refused_at and now < client.refused_at + REFUSED_PAUSE_NS:
            await sleep_until(min(client.refused_at + REFUSED_PAUSE_NS, t_end))
            continue
        room = window - client.in_flight
        if room <= 0:
            client.room.clear()
            give_up = now + STALL_NS
            freed = await wait_for_event(client.room, min(give_up, t_end))
            # A wait cut short by the end of sending is no stall (the loop's
            # clock may wake it a hair before t_end: uvloop counts whole ms).
            if not freed and give_up < t_end:
                client.in_flight = 0
                tally.stalls += 1
            continue
        for _ in range(room):
            client.send_marked(now)
        await asyncio.sleep(0)


async def send_once(client: BenchClient, t0: int) -> None:
    """One message at ``t0`` (the connect scenario's broadcast to everyone)."""
    await sleep_until(t0)
    client.send_marked(monotonic_ns())


async def on_schedule(client: BenchClient, period: float, first: float, t_end: int) -> None:
    """Send at ``first``, ``first + period``, ... before ``t_end``, each stamped with its slot.

    Late slots are sent at once, still stamped with their scheduled time, so
    a stalled sender shows up as latency (no coordinated omission).
    """
    due = first
    while not client.gone and due < t_end:
        now = monotonic_ns()
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
            continue
        client.send_marked(int(due))
        due += period

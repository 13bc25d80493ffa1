"""The failover storm's clients (``tools/storm.py`` runs it): many connections that come back.

Each ``StormClient`` holds one mutual-TLS connection through an address
(haproxy's, in the storm) and, when the server drops it, connects again
after a random wait (full jitter: uniform in ``[0, min(cap, base * 2**n)]``
for the n-th failed try, so a thousand clients losing their server at once
do not all knock again in the same millisecond) and resumes with ``hello
since`` = the last message id it saw. It is back when the replay after the
new ``welcome`` has ended (``history_end``): its reconnect time runs from
the moment it saw the connection end to then.

A ``Publisher`` sends a numbered stream (``storm-<run> <n>``) straight to
one server and keeps the numbers the server acknowledged. Every client
counts how often it saw each number: an acknowledged number it never saw
is lost, one it saw more than once is shown twice. Lines are not decoded
past ``welcome`` but for what is not a ``msg`` (pings, gaps, errors): two
thousand clients share two cores with the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from time import monotonic
from typing import Final

from ..client.connection import Endpoint
from ..errors import ProtocolError
from ..protocol import (
    PROTOCOL_VERSION,
    SERVER_FRAME_TYPES,
    Ack,
    Bye,
    Error,
    Gap,
    Hello,
    HistoryEnd,
    Ping,
    Pong,
    SendMsg,
    Welcome,
    decode_line,
    encode,
)
from .wire import MSG_PREFIX

_ID: Final = re.compile(rb'"id":(\d+)')
#: Most times one number is counted for one client (a byte each).
_MAX_COUNT: Final = 255


def stream_text(run: str, number: int) -> str:
    """The text of message ``number`` of the stream of ``run``."""
    return f"storm-{run} {number}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between connection tries: full jitter over a capped exponential."""

    base: float = 0.05
    cap: float = 2.0

    def delay(self, tries: int, rng: random.Random) -> float:
        """Seconds to wait after the ``tries``-th failed try in a row (1 or more)."""
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** min(tries, 30)))


@dataclass
class StormTally:
    """What all the clients met on the way: failed tries by kind, byes, errors, gaps."""

    failures: Counter[str] = field(default_factory=Counter)
    byes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    gap_missed: int = 0


#: Where every connection reads into (one loop, one thread): see bench/clients.py's
#: ``_READ_BUFFER`` for what a fresh 256 KiB ``bytes`` per read costs under uvloop.
_READ_BUFFER: Final = memoryview(bytearray(256 * 1024))


class _Connection(asyncio.BufferedProtocol):
    """One connection of a ``StormClient``: hello, count the stream, answer pings."""

    def __init__(self, client: StormClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.welcomed = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        hello = Hello(v=PROTOCOL_VERSION, since=self.client.last_id)
        transport.write(encode(hello))  # type: ignore[attr-defined]

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_READ_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:
        buffer = self._tail + data
        cut = buffer.rfind(b"\n") + 1
        self._tail = buffer[cut:]
        for line in buffer[:cut].split(b"\n"):
            if line.startswith(MSG_PREFIX):
                self.client.saw(line)
            elif line:
                self._frame(line)

    def _frame(self, line: bytes) -> None:
        tally = self.client.tally
        try:
            frame = decode_line(line.removesuffix(b"\r"), SERVER_FRAME_TYPES)
        except ProtocolError as exc:
            tally.errors[f"unreadable {exc.code}"] += 1
            return
        if isinstance(frame, Welcome):
            self.welcomed = True
        elif isinstance(frame, HistoryEnd) and frame.room is None and not self.ready.done():
            self.ready.set_result(None)
        elif isinstance(frame, Ping):
            self.write(encode(Pong(t=frame.t)))
        elif isinstance(frame, Gap):
            tally.gap_missed += frame.missed
        elif isinstance(frame, Bye):
            when = "after welcome" if self.welcomed else "before welcome"
            tally.byes[f"{frame.reason or 'no reason'} ({when})"] += 1
        elif isinstance(frame, Error):
            tally.errors[frame.code] += 1

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the replay ended"))
            self.ready.exception()  # retrieved: the client looks at ``closed``
        if not self.closed.done():
            self.closed.set_result(None)


class StormClient:
    """One chat client that stays connected: it reconnects and resumes until ``stop``."""

    def __init__(
        self,
        endpoint: Endpoint,
        context: ssl.SSLContext,
        run: str,
        size: int,
        tally: StormTally,
        *,
        backoff: Backoff,
        rng: random.Random,
        timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.context = context
        self.marker = re.compile(re.escape(stream_text(run, 0)[:-1].encode()) + rb"(\d+)")
        self.counts = bytearray(size)  # how often each stream number was seen
        self.tally = tally
        self.backoff = backoff
        self.rng = rng
        self.timeout = timeout  # one try: TCP, TLS, welcome and replay
        self.last_id: int | None = None
        self.lost_at: float | None = None  # when it saw its connection end (monotonic s)
        self.reconnects: list[float] = []  # seconds from each loss until resumed
        self.back = asyncio.Event()  # connected and resumed (cleared while away)
        self.connections = 0  # welcomed and replayed
        self.stopping = False
        self._connection: _Connection | None = None

    def saw(self, line: bytes) -> None:
        """A ``msg`` line: remember its id, count its stream number."""
        found = _ID.search(line)
        if found:
            self.last_id = max(self.last_id or 0, int(found.group(1)))
        mark = self.marker.search(line)
        if mark:
            number = int(mark.group(1))
            if number < len(self.counts) and self.counts[number] < _MAX_COUNT:
                self.counts[number] += 1

    async def run(self, first: asyncio.Semaphore, deadline: float) -> None:
        """Connect (the first time under ``first``), then reconnect after each loss."""
        async with first:
            await self._connect(deadline)
        while not self.stopping and self._connection is not None:
            await self._connection.closed
            if self.stopping:
                return
            self.lost_at = monotonic()
            self.back.clear()
            await self._connect(deadline)

    async def _connect(self, deadline: float) -> None:
        """Try until connected and replayed, waiting ``backoff`` between tries."""
        tries = 0
        self._connection = None
        while not self.stopping and monotonic() < deadline:
            connection = await self._try()
            if connection is not None:
                self._connection = connection
                self.connections += 1
                if self.lost_at is not None:
                    self.reconnects.append(monotonic() - self.lost_at)
                    self.lost_at = None
                self.back.set()
                return
            tries += 1
            await asyncio.sleep(self.backoff.delay(tries, self.rng))

    async def _try(self) -> _Connection | None:
        """One try; a failure is counted by kind in the tally."""
        loop = asyncio.get_running_loop()
        connection = _Connection(self)
        try:
            async with asyncio.timeout(self.timeout):
                await loop.create_connection(
                    lambda: connection,
                    self.endpoint.host,
                    self.endpoint.port,
                    ssl=self.context,
                    server_hostname=self.endpoint.cn,
                    ssl_handshake_timeout=self.timeout,
                )
                await connection.ready
        except TimeoutError:
            self.tally.failures["no welcome and replay in time"] += 1
        except ssl.SSLError as exc:
            self.tally.failures[f"TLS: {exc.reason or exc.strerror}"] += 1
        except ConnectionError as exc:
            self.tally.failures[_connection_failure(exc, connection)] += 1
        except OSError as exc:
            self.tally.failures[f"OS error: {exc.strerror or exc}"] += 1
        else:
            return connection
        if connection.transport is not None:
            connection.transport.abort()
        return None

    def stop(self) -> None:
        """Leave for good: say bye, and do not come back."""
        self.stopping = True
        connection = self._connection
        if connection is not None and connection.transport is not None:
            connection.write(encode(Bye()))
            connection.transport.close()


def _connection_failure(exc: ConnectionError, connection: _Connection) -> str:
    """Where a try that ended in a ConnectionError got to."""
    if connection.transport is None:
        return f"closed during TCP or TLS ({type(exc).__name__})"
    if not connection.welcomed:
        return "closed after TLS, before welcome"
    return "closed before the replay ended"


@dataclass(frozen=True, slots=True)
class Losses:
    """What one client missed or saw twice among the acknowledged numbers."""

    lost: int
    twice: int


def losses(client: StormClient, acked: set[int]) -> Losses:
    """``client``'s acknowledged numbers never seen, and numbers seen more than once."""
    counts = client.counts
    lost = sum(1 for number in acked if counts[number] == 0)
    twice = len(counts) - counts.count(0) - counts.count(1)
    return Losses(lost=lost, twice=twice)


class Publisher:
    """Sends the numbered stream straight to one server; keeps what it acknowledged."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.acked: set[int] = set()
        self.sent = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._acks: asyncio.Task[None] | None = None

    async def open(self, endpoint: Endpoint, context: ssl.SSLContext, timeout: float) -> None:
        """Connect, say hello, and wait for the end of the replay."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                endpoint.host, endpoint.port, ssl=context, server_hostname=endpoint.cn
            )
            writer.write(encode(Hello(v=PROTOCOL_VERSION)))
            while True:
                frame = decode_line((await reader.readline()).rstrip(b"\r\n"), SERVER_FRAME_TYPES)
                if isinstance(frame, HistoryEnd) and frame.room is None:
                    break
        self._reader, self._writer = reader, writer
        self._acks = asyncio.create_task(self._read_acks(reader))

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            if line.startswith(MSG_PREFIX):
                continue
            frame = decode_line(line.rstrip(b"\r\n"), SERVER_FRAME_TYPES)
            if isinstance(frame, Ack) and frame.ref.isdigit():
                self.acked.add(int(frame.ref))
            elif isinstance(frame, Ping) and self._writer is not None:
                self._writer.write(encode(Pong(t=frame.t)))

    def send(self) -> None:
        """Send the next number (its ``ref`` is the number)."""
        if self._writer is None:
            raise RuntimeError("the publisher is not connected")
        number = self.sent
        self._writer.write(encode(SendMsg(text=stream_text(self.run, number), ref=str(number))))
        self.sent += 1

    async def settle(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every number sent is acknowledged."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await poll_until(lambda: len(self.acked) >= self.sent)

    async def close(self) -> None:
        if self._acks is not None:
            self._acks.cancel()
        if self._writer is not None:
            self._writer.write(encode(Bye()))
            self._writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await self._writer.wait_closed()


@dataclass(frozen=True, slots=True)
class StormPlan:
    """One storm: how many clients, how fast the stream, how long before and after the kill."""

    clients: int = 2000
    rate: float = 2.0  # stream messages a second (to all: 4,000 deliveries a second at 2,000)
    before: float = 5.0  # seconds of stream before the kill
    after: float = 2.0  # seconds of stream once every client is back
    concurrency: int = 64  # first connections at once (reconnects are not held back)
    timeout: float = 300.0  # the whole storm, connecting included
    try_timeout: float = 60.0  # one connection try: TCP, TLS, welcome and replay
    backoff: Backoff = Backoff()
    seed: int | None = None


@dataclass
class StormResult:
    """What a storm measured."""

    clients: int
    connected: int  # welcomed and replayed before the kill
    dropped: int  # lost their connection with the killed server
    back: int  # of those, connected and resumed again
    reconnect_seconds: list[float]  # each, from its loss until resumed (sorted)
    last_back: float | None  # seconds from the kill until the last one was back
    sent: int
    acked: int
    lost: int  # acknowledged numbers never seen, summed over clients
    lost_clients: int
    twice: int  # numbers seen more than once, summed over clients
    twice_clients: int
    tally: StormTally

    @property
    def clean(self) -> bool:
        """Every client back, every acknowledged number seen once by each, all sent acked."""
        return (
            self.connected == self.clients
            and self.back == self.dropped
            and self.lost == 0
            and self.twice == 0
            and self.acked == self.sent
        )


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted ``values`` (None when empty)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * fraction // 1))
    return values[min(len(values), int(rank)) - 1]


async def storm(
    plan: StormPlan,
    through: Endpoint,
    survivor: Endpoint,
    context: ssl.SSLContext,
    *,
    kill: Callable[[], None],
    say: Callable[[str], None] = lambda _: None,
) -> StormResult:
    """Connect ``plan.clients`` through ``through``, stream to ``survivor``, ``kill``, measure.

    Bounded by ``plan.timeout``: clients still away then count as not back.
    ``say`` is told each step as it ends (a progress line).
    """
    deadline = monotonic() + plan.timeout
    run = secrets.token_hex(4)
    size = int(plan.rate * (plan.before + plan.after + plan.timeout)) + 1
    rng = random.Random(plan.seed)  # noqa: S311 - jitter, not secrecy
    tally = StormTally()
    clients = [
        StormClient(
            through,
            context,
            run,
            size,
            tally,
            backoff=plan.backoff,
            rng=rng,
            timeout=plan.try_timeout,
        )
        for _ in range(plan.clients)
    ]
    first = asyncio.Semaphore(plan.concurrency)
    tasks = [asyncio.create_task(client.run(first, deadline)) for client in clients]
    publisher = Publisher(run)
    try:
        connected = await _all_back(clients, deadline)
        say(f"{connected} of {plan.clients} connected")
        await publisher.open(survivor, context, plan.try_timeout)
        await _stream(publisher, plan.rate, monotonic() + plan.before)
        kill()
        killed_at = monotonic()
        say(f"killed, {publisher.sent} numbers sent")
        streaming = asyncio.create_task(_stream(publisher, plan.rate, deadline))
        await _dropped_and_back(clients, deadline)
        last_back = monotonic() - killed_at
        streaming.cancel()
        say(f"{sum(c.back.is_set() for c in clients)} of {plan.clients} back")
        await _stream(publisher, plan.rate, min(deadline, monotonic() + plan.after))
        await publisher.settle(plan.try_timeout)
        await _all_seen(clients, publisher, min(deadline, monotonic() + plan.try_timeout))
        say(f"{publisher.sent} sent, {len(publisher.acked)} acknowledged; counting")
    finally:
        for client in clients:
            client.stop()
        await publisher.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return _result(plan, clients, connected, last_back, publisher, tally=tally)


async def _all_back(clients: list[StormClient], deadline: float) -> int:
    """Wait (until ``deadline``) for every client to be connected; how many are."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, deadline - monotonic())):
            for client in clients:
                await client.back.wait()
    return sum(1 for client in clients if client.back.is_set())


async def _dropped_and_back(clients: list[StormClient], deadline: float) -> None:
    """Wait until some client has seen the kill and every client is back again."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, deadline - monotonic())):
            await poll_until(lambda: any(c.reconnects or c.lost_at is not None for c in clients))
            await poll_until(lambda: all(c.back.is_set() for c in clients))


async def _stream(publisher: Publisher, rate: float, until: float) -> None:
    """Send on a fixed schedule (``rate`` a second) until ``until`` (monotonic s)."""
    start, base = monotonic(), publisher.sent
    while (now := monotonic()) < until:
        due = base + int((now - start) * rate) + 1
        while publisher.sent < due:
            publisher.send()
        await asyncio.sleep(1 / rate)


async def _all_seen(clients: list[StormClient], publisher: Publisher, until: float) -> None:
    """Wait (until ``until``) for every client to have seen every acknowledged number."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, until - monotonic())):
            for client in clients:
                await poll_until(partial(_seen_all, client, publisher.acked))


def _seen_all(client: StormClient, acked: set[int]) -> bool:
    return all(client.counts[number] for number in acked)


async def poll_until(done: Callable[[], bool], interval: float = 0.01) -> None:
    """Wait until ``done()`` (the caller bounds it with a timeout).

    Polled: it is a condition over thousands of clients' states, which no
    one event marks, checked a hundred times a second at most.
    """
    while not done():  # noqa: ASYNC110 - see above
        await asyncio.sleep(interval)


def _result(
    plan: StormPlan,
    clients: list[StormClient],
    connected: int,
    last_back: float,
    publisher: Publisher,
    *,
    tally: StormTally,
) -> StormResult:
    dropped = [client for client in clients if client.reconnects or client.lost_at is not None]
    every = [losses(client, publisher.acked) for client in clients]
    return StormResult(
        clients=plan.clients,
        connected=connected,
        dropped=len(dropped),
        back=sum(1 for client in dropped if client.back.is_set()),
        reconnect_seconds=sorted(s for client in clients for s in client.reconnects),
        last_back=last_back if all(client.back.is_set() for client in clients) else None,
        sent=publisher.sent,
        acked=len(publisher.acked),
        lost=sum(item.lost for item in every),
        lost_clients=sum(1 for item in every if item.lost),
        twice=sum(item.twice for item in every),
        twice_clients=sum(1 for item in every if item.twice),
        tally=tally,
    )

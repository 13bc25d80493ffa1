"""``--metrics``: Prometheus metrics, ``/healthz`` and ``/readyz`` over plain HTTP.

What is measured is counted where it happens, as plain integers
(``stats.ServerStats``, the flush scheduler's ``gaps`` and ``dropped``);
the state (sessions, connections, queues, certificates) is read from the
server. Both only when ``/metrics`` is scraped: ``ServerCollector`` turns
them into metric families, and prometheus_client renders them
(``generate_latest``) from a registry of the server's own, never the
library's global one, so several servers can run in one process (the tests
do) and nothing else in the process adds metrics unasked. Process metrics
come from prometheus_client's ``ProcessCollector`` on that registry.

The endpoint is a small HTTP/1.1 server on the chat server's own event
loop, not prometheus_client's ``start_http_server`` (a thread, with no
bound on a request's size or time): a scraper cannot make the chat wait on
a lock, and a bad or slow request costs one bounded connection. It answers
``GET`` (and ``HEAD``) of ``/metrics``, ``/healthz`` and ``/readyz``, one
request per connection (``Connection: close``); a request head larger
than ``MAX_REQUEST_BYTES`` gets 431, one not finished within
``REQUEST_TIMEOUT`` 408, another method 405, another path 404; past
``MAX_CLIENTS`` connections at once a newcomer gets 503. It serves no
secrets, but it tells who is online how many: bind it to loopback or a
management network (a bare port means 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from prometheus_client import ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..errors import ConfigError
from ..protocol import DEFAULT_ROOM
from .stats import CLOSE_LABELS, HANDSHAKE_LABELS, RATE_LIMITS, Histogram, ServerStats

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .app import ChatServer
    from .rooms import Room

MAX_REQUEST_BYTES: Final = 8192  # request line and headers together
REQUEST_TIMEOUT: Final = 5.0  # seconds to send the request, and to take the answer
READY_TIMEOUT: Final = 2.0  # seconds the store has to answer /readyz's query
MAX_CLIENTS: Final = 16  # connections to the endpoint at once
LINGER: Final = 1.0  # seconds to read what a refused request still sends (_unread_then_close)
MAX_DISCARD_BYTES: Final = 65536  # and at most this much of it
CLOSE_WAIT: Final = 1.0  # seconds a shutdown waits for scrapers' connections to end
OTHER_ROOMS: Final = "other"  # the label of every room the room file does not name
# What generate_latest writes: the text format 0.0.4 (our names need no escaping).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_MAX_PORT: Final = 65535
_CONNECTION_STATES: Final = ("handshaking", "before_hello", "welcomed", "closing")


def parse_address(text: str) -> tuple[str, int]:
    """``--metrics``'s value: ``PORT`` (on 127.0.0.1), ``ADDR:PORT`` or ``[IPv6]:PORT``.

    Port 0 picks a free port (the log line says which).
    """
    spec = text.strip()
    if spec.isascii() and spec.isdecimal():
        host, port = "127.0.0.1", spec
    elif spec.startswith("["):
        host, bracket, rest = spec[1:].partition("]")
        if not bracket or not host or not rest.startswith(":"):
            raise ConfigError(f"{text!r}: write an IPv6 address as [ADDRESS]:PORT")
        port = rest[1:]
    else:
        host, colon, port = spec.rpartition(":")
        if not colon or not host or ":" in host:
            raise ConfigError(
                f"{text!r}: give PORT, ADDRESS:PORT or [IPv6]:PORT (a bare port "
                "listens on 127.0.0.1)"
            )
    if not (port.isascii() and port.isdecimal() and int(port) <= _MAX_PORT):
        raise ConfigError(f"{text!r}: the port must be a number from 0 to {_MAX_PORT}")
    return host, int(port)


def where(host: str, port: int) -> str:
    """``127.0.0.1:9100``, ``[::1]:9100``: an address as --metrics takes it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def cannot_serve(host: str, port: int, exc: OSError) -> str:
    """The one line saying why --metrics cannot listen (at start, and in ``check``)."""
    # asyncio's bind error repeats the address; the errno's words are enough.
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"cannot serve --metrics on {where(host, port)}: {why}"


def exposure(host: str) -> str | None:
    """What is wrong with serving the metrics on ``host``, or None.

    Every interface is a mistake more often than a choice: the endpoint
    has no TLS or password (docs/operations.md, "Metrics"). One address,
    a management network's, is the operator's to judge.
    """
    if host in ("0.0.0.0", "::"):  # noqa: S104 - spotting it is the point
        return (
            f"--metrics on {host} serves every interface, with no TLS or password: "
            "give 127.0.0.1 or a management network's address"
        )
    return None


def registry_for(server: ChatServer) -> CollectorRegistry:
    """A registry of the server's own: its metrics and the process's."""
    registry = CollectorRegistry()
    registry.register(ServerCollector(server))
    ProcessCollector(registry=registry)
    return registry


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _labelled(
    family: CounterMetricFamily | GaugeMetricFamily, values: Iterable[tuple[str, float]]
) -> CounterMetricFamily | GaugeMetricFamily:
    for label, value in values:
        family.add_metric([label], value)
    return family


def _histogram(name: str, help_text: str, histogram: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        name, help_text, buckets=histogram.cumulative(), sum_value=histogram.total
    )


def _seconds_until(when: dt.datetime, now: dt.datetime) -> float:
    return (when - now).total_seconds()


class ServerCollector(Collector):
    """The chat server's metrics, read from its counters and state at each scrape."""

    def __init__(self, server: ChatServer) -> None:
        self._server = server

    def collect(self) -> Iterator[Metric]:
        server = self._server
        stats = server.stats
        yield InfoMetricFamily(
            "rtchat_build", "The version of realtimechat running.", value={"version": __version__}
        )
        yield from self._traffic(stats)
        yield from self._refusals(stats)
        yield from self._store(stats)
        if server.started:  # the hub and the store are there
            yield from self._state(server)
            yield from self._rooms(server, stats)
        yield from self._expiry(server)

    @staticmethod
    def _traffic(stats: ServerStats) -> Iterator[Metric]:
        yield _counter(
            "rtchat_messages_in",
            "Messages (msg frames) accepted from clients for storing.",
            stats.messages_in,
        )
        yield _counter(
            "rtchat_messages_stored",
            "New messages this server stored (a resend of a stored message is not stored again).",
            stats.messages_stored,
        )
        yield _counter(
            "rtchat_messages_delivered",
            "Message frames fanned out to the queues of welcomed sessions (one per recipient "
            "session, the sender's echo included).",
            stats.delivered,
        )

    @staticmethod
    def _refusals(stats: ServerStats) -> Iterator[Metric]:
        yield _labelled(
            CounterMetricFamily(
                "rtchat_handshakes_refused",
                "Connections refused before or during the TLS handshake, by reason.",
                labels=["reason"],
            ),
            ((label, stats.handshakes_refused[label]) for label in HANDSHAKE_LABELS),
        )
        yield _labelled(
            CounterMetricFamily(
                "rtchat_sessions_closed",
                "Connections past TLS that ended, by leave reason (refusals after TLS included).",
                labels=["reason"],
            ),
            ((label, stats.closed[label]) for label in CLOSE_LABELS),
        )
        yield _labelled(
            CounterMetricFamily(
                "rtchat_rate_limited",
                "Requests refused with rate_limited, by the limit that refused them.",
                labels=["limit"],
            ),
            ((limit, stats.rate_limited[limit]) for limit in RATE_LIMITS),
        )

    @staticmethod
    def _store(stats: ServerStats) -> Iterator[Metric]:
        yield _histogram(
            "rtchat_store_commit_seconds",
            "Time from handing a batch of messages to the store until it was committed.",
            stats.commit_seconds,
        )
        yield _histogram(
            "rtchat_store_batch_messages",
            "Messages per store commit (group commit).",
            stats.batch_messages,
        )
        yield _counter(
            "rtchat_store_commit_failures",
            "Batches the store failed to commit (their senders got an internal error).",
            stats.commit_failures,
        )

    @staticmethod
    def _state(server: ChatServer) -> Iterator[Metric]:
        hub = server.hub
        scheduler = hub.scheduler
        yield _gauge("rtchat_sessions", "Welcomed sessions (connections) now.", len(hub.sessions))
        yield _gauge("rtchat_users_online", "Distinct names online now.", hub.users_online)
        states = server.connection_states()
        yield _labelled(
            GaugeMetricFamily("rtchat_connections", "Connections now, by state.", labels=["state"]),
            ((state, states[state]) for state in _CONNECTION_STATES),
        )
        yield _counter(
            "rtchat_gaps_sent",
            "gap frames queued to clients: messages they missed as slow consumers.",
            scheduler.gaps,
        )
        yield _counter(
            "rtchat_slow_consumer_dropped_messages",
            "Message frames dropped from the queues of clients that were not reading.",
            scheduler.dropped,
        )
        yield _gauge(
            "rtchat_outbox_queued_bytes",
            "Bytes queued for all sessions now (mostly those whose transport is paused).",
            sum(session.outbox.queued_bytes for session in hub.sessions),
        )
        yield _gauge(
            "rtchat_outbox_paused_sessions",
            "Sessions whose transport asked us to stop writing (not reading fast enough).",
            len(scheduler.paused),
        )
        yield _gauge(
            "rtchat_outbox_paused_bytes",
            "What the paused sessions hold, counted against --queue-total-bytes.",
            scheduler.holding,
        )

    @staticmethod
    def _rooms(server: ChatServer, stats: ServerStats) -> Iterator[Metric]:
        hub = server.hub
        directory = hub.rooms
        yield _gauge("rtchat_rooms", "Rooms on the server (the lobby not counted).", len(directory))
        members: Counter[str] = Counter()
        sessions: Counter[str] = Counter({DEFAULT_ROOM: len(hub.sessions)})
        labels = [DEFAULT_ROOM]
        for room in directory:
            label = _room_label(room)
            if label not in members:
                members[label] = 0
                labels.append(label)
            members[label] += len(room.members)
            sessions[label] += len(room.sessions)
        messages: Counter[str] = Counter()
        for name, count in stats.room_messages.items():
            found = directory.by_name(name) if name is not None else None
            label = DEFAULT_ROOM if name is None else _room_label(found)
            messages[label] += count
        labels += [label for label in messages if label not in members and label != DEFAULT_ROOM]
        if OTHER_ROOMS not in labels:
            labels.append(OTHER_ROOMS)
        yield _labelled(
            GaugeMetricFamily(
                "rtchat_room_members",
                "Identities that are members of a room, online or not (rooms of --rooms by "
                "name, every other room as 'other').",
                labels=["room"],
            ),
            ((label, members[label]) for label in labels if label != DEFAULT_ROOM),
        )
        yield _labelled(
            GaugeMetricFamily(
                "rtchat_room_sessions",
                "Sessions receiving a room now (the lobby: every welcomed session).",
                labels=["room"],
            ),
            ((label, sessions[label]) for label in labels),
        )
        yield _labelled(
            CounterMetricFamily(
                "rtchat_room_messages",
                "Public messages fanned out in a room since the server started.",
                labels=["room"],
            ),
            ((label, messages[label]) for label in labels),
        )

    @staticmethod
    def _expiry(server: ChatServer) -> Iterator[Metric]:
        trust = server.trust
        now = server.clock()
        yield _gauge(
            "rtchat_server_certificate_expiry_seconds",
            "Seconds until the server certificate in use expires (negative: expired).",
            _seconds_until(trust.server_certificate.not_valid_after_utc, now),
        )
        if trust.ca_certificates:
            soonest = min(cert.not_valid_after_utc for cert in trust.ca_certificates)
            yield _gauge(
                "rtchat_ca_certificate_expiry_seconds",
                "Seconds until the first of the trusted CA certificates expires.",
                _seconds_until(soonest, now),
            )
        revocations = trust.revocations
        if revocations is not None and revocations.next_update is not None:
            yield _gauge(
                "rtchat_crl_next_update_seconds",
                "Seconds until the CRL in force reaches its nextUpdate (negative: stale).",
                _seconds_until(revocations.next_update, now),
            )


def _room_label(room: Room | None) -> str:
    """A room's label: its name if the room file names it (operator-chosen, bounded), else
    ``other`` (users choose those names: unbounded, and a private room's name is no one's
    business who reads the metrics)."""
    return room.name if room is not None and room.in_file else OTHER_ROOMS


# ----------------------------------------------------------------------
# The endpoint


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    allow: str | None = None


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_METHODS: Final = ("GET", "HEAD")


def response(answer: Answer, *, head_only: bool = False) -> bytes:
    """The bytes of a whole HTTP/1.1 response (one per connection: Connection: close)."""
    lines = [
        f"HTTP/1.1 {answer.status} {_REASONS[answer.status]}",
        f"Content-Type: {answer.content_type}",
        f"Content-Length: {len(answer.body)}",
        "Connection: close",
        "Cache-Control: no-store",
    ]
    if answer.allow is not None:
        lines.append(f"Allow: {answer.allow}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head if head_only else head + answer.body


def request_target(head: bytes) -> tuple[str, str] | Answer:
    """The method and path of a request head, or the error answer it gets."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return Answer(400, b"not an HTTP/1.x request line\n")
    method, target = parts[0].decode("ascii", "replace"), parts[1].decode("ascii", "replace")
    if method not in _METHODS:
        return Answer(405, b"only GET and HEAD\n", allow=", ".join(_METHODS))
    return method, target.partition("?")[0]


async def _unread_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close a connection whose request we did not read whole, without resetting it.

    Closing a socket with unread input makes the kernel send a reset, which
    can destroy our answer before the peer has read it. So: send our side's
    end, read and discard what still comes (at most ``MAX_DISCARD_BYTES``
    for at most ``LINGER``), then close.
    """
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(LINGER):
            discarded = 0
            while discarded < MAX_DISCARD_BYTES:
                chunk = await reader.read(MAX_REQUEST_BYTES)
                if not chunk:
                    break
                discarded += len(chunk)
    writer.close()


class MetricsEndpoint:
    """The HTTP endpoint: ``/metrics``, ``/healthz``, ``/readyz`` (module docstring)."""

    def __init__(
        self,
        render: Callable[[], bytes],
        ready: Callable[[], Awaitable[str | None]],
        log: logging.Logger,
    ) -> None:
        self._render = render
        self._ready = ready  # None when ready, else why not
        self._log = log
        self._server: asyncio.Server | None = None
        self._clients = 0

    @classmethod
    def for_server(cls, server: ChatServer) -> MetricsEndpoint:
        registry = registry_for(server)
        return cls(lambda: generate_latest(registry), server.readiness, server.log)

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; ConfigError (one line) if it cannot."""
        try:
            self._server = await asyncio.start_server(
                self._serve, host, port, limit=MAX_REQUEST_BYTES, reuse_address=True
            )
        except OSError as exc:
            raise ConfigError(cannot_serve(host, port, exc)) from None

    @property
    def addresses(self) -> list[tuple[str, int]]:
        assert self._server is not None
        return [sock.getsockname()[:2] for sock in self._server.sockets]

    async def close(self) -> None:
        """Stop listening. Since Python 3.12 ``wait_closed`` also waits for the connections
        still open (each ends within REQUEST_TIMEOUT): a shutdown waits a second at most."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT):
                    await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request, one answer, then close; never more than REQUEST_TIMEOUT each way."""
        if self._clients >= MAX_CLIENTS:
            writer.write(response(Answer(503, b"too many scrapers at once\n")))
            await _unread_then_close(reader, writer)
            return
        self._clients += 1
        try:
            data, unread = await self._answer(reader)
            if data:
                writer.write(data)
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    await writer.drain()
            if unread:
                await _unread_then_close(reader, writer)
            writer.close()
        except (TimeoutError, ConnectionError):
            writer.transport.abort()  # a peer that does not take its answer holds nothing
        finally:
            self._clients -= 1

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """The response to the request ``reader`` brings (b"" when the peer left first),
        and whether the peer may still be sending the request."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return response(Answer(408, b"request not received in time\n")), False
        except asyncio.LimitOverrunError:
            return response(Answer(431, b"request head too large\n")), True
        except asyncio.IncompleteReadError:
            return b"", False
        target = request_target(head)
        if isinstance(target, Answer):
            return response(target), False
        method, path = target
        return response(await self._route(path), head_only=method == "HEAD"), False

    async def _route(self, path: str) -> Answer:
        if path == "/metrics":
            try:
                return Answer(200, self._render(), CONTENT_TYPE)
            except Exception:  # a bug in a collector: the chat goes on, the scraper is told
                self._log.exception("rendering the metrics failed")
                return Answer(500, b"rendering the metrics failed; see the server's log\n")
        if path == "/healthz":
            return Answer(200, b"ok\n")
        if path == "/readyz":
            why_not = await self._ready()
            if why_not is None:
                return Answer(200, b"ready\n")
            return Answer(503, f"not ready: {why_not}\n".encode())
        return Answer(404, b"not found: try /metrics, /healthz or /readyz\n")

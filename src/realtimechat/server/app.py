"""The server's lifecycle: listen, upgrade to TLS, keep alive, shut down.

How connections become TLS sessions (docs/design.md, "Accepting TLS"):
we accept plain TCP with ``loop.create_server`` and a protocol that
pauses reading the moment the connection exists, then upgrade it with
``loop.start_tls``. That puts the handshake in our hands:

* every refused handshake is logged, once, with the peer's address and
  the reason (with ``ssl=`` on the listener, asyncio logs refusals only at
  debug level and without the address: shared/pitfalls.md);
* a handshake that takes longer than ``Limits.handshake_timeout`` is
  aborted, and at most ``Limits.max_handshakes`` run at once;
* each upgrade uses the context current at that moment, so SIGHUP can
  swap trust anchors and certificates for new connections (``reload_tls``);
* pausing before any byte is read keeps the ClientHello in the socket for
  the TLS layer (bytes read into a StreamReader first would be lost:
  CPython issue #142352).

Server-side ``start_tls`` does not work on uvloop (uvloop issue #707), so
this server runs on the default asyncio event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import resource
import signal
from asyncio import sslproto
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Final

from ..tls import ServerFiles, describe_handshake_error
from .audit import log_event
from .config import Limits, ServerSettings
from .hub import Hub
from .session import R_SERVER_FULL, R_SHUTDOWN, R_TOO_MANY_CONNECTIONS, Session
from .store import MemoryStore, Store
from .trust import Trust

log = logging.getLogger("realtimechat.server")
WARNING_PERIOD = 24 * 3600.0  # seconds between expiry warnings in the log
PURGE_PERIOD = 3600.0  # seconds between applications of the retention policy


def format_peer(peername: object) -> str:
    """``host:port``, with brackets for IPv6, for logs."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername)


class _PausedOnArrival(asyncio.Protocol):
    """Holds a fresh TCP connection, unread, until ``start_tls`` takes it."""

    def __init__(self, on_connection: Callable[[asyncio.Transport], None]) -> None:
        self._on_connection = on_connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # before the loop reads a single byte
        self._on_connection(transport)


class ChatServer:
    """A running chat server: listeners, TLS state, the hub and its sessions."""

    def __init__(
        self,
        files: ServerFiles,
        *,
        hosts: Iterable[str] | None = None,
        port: int = 8443,
        limits: Limits | None = None,
        settings: ServerSettings | None = None,
        logger: logging.Logger | None = None,
        store: Store | None = None,
    ) -> None:
        self.files = files
        self.hosts = list(hosts) if hosts else None
        self.port = port
        self.limits = limits or Limits()
        self.settings = settings or ServerSettings()
        self.log = logger or log
        self.trust = Trust.load(files)  # fails early, before listening
        self._servers: list[asyncio.Server] = []
        self._upgrades: set[asyncio.Task[None]] = set()
        self._handshaking = 0
        self._connections: dict[asyncio.Transport, Session] = {}  # raw TCP -> its session
        self._per_address: Counter[str] = Counter()  # open connections per source IP
        self._keepalive: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._all_closed = asyncio.Event()  # set when the last connection is gone
        self._hub: Hub | None = None
        self.store: Store = store if store is not None else MemoryStore()
        self._maintenance: asyncio.Task[None] | None = None

    @property
    def hub(self) -> Hub:
        assert self._hub is not None, "server not started"
        return self._hub

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where we listen, as (host, port) pairs (port 0 resolved)."""
        out = []
        for server in self._servers:
            for sock in server.sockets:
                name = sock.getsockname()
                out.append((name[0], name[1]))
        return out

    # ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.store.open()
        self._hub = Hub(loop, self.limits, self.settings, self.log, self.store)
        await self._hub.start()
        raise_open_file_limit()
        shrink_ssl_read_buffers()
        loop.set_exception_handler(self._loop_exception)
        server = await loop.create_server(
            lambda: _PausedOnArrival(self._on_connection),
            host=self.hosts,
            port=self.port,
            reuse_address=True,
            backlog=1024,
        )
        self._servers.append(server)
        self._keepalive = asyncio.create_task(self._keepalive_loop(), name="keepalive")
        self._log_warnings()
        self._watch = asyncio.create_task(self._daily_warnings(), name="expiry-warnings")
        self._maintenance = asyncio.create_task(self._purge_periodically(), name="retention")
        where = ", ".join(format_peer(address) for address in self.addresses)
        self.log.info("listening on %s (protocol v1, mutual TLS)", where)

    def reload_tls(self) -> None:
        """Use freshly loaded certificates, trust and CRL for new connections.

        Live sessions go on, except those whose certificate is now revoked
        (or expired): they get ``bye {reason: revoked|expired}``. If the
        files cannot be loaded, the old state stays and the error is logged.
        """
        try:
            self.trust = Trust.load(self.files)
        except Exception as exc:
            # One line for the operator (a bad file, a wrong key), no traceback.
            self.log.error("TLS reload failed, keeping the previous certificates: %s", exc)  # noqa: TRY400
            return
        self.log.info("TLS reloaded: new connections use the new certificates and trust")
        self._log_warnings()
        if self._hub is not None:
            for session in self._hub.sessions:
                session.recheck(self.trust)

    async def serve_until_signalled(self) -> None:
        """Run until SIGINT/SIGTERM (then shut down gracefully); SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_tls)
        try:
            await stop.wait()
            self.log.info("shutting down")
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        await self.shutdown()

    async def shutdown(self) -> None:
        """``bye {reason: shutdown}`` to everyone, flush for a bounded time, close."""
        for server in self._servers:
            server.close()
        for task in (self._keepalive, self._watch, self._maintenance):
            if task is not None:
                task.cancel()
        for task in list(self._upgrades):
            task.cancel()
        if self._hub is not None:
            # Messages already accepted are stored and acked before anyone is told bye.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.shutdown_grace):
                    await self._hub.stop()
        for session in list(self._connections.values()):
            session.end(R_SHUTDOWN)
        if self._connections:
            self._all_closed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.shutdown_grace):
                    await self._all_closed.wait()
        for transport in list(self._connections):
            transport.abort()
        for server in self._servers:
            await server.wait_closed()
        await self.store.close()
        self.log.info("stopped")

    # ------------------------------------------------------------------
    # Accepting

    def _on_connection(self, raw: asyncio.Transport) -> None:
        """A TCP connection arrived: admit it to the TLS handshake, or refuse it.

        Over the handshake cap (or far over the connection cap) it is closed
        at once: costing a handshake is what such a flood wants. Over the
        connection cap or the per-address cap it is still upgraded, so that
        the client can be told in words (``bye server_full`` or
        ``bye too_many_connections``) rather than left guessing.
        """
        peername = raw.get_extra_info("peername")
        peer = format_peer(peername)
        limits = self.limits
        if (
            self._handshaking >= limits.max_handshakes
            or len(self._connections) >= limits.max_connections + limits.max_handshakes
        ):
            reason = "too many handshakes in progress"
            log_event(self.log, logging.WARNING, "refused", peer=peer, reason=reason)
            raw.abort()
            return
        address = peername[0] if isinstance(peername, tuple) else str(peername)
        tls = self.trust
        session = Session(self.hub, tls, peer)
        if len(self._connections) >= limits.max_connections:
            session.refuse_with = R_SERVER_FULL
        elif self._per_address[address] >= limits.max_per_address:
            session.refuse_with = R_TOO_MANY_CONNECTIONS
        # Count the connection now, not when its task first runs: a burst
        # of arrivals in one loop iteration must not slip past the caps.
        session.on_closed = lambda: self._forget_connection(raw, address)
        self._connections[raw] = session
        self._per_address[address] += 1
        self._handshaking += 1
        task = asyncio.create_task(self._upgrade(raw, peer, session, tls))
        self._upgrades.add(task)
        task.add_done_callback(self._upgrades.discard)

    async def _upgrade(
        self, raw: asyncio.Transport, peer: str, session: Session, tls: Trust
    ) -> None:
        address = _address(raw)
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                raw,
                session,
                tls.context,
                server_side=True,
                ssl_handshake_timeout=self.limits.handshake_timeout,
            )
        except asyncio.CancelledError:
            raw.abort()
            self._forget_connection(raw, address)
            raise
        except Exception as exc:
            reason = describe_handshake_error(exc)
            log_event(self.log, logging.WARNING, "refused", peer=peer, reason=reason)
            raw.abort()
            self._forget_connection(raw, address)
            return
        finally:
            self._handshaking -= 1
        if transport is None:  # only when the loop is closing under us
            raw.abort()
            self._forget_connection(raw, address)
            return
        session.start(transport)

    def _forget_connection(self, raw: asyncio.Transport, address: str) -> None:
        if self._connections.pop(raw, None) is None:
            return
        self._per_address[address] -= 1
        if not self._per_address[address]:
            del self._per_address[address]
        if not self._connections:
            self._all_closed.set()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Out of file descriptors is a limit, logged in one line; anything else as usual.

        asyncio pauses accepting for a second after EMFILE/ENFILE and then
        tries again: the server never stops, but the operator should know.
        """
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            log_event(
                self.log,
                logging.ERROR,
                "limited",
                limit="open files",
                error=error.strerror,
                hint="raise the hard limit (ulimit -Hn)",
            )
            return
        loop.default_exception_handler(context)

    def _log_warnings(self) -> None:
        for warning in self.trust.warnings():
            self.log.warning("%s", warning)

    async def _daily_warnings(self) -> None:
        """Once a day (after the warnings at start), about what runs out soon."""
        while True:
            await asyncio.sleep(WARNING_PERIOD)
            self._log_warnings()

    async def _purge_periodically(self) -> None:
        """At start and every hour: the retention policy, and refs past their days."""
        age, count = self.settings.retention_age, self.settings.retention_count
        while True:
            older_than = dt.datetime.now(dt.UTC) - age if age is not None else None
            try:
                removed = await self.store.purge(older_than, count)
            except Exception:
                self.log.exception("applying the retention policy failed")
            else:
                if removed:
                    self.log.info("retention: removed %d old messages", removed)
            await asyncio.sleep(PURGE_PERIOD)

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = max(0.05, min(self.limits.ping_interval / 2, 5.0))
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for session in self.hub.sessions:
                session.ping_or_drop(now)


def _address(raw: asyncio.Transport) -> str:
    peername = raw.get_extra_info("peername")
    return peername[0] if isinstance(peername, tuple) else str(peername)


# CPython's asyncio SSL layer gives every connection a read buffer of
# SSLProtocol.max_size (256 KiB), zero-filled up front: about 300 KiB per
# idle TLS connection in all (shared/pitfalls.md). Chat frames are small,
# and a read that fills 16 KiB is simply followed by another; 16 KiB cuts
# the cost to about 66 KiB per connection (measured: shared bench S3, 2,000
# connections). It is a private class attribute: tests/test_memory.py pins
# that it still exists and still sizes the buffer.
SSL_READ_BUFFER: Final = 16 * 1024


def shrink_ssl_read_buffers() -> None:
    """Use SSL_READ_BUFFER for the TLS connections this process accepts from now on."""
    if getattr(sslproto.SSLProtocol, "max_size", None) is not None:
        sslproto.SSLProtocol.max_size = SSL_READ_BUFFER


def raise_open_file_limit() -> None:
    """Raise the soft open-file limit to the hard one (1,024 is common)."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

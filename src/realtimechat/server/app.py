"""The server's lifecycle: listen, admit, keep alive, reload, shut down.

Every TCP connection gets a ``TLSServerProtocol`` (server/tlsconn.py) that
does the TLS handshake itself over memory BIOs, so that:

* every refused handshake is logged, once, with the peer's address and
  the reason, and the peer gets OpenSSL's alert rather than a reset;
* a handshake that takes longer than ``Limits.handshake_timeout`` is cut
  (one that has not sent a byte by ``Limits.first_byte_timeout`` sooner),
  at most ``Limits.max_handshakes`` run at once and at most
  ``Limits.max_handshakes_per_source`` from one source; when every slot
  is taken a newcomer sheds the least advanced handshake (admission.py);
* we accept connections ourselves (listener.py), so each keeps the
  address ``accept()`` gave even if it resets at once, and repeated
  refusals from one source are logged as one counted line (refusals.py);
* from a ``--proxy-protocol`` balancer (``ServerSettings.proxy_from``), a
  connection is admitted only once its PROXY header (proxyproto.py) has
  named the client, whose address is then its peer for every cap and log
  line; without one within the first-byte timeout it is refused;
* each connection uses the TLS context current when it arrived, so SIGHUP
  -- or a change to the certificate files, looked for every
  ``ServerSettings.watch_interval`` -- can swap trust anchors and
  certificates for new connections (``reload_tls``);
* it runs on the default asyncio loop and on uvloop alike, with no 256 KiB
  read buffer per connection (the development environment's shared notes,
  ../shared/pitfalls.md, outside this repository, have the measurements that
  ruled out ``ssl=`` on the listener and ``loop.start_tls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import os
import resource
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final, cast

from .. import proxyproto
from ..errors import ConfigError, StoreClosed
from ..protocol import ByeReason
from ..tls import ServerFiles
from . import checks
from .admission import HandshakeSlots, source_of
from .audit import log_event
from .config import Limits, ServerSettings
from .engine import engine_for
from .hub import Hub
from .identity import PeerIdentity
from .listener import Address, Listener, listening_sockets
from .metrics import READY_TIMEOUT, MetricsEndpoint
from .metrics import exposure as metrics_exposure
from .refusals import RefusalLog
from .roomfile import RoomFile
from .sdnotify import Notifier
from .session import Session, SessionContext
from .stats import ServerStats
from .store import MemoryStore, Store
from .strays import StrayCrlWatch
from .tlsconn import TLSServerProtocol, TLSTransport
from .trust import Trust, revoked_keys

log = logging.getLogger("realtimechat.server")
WARNING_PERIOD = 24 * 3600.0  # seconds between expiry warnings in the log
PURGE_PERIOD = 3600.0  # seconds between applications of the retention policy
OPEN_FILES_LOG_PERIOD = 5.0  # at most one "limited open files" line this often
# Descriptors that are not connections: listeners, the store, logs, the
# loop's own. Connections past (soft limit - this) are "near the limit".
OPEN_FILES_RESERVE = 32


def format_peer(peername: object) -> str:
    """``host:port``, with brackets for IPv6, for logs."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername)


# Refusals of a --proxy-protocol balancer's connection (stats.py labels them bad_proxy_header).
BAD_HEADER: Final = "bad PROXY header"
HEADER_TIMED_OUT: Final = f"{BAD_HEADER}: none within the first-byte timeout"


class _Accepted(TLSServerProtocol):
    """A connection the server tracks: caps on arrival, a ``Session`` after TLS.

    Its address is the one ``accept()`` returned (listener.py), not the
    transport's: a peer that resets at once has none by then on uvloop.
    """

    def __init__(self, server: ChatServer, peername: object) -> None:
        self.server = server
        self.trust = server.trust  # the trust current when it arrived
        limits = server.limits
        super().__init__(
            self.trust.context,
            on_ready=self._ready,
            on_refused=self._refused,
            handshake_timeout=limits.handshake_timeout,
            first_byte_timeout=limits.first_byte_timeout,
        )
        self._set_peer(peername)
        # From a --proxy-protocol balancer: admitted once its PROXY header
        # names the client, whose address every per-source limit then counts.
        self.header: bytearray | None = (
            bytearray() if server.settings.proxied(self.address) else None
        )
        self._header_timer: asyncio.TimerHandle | None = None
        self._raw_transport: asyncio.Transport | None = None
        self.admitted = False
        self.session: Session | None = None
        self.refuse_with: str | None = None  # a cap was hit: refuse in words after TLS
        self.identity_key: str | None = None  # counted against its identity's cap

    def _set_peer(self, peername: object) -> None:
        limits = self.server.limits
        self.peer = format_peer(peername)
        self.address = peername[0] if isinstance(peername, tuple) else str(peername)
        self.source = source_of(self.address, limits.ipv4_prefix, limits.ipv6_prefix)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self.header is not None:
            # The header comes first, within the first-byte timeout, before any admission.
            self._raw_transport = transport
            self._header_timer = asyncio.get_running_loop().call_later(
                self.server.limits.first_byte_timeout, self._header_refused, HEADER_TIMED_OUT
            )
            return
        self._admit(transport)

    def _admit(self, transport: asyncio.Transport) -> bool:
        if not self.server.admit(self):
            transport.abort()
            return False
        self.admitted = True
        super().connection_made(transport)
        return True

    def data_received(self, data: bytes) -> None:
        if self.header is None:
            super().data_received(data)
            return
        self.header += data
        try:
            header = proxyproto.parse(bytes(self.header))
        except proxyproto.ProxyHeaderError as exc:
            self._header_refused(f"{BAD_HEADER}: {exc}")
            return
        if header is None:
            return  # bounded: parse refuses anything longer than a header can be
        rest = bytes(self.header[header.length :])
        transport = self._raw_transport
        assert transport is not None
        self._end_header()
        if header.source is None:
            # LOCAL (the balancer's health check) or no IP source: the balancer's own.
            transport.close()
            return
        self._set_peer(header.source)
        if self._admit(transport) and rest:
            super().data_received(rest)

    def eof_received(self) -> bool:
        if self.header is not None:
            self._header_refused(f"{BAD_HEADER}: peer closed the connection before it")
            return False
        return super().eof_received()

    def _header_refused(self, reason: str) -> None:
        """No valid PROXY header from a balancer: refused (counted on the balancer's address)."""
        transport = self._raw_transport
        self._end_header()
        if transport is not None:
            transport.abort()
        self.server.refused(self, reason)

    def _end_header(self) -> None:
        self.header = None
        self._raw_transport = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted:
            super().connection_lost(exc)
            return
        if self.header is not None:  # reset while its header was awaited
            self._header_refused(f"{BAD_HEADER}: peer closed the connection before it")
        self._let_go()  # refused on arrival: only its own callbacks refer back to it

    def progressed(self) -> None:
        self.server.handshake_progressed(self)

    def _ready(self, transport: TLSTransport) -> asyncio.Protocol:
        self.server.handshake_done(self)
        session = Session(self.server.session_context, self.server.hub, self.trust, self.peer)
        session.refuse_with = self.refuse_with
        session.admit_identity = lambda identity: self.server.admit_identity(self, identity)
        session.on_closed = lambda: self.server.forget(self)
        self.session = session
        session.start(transport)
        if self.server.shutting_down:  # finished its handshake while we stop
            session.end(ByeReason.SHUTDOWN)
        elif self.server.trust is not self.trust:
            # Reloaded while this handshake ran: the old context verified the
            # certificate, but revocation and expiry follow the new files.
            session.recheck(self.server.trust)
        return session

    def _refused(self, reason: str) -> None:
        self.server.handshake_done(self)
        self.server.refused(self, reason)
        self.server.forget(self)


def utc_now() -> dt.datetime:
    """The wall clock, in UTC (a test gives a server another)."""
    return dt.datetime.now(dt.UTC)


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
        clock: Callable[[], dt.datetime] = utc_now,
        metrics: tuple[str, int] | None = None,
    ) -> None:
        self.files = files
        self.clock = clock  # the wall clock certificates' lifetimes are measured by
        self.hosts = list(hosts) if hosts else None
        self.port = port
        self.limits = limits or Limits()
        self.settings = settings or ServerSettings()
        self.log = logger or log
        self._files_seen = self._files_on_disk()  # before loading: a change meanwhile reloads
        self.trust = Trust.load(files, tls13_only=self.settings.tls13_only)  # before listening
        # What rtchat-server check would FAIL stops us here; its WARNs are logged at start.
        checks.refuse_failures(self.trust.findings(clock()))
        self.room_file = self._load_room_file()  # likewise
        self._stray_crls = StrayCrlWatch(files.crl, self.log)
        self._listeners: list[Listener] = []
        self._handshakes: HandshakeSlots[_Accepted] = HandshakeSlots()  # in progress
        self._connections: set[_Accepted] = set()  # every connection we hold
        self._per_address: Counter[str] = Counter()  # open connections per source (admission.py)
        self._per_identity: Counter[str] = Counter()  # sessions per identity (PeerIdentity.key)
        self._refusals = RefusalLog(
            self.log,
            interval=self.limits.refusal_log_interval,
            max_keys=self.limits.refusal_log_sources,
        )
        self._background: asyncio.Task[None] | None = None  # the loops' TaskGroup (_run_loops)
        # Set if a background loop failed: the server is then not whole, and
        # rtchat-server stops with an error (``failure`` says what it was).
        self.failed = asyncio.Event()
        self.failure: BaseException | None = None
        self._all_closed = asyncio.Event()  # set when the last connection is gone
        self._hub: Hub[Session] | None = None
        self._session_context: SessionContext | None = None
        self.store: Store = store if store is not None else MemoryStore()
        self.stats = ServerStats()  # what the metrics count (stats.py)
        self.metrics_address = metrics  # --metrics: where to serve them, if anywhere
        self.metrics: MetricsEndpoint | None = None
        self._open_files_limit = 0  # the soft RLIMIT_NOFILE, read at start
        self.shutting_down = False
        self._open_files_logged_at = -OPEN_FILES_LOG_PERIOD
        self._open_files_unlogged = 0  # times hit since the last line

    @property
    def hub(self) -> Hub[Session]:
        assert self._hub is not None, "server not started"
        return self._hub

    @property
    def session_context(self) -> SessionContext:
        assert self._session_context is not None, "server not started"
        return self._session_context

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Where we listen, as (host, port) pairs (port 0 resolved)."""
        out = []
        for listener in self._listeners:
            for sock in listener.sockets:
                name = sock.getsockname()
                out.append((name[0], name[1]))
        return out

    # ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.store.open()
        engine = engine_for(self.store, loop, self.log)
        self._hub = Hub(
            loop,
            self.limits,
            self.settings,
            self.log,
            engine=engine,
            stats=self.stats,
            clock=self.clock,
        )
        self._session_context = SessionContext.of(self._hub, self.clock)
        await self._hub.start(self.room_file)
        await self._hub.revoke(revoked_keys(self.trust))  # the other servers refuse them too
        self._open_files_limit = raise_open_file_limit()
        loop.set_exception_handler(self._loop_exception)
        if self.metrics_address is not None:  # before listening: a port in use stops us first
            self.metrics = MetricsEndpoint.for_server(self)
            await self.metrics.start(*self.metrics_address)
        sockets = listening_sockets(self.hosts, self.port, backlog=1024)
        self._listeners.append(Listener(sockets, self._accepted, on_limited=self._accept_failed))
        self._log_warnings()
        self._stray_crls.check()
        self._background = asyncio.create_task(self._run_loops(), name="background")
        where = ", ".join(format_peer(address) for address in self.addresses)
        kind = "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
        self.log.info(
            "listening on %s (protocol v1, mutual TLS, %s loop, %s open files)",
            where,
            kind,
            self._open_files_limit,
        )
        self.log.info("%s", self.trust.describe())
        self.log.info("certificates from %s; %s", _where(self.files), self.store.describe())
        if self.settings.rooms_file is not None:
            self.log.info("%s", self.room_file.describe())
        if self.metrics is not None:
            where = ", ".join(format_peer(address) for address in self.metrics.addresses)
            self.log.info("metrics on http://%s/metrics (and /healthz, /readyz)", where)
            exposed = metrics_exposure(self.metrics_address[0]) if self.metrics_address else None
            if exposed is not None:
                self.log.warning("%s", exposed)

    @property
    def started(self) -> bool:
        """Whether ``start`` has made the hub (the metrics read it only then)."""
        return self._hub is not None

    async def readiness(self) -> str | None:
        """None when the server takes chat connections and its store answers; else why not."""
        if self.shutting_down:
            return "shutting down"
        if not self._listeners:
            return "not listening yet"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.store.ping()
        except TimeoutError:
            return f"the message store did not answer within {READY_TIMEOUT:g} s"
        except Exception as exc:  # closed, damaged: the operator wants the words
            return f"the message store failed: {exc}"
        return None

    def connection_states(self) -> Counter[str]:
        """Connections now by state: handshaking, before_hello, welcomed, closing."""
        states: Counter[str] = Counter()
        for connection in self._connections:
            session = connection.session
            if connection.handshaking:
                states["handshaking"] += 1
            elif session is None or session.closed:
                states["closing"] += 1
            elif session.member is not None:
                states["welcomed"] += 1
            else:
                states["before_hello"] += 1
        return states

    @property
    def connection_count(self) -> int:
        """Connections admitted and not yet closed: handshaking or in a session."""
        return len(self._connections)

    def reload(self) -> None:
        """SIGHUP, or a watched file changed: the certificate files, then the room file
        (and, on SIGHUP, the bans and mutes rtchat-server wrote to the store)."""
        self.reload_tls()
        self.reload_rooms()
        if self._hub is not None:  # a SIGHUP while starting: start reads them anyway
            self._hub.background(self._hub.moderation.refresh(), "read the bans and mutes")

    def _load_room_file(self) -> RoomFile:
        path = self.settings.rooms_file
        return RoomFile() if path is None else RoomFile.load(path, self.limits.max_topic_chars)

    def reload_rooms(self) -> None:
        """Use the room file as it is now; part the members its doors no longer let in.

        If it cannot be read, the previous rules stay and the error is logged.
        """
        self._files_seen = self._files_on_disk()
        if self.settings.rooms_file is None:
            return
        try:
            room_file = self._load_room_file()
        except ConfigError as exc:
            again = " (read again when it changes)" if self.settings.watch_interval > 0 else ""
            self.log.error(  # noqa: TRY400 - one line for the operator, no traceback
                "room file reload failed, keeping the previous rooms: %s%s", exc, again
            )
            return
        self.room_file = room_file
        self.log.info("rooms reloaded: %s", room_file.describe())
        if self._hub is not None:
            self._hub.apply_room_file(room_file)

    def reload_tls(self) -> None:
        """Use freshly loaded certificates, trust and CRL for new connections.

        Live sessions go on, except those whose certificate is now revoked
        (or expired): they get ``bye {reason: revoked|expired}``. If the
        files cannot be loaded, the old state stays and the error is logged.
        """
        self._files_seen = self._files_on_disk()  # a failure waits for the next change
        try:
            # The trust in force goes along: a CRL older than its own is refused.
            previous = self.trust
            self.trust = Trust.load(
                self.files, previous=previous, tls13_only=self.settings.tls13_only
            )
        except Exception as exc:
            # One line for the operator (a bad file, a wrong key), no traceback.
            again = " (read again when they change)" if self.settings.watch_interval > 0 else ""
            self.log.error(  # noqa: TRY400
                "TLS reload failed, keeping the previous certificates: %s%s", exc, again
            )
            return
        self.log.info(
            "TLS reloaded: new connections use the new certificates and trust (%s)",
            self.trust.describe(),
        )
        self._log_warnings()
        self._stray_crls.check()
        # Every session past its handshake, welcomed or still before hello;
        # handshakes in progress are checked as they finish (_Accepted._ready).
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.recheck(self.trust)
        if self._hub is not None:  # every other server ends these sessions too
            keys = revoked_keys(self.trust, previous)
            self._hub.background(self._hub.revoke(keys), "share the revocations")

    @contextlib.contextmanager
    def handling_signals(self, notifier: Notifier | None = None) -> Iterator[asyncio.Event]:
        """SIGINT and SIGTERM set the event given; SIGHUP reloads. For ``with``, around ``start``.

        With a ``notifier`` (systemd), a SIGHUP reload is told to the service
        manager: RELOADING=1 before it, READY=1 after (sdnotify.py).

        The handlers must be in place before ``start`` logs "listening on":
        whoever waits for that line (a script, a test, rtchat-bench) may
        signal at once, and the default action of SIGHUP and SIGTERM is to
        die on the spot.

        A SIGHUP that comes from the terminal closing (not from ``kill -HUP``)
        stops the server instead, as it would any program run in a terminal.
        """
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        terminals = _terminal_fds()

        def on_hangup() -> None:
            if terminals and not any(os.isatty(fd) for fd in terminals):
                # The terminal we ran in is gone: it hung up, nobody asked to reload.
                self.log.info("the terminal closed")
                stop.set()
                return
            with notifier.reloading() if notifier else contextlib.nullcontext():
                self.reload()

        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        try:
            yield stop
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(signum)

    async def shutdown(self) -> None:
        """``bye {reason: shutdown}`` to everyone, flush for a bounded time, close."""
        self.shutting_down = True
        for listener in self._listeners:
            listener.close()
        if self._background is not None:
            self._background.cancel()  # the TaskGroup cancels every loop
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        for connection in list(self._connections):
            if connection.session is not None:  # no new requests while we finish
                connection.session.stop_reading()
        if self._hub is not None:
            # Messages already accepted are stored and acked before anyone is told bye.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.shutdown_grace):
                    await self._hub.stop()
        await self._say_bye_to_all()
        for listener in self._listeners:
            await listener.wait_closed()
        self._refusals.flush()
        if self.metrics is not None:
            await self.metrics.close()
        if self._hub is not None:
            await self._hub.engine.close()
        await self.store.close()
        self.log.info("stopped")

    async def _say_bye_to_all(self) -> None:
        """``bye shutdown`` to every session (handshakes aborted); wait a grace, then abort."""
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.end(ByeReason.SHUTDOWN)
            elif connection.handshaking:
                connection.abort()
        if self._connections:
            self._all_closed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.shutdown_grace):
                    await self._all_closed.wait()
        for connection in list(self._connections):
            connection.abort()

    # ------------------------------------------------------------------
    # Accepting

    def _accepted(self, address: Address) -> _Accepted:
        """The protocol of a connection just accepted from ``address``."""
        return _Accepted(self, address)

    def admit(self, connection: _Accepted) -> bool:
        """A TCP connection arrived: let it handshake (True), or refuse it now.

        Closed at once (costing a handshake is what a flood wants): over the
        connection cap plus the handshake cap in total; from a source that
        already holds its share of the handshake slots
        (``max_handshakes_per_source``) or twice its connection cap. When
        every handshake slot is taken, the least advanced handshake is shed
        for the newcomer (admission.py): idle sockets cannot lock anyone
        out, whatever their number. Over the connection cap or the
        per-source cap it still gets its handshake, so that the client can
        be told in words (``bye server_full`` or ``bye too_many_connections``)
        rather than left guessing.
        """
        if self.shutting_down:  # accepted as we stopped: nobody will serve it
            return False
        limits = self.limits
        source = connection.source
        if len(self._connections) >= self._open_files_limit - OPEN_FILES_RESERVE:
            self._open_files_short(f"{len(self._connections)} connections open")
        reason = None
        if len(self._connections) >= limits.max_connections + limits.max_handshakes:
            reason = "too many handshakes in progress"
        elif self._handshakes.from_source(source) >= limits.max_handshakes_per_source:
            reason = "too many handshakes in progress from this source"
        elif self._per_address[source] >= 2 * limits.max_per_address:
            reason = "too many connections from this source"
        elif len(self._handshakes) >= limits.max_handshakes:
            victim = self._handshakes.victim()
            if victim is None:  # cannot be while they are full; refuse rather than overfill
                reason = "too many handshakes in progress"
            else:
                victim.shed()  # reports at once: its slot is free before we take it
        if reason is not None:
            self.refused(connection, reason)
            return False
        if len(self._connections) >= limits.max_connections:
            connection.refuse_with = ByeReason.SERVER_FULL
        elif self._per_address[source] >= limits.max_per_address:
            connection.refuse_with = ByeReason.TOO_MANY_CONNECTIONS
        self._connections.add(connection)
        self._per_address[source] += 1
        self._handshakes.add(connection, source)
        return True

    def handshake_progressed(self, connection: _Accepted) -> None:
        self._handshakes.advance(connection, connection.progress)

    def handshake_done(self, connection: _Accepted) -> None:
        self._handshakes.remove(connection)

    def admit_identity(self, connection: _Accepted, identity: PeerIdentity) -> str | None:
        """Count a session against its identity's cap, or say why not (``too_many_sessions``).

        Called once per connection, after TLS, only when no other refusal
        applies: a refused session holds no place of its identity's.
        """
        if self._per_identity[identity.key] >= self.limits.max_per_identity:
            return ByeReason.TOO_MANY_SESSIONS
        self._per_identity[identity.key] += 1
        connection.identity_key = identity.key
        return None

    def refused(self, connection: _Accepted, reason: str) -> None:
        """Log a refusal before or during TLS: in full the first time, then counted per source."""
        self.stats.refused_handshake(reason)
        self._refusals.refused(
            asyncio.get_running_loop().time(),
            peer=connection.peer,
            source=connection.source,
            reason=reason,
        )

    def forget(self, connection: _Accepted) -> None:
        if connection not in self._connections:
            return  # not tracked (any more)
        self._connections.discard(connection)
        self._handshakes.remove(connection)  # (if still handshaking)
        source = connection.source
        self._per_address[source] -= 1
        if not self._per_address[source]:
            del self._per_address[source]
        key = connection.identity_key
        if key is not None:
            connection.identity_key = None
            self._per_identity[key] -= 1
            if not self._per_identity[key]:
                del self._per_identity[key]
        if not self._connections:
            self._all_closed.set()

    def _accept_failed(self, error: OSError) -> None:
        """accept() ran out of descriptors: the listener pauses a moment; the log says so."""
        self._open_files_short(f"accept failed: {error.strerror}")

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Out of file descriptors is a limit, logged in one line; anything else as usual.

        Our listener pauses accepting for a second after EMFILE/ENFILE and
        then tries again (listener.py); elsewhere the loop may meet the
        same, and admit() notices connections nearing the limit too. The
        server never stops, but the operator should know.
        """
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            self._open_files_short(f"accept failed: {error.strerror}")
            return
        loop.default_exception_handler(context)

    def _open_files_short(self, what: str) -> None:
        """One ``limited`` line per OPEN_FILES_LOG_PERIOD, however often it happens.

        An accept can fail once per connection waiting in the backlog
        (thousands a second), so each line says how many times it happened
        since the previous one.
        """
        self._open_files_unlogged += 1
        now = asyncio.get_running_loop().time()
        if now - self._open_files_logged_at < OPEN_FILES_LOG_PERIOD:
            return
        log_event(
            self.log,
            logging.ERROR,
            "limited",
            limit="open files",
            error=what,
            times=self._open_files_unlogged,
            max=self._open_files_limit,
            hint="raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd)",
        )
        self._open_files_logged_at = now
        self._open_files_unlogged = 0

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

    def _reload_changed(self, current: tuple[FileState, ...]) -> None:
        """Reload what changed: the certificate files (the last entry is the room file's)."""
        tls, rooms = current[:-1] != self._files_seen[:-1], current[-1] != self._files_seen[-1]
        try:
            if tls:
                self.log.info("certificate files changed on disk: reloading")
                self.reload_tls()
            if rooms:
                self.log.info("room file changed on disk: reloading")
                self.reload_rooms()
        except Exception:  # a bug here must not end the watching for good
            self.log.exception("reloading after a change on disk failed")

    def _files_on_disk(self) -> tuple[FileState, ...]:
        """What the watched files look like: the certificate files and the room file."""
        return (*_files_on_disk(self.files), _file_state(self.settings.rooms_file))

    async def _reload_on_change(self) -> None:
        """Reload when the certificate (or room) files have changed and then stayed put.

        "Stayed put" -- the same on two looks in a row -- lets a copy or an
        scp finish before we read; a cert and key replaced a moment apart
        may still fail once (logged), and the second change reloads again.
        """
        previous = self._files_seen
        while True:
            await asyncio.sleep(self.settings.watch_interval)
            self._stray_crls.check()
            current = self._files_on_disk()
            if current != self._files_seen and current == previous:
                self._reload_changed(current)
            previous = current

    async def _run_loops(self) -> None:
        """Every background loop, in one TaskGroup: keepalive, expiry warnings, retention,
        the file watch.

        Each loop handles the failures it expects. One that fails anyway
        takes the others down with it (TaskGroup) and the failure surfaces:
        logged with its traceback, and ``failed`` set, on which rtchat-server
        stops with an error rather than run on without keepalive or
        retention, unseen.
        """
        try:
            async with asyncio.TaskGroup() as loops:
                loops.create_task(self._keepalive_loop(), name="keepalive")
                loops.create_task(self._daily_warnings(), name="expiry-warnings")
                loops.create_task(self._purge_periodically(), name="retention")
                loops.create_task(self._flush_refusals(), name="refusal-counts")
                if self.settings.watch_interval > 0:
                    loops.create_task(self._reload_on_change(), name="file-watch")
                    loops.create_task(self._refresh_sanctions(), name="ban-watch")
        except Exception as failure:  # an ExceptionGroup of what failed
            self.failure = failure
            self.log.critical("a background loop failed", exc_info=failure)
            self.failed.set()

    async def _refresh_sanctions(self) -> None:
        """Apply the bans ``rtchat-server ban`` writes to the store, as often as files are
        looked at: a ban from the host ends a live session within seconds."""
        while True:
            await asyncio.sleep(self.settings.watch_interval)
            try:
                await self.hub.moderation.refresh()
            except StoreClosed:
                return  # shutting down
            except Exception:  # a store that failed once may answer next time
                self.log.exception("reading the bans and mutes failed")

    async def _flush_refusals(self) -> None:
        """Write the refusals counted in each interval, even when no new one comes to do it."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.limits.refusal_log_interval)
            if self._refusals.due(loop.time()):
                self._refusals.flush()

    async def _keepalive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = max(0.05, min(self.limits.ping_interval / 2, 5.0))
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for session in self.hub.sessions:
                session.ping_or_drop(now)
            self.hub.sweep(now)


# inode, size, mtime and ctime in ns; None: missing. ctime catches a rewrite
# that keeps the size and has its mtime set back (scp -p, cp -p).
FileState = tuple[int, int, int, int] | None


def _files_on_disk(files: ServerFiles) -> tuple[FileState, ...]:
    """What the certificate files look like: any rewrite, replace or removal changes it."""
    paths = (files.cert, files.key, files.ca, files.crl, files.pins)
    return tuple(_file_state(path) for path in paths)


def _file_state(path: Path | None) -> FileState:
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _where(files: ServerFiles) -> str:
    """The folder the server's files came from, or the files themselves."""
    paths = (files.cert, files.key, *files.trust_files)
    folders = {path.parent for path in paths}
    if len(folders) == 1:
        return os.path.abspath(folders.pop())
    return ", ".join(str(path) for path in paths)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit as far as the system allows (1,024 is common); the result.

    The hard limit is tried first. Where the hard limit is "unlimited" the
    kernel still refuses a soft limit over its own cap (macOS refuses
    RLIM_INFINITY and anything over kern.maxfilesperproc, Linux anything over
    fs.nr_open), so the highest value it accepts is then found by bisection:
    a server left at macOS's default 256 would refuse connections past ~250.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = 2**31  # what "unlimited" counts as, for the connection cap
    ceiling = unlimited if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft >= ceiling:
        return soft
    if _set_soft_open_files(hard, hard):
        return ceiling
    return highest_accepted(soft, ceiling, lambda limit: _set_soft_open_files(limit, hard))


def highest_accepted(accepted: int, refused: int, accepts: Callable[[int], bool]) -> int:
    """The highest value in [accepted, refused) that ``accepts`` takes, by bisection.

    ``accepted`` is known to be taken and ``refused`` known not to be; each
    value tried is taken or refused for good (a soft limit set stays set), so
    the last one taken is the answer.
    """
    while refused - accepted > 1:
        middle = (accepted + refused) // 2
        if accepts(middle):
            accepted = middle
        else:
            refused = middle
    return accepted


def _set_soft_open_files(soft: int, hard: int) -> bool:
    """Whether the system took ``soft`` as the soft open-file limit."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    except (ValueError, OSError):
        return False
    return True


def _terminal_fds() -> list[int]:
    """Which of stdin, stdout, stderr are terminals now (after a hangup, none is)."""
    return [fd for fd in (0, 1, 2) if os.isatty(fd)]

"""A client's connection to a server: connect, say hello, exchange frames.

Connecting (TCP and TLS) is here, and so is ``connect_error``, what each
way a connect fails means (rtchat-bench uses it too). Everything after the
handshake follows ``sansio.client.ClientProtocol``: the client counts
itself connected only when ``welcome`` arrives, and EOF before it means
"the server did not accept our certificate" (with TLS 1.3 a server refuses
our certificate after our side of the handshake is done: measured in the
development environment's shared notes, ../shared/pitfalls.md, outside this
repository).
``ServerConnection`` is its adapter: it reads and writes, and keeps the
time for its keepalive (a ``ping`` after ``ping_interval`` of server
silence; the connection is dead when nothing at all arrives within
``pong_timeout`` after that).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import (
    CannotConnect,
    CertificateRejected,
    ClientError,
    ConnectionLost,
    RtchatError,
    ServerNameMismatch,
    ServerNotTrusted,
    SessionRefused,
)
from ..protocol import Bye, Frame, Welcome, encode
from ..sansio.client import (
    ClientProtocol,
    FrameReceived,
    Lost,
    Refused,
    Rejected,
    Welcomed,
    error_for,
)
from ..tls import describe_handshake_error, is_name_mismatch, peer_speaks_no_tls
from .servercert import server_certificate_names

READ_SIZE: Final = 64 * 1024
# OpenSSL's verify codes for "no certificate we trust signed this chain":
# X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN and X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY.
_NOT_OUR_CA: Final = frozenset({19, 20})

# Makes an SSLContext when one is needed (``ServerConnection.open``'s names_context).
ContextFactory = Callable[[], ssl.SSLContext]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the server is and the name its certificate must carry."""

    host: str
    port: int
    cn: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


async def _connect(
    endpoint: Endpoint, context: ssl.SSLContext, timeout: float, trust: Path | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """TCP and the TLS handshake; each way it can fail becomes a ClientError (``connect_error``)."""
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.open_connection(
                endpoint.host,
                endpoint.port,
                ssl=context,
                server_hostname=endpoint.cn,
                ssl_handshake_timeout=timeout,
                limit=READ_SIZE,
            )
    except OSError as exc:  # TimeoutError and ssl.SSLError are OSErrors too
        raise connect_error(exc, endpoint, trust) from None


def connect_error(exc: OSError, endpoint: Endpoint, trust: Path | None = None) -> ClientError:
    """What a failed connect (TCP or the TLS handshake) means, for rtchat and rtchat-bench alike.

    ``trust`` is the file the context trusts (ca.crt), named when the
    server's certificate was signed by another CA.
    """
    if isinstance(exc, ssl.SSLError):
        return _tls_error(exc, endpoint, trust)
    reason: str
    if isinstance(exc, TimeoutError):
        reason = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused (is the server running?)"
    else:
        reason = exc.strerror or str(exc) or type(exc).__name__
    return CannotConnect(f"cannot connect to {endpoint}: {reason}")


def _tls_error(exc: ssl.SSLError, endpoint: Endpoint, trust: Path | None) -> ClientError:
    """A failed TLS handshake: not a TLS server at all, the server's certificate, or ours."""
    if peer_speaks_no_tls(exc):
        return CannotConnect(
            f"cannot connect to {endpoint}: the server did not answer in TLS "
            f"(is {endpoint.port} the chat server's port?)"
        )
    if not isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateRejected(
            f"TLS handshake with {endpoint} failed: {describe_handshake_error(exc)}"
        )
    if is_name_mismatch(exc):
        return ServerNameMismatch(
            f"the server's certificate is not for {endpoint.cn!r} "
            f"(--cn must match the certificate's name): {exc.verify_message}"
        )
    if trust is not None and exc.verify_code in _NOT_OUR_CA:
        return ServerNotTrusted(
            f"the server's certificate is not signed by the CA in {trust}: "
            "ask your admin for the server's ca.crt"
        )
    return ServerNotTrusted(f"the server's certificate is not trusted: {exc.verify_message}")


async def _certificate_names(
    endpoint: Endpoint, names_context: ContextFactory | None, timeout: float
) -> list[str]:
    """What the server's certificate is for, read without the name check; [] if unknown."""
    if names_context is None:
        return []
    try:
        context = names_context()
    except (RtchatError, OSError):  # it loaded once already; a hint is not worth failing for
        return []
    return await server_certificate_names(
        endpoint.host, endpoint.port, endpoint.cn, context, timeout=timeout
    )


class ServerConnection:
    """One TLS connection to a chat server, speaking protocol v1.

    The rules are ``sansio.client.ClientProtocol``'s; this class reads,
    writes and keeps the time for it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        ping_interval: float = 30.0,
        pong_timeout: float = 15.0,
    ) -> None:
        self.endpoint = endpoint
        self._reader = reader
        self._writer = writer
        self._protocol = ClientProtocol(
            str(endpoint),
            asyncio.get_running_loop().time(),
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
        )
        self.welcome: Welcome | None = None

    @property
    def protocol_errors(self) -> int:
        """Frames from the server we could not read (and skipped)."""
        return self._protocol.protocol_errors

    @classmethod
    async def open(
        cls,
        endpoint: Endpoint,
        context: ssl.SSLContext,
        *,
        timeout: float = 10.0,
        ping_interval: float = 30.0,
        pong_timeout: float = 15.0,
        names_context: ContextFactory | None = None,
        trust: Path | None = None,
    ) -> ServerConnection:
        """Connect and finish the TLS handshake, or raise a ClientError.

        ``names_context`` makes a context like ``context`` without the name
        check: when the server's certificate is not for ``endpoint.cn``, one
        more handshake with it reads the names the certificate is for, so
        the error can say which --cn would do (``servercert``). ``trust``,
        the file ``context`` trusts, is named when another CA signed the
        server's certificate.
        """
        try:
            reader, writer = await _connect(endpoint, context, timeout, trust)
        except ServerNameMismatch:
            names = await _certificate_names(endpoint, names_context, timeout)
            if not names:
                raise
            raise ServerNameMismatch(
                f"the server's certificate is not for {endpoint.cn!r} "
                f"(it is for: {', '.join(names)}): use one of those with --cn",
                names,
            ) from None
        return cls(endpoint, reader, writer, ping_interval=ping_interval, pong_timeout=pong_timeout)

    # ------------------------------------------------------------------

    async def hello(
        self, name: str | None = None, since: int | None = None, *, timeout: float = 15.0
    ) -> Welcome:
        """Say hello and wait for ``welcome``; raise if the server refuses.

        A refused connection is closed before the error propagates.
        """
        try:
            await self._write(self._protocol.hello(name, since))
            async with asyncio.timeout(timeout):
                event = await self._next_event()
        except TimeoutError:
            self._writer.transport.abort()
            raise SessionRefused(
                "timeout", f"no welcome from {self.endpoint} within {timeout:g} s"
            ) from None
        except BaseException:
            self._writer.transport.abort()
            raise
        assert isinstance(event, Welcomed), event  # before welcome the machine hands over nothing
        self.welcome = event.welcome
        return self.welcome

    async def send(self, frame: Frame) -> None:
        """Send one frame; ConnectionLost if the connection is gone."""
        await self._write(encode(frame))

    async def receive(self) -> Frame:
        """The next frame from the server (its pings answered on the way, never a ``bye``).

        Raises ConnectionLost when the connection ends or goes silent, and
        SessionRefused after a ``bye`` for a permanent reason.
        """
        event = await self._next_event()
        assert isinstance(event, FrameReceived), event  # the welcome was hello()'s
        return event.frame

    def abort(self) -> None:
        """Drop the connection at once (it is dead or we are done with it)."""
        self._writer.transport.abort()

    async def close(self, *, say_bye: bool = True, timeout: float = 2.0) -> None:
        """Leave: ``bye`` (best effort), then close the TLS connection."""
        try:
            async with asyncio.timeout(timeout):
                if say_bye and not self._writer.is_closing():
                    await self.send(Bye())
                self._writer.close()
                await self._writer.wait_closed()
        except (TimeoutError, ConnectionLost, ConnectionError, ssl.SSLError):
            self._writer.transport.abort()

    # ------------------------------------------------------------------

    async def _next_event(self) -> Welcomed | FrameReceived:
        """Read until the machine has something for us; raise the error an ending means."""
        protocol = self._protocol
        loop = asyncio.get_running_loop()
        while True:
            event = protocol.next_event()
            await self._write(b"".join(protocol.data_to_send()))  # pongs, our ping
            if isinstance(event, Welcomed | FrameReceived):
                return event
            if event is None and protocol.ending is not None:
                event = protocol.ending  # it ended before: the same error again
            if isinstance(event, Refused | Rejected | Lost):
                raise error_for(event)
            if event is None:
                await self._read(protocol, loop)
            # Unreadable: skipped (counted in protocol_errors)

    async def _read(self, protocol: ClientProtocol, loop: asyncio.AbstractEventLoop) -> None:
        """One read into the machine: data, the end of the stream, or silence until its deadline."""
        try:
            async with asyncio.timeout_at(protocol.deadline):
                data = await self._reader.read(READ_SIZE)
        except TimeoutError:
            protocol.tick(loop.time())
            return
        except ssl.SSLError as exc:
            await self._closed_quietly()
            protocol.receive_eof(describe_handshake_error(exc))
            return
        except ConnectionError as exc:
            await self._closed_quietly()
            protocol.receive_eof(exc.strerror or str(exc))
            return
        if data:
            protocol.receive_data(data, loop.time())
        else:
            protocol.receive_eof()

    async def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError, RuntimeError) as exc:
            raise ConnectionLost(f"connection to {self.endpoint} lost: {exc}") from None

    async def _closed_quietly(self) -> None:
        """Close, and take the error asyncio also left in the stream's 'closed' future.

        Unawaited, that future reports "Future exception was never retrieved"
        with a traceback when the process exits right after the error (a
        refused certificate): one clear line must stay the only output.
        """
        self._writer.transport.abort()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()

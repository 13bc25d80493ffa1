"""A client's connection to a server: connect, say hello, exchange frames.

The client counts itself connected only when ``welcome`` arrives. With
TLS 1.3 the client's side of the handshake completes before the server
has checked our certificate, and a server that refuses it just closes the
connection: so EOF before ``welcome`` means "the server did not accept
our certificate" (measured in the development environment's shared notes,
../shared/pitfalls.md, outside this repository), and is reported as such.

Keepalive: ``receive`` pings a server that has been silent for
``ping_interval`` and declares the connection dead if nothing at all
arrives within ``pong_timeout`` after that.
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
    ConnectionLost,
    ProtocolError,
    RtchatError,
    ServerNameMismatch,
    ServerNotTrusted,
    SessionRefused,
)
from ..protocol import (
    PROTOCOL_VERSION,
    Bye,
    Error,
    Frame,
    FrameDecoder,
    Hello,
    Ping,
    Pong,
    Welcome,
    encode,
)
from ..sanitize import visible
from ..tls import describe_handshake_error, is_name_mismatch, peer_speaks_no_tls
from .servercert import server_certificate_names

READ_SIZE: Final = 64 * 1024
# OpenSSL's verify codes for "no certificate we trust signed this chain":
# X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN and X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY.
_NOT_OUR_CA: Final = frozenset({19, 20})

# Makes an SSLContext when one is needed (``ServerConnection.open``'s names_context).
ContextFactory = Callable[[], ssl.SSLContext]

# Reasons in a server's ``bye`` after which reconnecting cannot help.
PERMANENT_BYE_REASONS: Final = frozenset({"revoked", "expired", "name_taken", "bad_name"})
_BYE_EXPLAINED: Final = {
    "revoked": "your certificate has been revoked: ask your admin for a new one",
    "expired": "your certificate has expired: ask your admin for a new one",
    "server_full": "the server is full: try again later",
    "too_many_connections": "too many connections from your address: close some and try again",
    "flooding": "the server disconnected us for sending too much too fast",
}


def bye_error(frame: Bye, *, before_welcome: bool) -> SessionRefused | ConnectionLost:
    """The error a server's ``bye`` means for us: final (refused) or not (lost)."""
    reason = frame.reason or "no reason given"
    message = _BYE_EXPLAINED.get(reason, f"the server ended the session: {visible(reason)}")
    if before_welcome or reason in PERMANENT_BYE_REASONS:
        return SessionRefused(reason, message)
    return ConnectionLost(message)


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
    """TCP and the TLS handshake; each way it can fail becomes a ClientError.

    ``trust`` is the file ``context`` trusts (ca.crt), named when the
    server's certificate was signed by another CA.
    """
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
    except ssl.SSLCertVerificationError as exc:
        if is_name_mismatch(exc):
            raise ServerNameMismatch(
                f"the server's certificate is not for {endpoint.cn!r} "
                f"(--cn must match the certificate's name): {exc.verify_message}"
            ) from None
        if trust is not None and exc.verify_code in _NOT_OUR_CA:
            raise ServerNotTrusted(
                f"the server's certificate is not signed by the CA in {trust}: "
                "ask your admin for the server's ca.crt"
            ) from None
        raise ServerNotTrusted(
            f"the server's certificate is not trusted: {exc.verify_message}"
        ) from None
    except ssl.SSLError as exc:
        if peer_speaks_no_tls(exc):
            raise CannotConnect(
                f"cannot connect to {endpoint}: the server did not answer in TLS "
                f"(is {endpoint.port} the chat server's port?)"
            ) from None
        raise CertificateRejected(
            f"TLS handshake with {endpoint} failed: {describe_handshake_error(exc)}"
        ) from None
    except TimeoutError:
        raise CannotConnect(f"cannot connect to {endpoint}: timed out") from None
    except ConnectionRefusedError:
        raise CannotConnect(
            f"cannot connect to {endpoint}: connection refused (is the server running?)"
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise CannotConnect(f"cannot connect to {endpoint}: {reason}") from None


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
    """One TLS connection to a chat server, speaking protocol v1."""

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
        self._decoder = FrameDecoder.for_client()
        self._pending: list[Frame | ProtocolError] = []
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.welcome: Welcome | None = None
        self.protocol_errors = 0  # frames from the server we could not read

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
                f"(it is for: {', '.join(names)}): use one of those with --cn"
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
            await self.send(Hello(v=PROTOCOL_VERSION, name=name, since=since))
            async with asyncio.timeout(timeout):
                self.welcome = await self._await_welcome()
        except TimeoutError:
            self._writer.transport.abort()
            raise SessionRefused(
                "timeout", f"no welcome from {self.endpoint} within {timeout:g} s"
            ) from None
        except BaseException:
            self._writer.transport.abort()
            raise
        return self.welcome

    async def _await_welcome(self) -> Welcome:
        while True:
            frame = await self._next_frame(before_welcome=True)
            if isinstance(frame, Welcome):
                return frame
            if isinstance(frame, Error):
                raise SessionRefused(frame.code, f"the server refused us: {visible(frame.message)}")
            if isinstance(frame, Bye):
                raise bye_error(frame, before_welcome=True)
            if isinstance(frame, Ping):
                await self.send(Pong(t=frame.t))

    async def send(self, frame: Frame) -> None:
        """Send one frame; ConnectionLost if the connection is gone."""
        try:
            self._writer.write(encode(frame))
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError, RuntimeError) as exc:
            raise ConnectionLost(f"connection to {self.endpoint} lost: {exc}") from None

    async def receive(self) -> Frame:
        """The next frame from the server (answering its pings on the way).

        Raises ConnectionLost when the connection ends or goes silent.
        """
        while True:
            frame = await self._next_frame(before_welcome=False)
            if isinstance(frame, Ping):
                await self.send(Pong(t=frame.t))
                continue
            return frame

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

    async def _next_frame(self, *, before_welcome: bool) -> Frame:
        while True:
            while not self._pending:
                data = await self._read_with_keepalive(before_welcome)
                self._pending.extend(self._decoder.feed(data))
            event = self._pending.pop(0)
            if not isinstance(event, ProtocolError):
                return event
            if event.fatal:
                raise ConnectionLost(f"unreadable data from the server: {event.message}")
            # A newer server may send frames or values we do not know:
            # skip them rather than give up the session.
            self.protocol_errors += 1

    async def _read_with_keepalive(self, before_welcome: bool) -> bytes:
        pinged = False
        while True:
            wait = self.pong_timeout if pinged else self.ping_interval
            try:
                async with asyncio.timeout(wait):
                    data = await self._reader.read(READ_SIZE)
            except TimeoutError:
                if pinged:
                    raise ConnectionLost(
                        f"the server at {self.endpoint} stopped answering"
                    ) from None
                pinged = True
                await self.send(Ping())
                continue
            except ssl.SSLError as exc:
                await self._closed_quietly()
                raise self._lost(before_welcome, describe_handshake_error(exc)) from None
            except ConnectionError as exc:
                await self._closed_quietly()
                raise self._lost(before_welcome, exc.strerror or str(exc)) from None
            if not data:
                raise self._lost(before_welcome, "the server closed the connection")
            return data

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

    def _lost(self, before_welcome: bool, reason: str) -> Exception:
        if before_welcome:
            # With TLS 1.3 our side of the handshake is done before the server
            # has checked our certificate: its alert (or, from servers that
            # send none, a closed connection) is how a refusal shows.
            return CertificateRejected(f"the server did not accept our certificate: {reason}")
        return ConnectionLost(f"connection to {self.endpoint} lost: {reason}")

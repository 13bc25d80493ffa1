"""Test helpers: the PKI model, real TLS clients, waits with bounds (never sleeps)."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import trustme

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.errors import ProtocolError
from realtimechat.pki import CaFolder
from realtimechat.protocol import Frame, FrameDecoder, encode
from realtimechat.server.app import ChatServer
from realtimechat.server.config import Limits
from realtimechat.tls import ClientFiles, ServerFiles, client_context

USERS = ("alice", "bob", "carol", "dave", "erin")
WAIT = 10.0  # generous bound for anything that should happen "at once"
F = TypeVar("F", bound=Frame)


@dataclass
class Pki:
    """A CA folder with a server certificate and client certificates, plus a rogue CA."""

    folder: CaFolder
    rogue: trustme.CA
    rogue_dir: Path

    @property
    def server(self) -> ServerFiles:
        return ServerFiles(
            cert=self.folder.server_cert,
            key=self.folder.server_key,
            ca=self.folder.ca_cert,
            crl=self.folder.crl,
        )

    def client(self, name: str) -> ClientFiles:
        return ClientFiles(
            cert=self.folder.client_cert(name),
            key=self.folder.client_key(name),
            ca=self.folder.ca_cert,
        )

    def rogue_client(self, name: str = "mallory") -> ClientFiles:
        """A client certificate from a CA the server does not trust."""
        cert = self.rogue_dir / f"{name}.crt"
        key = self.rogue_dir / f"{name}.key"
        if not cert.exists():
            issued = self.rogue.issue_cert(f"{name}.example", common_name=name)
            issued.cert_chain_pems[0].write_to_path(str(cert))
            issued.private_key_pem.write_to_path(str(key))
        return ClientFiles(cert=cert, key=key, ca=self.folder.ca_cert)

    def rogue_server(self) -> ServerFiles:
        """A server certificate for chatserver from the rogue CA."""
        cert = self.rogue_dir / "server.crt"
        key = self.rogue_dir / "server.key"
        if not cert.exists():
            issued = self.rogue.issue_cert("chatserver", "localhost", "127.0.0.1")
            issued.cert_chain_pems[0].write_to_path(str(cert))
            issued.private_key_pem.write_to_path(str(key))
        return ServerFiles(cert=cert, key=key, ca=self.folder.ca_cert)


# -- servers -------------------------------------------------------------------

TEST_LIMITS = Limits(handshake_timeout=5.0, hello_timeout=5.0, shutdown_grace=1.0)

ServerFactory = Callable[..., Awaitable[ChatServer]]


def limits_with(limits: Limits, **overrides: Any) -> Limits:
    return dataclasses.replace(limits, **overrides)


def port_of(server: ChatServer) -> int:
    return server.addresses[0][1]


def endpoint(server: ChatServer, cn: str = "chatserver") -> Endpoint:
    return Endpoint(host="127.0.0.1", port=port_of(server), cn=cn)


# -- clients -------------------------------------------------------------------


async def connect(
    server: ChatServer, files: ClientFiles, *, cn: str = "chatserver"
) -> ServerConnection:
    """A TLS connection, handshake done, no hello yet."""
    return await ServerConnection.open(endpoint(server, cn), client_context(files), timeout=WAIT)


async def join(
    server: ChatServer, pki: Pki, user: str, *, name: str | None = None
) -> ServerConnection:
    """Connect as ``user`` and wait for ``welcome``."""
    connection = await connect(server, pki.client(user))
    await connection.hello(name)
    return connection


async def receive_until(
    connection: ServerConnection, kind: type[F], *, timeout: float = WAIT, replays: bool = False
) -> F:
    """Skip frames until one of ``kind`` arrives (replayed history skipped unless ``replays``)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await connection.receive()
            if isinstance(frame, kind) and (replays or not getattr(frame, "replay", False)):
                return frame


async def receive_n(
    connection: ServerConnection,
    kind: type[F],
    count: int,
    *,
    timeout: float = WAIT,
    replays: bool = False,
) -> list[F]:
    """The next ``count`` frames of ``kind``, skipping others."""
    return [
        await receive_until(connection, kind, timeout=timeout, replays=replays)
        for _ in range(count)
    ]


async def eventually(predicate: Callable[[], bool], *, timeout: float = WAIT) -> None:
    """Wait until ``predicate()`` holds, polling the loop (never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@dataclass
class RawPeer:
    """A mutual-TLS peer that writes arbitrary bytes: for misbehaving clients."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    decoder: FrameDecoder = field(default_factory=FrameDecoder.for_client)
    frames: list[Frame] = field(default_factory=list)

    @classmethod
    async def open(cls, server: ChatServer, files: ClientFiles, **kwargs: Any) -> RawPeer:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            port_of(server),
            ssl=client_context(files),
            server_hostname="chatserver",
            **kwargs,
        )
        return cls(reader, writer)

    async def send(self, data: bytes | Frame) -> None:
        self.writer.write(data if isinstance(data, bytes) else encode(data))
        await self.writer.drain()

    async def next_frame(self, *, timeout: float = WAIT) -> Frame | None:
        """The next frame, or None at EOF."""
        async with asyncio.timeout(timeout):
            while not self.frames:
                try:
                    data = await self.reader.read(65536)
                except (ConnectionError, ssl.SSLError):
                    data = b""
                if not data:
                    return None
                for event in self.decoder.feed(data):
                    assert not isinstance(event, ProtocolError), event
                    self.frames.append(event)
            return self.frames.pop(0)

    async def until(self, kind: type[F], *, timeout: float = WAIT) -> F:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next_frame(timeout=timeout)
                assert frame is not None, f"connection closed before a {kind.__name__}"
                if isinstance(frame, kind):
                    return frame

    async def closed(self, *, timeout: float = WAIT) -> list[Frame]:
        """Read until the server closes the connection; returns what came first."""
        seen = []
        async with asyncio.timeout(timeout):
            while (frame := await self.next_frame(timeout=timeout)) is not None:
                seen.append(frame)
        return seen

    def close(self) -> None:
        self.writer.transport.abort()

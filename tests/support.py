"""Test helpers: the PKI model, real TLS clients, waits with bounds (never sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib.util
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from realtimechat import sslctx
from realtimechat.client.chat import Opener
from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.client.events import Event, Message
from realtimechat.client.render import as_text, event_lines
from realtimechat.errors import ProtocolError
from realtimechat.pki import CaFolder, load_certificate, load_private_key
from realtimechat.protocol import Frame, FrameDecoder, Msg, encode
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


# -- TLS in memory -------------------------------------------------------------


def _why_no_ssl_ctx() -> str | None:
    """Why tls.py cannot reach a context's SSL_CTX on this interpreter (sslctx.py), or None."""
    native = sslctx.create(ssl.PROTOCOL_TLS_SERVER)[1]
    return native if isinstance(native, str) else None


# None where every TLS setting is made as docs/security.md says; else the
# reason why two fall back (groups before Python 3.15, the session cache).
NO_SSL_CTX: Final = _why_no_ssl_ctx()
# Tests of what only a reachable SSL_CTX gives (where _ssl is built into the
# interpreter there is no separate _ssl library for ctypes to load).
needs_ssl_ctx = pytest.mark.skipif(NO_SSL_CTX is not None, reason=f"no SSL_CTX: {NO_SSL_CTX}")
# The groups the server accepts: P-256 alone where they cannot be set.
ACCEPTED_GROUPS: Final = (
    {"X25519", "secp256r1"}
    if NO_SSL_CTX is None or hasattr(ssl.SSLContext, "set_groups")
    else {"secp256r1"}
)


@dataclass
class MemoryTLS:
    """A server and a client ``SSLObject`` joined through memory BIOs: no sockets, no loop."""

    server: ssl.SSLObject
    client: ssl.SSLObject
    to_server: ssl.MemoryBIO
    from_server: ssl.MemoryBIO
    to_client: ssl.MemoryBIO
    from_client: ssl.MemoryBIO

    @classmethod
    def joining(
        cls,
        server: ssl.SSLContext,
        client: ssl.SSLContext,
        *,
        session: ssl.SSLSession | None = None,
    ) -> MemoryTLS:
        to_server, from_server = ssl.MemoryBIO(), ssl.MemoryBIO()
        to_client, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
        return cls(
            server=server.wrap_bio(to_server, from_server, server_side=True),
            client=client.wrap_bio(
                to_client, from_client, server_hostname="chatserver", session=session
            ),
            to_server=to_server,
            from_server=from_server,
            to_client=to_client,
            from_client=from_client,
        )

    def pump(self) -> bool:
        """Carry what each side wrote to the other; True if anything moved."""
        moved = False
        if self.from_client.pending:
            self.to_server.write(self.from_client.read())
            moved = True
        if self.from_server.pending:
            self.to_client.write(self.from_server.read())
            moved = True
        return moved

    def handshake(self) -> None:
        """Run both handshakes to completion (raising what either side raises)."""
        done: set[str] = set()
        for _ in range(20):
            for name, side in (("client", self.client), ("server", self.server)):
                if name in done:
                    continue
                try:
                    side.do_handshake()
                    done.add(name)
                except ssl.SSLWantReadError:
                    pass
            if not self.pump() and len(done) == 2:
                return
        raise AssertionError(f"the handshake did not complete (done: {sorted(done)})")

    def close(self) -> None:
        """close_notify from the client, answered by the server's."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.client.unwrap()
        self.pump()
        with contextlib.suppress(ssl.SSLZeroReturnError):
            self.server.read(1)
        self.server.unwrap()
        self.pump()
        self.client.unwrap()


# -- servers -------------------------------------------------------------------

# Rate limits off, per session and per identity: most tests send as fast as
# they can on purpose (the limits have tests of their own).
TEST_LIMITS = Limits(
    handshake_timeout=5.0,
    hello_timeout=5.0,
    shutdown_grace=1.0,
    rate=0,
    identity_rate=0,
    identity_text_rate=0,
)

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


# -- resilient clients and a misbehaving network --------------------------------------


@dataclass
class Recorder:
    """A ChatView that remembers everything a user would have seen."""

    messages: list[Msg] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # everything else, as plain mode says it
    events: list[Event] = field(default_factory=list)  # everything, messages too

    def show(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, Message):
            self.messages.append(event.msg)
            return
        self.notices += [as_text(line) for line in event_lines(event)]

    def changed(self) -> None:
        return None

    def clear(self) -> None:
        self.notices.append("(cleared)")

    def texts(self) -> list[str]:
        return [msg.text for msg in self.messages]

    def ids(self) -> list[int]:
        return [msg.id for msg in self.messages]


def opener_for(
    files: ClientFiles, port: int, *, ping_interval: float = 30.0, pong_timeout: float = 15.0
) -> Opener:
    """How a Chat connects: real TLS to 127.0.0.1:port."""
    context = client_context(files)
    where = Endpoint(host="127.0.0.1", port=port, cn="chatserver")

    async def open_connection() -> ServerConnection:
        return await ServerConnection.open(
            where, context, timeout=WAIT, ping_interval=ping_interval, pong_timeout=pong_timeout
        )

    return open_connection


class Proxy:
    """A loopback TCP proxy that can cut or silently black-hole its connections."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.holes: set[int] = set()  # indexes of connections that forward nothing
        self.flowing = asyncio.Event()  # cleared: stop reading from the server (a slow reader)
        self.flowing.set()
        self.client_bytes = bytearray()  # all the client side has sent, over every connection
        self.on_client_bytes: Callable[[int, bytes], None] | None = None
        self.refuse = False  # True: new connections are closed at once (the server is down)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def connections(self) -> int:
        return len(self._pairs)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        index = len(self._pairs)
        self._pairs.append((writer, up_writer))
        for task in (
            asyncio.create_task(self._pump(index, reader, up_writer, from_client=True)),
            asyncio.create_task(self._pump(index, up_reader, writer, from_client=False)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        index: int,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        from_client: bool,
    ) -> None:
        try:
            while True:
                if not from_client:
                    await self.flowing.wait()
                data = await source.read(65536)
                if not data:
                    break
                if index in self.holes:
                    continue  # swallowed: the peers see silence, not a close
                if from_client:
                    self.client_bytes += data
                    if self.on_client_bytes is not None:
                        self.on_client_bytes(index, data)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if index not in self.holes:
                sink.transport.abort()

    def cut(self, index: int) -> None:
        """Close connection ``index`` on both sides at once (a dropped link)."""
        for writer in self._pairs[index]:
            writer.transport.abort()

    def blackhole(self, index: int) -> None:
        """Stop forwarding on connection ``index``, keeping both sockets open."""
        self.holes.add(index)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pair in self._pairs:
            for writer in pair:
                writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


BIN = Path(sys.executable).parent
REPO: Final = Path(__file__).resolve().parent.parent  # the repository: tests/ is in it


def wait_for_log(process: subprocess.Popen[bytes], log: Path, pattern: str) -> re.Match[str]:
    """The first match of ``pattern`` in the log file ``process`` writes, once it is there.

    Polls the file (another process writes it), bounded by WAIT and by the
    process ending; fails the test with the log if the line never comes.
    """
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        text = log.read_text()
        found = re.search(pattern, text)
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no {pattern!r} in the server's log:\n{log.read_text()}")


LISTENING: Final = r"listening on 127\.0\.0\.1:(\d+)"


class ServerProcess:
    """A real rtchat-server on 127.0.0.1; it can be stopped and started on the same port."""

    def __init__(
        self,
        pki: Pki,
        folder: Path,
        *,
        extra: Sequence[str] = (),
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.pki = pki
        self.folder = folder
        self.extra = list(extra)
        self.preexec = preexec
        self.port = 0
        self.starts = 0
        self.process = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        log = self.folder / f"server-{self.starts}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    str(BIN / "rtchat-server"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--pki",
                    str(self.pki.folder.root),
                    "--data",
                    str(self.folder / "data"),
                    *self.extra,
                ],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                preexec_fn=self.preexec,  # noqa: PLW1509 - only sets resource limits
            )
        self.port = int(wait_for_log(process, log, LISTENING).group(1))
        self.process = process
        return process

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def log_text(self) -> str:
        """Everything every run of this server has logged so far."""
        return "".join(
            (self.folder / f"server-{n}.log").read_text() for n in range(1, self.starts + 1)
        )

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, no goodbye."""
        self.process.kill()
        self.process.wait(timeout=10)


# -- looking at certificates and their files ------------------------------------------


def openssl_verify(
    openssl: str, root: Path, cert: Path, purpose: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `openssl verify -x509_strict` on ``cert`` against the CA of ``root``."""
    ca_cert = str(CaFolder(root).ca_cert)
    return subprocess.run(
        [
            openssl,
            "verify",
            "-x509_strict",
            "-purpose",
            purpose,
            *extra,
            "-CAfile",
            ca_cert,
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def mode_of(path: Path) -> int:
    """The permission bits of ``path`` itself (a symlink is not followed)."""
    return stat.S_IMODE(path.lstat().st_mode)


def cn_of(cert: x509.Certificate) -> str:
    """The subject CN of ``cert``, read without realtimechat.pki."""
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


# -- certificates the tools would never make ---------------------------------------------


def ca_issued(
    pki: Pki, folder: Path, name: str, cn: str | None, usage: x509.ObjectIdentifier
) -> ClientFiles:
    """A certificate from the test CA's key with a chosen CN (None: an O only) and usage."""
    ca_cert = load_certificate(pki.folder.ca_cert)
    ca_key = load_private_key(pki.folder.ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    with warnings.catch_warnings():
        # An empty CN or one over 64 characters is what some cases want: made
        # without cryptography's check (which warns instead of refusing).
        warnings.simplefilter("ignore", UserWarning)
        subject = (
            x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)
            if cn is not None
            else x509.NameAttribute(NameOID.ORGANIZATION_NAME, "no common name")
        )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([subject]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ClientFiles(cert=cert_path, key=key_path, ca=pki.folder.ca_cert)


def seed_style(folder: Path, name: str, cn: str | None = None, ca: Path = Path()) -> ClientFiles:
    """A self-signed certificate made as the seed's recipe makes them (``openssl req
    -x509``), with an EC key for speed: the kind a server pins. ``ca``: what the client
    trusts (unset: the test names it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"),
            *("-subj", f"/CN={cn or name}", "-out", str(cert), "-keyout", str(key)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return ClientFiles(cert=cert, key=key, ca=ca)


def _key_usage(*, sign: bool) -> x509.KeyUsage:
    """digitalSignature, and with ``sign`` keyCertSign: what a certificate may do with its key."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _write(
    folder: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> ClientFiles:
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ClientFiles(cert=cert_path, key=key_path, ca=Path())


def users_own_signer(folder: Path, name: str, ca: Path = Path()) -> ClientFiles:
    """A user's own self-signed certificate that can sign others: CA:TRUE with keyCertSign.

    As ``openssl req -x509 -addext keyUsage=critical,digitalSignature,keyCertSign``
    and tools that mark self-signed certificates as CAs make them: the kind
    docs/security.md's finding 1 pinned, and its holder then minted others with.
    ``ca``: what the client trusts.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return dataclasses.replace(_write(folder, name, cert, key), ca=ca)


def signed_with(
    issuer: ClientFiles, folder: Path, name: str, cn: str, *, ca: bool = False, trust: Path = Path()
) -> ClientFiles:
    """A client certificate for ``cn`` signed with ``issuer``'s key and naming it as issuer.

    ``ca``: the certificate says CA:TRUE with keyCertSign (a CA's, not a
    user's). ``trust``: what the client trusts.
    """
    issuer_cert = load_certificate(issuer.cert)
    issuer_key = load_private_key(issuer.key)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(sign=ca), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    return dataclasses.replace(_write(folder, name, cert, key), ca=trust)


# -- a real redis-server of the tests' own -----------------------------------------------

REDIS_REQUIRED: Final = "RTCHAT_REQUIRE_REDIS"  # set by .ci/run: a missing redis-server fails


def redis_binary() -> str | None:
    """The redis-server to start (RTCHAT_REDIS_SERVER, or the one on PATH), if any."""
    return shutil.which(os.environ.get("RTCHAT_REDIS_SERVER") or "redis-server")


class RedisServer:
    """A redis-server on a Unix socket in ``folder``, with its own append-only file there.

    ``persist=False`` keeps nothing: a restart forgets everything (as a
    Redis without AOF or snapshots does).
    """

    def __init__(
        self, binary: str, folder: Path, *, persist: bool = True, extra: Sequence[str] = ()
    ) -> None:
        self.binary = binary
        self.folder = folder
        self.persist = persist
        self.extra = list(extra)  # more options, e.g. ("--requirepass", "s3cret")
        self.socket = folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        # Its own log file, stdout and stderr to nowhere: a child holding the
        # test's pipes keeps them open after the test (pitfalls.md).
        options = {
            "port": "0",
            "unixsocket": str(self.socket),
            "unixsocketperm": "700",
            "dir": str(self.folder),
            "save": "",
            "logfile": str(self.folder / "redis.log"),
        }
        arguments = [part for key, value in options.items() for part in (f"--{key}", value)]
        self.process = subprocess.Popen(
            [self.binary, *arguments, *aof, *self.extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until it answers PING on its socket (bounded: WAIT seconds)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.folder / 'redis.log'}")
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(self.socket))
                probe.sendall(b"PING\r\n")
                if probe.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # up (with a password)
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer within {WAIT} s")

    def flush(self) -> None:
        """Forget every key (between tests sharing this server)."""
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(self.socket))
            client.sendall(b"FLUSHALL\r\n")
            assert client.recv(16).startswith(b"+OK")

    def kill(self) -> None:
        """kill -9: whatever it had not written is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=WAIT)
            self.process = None


def start_redis(folder: Path, *, persist: bool = True, extra: Sequence[str] = ()) -> RedisServer:
    """A started RedisServer, or a skip (a failure under RTCHAT_REQUIRE_REDIS=1)."""
    binary = redis_binary()
    if binary is None:
        if os.environ.get(REDIS_REQUIRED) == "1":
            pytest.fail(f"redis-server is not installed, and {REDIS_REQUIRED}=1 says it must be")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(binary, folder, persist=persist, extra=extra)
    server.start()
    return server


# -- Debian's haproxy in front of several servers ------------------------------------------

HAPROXY_REQUIRED: Final = "RTCHAT_REQUIRE_HAPROXY"  # set by .ci/run: a missing haproxy fails


def free_port() -> int:
    """A port free on 127.0.0.1 just now (for a process that takes no port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load_tool(name: str) -> ModuleType:
    """A script of tools/ as a module (tools/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"tools_{name}", REPO / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The one haproxy configuration: make cluster's (tools/cluster.py), as docs/scaling.md shows it.
haproxy_config: Callable[..., str] = load_tool("cluster").haproxy_config
PROXY_FROM: Final[str] = load_tool("cluster").PROXY_FROM  # haproxy's address, to --proxy-protocol


class Haproxy:
    """haproxy in the foreground with a config file of its own in ``folder``."""

    def __init__(
        self, binary: str, folder: Path, backends: Sequence[int], *, proxy_v2: bool = True
    ) -> None:
        self.port = free_port()
        self.config = folder / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, backends, proxy_v2=proxy_v2))
        log = folder / "haproxy.log"
        with log.open("wb") as sink:  # a file, not our pipes: see RedisServer.start
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        self._wait_ready(log)

    def _wait_ready(self, log: Path) -> None:
        """Until its frontend accepts connections (bounded: WAIT seconds)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {log.read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError(f"haproxy did not listen within {WAIT} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=WAIT)


def haproxy_binary() -> str:
    """haproxy (RTCHAT_HAPROXY, on PATH, or Debian's /usr/sbin), or a skip (a failure under
    RTCHAT_REQUIRE_HAPROXY=1, as .ci/run sets it)."""
    name = os.environ.get("RTCHAT_HAPROXY") or "haproxy"
    binary = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if binary is None:
        if os.environ.get(HAPROXY_REQUIRED) == "1":
            pytest.fail(f"haproxy is not installed, and {HAPROXY_REQUIRED}=1 says it must be")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    return binary


def start_haproxy(folder: Path, backends: Sequence[int], *, proxy_v2: bool = True) -> Haproxy:
    """A started Haproxy in front of ``backends``, or a skip (see ``haproxy_binary``).

    ``proxy_v2`` (make cluster's default): the backends must run with
    ``--proxy-protocol PROXY_FROM`` (127.0.0.3, haproxy's source)."""
    return Haproxy(haproxy_binary(), folder, backends, proxy_v2=proxy_v2)

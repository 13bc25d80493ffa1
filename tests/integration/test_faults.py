"""Bad input and faults, each run while a witness must get a third client's stream whole."""

# Every case attacks one server while dave (the talker) sends numbered
# messages every few milliseconds and erin (the witness) reads them. A case
# asserts what the attacker gets (docs/protocol.md says what each bad input
# earns); the harness asserts that the witness got every number exactly once
# and in order, that the talker got every ack, that nothing was logged as an
# error, and that the server still welcomes a fresh client afterwards.

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import random
import socket
import ssl
import struct
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat.client.connection import ServerConnection
from realtimechat.errors import CertificateRejected, ConnectionLost, RtchatError, SessionRefused
from realtimechat.pki import (
    CaFolder,
    init_ca,
    issue_client,
    revoke,
)
from realtimechat.protocol import (
    Ack,
    Bye,
    Error,
    Frame,
    Gap,
    HistoryEnd,
    Join,
    Leave,
    Msg,
    Pong,
    SendMsg,
    Users,
    Welcome,
)
from realtimechat.server.app import ChatServer
from realtimechat.server.config import NamesMode, ServerSettings
from realtimechat.server.store import Draft, Durability, MemoryStore, SqliteStore, Store, Stored
from realtimechat.tls import ClientFiles, ServerFiles, client_context

from ..support import (
    WAIT,
    Pki,
    RawPeer,
    ServerFactory,
    ca_issued,
    connect,
    endpoint,
    eventually,
    join,
    port_of,
    receive_until,
    seed_style,
    signed_with,
    users_own_signer,
)

TALKER, WITNESS, ATTACKER = "dave", "erin", "carol"
HELLO = b'{"type":"hello","v":1}\n'
PACE = 0.005  # seconds between the talker's messages
HARNESS_LIMITS: Mapping[str, Any] = {"handshake_timeout": 1.0, "hello_timeout": 1.0, "rate": 0}


# -- what the server logs ---------------------------------------------------------


class LogTap(logging.Handler):
    """Keeps the server's log records for the case that is running."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


TAP = LogTap()


@pytest.fixture
def log_tap() -> Iterator[LogTap]:
    """Attach TAP to the server's logger (INFO and up) for one test."""
    logger = logging.getLogger("realtimechat.server")
    saved = logger.level
    TAP.records.clear()
    logger.addHandler(TAP)
    logger.setLevel(logging.INFO)
    yield TAP
    logger.removeHandler(TAP)
    logger.setLevel(saved)
    TAP.records.clear()


def events(event: str) -> list[dict[str, Any]]:
    """The fields of every logged ``event`` so far."""
    return [
        dict(getattr(record, "fields", {}))
        for record in TAP.records
        if getattr(record, "event", None) == event
    ]


def refusals() -> list[str]:
    """Reasons of the ``refused`` lines logged so far."""
    return [str(fields.get("reason")) for fields in events("refused")]


async def refusal_logged(fragment: str) -> None:
    """Wait until a ``refused`` line whose reason contains ``fragment`` is logged."""
    await eventually(lambda: any(fragment in reason for reason in refusals()))


async def left_logged(cn: str, reason: str, *, event: str | None = None) -> None:
    """Wait until a session of ``cn`` is logged as ended with ``reason``.

    ``left`` for a welcomed session, ``closed`` for one that never was;
    ``event`` insists on one of them.
    """
    kinds = (event,) if event else ("left", "closed")
    await eventually(
        lambda: any(
            fields.get("cn") == cn and fields.get("reason") == reason
            for kind in kinds
            for fields in events(kind)
        )
    )


def members(server: ChatServer) -> list[str]:
    """Names of the welcomed sessions, sorted."""
    return sorted(session.name or "" for session in server.hub.sessions)


def sessions_named(server: ChatServer, name: str) -> int:
    """How many welcomed sessions use ``name``."""
    return sum(session.name == name for session in server.hub.sessions)


# -- attackers ----------------------------------------------------------------------

_OPEN: list[asyncio.StreamWriter] = []  # every connection an attack opened: aborted at the end


async def peer(server: ChatServer, files: ClientFiles, **kwargs: Any) -> RawPeer:
    """A raw mutual-TLS peer that the harness aborts if the case does not."""
    opened = await RawPeer.open(server, files, **kwargs)
    _OPEN.append(opened.writer)
    return opened


async def welcomed(
    server: ChatServer, pki: Pki, user: str = ATTACKER, source: str | None = None
) -> RawPeer:
    """A raw peer that said hello and got its welcome and the replay's history_end."""
    local = {"local_addr": (source, 0)} if source else {}
    attacker = await peer(server, pki.client(user), **local)
    await attacker.send(HELLO)
    await attacker.until(Welcome)
    await attacker.until(HistoryEnd)
    return attacker


async def tcp(
    server: ChatServer, source: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain TCP connection to the TLS port (from ``source``, another loopback address)."""
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server), local_addr=local)
    _OPEN.append(writer)
    return reader, writer


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes (a reset counts as the end)."""
    async with asyncio.timeout(WAIT):
        try:
            return await reader.read()
        except ConnectionError:
            return b""


def reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Make closing send a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


HOLD_ROUNDS = 50  # times one held socket is opened again after the server closed it


async def hold_idle_sockets(
    server: ChatServer, source: str, count: int, stop: asyncio.Event
) -> None:
    """Keep ``count`` silent TCP sockets from ``source`` open until ``stop``, reopening closed ones.

    The attack of issue 16's finding 2: no ClientHello at all, each socket
    reopened as soon as the server lets it go.
    """

    async def hold_one() -> None:
        for _ in range(HOLD_ROUNDS):
            reader, writer = await tcp(server, source)
            ended = asyncio.ensure_future(read_to_end(reader))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            ended.cancel()
            stopping.cancel()
            writer.transport.abort()
            if stop.is_set():
                return

    await asyncio.gather(*(hold_one() for _ in range(count)))


async def honest_joins(server: ChatServer, pki: Pki, attempts: int) -> int:
    """How many of ``attempts`` joins in a row, as alice, were welcomed."""
    welcomed = 0
    for _ in range(attempts):
        try:
            newcomer = await join(server, pki, "alice")
        except (RtchatError, OSError):
            continue
        welcomed += 1
        await newcomer.close()
    return welcomed


def refused_from(address: str) -> list[dict[str, Any]]:
    """The ``refused`` lines whose peer is ``address``: ``address:port`` or the bare source."""
    return [
        fields
        for fields in events("refused")
        if str(fields.get("peer")) == address or str(fields.get("peer")).startswith(f"{address}:")
    ]


def refusals_counted(lines: list[dict[str, Any]]) -> int:
    """How many refusals ``lines`` stand for: one each, or ``times`` for a counted line."""
    return sum(int(fields.get("times", 1)) for fields in lines)


async def still_serves(attacker: RawPeer, mark: str = "alive") -> None:
    """The attacker's session goes on: a ping is answered with the same ``t``."""
    await attacker.send(f'{{"type":"ping","t":"{mark}"}}\n'.encode())
    while (await attacker.until(Pong)).t != mark:
        pass


async def answered(attacker: RawPeer, payload: bytes, code: str, ref: str | None = None) -> None:
    """Send ``payload``; the next error has ``code`` and ``ref``; the session goes on."""
    await attacker.send(payload)
    error = await attacker.until(Error)
    assert (error.code, error.ref) == (code, ref), error
    await still_serves(attacker)


async def hello_refused(attacker: RawPeer, code: str, hello: bytes = HELLO) -> None:
    """The hello gets exactly ``error {code}`` and ``bye {reason: code}``, then the close."""
    await attacker.send(hello)
    seen = await attacker.closed()
    assert [type(frame) for frame in seen] == [Error, Bye], seen
    assert isinstance(seen[0], Error)
    assert (seen[0].code, seen[1]) == (code, Bye(reason=code))


async def refused_at_handshake(server: ChatServer, files: ClientFiles) -> None:
    """The client never gets a welcome: its certificate was not accepted."""
    with pytest.raises(CertificateRejected):
        await hello_over(connect(server, files))
    assert members(server) == [TALKER, WITNESS]


async def hello_over(opening: Awaitable[ServerConnection]) -> None:
    """Open a connection and say hello (the caller expects one of the two to fail)."""
    connection = await opening
    await connection.hello()


# -- certificates made for a case -------------------------------------------------


def pinned_trust(pki: Pki, tmp_path: Path) -> ServerFiles:
    """Trust the test CA plus two pinned self-signed certificates: 'pat' and a 'dave'."""
    pins = [
        seed_style(tmp_path, "pat").cert,
        seed_style(tmp_path, "impostor", TALKER).cert,
    ]
    trust = tmp_path / "trust.pem"
    trust.write_bytes(b"".join(path.read_bytes() for path in [pki.folder.ca_cert, *pins]))
    return ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust)


def pinned(pki: Pki, tmp_path: Path, name: str) -> ClientFiles:
    """A self-signed certificate made by ``pinned_trust`` or the case, trusting our server."""
    return ClientFiles(
        cert=tmp_path / f"{name}.crt", key=tmp_path / f"{name}.key", ca=pki.folder.ca_cert
    )


def users_bundle_trust(pki: Pki, tmp_path: Path) -> ServerFiles:
    """The old way, one --ca file: the test CA, and the users pia and pat pinned in it.

    pia's own certificate can sign others (CA:TRUE, keyCertSign: finding 1
    of docs/security.md); pat's is the seed's recipe (CA:TRUE, no key usage).
    """
    pins = [users_own_signer(tmp_path, "pia").cert, seed_style(tmp_path, "pat").cert]
    trust = tmp_path / "trust.pem"
    trust.write_bytes(b"".join(path.read_bytes() for path in [pki.folder.ca_cert, *pins]))
    return ServerFiles(cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust)


def users_pinned_trust(pki: Pki, tmp_path: Path) -> ServerFiles:
    """The same users given as the operator now says it: --ca the test CA, --pins pia and pat."""
    pins = tmp_path / "pins.pem"
    made = [users_own_signer(tmp_path, "pia").cert, seed_style(tmp_path, "pat").cert]
    pins.write_bytes(b"".join(path.read_bytes() for path in made))
    return ServerFiles(
        cert=pki.folder.server_cert,
        key=pki.folder.server_key,
        ca=pki.folder.ca_cert,
        crl=pki.folder.crl,
        pins=pins,
    )


def second_ca_trust(pki: Pki, tmp_path: Path) -> ServerFiles:
    """Trust the test CA and a second CA (its CRL read) that issued rita, and nova from tomorrow."""
    root = tmp_path / "second"
    init_ca(root, "second-ca", ["127.0.0.1"])
    issue_client(root, "rita")
    now = dt.datetime.now(dt.UTC)
    issue_client(
        root,
        "nova",
        not_before=now + dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=2),
    )
    second = CaFolder(root)
    trust = tmp_path / "trust.pem"
    trust.write_bytes(pki.folder.ca_cert.read_bytes() + second.ca_cert.read_bytes())
    return ServerFiles(
        cert=pki.folder.server_cert, key=pki.folder.server_key, ca=trust, crl=second.crl
    )


def second_ca_client(pki: Pki, tmp_path: Path, name: str) -> ClientFiles:
    """The files of ``name`` from the second CA, trusting our server."""
    second = CaFolder(tmp_path / "second")
    return ClientFiles(
        cert=second.client_cert(name), key=second.client_key(name), ca=pki.folder.ca_cert
    )


def legacy_context(pki: Pki, version: ssl.TLSVersion, ciphers: str) -> ssl.SSLContext:
    """A client context with alice's certificate, pinned to one TLS version."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=pki.folder.ca_cert)
    context.load_cert_chain(pki.folder.client_cert("alice"), pki.folder.client_key("alice"))
    context.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are deprecated
        context.minimum_version = version
        context.maximum_version = version
    return context


async def tls_attempt(server: ChatServer, context: ssl.SSLContext) -> OSError:
    """Connect with ``context``, which must fail (a reset: the server aborts, sending no alert)."""
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as failed:
        await open_tls(server, context)
    return failed.value


async def open_tls(server: ChatServer, context: ssl.SSLContext) -> None:
    """A TLS connection with ``context`` (for ``tls_attempt``)."""
    _, writer = await asyncio.open_connection(
        "127.0.0.1", port_of(server), ssl=context, server_hostname="chatserver"
    )
    _OPEN.append(writer)


def sqlite_store(tmp_path: Path) -> Store:
    """The SQLite store, as rtchat-server runs by default (without fsync, for speed)."""
    return SqliteStore(tmp_path / "data" / "messages.db", Durability.NORMAL)


class SlowDiskStore(MemoryStore):
    """A memory store whose every commit takes 300 ms, like fsync on a busy disk."""

    async def append(self, drafts: Sequence[Draft]) -> list[Stored]:
        await asyncio.sleep(0.3)  # the commit's latency, not synchronisation
        return await super().append(drafts)


def slow_disk_store(tmp_path: Path) -> Store:
    """A ``SlowDiskStore`` (the case table wants a factory)."""
    return SlowDiskStore()


# == the cases ======================================================================
# Certificates


async def case_no_certificate(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A client without a certificate is refused and logged as such."""
    context = ssl.create_default_context(cafile=str(pki.folder.ca_cert))
    with pytest.raises(CertificateRejected):
        await hello_over(ServerConnection.open(endpoint(server), context))
    await refusal_logged("no client certificate")
    assert members(server) == [TALKER, WITNESS]


async def case_certificate_of_another_ca(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A certificate from an untrusted CA is refused: unable to get local issuer."""
    await refused_at_handshake(server, pki.rogue_client())
    await refusal_logged("unable to get local issuer certificate")


async def case_expired_certificate(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An expired certificate is refused at the handshake."""
    await refused_at_handshake(server, pki.client("expired"))
    await refusal_logged("certificate has expired")


async def case_certificate_not_yet_valid(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A certificate valid only from tomorrow is refused at the handshake."""
    await refused_at_handshake(server, second_ca_client(pki, tmp_path, "nova"))
    await refusal_logged("certificate is not yet valid")


async def case_revoked_certificate(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Revoked and reloaded: the live session gets bye revoked, and so does a reconnect."""
    rita = second_ca_client(pki, tmp_path, "rita")
    live = await peer(server, rita)
    await live.send(HELLO)
    await live.until(Welcome)
    revoke(tmp_path / "second", "rita")
    server.reload_tls()
    assert (await live.closed())[-1] == Bye(reason="revoked")
    again = await peer(server, rita)
    assert await again.closed() == [Bye(reason="revoked")]
    assert members(server) == [TALKER, WITNESS]


async def case_an_older_crl_does_not_unrevoke(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A validly signed but older CRL copied over the newer one is refused at reload (a
    warning says so) and the newer one stays in force: rita, revoked since, stays out."""
    second = CaFolder(tmp_path / "second")
    older = second.crl.read_bytes()
    revoke(second.root, "rita")
    server.reload_tls()
    second.crl.write_bytes(older)  # a restored backup, or an attacker replaying the file
    server.reload_tls()
    again = await peer(server, second_ca_client(pki, tmp_path, "rita"))
    assert await again.closed() == [Bye(reason="revoked")]
    assert any(
        "is older than the CRL in force" in record.getMessage()
        and record.levelno == logging.WARNING
        for record in TAP.records
    )
    assert server.trust.revocations is not None
    assert len(server.trust.revocations.serials) == 1


async def case_server_auth_only_certificate(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A CA-issued certificate for serverAuth only is no client certificate."""
    files = ca_issued(pki, tmp_path, "wrongeku", "wrongeku", ExtendedKeyUsageOID.SERVER_AUTH)
    await refused_at_handshake(server, files)
    await refusal_logged("unsuitable certificate purpose")


async def case_server_certificate_as_client(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The server's own certificate and key, presented by a client, are refused."""
    files = ClientFiles(
        cert=pki.folder.server_cert, key=pki.folder.server_key, ca=pki.folder.ca_cert
    )
    await refused_at_handshake(server, files)
    await refusal_logged("unsuitable certificate purpose")


async def case_cn_that_is_not_a_name(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A trusted certificate whose CN is no valid name gets error and bye bad_name."""
    files = ca_issued(pki, tmp_path, "longcn", "x" * 40, ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")


async def case_certificate_without_a_cn(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A trusted certificate without any CN derives an empty name: bad_name."""
    files = ca_issued(pki, tmp_path, "nocn", None, ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")


async def case_cn_with_a_bidi_override(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A trusted certificate whose CN holds a right-to-left override gets bad_name."""
    files = ca_issued(pki, tmp_path, "bidi", "ali\u202ecod.exe", ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")


async def case_self_signed_pinned(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The seed's self-signed recipe, pinned in the server's bundle, is welcomed and chats."""
    attacker = await peer(server, pinned(pki, tmp_path, "pat"))
    await attacker.send(HELLO)
    assert (await attacker.until(Welcome)).name == "pat"
    await attacker.send(SendMsg(text="pinned and fine", ref="p1"))
    assert (await attacker.until(Ack)).ref == "p1"
    attacker.close()


async def case_self_signed_unpinned(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The same recipe, not in the server's bundle, is refused at the handshake."""
    made = seed_style(tmp_path, "stranger")
    files = ClientFiles(cert=made.cert, key=made.key, ca=pki.folder.ca_cert)
    await refused_at_handshake(server, files)
    await refusal_logged("self-signed certificate")


async def pinned_user_mints(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """pia, pinned, signs a certificate for 'bob' (nobody has used the name yet): refused
    right after TLS with bye untrusted, never welcomed; pia herself still chats."""
    pia = pinned(pki, tmp_path, "pia")
    minted = signed_with(pia, tmp_path, "minted", "bob", trust=pki.folder.ca_cert)
    attacker = await peer(server, minted)
    assert await attacker.closed() == [Bye(reason="untrusted")]
    await refusal_logged("untrusted")
    herself = await peer(server, pia)
    await herself.send(HELLO)
    assert (await herself.until(Welcome)).name == "pia"
    assert members(server) == [TALKER, WITNESS, "pia"]
    herself.close()


async def case_pinned_user_mints_an_identity(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Finding 1, with --pins: a pinned certificate admits itself, never what it signs."""
    await pinned_user_mints(server, pki, tmp_path)


async def case_bundled_user_mints_an_identity(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Finding 1 as it was found: users pinned in the one --ca file, read as pins now."""
    await pinned_user_mints(server, pki, tmp_path)


async def case_ca_issued_certificate_that_can_sign(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """A certificate of our CA that says CA:TRUE (a sub-CA's) is nobody's identity: untrusted."""
    ca = ClientFiles(cert=pki.folder.ca_cert, key=pki.folder.ca_key, ca=pki.folder.ca_cert)
    files = signed_with(ca, tmp_path, "subca", "frank", ca=True, trust=pki.folder.ca_cert)
    attacker = await peer(server, files)
    assert await attacker.closed() == [Bye(reason="untrusted")]
    assert members(server) == [TALKER, WITNESS]


async def case_the_ca_certificate_as_a_client(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The CA's own certificate and key, presented by a client, are no user's: untrusted."""
    files = ClientFiles(cert=pki.folder.ca_cert, key=pki.folder.ca_key, ca=pki.folder.ca_cert)
    attacker = await peer(server, files)
    assert await attacker.closed() == [Bye(reason="untrusted")]
    assert members(server) == [TALKER, WITNESS]


async def case_pinned_impostor_of_a_member(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A pinned certificate carrying the talker's CN is another identity: name_taken."""
    attacker = await peer(server, pinned(pki, tmp_path, "impostor"))
    await hello_refused(attacker, "name_taken")


# TLS and TCP


async def case_tls_1_0(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A TLS 1.0 client is refused (before sending, or by the server) and never gets a session."""
    await old_tls(server, pki, ssl.TLSVersion.TLSv1)


async def case_tls_1_1(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A TLS 1.1 client is refused (before sending, or by the server) and never gets a session."""
    await old_tls(server, pki, ssl.TLSVersion.TLSv1_1)


async def old_tls(server: ChatServer, pki: Pki, version: ssl.TLSVersion) -> None:
    """A client pinned to ``version`` gets no session; the log says why."""
    error = await tls_attempt(server, legacy_context(pki, version, "DEFAULT:@SECLEVEL=0"))
    if getattr(error, "reason", None) == "NO_PROTOCOLS_AVAILABLE":  # refused before sending
        await refusal_logged("peer closed the connection")
    else:
        await refusal_logged("TLS version too old (1.2 or newer required)")
    assert members(server) == [TALKER, WITNESS]


async def case_tls_1_2_on_a_tls13_only_server(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """--tls13-only: a TLS 1.2 client, whose certificate would cross in clear, is refused."""
    await tls_attempt(server, legacy_context(pki, ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM"))
    await refusal_logged("TLS version too old (1.3 required)")
    assert members(server) == [TALKER, WITNESS]


async def case_tls12_cbc_only(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """TLS 1.2 offering only CBC suites finds no cipher in common."""
    context = legacy_context(pki, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA")
    await tls_attempt(server, context)
    await refusal_logged("no cipher in common")
    assert members(server) == [TALKER, WITNESS]


async def case_plaintext_to_the_tls_port(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """JSON without TLS gets no JSON back, and the log says it was not TLS."""
    reader, writer = await tcp(server)
    writer.write(HELLO)
    assert not (await read_to_end(reader)).startswith(b"{")
    await refusal_logged("not a TLS handshake")


async def case_http_request(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An HTTP request to the TLS port is refused and logged as HTTP."""
    reader, writer = await tcp(server)
    writer.write(b"GET / HTTP/1.1\r\nHost: chatserver\r\n\r\n")
    assert not (await read_to_end(reader)).startswith(b"HTTP")
    await refusal_logged("an HTTP request, not TLS")


async def case_handshake_never_finished(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The first bytes of a ClientHello, then nothing: closed at the handshake timeout."""
    reader, writer = await tcp(server)
    writer.write(b"\x16\x03\x01")
    assert await read_to_end(reader) == b""
    await refusal_logged("handshake timed out")


async def case_connect_then_close(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """TCP connect and close at once: the handshake fails and is logged, nothing else."""
    _, writer = await tcp(server)
    writer.close()
    await refusal_logged("peer closed the connection during the handshake")
    assert members(server) == [TALKER, WITNESS]


async def case_reset_on_connect(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """TCP connect then RST: the handshake fails and is logged, nothing else."""
    _, writer = await tcp(server)
    reset_on_close(writer)
    writer.transport.abort()
    await refusal_logged("peer closed the connection during the handshake")
    assert members(server) == [TALKER, WITNESS]


async def case_too_many_handshakes(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Two stalled handshakes fill max_handshakes: a third connection sheds the idle one."""
    idle, _ = await tcp(server, "127.0.0.2")  # oldest, and nothing sent: the first to go
    await eventually(lambda: server.connection_count == 3)
    _, started = await tcp(server, "127.0.0.3")
    started.write(b"\x16\x03\x01")
    await eventually(lambda: server.connection_count == 4)
    _, newcomer = await tcp(server, "127.0.0.4")
    assert await read_to_end(idle) == b""
    await refusal_logged("shed to make room")
    (shed,) = [fields for fields in events("refused") if "shed" in str(fields["reason"])]
    assert str(shed["peer"]).startswith("127.0.0.2:")
    assert shed["reason"] == "shed to make room: every handshake slot taken (nothing sent yet)"
    for writer in (started, newcomer):
        writer.close()
    await eventually(lambda: server.connection_count == 2)


async def case_idle_sockets_from_two_addresses(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Two addresses keep silent sockets in every handshake slot: every honest join gets in."""
    stop = asyncio.Event()
    half = 8  # of 16 slots: what one address could hold before the per-source share
    holders = asyncio.gather(
        hold_idle_sockets(server, "127.0.0.2", half, stop),
        hold_idle_sockets(server, "127.0.0.3", half, stop),
    )
    try:
        await eventually(lambda: server.connection_count >= 2 + 2 * half)
        assert await honest_joins(server, pki, 5) == 5
    finally:
        stop.set()
        await holders
    shed = [fields for fields in events("refused") if "shed" in str(fields["reason"])]
    assert shed, "the slots were full: newcomers took them from the idle sockets"
    assert all(str(fields["peer"]).startswith(("127.0.0.2", "127.0.0.3")) for fields in shed)


async def case_silent_socket_first_byte_timeout(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """A socket that sends nothing is closed at the first-byte timeout, not the handshake's."""
    reader, _ = await tcp(server, "127.0.0.2")
    assert await read_to_end(reader) == b""
    assert refusals() == ["no ClientHello within the first-byte timeout"]


async def case_handshakes_per_source(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """With two slots per source and a /24 as one source, a third from the /24 is dropped."""
    stalled = []
    for source in ("127.0.2.2", "127.0.2.3"):
        _, writer = await tcp(server, source)
        writer.write(b"\x16\x03\x01")
        stalled.append(writer)
    await eventually(lambda: server.connection_count == 4)
    reader, _ = await tcp(server, "127.0.2.4")
    assert await read_to_end(reader) == b""
    await refusal_logged("too many handshakes in progress from this source")
    # Another /24 is another source: it gets in.
    (await welcomed(server, pki, "bob", source="127.0.3.5")).close()
    for writer in stalled:
        writer.close()
    await eventually(lambda: server.connection_count == 2)


async def case_connect_reset_loop(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Two hundred connect+RST from one address: each keeps its address, a few lines say it all."""
    attempts = 200
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(attempts):
        _, writer = await tcp(server, "127.0.0.2")
        reset_on_close(writer)
        writer.transport.abort()
    await eventually(lambda: refusals_counted(refused_from("127.0.0.2")) == attempts)
    intervals = math.ceil((loop.time() - began) / server.limits.refusal_log_interval)
    lines = refused_from("127.0.0.2")
    assert len(lines) <= 2 * (intervals + 1), "one full line and one count per interval"
    assert len(lines) < attempts / 10
    assert all(fields.get("peer") not in (None, "None") for fields in events("refused"))


async def case_cn_longer_than_64_characters(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A CN of 100 characters: no Python warning, bad_name, and the log shows it clipped."""
    files = ca_issued(pki, tmp_path, "hugecn", "x" * 100, ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")
    await left_logged("x" * 64 + "...(+36 chars)", "bad_name")


async def case_empty_cn(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A CN of no characters (which cryptography warns about) derives an empty name: bad_name."""
    files = ca_issued(pki, tmp_path, "emptycn", "", ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")


async def case_one_identity_from_many_addresses(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """With three per identity, carol from three addresses is welcomed, from a fourth refused."""
    kept = [await welcomed(server, pki, source=f"127.0.0.{n}") for n in (2, 3, 4)]
    extra = await peer(server, pki.client(ATTACKER), local_addr=("127.0.0.5", 0))
    assert await extra.closed() == [Bye(reason="too_many_sessions")]
    await left_logged(ATTACKER, "too_many_sessions", event="refused")
    for member in kept:
        member.close()
    await eventually(lambda: members(server) == [TALKER, WITNESS])
    again = await welcomed(server, pki, source="127.0.0.5")  # a place came free
    again.close()


async def case_tls_record_corrupted(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A forged TLS record under a live session ends only that session (disconnected)."""
    attacker = await welcomed(server, pki)
    forged = b"\x17\x03\x03\x00\x20" + bytes(range(32))  # application data, bad MAC
    os.write(attacker.writer.get_extra_info("socket").fileno(), forged)
    await attacker.closed()
    await left_logged(ATTACKER, "disconnected")


async def case_connect_tls_then_close(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A finished handshake, then a close without hello: closed, disconnected, never welcomed."""
    attacker = await peer(server, pki.client(ATTACKER))
    attacker.close()
    await left_logged(ATTACKER, "disconnected", event="closed")
    assert members(server) == [TALKER, WITNESS]


# Session lifecycle


async def case_hello_never_sent(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """No hello within the hello timeout: bye hello_timeout and nothing else."""
    attacker = await peer(server, pki.client(ATTACKER))
    assert await attacker.closed() == [Bye(reason="hello_timeout")]


async def case_pings_do_not_delay_the_hello_timeout(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Pings before hello are answered but do not extend the hello timeout."""
    attacker = await peer(server, pki.client(ATTACKER))
    pongs = 0
    async with asyncio.timeout(WAIT):
        while True:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await attacker.send(b'{"type":"ping","t":1}\n')
            frame = await attacker.next_frame()
            if frame is None or isinstance(frame, Bye):
                break
            assert frame == Pong(t=1)
            pongs += 1
            await asyncio.sleep(0.05)  # pacing: a ping every 50 ms
    assert frame == Bye(reason="hello_timeout")
    assert pongs >= 5


async def case_partial_hello_then_silence(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Half a hello line, then silence, is still no hello: bye hello_timeout."""
    attacker = await peer(server, pki.client(ATTACKER))
    await attacker.send(b'{"type":"hel')
    assert await attacker.closed() == [Bye(reason="hello_timeout")]


async def case_claimed_name_invalid(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Under --names claim, a name with a space gets bad_name and bye bad_name."""
    attacker = await peer(server, pki.client(ATTACKER))
    await hello_refused(attacker, "bad_name", b'{"type":"hello","v":1,"name":"two words"}\n')


async def case_claimed_name_of_another(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Under --names claim, claiming the talker's name (another case) is name_taken."""
    attacker = await peer(server, pki.client(ATTACKER))
    await hello_refused(attacker, "name_taken", b'{"type":"hello","v":1,"name":"DAVE"}\n')


async def case_claimed_name_with_a_zero_width_joiner(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Under --names claim, the talker's name with a zero-width joiner inside is bad_name."""
    attacker = await peer(server, pki.client(ATTACKER))
    await hello_refused(
        attacker, "bad_name", '{"type":"hello","v":1,"name":"da\u200dve"}\n'.encode()
    )


async def case_claimed_look_alikes_of_the_talker(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Issue 16, finding 4: names that showed as another user's, claimed while dave talks.

    Invisible characters that are not Cf or Z* (U+034F, a variation selector,
    a Hangul filler), a braille blank making a fake private-message head, a
    Cyrillic a: bad_name. dave spelt in Cyrillic alone (U+0501 U+0430 U+0475
    U+0435) is one script, but its skeleton is dave's: name_taken.
    """
    for forged in ("dave\u034f", "dave\ufe0f", "\u3164dave", "d\u0430ve"):
        attacker = await peer(server, pki.client(ATTACKER))
        await hello_refused(attacker, "bad_name", _claim(forged))
    attacker = await peer(server, pki.client(ATTACKER))
    await hello_refused(attacker, "bad_name", _claim("dave\u2800->\u2800erin"))
    for forged in ("\u0501\u0430\u0475\u0435", "DAVE", "DAV\u0415"):
        attacker = await peer(server, pki.client(ATTACKER))
        code = "bad_name" if forged.endswith("\u0415") else "name_taken"
        await hello_refused(attacker, code, _claim(forged))
    assert members(server) == [TALKER, WITNESS]


async def case_cn_that_looks_like_the_talker(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A CA-issued certificate for dave in Cyrillic letters, while dave talks: name_taken."""
    cyrillic = "\u0501\u0430\u0475\u0435"
    files = ca_issued(pki, tmp_path, "cdave", cyrillic, ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "name_taken")
    files = ca_issued(pki, tmp_path, "vsdave", "dave\ufe0f", ExtendedKeyUsageOID.CLIENT_AUTH)
    attacker = await peer(server, files)
    await hello_refused(attacker, "bad_name")


async def case_claims_past_the_limit(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """One identity claims names in a loop (it once took 300 in 2.2 s): past its limit of 3
    (carol, its CN's, and two more), name_taken, and the names of others stay free."""
    for name in ("squat1", "squat2"):
        attacker = await peer(server, pki.client(ATTACKER))
        await attacker.send(_claim(name))
        assert (await attacker.until(Welcome)).name == name
        attacker.close()
    for name in ("squat3", "alice", "frank"):
        attacker = await peer(server, pki.client(ATTACKER))
        await hello_refused(attacker, "name_taken", _claim(name))
    assert members(server) == [TALKER, WITNESS]  # and fresh_client_is_welcome takes alice


def _claim(name: str) -> bytes:
    return json.dumps({"type": "hello", "v": 1, "name": name}).encode() + b"\n"


# Framing


async def case_oversized_line_in_pieces(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A line over the limit, sent in pieces without a newline, ends the session."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"msg","text":"')
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        for _ in range(12):
            await attacker.send(b"A" * 500)
    seen = await attacker.closed()
    errors = [frame for frame in seen if isinstance(frame, Error)]
    assert [error.code for error in errors] == ["frame_too_long"]
    assert seen[-1] == Bye(reason="protocol_error")
    await left_logged(ATTACKER, "protocol_error")


async def case_frames_before_an_oversized_line(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Frames complete before an over-limit line are served; nothing after it is read."""
    observer = await join(server, pki, "bob")
    attacker = await welcomed(server, pki)
    before = b'{"type":"msg","text":"before","ref":"b1"}\n'
    after = b'{"type":"msg","text":"after","ref":"a1"}\n'
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await attacker.send(before + b"B" * 5000 + b"\n" + after)
    seen = await attacker.closed()
    assert [frame.code for frame in seen if isinstance(frame, Error)] == ["frame_too_long"]
    assert seen[-1] == Bye(reason="protocol_error")
    await observer.send(SendMsg(text="marker"))
    texts: list[str] = []
    while not texts or texts[-1] != "marker":
        msg = await receive_until(observer, Msg)
        if msg.from_ != TALKER:
            texts.append(msg.text)
    assert texts == ["before", "marker"]  # stored and fanned out (its ack went with the session)
    await observer.close()


async def case_invalid_utf8(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A line that is not UTF-8 gets bad_utf8; the session goes on."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"msg","text":"caf\xe9","ref":"u1"}\n', "bad_utf8")


async def case_lone_surrogate(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A lone surrogate in text is bad_field with the msg's ref, refused on arrival."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"msg","text":"\\ud800","ref":"s1"}\n', "bad_field", "s1")


async def case_deep_nesting(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Nesting deeper than the parser goes is bad_json, not a crash."""
    attacker = await welcomed(server, pki)
    nested = b'{"type":"msg","text":"x","deep":' + b"[" * 30000 + b"]" * 30000 + b"}\n"
    await answered(attacker, nested, "bad_json")


async def case_nan(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """NaN is not JSON: bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"ping","t":NaN}\n', "bad_json")


async def case_duplicate_keys(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Duplicate keys (a smuggled second type) are bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"ping","type":"msg","text":"x"}\n', "bad_json")


async def case_wrong_field_type(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """text as a number is bad_field, with the readable ref."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"msg","text":42,"ref":"w1"}\n', "bad_field", "w1")


async def case_unknown_type(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An unknown type is unknown_type."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"teleport","to":"mars"}\n', "unknown_type")


async def case_server_frame_from_a_client(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A client sending a server frame (welcome) gets unknown_type."""
    attacker = await welcomed(server, pki)
    await answered(
        attacker,
        b'{"type":"welcome","v":1,"name":"x","last_id":0,"users_online":1}\n',
        "unknown_type",
    )


async def case_empty_and_blank_lines(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Empty and whitespace-only lines are ignored: the next answer is the ping's pong."""
    attacker = await peer(server, pki.client(ATTACKER))
    await attacker.send(b"\n\n \t\n\x0b\x0c\r\n   \r\n" * 50 + b'{"type":"ping","t":"b"}\n')
    assert await attacker.next_frame() == Pong(t="b")


async def case_crlf_only_stream(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Thousands of bare CR LF lines are ignored, then a CR LF frame is served."""
    attacker = await peer(server, pki.client(ATTACKER))
    await attacker.send(b"\r\n" * 5000 + b'{"type":"ping","t":"c"}\r\n')
    assert await attacker.next_frame() == Pong(t="c")


async def case_nul_byte_line(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A line of one NUL byte is bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b"\x00\n", "bad_json")


async def case_binary_garbage(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Four kilobytes of random bytes on one line are one bad_utf8 error."""
    garbage = random.Random(7).randbytes(4096).replace(b"\n", b"?")  # noqa: S311
    with pytest.raises(UnicodeDecodeError):
        garbage.decode("utf-8")
    attacker = await welcomed(server, pki)
    await answered(attacker, garbage + b"\n", "bad_utf8")


async def case_byte_order_mark(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A leading byte order mark is bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'\xef\xbb\xbf{"type":"ping"}\n', "bad_json")


async def case_data_after_the_object(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Two objects on one line are bad_json, and neither is served."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"ping","t":"x"} {"type":"ping","t":"y"}\n', "bad_json")


async def case_huge_integer(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An integer of 5,000 digits is bad_json (beyond the parser)."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"history","since":' + b"9" * 5000 + b"}\n", "bad_json")


async def case_invalid_json(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Text that is not JSON is bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b"{type: msg, text: hi}\n", "bad_json")


async def case_json_array(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A JSON array is not a frame: bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'[{"type":"ping"}]\n', "bad_json")


async def case_json_scalar(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A JSON string is not a frame: bad_json."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'"ping"\n', "bad_json")


async def case_missing_type(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An object without type is bad_frame."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"text":"hi"}\n', "bad_frame")


async def case_type_not_a_string(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A type that is not a string is bad_frame."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":["msg"],"text":"hi"}\n', "bad_frame")


async def case_error_limit(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Refusals do not count; the 20th malformed frame ends the session, the rest unread."""
    attacker = await welcomed(server, pki)
    refused = b'{"type":"msg","text":"hi","room":"kitchen"}\n' * 30
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await attacker.send(refused + b"junk\n" * 25)
    seen = await attacker.closed()
    codes = [frame.code for frame in seen if isinstance(frame, Error)]
    assert codes == ["no_such_room"] * 30 + ["bad_json"] * 20
    assert seen[-1] == Bye(reason="protocol_error")


async def case_vanishing_mid_frame(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A peer that closes halfway through a frame leaves as disconnected; nothing is sent."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"msg","text":"half a mess')
    attacker.writer.close()
    await left_logged(ATTACKER, "disconnected")
    assert members(server) == [TALKER, WITNESS]


async def case_reset_mid_frame(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A TCP RST halfway through a frame: left disconnected, the half frame is dropped."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"msg","text":"half a mess')
    reset_on_close(attacker.writer)
    attacker.close()
    await left_logged(ATTACKER, "disconnected")
    assert members(server) == [TALKER, WITNESS]


async def case_half_close_after_hello(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A TCP half-close (FIN, no close_notify) after hello ends the session as disconnected."""
    attacker = await welcomed(server, pki)
    attacker.writer.get_extra_info("socket").shutdown(socket.SHUT_WR)
    await attacker.closed()
    await left_logged(ATTACKER, "disconnected")


async def case_slowloris_after_hello(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A partial line then silence: the session stays, and the rest of the line completes it."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"msg","text":"slow')
    for _ in range(40):  # 40 of the talker's messages pass meanwhile: the room goes on
        while (await attacker.until(Msg)).from_ != TALKER:
            pass
    assert sessions_named(server, ATTACKER) == 1
    await attacker.send(b'ly","ref":"z1"}\n')
    assert (await attacker.until(Ack)).ref == "z1"
    attacker.close()


# Fields


async def case_negative_history_since(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """history with since -1 is bad_field."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"history","since":-1}\n', "bad_field")


async def case_boolean_as_integer(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """history with since true is bad_field (a boolean is no integer)."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"history","since":true}\n', "bad_field")


async def case_oversized_ref(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A 129-character ref is bad_field without a ref; 128 characters is acked."""
    attacker = await welcomed(server, pki)
    too_long = b'{"type":"msg","text":"hi","ref":"' + b"r" * 129 + b'"}\n'
    await answered(attacker, too_long, "bad_field")
    await attacker.send(SendMsg(text="hi", ref="r" * 128))
    assert (await attacker.until(Ack)).ref == "r" * 128


async def case_unknown_room(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A msg for another room is no_such_room with its ref."""
    attacker = await welcomed(server, pki)
    await answered(
        attacker, b'{"type":"msg","text":"hi","room":"kitchen","ref":"k1"}\n', "no_such_room", "k1"
    )


async def case_empty_room(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An empty room name is out of bounds: bad_field."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"who","room":""}\n', "bad_field")


async def case_unknown_action(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """An action other than me is bad_field with the ref."""
    attacker = await welcomed(server, pki)
    await answered(
        attacker, b'{"type":"msg","text":"hi","action":"shout","ref":"a1"}\n', "bad_field", "a1"
    )


async def case_invisible_text(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Text of only zero-width and space characters is empty_text with the ref."""
    attacker = await welcomed(server, pki)
    await answered(
        attacker, b'{"type":"msg","text":"\\u200b \\t\\u2028","ref":"i1"}\n', "empty_text", "i1"
    )


async def case_null_text(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """text null is missing_field with the ref."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"msg","text":null,"ref":"n1"}\n', "missing_field", "n1")


async def case_private_to_nobody(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A private message to an unknown name is no_such_user with the ref."""
    attacker = await welcomed(server, pki)
    await answered(
        attacker, b'{"type":"msg","text":"psst","to":"nobody","ref":"q1"}\n', "no_such_user", "q1"
    )


async def case_forged_from(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A client's from is ignored: the message goes out under the sender's own name."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"msg","text":"I am dave","from":"dave","id":1,"ref":"f1"}\n')
    echo = await attacker.until(Msg)
    while echo.text != "I am dave":
        echo = await attacker.until(Msg)
    assert echo.from_ == ATTACKER
    assert echo.id > 1


async def case_terminal_escapes_pass_through(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Control and bidi characters in text travel unchanged (showing them is the client's job)."""
    attacker = await welcomed(server, pki)
    text = "\x1b[2J\x1b]0;pwned\x07\u202eevil\r\n"
    await attacker.send(SendMsg(text=text, ref="t1"))
    echo = await attacker.until(Msg)
    while echo.from_ != ATTACKER:
        echo = await attacker.until(Msg)
    assert echo.text == text


async def case_history_with_a_huge_limit(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """history with limit 10**30 is a bad_field; 10**18 is served, capped at 500, more: true."""
    attacker = await welcomed(server, pki)
    burst = b"".join(f'{{"type":"msg","text":"h{n}","ref":"h{n}"}}\n'.encode() for n in range(600))
    await attacker.send(burst)
    while (await attacker.until(Ack)).ref != "h599":
        pass
    await attacker.send(b'{"type":"history","since":0,"limit":' + b"1" + b"0" * 30 + b"}\n")
    assert (await attacker.until(Error)).code == "bad_field"
    await attacker.send(b'{"type":"history","since":0,"limit":' + b"1" + b"0" * 18 + b"}\n")
    replayed: list[Msg] = []
    async with asyncio.timeout(WAIT):
        while not isinstance(frame := await attacker.next_frame(), HistoryEnd):
            assert frame is not None
            if isinstance(frame, Msg) and frame.replay:
                replayed.append(frame)
    assert (frame.count, frame.more) == (500, True)
    assert [msg.id for msg in replayed] == list(range(1, 501))


async def case_who_with_an_overlong_cursor(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A who cursor of 257 characters is bad_field; 256 is answered."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"who","cursor":"' + b"c" * 257 + b'"}\n', "bad_field")
    await attacker.send(b'{"type":"who","cursor":"' + b"z" * 256 + b'"}\n')
    assert (await attacker.until(Users)).users == ()


async def case_ping_with_1e400(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A ping t too large for a double is bad_field."""
    attacker = await welcomed(server, pki)
    await answered(attacker, b'{"type":"ping","t":1e400}\n', "bad_field")


async def case_another_identitys_ref(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A ref the talker already used is no duplicate for another identity: stored anew."""
    attacker = await welcomed(server, pki)
    await attacker.send(SendMsg(text="my own n1", ref="n1"))
    ack = await attacker.until(Ack)
    echo = await attacker.until(Msg)
    while echo.from_ != ATTACKER:
        echo = await attacker.until(Msg)
    assert (ack.ref, echo.id, echo.text) == ("n1", ack.id, "my own n1")


async def case_resent_ref(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """The same ref sent twice in one write is stored once: two acks, one id, one echo."""
    attacker = await welcomed(server, pki)
    twice = b'{"type":"msg","text":"once","ref":"dup"}\n' * 2
    await attacker.send(twice + b'{"type":"msg","text":"fence","ref":"fence"}\n')
    acks: list[Ack] = []
    echoes: list[str] = []
    while echoes[-1:] != ["fence"]:
        frame = await attacker.next_frame()
        if isinstance(frame, Ack):
            acks.append(frame)
        elif isinstance(frame, Msg) and frame.from_ == ATTACKER:
            echoes.append(frame.text)
    assert [ack.ref for ack in acks] == ["dup", "dup", "fence"]
    assert acks[0].id == acks[1].id
    assert echoes == ["once", "fence"]


async def case_errors_before_hello_count_after_it(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """The error limit spans the whole session: 10 before hello and 10 after end it."""
    attacker = await peer(server, pki.client(ATTACKER))
    await attacker.send(b"junk\n" * 10)
    for _ in range(10):
        assert (await attacker.until(Error)).code == "bad_json"
    await attacker.send(HELLO)
    await attacker.until(Welcome)
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await attacker.send(b"junk\n" * 15)
    seen = await attacker.closed()
    assert [frame.code for frame in seen if isinstance(frame, Error)] == ["bad_json"] * 10
    assert seen[-1] == Bye(reason="protocol_error")


def no_tracebacks() -> None:
    """Peer misbehaviour is never logged as an error with a traceback."""
    errors = [r.getMessage() for r in TAP.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []


async def case_history_since_beyond_sqlite(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """history since 2**64 is a bad_field (ids fit 64 bits), never a store failure."""
    attacker = await welcomed(server, pki)
    await attacker.send(b'{"type":"history","since":18446744073709551616}\n')
    error = await attacker.until(Error)
    assert error.code == "bad_field"
    await still_serves(attacker)
    no_tracebacks()


async def case_hello_since_beyond_sqlite(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """hello since 2**64 is a bad_field; a correct hello on the same session is welcomed."""
    attacker = await peer(server, pki.client(ATTACKER))
    await attacker.send(b'{"type":"hello","v":1,"since":18446744073709551616}\n')
    assert (await attacker.until(Error)).code == "bad_field"
    await attacker.send(b'{"type":"hello","v":1,"since":9223372036854775807}\n')
    await attacker.until(Welcome)
    end = await attacker.until(HistoryEnd)
    assert (end.count, end.more) == (0, False)
    await still_serves(attacker)
    no_tracebacks()


async def case_nul_characters_stored(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Text with NUL and other controls survives the SQLite store unchanged."""
    attacker = await welcomed(server, pki)
    text = "a\x00b\x00\x7f\x1b[0m"
    await attacker.send(SendMsg(text=text, ref="nul"))
    stored = (await attacker.until(Ack)).id
    await attacker.send(f'{{"type":"history","since":{stored - 1},"limit":1}}\n'.encode())
    replayed = await attacker.until(Msg)
    while not replayed.replay:
        replayed = await attacker.until(Msg)
    assert (replayed.id, replayed.text) == (stored, text)


async def case_two_bursts_of_big_messages(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Two sessions of one user each send their burst of 60 near-limit messages: all acked."""
    senders = [await welcomed(server, pki) for _ in range(2)]
    text = "x" * 65_000
    for n, sender in enumerate(senders):
        burst = b"".join(
            f'{{"type":"msg","text":"{text}","ref":"big{n}-{k}"}}\n'.encode() for k in range(60)
        )
        sender.writer.write(burst)
    for n, sender in enumerate(senders):
        await sender.writer.drain()
        refs: list[str] = []
        async with asyncio.timeout(30):
            while len(refs) < 60:
                frame = await sender.next_frame(timeout=30)
                if isinstance(frame, Ack):
                    refs.append(frame.ref)
        assert refs == [f"big{n}-{k}" for k in range(60)]


# Load


async def case_flood(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A flood past the burst gets rate_limited (with refs), then bye flooding."""
    attacker = await welcomed(server, pki)
    flood = b"".join(
        f'{{"type":"msg","text":"spam {n}","ref":"s{n}"}}\n'.encode() for n in range(2000)
    )
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await attacker.send(flood)
    seen = await attacker.closed()
    limited = [f for f in seen if isinstance(f, Error) and f.code == "rate_limited"]
    assert len(limited) >= 50  # flood_limit refusals in a row, each answered, then bye
    refs = [int((error.ref or "?").removeprefix("s")) for error in limited]
    assert refs == sorted(refs)
    assert refs[0] >= 20  # the burst went through
    assert seen[-1] == Bye(reason="flooding")
    await left_logged(ATTACKER, "flooding")


async def tiny_window_peer(server: ChatServer, pki: Pki, user: str) -> RawPeer:
    """A TLS peer with a tiny receive buffer that will never read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port_of(server)))
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=client_context(pki.client(user)), server_hostname="chatserver"
        )
    except BaseException:
        sock.close()
        raise
    _OPEN.append(writer)
    return RawPeer(reader, writer)


async def case_ten_peers_that_never_read(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Ten peers that never read are cut off as slow consumers; the talker's stream goes on."""
    sleepers = [await tiny_window_peer(server, pki, "bob") for _ in range(10)]
    for sleeper in sleepers:
        await sleeper.send(HELLO)
    await eventually(lambda: sessions_named(server, "bob") == 10)
    loud = await join(server, pki, "alice")
    text = "x" * 60_000
    leaves: list[Leave] = []
    async with asyncio.timeout(30):
        sent = 0
        while sessions_named(server, "bob") and sent < 2000:
            for _ in range(10):
                await loud.send(SendMsg(text=text))
            sent += 10
            echoes = 0
            while echoes < 10:
                frame = await loud.receive()
                echoes += isinstance(frame, Msg) and frame.from_ == "alice"
                assert not isinstance(frame, Gap), "alice fell behind, not only the sleepers"
                if isinstance(frame, Leave):
                    leaves.append(frame)
    assert sessions_named(server, "bob") == 0
    while not leaves:
        leaves.append(await receive_until(loud, Leave))
    assert [(left.name, left.reason) for left in leaves] == [("bob", "slow_consumer")]
    await loud.close()


async def case_burst_over_the_connection_cap(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Eight at once with room for two: two are welcomed, six get bye server_full."""
    crowd = await asyncio.gather(*(peer(server, pki.client(ATTACKER)) for _ in range(8)))
    for member in crowd:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await member.send(HELLO)
    welcomes, refusals = 0, []
    for member in crowd:
        first = await member.next_frame()
        if isinstance(first, Welcome):
            welcomes += 1
            member.close()
        else:
            refusals.append([first, *await member.closed()])
    assert welcomes == 2
    assert refusals == [[Bye(reason="server_full")]] * 6
    await eventually(lambda: members(server) == [TALKER, WITNESS])


async def case_too_many_from_one_address(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """With four per address, two more are welcomed and a third gets too_many_connections."""
    kept = [await welcomed(server, pki) for _ in range(2)]
    extra = await peer(server, pki.client(ATTACKER))
    assert await extra.closed() == [Bye(reason="too_many_connections")]
    for member in kept:
        member.close()
    await eventually(lambda: members(server) == [TALKER, WITNESS])


async def case_pings_are_never_rate_limited(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """With a burst of 20, a thousand pings in one write are all answered, none limited."""
    attacker = await welcomed(server, pki)
    await attacker.send(b"".join(f'{{"type":"ping","t":{n}}}\n'.encode() for n in range(1000)))
    answers: list[object] = []
    while len(answers) < 1000:
        frame = await attacker.next_frame()
        assert not isinstance(frame, Error), frame
        if isinstance(frame, Pong):
            answers.append(frame.t)
    assert answers == list(range(1000))


async def case_history_amplification(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Forty 500-message history requests in one write: each gets its history_end, in order."""
    attacker = await welcomed(server, pki)
    burst = b"".join(f'{{"type":"msg","text":"h{n}","ref":"h{n}"}}\n'.encode() for n in range(600))
    await attacker.send(burst)
    while (await attacker.until(Ack)).ref != "h599":
        pass
    await attacker.send(b'{"type":"history","since":0}\n' * 40)
    ends: list[HistoryEnd] = []
    replayed = missed = 0
    async with asyncio.timeout(30):
        while len(ends) < 40:
            frame = await attacker.next_frame(timeout=30)
            if isinstance(frame, HistoryEnd):
                ends.append(frame)
            elif isinstance(frame, Msg) and frame.replay:
                replayed += 1
            elif isinstance(frame, Gap):
                missed += frame.missed
    assert {(end.count, end.more) for end in ends} == {(500, True)}
    assert replayed + missed >= 40 * 500  # every replayed msg came, or a gap named it
    await still_serves(attacker)


async def case_a_thousand_pings(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """A thousand pings in one write get a thousand pongs, in order."""
    attacker = await welcomed(server, pki)
    await attacker.send(b"".join(f'{{"type":"ping","t":{n}}}\n'.encode() for n in range(1000)))
    pongs = [(await attacker.until(Pong)).t for _ in range(1000)]
    assert pongs == list(range(1000))


async def case_many_tiny_frames_in_one_write(server: ChatServer, pki: Pki, tmp_path: Path) -> None:
    """Five hundred tiny msgs in one write are all stored, acked in order, ids increasing."""
    attacker = await welcomed(server, pki)
    await attacker.send(
        b"".join(f'{{"type":"msg","text":"{n}","ref":"m{n}"}}\n'.encode() for n in range(500))
    )
    acks = [await attacker.until(Ack) for _ in range(500)]
    assert [ack.ref for ack in acks] == [f"m{n}" for n in range(500)]
    ids = [ack.id for ack in acks]
    assert ids == sorted(set(ids))


# Per identity, and all queues together (issue 16)

SESSIONS_OF_ONE = 8


async def sessions_of(server: ChatServer, pki: Pki, count: int = SESSIONS_OF_ONE) -> list[RawPeer]:
    """``count`` welcomed sessions of the attacker's one certificate."""
    return [await welcomed(server, pki) for _ in range(count)]


async def outcomes(sender: RawPeer, refs: set[str]) -> tuple[list[str], list[str]]:
    """Read until each of ``refs`` is acked or refused: (acked, refused), in arrival order."""
    acked: list[str] = []
    refused: list[str] = []
    async with asyncio.timeout(30):
        while len(acked) + len(refused) < len(refs):
            frame = await sender.next_frame(timeout=30)
            assert frame is not None, "closed before every message was answered"
            if isinstance(frame, Ack) and frame.ref in refs:
                acked.append(frame.ref)
            elif isinstance(frame, Error) and frame.ref in refs:
                assert frame.code == "rate_limited", frame
                refused.append(frame.ref)
    return acked, refused


async def case_many_sessions_share_one_identitys_rate(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Eight sessions of one certificate send 100 messages each at once: together they get
    the identity's burst and rate (50, 300/s), not eight times it (all 800 before)."""
    senders = await sessions_of(server, pki)
    started = asyncio.get_running_loop().time()
    for n, sender in enumerate(senders):
        sender.writer.write(
            b"".join(
                f'{{"type":"msg","text":"r{n}-{k}","ref":"r{n}-{k}"}}\n'.encode()
                for k in range(100)
            )
        )
    accepted = 0
    for n, sender in enumerate(senders):
        acked, _ = await outcomes(sender, {f"r{n}-{k}" for k in range(100)})
        accepted += len(acked)
    elapsed = asyncio.get_running_loop().time() - started
    assert accepted <= 50 + 300 * elapsed + 10, (accepted, elapsed)
    assert accepted < 8 * 100
    assert any(fields.get("limit") == "identity_rate" for fields in events("limited"))


async def case_many_sessions_share_one_identitys_text_budget(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Four sessions of one certificate send 30 messages of 60 kB each at once (7.2 MB):
    what is stored stays within the identity's byte burst and rate (all of it before)."""
    text = "x" * 60_000
    senders = await sessions_of(server, pki, 4)
    started = asyncio.get_running_loop().time()
    for n, sender in enumerate(senders):
        sender.writer.write(
            b"".join(
                f'{{"type":"msg","text":"{text}","ref":"t{n}-{k}"}}\n'.encode() for k in range(30)
            )
        )
    stored = 0
    for n, sender in enumerate(senders):
        acked, _ = await outcomes(sender, {f"t{n}-{k}" for k in range(30)})
        stored += len(acked) * len(text)
    elapsed = asyncio.get_running_loop().time() - started
    assert stored <= 1024 * 1024 + 65536 * elapsed + len(text), (stored, elapsed)
    assert any(fields.get("limit") == "identity_text_rate" for fields in events("limited"))


async def case_reconnect_storm_is_announced_a_few_times(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Fifty reconnects of one certificate: an onlooker is told of it a few times (burst 4,
    then once a second), not 100 times, and is told in the end that it left."""
    onlooker = await join(server, pki, "bob")
    told: list[Frame] = []

    async def listen() -> None:
        with contextlib.suppress(ConnectionLost):
            while True:
                frame = await onlooker.receive()
                if isinstance(frame, Join | Leave) and frame.name == ATTACKER:
                    told.append(frame)

    listening = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        for _ in range(50):
            attacker = await welcomed(server, pki)
            attacker.close()
            await eventually(lambda: sessions_named(server, ATTACKER) == 0)
        elapsed = loop.time() - started
        # What is still to be said is due within the interval (1 s) of the last word.
        quiet_from = loop.time() + 1.5
        await eventually(
            lambda: loop.time() >= quiet_from and bool(told) and isinstance(told[-1], Leave)
        )
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    assert len(told) <= 4 + elapsed / 1.0 + 2, (len(told), elapsed)
    await onlooker.close()


async def case_non_readers_are_shed_past_the_total_queue_bound(
    server: ChatServer, pki: Pki, tmp_path: Path
) -> None:
    """Twenty sessions never read while 60 kB messages go out, each queue up to 1 MiB: past
    4 MiB queued in all, the biggest holders are ended as slow consumers long before the
    60 s write timeout, until no more than four are left, and what all queues hold stays
    near the bound (20 MiB and more before, for 60 s)."""
    for _ in range(20):  # each says hello at once: twenty handshakes outlast the hello timeout
        sleeper = await tiny_window_peer(server, pki, ATTACKER)
        await sleeper.send(HELLO)
    await eventually(lambda: sessions_named(server, ATTACKER) == 20)
    loud = await join(server, pki, "alice")
    text = "x" * 60_000
    peak = 0
    async with asyncio.timeout(30):
        sent = 0
        while sessions_named(server, ATTACKER) > 4 and sent < 2000:
            await loud.send(SendMsg(text=text))
            sent += 1
            while (await receive_until(loud, Msg)).from_ != "alice":  # one at a time
                pass
            # What outlives a loop iteration: what paused transports could not take.
            held = (s.outbox.holding_bytes for s in server.hub.sessions if s.outbox.paused)
            peak = max(peak, sum(held))
    assert peak <= 6 * 1024 * 1024, peak  # the bound, and one message to every queue
    await left_logged(ATTACKER, "slow_consumer")
    assert any(fields.get("limit") == "queue_total_bytes" for fields in events("limited"))
    await loud.close()


# == the table ==========================================================================

Attack = Callable[[ChatServer, Pki, Path], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    """One attack, and the server it runs against."""

    attack: Attack
    limits: Mapping[str, Any] = field(default_factory=dict)
    claim: bool = False
    files: Callable[[Pki, Path], ServerFiles] | None = None
    store: Callable[[Path], Store] | None = None  # default: the memory store
    settings: Mapping[str, Any] = field(default_factory=dict)  # ServerSettings fields
    marks: tuple[pytest.MarkDecorator, ...] = ()  # protocol(...): the rules the case holds

    @property
    def id(self) -> str:
        return self.attack.__name__.removeprefix("case_")


CASES: list[Case] = [
    # certificates
    Case(case_no_certificate),
    Case(case_certificate_of_another_ca),
    Case(case_expired_certificate),
    Case(case_certificate_not_yet_valid, files=second_ca_trust),
    Case(case_revoked_certificate, files=second_ca_trust),
    Case(case_server_auth_only_certificate),
    Case(case_server_certificate_as_client),
    Case(case_cn_that_is_not_a_name, marks=(pytest.mark.protocol("5.3"),)),
    Case(case_cn_with_a_bidi_override),
    Case(case_certificate_without_a_cn),
    Case(case_cn_longer_than_64_characters),
    Case(case_empty_cn),
    Case(case_self_signed_pinned, files=pinned_trust),
    Case(case_self_signed_unpinned),
    Case(case_pinned_impostor_of_a_member, files=pinned_trust),
    Case(case_pinned_user_mints_an_identity, files=users_pinned_trust),
    Case(case_bundled_user_mints_an_identity, files=users_bundle_trust),
    Case(case_ca_issued_certificate_that_can_sign),
    Case(case_the_ca_certificate_as_a_client),
    Case(case_an_older_crl_does_not_unrevoke, files=second_ca_trust),
    # TLS and TCP
    Case(case_tls_1_0),
    Case(case_tls_1_1),
    Case(case_tls_1_2_on_a_tls13_only_server, settings={"tls13_only": True}),
    Case(case_tls12_cbc_only),
    Case(case_plaintext_to_the_tls_port),
    Case(case_http_request),
    Case(case_handshake_never_finished),
    Case(case_connect_then_close),
    Case(case_reset_on_connect),
    Case(case_too_many_handshakes, limits={"max_handshakes": 2, "handshake_timeout": 5.0}),
    Case(case_idle_sockets_from_two_addresses, limits={"max_handshakes": 16}),
    Case(case_silent_socket_first_byte_timeout, limits={"first_byte_timeout": 0.2}),
    Case(case_handshakes_per_source, limits={"max_handshakes_per_source": 2, "ipv4_prefix": 24}),
    Case(case_connect_reset_loop, limits={"refusal_log_interval": 1.0}),
    Case(case_tls_record_corrupted),
    Case(case_connect_tls_then_close),
    # session lifecycle
    Case(case_hello_never_sent, marks=(pytest.mark.protocol("5.1", "12.2"),)),
    Case(case_pings_do_not_delay_the_hello_timeout, marks=(pytest.mark.protocol("5.1"),)),
    Case(case_partial_hello_then_silence),
    Case(case_claimed_name_invalid, claim=True),
    Case(case_claimed_name_of_another, claim=True),
    Case(case_claimed_name_with_a_zero_width_joiner, claim=True),
    Case(case_claimed_look_alikes_of_the_talker, claim=True, marks=(pytest.mark.protocol("5.3"),)),
    Case(case_cn_that_looks_like_the_talker, marks=(pytest.mark.protocol("5.3"),)),
    Case(case_claims_past_the_limit, claim=True, marks=(pytest.mark.protocol("5.3"),)),
    # framing
    Case(case_oversized_line_in_pieces, limits={"max_line_bytes": 4096}),
    Case(case_frames_before_an_oversized_line, limits={"max_line_bytes": 4096}),
    Case(case_invalid_utf8),
    Case(case_lone_surrogate),
    Case(case_deep_nesting),
    Case(case_nan),
    Case(case_duplicate_keys),
    Case(case_wrong_field_type),
    Case(case_unknown_type),
    Case(case_server_frame_from_a_client),
    Case(case_empty_and_blank_lines),
    Case(case_crlf_only_stream),
    Case(case_nul_byte_line),
    Case(case_binary_garbage),
    Case(case_byte_order_mark),
    Case(case_data_after_the_object),
    Case(case_huge_integer),
    Case(case_invalid_json),
    Case(case_json_array),
    Case(case_json_scalar),
    Case(case_missing_type),
    Case(case_type_not_a_string),
    Case(case_error_limit),
    Case(case_vanishing_mid_frame),
    Case(case_reset_mid_frame),
    Case(case_half_close_after_hello),
    Case(case_slowloris_after_hello),
    # fields
    Case(case_negative_history_since),
    Case(case_boolean_as_integer),
    Case(case_oversized_ref),
    Case(case_unknown_room),
    Case(case_empty_room),
    Case(case_unknown_action),
    Case(case_invisible_text),
    Case(case_null_text),
    Case(case_private_to_nobody),
    Case(case_forged_from),
    Case(case_terminal_escapes_pass_through),
    Case(case_history_with_a_huge_limit, marks=(pytest.mark.protocol("8.1"),)),
    Case(case_who_with_an_overlong_cursor),
    Case(case_ping_with_1e400),
    Case(case_another_identitys_ref, marks=(pytest.mark.protocol("6.3"),)),
    Case(case_resent_ref, marks=(pytest.mark.protocol("6.3"),)),
    Case(case_errors_before_hello_count_after_it, marks=(pytest.mark.protocol("12.1"),)),
    Case(case_history_since_beyond_sqlite, store=sqlite_store),
    Case(case_hello_since_beyond_sqlite, store=sqlite_store, marks=(pytest.mark.protocol("8.3"),)),
    Case(case_nul_characters_stored, store=sqlite_store),
    # load
    Case(case_flood, limits={"rate": 400, "burst": 20, "flood_limit": 50}),
    Case(
        case_ten_peers_that_never_read,
        # a queue that holds a whole round of ten 60 kB messages: only the sleepers fall behind;
        # ten sessions of one certificate
        limits={"queue_bytes": 1024 * 1024, "write_timeout": 0.5, "max_per_identity": 10},
    ),
    Case(case_burst_over_the_connection_cap, limits={"max_connections": 4}),
    Case(case_too_many_from_one_address, limits={"max_per_address": 4}),
    Case(case_one_identity_from_many_addresses, limits={"max_per_identity": 3}),
    Case(case_a_thousand_pings),
    Case(case_pings_are_never_rate_limited, limits={"rate": 400, "burst": 20}),
    Case(case_history_amplification, marks=(pytest.mark.protocol("8.1"),)),
    Case(case_many_tiny_frames_in_one_write),
    Case(
        case_many_sessions_share_one_identitys_rate,
        limits={"identity_rate": 300, "identity_burst": 50, "flood_limit": 10_000},
        marks=(pytest.mark.protocol("12.3"),),
    ),
    Case(
        case_many_sessions_share_one_identitys_text_budget,
        limits={"identity_text_rate": 65536, "identity_text_burst": 1024 * 1024},
        marks=(pytest.mark.protocol("12.3"),),
    ),
    Case(
        case_reconnect_storm_is_announced_a_few_times,
        limits={"max_per_address": 200},
        settings={"presence_interval": 1.0},
        marks=(pytest.mark.protocol("7.2"),),
    ),
    Case(
        case_non_readers_are_shed_past_the_total_queue_bound,
        limits={
            "queue_bytes": 1024 * 1024,
            "queue_total_bytes": 4 * 1024 * 1024,
            "write_timeout": 60.0,
            "max_per_identity": 100,  # twenty sessions of one certificate
        },
        marks=(pytest.mark.protocol("10"),),
    ),
    Case(
        case_two_bursts_of_big_messages,
        limits={"rate": 400, "burst": 60},  # the default burst; a rate the talker stays under
        store=slow_disk_store,
    ),
]


# == the harness ========================================================================


@dataclass
class Stream:
    """The talker sends numbered messages with refs; the witness records what it gets."""

    server: ChatServer
    talker: ServerConnection
    witness: ServerConnection
    sent: int = 0
    heard: list[str] = field(default_factory=list)
    heard_ids: list[int] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def start(cls, server: ChatServer, pki: Pki) -> Stream:
        talker = await join(server, pki, TALKER)
        witness = await join(server, pki, WITNESS)
        stream = cls(server, talker, witness)
        stream._tasks = [
            asyncio.create_task(stream._talk()),
            asyncio.create_task(stream._listen()),
            asyncio.create_task(stream._watch()),
        ]
        await stream.wait_for(lambda: len(stream.heard) >= 3)
        return stream

    async def _talk(self) -> None:
        try:
            while not self._stop.is_set():
                await self.talker.send(SendMsg(text=str(self.sent), ref=f"n{self.sent}"))
                self.sent += 1
                await asyncio.sleep(PACE)  # pacing, not synchronisation
            await self.talker.send(SendMsg(text="end", ref="end"))
        except Exception as exc:
            self.failures.append(exc)

    async def _listen(self) -> None:
        """The talker reads its acks (and everything else, so it never falls behind)."""
        try:
            while True:
                frame = await self.talker.receive()
                if isinstance(frame, Ack):
                    self.acked.append(frame.ref)
        except ConnectionLost:
            pass
        except Exception as exc:
            self.failures.append(exc)

    async def _watch(self) -> None:
        try:
            while True:
                frame: Frame = await self.witness.receive()
                if isinstance(frame, Msg) and frame.from_ == TALKER and not frame.replay:
                    self.heard.append(frame.text)
                    self.heard_ids.append(frame.id)
        except ConnectionLost:
            pass
        except Exception as exc:
            self.failures.append(exc)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        await eventually(lambda: bool(self.failures) or predicate(), timeout=30)
        assert not self.failures, self.failures

    async def finish(self) -> None:
        """Let a few more messages through, stop, and check the witness got them all."""
        mark = len(self.heard)
        await self.wait_for(lambda: len(self.heard) >= mark + 3)
        self._stop.set()
        await self.wait_for(lambda: "end" in self.heard and "end" in self.acked)
        expected = [str(n) for n in range(self.sent)]
        assert self.heard == [*expected, "end"], "the witness lost or reordered messages"
        assert self.heard_ids == sorted(set(self.heard_ids))
        assert self.acked == [f"n{n}" for n in range(self.sent)] + ["end"]
        witness_sessions = [s for s in self.server.hub.sessions if s.name == WITNESS]
        assert [s.outbox.dropped for s in witness_sessions] == [0]

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.talker.close()
        await self.witness.close()


async def fresh_client_is_welcome(server: ChatServer, pki: Pki) -> None:
    """A legitimate newcomer is welcomed and its message stored."""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                newcomer = await join(server, pki, "alice")
                break
            except SessionRefused as refused:
                if refused.reason not in ("server_full", "too_many_connections"):
                    raise
                await asyncio.sleep(
                    0.05
                )  # a cap whose places are still being freed  # polling, bounded by the timeout
    await newcomer.send(SendMsg(text="after the attack", ref="fresh"))
    assert (await receive_until(newcomer, Ack)).ref == "fresh"
    await newcomer.close()


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case.id, marks=case.marks) for case in CASES]
)
async def test_fault_harms_no_one_else(
    case: Case, start_server: ServerFactory, pki: Pki, tmp_path: Path, log_tap: LogTap
) -> None:
    """The attacker gets what docs/protocol.md says while the witness loses no message."""
    files = case.files(pki, tmp_path) if case.files is not None else None
    settings = ServerSettings(
        names=NamesMode.CLAIM if case.claim else NamesMode.CN, **case.settings
    )
    store = case.store(tmp_path) if case.store is not None else None
    server = await start_server(
        files=files, settings=settings, store=store, **{**HARNESS_LIMITS, **case.limits}
    )
    stream = await Stream.start(server, pki)
    try:
        await case.attack(server, pki, tmp_path)
        await stream.finish()
        await fresh_client_is_welcome(server, pki)
        no_tracebacks()
    finally:
        for writer in _OPEN:
            writer.transport.abort()
        _OPEN.clear()
        await stream.close()


def test_the_table_is_large_and_ids_are_unique() -> None:
    """At least forty cases, each with its own id."""
    ids = [case.id for case in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)

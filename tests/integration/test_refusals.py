"""Who does not get in, and the one log line each refusal leaves."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.client.servercert import server_certificate_names
from realtimechat.errors import (
    CannotConnect,
    CertificateRejected,
    ExitCode,
    ServerNameMismatch,
    ServerNotTrusted,
)
from realtimechat.protocol import Bye, Msg, SendMsg
from realtimechat.server.app import ChatServer
from realtimechat.server.config import Limits
from realtimechat.tls import ClientFiles, client_context

from ..support import (
    TEST_LIMITS,
    WAIT,
    Pki,
    RawPeer,
    ServerFactory,
    connect,
    endpoint,
    eventually,
    join,
    limits_with,
    port_of,
)

try:
    import uvloop
except ImportError:  # not on every platform (pyproject.toml)
    uvloop = None  # type: ignore[assignment]


def refusals(log: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in log.records if r.getMessage().startswith("refused ")]


def context_without_certificate(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.folder.ca_cert))


@pytest.mark.protocol("1")
async def test_no_client_certificate_is_refused_and_logged(
    server: ChatServer, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """A client without a certificate never gets a welcome; the server logs why."""
    connection = await ServerConnection.open(endpoint(server), context_without_certificate(pki))
    with pytest.raises(CertificateRejected, match="did not accept our certificate"):
        await connection.hello()
    await eventually(lambda: bool(refusals(server_log)))
    (line,) = refusals(server_log)
    assert "peer=127.0.0.1:" in line
    assert "no client certificate" in line


@pytest.mark.protocol("1")
async def test_certificate_from_another_ca_is_refused_and_logged(
    server: ChatServer, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """A certificate from an untrusted CA is refused with the verify reason in the log."""
    connection = await connect(server, pki.rogue_client())
    with pytest.raises(CertificateRejected):
        await connection.hello()
    await eventually(lambda: bool(refusals(server_log)))
    (line,) = refusals(server_log)
    assert "certificate verify failed: unable to get local issuer certificate" in line


@pytest.mark.protocol("1")
async def test_expired_certificate_is_refused_and_logged(
    server: ChatServer, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """An expired client certificate is refused; the log says it has expired."""
    connection = await connect(server, pki.client("expired"))
    with pytest.raises(CertificateRejected):
        await connection.hello()
    await eventually(lambda: bool(refusals(server_log)))
    assert "certificate has expired" in refusals(server_log)[0]


@pytest.mark.protocol("1")
async def test_unfinished_handshake_is_closed_after_the_timeout(
    start_server: ServerFactory, server_log: pytest.LogCaptureFixture
) -> None:
    """A peer that opens TCP and never finishes TLS is closed and logged."""
    server = await start_server(handshake_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
    async with asyncio.timeout(10):
        assert await reader.read() == b""
    writer.close()
    await eventually(lambda: bool(refusals(server_log)))
    assert "handshake timed out" in refusals(server_log)[0]


@pytest.mark.protocol("1")
async def test_plaintext_to_the_tls_port_is_refused_and_logged(
    server: ChatServer, server_log: pytest.LogCaptureFixture
) -> None:
    """Someone typing JSON without TLS is refused with a reason that says so."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(b'{"type":"hello","v":1}\n')
    async with asyncio.timeout(10):
        await reader.read()
    writer.close()
    await eventually(lambda: bool(refusals(server_log)))
    assert "not a TLS handshake" in refusals(server_log)[0]


@pytest.mark.protocol("5.1", "12.2")
async def test_peer_that_never_says_hello_is_closed(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """After TLS, no hello within the timeout ends the session with bye hello_timeout."""
    server = await start_server(hello_timeout=0.5)
    peer = await RawPeer.open(server, pki.client("alice"))
    seen = await peer.closed()
    assert seen == [Bye(reason="hello_timeout")]
    await eventually(
        lambda: any("reason=hello_timeout" in r.getMessage() for r in server_log.records)
    )
    line = next(r.getMessage() for r in server_log.records if "hello_timeout" in r.getMessage())
    assert "cn=alice" in line
    assert "fp=" in line


async def test_client_refuses_a_server_from_an_unknown_ca(
    start_server: ServerFactory, pki: Pki
) -> None:
    """A server whose certificate our CA did not issue is not trusted."""
    server = await start_server(files=pki.rogue_server())
    with pytest.raises(ServerNotTrusted, match="not trusted"):
        await connect(server, pki.client("alice"))


async def test_a_server_from_another_ca_is_explained_with_our_ca_file(
    start_server: ServerFactory, pki: Pki, tmp_path: Path
) -> None:
    """rtchat names the ca.crt it trusts instead of OpenSSL's words, and exits 4."""
    server = await start_server(files=pki.rogue_server())
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "rtchat"),
        *("--host", "127.0.0.1", "--port", str(port_of(server)), "--cn", "chatserver"),
        *("--pki", str(pki.folder.root), "--name", "alice", "--plain"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
    )
    async with asyncio.timeout(WAIT):
        _, err = await process.communicate()
    assert err.decode().strip() == (
        f"rtchat: the server's certificate is not signed by the CA in {pki.folder.ca_cert}: "
        "ask your admin for the server's ca.crt"
    )
    assert process.returncode == ExitCode.TLS_FAILED


@pytest.mark.protocol("1")
async def test_client_refuses_a_server_whose_name_is_not_cn(server: ChatServer, pki: Pki) -> None:
    """A trusted certificate for another name fails the --cn check."""
    with pytest.raises(ServerNameMismatch, match="not for 'otherserver'"):
        await ServerConnection.open(
            endpoint(server, cn="otherserver"), client_context(pki.client("alice"))
        )


def without_name_check(files: ClientFiles) -> ssl.SSLContext:
    """A client context that verifies the server's chain, not its name (as rtchat makes it)."""
    context = client_context(files)
    context.check_hostname = False
    return context


async def test_a_wrong_cn_is_told_the_names_the_certificate_is_for(
    server: ChatServer, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """After the name check fails, a second handshake reads the names to offer for --cn."""
    alice = pki.client("alice")
    with pytest.raises(ServerNameMismatch) as refused:
        await ServerConnection.open(
            endpoint(server, cn="otherserver"),
            client_context(alice),
            names_context=lambda: without_name_check(alice),
        )
    assert str(refused.value) == (
        "the server's certificate is not for 'otherserver' "
        "(it is for: chatserver, localhost, 127.0.0.1, ::1): use one of those with --cn"
    )
    # The probe handshake ends before hello: one "closed ... before=hello", no join.
    await eventually(
        lambda: len([r for r in server_log.records if "before=hello" in r.getMessage()]) == 1
    )
    assert not any("joined" in r.getMessage() for r in server_log.records)
    assert not any(r.getMessage().startswith("left ") for r in server_log.records)


async def test_names_are_read_only_from_a_certificate_whose_chain_verifies(
    start_server: ServerFactory, server: ChatServer, pki: Pki
) -> None:
    """No names from a server we do not trust, nor over a context that does not verify."""
    rogue = await start_server(files=pki.rogue_server())
    alice = pki.client("alice")
    with pytest.raises(ServerNotTrusted):
        await ServerConnection.open(
            endpoint(rogue, cn="otherserver"),
            client_context(alice),
            names_context=lambda: without_name_check(alice),
        )
    assert (
        await server_certificate_names(
            "127.0.0.1", port_of(rogue), "chatserver", without_name_check(alice)
        )
        == []
    )
    blind = without_name_check(alice)
    blind.verify_mode = ssl.CERT_NONE
    assert await server_certificate_names("127.0.0.1", port_of(server), "x", blind) == []
    assert await server_certificate_names(
        "127.0.0.1", port_of(server), "x", without_name_check(alice)
    ) == ["chatserver", "localhost", "127.0.0.1", "::1"]


async def test_client_says_when_the_port_does_not_speak_tls(pki: Pki) -> None:
    """A plaintext service on the port (here one answering HTTP) is "cannot connect"."""

    async def answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # the ClientHello
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    plain = await asyncio.start_server(answer_http, "127.0.0.1", 0)
    port = plain.sockets[0].getsockname()[1]
    async with plain:
        with pytest.raises(CannotConnect, match=f"did not answer in TLS .is {port} the chat"):
            await ServerConnection.open(
                Endpoint("127.0.0.1", port, "chatserver"), client_context(pki.client("alice"))
            )


async def test_refused_clients_cost_the_others_nothing(server: ChatServer, pki: Pki) -> None:
    """While strangers are turned away, members keep chatting."""
    alice = await join(server, pki, "alice")
    bob = await join(server, pki, "bob")
    for _ in range(5):
        stranger = await connect(server, pki.rogue_client())
        with pytest.raises(CertificateRejected):
            await stranger.hello()
    await alice.send(SendMsg(text="still fine"))
    frame = await bob.receive()
    while not isinstance(frame, Msg):
        frame = await bob.receive()
    assert frame.text == "still fine"
    await alice.close()
    await bob.close()


async def test_a_refused_client_is_told_why_by_the_tls_alert(server: ChatServer, pki: Pki) -> None:
    """The server flushes OpenSSL's alert before closing: the client hears the reason."""
    stranger = await connect(server, pki.rogue_client())
    with pytest.raises(CertificateRejected, match="does not trust the certificate's issuer"):
        await stranger.hello()
    anonymous = await ServerConnection.open(endpoint(server), context_without_certificate(pki))
    with pytest.raises(CertificateRejected, match="requires a client certificate"):
        await anonymous.hello()
    expired = await connect(server, pki.client("expired"))
    with pytest.raises(CertificateRejected, match="expired"):
        await expired.hello()


# -- floods of refusals: the address kept, the lines counted ----------------------------


def refused_fields(log: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        dict(getattr(r, "fields", {}))
        for r in log.records
        if getattr(r, "event", None) == "refused"
    ]


async def reset_at_once(host: str, port: int, source: str) -> None:
    """TCP connect from ``source``, then RST (SO_LINGER 0) before sending anything."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.bind((source, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    finally:
        sock.close()


async def closed_at_once(address: tuple[str, int]) -> None:
    """Connect to ``address``; the server closes (or resets) before anything is said."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""
    except ConnectionResetError:
        pass
    finally:
        writer.transport.abort()


async def serve_and(
    pki: Pki, limits: Limits, host: str, attack: Callable[[ChatServer], Coroutine[Any, Any, None]]
) -> None:
    """Run ``attack`` against a server on ``host``; its shutdown writes the counted lines."""
    server = ChatServer(pki.server, hosts=[host], port=0, limits=limits)
    await server.start()
    try:
        await attack(server)
    finally:
        await server.shutdown()


@pytest.mark.skipif(uvloop is None, reason="uvloop is not installed")
def test_resets_keep_their_address_on_uvloop(
    pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """On uvloop, 100 connections reset at once are refused as 127.0.0.3, in a few lines."""
    attempts = 100

    async def attack(server: ChatServer) -> None:
        for _ in range(attempts):
            await reset_at_once("127.0.0.1", port_of(server), "127.0.0.3")
        # A whole session after them: the server has taken every one by then.
        await (await join(server, pki, "alice")).close()
        await eventually(lambda: server.connection_count == 0)

    limits = limits_with(TEST_LIMITS, refusal_log_interval=60.0)
    assert uvloop is not None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve_and(pki, limits, "127.0.0.1", attack))
    lines = refused_fields(server_log)
    assert [line["peer"] for line in lines if not str(line["peer"]).startswith("127.0.0.3")] == []
    assert sum(int(line.get("times", 1)) for line in lines) == attempts
    assert len(lines) <= 4, "a first line and one count per reason"


def ipv6_loopback() -> bool:
    """Whether ::1 can be listened on here (containers without IPv6 cannot)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
@pytest.mark.parametrize(("prefix", "source"), [(64, "::/64"), (128, "::1")])
async def test_an_ipv6_source_is_its_prefix(
    pki: Pki, server_log: pytest.LogCaptureFixture, prefix: int, source: str
) -> None:
    """Over ::1, with two handshakes per source, the third and fourth are refused as its prefix."""
    held: list[socket.socket] = []

    async def attack(server: ChatServer) -> None:
        port = port_of(server)
        for _ in range(2):
            sock = socket.create_connection(("::1", port))
            held.append(sock)
        await eventually(lambda: server.connection_count == 2)
        for _ in range(2):
            await closed_at_once(("::1", port))
        for sock in held:
            sock.close()
        await eventually(lambda: server.connection_count == 0)

    limits = limits_with(TEST_LIMITS, max_handshakes_per_source=2, ipv6_prefix=prefix)
    await serve_and(pki, limits, "::1", attack)
    lines = refused_fields(server_log)
    over = [line for line in lines if line["reason"].endswith("from this source")]
    assert over[0]["peer"].startswith("[::1]:")
    assert over[1:] == [
        {"peer": source, "reason": "too many handshakes in progress from this source", "times": 1}
    ]

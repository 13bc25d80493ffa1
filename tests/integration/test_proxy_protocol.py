"""PROXY protocol from a trusted balancer (--proxy-protocol): real TLS after a real header.

The balancer is played by a plain socket that writes a v2 header, then
hands itself to asyncio's TLS client; every connection comes from
127.0.0.1, and only the header tells the sources apart.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import struct
from pathlib import Path

import pytest

from realtimechat.protocol import Bye, Hello, Welcome
from realtimechat.proxyproto import V2_SIGNATURE
from realtimechat.server.app import ChatServer
from realtimechat.server.config import ServerSettings, proxy_networks
from realtimechat.tls import ClientFiles, client_context

from ..support import (
    PROXY_FROM,
    Pki,
    RawPeer,
    ServerFactory,
    ServerProcess,
    eventually,
    port_of,
    start_haproxy,
)

BALANCER = ServerSettings(proxy_from=proxy_networks(["127.0.0.0/30"]))  # 127.0.0.1 .. .3


def header_v2(source: str, port: int, *, local: bool = False) -> bytes:
    """What haproxy's send-proxy-v2 writes before the client's bytes (with one NOOP TLV)."""
    if local:
        return V2_SIGNATURE + b"\x20\x00\x00\x00"
    block = struct.pack(
        "!4s4sHH", ipaddress.IPv4Address(source).packed, bytes([127, 0, 0, 1]), port, 8443
    )
    block += b"\x04\x00\x02xx"
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(block)) + block


async def through_balancer(server: ChatServer, files: ClientFiles, header: bytes) -> RawPeer:
    """A mutual-TLS peer whose first bytes on the wire are ``header``."""
    sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=5)
    sock.sendall(header)
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=client_context(files), server_hostname="chatserver"
    )
    return RawPeer(reader, writer)


def lines(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


async def test_the_headers_address_is_the_peer_and_each_source_gets_its_own_cap(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """max_per_address=1 behind one balancer: two clients in, a second from one source out."""
    server = await start_server(settings=BALANCER, max_per_address=1)
    first = await through_balancer(server, pki.client("alice"), header_v2("198.51.100.7", 40001))
    await first.send(Hello(v=1))
    await first.until(Welcome)
    second = await through_balancer(server, pki.client("bob"), header_v2("203.0.113.9", 40002))
    await second.send(Hello(v=1))
    await second.until(Welcome)  # a different source: not over the cap of one
    third = await through_balancer(server, pki.client("carol"), header_v2("198.51.100.7", 40003))
    await third.send(Hello(v=1))
    bye = await third.until(Bye)
    assert bye.reason == "too_many_connections"
    refused = lines(server_log, "reason=too_many_connections")
    assert refused, "no refusal logged"
    assert "peer=198.51.100.7:40003" in refused[0]
    joined = [line.split(" cn=")[0] for line in lines(server_log, "joined peer=")]
    assert joined == ["joined peer=198.51.100.7:40001", "joined peer=203.0.113.9:40002"]
    for peer in (first, second, third):
        peer.close()


async def test_a_balancer_connection_without_a_header_is_refused_with_its_reason(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """A ClientHello straight from a --proxy-protocol address: refused, logged, counted."""
    server = await start_server(settings=BALANCER)
    with pytest.raises(
        (ConnectionResetError, ssl.SSLError)
    ):  # reset during the handshake (ssl.SSLError is one too)
        await RawPeer.open(server, pki.client("alice"))
    await eventually(lambda: bool(lines(server_log, "bad PROXY header")))
    line = lines(server_log, "bad PROXY header")[0]
    assert line.startswith("refused peer=127.0.0.1:")
    assert "no PROXY protocol header" in line
    assert server.stats.handshakes_refused["bad_proxy_header"] == 1


async def test_a_local_header_is_closed_quietly(
    start_server: ServerFactory, server_log: pytest.LogCaptureFixture
) -> None:
    """The balancer's health check (LOCAL): closed, no refusal logged."""
    server = await start_server(settings=BALANCER)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(header_v2("", 0, local=True))
    assert await asyncio.wait_for(reader.read(100), 5) == b""
    writer.close()
    assert not lines(server_log, "refused")


async def test_a_header_from_anyone_else_is_not_honoured(
    start_server: ServerFactory, pki: Pki, server_log: pytest.LogCaptureFixture
) -> None:
    """Without --proxy-protocol for its address, a header is only a bad TLS handshake."""
    server = await start_server(settings=ServerSettings(proxy_from=proxy_networks(["10.9.9.9"])))
    with pytest.raises((ConnectionResetError, ssl.SSLError)):
        await through_balancer(server, pki.client("alice"), header_v2("198.51.100.7", 40001))
    await eventually(lambda: bool(lines(server_log, "refused")))
    assert all("198.51.100.7" not in line for line in lines(server_log, "peer="))
    assert lines(server_log, "refused")[0].startswith("refused peer=127.0.0.1:")


@pytest.mark.system  # real rtchat-server and haproxy processes
async def test_behind_haproxy_send_proxy_v2_the_server_logs_the_clients_address(
    pki: Pki, tmp_path: Path
) -> None:
    """make cluster's haproxy config: a client bound to 127.0.0.2 is logged as 127.0.0.2,
    not as haproxy's 127.0.0.1; the health checks are not refused for want of a header."""
    server = ServerProcess(pki, tmp_path, extra=["--ephemeral", "--proxy-protocol", PROXY_FROM])
    try:
        haproxy = start_haproxy(tmp_path, [server.port])
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                haproxy.port,
                ssl=client_context(pki.client("alice")),
                server_hostname="chatserver",
                local_addr=("127.0.0.2", 0),
            )
            client = RawPeer(reader, writer)
            await client.send(Hello(v=1))
            await client.until(Welcome)
            port = writer.get_extra_info("sockname")[1]
            client.close()
            await eventually(lambda: "joined peer=" in server.log_text())
            joined = [line for line in server.log_text().splitlines() if "joined peer=" in line]
            assert f" joined peer=127.0.0.2:{port} cn=alice " in joined[0]
        finally:
            haproxy.stop()
        # The checks (every 200 ms) send their header too (check-send-proxy): none is
        # refused for lack of one (a connect-and-close is "peer closed ...", as before).
        assert "bad PROXY header" not in server.log_text()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (b"", "none within the first-byte timeout"),
        (V2_SIGNATURE[:7], "none within the first-byte timeout"),  # half a header, then silence
        (V2_SIGNATURE + b"\x21\x11\xff\xff", "PROXY v2 header too long (65551 bytes)"),
    ],
)
async def test_a_balancer_that_stalls_or_oversends_is_refused_in_time(
    start_server: ServerFactory, server_log: pytest.LogCaptureFixture, sent: bytes, reason: str
) -> None:
    """The header is bounded in time (--first-byte-timeout) and in size."""
    server = await start_server(settings=BALANCER, first_byte_timeout=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(sent)
    assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed by the server
    writer.close()
    await eventually(lambda: bool(lines(server_log, "refused")))
    assert f'reason="bad PROXY header: {reason}"' in lines(server_log, "refused")[0]

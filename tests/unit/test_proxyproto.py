"""The PROXY protocol header parser (proxyproto.py): v2 and v1, fed whole or in pieces."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from click.testing import CliRunner

from realtimechat.cli.server import main
from realtimechat.proxyproto import (
    V2_MAX_BODY,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    parse,
)
from realtimechat.server.config import ServerSettings, proxy_networks


def v2(command: int, family: int, block: bytes) -> bytes:
    """A v2 header as haproxy's send-proxy-v2 writes it."""
    return V2_SIGNATURE + bytes([command, family]) + struct.pack("!H", len(block)) + block


def ipv4_block(source: str, port: int) -> bytes:
    return struct.pack(
        "!4s4sHH",
        ipaddress.IPv4Address(source).packed,
        ipaddress.IPv4Address("10.0.0.1").packed,
        port,
        8443,
    )


def test_v2_ipv4_gives_the_clients_address_and_the_header_length() -> None:
    header = v2(0x21, 0x11, ipv4_block("198.51.100.7", 40000))
    assert parse(header + b"\x16\x03\x01") == ProxyHeader(len(header), ("198.51.100.7", 40000))


def test_v2_ipv6() -> None:
    block = struct.pack(
        "!16s16sHH",
        ipaddress.IPv6Address("2001:db8::5").packed,
        ipaddress.IPv6Address("2001:db8::1").packed,
        51000,
        8443,
    )
    header = v2(0x21, 0x21, block)
    assert parse(header) == ProxyHeader(52, ("2001:db8::5", 51000))


def test_v2_local_and_unspec_name_no_source() -> None:
    assert parse(v2(0x20, 0x00, b"")) == ProxyHeader(16, None)
    assert parse(v2(0x21, 0x00, b"")) == ProxyHeader(16, None)


def test_tlvs_after_the_addresses_are_skipped() -> None:
    tlvs = b"\x04\x00\x03abc" + b"\x20\x00\x05\x01\x00\x00\x00\x00"  # NOOP, SSL
    header = v2(0x21, 0x11, ipv4_block("192.0.2.9", 1234) + tlvs)
    assert parse(header + b"rest") == ProxyHeader(16 + 12 + len(tlvs), ("192.0.2.9", 1234))


def test_an_incomplete_header_waits_for_more_at_every_length() -> None:
    header = v2(0x21, 0x11, ipv4_block("192.0.2.9", 1234))
    for cut in range(len(header)):
        assert parse(header[:cut]) is None, cut
    assert parse(header) == ProxyHeader(28, ("192.0.2.9", 1234))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x16\x03\x01\x02\x00", "no PROXY protocol header"),  # a TLS ClientHello
        (b"\r\n\r\n\x00\r\nQUIx", "bad PROXY v2 signature"),
        (b"\r\nX", "bad PROXY v2 signature"),  # refused early, not waited for
        (V2_SIGNATURE + b"\x11\x11\x00\x00", "bad PROXY v2 version or command 0x11"),
        (
            V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", V2_MAX_BODY + 1),
            r"too long \(233 bytes\)",
        ),
        (v2(0x21, 0x11, b"\x01\x02\x03"), "address block too short"),
        (b"PROXZ", "no PROXY protocol header"),
        (b"PROXY TCP4 " + b"1" * 100, "longer than 107 bytes"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n", "malformed PROXY v1 line"),
        (b"PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n", "malformed PROXY v1 line"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 443\r\n", "malformed PROXY v1 line"),
        (b"PROXY TCP6 1.2.3.4 5.6.7.8 80 443\r\n", "malformed PROXY v1 line"),
    ],
)
def test_bytes_that_cannot_be_a_header_are_refused_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(ProxyHeaderError, match=words):
        parse(data)


def test_v1_lines() -> None:
    line = b"PROXY TCP4 203.0.113.4 10.0.0.1 56324 8443\r\n"
    assert parse(line + b"\x16") == ProxyHeader(len(line), ("203.0.113.4", 56324))
    assert parse(b"PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n") == ProxyHeader(
        40, ("2001:db8::7", 1)
    )
    assert parse(b"PROXY UNKNOWN\r\n") == ProxyHeader(15, None)
    assert parse(line[:20]) is None


def test_only_the_listed_balancers_send_headers() -> None:
    """--proxy-protocol takes addresses and networks, IPv4 and IPv6; nobody else is proxied."""
    settings = ServerSettings(proxy_from=proxy_networks(["10.0.0.5", "192.168.8.0/24", "fd00::/8"]))
    assert [
        settings.proxied(address)
        for address in ("10.0.0.5", "10.0.0.6", "192.168.8.77", "fd12::1", "fe80::1%eth0", "x")
    ] == [True, False, True, True, False, False]
    assert not ServerSettings().proxied("10.0.0.5")  # off by default


def test_a_bad_balancer_address_is_refused_at_start_in_one_line() -> None:
    result = CliRunner().invoke(main, ["--proxy-protocol", "10.0.0.0/24", "--proxy-protocol", "x"])
    assert result.exit_code == 2
    assert "Invalid value for '--proxy-protocol': 'x' is not an IP address or network" in (
        result.output
    )

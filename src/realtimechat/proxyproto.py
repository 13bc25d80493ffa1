"""The PROXY protocol header a load balancer puts before the client's bytes (sans I/O).

Behind haproxy in TCP mode every connection comes from the balancer, so
every per-source limit would see one source for everyone. With
``send-proxy-v2`` (or ``send-proxy``) the balancer first sends a header
naming the client's address; the server reads it before TLS, from the
balancers it trusts only (``rtchat-server --proxy-protocol``).

Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt. Both
forms are read: v2 (binary, a 12-byte signature) and v1 (one text line
``PROXY TCP4 SRC DST SPORT DPORT\\r\\n``). Bytes are fed as they arrive:
``parse`` answers "not yet" (None) until a whole header is there, and
raises ``ProxyHeaderError`` as soon as the bytes cannot begin one, so that
a peer cannot hold the connection by sending garbage slowly.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final

V2_SIGNATURE: Final = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX: Final = b"PROXY "
V2_FIXED: Final = 16  # signature, version+command, family+transport, length
# 216 bytes is the largest address block (two AF_UNIX paths); TLVs share it
# here, so a header is at most 232 bytes: longer ones are refused, not buffered.
V2_MAX_BODY: Final = 216
V1_MAX: Final = 107  # the spec's longest v1 line, CRLF included

_LOCAL: Final = 0x20
_PROXY: Final = 0x21
_TCP4: Final = 0x11
_TCP6: Final = 0x21
_IPV4_BLOCK: Final = struct.Struct("!4s4sHH")
_IPV6_BLOCK: Final = struct.Struct("!16s16sHH")


class ProxyHeaderError(ValueError):
    """The bytes are not a PROXY header (the message says why, for the log)."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A whole header: ``length`` bytes of it, then the client's own bytes follow.

    ``source`` is the client's (address, port); None when the header names
    none (v2 LOCAL, a balancer's health check; UNSPEC or a non-IP family;
    v1 UNKNOWN): the connection is then the balancer's own.
    """

    length: int
    source: tuple[str, int] | None


def parse(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; None while incomplete; raises if it cannot be one."""
    if not data:
        return None
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    if data[0] == V1_PREFIX[0]:
        return _parse_v1(data)
    raise ProxyHeaderError("no PROXY protocol header")


def _parse_v2(data: bytes) -> ProxyHeader | None:
    if not V2_SIGNATURE.startswith(data[: len(V2_SIGNATURE)]):
        raise ProxyHeaderError("bad PROXY v2 signature")
    if len(data) < V2_FIXED:
        return None
    command, family, body = data[12], data[13], int.from_bytes(data[14:16], "big")
    if command not in (_LOCAL, _PROXY):
        raise ProxyHeaderError(f"bad PROXY v2 version or command 0x{command:02x}")
    if body > V2_MAX_BODY:
        raise ProxyHeaderError(f"PROXY v2 header too long ({V2_FIXED + body} bytes)")
    if len(data) < V2_FIXED + body:
        return None
    length = V2_FIXED + body
    if command == _LOCAL:
        return ProxyHeader(length, None)  # the balancer's own connection (health check)
    block = data[V2_FIXED:length]  # the addresses, then TLVs (skipped: nothing here needs one)
    if family == _TCP4:
        return ProxyHeader(length, _address(block, _IPV4_BLOCK, ipaddress.IPv4Address))
    if family == _TCP6:
        return ProxyHeader(length, _address(block, _IPV6_BLOCK, ipaddress.IPv6Address))
    return ProxyHeader(length, None)  # UNSPEC, UDP, AF_UNIX: no IP source to count by


def _address(
    block: bytes,
    layout: struct.Struct,
    kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address],
) -> tuple[str, int]:
    if len(block) < layout.size:
        raise ProxyHeaderError("PROXY v2 address block too short")
    source, _destination, port, _destination_port = layout.unpack_from(block)
    return str(kind(source)), port


def _parse_v1(data: bytes) -> ProxyHeader | None:
    if not V1_PREFIX.startswith(data[: len(V1_PREFIX)]):
        raise ProxyHeaderError("no PROXY protocol header")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError(f"PROXY v1 line longer than {V1_MAX} bytes")
        return None
    length = end + 2
    words = data[len(V1_PREFIX) : end].decode("ascii", "replace").split(" ")
    if words[0] == "UNKNOWN":
        return ProxyHeader(length, None)
    if words[0] not in ("TCP4", "TCP6") or len(words) != 5:
        raise ProxyHeaderError("malformed PROXY v1 line")
    kind = ipaddress.IPv4Address if words[0] == "TCP4" else ipaddress.IPv6Address
    try:
        source = kind(words[1])
        kind(words[2])
        port = int(words[3])
        int(words[4])
    except ValueError:
        raise ProxyHeaderError("malformed PROXY v1 line") from None
    if not 0 <= port <= 65535 or not words[3].isdigit():
        raise ProxyHeaderError("malformed PROXY v1 line")
    return ProxyHeader(length, (str(source), port))

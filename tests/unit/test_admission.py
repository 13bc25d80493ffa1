"""server/admission.py: which source an address is, and which handshake a newcomer sheds."""

from __future__ import annotations

import pytest

from realtimechat.server.admission import HandshakeSlots, source_of
from realtimechat.server.tlsconn import Progress


@pytest.mark.parametrize(
    ("address", "ipv4_prefix", "ipv6_prefix", "source"),
    [
        ("203.0.113.7", 32, 64, "203.0.113.7"),
        ("203.0.113.7", 24, 64, "203.0.113.0/24"),
        ("2001:db8::1", 32, 64, "2001:db8::/64"),
        ("2001:db8::ffff:ffff", 32, 64, "2001:db8::/64"),
        ("2001:db8:0:1::1", 32, 64, "2001:db8:0:1::/64"),
        ("2001:db8:0:1::1", 32, 48, "2001:db8::/48"),
        ("2001:db8::1", 32, 128, "2001:db8::1"),
        ("::1", 32, 64, "::/64"),
        ("::ffff:203.0.113.7", 32, 64, "203.0.113.7"),
        ("::ffff:203.0.113.7", 24, 64, "203.0.113.0/24"),
        ("fe80::1%eth0", 32, 64, "fe80::/64"),
        ("/run/chat.sock", 32, 64, "/run/chat.sock"),
        ("None", 32, 64, "None"),
    ],
)
def test_an_address_counts_as_its_source(
    address: str, ipv4_prefix: int, ipv6_prefix: int, source: str
) -> None:
    """IPv4 by its prefix (32: itself), IPv6 by its prefix, mapped IPv4 as IPv4, zones dropped."""
    assert source_of(address, ipv4_prefix, ipv6_prefix) == source


def test_a_whole_ipv6_64_is_one_source() -> None:
    """Two addresses of one /64 are one source; the next /64 is another."""
    sources = {source_of(f"2001:db8:0:{net}::{host:x}") for net in (0,) for host in range(1, 500)}
    assert sources == {"2001:db8::/64"}
    assert source_of("2001:db8:0:1::1") != source_of("2001:db8::1")


def test_slots_count_by_source() -> None:
    """Each source's handshakes are counted as they come and go."""
    slots: HandshakeSlots[str] = HandshakeSlots()
    slots.add("a1", "a")
    slots.add("a2", "a")
    slots.add("b1", "b")
    assert (len(slots), slots.from_source("a"), slots.from_source("b")) == (3, 2, 1)
    slots.remove("a1")
    slots.remove("a1")  # twice: nothing more
    assert (len(slots), slots.from_source("a")) == (2, 1)
    assert "a1" not in slots
    assert "a2" in slots


def test_the_victim_is_the_oldest_of_the_least_advanced() -> None:
    """Idle before a ClientHello begun before one answered; within each, the oldest first."""
    slots: HandshakeSlots[str] = HandshakeSlots()
    for name in ("answered", "hello", "idle-old", "idle-new"):
        slots.add(name, "x")
    slots.advance("answered", Progress.HELLO)
    slots.advance("answered", Progress.ANSWERED)
    slots.advance("hello", Progress.HELLO)
    order = []
    while (victim := slots.victim()) is not None:
        order.append(victim)
        slots.remove(victim)
    assert order == ["idle-old", "idle-new", "hello", "answered"]


def test_advancing_goes_to_the_back_of_the_class_and_never_back() -> None:
    """A handshake that moves on is the newest of its new class; progress never goes back."""
    slots: HandshakeSlots[str] = HandshakeSlots()
    slots.add("first", "x")
    slots.add("second", "x")
    slots.advance("second", Progress.HELLO)
    slots.advance("first", Progress.HELLO)
    slots.advance("first", Progress.IDLE)  # ignored
    assert slots.victim() == "second"
    slots.advance("gone", Progress.HELLO)  # not held: ignored
    assert len(slots) == 2


def test_no_victim_when_empty() -> None:
    """Nothing held, nothing to shed."""
    assert HandshakeSlots[str]().victim() is None

"""Who may start a TLS handshake: sources, and the handshake slots they hold.

Two rules keep a few hosts from locking everyone else out (issue 16,
finding 2: idle sockets from two addresses held all 256 slots), after
OpenSSH's ``PerSourceMaxStartups`` and nginx's ``limit_conn`` zones:

* a *source* is an address grouped by prefix (``source_of``): an IPv6 host
  is given a whole /64, so counting its addresses one by one would give
  it 2**64 shares; each source may hold only a small number of slots;
* when every slot is taken, a newcomer takes the slot of the least
  advanced handshake, the oldest first (``HandshakeSlots.victim``): a
  socket that has sent nothing goes before a half-sent ClientHello, which
  goes before a handshake waiting for the client's answer. An honest
  client's handshake is over in a few round trips, so the oldest of a
  class is almost always a staller.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Hashable
from typing import Generic, TypeVar

from .tlsconn import Progress

C = TypeVar("C", bound=Hashable)


def source_of(address: str, ipv4_prefix: int = 32, ipv6_prefix: int = 64) -> str:
    """The source an address counts as: itself for a whole IPv4 address, else its network.

    ``203.0.113.7`` stays ``203.0.113.7`` at /32; ``2001:db8::1`` and
    ``2001:db8::ffff`` are both ``2001:db8::/64`` at /64. An IPv4-mapped
    IPv6 address (a dual-stack listener's view of an IPv4 peer) counts as
    its IPv4 address; a zone (``fe80::1%eth0``) is dropped. Anything that
    is no IP address (a Unix socket's name) is its own source.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = ipv4_prefix if ip.version == 4 else ipv6_prefix
    if prefix == ip.max_prefixlen:
        return str(ip)
    return str(ipaddress.ip_network((ip, prefix), strict=False))


class HandshakeSlots(Generic[C]):
    """The handshakes in progress: by source, and by progress in order of arrival.

    Each progress class is a dict used as an ordered set, so the oldest of
    the least advanced class is found, and every change made, in O(1):
    a flood of connections at a full server costs no scan of the slots.
    """

    def __init__(self) -> None:
        self._classes: dict[Progress, dict[C, None]] = {progress: {} for progress in Progress}
        self._held: dict[C, tuple[Progress, str]] = {}  # each handshake's class and source
        self._per_source: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, connection: object) -> bool:
        return connection in self._held

    def from_source(self, source: str) -> int:
        """Slots ``source`` holds."""
        return self._per_source[source]

    def add(self, connection: C, source: str) -> None:
        """A handshake begins, with nothing received yet."""
        self._held[connection] = (Progress.IDLE, source)
        self._classes[Progress.IDLE][connection] = None
        self._per_source[source] += 1

    def advance(self, connection: C, progress: Progress) -> None:
        """The handshake moved on to ``progress`` (to the back of that class)."""
        held = self._held.get(connection)
        if held is None or held[0] >= progress:
            return
        del self._classes[held[0]][connection]
        self._classes[progress][connection] = None
        self._held[connection] = (progress, held[1])

    def remove(self, connection: C) -> None:
        """The handshake ended (done, refused, cut or shed); its slot is free."""
        held = self._held.pop(connection, None)
        if held is None:
            return
        progress, source = held
        del self._classes[progress][connection]
        self._per_source[source] -= 1
        if not self._per_source[source]:
            del self._per_source[source]

    def victim(self) -> C | None:
        """The handshake to shed for a newcomer: the oldest of the least advanced class."""
        for progress in Progress:
            for connection in self._classes[progress]:
                return connection
        return None

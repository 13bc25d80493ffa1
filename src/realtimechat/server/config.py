"""Server settings: every limit in one place, with its default.

A field that ``rtchat-server`` takes on its command line says so once, with
:func:`option`: its help text, unit and allowed range sit beside its default,
and cli/settings.py makes the click option from them (the option is the
field's name with dashes: ``max_line_bytes`` is ``--max-line-bytes`` and
RTCHAT_SERVER_MAX_LINE_BYTES). tests/unit/test_settings.py checks the tables of
docs/operations.md against these fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from ..protocol import MAX_LINE_BYTES

T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

OPTION = "option"  # the key of a field's Option in its metadata


@dataclass(frozen=True, slots=True)
class Option:
    """How one setting is given on the command line; its type and default are the field's.

    An int or float field takes a number from ``low`` to ``high`` (either may
    be open); a StrEnum field takes one of its values; a bool field is a flag
    (``--tls13-only``), off by default.
    """

    help: str
    unit: str = ""  # "s", "/s", "bytes" or "bytes/s"; "" for a count (as operations.md writes it)
    low: float | None = None
    high: float | None = None
    # A float field may also be 0, outside low..high, which does this. click's
    # FloatRange cannot say so, and lets NaN through: such a field is checked
    # by cli/settings.py itself.
    off: str | None = None
    metavar: str | None = None

    def __post_init__(self) -> None:
        if self.off is not None and (self.low is None or self.high is None):
            raise ValueError("a setting that 0 turns off needs both bounds")


def option(
    default: T,
    help: str,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    off: str | None = None,
    metavar: str | None = None,
) -> T:
    """A dataclass field with ``default`` that is also an option of ``rtchat-server``."""
    spec = Option(help, unit=unit, low=low, high=high, off=off, metavar=metavar)
    return dataclasses.field(default=default, metadata={OPTION: spec})


def option_of(field: dataclasses.Field[object]) -> Option | None:
    """The field's command-line option, or None for a fixed setting."""
    spec = field.metadata.get(OPTION)
    return spec if isinstance(spec, Option) else None


class NamesMode(StrEnum):
    """How a session's chat name is chosen (docs/protocol.md 5.3)."""

    CN = "cn"  # the name is the certificate's CN: nobody can pose as anyone
    CLAIM = "claim"  # users pick names, each owned by the identity that first used it


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one peer from costing the others anything.

    The options appear in ``rtchat-server --help`` in the order of the fields.
    """

    max_line_bytes: int = option(
        MAX_LINE_BYTES,
        "Longest frame a client may send (protocol v1 allows at most 64 KiB).",
        unit="bytes",
        low=256,
        high=MAX_LINE_BYTES,
    )
    handshake_timeout: float = option(10.0, "Seconds a TLS handshake may take.", unit="s", low=0.1)
    # An honest client sends its ClientHello the moment TCP is up; a socket
    # that sends nothing holds a handshake slot for free, so it gets far less
    # time than a handshake that is under way (--handshake-timeout still caps).
    first_byte_timeout: float = option(
        3.0,
        "Seconds from connect to the first byte of the TLS ClientHello.",
        unit="s",
        low=0.1,
    )
    hello_timeout: float = option(  # after TLS, ``hello`` must arrive within this
        10.0, "Seconds between the handshake and 'hello'.", unit="s", low=0.1
    )
    max_handshakes: int = option(256, "TLS handshakes in progress at once.", low=1)
    # Far below max_handshakes, so that a few sources cannot take every slot;
    # when the slots are full anyway, a newcomer sheds the least advanced one.
    max_handshakes_per_source: int = option(
        8, "TLS handshakes in progress at once from one source (see --ipv6-prefix).", low=1
    )
    max_connections: int = option(20_000, "Connections in total.", low=1)  # handshaking or not
    queue_frames: int = option(  # per-session outbound queue, in frames ...
        4096,
        "Frames queued for one slow client before its messages are dropped (it gets a 'gap').",
        low=1,
    )
    queue_bytes: int = option(  # ... and in bytes
        4 * 1024 * 1024,
        "Bytes queued for one slow client, likewise.",
        unit="bytes",
        low=1024,
    )
    queue_total_bytes: int = option(  # ... and for all of them together
        256 * 1024 * 1024,
        "Bytes queued for all clients that are not reading, together (their queues and "
        "what their connections hold); past it, those holding the most are disconnected "
        "first (slow_consumer).",
        unit="bytes",
        low=1024,
    )
    write_timeout: float = option(  # a write blocked this long ends the session
        30.0,
        "Seconds a client may leave us unable to write before it is disconnected (slow_consumer).",
        unit="s",
        low=0.1,
    )
    ping_interval: float = option(
        30.0, "Ping a client silent this many seconds.", unit="s", low=0.1
    )
    idle_timeout: float = option(
        75.0, "Disconnect a client silent this many seconds.", unit="s", low=0.1
    )
    max_errors: int = 20  # protocol errors before the session is ended
    rate: float = option(  # per session
        20.0,
        "Requests (messages, who, history) a client may make per second; 0 for no limit.",
        unit="/s",
        low=0,
    )
    burst: int = option(60, "Requests a client may make at once before --rate applies.", low=1)
    # Per identity (one certificate), over all its sessions: server/budgets.py.
    identity_rate: float = option(
        40.0,
        "Requests all sessions of one certificate may make per second together; 0 for no limit.",
        unit="/s",
        low=0,
    )
    identity_burst: int = option(
        120,
        "Requests all sessions of one certificate may make at once before --identity-rate applies.",
        low=1,
    )
    identity_text_rate: int = option(
        16384,
        "Bytes of message text all sessions of one certificate may have stored per second "
        "together; 0 for no limit.",
        unit="bytes/s",
        low=0,
    )
    identity_text_burst: int = option(
        1024 * 1024,
        "Bytes of message text one certificate may send at once before --identity-text-rate "
        "applies.",
        unit="bytes",
        low=1024,
    )
    flood_limit: int = 200  # refused requests in a row before the session is ended
    max_per_address: int = option(
        64, "Connections from one source: an IP address, or its prefix (--ipv6-prefix).", low=1
    )
    # One certificate from many addresses would otherwise fill max_connections.
    max_per_identity: int = option(
        8, "Connections past TLS with one certificate identity ('too_many_sessions').", low=1
    )
    # One IPv6 host is given a whole /64, so its addresses count as one source
    # (the per-source caps above); an IPv4 /32 is one address.
    ipv4_prefix: int = option(
        32, "Leading bits of an IPv4 address that make one source.", low=8, high=32
    )
    ipv6_prefix: int = option(
        64, "Leading bits of an IPv6 address that make one source.", low=16, high=128
    )
    max_names_per_identity: int = option(  # claim mode: against squatting others' names
        3,
        "Names one identity may own under --names claim, its certificate CN's name included; "
        "a claim beyond it is refused (name_taken).",
        low=1,
    )
    max_rooms: int = option(  # created by a first join, or named in the room file
        1000, "Rooms on this server; a join that would create one more is refused.", low=1
    )
    max_rooms_per_identity: int = option(
        50, "Rooms one user (certificate identity) may be a member of at once.", low=1
    )
    max_topic_chars: int = option(200, "Longest room topic, in characters.", low=1, high=4096)
    # Refusals of one source and reason: one line per interval, the rest counted
    # (server/refusals.py), for this many sources; past them, one count per reason.
    refusal_log_interval: float = 10.0
    refusal_log_sources: int = 100
    shutdown_grace: float = 3.0  # time to flush ``bye`` to everyone at shutdown


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Behaviour that is not a resource limit.

    The options appear in ``rtchat-server --help`` in the order of the fields:
    watch_interval first, beside the certificate options it is about.
    """

    # Seconds between looks at the certificate files; a change reloads them as
    # SIGHUP does (0: only SIGHUP). Revoking someone then ends their session
    # without anyone remembering to signal the server.
    watch_interval: float = option(
        2.0,
        "Look at the certificate files (certificate, key, CA, CRL) and the --rooms file "
        "this often and reload them when they change, as SIGHUP does: a revoked user's "
        "session ends within seconds.",
        unit="s",
        low=0.1,  # below this, stat() in a busy loop
        high=86400.0,
        off="reload only on SIGHUP",
        metavar="SECONDS",
    )
    # TLS 1.2 sends the client's certificate, and so its user's name, in clear:
    # a server whose clients all speak TLS 1.3 (ours do) can refuse it.
    tls13_only: bool = option(
        False,
        "Refuse TLS 1.2: in TLS 1.2 a client's certificate, and so its user's name, "
        "crosses the network in clear. rtchat always speaks TLS 1.3.",
    )
    names: NamesMode = option(  # noqa: RUF009 - returns a field(), as field() itself does
        NamesMode.CN,
        "cn: a user's name is their certificate's CN (nobody can pose as anyone). "
        "claim: users pick names, each kept by the first identity that used it.",
    )
    presence_limit: int = option(  # above this many users, no join/leave to everyone
        200, "Above this many users, joins and leaves are not announced to everyone.", low=0
    )
    presence_interval: float = option(  # per identity: server/budgets.py
        10.0,
        "After a few announcements in a row (presence_burst), one certificate's joins and "
        "leaves are announced at most once in this many seconds, together: a reconnect "
        "meanwhile shows nothing.",
        unit="s",
        low=0.1,
        high=3600.0,
        off="announce every join and leave at once",
        metavar="SECONDS",
    )
    presence_burst: int = 4  # announcements of one identity at once before presence_interval
    # Only with --redis: how long a stopped or unreachable server's users stay
    # online for the others, so that a reconnect elsewhere shows no leave/join.
    presence_grace: float = option(
        10.0,
        "With --redis: a server whose heartbeat stops this long has its users' sessions "
        "ended for every other server; a user who reconnects elsewhere meanwhile is not "
        "seen to leave.",
        unit="s",
        low=0.5,
        high=3600.0,
        metavar="SECONDS",
    )
    who_page_size: int = 100  # entries per ``users`` page
    welcome_users: int = 20  # entries of that first page carried in ``welcome``
    history_lines: int = option(  # messages replayed to a late joiner (hello without since)
        50,
        "Messages shown to someone joining fresh (a reconnecting client gets all it missed).",
        low=0,
        high=1000,
    )
    history_page_max: int = 500  # most messages one ``history`` reply or resume carries
    retention_age: dt.timedelta | None = None  # purge messages older than this (--retention)
    retention_count: int | None = None  # keep at most this many messages (--retention)
    motd: str | None = None  # the text of the --motd file
    operator_group: str = "admin"  # --operator-group: its certificates' holders are operators
    rooms_file: Path | None = None  # --rooms: private rooms, and who may enter them
    room_create: bool = True  # --no-room-create: only the room file's rooms exist
    # --proxy-protocol: the load balancers whose connections start with a PROXY
    # header naming the client (proxyproto.py). Nobody else's is read.
    proxy_from: tuple[Network, ...] = ()

    def proxied(self, address: str) -> bool:
        """Whether a connection from ``address`` must start with a PROXY header."""
        if not self.proxy_from:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.proxy_from)


def proxy_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """--proxy-protocol's addresses or CIDR networks; raises ValueError naming a bad one."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    return tuple(networks)

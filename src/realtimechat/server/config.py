"""Server settings: every limit in one place, with its default.

docs/operations.md has the same table for operators; keep them in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ..protocol import MAX_LINE_BYTES


class NamesMode(StrEnum):
    """How a session's chat name is chosen (design.md, "Names")."""

    CN = "cn"  # the name is the certificate's CN: nobody can pose as anyone
    CLAIM = "claim"  # users pick names, each owned by the identity that first used it


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one peer from costing the others anything."""

    max_line_bytes: int = MAX_LINE_BYTES
    handshake_timeout: float = 10.0  # TLS handshake must finish within this
    hello_timeout: float = 10.0  # after TLS, ``hello`` must arrive within this
    max_handshakes: int = 256  # connections still in the TLS handshake
    max_connections: int = 20_000  # connections in total (handshaking or not)
    queue_frames: int = 4096  # per-session outbound queue, in frames ...
    queue_bytes: int = 4 * 1024 * 1024  # ... and in bytes
    write_timeout: float = 30.0  # a write blocked this long ends the session
    ping_interval: float = 30.0  # ping a peer silent for this long
    idle_timeout: float = 75.0  # drop a peer silent for this long
    max_errors: int = 20  # protocol errors before the session is ended
    rate: float = 20.0  # requests (msg, who, history) per second per session; 0: no limit
    burst: int = 60  # requests a session may make at once before the rate applies
    flood_limit: int = 200  # refused requests in a row before the session is ended
    max_per_address: int = 64  # connections from one IP address
    shutdown_grace: float = 3.0  # time to flush ``bye`` to everyone at shutdown


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Behaviour that is not a resource limit."""

    names: NamesMode = NamesMode.CN
    presence_limit: int = 200  # above this many users, no join/leave to everyone
    who_page_size: int = 100  # entries per ``users`` page
    welcome_users: int = 20  # entries of that first page carried in ``welcome``
    history_lines: int = 50  # messages replayed to a late joiner (hello without since)
    history_page_max: int = 500  # most messages one ``history`` reply or resume carries
    retention_age: dt.timedelta | None = None  # purge messages older than this
    retention_count: int | None = None  # keep at most this many messages
    motd: str | None = None
    # Seconds between looks at the certificate files; a change reloads them as
    # SIGHUP does (0: only SIGHUP). Revoking someone then ends their session
    # without anyone remembering to signal the server.
    watch_interval: float = 2.0

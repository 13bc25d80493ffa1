"""Moderation words both ends share: durations (``10m``, ``2h``, ``7d``) and how an end is shown.

Pure: no I/O, no clock of its own. The client parses ``/mute NAME 10m``
with ``parse_duration`` and sends seconds (docs/protocol.md 6.7); the
server's ``rtchat-server ban NAME 7d`` parses with the same function, so a
duration means the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

# Seconds in each unit a duration may be written in.
UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest mute or ban: long enough for any "cool down", short enough that
# a forgotten one ends; a permanent exclusion is a revoked certificate.
MAX_SECONDS: Final = 365 * 86400
MAX_REASON_CHARS: Final = 256
MAX_MOTD_CHARS: Final = 4096  # the --motd file's and an operator's alike (welcome.motd)
_DURATION: Final = re.compile(r"(\d{1,9})([smhdw])")


def parse_duration(text: str) -> int:
    """``10m`` -> 600: a whole number and a unit (s, m, h, d, w), 1 s to 365 d.

    Several parts add up (``1h30m``). Raises ValueError, whose message says
    what is accepted, for anything else.
    """
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(number + unit for number, unit in parts) != cleaned:
        raise ValueError(f"{text!r} is no duration: write it as 30s, 10m, 2h, 7d or 1w (or 1h30m)")
    seconds = sum(int(number) * UNITS[unit] for number, unit in parts)
    if seconds < 1:
        raise ValueError(f"{text!r} is no time at all: give at least 1s")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than the most allowed, 365d")
    return seconds


def format_duration(seconds: int) -> str:
    """600 -> ``10m``; 5400 -> ``1h30m``: the largest units first, as ``parse_duration`` reads."""
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def until_of(now: dt.datetime, seconds: int) -> dt.datetime:
    """When a sanction of ``seconds`` taken at ``now`` ends."""
    return now + dt.timedelta(seconds=seconds)

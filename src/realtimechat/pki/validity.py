"""How long certificates and CRLs are valid, and the times written in them and shown to people."""

from __future__ import annotations

import datetime as dt
from typing import Final

from realtimechat.errors import PKIError

CA_DAYS: Final = 3650
# A year: TLS checkers (sslyze, testssl) flag server certificates living longer
# than 366 days, and the lifetime is the only limit on a stolen server key
# (clients fetch no CRL). Renew with `rtchat-certs server-cert --force`.
SERVER_DAYS: Final = 365
CLIENT_DAYS: Final = 365
CRL_DAYS: Final = 30
#: A certificate with less than this left is "expiring soon".
EXPIRING_SOON: Final = dt.timedelta(days=30)
#: Certificates start this long before "now", so a peer whose clock is a little
#: behind does not reject a certificate that was just issued.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)


def _now() -> dt.datetime:
    # Certificates hold whole seconds; drop the rest so the index matches them.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _check_days(days: int, what: str) -> dt.timedelta:
    if days < 1:
        raise PKIError(f"{what} must be at least 1 (got {days})")
    return dt.timedelta(days=days)


def _validity(
    days: int, not_before: dt.datetime | None, not_after: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """The validity period: explicit bounds win; by default from now - skew to now + days."""
    now = _now()
    start = now - CLOCK_SKEW if not_before is None else _utc(not_before, "not_before")
    end = now + _check_days(days, "days") if not_after is None else _utc(not_after, "not_after")
    if end <= start:
        raise PKIError(f"not_after ({_rfc3339(end)}) must be after not_before ({_rfc3339(start)})")
    return start, end


def _utc(when: dt.datetime, what: str) -> dt.datetime:
    # A naive datetime is ambiguous (local time or UTC?); refuse rather than guess.
    if when.tzinfo is None or when.utcoffset() is None:
        raise PKIError(f"{what} must be a timezone-aware datetime")
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _rfc3339(when: dt.datetime) -> str:
    """``when`` (UTC-aware) as an RFC 3339 ``...Z`` timestamp."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(when: dt.datetime) -> str:
    """``when`` for people: ``2026-01-31 14:05 UTC``."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

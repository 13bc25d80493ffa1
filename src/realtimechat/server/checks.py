"""What the server's files say about themselves: findings for ``rtchat-server check`` and the log.

Each check looks at something the server loads (its certificate, the CAs,
the CRL, the key file's mode) and says what it found as ``Finding``s of one
``Check``, each ``OK``, ``WARN`` or ``FAIL``:

* FAIL: the server refuses to start (``rtchat-server check`` exits 2);
* WARN: it starts, and logs the finding as a ``warning`` line (exit 1);
* OK: nothing to do; ``rtchat-server check`` prints what it saw.

Nothing here opens a socket or a database; server/preflight.py runs these
and the checks that do (data folder, store, port, room file) in order.
``Trust.findings`` (server/trust.py) runs those of a loaded trust, so the
server at start, on reload and once a day says what ``check`` says.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from cryptography import x509

from ..errors import PKIError
from ..pki import (
    CRL_RENEW_BEFORE,
    EXPIRING_SOON,
    IndexEntry,
    certificate_names,
    common_name,
    signed_by,
)
from ..sanitize import visible

# The CRL is re-signed every CRL_DAYS (30 days): its next update is always
# within EXPIRING_SOON, so it has a window of its own (CRL_RENEW_BEFORE).
EXPIRY_WARNING: Final = EXPIRING_SOON  # a certificate with less left is warned about


class Level(StrEnum):
    """How bad a finding is; ``rtchat-server check`` exits with the worst one's code."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def exit_code(self) -> int:
        """Nagios-style: 0 all OK, 1 a warning, 2 a failure."""
        return {Level.OK: 0, Level.WARN: 1, Level.FAIL: 2}[self]


class Check(StrEnum):
    """The fixed vocabulary of checks, in the order ``rtchat-server check`` prints them."""

    FILES = "files"  # the options name a certificate, a key and trust files that exist
    KEY = "key"  # the key is the server certificate's, and loads
    CHAIN = "chain"  # a CA of --ca issued the server certificate; the trust files load
    NAMES = "names"  # what clients give as --cn
    CRL = "crl"  # its signature, next update, and revocations against the CA's index.json
    EXPIRY = "expiry"  # server certificate and CAs: within 30 days, or past
    MODES = "modes"  # private keys readable by nobody else
    TLS = "tls"  # the TLS context the server builds from all of it
    DATA = "data"  # the data folder: there (or can be made), writable, private
    STORE = "store"  # the message store opens and has a schema this version reads
    PORT = "port"  # each --host can bind --port now
    METRICS = "metrics"  # --metrics can be bound now, and is not on every interface
    ROOMS = "rooms"  # the --rooms file is valid


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of ``rtchat-server check``: ``OK   names: ...``."""

    level: Level
    check: Check
    detail: str

    def line(self) -> str:
        return f"{self.level.value:<4} {self.check.value}: {self.detail}"


def ok(check: Check, detail: str) -> Finding:
    return Finding(Level.OK, check, detail)


def warn(check: Check, detail: str) -> Finding:
    return Finding(Level.WARN, check, detail)


def fail(check: Check, detail: str) -> Finding:
    return Finding(Level.FAIL, check, detail)


def worst(findings: Iterable[Finding]) -> Level:
    """The most serious level among ``findings`` (OK for none)."""
    levels = {finding.level for finding in findings}
    return next((level for level in (Level.FAIL, Level.WARN) if level in levels), Level.OK)


def in_check_order(found: list[Finding]) -> list[Finding]:
    """``found`` by check, in the vocabulary's order; a check's OK line only if it has no other."""
    order = list(Check)
    flagged = {f.check for f in found if f.level is not Level.OK}
    kept = [f for f in found if f.level is not Level.OK or f.check not in flagged]
    return sorted(kept, key=lambda finding: order.index(finding.check))  # stable: keeps order


def refuse_failures(findings: Iterable[Finding]) -> None:
    """PKIError with the first FAIL's detail, if any: the server does not start on it."""
    failed = next((f for f in findings if f.level is Level.FAIL), None)
    if failed is not None:
        raise PKIError(f"{failed.detail} (rtchat-server check lists every finding)")


def cn_of(cert: x509.Certificate) -> str:
    """The CN, safe to print (it comes from a file, and a file from anyone)."""
    return visible(common_name(cert)) or cert.subject.rfc4514_string()


def day(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d")


def _days(left: dt.timedelta) -> str:
    if left.days == 0:
        return "less than a day"
    return f"{left.days} day{'s' if left.days != 1 else ''}"


def moment(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ----------------------------------------------------------------------
# Certificates


def names(cert: x509.Certificate) -> Finding:
    """The names clients may give as ``rtchat --cn``: the SANs, else the CN (with a warning)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    dns = [visible(str(name)) for name in sans.get_values_for_type(x509.DNSName)] if sans else []
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] if sans else []
    cn = visible(common_name(cert))
    if not dns and not ips:
        return warn(
            Check.NAMES,
            f"no DNS or IP subjectAltName: clients match the CN {cn!r} (--cn {cn}), which"
            " strict TLS clients refuse; issue one with names"
            " (rtchat-certs server-cert --cn NAME --san NAME_OR_IP --force)",
        )
    said = [f"DNS {name}" for name in dns] + [f"IP {ip}" for ip in ips]
    # As the client's OpenSSL matches: the CN too when there is no DNS name.
    usable = [visible(name) for name in certificate_names(cert)]
    return ok(
        Check.NAMES,
        f"clients give --cn {' or '.join(usable)} ({', '.join(said)}; CN {cn!r})",
    )


def chain(
    server: x509.Certificate,
    cas: Sequence[x509.Certificate],
    pins: Sequence[x509.Certificate],
    notes: Sequence[str] = (),
) -> list[Finding]:
    """Who vouches for the server's certificate to clients, and whom the server trusts.

    Clients check the server against their own ``--ca``: normally the CA
    that issued both. A server certificate no CA here issued is not wrong
    (clients may hold another CA, or pin a self-signed one), so only a warning.
    """
    trusting = [f"CA {cn_of(ca)!r}" for ca in cas]
    if pins:
        trusting.append(f"{len(pins)} pinned certificate{'s' if len(pins) != 1 else ''}")
    whom = f"trusting {', '.join(trusting) or 'nobody'}"
    found = [warn(Check.CHAIN, note) for note in notes]
    issuer = next((ca for ca in cas if signed_by(server, ca)), None)
    if issuer is not None:
        return [ok(Check.CHAIN, f"server certificate issued by CA {cn_of(issuer)!r}; {whom}")]
    if signed_by(server, server):
        return [
            *found,
            ok(
                Check.CHAIN,
                f"server certificate is self-signed: clients trust it by having it as their"
                f" --ca; {whom}",
            ),
        ]
    return [
        *found,
        warn(
            Check.CHAIN,
            f"server certificate was issued by {visible(server.issuer.rfc4514_string())!r},"
            f" which is not a CA in the trust files: clients need that CA as their --ca; {whom}",
        ),
    ]


def expiry(named: Sequence[tuple[str, x509.Certificate]], now: dt.datetime) -> list[Finding]:
    """Certificates past their end (FAIL) or within ``EXPIRY_WARNING`` of it (WARN)."""
    found = []
    for what, cert in named:
        end = cert.not_valid_after_utc
        left = end - now
        if left <= dt.timedelta(0):
            found.append(fail(Check.EXPIRY, f"the {what} has expired (on {moment(end)})"))
        elif left <= EXPIRY_WARNING:
            found.append(
                warn(Check.EXPIRY, f"the {what} expires in {_days(left)} (on {moment(end)})")
            )
    if found:
        return found
    ends = ", ".join(f"{what} {day(cert.not_valid_after_utc)}" for what, cert in named)
    return [ok(Check.EXPIRY, f"nothing expires within {EXPIRY_WARNING.days} days ({ends})")]


# ----------------------------------------------------------------------
# The CRL


@dataclass(frozen=True, slots=True)
class CrlFacts:
    """What the checks need of a CRL whose signature has been verified."""

    signer: str  # the CN of the CA that signed it
    serials: frozenset[int]
    next_update: dt.datetime | None
    number: int | None


def crl(facts: CrlFacts | None, now: dt.datetime, *, trusts_ca: bool) -> list[Finding]:
    """Freshness of the CRL in force: past its next update FAIL, within 7 days WARN."""
    if facts is None:
        if trusts_ca:
            return [
                warn(
                    Check.CRL,
                    "no CRL: certificates revoked by the CA are still let in"
                    " (give --crl FILE with the CA's crl.pem, or --pki with a server folder)",
                )
            ]
        return [ok(Check.CRL, "no CRL: pinned certificates are revoked by removing them")]
    found = []
    next_update = facts.next_update
    if next_update is not None and next_update <= now:
        found.append(
            fail(
                Check.CRL,
                f"the CRL is past its next-update ({moment(next_update)}):"
                " re-sign it (rtchat-certs crl)",
            )
        )
    elif next_update is not None and next_update - now <= CRL_RENEW_BEFORE:
        found.append(
            warn(
                Check.CRL,
                f"the CRL must be re-signed soon (rtchat-certs crl): its next update is"
                f" {moment(next_update)}",
            )
        )
    if found:
        return found
    number = f"number {facts.number}, " if facts.number is not None else ""
    until = f", next update {moment(next_update)}" if next_update is not None else ""
    return [
        ok(
            Check.CRL,
            f"signed by CA {facts.signer!r}, {number}{len(facts.serials)} revoked{until}",
        )
    ]


def crl_behind_index(
    crl_path: Path, serials: frozenset[int], entries: Sequence[IndexEntry], index: Path
) -> Finding | None:
    """A WARN if the CA's index.json records revocations the CRL lacks: it is an old copy.

    ``rtchat-certs revoke`` signs the CRL first, then records the revocation
    in index.json, so a CRL beside that index always lists every serial it
    records revoked; one that lacks some was copied from before them (an old
    crl.pem restored, or not copied again after a revoke).
    """
    missing = [e for e in entries if e.status == "revoked" and e.serial_number not in serials]
    if not missing:
        return None
    shown = "; ".join(f"{visible(e.name)!r}, serial {e.serial}" for e in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return warn(
        Check.CRL,
        f"{crl_path} is older than {index}: it lacks {len(missing)} revocation"
        f"{'s' if len(missing) != 1 else ''} the index records ({shown}{more}): they are"
        " still let in; copy the CA folder's current crl.pem (or re-sign it: rtchat-certs crl)",
    )


# ----------------------------------------------------------------------
# Files


def key_mode(path: Path, what: str = "the server's key") -> Finding:
    """A private key readable by anyone but its owner is a WARN, never a FAIL.

    Whoever reads the server's key can pose as this server to every client,
    so the line says so and how to fix it. Not a FAIL, which would refuse to
    start: by the time we see the mode, anyone who could read the key may
    have; stopping the chat undoes none of that (the fix is ``chmod 600``,
    and a new key if other users could read it), and a key shared with a
    service through its group (Debian's ``ssl-cert`` group, mode 0640) is
    done on purpose.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        return fail(Check.MODES, f"cannot stat {path}: {exc.strerror or exc}")
    if not mode & 0o077:
        return ok(Check.MODES, f"{what} {path} is private (mode {mode:04o})")
    who = "other users" if mode & 0o007 else "its group"
    return warn(
        Check.MODES,
        f"{what} {path} is open to {who} (mode {mode:04o}): whoever can read it can pose as"
        f" this server to every client; run `chmod 600 {path}`",
    )

"""Revocation: mark a certificate revoked in the index and sign the CRL that lists it."""

from __future__ import annotations

import datetime as dt
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from realtimechat.errors import PKIError

from .build import REVOCATION_REASONS, RevocationReason, _build_crl, _reason_of, _revoked_entry
from .files import CERT_MODE, Written, _carry_out, _Put
from .folder import CaFolder, _load_ca
from .index import (
    IndexEntry,
    _describe_entry,
    _index_bytes,
    _load_index_raw,
    find_certificate,
    read_index,
)
from .load import _signed_by, load_crl
from .validity import CRL_DAYS, _check_days, _now, _rfc3339, _when


@dataclass(frozen=True)
class Revocation:
    """What ``revoke`` did: the entry as it now stands, and the files it rewrote."""

    entry: IndexEntry
    written: list[Written]


def revoke(
    root: Path,
    which: str,
    *,
    reason: RevocationReason = "unspecified",
    crl_days: int = CRL_DAYS,
) -> Revocation:
    """Revoke the certificate ``which`` names (see :func:`find_certificate`).

    Marks its index entry ``revoked`` with the time and ``reason``, and signs
    a new ``crl.pem`` listing every revoked serial (the CRL is written
    first, so a failure can only leave the index behind, never the CRL).
    Running servers apply it within seconds of it changing (or on SIGHUP).
    """
    if reason not in REVOCATION_REASONS:
        raise PKIError(f"unknown reason {reason!r} (choose from {', '.join(REVOCATION_REASONS)})")
    _check_days(crl_days, "CRL days")
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    entry = find_certificate(folder.root, which)
    if entry.status == "revoked":
        when = (
            f" on {_when(dt.datetime.fromisoformat(entry.revoked_at))}" if entry.revoked_at else ""
        )
        raise PKIError(f"{_describe_entry(entry)} is already revoked{when}")
    now = _now()
    raw = _load_index_raw(folder.index)
    for obj in raw:
        if obj["serial"] == entry.serial:
            obj.update(status="revoked", revoked_at=_rfc3339(now), reason=reason)
    entries = [IndexEntry.from_json(obj) for obj in raw]
    crl_put = _plan_crl(folder, ca_cert, ca_key, entries, now=now, days=crl_days)
    index_put = _Put(folder.index, _index_bytes(raw), CERT_MODE, "updated")
    written = _carry_out([crl_put, index_put])
    revoked = next(e for e in entries if e.serial == entry.serial)
    return Revocation(entry=revoked, written=written)


def renew_crl(root: Path, *, days: int = CRL_DAYS) -> list[Written]:
    """Sign ``crl.pem`` again with a new next update ``days`` from now; nothing else changes.

    The revoked serials are those of the current CRL plus any the index marks
    revoked (a CRL never loses a serial); the CRL number goes up by one.
    """
    _check_days(days, "CRL days")
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    entries = read_index(folder.root)
    return _carry_out([_plan_crl(folder, ca_cert, ca_key, entries, now=_now(), days=days)])


def _plan_crl(
    folder: CaFolder,
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    entries: Sequence[IndexEntry],
    *,
    now: dt.datetime,
    days: int,
) -> _Put:
    """The next crl.pem: every serial of the current one, plus those the index revokes.

    A damaged crl.pem, or one another CA signed, stops here rather than be
    replaced by a CRL that might forget a revocation.
    """
    revoked: dict[int, x509.RevokedCertificate] = {}
    number = int(now.timestamp())  # no previous CRL: a number above any earlier count
    exists = os.path.lexists(folder.crl)
    if exists:
        command = f"rtchat-certs crl --dir {shlex.quote(str(folder.root))}"
        advice = f"move it aside, then run `{command}` to make a new one from index.json"
        try:
            previous = load_crl(folder.crl)
        except PKIError as exc:
            raise PKIError(f"{exc}: {advice}") from exc
        if not _signed_by(previous, ca_cert):
            raise PKIError(f"{folder.crl} is not signed by {folder.ca_cert}: {advice}")
        for old in previous:
            revoked[old.serial_number] = _revoked_entry(
                old.serial_number, old.revocation_date_utc, _reason_of(old)
            )
        try:
            number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            number += 1
        except x509.ExtensionNotFound:
            pass
    for entry in entries:
        if entry.status == "revoked" and entry.serial_number not in revoked:
            when = dt.datetime.fromisoformat(entry.revoked_at) if entry.revoked_at else now
            revoked[entry.serial_number] = _revoked_entry(entry.serial_number, when, entry.reason)
    crl = _build_crl(ca_cert, ca_key, now, number=number, revoked=list(revoked.values()), days=days)
    assert crl.next_update_utc is not None
    note = f"{len(revoked)} revoked, next update {_when(crl.next_update_utc)}"
    return _Put(
        folder.crl,
        crl.public_bytes(serialization.Encoding.PEM),
        CERT_MODE,
        "updated" if exists else "wrote",
        note,
    )

"""Tests for realtimechat.pki.revoke: revoke and renew_crl, checked by openssl too."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import openssl_verify
from .helpers import crl_of, snapshot


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def test_revoke_marks_the_index_and_signs_a_new_crl(ca_root: Path, openssl: str) -> None:
    """revoke records status, time and reason, and crl.pem lists the serial; openssl agrees."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    folder = pki.CaFolder(ca_root)
    alice = pki.load_certificate(folder.client_cert("alice"))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    done = pki.revoke(ca_root, "alice", reason="keyCompromise")

    assert (done.entry.name, done.entry.status, done.entry.reason) == (
        "alice",
        "revoked",
        "keyCompromise",
    )
    assert done.entry.revoked_at is not None
    assert dt.datetime.fromisoformat(done.entry.revoked_at) >= before
    assert [(w.path, w.action) for w in done.written] == [
        (folder.crl, "updated"),
        (folder.index, "updated"),
    ]
    assert [e.status for e in pki.read_index(ca_root)] == ["valid", "revoked", "valid"]
    crl = crl_of(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    assert _crl_number(crl) == 2
    assert [entry.serial_number for entry in crl] == [alice.serial_number]
    entry = crl.get_revoked_certificate_by_serial_number(alice.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.key_compromise
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=30)
    crl_args = ("-crl_check", "-CRLfile", str(folder.crl))
    revoked = openssl_verify(openssl, ca_root, folder.client_cert("alice"), "sslclient", *crl_args)
    kept = openssl_verify(openssl, ca_root, folder.client_cert("bob"), "sslclient", *crl_args)
    assert revoked.returncode != 0
    assert "certificate revoked" in revoked.stdout + revoked.stderr
    assert kept.returncode == 0, kept.stderr


def test_revoking_twice_says_already_revoked(ca_root: Path) -> None:
    """Revoking a revoked certificate, by name or serial, says so and changes nothing."""
    pki.issue_client(ca_root, "alice")
    done = pki.revoke(ca_root, "alice")
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match="already revoked"):
        pki.revoke(ca_root, "alice")
    with pytest.raises(PKIError, match="already revoked on"):
        pki.revoke(ca_root, done.entry.serial)

    assert snapshot(ca_root) == before


def test_revoke_the_server_certificate(ca_root: Path) -> None:
    """The server certificate can be revoked too (a stolen server key)."""
    server = pki.load_certificate(pki.CaFolder(ca_root).server_cert)

    done = pki.revoke(ca_root, "chatserver", reason="keyCompromise")

    assert (done.entry.kind, done.entry.status) == ("server", "revoked")
    assert [e.serial_number for e in crl_of(ca_root)] == [server.serial_number]


def test_crl_renewal_changes_only_dates_and_number(ca_root: Path) -> None:
    """renew_crl keeps the serials, raises the number, sets next update and leaves the index."""
    pki.issue_client(ca_root, "alice")
    pki.revoke(ca_root, "alice", reason="superseded")
    before = crl_of(ca_root)
    index = pki.CaFolder(ca_root).index.read_bytes()

    written = pki.renew_crl(ca_root, days=90)

    after = crl_of(ca_root)
    assert [(w.path.name, w.action) for w in written] == [("crl.pem", "updated")]
    assert "1 revoked, next update" in written[0].note
    assert _crl_number(after) == _crl_number(before) + 1
    assert [(e.serial_number, e.revocation_date_utc) for e in after] == [
        (e.serial_number, e.revocation_date_utc) for e in before
    ]
    (entry,) = list(after)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.superseded
    )
    assert after.next_update_utc is not None
    assert after.next_update_utc - after.last_update_utc == dt.timedelta(days=90)
    assert pki.CaFolder(ca_root).index.read_bytes() == index


def test_crl_never_forgets_a_revocation(ca_root: Path) -> None:
    """A serial on crl.pem stays there even if the index lost its revocation (a failed write)."""
    pki.issue_client(ca_root, "alice")
    serial = pki.revoke(ca_root, "alice").entry.serial_number
    folder = pki.CaFolder(ca_root)
    document = json.loads(folder.index.read_text())
    document["entries"][1]["status"] = "valid"
    folder.index.write_text(json.dumps(document))

    pki.renew_crl(ca_root)
    pki.issue_client(ca_root, "bob")
    pki.revoke(ca_root, "bob")

    assert serial in {e.serial_number for e in crl_of(ca_root)}
    assert len(crl_of(ca_root)) == 2


def test_a_damaged_crl_stops_revoke_until_it_is_moved_aside(ca_root: Path) -> None:
    """A damaged crl.pem is never silently replaced; moved aside, crl rebuilds it from the index."""
    pki.issue_client(ca_root, "alice")
    pki.issue_client(ca_root, "bob")
    pki.revoke(ca_root, "bob")
    folder = pki.CaFolder(ca_root)
    number = _crl_number(crl_of(ca_root))
    folder.crl.write_text("garbage\n")
    index = folder.index.read_bytes()

    with pytest.raises(PKIError, match="move it aside, then run `rtchat-certs crl"):
        pki.revoke(ca_root, "alice")

    assert folder.index.read_bytes() == index
    folder.crl.rename(ca_root / "crl.pem.damaged")
    written = pki.renew_crl(ca_root)
    assert [(w.path, w.action) for w in written] == [(folder.crl, "wrote")]
    rebuilt = crl_of(ca_root)
    bob = pki.read_index(ca_root)[2]
    assert [e.serial_number for e in rebuilt] == [bob.serial_number]
    assert _crl_number(rebuilt) > number


def test_a_crl_of_another_ca_is_refused(ca_root: Path, tmp_path: Path) -> None:
    """A crl.pem signed by another CA stops revoke instead of being replaced."""
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    shutil.copy(pki.CaFolder(other).crl, pki.CaFolder(ca_root).crl)
    pki.issue_client(ca_root, "alice")

    with pytest.raises(PKIError, match="is not signed by"):
        pki.revoke(ca_root, "alice")

    assert pki.read_index(ca_root)[1].status == "valid"

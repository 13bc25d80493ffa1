"""Tests for realtimechat.pki.describe: describe_file and list_certificates."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat import pki
from realtimechat.errors import PKIError

from .helpers import cn_name, make_csr


def test_list_certificates_gives_each_status(ca_root: Path) -> None:
    """list_certificates pairs every index entry with its status, the soonest to expire first."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(ca_root, "valid")
    pki.issue_client(ca_root, "soon", days=10)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=5), not_after=now - dt.timedelta(days=1)
    )
    pki.issue_client(ca_root, "gone")
    pki.revoke(ca_root, "gone")

    rows = pki.list_certificates(ca_root)

    assert [(entry.name, status) for entry, status in rows] == [
        ("old", "expired"),
        ("soon", "expiring soon"),
        ("chatserver", "valid"),  # 365 days each: in the order issued
        ("valid", "valid"),
        ("gone", "revoked"),
    ]


@pytest.fixture
def seed_cert(tmp_path: Path, openssl: str) -> Path:
    """A certificate made with the seed's exact openssl recipe (RSA 4096, self-signed, CN=alice)."""
    out = tmp_path / "seed"
    out.mkdir()
    subprocess.run(
        [
            openssl,
            "req",
            "-newkey",
            "rsa:4096",
            "-x509",
            "-sha256",
            "-days",
            "365",
            "-nodes",
            "-subj",
            "/CN=alice",
            "-out",
            str(out / "alice.crt"),
            "-keyout",
            str(out / "alice.key"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out / "alice.crt"


def test_describe_explains_the_seed_certificate(seed_cert: Path, openssl: str) -> None:
    """The seed's openssl certificate is a self-signed one that can be pinned, with no warnings."""
    info = pki.describe_file(seed_cert)

    assert info.kind == "certificate"
    assert info.summary == "a self-signed certificate"
    assert info.warnings == []
    fields = dict(info.fields)
    assert fields["subject"] == "CN=alice"
    assert fields["issuer"] == "CN=alice (itself: self-signed)"
    assert fields["SANs"] == "none"
    assert fields["EKUs"] == "none (any purpose)"
    assert fields["key"] == "RSA 4096 bits"
    assert fields["CA"].startswith("CA:TRUE, without a key usage")
    from_openssl = (
        subprocess.run(
            [openssl, "x509", "-in", str(seed_cert), "-noout", "-fingerprint", "-sha256"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        .stdout.strip()
        .split("=", 1)[1]
        .replace(":", "")
        .lower()
    )
    assert fields["SHA-256"] == from_openssl
    text = " ".join(info.notes)
    assert "trusted by pinning" in text
    assert "chat name is 'alice'" in text
    assert "clients connect with --cn alice" in text
    assert info.checked_against is None


def test_describe_seed_certificate_for_a_mismatched_name(seed_cert: Path) -> None:
    """Checked for another --cn, the seed certificate gets a name-mismatch warning."""
    matching = pki.describe_file(seed_cert, server_name="alice")
    other = pki.describe_file(seed_cert, server_name="chatserver")

    assert matching.warnings == []
    assert len(other.warnings) == 1
    assert "not valid for 'chatserver' (its names: CN 'alice')" in other.warnings[0]


def test_describe_a_client_certificate_in_its_ca_folder(ca_root: Path) -> None:
    """An issued client certificate is checked against the CA folder it lies in."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)

    info = pki.describe_file(folder.client_cert("alice"))

    assert info.summary == "a client certificate issued by CN=realtimechat CA (chatserver)"
    assert info.checked_against == ca_root.resolve()
    assert info.warnings == []
    assert f"issued by the CA of {ca_root.resolve()}" in info.notes
    assert dict(info.fields)["EKUs"] == "clientAuth"


def test_describe_warns_about_a_revoked_certificate(ca_root: Path) -> None:
    """A certificate on the CA's crl.pem gets a warning that servers refuse it after SIGHUP."""
    pki.issue_client(ca_root, "alice")
    pki.revoke(ca_root, "alice", reason="keyCompromise")

    info = pki.describe_file(pki.CaFolder(ca_root).client_cert("alice"))

    assert len(info.warnings) == 1
    assert "it is revoked (on " in info.warnings[0]
    assert "keyCompromise" in info.warnings[0]
    assert "SIGHUP" in info.warnings[0]


def test_describe_warns_about_expiry(ca_root: Path) -> None:
    """An expired certificate and one expiring in ten days each get their warning."""
    now = dt.datetime.now(dt.UTC)
    pki.issue_client(
        ca_root, "old", not_before=now - dt.timedelta(days=5), not_after=now - dt.timedelta(days=1)
    )
    pki.issue_client(ca_root, "soon", days=10)
    folder = pki.CaFolder(ca_root)

    old = pki.describe_file(folder.client_cert("old"))
    soon = pki.describe_file(folder.client_cert("soon"))

    assert len(old.warnings) == 1
    assert old.warnings[0].startswith("expired on ")
    assert old.warnings[0].endswith(": every TLS peer refuses it")
    assert len(soon.warnings) == 1
    assert soon.warnings[0].startswith("expires in 10 days (")


def test_describe_server_certificate_used_as_a_client(ca_root: Path) -> None:
    """Checked for client use, the server certificate warns: no clientAuth."""
    server = pki.CaFolder(ca_root).server_cert

    as_server = pki.describe_file(server)
    as_client = pki.describe_file(server, role="client")

    assert as_server.warnings == []
    assert as_server.notes == [
        "as a server certificate, clients connect with --cn chatserver or localhost or "
        "127.0.0.1 or ::1",
        f"issued by the CA of {ca_root.resolve()}",
    ]
    assert as_client.warnings == [
        "no clientAuth in its extended key usage: the server refuses it as a client certificate"
    ]


def test_describe_a_certificate_of_another_ca(ca_root: Path, tmp_path: Path) -> None:
    """Checked against a CA folder it does not come from, a CA-issued certificate gets a warning."""
    other = tmp_path / "other"
    pki.init_ca(other, "chatserver")
    pki.issue_client(other, "mallory")

    info = pki.describe_file(pki.CaFolder(other).client_cert("mallory"), folder=ca_root)

    assert info.checked_against == ca_root
    assert len(info.warnings) == 1
    assert "not issued by the CA of" in info.warnings[0]


def test_describe_warns_about_a_missing_aki_and_a_bad_chat_name(
    ca_root: Path, tmp_path: Path
) -> None:
    """A CA-issued certificate without AKI and with a 40-character CN gets both warnings."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    ca_key = pki.load_private_key(folder.ca_key)
    key = pki.generate_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(cn_name("x" * 40))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    path = tmp_path / "noaki.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    info = pki.describe_file(path)

    assert len(info.warnings) == 2
    assert "no Authority Key Identifier" in info.warnings[0]
    assert "cannot be a chat name" in info.warnings[1]
    assert "--names claim" in info.warnings[1]


def test_describe_a_csr(ca_root: Path, tmp_path: Path) -> None:
    """A CSR shows its key fingerprint; checked against a CA with that name issued, it warns."""
    made = pki.create_request(tmp_path / "user", "alice")

    fresh = pki.describe_file(made.csr, folder=ca_root)
    pki.issue_client(ca_root, "alice")
    taken = pki.describe_file(made.csr, folder=ca_root)

    assert fresh.kind == "certificate signing request"
    assert fresh.summary == "a certificate signing request for CN=alice"
    assert dict(fresh.fields)["public key SHA-256"] == pki.format_fingerprint(made.fingerprint)
    assert dict(fresh.fields)["signature"] == "valid"
    assert fresh.warnings == []
    assert len(taken.warnings) == 1
    assert "'alice' already has a certificate that is not revoked" in taken.warnings[0]


def test_describe_a_forged_csr(tmp_path: Path) -> None:
    """A CSR whose signature fails is described, with a warning that sign refuses it."""
    good = make_csr(pki.generate_key(), cn_name("alice")).public_bytes(serialization.Encoding.PEM)
    forged = tmp_path / "forged.csr"
    csr = x509.load_pem_x509_csr(good)
    forged.write_bytes(csr.public_bytes(serialization.Encoding.DER).replace(b"alice", b"mallo"))

    info = pki.describe_file(forged)

    assert dict(info.fields)["signature"] == "does NOT verify"
    assert info.warnings == [
        "its signature does not verify (damaged, or not made with its key): sign refuses it"
    ]


def test_describe_a_crl(ca_root: Path) -> None:
    """A CRL shows number, dates and each revoked serial with the name the index knows."""
    pki.issue_client(ca_root, "alice")
    serial = pki.revoke(ca_root, "alice", reason="keyCompromise").entry.serial

    info = pki.describe_file(pki.CaFolder(ca_root).crl)

    assert (
        info.summary
        == "a certificate revocation list of CN=realtimechat CA (chatserver), 1 revoked"
    )
    fields = info.fields
    assert ("CRL number", "2") in fields
    assert ("revoked", "1") in fields
    listed = [value for label, value in fields if label.strip() == "serial"]
    assert len(listed) == 1
    assert listed[0].startswith(f"{serial} (alice) on ")
    assert listed[0].endswith(", keyCompromise")
    assert info.warnings == []
    assert f"signed by the CA of {ca_root.resolve()}" in info.notes


def test_describe_a_stale_crl(ca_root: Path, tmp_path: Path) -> None:
    """A CRL past its next update, and one due within a week, each get a warning naming `crl`."""
    folder = pki.CaFolder(ca_root)
    ca = pki.load_certificate(folder.ca_cert)
    ca_key = pki.load_private_key(folder.ca_key)
    now = dt.datetime.now(dt.UTC)

    def crl_until(next_update: dt.datetime, name: str) -> Path:
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.subject)
            .last_update(now - dt.timedelta(days=40))
            .next_update(next_update)
            .sign(ca_key, hashes.SHA256())
        )
        path = tmp_path / name
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path

    stale = pki.describe_file(crl_until(now - dt.timedelta(days=1), "stale.pem"))
    due = pki.describe_file(crl_until(now + dt.timedelta(days=3), "due.pem"))
    fine = pki.describe_file(crl_until(now + dt.timedelta(days=20), "fine.pem"))

    assert len(stale.warnings) == 1
    assert "past its next update" in stale.warnings[0]
    assert "rtchat-certs crl" in stale.warnings[0]
    assert len(due.warnings) == 1
    assert due.warnings[0].startswith("its next update is in 3 days (")
    assert fine.warnings == []
    assert stale.checked_against is None


def test_describe_reads_der_and_refuses_keys(ca_root: Path, tmp_path: Path) -> None:
    """A DER certificate is described; a private key is refused with one line saying what it is."""
    der = tmp_path / "server.der"
    der.write_bytes(
        pki.load_certificate(pki.CaFolder(ca_root).server_cert).public_bytes(
            serialization.Encoding.DER
        )
    )

    info = pki.describe_file(der)

    assert info.summary.startswith("a server certificate issued by")
    with pytest.raises(PKIError, match=r"is not a certificate, .* \(it holds a private key\)"):
        pki.describe_file(pki.CaFolder(ca_root).server_key)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01binary")
    with pytest.raises(
        PKIError, match=r"is not a certificate, a certificate signing request or a CRL"
    ):
        pki.describe_file(garbage)


def test_describe_escapes_hostile_names(tmp_path: Path) -> None:
    """Terminal escapes in a subject are shown escaped, never passed through."""
    key = pki.generate_key()
    name = cn_name("evil\x1b]0;pwned\x07")
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "evil.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    info = pki.describe_file(path)

    assert "\x1b" not in info.summary + "".join(v for _, v in info.fields) + "".join(info.notes)
    assert "\\x1b" in dict(info.fields)["subject"]
    assert "\x07" not in "".join(info.warnings)


def test_describe_with_a_damaged_crl_still_explains(ca_root: Path) -> None:
    """A damaged crl.pem beside an issued certificate is a warning, not a failure of show."""
    pki.issue_client(ca_root, "alice")
    folder = pki.CaFolder(ca_root)
    folder.crl.write_text("damaged\n")

    info = pki.describe_file(folder.client_cert("alice"))

    assert info.summary.startswith("a client certificate issued by")
    assert len(info.warnings) == 1
    assert "revocation could not be checked" in info.warnings[0]
    assert str(folder.crl.resolve()) in info.warnings[0]

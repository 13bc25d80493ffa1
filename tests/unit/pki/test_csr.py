"""Tests for realtimechat.pki.csr: create_request, read_csr and sign_request."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import mode_of, openssl_verify
from .helpers import cn_name, make_csr, snapshot


def _write_csr(path: Path, csr: x509.CertificateSigningRequest) -> Path:
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def _openssl_public_key_sha256(openssl: str, csr_path: Path) -> str:
    """The SHA-256 of the CSR's SubjectPublicKeyInfo, computed by openssl alone."""
    pem = subprocess.run(
        [openssl, "req", "-in", str(csr_path), "-pubkey", "-noout"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        [openssl, "pkey", "-pubin", "-outform", "DER"],
        input=pem,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return hashlib.sha256(der).hexdigest()


def test_request_writes_key_and_csr(tmp_path: Path, openssl: str) -> None:
    """create_request writes NAME.key 0600 and NAME.csr in a 0700 folder; openssl agrees on both."""
    out = tmp_path / "user"

    made = pki.create_request(out, "alice")

    assert [(w.path, w.action) for w in made.written] == [
        (out / "alice.key", "wrote"),
        (out / "alice.csr", "wrote"),
    ]
    assert (made.key, made.csr) == (out / "alice.key", out / "alice.csr")
    assert mode_of(out) == 0o700
    assert mode_of(made.key) == 0o600
    assert mode_of(made.csr) == 0o644
    csr = pki.load_csr(made.csr)
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=alice"
    key = pki.load_private_key(made.key)
    assert pki.public_key_fingerprint(key.public_key()) == made.fingerprint
    assert made.fingerprint == _openssl_public_key_sha256(openssl, made.csr)
    checked = subprocess.run(
        [openssl, "req", "-in", str(made.csr), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr


def test_passphrase_protected_key_needs_the_right_passphrase(tmp_path: Path, openssl: str) -> None:
    """A passphrase makes an encrypted key: the right one loads it, a wrong one fails clearly."""
    made = pki.create_request(tmp_path / "user", "alice", passphrase=b"correct horse")

    assert made.key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert pki.private_key_is_encrypted(made.key)
    assert [w.note for w in made.written] == ["passphrase-protected", ""]
    with pytest.raises(PKIError, match="is encrypted: a passphrase is needed"):
        pki.load_private_key(made.key)
    with pytest.raises(PKIError) as wrong:
        pki.load_private_key(made.key, b"battery staple")
    assert str(wrong.value) == f"wrong passphrase for {made.key}"
    key = pki.load_private_key(made.key, b"correct horse")
    assert pki.public_key_fingerprint(key.public_key()) == made.fingerprint
    by_openssl = subprocess.run(
        [openssl, "pkey", "-in", str(made.key), "-passin", "pass:correct horse", "-noout"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    wrong_for_openssl = subprocess.run(
        [openssl, "pkey", "-in", str(made.key), "-passin", "pass:nope", "-noout"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert by_openssl.returncode == 0
    assert wrong_for_openssl.returncode != 0


def test_request_refuses_existing_files_unless_forced(tmp_path: Path) -> None:
    """A second request for a name is refused and changes nothing; with force it makes a new key."""
    out = tmp_path / "user"
    first = pki.create_request(out, "alice")
    before = snapshot(out)

    with pytest.raises(PKIError, match=r"alice\.key already exists; refusing to overwrite it"):
        pki.create_request(out, "alice")

    assert snapshot(out) == before
    second = pki.create_request(out, "alice", force=True)
    assert [w.action for w in second.written] == ["replaced", "replaced"]
    assert second.fingerprint != first.fingerprint
    assert mode_of(second.key) == 0o600


@pytest.mark.parametrize(("name", "passphrase"), [("../alice", None), ("alice", b"")])
def test_request_rejects_bad_input(tmp_path: Path, name: str, passphrase: bytes | None) -> None:
    """A bad name or an empty passphrase is refused before any file is written."""
    out = tmp_path / "user"

    with pytest.raises(PKIError):
        pki.create_request(out, name, passphrase=passphrase)

    assert not out.exists()


def test_signed_certificate_ignores_what_the_csr_asks_for(
    ca_root: Path, tmp_path: Path, openssl: str
) -> None:
    """A CSR asking for SANs, serverAuth and CA:TRUE gets CN and clientAuth only."""
    key = pki.generate_key()
    csr_path = _write_csr(
        tmp_path / "greedy.csr",
        make_csr(
            key,
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil Corp"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "greedy"),
                ]
            ),
            x509.SubjectAlternativeName([x509.DNSName("chatserver")]),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.BasicConstraints(ca=True, path_length=None),
        ),
    )
    request = pki.read_csr(csr_path)

    pki.sign_request(ca_root, request)

    assert request.requested == ["subjectAltName", "extendedKeyUsage", "basicConstraints"]
    cert_path = pki.CaFolder(ca_root).client_cert("greedy")
    cert = pki.load_certificate(cert_path)
    assert cert.subject.rfc4514_string() == "CN=greedy"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert openssl_verify(openssl, ca_root, cert_path, "sslclient").returncode == 0
    assert openssl_verify(openssl, ca_root, cert_path, "sslserver").returncode != 0


def test_sign_refuses_a_name_issued_and_not_revoked(ca_root: Path, tmp_path: Path) -> None:
    """sign refuses a name with a valid certificate and writes nothing; after revoke it signs."""
    pki.issue_client(ca_root, "alice")
    made = pki.create_request(tmp_path / "user", "alice")
    request = pki.read_csr(made.csr)
    before = snapshot(ca_root)

    with pytest.raises(PKIError, match="'alice' already has a certificate that is not revoked"):
        pki.sign_request(ca_root, request)

    assert snapshot(ca_root) == before
    pki.revoke(ca_root, "alice")
    folder = pki.CaFolder(ca_root)
    written = pki.sign_request(ca_root, request)
    assert [(w.path, w.action) for w in written] == [
        (folder.client_cert("alice"), "replaced"),
        (folder.index, "updated"),
        (folder.client_key("alice"), "removed"),
    ]
    assert written[0].note == "the previous certificate was revoked"
    assert not folder.client_key("alice").exists()
    cert = pki.load_certificate(folder.client_cert("alice"))
    assert pki.public_key_fingerprint(cert) == made.fingerprint
    assert [(e.name, e.status) for e in pki.read_index(ca_root)] == [
        ("chatserver", "valid"),
        ("alice", "revoked"),
        ("alice", "valid"),
    ]


def test_sign_with_force_issues_a_second_certificate(ca_root: Path, tmp_path: Path) -> None:
    """With force a name gets a second valid certificate (a renewal); the name is then ambiguous."""
    pki.issue_client(ca_root, "alice")
    request = pki.read_csr(pki.create_request(tmp_path / "user", "alice").csr)

    pki.sign_request(ca_root, request, force=True)

    alices = [e for e in pki.read_index(ca_root) if e.name == "alice"]
    assert [e.status for e in alices] == ["valid", "valid"]
    with pytest.raises(PKIError, match="'alice' matches 2 certificates") as caught:
        pki.revoke(ca_root, "alice")
    assert all(e.serial in str(caught.value) for e in alices)
    assert [e.status for e in pki.read_index(ca_root)] == ["valid", "valid", "valid"]


def test_sign_asks_and_a_no_writes_nothing(ca_root: Path, tmp_path: Path) -> None:
    """confirm sees the checked request; when it says no, nothing is signed or written."""
    request = pki.read_csr(pki.create_request(tmp_path / "user", "alice").csr)
    before = snapshot(ca_root)
    seen: list[pki.SigningRequest] = []

    def decline(asked: pki.SigningRequest) -> bool:
        seen.append(asked)
        return False

    with pytest.raises(PKIError, match="not signed"):
        pki.sign_request(ca_root, request, confirm=decline)

    assert seen == [request]
    assert snapshot(ca_root) == before


def test_sign_refuses_the_cas_own_key(ca_root: Path, tmp_path: Path) -> None:
    """A CSR carrying the CA's key is refused: that certificate would share the CA's key."""
    ca_key = pki.load_private_key(pki.CaFolder(ca_root).ca_key)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    request = pki.read_csr(_write_csr(tmp_path / "sneaky.csr", make_csr(ca_key, cn_name("sneaky"))))

    with pytest.raises(PKIError, match="the CA's own key"):
        pki.sign_request(ca_root, request)

    assert not pki.CaFolder(ca_root).client_cert("sneaky").exists()


def test_sign_refuses_a_user_folder_with_another_key(ca_root: Path, tmp_path: Path) -> None:
    """--out into a folder whose NAME.key is not the CSR's key is refused before signing."""
    user = tmp_path / "user"
    pki.create_request(user, "alice")
    other = pki.create_request(tmp_path / "other", "alice")

    with pytest.raises(PKIError, match=r"alice\.key is not the key of"):
        pki.sign_request(ca_root, pki.read_csr(other.csr), out_dir=user)

    assert not (user / "alice.crt").exists()
    assert not pki.CaFolder(ca_root).client_cert("alice").exists()


def test_read_csr_refuses_a_csr_whose_signature_fails(tmp_path: Path) -> None:
    """A CSR changed after signing (CN alice -> mallo) is refused: its signature does not verify."""
    good = make_csr(pki.generate_key(), cn_name("alice")).public_bytes(serialization.Encoding.DER)
    forged = tmp_path / "forged.csr"
    forged.write_bytes(good.replace(b"alice", b"mallo"))

    with pytest.raises(PKIError, match="signature does not verify"):
        pki.read_csr(forged)

    assert pki.common_name(pki.load_csr(forged)) == "mallo"


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]), "exactly one CN"),
        (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "a"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "b"),
                ]
            ),
            "exactly one CN",
        ),
        (cn_name("../escape"), "cannot contain '/'"),
        (cn_name(".hidden"), "cannot start with '.'"),
        (cn_name("al\u202eice"), "invisible character"),
    ],
)
def test_read_csr_refuses_names_that_cannot_be_clients(
    tmp_path: Path, subject: x509.Name, message: str
) -> None:
    """A CSR without exactly one valid client name as CN is refused."""
    path = _write_csr(tmp_path / "bad.csr", make_csr(pki.generate_key(), subject))

    with pytest.raises(PKIError, match=message):
        pki.read_csr(path)


def test_read_csr_refuses_a_weak_key(tmp_path: Path) -> None:
    """A CSR for a 1024-bit RSA key is refused: OpenSSL would refuse the certificate."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (on purpose)
    path = _write_csr(tmp_path / "weak.csr", make_csr(weak, cn_name("weak")))

    with pytest.raises(PKIError, match="only 1024 bits"):
        pki.read_csr(path)


def test_read_csr_accepts_der_and_ed25519(tmp_path: Path) -> None:
    """A DER CSR for an Ed25519 key is read, with its key type and fingerprint."""
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "ed.csr"
    path.write_bytes(make_csr(key, cn_name("ed")).public_bytes(serialization.Encoding.DER))

    request = pki.read_csr(path)

    assert (request.name, request.key) == ("ed", "Ed25519")
    assert request.fingerprint == pki.public_key_fingerprint(key.public_key())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", r"is not a certificate signing request \(neither PEM nor DER\)$"),
        (b"-----BEGIN PRIVATE KEY-----\nxx\n", r"\(it holds a private key\)"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nxx\n", "a damaged CSR"),
    ],
)
def test_read_csr_refuses_files_that_are_not_csrs(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Text, a key or a damaged CSR is refused with one line that names the file."""
    path = tmp_path / "thing.csr"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=message) as caught:
        pki.read_csr(path)

    assert str(caught.value).startswith(str(path))


def test_read_csr_of_a_certificate_says_so(ca_root: Path) -> None:
    """Giving sign a certificate instead of a CSR says that it holds a certificate."""
    server = pki.CaFolder(ca_root).server_cert

    with pytest.raises(
        PKIError, match=r"not a certificate signing request \(CSR\) \(it holds a certificate\)"
    ):
        pki.read_csr(server)

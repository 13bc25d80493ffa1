"""Tests for realtimechat.pki.load: reading certificates, keys and CRLs.

PEM and DER, bundles, passphrases, and errors that name the file and say
what it holds instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import cn_of
from .helpers import crl_of


def test_load_private_key_with_a_passphrase(tmp_path: Path) -> None:
    """An encrypted key needs its passphrase: missing or wrong ones raise PKIError."""
    key = pki.generate_key()
    path = tmp_path / "user.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )

    with pytest.raises(PKIError, match="passphrase is needed"):
        pki.load_private_key(path)
    with pytest.raises(PKIError, match="wrong passphrase"):
        pki.load_private_key(path, b"wrong")
    loaded = pki.load_private_key(path, b"correct horse")
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == key.private_numbers()  # type: ignore[union-attr]


def test_load_private_key_errors_name_the_file(tmp_path: Path) -> None:
    """A missing file or a file that is no key raises PKIError with its path."""
    missing = tmp_path / "missing.key"
    garbage = tmp_path / "garbage.key"
    garbage.write_text("not a key\n")

    with pytest.raises(PKIError, match=r"missing\.key"):
        pki.load_private_key(missing)
    with pytest.raises(PKIError, match=r"garbage\.key"):
        pki.load_private_key(garbage)


def test_load_certificates_reads_a_bundle_in_order(ca_root: Path, tmp_path: Path) -> None:
    """load_certificates returns every certificate of a PEM bundle, in file order."""
    folder = pki.CaFolder(ca_root)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(folder.server_cert.read_bytes() + folder.ca_cert.read_bytes())

    certs = pki.load_certificates(bundle)

    assert [cn_of(c) for c in certs] == ["chatserver", "realtimechat CA (chatserver)"]
    assert cn_of(pki.load_certificate(bundle)) == "chatserver"


def test_load_certificate_reads_der(ca_root: Path, tmp_path: Path) -> None:
    """load_certificate also reads a DER certificate."""
    ca = pki.load_certificate(pki.CaFolder(ca_root).ca_cert)
    der = tmp_path / "ca.der"
    der.write_bytes(ca.public_bytes(serialization.Encoding.DER))

    assert pki.load_certificate(der) == ca


@pytest.mark.parametrize("content", [b"", b"hello\n", b"-----BEGIN CERTIFICATE-----\nxx\n"])
def test_load_certificates_rejects_non_certificates(tmp_path: Path, content: bytes) -> None:
    """An empty file or one without a certificate raises PKIError naming the path."""
    path = tmp_path / "thing.pem"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=r"thing\.pem"):
        pki.load_certificates(path)
    with pytest.raises(PKIError, match=r"thing\.pem"):
        pki.load_certificate(path)


def test_load_certificate_of_a_missing_file_names_it(tmp_path: Path) -> None:
    """A missing certificate file raises PKIError with its path."""
    with pytest.raises(PKIError, match=r"nothere\.crt"):
        pki.load_certificate(tmp_path / "nothere.crt")


def test_unencrypted_key_is_not_reported_encrypted(tmp_path: Path) -> None:
    """private_key_is_encrypted is False for a plain key, and a needless passphrase is an error."""
    made = pki.create_request(tmp_path / "user", "alice")

    assert not pki.private_key_is_encrypted(made.key)
    with pytest.raises(PKIError, match="not encrypted, but a passphrase was given"):
        pki.load_private_key(made.key, b"anything")


def test_load_crl_reads_pem_and_der(ca_root: Path, tmp_path: Path) -> None:
    """load_crl reads the PEM crl.pem and the same CRL as DER."""
    crl = crl_of(ca_root)
    der = tmp_path / "crl.der"
    der.write_bytes(crl.public_bytes(serialization.Encoding.DER))

    assert pki.load_crl(der) == crl
    assert crl.issuer == pki.load_certificate(pki.CaFolder(ca_root).ca_cert).subject


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", r"not a certificate revocation list \(neither PEM nor DER\)$"),
        (b"-----BEGIN X509 CRL-----\nxx\n", "a damaged CRL"),
    ],
)
def test_load_crl_rejects_other_files(tmp_path: Path, content: bytes, message: str) -> None:
    """load_crl raises PKIError naming the file for text or a damaged CRL."""
    path = tmp_path / "thing.pem"
    path.write_bytes(content)

    with pytest.raises(PKIError, match=message) as caught:
        pki.load_crl(path)

    assert str(caught.value).startswith(str(path))


def test_load_crl_of_a_certificate_or_missing_file(ca_root: Path, tmp_path: Path) -> None:
    """A certificate given as CRL, or a missing file, raises PKIError that says what it is."""
    with pytest.raises(PKIError, match=r"\(it holds a certificate\)"):
        pki.load_crl(pki.CaFolder(ca_root).ca_cert)
    with pytest.raises(PKIError, match=r"cannot read .*nothere\.pem"):
        pki.load_crl(tmp_path / "nothere.pem")

"""Tests for realtimechat.pki.keys: key types, the PEM form, SHA-256 fingerprints."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from realtimechat import pki
from realtimechat.errors import PKIError

from ...support import openssl_verify


def test_keys_are_unencrypted_pkcs8_pem(ca_root: Path) -> None:
    """Private keys are written as unencrypted PKCS#8 PEM that loads without a passphrase."""
    folder = pki.CaFolder(ca_root)
    text = folder.server_key.read_text()

    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert isinstance(pki.load_private_key(folder.server_key), ec.EllipticCurvePrivateKey)


@pytest.mark.parametrize(
    ("key_type", "expected"),
    [
        ("ec-p256", ec.EllipticCurvePrivateKey),
        ("ed25519", ed25519.Ed25519PrivateKey),
        ("rsa-3072", rsa.RSAPrivateKey),
    ],
)
def test_generate_key_types(key_type: pki.KeyType, expected: type) -> None:
    """generate_key makes a key of the requested type and size."""
    key = pki.generate_key(key_type)

    assert isinstance(key, expected)
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.key_size == 3072
        assert key.public_key().public_numbers().e == 65537
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert isinstance(key.curve, ec.SECP256R1)


def test_generate_key_rejects_an_unknown_type() -> None:
    """An unknown key type raises PKIError listing the choices."""
    with pytest.raises(PKIError, match="ec-p256"):
        pki.generate_key("dsa-1024")  # type: ignore[arg-type]


def test_rsa_4096_client_certificate(ca_root: Path, openssl: str) -> None:
    """An RSA-4096 client key is generated, issued and verified by openssl (the slow key type)."""
    pki.issue_client(ca_root, "big", key_type="rsa-4096")
    folder = pki.CaFolder(ca_root)

    key = pki.load_private_key(folder.client_key("big"))
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 4096
    assert openssl_verify(openssl, ca_root, folder.client_cert("big"), "sslclient").returncode == 0


def test_fingerprints_match_openssl(ca_root: Path, openssl: str) -> None:
    """fingerprint_sha256 equals openssl's SHA-256 fingerprint, for a certificate and its DER."""
    path = pki.CaFolder(ca_root).server_cert
    cert = pki.load_certificate(path)
    der = cert.public_bytes(serialization.Encoding.DER)
    result = subprocess.run(
        [openssl, "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    from_openssl = result.stdout.strip().split("=", 1)[1].replace(":", "").lower()

    assert pki.fingerprint_sha256(cert) == from_openssl
    assert pki.fingerprint_sha256(der) == from_openssl
    assert from_openssl == hashlib.sha256(der).hexdigest()
    assert len(from_openssl) == 64
    assert pki.short_fingerprint(cert) == from_openssl[:16]
    assert pki.short_fingerprint(der) == from_openssl[:16]

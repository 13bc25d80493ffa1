"""Private keys: the types generated, generation, PEM, what a key is, and fingerprints."""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal, TypeAlias, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)

from realtimechat.errors import PKIError

KeyType = Literal["ec-p256", "ed25519", "rsa-3072", "rsa-4096"]
KEY_TYPES: Final[tuple[KeyType, ...]] = get_args(KeyType)
DEFAULT_KEY_TYPE: Final[KeyType] = "ec-p256"

#: The key types this module generates.
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

#: The smallest RSA key OpenSSL accepts at security level 2 (Debian's default).
MIN_RSA_BITS: Final = 2048


def generate_key(key_type: KeyType = DEFAULT_KEY_TYPE) -> PrivateKey:
    """Generate a new private key of ``key_type`` (ECDSA P-256 unless asked otherwise)."""
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == "rsa-4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    raise PKIError(f"unknown key type {key_type!r} (choose from {', '.join(KEY_TYPES)})")


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    """The hash to sign with: EdDSA hashes internally and takes none."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM: unencrypted (loads without a prompt), or encrypted with ``passphrase``."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase)
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _public_der(key: Any) -> bytes:
    """The SubjectPublicKeyInfo of any public key, to compare keys of any type."""
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def describe_key(public_key: Any) -> str:
    """A short name for a public key's type and size, such as ``ECDSA P-256``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size} bits"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curves = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {curves.get(public_key.curve.name, public_key.curve.name)}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448"
    # Any other type (DSA, say) is described by its class's name, not looked up:
    # cryptography 51 warns on the mere lookup of dsa.DSAPublicKey.
    kind = type(public_key).__name__.removesuffix("PublicKey").removesuffix("PrivateKey")
    size = getattr(public_key, "key_size", None)
    return f"{kind} {size} bits" if isinstance(size, int) else kind


def _key_problem(public_key: Any) -> str | None:
    """Why a TLS peer here would refuse a certificate for this key, or None."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            return (
                f"its RSA key has only {public_key.key_size} bits: OpenSSL refuses keys "
                f"under {MIN_RSA_BITS} bits (security level 2)"
            )
        return None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            return f"its key is on the curve {public_key.curve.name}, which TLS here does not use"
        return None
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return None
    return f"its key ({describe_key(public_key)}) cannot sign a TLS 1.3 handshake"


def fingerprint_sha256(cert: x509.Certificate | bytes) -> str:
    """Lowercase hex SHA-256 of the certificate's DER encoding (64 characters).

    ``cert`` may be DER bytes, as ``SSLSocket.getpeercert(binary_form=True)``
    returns them.
    """
    der = cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def short_fingerprint(cert: x509.Certificate | bytes) -> str:
    """The first 16 hex characters of :func:`fingerprint_sha256`, for display."""
    return fingerprint_sha256(cert)[:16]


def public_key_fingerprint(
    item: x509.Certificate | x509.CertificateSigningRequest | CertificatePublicKeyTypes,
) -> str:
    """Lowercase hex SHA-256 of a public key's SubjectPublicKeyInfo (DER), 64 characters.

    The same for a key, the CSR made with it and every certificate issued
    for it, so a user can read it to the admin who signs their request
    (``openssl pkey -pubin -outform DER | sha256sum`` computes it too).
    """
    public_key = (
        item.public_key()
        if isinstance(item, x509.Certificate | x509.CertificateSigningRequest)
        else item
    )
    return hashlib.sha256(_public_der(public_key)).hexdigest()


def format_fingerprint(hex_digest: str) -> str:
    """A fingerprint in groups of four characters, easier to read aloud and compare."""
    return " ".join(hex_digest[i : i + 4] for i in range(0, len(hex_digest), 4))

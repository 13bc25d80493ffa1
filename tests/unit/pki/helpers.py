"""Helpers for the tests of realtimechat.pki: folder snapshots, hand-made CSRs, a CA's CRL."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from realtimechat import pki


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``root`` with its bytes, mode and mtime."""
    return {
        str(path.relative_to(root)): (
            path.read_bytes(),
            path.stat().st_mode,
            path.stat().st_mtime_ns,
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def make_csr(
    key: pki.PrivateKey | rsa.RSAPrivateKey,
    name: x509.Name,
    *extensions: x509.ExtensionType,
) -> x509.CertificateSigningRequest:
    """A CSR for ``name`` signed with ``key``, asking for ``extensions``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def cn_name(cn: str) -> x509.Name:
    """A subject of one CN."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def crl_of(root: Path) -> x509.CertificateRevocationList:
    """The crl.pem of the CA folder ``root``."""
    return pki.load_crl(pki.CaFolder(root).crl)

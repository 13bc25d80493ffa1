"""Who a peer is, read from the certificate it proved it holds.

Identity rules (design.md, "Shape"):

* A certificate found in the trust file itself (a pinned certificate, such
  as the seed's self-signed ``openssl req -x509`` ones) is identified by its
  SHA-256 fingerprint: nothing else vouches for it.
* A certificate issued by a trusted CA is identified by issuer and subject
  CN, so a renewed certificate (new key, new serial) is the same user.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import PKIError
from ..pki import common_name


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """A verified peer, as the server knows it."""

    key: str  # stable identity: "pin:<sha256>" or "ca:<issuer>/<cn>"
    cn: str
    fingerprint: str  # SHA-256 of the certificate, lowercase hex
    serial: int
    not_after: datetime
    pinned: bool

    @property
    def short_fp(self) -> str:
        return self.fingerprint[:16]


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """The fingerprints of every certificate in the server's ``--ca`` file."""

    fingerprints: frozenset[str]

    @classmethod
    def from_file(cls, path: Path) -> TrustAnchors:
        try:
            certificates = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise PKIError(f"cannot read trusted certificates from {path}: {exc}") from None
        return cls(
            frozenset(
                hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() for cert in certificates
            )
        )

    def identify(self, der: bytes) -> PeerIdentity:
        """The identity of the peer whose verified certificate is ``der``."""
        certificate = x509.load_der_x509_certificate(der)
        fingerprint = hashlib.sha256(der).hexdigest()
        cn = common_name(certificate)
        pinned = fingerprint in self.fingerprints
        key = f"pin:{fingerprint}" if pinned else f"ca:{certificate.issuer.rfc4514_string()}/{cn}"
        return PeerIdentity(
            key=key,
            cn=cn,
            fingerprint=fingerprint,
            serial=certificate.serial_number,
            not_after=certificate.not_valid_after_utc,
            pinned=pinned,
        )

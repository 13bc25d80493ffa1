"""Whom the server trusts right now, and whether a peer still qualifies.

A ``Trust`` is loaded from the server's files at start and again on each
SIGHUP. It holds the SSLContext new connections get, the fingerprints of
every certificate in the trust file (the *pinned* set), the subjects of
the CAs in it, and the revoked serials from the CRL.

Revocation is checked here, by the server, right after the handshake and
again for every live session on reload -- never with OpenSSL's CRL flags,
which would reject every pinned self-signed client (no CRL exists for its
issuer) and every client once the CRL's next-update has passed:

* a pinned certificate is revoked by removing it from the trust file;
* a CA-issued certificate is revoked when its serial is on the CRL of its
  CA, or when its CA is no longer in the trust file;
* any certificate is expired once its not-after has passed (OpenSSL checks
  that at the handshake; sessions outlive handshakes, so we check again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import PKIError
from ..pki import (
    CRL_RENEW_BEFORE,
    certificate_names,
    common_name,
    load_crl,
    refuse_unusable_key,
)
from ..tls import ServerFiles, server_context
from .identity import PeerIdentity

REVOKED: Final = "revoked"
EXPIRED: Final = "expired"
EXPIRY_WARNING: Final = dt.timedelta(days=30)  # warn when a certificate has less left
_SIGNING_KEYS: Final = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
)


@dataclass(frozen=True, slots=True)
class Revocations:
    """The serials one CA has revoked, from its CRL."""

    issuer: str  # RFC 4514 name of the CA that signed the CRL
    serials: frozenset[int]
    next_update: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Trust:
    """Everything the server needs to admit, identify and re-check peers."""

    context: ssl.SSLContext
    pinned: frozenset[str]  # SHA-256 fingerprints of every certificate in the trust file
    ca_subjects: frozenset[str]  # RFC 4514 subjects of the CA certificates in it
    revocations: Revocations | None
    server_certificate: x509.Certificate
    ca_certificates: tuple[x509.Certificate, ...]

    @classmethod
    def load(cls, files: ServerFiles) -> Trust:
        """Build the context and read trust file and CRL; PKIError if unusable."""
        context = server_context(files)
        anchors = _read_certificates(files.ca, "trusted certificates")
        cas = tuple(cert for cert in anchors if _is_ca(cert))
        return cls(
            context=context,
            pinned=frozenset(_fingerprint(cert) for cert in anchors),
            ca_subjects=frozenset(cert.subject.rfc4514_string() for cert in cas),
            revocations=_revocations(files.crl, cas),
            server_certificate=_read_certificates(files.cert, "server certificate")[0],
            ca_certificates=cas,
        )

    def identify(self, der: bytes) -> PeerIdentity:
        """The identity of the peer whose verified certificate is ``der``.

        A certificate found in the trust file itself is identified by its
        fingerprint; one issued by a CA by issuer and CN, so that a renewed
        certificate is the same user.
        """
        certificate = x509.load_der_x509_certificate(der)
        fingerprint = hashlib.sha256(der).hexdigest()
        with warnings.catch_warnings():
            # cryptography warns about a CN that is empty or over 64 characters,
            # in free text, for each connection of such a certificate: the
            # session judges the CN itself (bad_name) and logs it clipped.
            warnings.simplefilter("ignore", UserWarning)
            cn = common_name(certificate)
            issuer = certificate.issuer.rfc4514_string()
        pinned = fingerprint in self.pinned
        return PeerIdentity(
            key=f"pin:{fingerprint}" if pinned else f"ca:{issuer}/{cn}",
            cn=cn,
            fingerprint=fingerprint,
            serial=certificate.serial_number,
            issuer=issuer,
            not_after=certificate.not_valid_after_utc,
            pinned=pinned,
        )

    def refusal(self, identity: PeerIdentity, now: dt.datetime | None = None) -> str | None:
        """Why ``identity`` may no longer chat (``revoked``/``expired``), or None."""
        if identity.not_after <= (now or dt.datetime.now(dt.UTC)):
            return EXPIRED
        if identity.pinned:
            return None if identity.fingerprint in self.pinned else REVOKED
        if identity.issuer not in self.ca_subjects:  # its CA was removed from the trust file
            return REVOKED
        revocations = self.revocations
        if (
            revocations is not None
            and revocations.issuer == identity.issuer
            and identity.serial in revocations.serials
        ):
            return REVOKED
        return None

    def describe(self) -> str:
        """Whom this server is and whom it admits, in one line for the log."""
        names = ", ".join(certificate_names(self.server_certificate))
        trusted = [f"CA {common_name(ca)!r}" for ca in self.ca_certificates]
        others = len(self.pinned) - len(self.ca_certificates)
        if others:
            trusted.append(f"{others} pinned certificate{'s' if others != 1 else ''}")
        revocations = self.revocations
        crl = f"{len(revocations.serials)} revoked in the CRL" if revocations else "no CRL"
        return f"server certificate for {names}; trusting {', '.join(trusted)}; {crl}"

    def warnings(self, now: dt.datetime | None = None) -> list[str]:
        """What an operator should act on soon: expiring certificates, a stale CRL."""
        now = now or dt.datetime.now(dt.UTC)
        found = []
        named = [("server certificate", self.server_certificate)] + [
            (f"CA certificate {common_name(cert)!r}", cert) for cert in self.ca_certificates
        ]
        for what, cert in named:
            left = cert.not_valid_after_utc - now
            if left <= dt.timedelta(0):
                found.append(f"the {what} has expired")
            elif left <= EXPIRY_WARNING:
                found.append(f"the {what} expires in {left.days} days")
        if self.ca_certificates and self.revocations is None:
            found.append(
                "no CRL: certificates revoked by the CA are still let in"
                " (give --crl FILE with the CA's crl.pem, or --pki with a server folder)"
            )
        next_update = self.revocations.next_update if self.revocations else None
        if next_update is not None:
            if next_update <= now:
                found.append("the CRL is past its next-update: re-sign it (rtchat-certs crl)")
            elif next_update - now <= CRL_RENEW_BEFORE:
                found.append("the CRL must be re-signed soon (rtchat-certs crl)")
        return found


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def _read_certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PKIError(f"cannot read {what} from {path}: {exc}") from None
    return [refuse_unusable_key(certificate, path) for certificate in certificates]


def _revocations(path: Path | None, cas: tuple[x509.Certificate, ...]) -> Revocations | None:
    """The CRL at ``path``; a CRL missing beside a CA is an error, not "nothing revoked"."""
    if path is None:
        return None  # none configured: warnings() says so when a CA is trusted
    if not path.exists():
        if not cas:
            return None  # a bundle of pinned certificates: revoked by removal
        raise PKIError(
            f"{path} is missing: without it, certificates the CA has revoked would be let"
            " in. Copy crl.pem from the CA folder (rtchat-certs server-bundle --out DIR"
            " makes a complete server folder), or give --crl FILE"
        )
    return _read_revocations(path, cas)


def _read_revocations(path: Path, cas: tuple[x509.Certificate, ...]) -> Revocations:
    crl = load_crl(path)
    issuer = crl.issuer.rfc4514_string()
    signer = next((ca for ca in cas if ca.subject == crl.issuer), None)
    if signer is None:
        raise PKIError(f"{path} was issued by {issuer}, which is not a CA in the trust file")
    public_key = signer.public_key()
    if not isinstance(public_key, _SIGNING_KEYS) or not crl.is_signature_valid(public_key):
        raise PKIError(f"{path} is not signed by the CA {issuer}")
    return Revocations(
        issuer=issuer,
        serials=frozenset(entry.serial_number for entry in crl),
        next_update=crl.next_update_utc,
    )

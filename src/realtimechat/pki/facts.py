"""What a certificate or CSR says (names, SANs, key usages, CA flags), as text safe to print."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat.sanitize import visible

from .load import _signed_by, common_name

_EKU_NAMES: Final = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _text(name: x509.Name) -> str:
    try:
        return visible(name.rfc4514_string()) or "(empty)"
    except ValueError:
        return "(unreadable name)"


def _sans(cert: x509.Certificate | x509.CertificateSigningRequest) -> list[str] | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    names = [f"DNS:{visible(n)}" for n in san.get_values_for_type(x509.DNSName)]
    names += [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def _ekus(
    cert: x509.Certificate | x509.CertificateSigningRequest,
) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def _eku_text(ekus: list[x509.ObjectIdentifier] | None) -> str:
    if ekus is None:
        return "none (any purpose)"
    return ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in ekus) or "(empty)"


def _extension_label(extension: x509.Extension[x509.ExtensionType]) -> str:
    oid = extension.oid
    return getattr(oid, "_name", None) or oid.dotted_string


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def can_sign_certificates(cert: x509.Certificate) -> bool:
    """A CA made to issue: CA:TRUE and a KeyUsage with keyCertSign (what init makes).

    The only certificates OpenSSL lets issue others under VERIFY_X509_STRICT
    (a CA:TRUE certificate without a key usage, as ``openssl req -x509``
    makes them, is refused as an issuer there).
    """
    usage = _key_usage(cert)
    return usage is not None and _is_ca(cert) and usage.key_cert_sign


def is_ca_certificate(cert: x509.Certificate) -> bool:
    """Whether ``cert`` says CA:TRUE in its basic constraints, with or without a key usage."""
    return _is_ca(cert)


_can_sign_certificates = can_sign_certificates


def _allows(ekus: list[x509.ObjectIdentifier] | None, oid: x509.ObjectIdentifier) -> bool:
    """Whether an extended key usage allows ``oid`` (no EKU allows everything)."""
    return ekus is None or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus or oid in ekus


def not_a_client_certificate(cert: x509.Certificate) -> str | None:
    """What ``cert`` is, when it cannot be a user's certificate; None if it can.

    Caught: a CA made to issue (nobody's identity), and what OpenSSL's
    TLS-client purpose check refuses: an extended key usage without
    clientAuth (nor anyExtendedKeyUsage), or a key usage with neither
    digitalSignature nor keyAgreement. Nothing else: ``openssl req -x509``
    certificates are CA:TRUE without either extension, and pass.
    """
    if _can_sign_certificates(cert):
        return "a CA certificate"
    ekus = _ekus(cert)
    if ekus is not None and not _allows(ekus, ExtendedKeyUsageOID.CLIENT_AUTH):
        if ExtendedKeyUsageOID.SERVER_AUTH in ekus:
            return "a server certificate (serverAuth, no clientAuth)"
        return "a certificate without clientAuth in its extended key usage"
    usage = _key_usage(cert)
    if usage is not None and not (usage.digital_signature or usage.key_agreement):
        return "a certificate whose key usage does not allow signing"
    return None


@dataclass(frozen=True)
class _CertFacts:
    """What the checks of one certificate look at, read once."""

    cert: x509.Certificate
    cn: str
    self_issued: bool
    self_signed: bool
    is_ca: bool
    ekus: list[x509.ObjectIdentifier] | None
    sans: list[str] | None
    san_ext: x509.SubjectAlternativeName | None

    @classmethod
    def of(cls, cert: x509.Certificate) -> _CertFacts:
        try:
            san_ext: x509.SubjectAlternativeName | None = cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            san_ext = None
        self_issued = cert.subject == cert.issuer
        return cls(
            cert=cert,
            cn=common_name(cert),
            self_issued=self_issued,
            self_signed=self_issued and _signed_by(cert, cert),
            is_ca=_can_sign_certificates(cert),
            ekus=_ekus(cert),
            sans=_sans(cert),
            san_ext=san_ext,
        )

    def allows(self, oid: x509.ObjectIdentifier) -> bool:
        """Whether its extended key usage allows ``oid`` (no EKU allows everything)."""
        return _allows(self.ekus, oid)

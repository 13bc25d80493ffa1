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


def _can_sign_certificates(cert: x509.Certificate) -> bool:
    """A CA made to issue: CA:TRUE and a KeyUsage with keyCertSign (what init makes)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return _is_ca(cert) and usage.key_cert_sign


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
        return (
            self.ekus is None
            or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in self.ekus
            or oid in self.ekus
        )

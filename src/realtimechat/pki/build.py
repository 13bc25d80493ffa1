"""Building X.509 objects in memory: CA, server and client certificates, and CRLs."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from typing import Final, Literal, get_args

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from realtimechat.errors import PKIError

from .folder import MAX_NAME_BYTES
from .groups import group_uris
from .keys import PrivateKey, _signature_hash
from .validity import CLOCK_SKEW, CRL_DAYS, _check_days

#: Revocation reasons ``revoke`` accepts (RFC 5280 names); "unspecified" is left out of the CRL.
RevocationReason = Literal[
    "unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"
]
REVOCATION_REASONS: Final[tuple[RevocationReason, ...]] = get_args(RevocationReason)
_REASON_FLAGS: Final[dict[str, x509.ReasonFlags]] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
}

_CA_CN_PREFIX: Final = "realtimechat CA"


def _name(common_name: str) -> x509.Name:
    try:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    except ValueError as exc:
        raise PKIError(f"{common_name!r} cannot be a certificate name: {exc}") from exc


def _ca_common_name(server_cn: str) -> str:
    """The CA's CN, naming the server it was made for, cut to the 64-byte limit."""
    room = MAX_NAME_BYTES - len(f"{_CA_CN_PREFIX} ()")
    label = server_cn.encode()[:room].decode(errors="ignore")
    return f"{_CA_CN_PREFIX} ({label})"


def _key_usage(
    *, digital_signature: bool, key_encipherment: bool = False, ca: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI for certificates ``ca_cert`` issues; strict X.509 verification needs it."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        # A CA certificate made elsewhere may lack an SKI: derive the id the usual way.
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: CertificatePublicKeyTypes,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    ca: bool,
) -> x509.CertificateBuilder:
    """What every certificate here has: names, key, random serial, validity, BC, SKI."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _build_ca(key: PrivateKey, server_cn: str, now: dt.datetime, days: int) -> x509.Certificate:
    name = _name(_ca_common_name(server_cn))
    builder = (
        _builder(
            name,
            name,
            key.public_key(),
            now - CLOCK_SKEW,
            now + _check_days(days, "CA days"),
            ca=True,
        )
        .add_extension(_key_usage(digital_signature=True, ca=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    )
    return builder.sign(key, _signature_hash(key))


def _subject_alt_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    """IP addresses become IPAddress entries, everything else DNSName; duplicates dropped."""
    entries: list[x509.GeneralName] = []
    for raw in names:
        name = raw.strip()
        if not name:
            raise PKIError("a subjectAltName cannot be empty")
        entry: x509.GeneralName
        try:
            entry = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            _refuse_almost_ip(name)
            try:
                entry = x509.DNSName(name)
            except ValueError as exc:
                raise PKIError(
                    f"subjectAltName {name!r} is neither an IP address nor an ASCII DNS name "
                    "(write internationalised names as xn-- A-labels)"
                ) from exc
        if entry not in entries:
            entries.append(entry)
    return x509.SubjectAlternativeName(entries)


def _refuse_almost_ip(name: str) -> None:
    """Raise PKIError for a name that looks like an IP address but is not a valid one.

    As a DNSName, 999.1.1.1 matches nothing anyone can connect to (resolvers
    and clients read an all-numeric name as an address), and a colon cannot
    be in a DNS name at all: such a name is a typo, not a host name.
    """
    labels = [label for label in name.split(".") if label]
    if labels and all(label.isdigit() and label.isascii() for label in labels):
        raise PKIError(
            f"{name!r} looks like an IPv4 address but is not one (four numbers 0-255, "
            "such as 203.0.113.7): give a valid IP address or a DNS name"
        )
    if ":" in name:
        raise PKIError(
            f"{name!r} looks like an IPv6 address but is not one (a DNS name has no ':'): "
            "give a valid IP address or a DNS name"
        )


def _build_server(
    *,
    key: PrivateKey,
    server_cn: str,
    sans: Sequence[str],
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    not_after = now + _check_days(days, "server days")
    builder = (
        _builder(
            _name(server_cn),
            ca_cert.subject,
            key.public_key(),
            now - CLOCK_SKEW,
            not_after,
            ca=False,
        )
        .add_extension(_authority_key_id(ca_cert), critical=False)
        # The CN is a SAN too: hostname checks look only at SANs once any exist.
        .add_extension(_subject_alt_names([server_cn, *sans]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            # TLS 1.2 RSA key exchange encrypts to the server key; other types only sign.
            _key_usage(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey)),
            critical=True,
        )
    )
    return builder.sign(ca_key, _signature_hash(ca_key))


def _build_client(
    *,
    public_key: CertificatePublicKeyTypes,
    name: str,
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    not_before: dt.datetime,
    not_after: dt.datetime,
    groups: Sequence[str] = (),
) -> x509.Certificate:
    builder = (
        _builder(_name(name), ca_cert.subject, public_key, not_before, not_after, ca=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_key_usage(digital_signature=True), critical=True)
    )
    if groups:  # chat groups, as SAN URIs (pki/groups.py says why there)
        builder = builder.add_extension(
            x509.SubjectAlternativeName(group_uris(groups)), critical=False
        )
    return builder.sign(ca_key, _signature_hash(ca_key))


def _revoked_entry(serial: int, when: dt.datetime, reason: str | None) -> x509.RevokedCertificate:
    builder = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
    flag = _REASON_FLAGS.get(reason or "unspecified", x509.ReasonFlags.unspecified)
    if flag is not x509.ReasonFlags.unspecified:  # RFC 5280: leave "unspecified" out
        builder = builder.add_extension(x509.CRLReason(flag), critical=False)
    return builder.build()


def _reason_of(entry: x509.RevokedCertificate) -> str | None:
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except (x509.ExtensionNotFound, ValueError):
        return None
    return next((name for name, value in _REASON_FLAGS.items() if value is flag), None)


def _build_crl(
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    now: dt.datetime,
    *,
    number: int = 1,
    revoked: Sequence[x509.RevokedCertificate] = (),
    days: int = CRL_DAYS,
) -> x509.CertificateRevocationList:
    """A CRL listing ``revoked``, numbered ``number``, next update ``days`` from now."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + _check_days(days, "CRL days"))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, _signature_hash(ca_key))


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)

"""Reading certificates, CSRs, CRLs and private keys from files, and checking who signed what."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID, PublicKeyAlgorithmOID

from realtimechat.errors import PKIError, WrongPassphrase
from realtimechat.pki.keys import describe_key


def _read(path: Path) -> bytes:
    """Read ``path``, turning every OS error into a PKIError that names it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise PKIError(f"cannot read {path}: {exc.strerror or exc}") from exc


_PEM_LABEL: Final = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


def _pem_label(data: bytes) -> str | None:
    """The label of the first PEM block (``CERTIFICATE``, ``X509 CRL``...), or None if not PEM."""
    match = _PEM_LABEL.search(data)
    return match.group(1).decode("ascii") if match else None


def _what_else(label: str | None) -> str:
    """What a file with this PEM label holds, to say what it is when it is not what we want."""
    if label is None:
        return ""
    if "PRIVATE KEY" in label:
        return " (it holds a private key)"
    if label == "CERTIFICATE":
        return " (it holds a certificate)"
    if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        return " (it holds a certificate signing request)"
    if label == "X509 CRL":
        return " (it holds a certificate revocation list)"
    return f" (it holds a PEM {label})"


def pem_kind(path: Path) -> str | None:
    """What the first PEM block of ``path`` holds, in words; None if it is not PEM (or unreadable).

    "private key", "certificate", "certificate request", "certificate
    revocation list", or the PEM label itself in lower case.
    """
    try:
        label = _pem_label(Path(path).read_bytes())
    except OSError:
        return None
    if label is None:
        return None
    if "PRIVATE KEY" in label:
        return "private key"
    return _KINDS.get(label, label.lower())


_KINDS: Final = {
    "CERTIFICATE": "certificate",
    "CERTIFICATE REQUEST": "certificate request",
    "NEW CERTIFICATE REQUEST": "certificate request",
    "X509 CRL": "certificate revocation list",
}


# Key types that are named, never used. cryptography 51 deprecates DSA and
# warns on any use of a DSA key, cert.public_key() included; TLS 1.3 cannot
# sign with one. So a DSA certificate or request is refused where it is read,
# by its algorithm's OID, before anything asks for its key.
_UNUSABLE_KEY_TYPES: Final = {PublicKeyAlgorithmOID.DSA: "DSA"}
USABLE_KEY_TYPES: Final = "RSA, ECDSA, Ed25519 or Ed448"


_Signed = TypeVar("_Signed", x509.Certificate, x509.CertificateSigningRequest)


def refuse_unusable_key(item: _Signed, path: Path | str) -> _Signed:
    """``item``, unless its key is of a type realtimechat never uses (DSA): then PKIError."""
    # A CSR has the attribute too, but cryptography's type stubs omit it.
    algorithm: x509.ObjectIdentifier = getattr(item, "public_key_algorithm_oid")  # noqa: B009
    kind = _UNUSABLE_KEY_TYPES.get(algorithm)
    if kind is not None:
        what = "request" if isinstance(item, x509.CertificateSigningRequest) else "certificate"
        raise PKIError(
            f"{path} holds a {what} for a {kind} key, which realtimechat cannot use"
            f" (TLS 1.3 cannot sign with it): keys here are {USABLE_KEY_TYPES}"
        )
    return item


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate of the PEM bundle ``path``, in file order (at least one)."""
    data = _read(path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PKIError(
            f"{path} does not hold a PEM certificate{_what_else(_pem_label(data))}"
        ) from exc
    if not certs:
        raise PKIError(f"{path} does not hold a PEM certificate")
    return [refuse_unusable_key(cert, path) for cert in certs]


def load_certificate(path: Path) -> x509.Certificate:
    """Load the certificate in ``path`` (PEM, or DER); of a bundle, the first one."""
    data = _read(path)
    if b"-----BEGIN" not in data:
        try:
            cert = x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise PKIError(f"{path} is not a certificate (neither PEM nor DER)") from exc
        return refuse_unusable_key(cert, path)
    return load_certificates(path)[0]


def load_csr(path: Path) -> x509.CertificateSigningRequest:
    """Load the certificate signing request in ``path`` (PEM or DER).

    Its signature is not checked here (``read_csr`` does that).
    """
    data = _read(path)
    label = _pem_label(data)
    try:
        if label is None:
            return refuse_unusable_key(x509.load_der_x509_csr(data), path)
        if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            return refuse_unusable_key(x509.load_pem_x509_csr(data), path)
    except ValueError as exc:
        damage = "neither PEM nor DER" if label is None else "a damaged CSR"
        raise PKIError(f"{path} is not a certificate signing request ({damage})") from exc
    raise PKIError(f"{path} is not a certificate signing request (CSR){_what_else(label)}")


def load_crl(path: Path) -> x509.CertificateRevocationList:
    """Load the certificate revocation list in ``path`` (PEM or DER).

    Raises PKIError naming the file if it cannot be read or is not a CRL. The
    signature is not checked: verify it against the CA that should have
    signed it (``crl.is_signature_valid(ca.public_key())``).
    """
    data = _read(path)
    label = _pem_label(data)
    try:
        if label is None:
            return x509.load_der_x509_crl(data)
        if label == "X509 CRL":
            return x509.load_pem_x509_crl(data)
    except ValueError as exc:
        damage = "neither PEM nor DER" if label is None else "a damaged CRL"
        raise PKIError(f"{path} is not a certificate revocation list ({damage})") from exc
    raise PKIError(f"{path} is not a certificate revocation list (CRL){_what_else(label)}")


def common_name(cert: x509.Certificate | x509.CertificateSigningRequest) -> str:
    """The subject CN of a certificate or CSR ("" if it has none)."""
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def certificate_names(cert: x509.Certificate) -> list[str]:
    """The names a client may check ``cert`` against (its ``--cn``), in order.

    Its DNS names, or its subject CN when it has none (as OpenSSL matches
    them, ``hostname_checks_common_name``), then its IP addresses.
    """
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    dns = [str(name) for name in sans.get_values_for_type(x509.DNSName)] if sans else []
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] if sans else []
    cn = common_name(cert)
    names = (dns or ([cn] if cn else [])) + ips
    return list(dict.fromkeys(names))  # a CN that is also an IP SAN: once


def private_key_is_encrypted(path: Path) -> bool:
    """Whether the PEM private key in ``path`` needs a passphrase to load."""
    data = _read(path)
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(
    path: Path, passphrase: bytes | None = None
) -> CertificateIssuerPrivateKeyTypes:
    """Load the PEM private key in ``path``, decrypting it with ``passphrase`` if given.

    Raises PKIError with one clear line for a missing file, a file that is
    no key, a missing passphrase and a wrong one (WrongPassphrase).
    """
    return private_key_from_pem(_read(path), passphrase, path)


def private_key_from_pem(
    data: bytes, passphrase: bytes | None, path: Path | str
) -> CertificateIssuerPrivateKeyTypes:
    """``load_private_key`` for PEM bytes already read; ``path`` names them in errors."""
    encrypted = (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data
    )
    if encrypted and passphrase is None:
        raise PKIError(f"{path} is encrypted: a passphrase is needed")
    try:
        # A DSA key warns as it loads (cryptography 51); it is refused just
        # below, by name, so the warning would only tell the user less than we do.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        # cryptography raises TypeError both for a missing and for a needless passphrase.
        if passphrase is None:
            raise PKIError(f"{path} is encrypted: a passphrase is needed") from exc
        raise PKIError(f"{path} is not encrypted, but a passphrase was given") from exc
    except ValueError as exc:
        if encrypted:
            raise WrongPassphrase(f"wrong passphrase for {path}") from exc
        raise PKIError(
            f"cannot load the private key in {path} (not a PEM key){_what_else(_pem_label(data))}"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise PKIError(f"{path} holds a key of an unsupported type") from exc
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        # DSA can sign, but TLS 1.3 cannot use it and cryptography deprecates it:
        # it is named here, never looked up (a lookup alone warns).
        raise PKIError(
            f"{path} holds a key of type {describe_key(key)}, which realtimechat cannot use:"
            f" keys here are {USABLE_KEY_TYPES}"
        )
    return key


def _issuer_key(cert: x509.Certificate) -> Any:
    """The public key of ``cert``, if it can sign (to check what it signed), else PKIError."""
    key = cert.public_key()
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise PKIError(f"the key of {common_name(cert)!r} cannot sign")
    return key


def _signed_by(
    item: x509.Certificate | x509.CertificateRevocationList, ca: x509.Certificate
) -> bool:
    """Whether ``item`` names ``ca`` as its issuer and carries a valid signature of it."""
    if item.issuer != ca.subject:
        return False
    try:
        # _issuer_key first: it refuses key types we never use (DSA), which
        # cryptography would otherwise verify with a deprecation warning.
        key = _issuer_key(ca)
        if isinstance(item, x509.CertificateRevocationList):
            return item.is_signature_valid(key)
        item.verify_directly_issued_by(ca)
    except (PKIError, ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def signed_by(
    item: x509.Certificate | x509.CertificateRevocationList, ca: x509.Certificate
) -> bool:
    """Whether ``item`` names ``ca`` as its issuer and carries a valid signature of it."""
    return _signed_by(item, ca)

"""Certificates for realtimechat: a small CA, server and client certificates.

Everything here uses ``cryptography``; nothing shells out to ``openssl``. The
functions raise :class:`~realtimechat.errors.PKIError` for every certificate,
key or folder problem, and never print or exit: ``cli/certs.py`` does that.

Three kinds of folder hold certificates:

A *CA folder* is the admin's certificate authority on disk (:class:`CaFolder`);
it stays with the admin::

    ca.crt  ca.key          the CA: what servers and clients trust, and its key
    server.crt  server.key  the chat server's certificate (issued by the CA)
    crl.pem                 the CA's revocation list (empty after ``init_ca``)
    clients/NAME.crt        client certificates (``issue_client``, ``sign_request``)
    clients/NAME.key        client keys, only for ``issue_client``
    index.json              every certificate the CA issued (see ``IndexEntry``)

A *server folder* (``server_bundle``, ``issue_server_certificate`` with
``out_dir``) holds ``ca.crt``, ``server.crt``, ``server.key`` and ``crl.pem``,
never ``ca.key``. A *user folder* holds ``NAME.key`` and ``NAME.csr`` (from
``create_request``, on the user's machine) and ``NAME.crt`` and ``ca.crt``
(from ``sign_request`` with ``out_dir``).

Files are written atomically (write, fsync, rename) and never overwritten
unless the caller passes ``force``: private keys 0600, certificates 0644,
folders 0700. Each operation returns what it did to each file as
:class:`Written` records, so the command can report every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import math
import os
import re
import secrets
import shlex
import stat
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from realtimechat.errors import PKIError
from realtimechat.names import name_from_cn, name_problem
from realtimechat.sanitize import visible

KeyType = Literal["ec-p256", "ed25519", "rsa-3072", "rsa-4096"]
KEY_TYPES: Final[tuple[KeyType, ...]] = get_args(KeyType)
DEFAULT_KEY_TYPE: Final[KeyType] = "ec-p256"

#: The key types this module generates.
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

CertKind = Literal["client", "server"]

#: What ``list`` shows for a certificate of the index.
Status = Literal["valid", "expiring soon", "expired", "revoked"]

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

CA_DAYS: Final = 3650
SERVER_DAYS: Final = 825  # the longest validity clients (Apple, browsers) have accepted for servers
CLIENT_DAYS: Final = 365
CRL_DAYS: Final = 30
#: A certificate with less than this left is "expiring soon".
EXPIRING_SOON: Final = dt.timedelta(days=30)
#: ``describe_file`` warns when a CRL's next update is this close.
CRL_RENEW_BEFORE: Final = dt.timedelta(days=7)
#: Certificates start this long before "now", so a peer whose clock is a little
#: behind does not reject a certificate that was just issued.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)
#: X.509 caps a commonName at 64; cryptography counts UTF-8 bytes, so we do too.
MAX_NAME_BYTES: Final = 64
INDEX_VERSION: Final = 1
#: The smallest RSA key OpenSSL accepts at security level 2 (Debian's default).
MIN_RSA_BITS: Final = 2048

KEY_MODE: Final = 0o600
CERT_MODE: Final = 0o644
DIR_MODE: Final = 0o700

_CA_CN_PREFIX: Final = "realtimechat CA"


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class CaFolder:
    """The files of a CA folder, relative to ``root`` (nothing is read or created here)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: the trust anchor servers and clients load."""
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        """The CA's private key: it signs everything, so it stays with the admin."""
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        """The chat server's certificate."""
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        """The chat server's private key."""
        return self.root / "server.key"

    @property
    def crl(self) -> Path:
        """The CA's certificate revocation list (PEM)."""
        return self.root / "crl.pem"

    @property
    def clients_dir(self) -> Path:
        """The folder of issued client certificates and keys."""
        return self.root / "clients"

    @property
    def index(self) -> Path:
        """The record of every certificate this CA issued."""
        return self.root / "index.json"

    def client_cert(self, name: str) -> Path:
        """The certificate of client ``name`` (validated: it cannot leave ``clients/``)."""
        return self.clients_dir / f"{validate_client_name(name)}.crt"

    def client_key(self, name: str) -> Path:
        """The private key of client ``name`` (validated: it cannot leave ``clients/``)."""
        return self.clients_dir / f"{validate_client_name(name)}.key"


def validate_client_name(name: str) -> str:
    """Return ``name`` if it can be a client's CN and file name, else raise PKIError.

    A name is 1-64 characters and at most 64 bytes in UTF-8 (the X.509 limit
    for a commonName), has no ``/``, ``\\``, control or invisible characters,
    no surrounding spaces, and does not start with a dot (so it is never
    ``.``, ``..`` or a hidden file).
    """
    if not name:
        raise PKIError("a client name cannot be empty")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise PKIError(
            f"client name {name!r} is too long: at most {MAX_NAME_BYTES} characters "
            f"({MAX_NAME_BYTES} bytes in UTF-8)"
        )
    if "/" in name or "\\" in name:
        raise PKIError(f"client name {name!r} cannot contain '/' or '\\'")
    if name.startswith("."):
        raise PKIError(f"client name {name!r} cannot start with '.'")
    if name != name.strip():
        raise PKIError(f"client name {name!r} cannot start or end with a space")
    _reject_invisible(name, "client name")
    return name


def _reject_invisible(text: str, what: str) -> None:
    """Raise PKIError if ``text`` holds control, format (bidi, zero-width) or non-characters.

    Such characters make a name look like another one in a terminal, and a
    lone surrogate cannot even be encoded into a certificate.
    """
    for char in text:
        category = unicodedata.category(char)
        if category.startswith("C") or category in ("Zl", "Zp"):
            raise PKIError(
                f"{what} {text!r} contains a control or invisible character (U+{ord(char):04X})"
            )


# --------------------------------------------------------------------------- keys


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
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA {public_key.key_size} bits"
    return type(public_key).__name__


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


# --------------------------------------------------------------------------- loading


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
    return certs


def load_certificate(path: Path) -> x509.Certificate:
    """Load the certificate in ``path`` (PEM, or DER); of a bundle, the first one."""
    data = _read(path)
    if b"-----BEGIN" not in data:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise PKIError(f"{path} is not a certificate (neither PEM nor DER)") from exc
    return load_certificates(path)[0]


def load_csr(path: Path) -> x509.CertificateSigningRequest:
    """Load the certificate signing request in ``path`` (PEM or DER).

    Its signature is not checked here (``read_csr`` does that).
    """
    data = _read(path)
    label = _pem_label(data)
    try:
        if label is None:
            return x509.load_der_x509_csr(data)
        if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
            return x509.load_pem_x509_csr(data)
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


def private_key_is_encrypted(path: Path) -> bool:
    """Whether the PEM private key in ``path`` needs a passphrase to load."""
    data = _read(path)
    return b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data


def load_private_key(
    path: Path, passphrase: bytes | None = None
) -> CertificateIssuerPrivateKeyTypes:
    """Load the PEM private key in ``path``, decrypting it with ``passphrase`` if given.

    Raises PKIError with one clear line for a missing file, a file that is
    no key, a missing passphrase and a wrong one.
    """
    data = _read(path)
    encrypted = (
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data
    )
    if encrypted and passphrase is None:
        raise PKIError(f"{path} is encrypted: a passphrase is needed")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        # cryptography raises TypeError both for a missing and for a needless passphrase.
        if passphrase is None:
            raise PKIError(f"{path} is encrypted: a passphrase is needed") from exc
        raise PKIError(f"{path} is not encrypted, but a passphrase was given") from exc
    except ValueError as exc:
        if encrypted:
            raise PKIError(f"wrong passphrase for {path}") from exc
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
        | ed448.Ed448PrivateKey
        | dsa.DSAPrivateKey,
    ):
        raise PKIError(f"{path} holds a key that cannot sign ({type(key).__name__})")
    return key


# --------------------------------------------------------------------------- fingerprints


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


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class IndexEntry:
    """One certificate the CA issued, as recorded in ``index.json``.

    ``index.json`` is ``{"version": 1, "entries": [ ... ]}`` with one object
    per entry. Readers ignore fields they do not know and writers keep them.
    ``revoke`` sets ``status`` to ``"revoked"`` and adds ``revoked_at`` and
    ``reason``.
    """

    name: str
    serial: str  # lowercase hex, as openssl and CRLs show serial numbers
    fingerprint: str  # fingerprint_sha256
    not_after: str  # RFC 3339, UTC
    kind: CertKind
    status: str = "valid"
    revoked_at: str | None = None  # RFC 3339, UTC
    reason: str | None = None  # one of REVOCATION_REASONS

    @classmethod
    def for_certificate(cls, cert: x509.Certificate, name: str, kind: CertKind) -> IndexEntry:
        """The entry of a certificate that was just issued."""
        return cls(
            name=name,
            serial=f"{cert.serial_number:x}",
            fingerprint=fingerprint_sha256(cert),
            not_after=_rfc3339(cert.not_valid_after_utc),
            kind=kind,
        )

    @property
    def serial_number(self) -> int:
        """The serial as a number."""
        return int(self.serial, 16)

    @property
    def not_after_utc(self) -> dt.datetime:
        """``not_after`` as an aware datetime."""
        return dt.datetime.fromisoformat(self.not_after)

    def to_json(self) -> dict[str, str]:
        """The entry as a JSON object (revocation fields only once revoked)."""
        obj = {
            "name": self.name,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after,
            "kind": self.kind,
            "status": self.status,
        }
        if self.revoked_at is not None:
            obj["revoked_at"] = self.revoked_at
        if self.reason is not None:
            obj["reason"] = self.reason
        return obj

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IndexEntry:
        """Parse one entry; a missing or malformed field raises KeyError/TypeError/ValueError."""
        fields = {key: obj[key] for key in ("name", "serial", "fingerprint", "not_after", "kind")}
        fields["status"] = obj.get("status", "valid")
        if not all(isinstance(value, str) for value in fields.values()):
            raise TypeError("index fields must be strings")
        if fields["kind"] not in get_args(CertKind):
            raise TypeError(f"unknown kind {fields['kind']!r}")
        int(fields["serial"], 16)  # ValueError if it is not hex
        dt.datetime.fromisoformat(fields["not_after"])
        revoked_at, reason = obj.get("revoked_at"), obj.get("reason")
        if not all(value is None or isinstance(value, str) for value in (revoked_at, reason)):
            raise TypeError("revoked_at and reason must be strings")
        if revoked_at is not None:
            dt.datetime.fromisoformat(revoked_at)
        return cls(**fields, revoked_at=revoked_at, reason=reason)


def certificate_status(entry: IndexEntry, now: dt.datetime | None = None) -> Status:
    """``revoked``, ``expired``, ``expiring soon`` (within 30 days) or ``valid``."""
    if entry.status == "revoked":
        return "revoked"
    now = now or dt.datetime.now(dt.UTC)
    left = entry.not_after_utc - now
    if left <= dt.timedelta(0):
        return "expired"
    if left <= EXPIRING_SOON:
        return "expiring soon"
    return "valid"


def _rfc3339(when: dt.datetime) -> str:
    """``when`` (UTC-aware) as an RFC 3339 ``...Z`` timestamp."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(when: dt.datetime) -> str:
    """``when`` for people: ``2026-01-31 14:05 UTC``."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _load_index_raw(path: Path) -> list[dict[str, Any]]:
    """The raw entries of ``index.json`` (all fields kept); an absent file is an empty index."""
    if not os.path.lexists(path):
        return []
    try:
        entries = _index_entries(json.loads(_read(path)))
    except (ValueError, KeyError, TypeError) as exc:
        raise PKIError(f"{path} is damaged ({exc}); fix it or restore it from a backup") from exc
    return entries


def _index_entries(doc: Any) -> list[dict[str, Any]]:
    """Check the shape of a parsed index; KeyError, TypeError or ValueError if it is not one."""
    if not isinstance(doc, dict):
        raise TypeError("not a JSON object")
    entries = doc["entries"]
    if not isinstance(entries, list):
        raise TypeError("'entries' is not a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise TypeError("an entry is not a JSON object")
        IndexEntry.from_json(entry)
    return entries


def read_index(root: Path) -> list[IndexEntry]:
    """The certificates recorded in the CA folder ``root``, oldest first."""
    return [IndexEntry.from_json(entry) for entry in _load_index_raw(CaFolder(root).index)]


def _index_bytes(entries: list[dict[str, Any]]) -> bytes:
    return (json.dumps({"version": INDEX_VERSION, "entries": entries}, indent=2) + "\n").encode()


def _plan_index_append(path: Path, entry: IndexEntry) -> _Put:
    """The index with ``entry`` added, to write (replacing the file) with the other files."""
    entries = _load_index_raw(path)
    entries.append(entry.to_json())
    action: Action = "updated" if os.path.lexists(path) else "wrote"
    return _Put(path, _index_bytes(entries), CERT_MODE, action)


def _live_entries(entries: Sequence[IndexEntry], name: str) -> list[IndexEntry]:
    """The client certificates of ``name`` that are not revoked (expired ones included)."""
    return [e for e in entries if e.kind == "client" and e.name == name and e.status != "revoked"]


def _refuse_duplicate_name(root: Path, name: str) -> None:
    """Raise PKIError if ``name`` already has a client certificate that is not revoked."""
    live = _live_entries(read_index(root), name)
    if not live:
        return
    entry = live[-1]
    until = entry.not_after_utc
    when = f"expired {_when(until)}" if until <= _now() else f"valid until {_when(until)}"
    command = f"rtchat-certs revoke {shlex.quote(name)} --dir {shlex.quote(str(root))}"
    raise PKIError(
        f"{name!r} already has a certificate that is not revoked (serial {entry.serial}, {when}): "
        f"revoke it first (`{command}`), or pass --force to issue another one for the same user"
    )


def _revoked_file(root: Path, path: Path) -> bool:
    """Whether ``path`` holds a certificate the index of ``root`` marks revoked."""
    try:
        cert = load_certificate(path)
        revoked = {e.serial_number for e in read_index(root) if e.status == "revoked"}
    except PKIError:
        return False
    return cert.serial_number in revoked


def _describe_entry(entry: IndexEntry) -> str:
    return (
        f"{visible(entry.name)} ({entry.kind}, serial {entry.serial}, fingerprint "
        f"{entry.fingerprint[:16]}, until {_when(entry.not_after_utc)}, {entry.status})"
    )


def find_certificate(root: Path, which: str, now: dt.datetime | None = None) -> IndexEntry:
    """The index entry ``which`` names: a name, a serial or a fingerprint.

    * a name means that name's current certificate: not revoked, and not
      expired if it has one that is not;
    * a serial is hex as ``list`` shows it (colons allowed) or decimal;
    * a fingerprint is the SHA-256 of the certificate (64 hex digits, colons
      allowed) or its first 16 digits.

    Raises PKIError if nothing matches or if several certificates do (naming
    each, so the admin can pick one by serial).
    """
    text = which.strip()
    if not text:
        raise PKIError("say which certificate: a name, a serial or a fingerprint")
    entries = read_index(root)
    now = now or _now()
    matches: dict[str, IndexEntry] = {}
    named = [e for e in entries if e.name == text]
    live = [e for e in named if e.status != "revoked"]
    current = [e for e in live if e.not_after_utc > now]
    for entry in current or live:
        matches[entry.serial] = entry
    compact = text.lower().replace(":", "")
    if compact and all(c in "0123456789abcdef" for c in compact):
        number = int(compact, 16)
        for entry in entries:
            if entry.serial_number == number or (
                len(compact) in (16, 64) and entry.fingerprint.startswith(compact)
            ):
                matches[entry.serial] = entry
    if text.isdigit() and text.isascii():
        for entry in entries:
            if entry.serial_number == int(text):
                matches[entry.serial] = entry
    if not matches:
        if named:
            raise PKIError(f"{_describe_entry(named[-1])} is already revoked")
        raise PKIError(
            f"no certificate named {text!r}, nor with that serial or fingerprint, in "
            f"{CaFolder(root).index} (`rtchat-certs list` shows them)"
        )
    if len(matches) > 1:
        listed = "; ".join(_describe_entry(e) for e in matches.values())
        raise PKIError(f"{text!r} matches {len(matches)} certificates: {listed}; give a serial")
    return next(iter(matches.values()))


# --------------------------------------------------------------------------- writing

#: What an operation did to a file: a new file, one it replaced (``force``,
#: or the certificate of a revoked user), a record it updated (index, CRL),
#: a file that already held exactly this, or one it removed.
Action = Literal["wrote", "replaced", "updated", "unchanged", "removed"]


@dataclass(frozen=True)
class Written:
    """One file an operation wrote, replaced, left unchanged or removed."""

    path: Path
    action: Action
    note: str = ""


@dataclass(frozen=True)
class _Put:
    """A file to write: decided (and refused) before any file is written."""

    path: Path
    data: bytes
    mode: int
    action: Action
    note: str = ""


def _same_file(path: Path, data: bytes, mode: int) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data`` with ``mode``."""
    try:
        info = os.lstat(path)
        return (
            stat.S_ISREG(info.st_mode)
            and stat.S_IMODE(info.st_mode) == mode
            and Path(path).read_bytes() == data
        )
    except OSError:
        return False


def _plan(
    path: Path,
    data: bytes,
    mode: int,
    *,
    force: bool = False,
    replaceable: bool = False,
    hint: str = " (pass --force to replace it)",
    note: str = "",
) -> _Put:
    """Decide what writing ``data`` to ``path`` means, or raise PKIError if it may not.

    A new file is written; a file with the same bytes and mode is left
    unchanged; any other existing file is replaced only with ``force`` (or
    when ``replaceable``, which callers set for a revoked user's files).
    """
    if not os.path.lexists(path):
        return _Put(path, data, mode, "wrote", note)
    if _same_file(path, data, mode):
        return _Put(path, data, mode, "unchanged", note)
    if os.path.isdir(path) and not os.path.islink(path):
        raise PKIError(f"{path} is a folder")
    if force or replaceable:
        return _Put(path, data, mode, "replaced", note)
    raise PKIError(f"{path} already exists; refusing to overwrite it{hint}")


def _carry_out(
    puts: Sequence[_Put], folders: Sequence[Path] = (), removals: Sequence[Path] = ()
) -> list[Written]:
    """Create ``folders`` (0700), write ``puts`` in order, remove ``removals``.

    If a write fails, the files and folders created so far are removed again
    (a replaced file cannot be put back, so callers write new files first).
    """
    with _undo_on_error() as created:
        for folder in folders:
            _make_dir(folder, created)
        for put in puts:
            if put.action == "unchanged":
                continue
            _write_file(put.path, put.data, put.mode, replace=put.action != "wrote")
            if put.action == "wrote":
                created.append(put.path)
    done = [Written(put.path, put.action, put.note) for put in puts]
    for path in removals:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise PKIError(f"cannot remove {path}: {exc.strerror or exc}") from exc
        done.append(Written(path, "removed"))
    return done


def _check_private_folder(folder: Path) -> None:
    """Refuse to put a private key in an existing folder that others may open.

    Folders we create are 0700; an existing one with group or other access
    (``--out .`` in a shared folder, say) would expose the key's name and, on
    some systems, let others replace it.
    """
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        return  # it will be created 0700
    except OSError as exc:
        raise PKIError(f"cannot use the folder {folder}: {exc.strerror or exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise PKIError(f"{folder} exists and is not a folder")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise PKIError(
            f"{folder} can be opened by other users (mode {mode:04o}): private keys go in a "
            f"folder only you can open; choose a new folder (it is created with mode 0700) "
            f"or run `chmod 700 {shlex.quote(str(folder))}`"
        )


def _fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable: fsync of the file alone does not."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with exactly ``mode``.

    The data goes to a fresh temporary file in the same folder (O_EXCL, so
    never someone else's file), is fsynced, and then gets its final name:
    with ``os.link``, which fails if ``path`` exists (even as a dangling
    symlink), so a file is never overwritten even by a race; or, for
    ``replace=True`` (the index), with ``os.replace``.
    """
    if not replace and os.path.lexists(path):
        raise PKIError(f"{path} already exists; refusing to overwrite it")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # the umask must not change what we promise
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError as exc:
        raise PKIError(f"{path} already exists; refusing to overwrite it") from exc
    except OSError as exc:
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    try:
        _fsync_dir(path.parent)
    except OSError as exc:
        if not replace:
            path.unlink(missing_ok=True)  # ours: linked just above; do not leave it half-durable
        raise PKIError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _make_dir(path: Path, created: list[Path]) -> None:
    """Create ``path`` (and parents) if missing, with mode 0700; record it in ``created``."""
    if path.is_dir():
        return
    if os.path.lexists(path):
        raise PKIError(f"{path} exists and is not a folder")
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise PKIError(f"cannot create the folder {path}: {exc.strerror or exc}") from exc
    created.append(path)


@contextmanager
def _undo_on_error() -> Iterator[list[Path]]:
    """Yield a list of created paths; if the block fails, remove them again.

    So a failed ``init`` or ``issue`` leaves no half-made CA or client behind
    that would block the next attempt.
    """
    created: list[Path] = []
    try:
        yield created
    except BaseException:
        for path in reversed(created):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # best effort: the original error is the one to report
        raise


def _refuse_existing(paths: Sequence[Path]) -> None:
    """Raise PKIError naming the first of ``paths`` that already exists."""
    for path in paths:
        if os.path.lexists(path):
            raise PKIError(f"{path} already exists; refusing to overwrite it")


# --------------------------------------------------------------------------- building


def _now() -> dt.datetime:
    # Certificates hold whole seconds; drop the rest so the index matches them.
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _check_days(days: int, what: str) -> dt.timedelta:
    if days < 1:
        raise PKIError(f"{what} must be at least 1 (got {days})")
    return dt.timedelta(days=days)


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
) -> x509.Certificate:
    builder = (
        _builder(_name(name), ca_cert.subject, public_key, not_before, not_after, ca=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_key_usage(digital_signature=True), critical=True)
    )
    return builder.sign(ca_key, _signature_hash(ca_key))


def _revoked_entry(serial: int, when: dt.datetime, reason: str | None) -> x509.RevokedCertificate:
    builder = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
    flag = _REASON_FLAGS.get(reason or "unspecified", x509.ReasonFlags.unspecified)
    if flag is not x509.ReasonFlags.unspecified:  # RFC 5280: leave "unspecified" out
        builder = builder.add_extension(x509.CRLReason(flag), critical=False)
    return builder.build()


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


def _validity(
    days: int, not_before: dt.datetime | None, not_after: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    """The validity period: explicit bounds win; by default from now - skew to now + days."""
    now = _now()
    start = now - CLOCK_SKEW if not_before is None else _utc(not_before, "not_before")
    end = now + _check_days(days, "days") if not_after is None else _utc(not_after, "not_after")
    if end <= start:
        raise PKIError(f"not_after ({_rfc3339(end)}) must be after not_before ({_rfc3339(start)})")
    return start, end


def _utc(when: dt.datetime, what: str) -> dt.datetime:
    # A naive datetime is ambiguous (local time or UTC?); refuse rather than guess.
    if when.tzinfo is None or when.utcoffset() is None:
        raise PKIError(f"{what} must be a timezone-aware datetime")
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --------------------------------------------------------------------------- operations


def _check_server_cn(server_cn: str) -> None:
    if not server_cn or server_cn != server_cn.strip():
        raise PKIError(f"server name {server_cn!r} must be non-empty without surrounding spaces")
    _reject_invisible(server_cn, "server name")


def _check_writable(
    path: Path,
    *,
    force: bool = False,
    replaceable: bool = False,
    hint: str = " (pass --force to replace it)",
) -> None:
    """Raise PKIError now if writing ``path`` would overwrite a file it may not.

    The same rule as :func:`_plan`, checked before keys are generated, so a
    refusal is quick and leaves everything as it was.
    """
    if os.path.lexists(path) and not (force or replaceable):
        raise PKIError(f"{path} already exists; refusing to overwrite it{hint}")
    if os.path.isdir(path) and not os.path.islink(path):
        raise PKIError(f"{path} is a folder")


def _issuer_key(cert: x509.Certificate) -> Any:
    """The public key of ``cert``, if it can sign (to check what it signed), else PKIError."""
    key = cert.public_key()
    if not isinstance(
        key,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey
        | dsa.DSAPublicKey,
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
        if isinstance(item, x509.CertificateRevocationList):
            return item.is_signature_valid(_issuer_key(ca))
        item.verify_directly_issued_by(ca)
    except (PKIError, ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def init_ca(
    root: Path,
    server_cn: str,
    sans: Sequence[str] = (),
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CA_DAYS,
    server_days: int = SERVER_DAYS,
) -> list[Written]:
    """Create the CA folder ``root``: CA, server certificate for ``server_cn``, empty CRL.

    The server certificate's subjectAltName holds ``server_cn`` and every
    entry of ``sans`` (IP addresses as IPAddress, the rest as DNSName). Keys
    are ``key_type``. If any file to be written already exists, nothing is
    written and PKIError names it (there is no ``force``: a CA is replaced
    by moving its folder away). Returns the files written, keys first.
    """
    folder = CaFolder(Path(root))
    targets = [
        folder.ca_key,
        folder.ca_cert,
        folder.server_key,
        folder.server_cert,
        folder.crl,
        folder.index,
    ]
    _check_server_cn(server_cn)
    _refuse_existing(targets)
    _check_private_folder(folder.root)

    # Build everything in memory first: a bad name or option fails before any file exists.
    now = _now()
    ca_key = generate_key(key_type)
    ca_cert = _build_ca(ca_key, server_cn, now, days)
    server_key = generate_key(key_type)
    server_cert = _build_server(
        key=server_key,
        server_cn=server_cn,
        sans=sans,
        ca_cert=ca_cert,
        ca_key=ca_key,
        now=now,
        days=server_days,
    )
    crl = _build_crl(ca_cert, ca_key, now)
    index = [IndexEntry.for_certificate(server_cert, server_cn, "server").to_json()]

    contents = [
        _key_pem(ca_key),
        _cert_pem(ca_cert),
        _key_pem(server_key),
        _cert_pem(server_cert),
        crl.public_bytes(serialization.Encoding.PEM),
        _index_bytes(index),
    ]
    puts = [
        _Put(path, data, KEY_MODE if path.suffix == ".key" else CERT_MODE, "wrote")
        for path, data in zip(targets, contents, strict=True)
    ]
    return _carry_out(puts, [folder.root, folder.clients_dir])


def _load_ca(
    folder: CaFolder,
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    """The CA certificate and key of ``folder``, with errors that say what to do."""
    _require_ca_cert(folder)
    if not os.path.lexists(folder.ca_key):
        raise PKIError(
            f"{folder.ca_key} is missing: certificates are issued in the CA folder "
            "that `rtchat-certs init` made, the one that holds ca.key"
        )
    ca_cert = load_certificate(folder.ca_cert)
    ca_key = load_private_key(folder.ca_key)
    # A mismatched pair would sign certificates that nobody trusting ca.crt accepts.
    if _public_der(ca_key.public_key()) != _public_der(ca_cert.public_key()):
        raise PKIError(f"{folder.ca_key} is not the key of {folder.ca_cert}")
    return ca_cert, ca_key


def _require_ca_cert(folder: CaFolder) -> None:
    if not os.path.lexists(folder.ca_cert):
        command = f"rtchat-certs init --dir {shlex.quote(str(folder.root))} --cn chatserver"
        raise PKIError(f"no CA in {folder.root} (no ca.crt): create one first with `{command}`")


def issue_client(
    root: Path,
    name: str,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CLIENT_DAYS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    force: bool = False,
) -> list[Written]:
    """Issue a client certificate and key for ``name`` from the CA folder ``root``.

    Writes ``clients/NAME.key`` and ``clients/NAME.crt`` (CN=NAME, clientAuth)
    and records the certificate in ``index.json``. Validity runs from
    ``not_before`` (default: now minus :data:`CLOCK_SKEW`) to ``not_after``
    (default: now plus ``days``); both must be timezone-aware.

    Refuses an invalid name, a name with a certificate that is not revoked,
    and existing files, unless ``force``. The files of a revoked certificate
    of ``name`` are replaced without ``force`` (the index keeps its record).
    Returns key, certificate and index.
    """
    folder = CaFolder(Path(root))
    key_path, cert_path = folder.client_key(name), folder.client_cert(name)
    ca_cert, ca_key = _load_ca(folder)
    _load_index_raw(folder.index)  # a damaged index fails now, before any file is written
    if not force:
        _refuse_duplicate_name(folder.root, name)
    replaceable = _revoked_file(folder.root, cert_path)
    _check_writable(key_path, force=force, replaceable=replaceable)
    _check_writable(cert_path, force=force, replaceable=replaceable)
    _check_private_folder(folder.clients_dir)
    start, end = _validity(days, not_before, not_after)

    key = generate_key(key_type)
    cert = _build_client(
        public_key=key.public_key(),
        name=name,
        ca_cert=ca_cert,
        ca_key=ca_key,
        not_before=start,
        not_after=end,
    )
    note = "the previous certificate was revoked" if replaceable and not force else ""
    puts = [
        _plan(key_path, _key_pem(key), KEY_MODE, force=force, replaceable=replaceable, note=note),
        _plan(
            cert_path, _cert_pem(cert), CERT_MODE, force=force, replaceable=replaceable, note=note
        ),
        _plan_index_append(folder.index, IndexEntry.for_certificate(cert, name, "client")),
    ]
    return _carry_out(puts, [folder.clients_dir])


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """What ``create_request`` made: the files, and the key's fingerprint to read out."""

    written: list[Written]
    key: Path
    csr: Path
    fingerprint: str  # public_key_fingerprint of the new key


def create_request(
    out_dir: Path,
    name: str,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    passphrase: bytes | None = None,
    force: bool = False,
) -> Request:
    """Start a user folder: a new key ``NAME.key`` and a signing request ``NAME.csr``.

    Run on the user's own machine, so the private key never leaves it. The
    key is encrypted with ``passphrase`` if one is given (the client then
    asks for it). The CSR asks for CN=NAME and nothing else. Existing files
    are replaced only with ``force``.
    """
    validate_client_name(name)
    if passphrase is not None and not passphrase:
        raise PKIError("the passphrase cannot be empty")
    folder = Path(out_dir)
    key_path, csr_path = folder / f"{name}.key", folder / f"{name}.csr"
    _check_writable(key_path, force=force)
    _check_writable(csr_path, force=force)
    _check_private_folder(folder)

    key = generate_key(key_type)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(name))
        .sign(key, _signature_hash(key))
    )
    note = "passphrase-protected" if passphrase is not None else ""
    puts = [
        _plan(key_path, _key_pem(key, passphrase), KEY_MODE, force=force, note=note),
        _plan(csr_path, csr.public_bytes(serialization.Encoding.PEM), CERT_MODE, force=force),
    ]
    written = _carry_out(puts, [folder])
    return Request(
        written=written,
        key=key_path,
        csr=csr_path,
        fingerprint=public_key_fingerprint(key.public_key()),
    )


@dataclass(frozen=True)
class SigningRequest:
    """A CSR that ``read_csr`` checked: its signature verifies and its CN is a client name."""

    path: Path
    csr: x509.CertificateSigningRequest
    name: str
    fingerprint: str  # public_key_fingerprint: what the user read out
    key: str  # describe_key
    requested: list[str] = field(default_factory=list)  # extensions it asks for (ignored)


def _extension_label(extension: x509.Extension[x509.ExtensionType]) -> str:
    oid = extension.oid
    return getattr(oid, "_name", None) or oid.dotted_string


def read_csr(path: Path) -> SigningRequest:
    """Load and check the CSR in ``path``, for :func:`sign_request`.

    Raises PKIError for a file that is not a CSR, a CSR whose signature does
    not verify (damaged, or not made with the key it carries), a subject
    without exactly one CN, a CN that cannot be a client name, and a key no
    TLS peer here accepts.
    """
    path = Path(path)
    csr = load_csr(path)
    try:
        public_key = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError(f"{path}: the CSR's key cannot be read ({exc})") from exc
    if not valid:
        raise PKIError(
            f"{path}: the CSR's signature does not verify (damaged, or not made with its key); "
            "ask for a new one"
        )
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise PKIError(f"{path}: the CSR must name exactly one CN, the user's name")
    name = common_name(csr)
    try:
        validate_client_name(name)
    except PKIError as exc:
        raise PKIError(f"{path}: {exc}") from exc
    problem = _key_problem(public_key)
    if problem is not None:
        raise PKIError(f"{path}: {problem}")
    try:
        requested = [_extension_label(ext) for ext in csr.extensions]
    except ValueError:
        requested = ["(unreadable extensions)"]
    return SigningRequest(
        path=path,
        csr=csr,
        name=name,
        fingerprint=public_key_fingerprint(public_key),
        key=describe_key(public_key),
        requested=requested,
    )


def sign_request(
    root: Path,
    request: SigningRequest,
    *,
    days: int = CLIENT_DAYS,
    out_dir: Path | None = None,
    force: bool = False,
    confirm: Callable[[SigningRequest], bool] | None = None,
) -> list[Written]:
    """Issue the client certificate ``request`` asks for, from the CA folder ``root``.

    The certificate has CN=NAME from the CSR's subject, clientAuth, and none
    of the extensions the CSR asks for. Writes ``clients/NAME.crt`` (never a
    key: the user keeps theirs) and, with ``out_dir``, ``NAME.crt`` and
    ``ca.crt`` there, to complete the user's folder.

    Refuses a name that already has a certificate that is not revoked, the
    CA's own key, and existing files, unless ``force``. ``confirm`` is
    called after every check and before anything is written; if it returns
    False, nothing is signed (PKIError).
    """
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    name = request.name
    public_key = request.csr.public_key()
    if _public_der(public_key) == _public_der(ca_cert.public_key()):
        raise PKIError(f"{request.path} carries the CA's own key: refusing to sign it")
    _load_index_raw(folder.index)
    if not force:
        _refuse_duplicate_name(folder.root, name)
    cert_path, key_path = folder.client_cert(name), folder.client_key(name)
    replaceable = _revoked_file(folder.root, cert_path)
    _check_writable(cert_path, force=force, replaceable=replaceable)
    stale_key = key_path if os.path.lexists(key_path) else None
    if stale_key is not None and not (force or replaceable):
        raise PKIError(
            f"{stale_key} already exists (a key `issue` made): pass --force to replace that "
            "certificate and remove its key"
        )
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _check_writable(out / f"{name}.crt", force=force)
        _check_user_key(out / f"{name}.key", request)
    start, end = _validity(days, None, None)
    if confirm is not None and not confirm(request):
        raise PKIError(f"not signed: {request.path} was left as it was and nothing was written")

    cert = _build_client(
        public_key=public_key,
        name=name,
        ca_cert=ca_cert,
        ca_key=ca_key,
        not_before=start,
        not_after=end,
    )
    pem = _cert_pem(cert)
    note = "the previous certificate was revoked" if replaceable and not force else ""
    puts = [_plan(cert_path, pem, CERT_MODE, force=force, replaceable=replaceable, note=note)]
    folders = [folder.clients_dir]
    if out is not None:
        puts.append(_plan(out / f"{name}.crt", pem, CERT_MODE, force=force))
        puts.append(_plan(out / "ca.crt", _read(folder.ca_cert), CERT_MODE, force=force))
        folders.append(out)
    puts.append(_plan_index_append(folder.index, IndexEntry.for_certificate(cert, name, "client")))
    return _carry_out(puts, folders, removals=[stale_key] if stale_key is not None else [])


def _check_user_key(key_path: Path, request: SigningRequest) -> None:
    """If the user folder already holds NAME.key (unencrypted), it must be the CSR's key."""
    if not os.path.lexists(key_path) or private_key_is_encrypted(key_path):
        return
    key = load_private_key(key_path)
    if _public_der(key.public_key()) != _public_der(request.csr.public_key()):
        raise PKIError(
            f"{key_path} is not the key of {request.path}: the certificate would not work "
            "with it; send the certificate to the folder that made this request"
        )


# --------------------------------------------------------------------------- server folders


def issue_server_certificate(
    root: Path,
    server_cn: str,
    sans: Sequence[str] | None = None,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = SERVER_DAYS,
    out_dir: Path | None = None,
    force: bool = False,
) -> list[Written]:
    """Issue a new server certificate and key from the CA folder ``root``.

    Without ``out_dir`` it replaces ``server.crt`` and ``server.key`` in the
    CA folder, which needs ``force`` (a renewal). With ``out_dir`` it writes
    a complete server folder there (``ca.crt``, ``server.crt``,
    ``server.key``, ``crl.pem``), for another host. The certificate is
    recorded in the index.

    ``sans`` are the names besides ``server_cn`` (see :func:`init_ca`). If
    None, a renewal in the CA folder keeps those of the certificate it
    replaces (when that one is for ``server_cn``); otherwise there are none.
    """
    _check_server_cn(server_cn)
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    _load_index_raw(folder.index)
    target = Path(out_dir) if out_dir is not None else folder.root
    separate = out_dir is not None and not _same_folder(target, folder.root)
    key_path, cert_path = target / "server.key", target / "server.crt"
    hint = " (pass --force to replace it: a renewal)"
    _check_writable(key_path, force=force, hint=hint)
    _check_writable(cert_path, force=force, hint=hint)
    _check_private_folder(target)
    crl_data = b""
    if separate:
        _refuse_ca_key_in(target)
        crl_data = _current_crl_bytes(folder, ca_cert)

    if sans is None:
        sans = _current_server_names(cert_path, server_cn) if not separate else []

    now = _now()
    key = generate_key(key_type)
    cert = _build_server(
        key=key,
        server_cn=server_cn,
        sans=sans,
        ca_cert=ca_cert,
        ca_key=ca_key,
        now=now,
        days=days,
    )
    names = _sans(cert) or []
    note = "names: " + ", ".join(name.split(":", 1)[1] for name in names)
    puts = [
        _plan(key_path, _key_pem(key), KEY_MODE, force=force, hint=hint),
        _plan(cert_path, _cert_pem(cert), CERT_MODE, force=force, hint=hint, note=note),
    ]
    if separate:
        puts.append(_plan(target / "ca.crt", _read(folder.ca_cert), CERT_MODE, force=force))
        puts.append(_plan(target / "crl.pem", crl_data, CERT_MODE, force=force))
    puts.append(
        _plan_index_append(folder.index, IndexEntry.for_certificate(cert, server_cn, "server"))
    )
    return _carry_out(puts, [target])


def _current_server_names(cert_path: Path, server_cn: str) -> list[str]:
    """The SANs of the server certificate being renewed, if it is for ``server_cn``."""
    if not os.path.lexists(cert_path):
        return []
    try:
        old = load_certificate(cert_path)
        san = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (PKIError, x509.ExtensionNotFound, ValueError):
        return []
    if common_name(old) != server_cn:
        return []
    return [*san.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    ]


def _same_folder(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _refuse_ca_key_in(target: Path) -> None:
    if os.path.lexists(target / "ca.key"):
        raise PKIError(
            f"{target} holds a ca.key: a server folder must never hold the CA's key; "
            "choose another folder"
        )


def _current_crl_bytes(folder: CaFolder, ca_cert: x509.Certificate) -> bytes:
    """The CA folder's crl.pem, checked to be a CRL this CA signed."""
    if not os.path.lexists(folder.crl):
        command = f"rtchat-certs crl --dir {shlex.quote(str(folder.root))}"
        raise PKIError(f"{folder.root} has no crl.pem: make one with `{command}`")
    crl = load_crl(folder.crl)
    if not _signed_by(crl, ca_cert):
        raise PKIError(f"{folder.crl} is not signed by the CA of {folder.root}")
    return _read(folder.crl)


def server_bundle(root: Path, out_dir: Path, *, force: bool = False) -> list[Written]:
    """Copy what a server needs from the CA folder ``root`` into the server folder ``out_dir``.

    ``ca.crt``, ``server.crt``, ``server.key`` (0600) and ``crl.pem``; never
    ``ca.key``. Checks first that the server certificate is the CA's and
    matches its key, and that the CRL is the CA's. Files that differ are
    replaced only with ``force``; identical ones are left unchanged.
    """
    folder = CaFolder(Path(root))
    _require_ca_cert(folder)
    out = Path(out_dir)
    if _same_folder(out, folder.root):
        raise PKIError(f"{out} is the CA folder itself: give the server folder to make")
    for path in (folder.server_cert, folder.server_key):
        if not os.path.lexists(path):
            command = f"rtchat-certs server-cert --dir {shlex.quote(str(folder.root))} --cn NAME"
            raise PKIError(f"{folder.root} has no {path.name}: make one with `{command}`")
    ca_cert = load_certificate(folder.ca_cert)
    server_cert = load_certificate(folder.server_cert)
    if not _signed_by(server_cert, ca_cert):
        raise PKIError(f"{folder.server_cert} is not issued by the CA {folder.ca_cert}")
    server_key = load_private_key(folder.server_key)
    if _public_der(server_key.public_key()) != _public_der(server_cert.public_key()):
        raise PKIError(f"{folder.server_key} is not the key of {folder.server_cert}")
    crl_data = _current_crl_bytes(folder, ca_cert)
    _refuse_ca_key_in(out)
    _check_private_folder(out)
    puts = [
        _plan(out / "ca.crt", _read(folder.ca_cert), CERT_MODE, force=force),
        _plan(out / "server.crt", _read(folder.server_cert), CERT_MODE, force=force),
        _plan(out / "server.key", _read(folder.server_key), KEY_MODE, force=force),
        _plan(out / "crl.pem", crl_data, CERT_MODE, force=force),
    ]
    return _carry_out(puts, [out])


# --------------------------------------------------------------------------- revocation


@dataclass(frozen=True)
class Revocation:
    """What ``revoke`` did: the entry as it now stands, and the files it rewrote."""

    entry: IndexEntry
    written: list[Written]


def revoke(
    root: Path,
    which: str,
    *,
    reason: RevocationReason = "unspecified",
    crl_days: int = CRL_DAYS,
) -> Revocation:
    """Revoke the certificate ``which`` names (see :func:`find_certificate`).

    Marks its index entry ``revoked`` with the time and ``reason``, and signs
    a new ``crl.pem`` listing every revoked serial (the CRL is written
    first, so a failure can only leave the index behind, never the CRL).
    Servers apply it when they reload (SIGHUP).
    """
    if reason not in REVOCATION_REASONS:
        raise PKIError(f"unknown reason {reason!r} (choose from {', '.join(REVOCATION_REASONS)})")
    _check_days(crl_days, "CRL days")
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    entry = find_certificate(folder.root, which)
    if entry.status == "revoked":
        when = (
            f" on {_when(dt.datetime.fromisoformat(entry.revoked_at))}" if entry.revoked_at else ""
        )
        raise PKIError(f"{_describe_entry(entry)} is already revoked{when}")
    now = _now()
    raw = _load_index_raw(folder.index)
    for obj in raw:
        if obj["serial"] == entry.serial:
            obj.update(status="revoked", revoked_at=_rfc3339(now), reason=reason)
    entries = [IndexEntry.from_json(obj) for obj in raw]
    crl_put = _plan_crl(folder, ca_cert, ca_key, entries, now=now, days=crl_days)
    index_put = _Put(folder.index, _index_bytes(raw), CERT_MODE, "updated")
    written = _carry_out([crl_put, index_put])
    revoked = next(e for e in entries if e.serial == entry.serial)
    return Revocation(entry=revoked, written=written)


def renew_crl(root: Path, *, days: int = CRL_DAYS) -> list[Written]:
    """Sign ``crl.pem`` again with a new next update ``days`` from now; nothing else changes.

    The revoked serials are those of the current CRL plus any the index marks
    revoked (a CRL never loses a serial); the CRL number goes up by one.
    """
    _check_days(days, "CRL days")
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    entries = read_index(folder.root)
    return _carry_out([_plan_crl(folder, ca_cert, ca_key, entries, now=_now(), days=days)])


def _reason_of(entry: x509.RevokedCertificate) -> str | None:
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except (x509.ExtensionNotFound, ValueError):
        return None
    return next((name for name, value in _REASON_FLAGS.items() if value is flag), None)


def _plan_crl(
    folder: CaFolder,
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    entries: Sequence[IndexEntry],
    *,
    now: dt.datetime,
    days: int,
) -> _Put:
    """The next crl.pem: every serial of the current one, plus those the index revokes.

    A damaged crl.pem, or one another CA signed, stops here rather than be
    replaced by a CRL that might forget a revocation.
    """
    revoked: dict[int, x509.RevokedCertificate] = {}
    number = int(now.timestamp())  # no previous CRL: a number above any earlier count
    exists = os.path.lexists(folder.crl)
    if exists:
        command = f"rtchat-certs crl --dir {shlex.quote(str(folder.root))}"
        advice = f"move it aside, then run `{command}` to make a new one from index.json"
        try:
            previous = load_crl(folder.crl)
        except PKIError as exc:
            raise PKIError(f"{exc}: {advice}") from exc
        if not _signed_by(previous, ca_cert):
            raise PKIError(f"{folder.crl} is not signed by {folder.ca_cert}: {advice}")
        for old in previous:
            revoked[old.serial_number] = _revoked_entry(
                old.serial_number, old.revocation_date_utc, _reason_of(old)
            )
        try:
            number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            number += 1
        except x509.ExtensionNotFound:
            pass
    for entry in entries:
        if entry.status == "revoked" and entry.serial_number not in revoked:
            when = dt.datetime.fromisoformat(entry.revoked_at) if entry.revoked_at else now
            revoked[entry.serial_number] = _revoked_entry(entry.serial_number, when, entry.reason)
    crl = _build_crl(ca_cert, ca_key, now, number=number, revoked=list(revoked.values()), days=days)
    assert crl.next_update_utc is not None
    note = f"{len(revoked)} revoked, next update {_when(crl.next_update_utc)}"
    return _Put(
        folder.crl,
        crl.public_bytes(serialization.Encoding.PEM),
        CERT_MODE,
        "updated" if exists else "wrote",
        note,
    )


def list_certificates(
    root: Path, now: dt.datetime | None = None
) -> list[tuple[IndexEntry, Status]]:
    """Every certificate of the CA folder's index, oldest first, with its status."""
    folder = CaFolder(Path(root))
    _require_ca_cert(folder)
    now = now or dt.datetime.now(dt.UTC)
    return [(entry, certificate_status(entry, now)) for entry in read_index(folder.root)]


# --------------------------------------------------------------------------- describing

Role = Literal["client", "server"]

_EKU_NAMES: Final = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


@dataclass
class Description:
    """What ``describe_file`` found: a summary, labelled fields, notes and warnings.

    ``warnings`` are what would make the file fail here (an expired
    certificate, no clientAuth, a name mismatch, a stale CRL...); ``notes``
    say what it is for. Every text taken from the file is made safe to print.
    """

    path: Path
    kind: Literal["certificate", "certificate signing request", "certificate revocation list"]
    summary: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_against: Path | None = None


@dataclass(frozen=True)
class _Context:
    """A CA or server folder to check a file against (ca.crt, and crl.pem/index if present)."""

    root: Path
    ca: x509.Certificate
    crl: x509.CertificateRevocationList | None
    entries: list[IndexEntry]
    crl_problem: str | None = None  # why crl.pem, which exists, could not be used


def _context(path: Path, folder: Path | None) -> _Context | None:
    """The folder to check ``path`` against: ``folder``, or the CA/server folder it lies in."""
    if folder is None:
        parent = path.resolve().parent
        candidates = [parent, parent.parent] if parent.name == "clients" else [parent]
        folder = next((c for c in candidates if (c / "ca.crt").is_file()), None)
        if folder is None:
            return None
    ca_folder = CaFolder(Path(folder))
    if not ca_folder.ca_cert.is_file():
        raise PKIError(f"{folder} holds no ca.crt to check against")
    ca = load_certificate(ca_folder.ca_cert)
    crl, crl_problem = None, None
    if ca_folder.crl.is_file():
        try:
            crl = load_crl(ca_folder.crl)
        except PKIError as exc:
            crl_problem = (
                f"{exc}: revocation could not be checked, and a server refuses to start with it"
            )
        else:
            if not _signed_by(crl, ca):
                crl, crl_problem = (
                    None,
                    (
                        f"{ca_folder.crl} is not signed by {ca_folder.ca_cert}: revocation could "
                        "not be checked, and a server refuses to load it"
                    ),
                )
    try:
        entries = read_index(ca_folder.root)
    except PKIError:
        entries = []
    return _Context(root=ca_folder.root, ca=ca, crl=crl, entries=entries, crl_problem=crl_problem)


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


def _days(delta: dt.timedelta) -> str:
    """A time left in whole days, rounded up: 9 days and 23 hours is "10 days"."""
    days = math.ceil(delta / dt.timedelta(days=1))
    return "1 day" if days == 1 else f"{days} days"


def _validity_warnings(cert: x509.Certificate, now: dt.datetime) -> list[str]:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if end <= now:
        return [f"expired on {_when(end)}: every TLS peer refuses it"]
    if start > now:
        return [f"not valid before {_when(start)}: TLS peers refuse it until then"]
    if end - now <= EXPIRING_SOON:
        return [f"expires in {_days(end - now)} ({_when(end)}): renew it soon"]
    return []


def _host_matches(host: str, sans: x509.SubjectAlternativeName | None, cn: str) -> bool:
    """Whether a client connecting with ``--cn host`` accepts a certificate with these names."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if sans is None:
        # No subjectAltName: Python's ssl falls back to the CN (not for IP addresses).
        return address is None and host.lower() == cn.lower()
    if address is not None:
        return address in sans.get_values_for_type(x509.IPAddress)
    wanted = host.lower().rstrip(".")
    for pattern in (n.lower().rstrip(".") for n in sans.get_values_for_type(x509.DNSName)):
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _client_name_warning(cn: str) -> str | None:
    if not cn:
        return "it has no CN: the server has no name to give its holder (under --names cn)"
    problem = name_problem(name_from_cn(cn))
    if problem is not None:
        return (
            f"its CN {visible(cn)!r} cannot be a chat name ({problem}): the server refuses "
            "it unless it runs with --names claim"
        )
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
        return (
            self.ekus is None
            or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in self.ekus
            or oid in self.ekus
        )


def _certificate_summary(facts: _CertFacts) -> str:
    if facts.is_ca:
        return "a CA certificate" + (" (self-signed)" if facts.self_signed else "")
    if facts.self_signed:
        return "a self-signed certificate"
    ekus = facts.ekus or []
    client = ExtendedKeyUsageOID.CLIENT_AUTH in ekus
    server = ExtendedKeyUsageOID.SERVER_AUTH in ekus
    purpose = "client certificate" if client and not server else "certificate"
    if server and not client:
        purpose = "server certificate"
    return f"a {purpose} issued by {_text(facts.cert.issuer)}"


def _certificate_fields(facts: _CertFacts) -> list[tuple[str, str]]:
    cert = facts.cert
    issuer = _text(cert.issuer) + (" (itself: self-signed)" if facts.self_signed else "")
    return [
        ("subject", _text(cert.subject)),
        ("issuer", issuer),
        ("serial", f"{cert.serial_number:x}"),
        ("valid", f"{_when(cert.not_valid_before_utc)} to {_when(cert.not_valid_after_utc)}"),
        ("key", describe_key(cert.public_key())),
        ("SANs", ", ".join(facts.sans) if facts.sans else "none"),
        ("EKUs", _eku_text(facts.ekus)),
        ("CA", _ca_text(facts)),
        ("SHA-256", fingerprint_sha256(cert)),
        ("public key SHA-256", format_fingerprint(public_key_fingerprint(cert))),
    ]


def _ca_text(facts: _CertFacts) -> str:
    if facts.is_ca:
        return "yes (it may issue certificates)"
    if _is_ca(facts.cert):
        return "CA:TRUE, without a key usage (as `openssl req -x509` makes them)"
    return "no"


def _intrinsic_warnings(facts: _CertFacts, now: dt.datetime) -> list[str]:
    """What makes the certificate fail whatever it is used for."""
    cert = facts.cert
    warnings = _validity_warnings(cert, now)
    problem = _key_problem(cert.public_key())
    if problem is not None:
        warnings.append(f"{problem}: TLS peers here refuse it")
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if isinstance(algorithm, hashes.SHA1 | hashes.MD5):
        warnings.append(
            f"it is signed with {algorithm.name.upper()}: OpenSSL refuses such signatures "
            "(security level 2)"
        )
    if facts.self_issued and not facts.self_signed:
        warnings.append("it claims to be self-signed, but its signature does not verify")
    if not facts.self_signed:
        try:
            cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        except x509.ExtensionNotFound:
            warnings.append(
                "it has no Authority Key Identifier: strict verification (the default from "
                "Python 3.13) refuses it"
            )
    return warnings


def _trust_notes(facts: _CertFacts) -> list[str]:
    """How a CA or a self-signed certificate comes to be trusted."""
    if facts.is_ca:
        return [
            "a CA: a server whose --ca file (or --pki folder's ca.crt) holds it accepts the "
            "client certificates it issues, and clients given it as --ca trust the server "
            "certificates it issues"
        ]
    if not facts.self_signed:
        return []
    notes = [
        "no CA vouches for it, so it is trusted by pinning: a server that lists it in its "
        "--ca file lets its holder in, identified by its SHA-256 fingerprint; a client "
        "given it as --ca trusts a server that presents it"
    ]
    if _is_ca(facts.cert):
        notes.append(
            "it is marked CA:TRUE, as `openssl req -x509` makes certificates; pinning "
            "does not depend on that"
        )
    return notes


def _roles(facts: _CertFacts, role: Role | None, server_name: str | None) -> set[Role]:
    """The uses to check: the asked ones, else those its extended key usage allows."""
    if role is not None or server_name is not None:
        asked: set[Role] = {role} if role is not None else set()
        return asked | ({"server"} if server_name is not None else set())
    if facts.is_ca:
        return set()
    allowed: tuple[tuple[Role, bool], ...] = (
        ("client", facts.allows(ExtendedKeyUsageOID.CLIENT_AUTH)),
        ("server", facts.allows(ExtendedKeyUsageOID.SERVER_AUTH)),
    )
    return {r for r, ok in allowed if ok}


def _client_checks(facts: _CertFacts, info: Description) -> None:
    if not facts.allows(ExtendedKeyUsageOID.CLIENT_AUTH):
        info.warnings.append(
            "no clientAuth in its extended key usage: the server refuses it as a client certificate"
        )
        return
    name_warning = _client_name_warning(facts.cn)
    if name_warning is not None:
        info.warnings.append(name_warning)
        return
    info.notes.append(
        f"as a client certificate, its holder's chat name is "
        f"{visible(name_from_cn(facts.cn))!r} (the CN, under --names cn)"
    )


def _server_checks(facts: _CertFacts, info: Description, server_name: str | None) -> None:
    if not facts.allows(ExtendedKeyUsageOID.SERVER_AUTH):
        info.warnings.append(
            "no serverAuth in its extended key usage: clients refuse it as the server's certificate"
        )
        return
    if server_name is not None and not _host_matches(server_name, facts.san_ext, facts.cn):
        names = ", ".join(facts.sans) if facts.sans else f"CN {visible(facts.cn)!r}"
        info.warnings.append(
            f"it is not valid for {visible(server_name)!r} (its names: {names}): clients "
            f"connecting with --cn {visible(server_name)} refuse it"
        )
    elif facts.sans:
        connect = " or ".join(n.split(":", 1)[1] for n in facts.sans)
        info.notes.append(f"as a server certificate, clients connect with --cn {connect}")
    else:
        info.notes.append(
            f"as a server certificate, clients connect with --cn {visible(facts.cn)} (it has "
            "no subjectAltName, so clients compare --cn with its CN)"
        )


def _describe_certificate(
    path: Path,
    cert: x509.Certificate,
    *,
    now: dt.datetime,
    context: _Context | None,
    role: Role | None,
    server_name: str | None,
) -> Description:
    facts = _CertFacts.of(cert)
    info = Description(
        path=path,
        kind="certificate",
        summary=_certificate_summary(facts),
        fields=_certificate_fields(facts),
        notes=_trust_notes(facts),
        warnings=_intrinsic_warnings(facts, now),
    )
    roles = _roles(facts, role, server_name)
    if not roles and not facts.is_ca:
        info.warnings.append(
            f"its extended key usage ({_eku_text(facts.ekus)}) has neither clientAuth nor "
            "serverAuth: the server refuses it as a client, and clients refuse it as a server"
        )
    if "client" in roles:
        _client_checks(facts, info)
    if "server" in roles:
        _server_checks(facts, info, server_name)
    if context is not None:
        _check_certificate_against(info, cert, context, self_signed=facts.self_signed)
    return info


def _check_certificate_against(
    info: Description, cert: x509.Certificate, context: _Context, *, self_signed: bool
) -> None:
    info.checked_against = context.root
    where = context.root
    if fingerprint_sha256(cert) == fingerprint_sha256(context.ca):
        info.notes.append(f"it is the CA certificate of {where}")
        return
    if not _signed_by(cert, context.ca):
        if self_signed:
            info.notes.append(
                f"it is not issued by the CA of {where}: a server using that folder lets it in "
                "only if it is pinned (listed in its --ca file)"
            )
        else:
            info.warnings.append(
                f"it is not issued by the CA of {where} ({_text(context.ca.subject)}): a server "
                "using that folder refuses it"
            )
        return
    info.notes.append(f"issued by the CA of {where}")
    if context.crl_problem is not None:
        info.warnings.append(context.crl_problem)
    revoked = None
    if context.crl is not None:
        revoked = context.crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if revoked is not None:
        reason = _reason_of(revoked)
        info.warnings.append(
            f"it is revoked (on {_when(revoked.revocation_date_utc)}"
            f"{', ' + reason if reason else ''}) by {where / 'crl.pem'}: servers refuse it "
            "once they have reloaded (SIGHUP)"
        )
        return
    serial = f"{cert.serial_number:x}"
    if any(e.serial == serial and e.status == "revoked" for e in context.entries):
        info.warnings.append(
            f"index.json marks it revoked, but {where / 'crl.pem'} does not list it: "
            f"run `rtchat-certs crl --dir {shlex.quote(str(where))}` and reload the server"
        )


def _describe_csr(
    path: Path, csr: x509.CertificateSigningRequest, *, context: _Context | None
) -> Description:
    cn = common_name(csr)
    info = Description(
        path=path,
        kind="certificate signing request",
        summary=f"a certificate signing request for {_text(csr.subject)}",
    )
    try:
        public_key: Any = csr.public_key()
        key_text = describe_key(public_key)
        fingerprint = format_fingerprint(public_key_fingerprint(public_key))
        signature_ok = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        public_key, key_text, fingerprint, signature_ok = None, "(unreadable)", "-", False
    try:
        requested = [_extension_label(ext) for ext in csr.extensions]
    except ValueError:
        requested = ["(unreadable extensions)"]
    info.fields = [
        ("subject", _text(csr.subject)),
        ("key", key_text),
        ("public key SHA-256", fingerprint),
        ("signature", "valid" if signature_ok else "does NOT verify"),
        ("SANs", ", ".join(_sans(csr) or []) or "none"),
        ("EKUs", _eku_text(_ekus(csr)) if _ekus(csr) is not None else "none requested"),
    ]
    if not signature_ok:
        info.warnings.append(
            "its signature does not verify (damaged, or not made with its key): sign refuses it"
        )
    try:
        validate_client_name(cn)
    except PKIError as exc:
        info.warnings.append(f"sign refuses it: {exc}")
    else:
        name_warning = _client_name_warning(cn)
        if name_warning is not None:
            info.warnings.append(name_warning)
    problem = _key_problem(public_key) if public_key is not None else None
    if problem is not None:
        info.warnings.append(f"sign refuses it: {problem}")
    info.notes.append(
        "the user reads the public key SHA-256 to the admin, who compares it with what "
        "`rtchat-certs sign` shows before signing"
    )
    if requested:
        info.notes.append(
            f"it asks for {', '.join(requested)}: sign ignores that and issues CN and "
            "clientAuth only"
        )
    if context is not None:
        info.checked_against = context.root
        live = _live_entries(context.entries, cn)
        if live:
            info.warnings.append(
                f"{visible(cn)!r} already has a certificate that is not revoked in "
                f"{context.root} (serial {live[-1].serial}): sign refuses it unless that one is "
                "revoked first, or --force"
            )
    return info


def _describe_crl(
    path: Path, crl: x509.CertificateRevocationList, *, now: dt.datetime, context: _Context | None
) -> Description:
    try:
        number: str = str(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        number = "none"
    revoked = list(crl)
    info = Description(
        path=path,
        kind="certificate revocation list",
        summary=f"a certificate revocation list of {_text(crl.issuer)}, {len(revoked)} revoked",
    )
    next_update = crl.next_update_utc
    info.fields = [
        ("issuer", _text(crl.issuer)),
        ("CRL number", number),
        ("last update", _when(crl.last_update_utc)),
        ("next update", _when(next_update) if next_update else "none"),
        ("revoked", str(len(revoked))),
    ]
    names = {e.serial_number: e.name for e in context.entries} if context else {}
    for entry in revoked:
        reason = _reason_of(entry)
        name = names.get(entry.serial_number)
        label = f"{entry.serial_number:x}"
        info.fields.append(
            (
                "  serial",
                f"{label}{' (' + visible(name) + ')' if name else ''} on "
                f"{_when(entry.revocation_date_utc)}{', ' + reason if reason else ''}",
            )
        )
    if next_update is not None:
        if next_update <= now:
            info.warnings.append(
                f"it is past its next update ({_when(next_update)}): checkers that honour it "
                "refuse every certificate of its CA; re-sign it with `rtchat-certs crl` and give "
                "servers the new crl.pem"
            )
        elif next_update - now <= CRL_RENEW_BEFORE:
            info.warnings.append(
                f"its next update is in {_days(next_update - now)} ({_when(next_update)}): "
                "re-sign it with `rtchat-certs crl` before then"
            )
    info.notes.append(
        "the chat server checks it itself (not with OpenSSL's CRL flags) and applies a new one "
        "when it reloads (SIGHUP)"
    )
    if context is not None:
        info.checked_against = context.root
        if _signed_by(crl, context.ca):
            info.notes.append(f"signed by the CA of {context.root}")
        else:
            info.warnings.append(
                f"it is not signed by the CA of {context.root}: a server using that folder "
                "refuses to load it"
            )
    return info


def describe_file(
    path: Path,
    *,
    folder: Path | None = None,
    role: Role | None = None,
    server_name: str | None = None,
    now: dt.datetime | None = None,
) -> Description:
    """Explain the certificate, CSR or CRL in ``path`` (PEM or DER), and what would fail.

    ``folder`` is a CA or server folder to check against (issuer,
    revocation); by default the folder the file lies in, if it holds a
    ``ca.crt``. ``role`` checks a certificate for that use only (by default:
    the uses its extended key usage allows); ``server_name`` checks that
    clients connecting with ``--cn server_name`` accept it.
    """
    path = Path(path)
    now = now or dt.datetime.now(dt.UTC)
    data = _read(path)
    label = _pem_label(data)
    context = _context(path, folder)
    if label == "CERTIFICATE" or label is None:
        try:
            certs = (
                x509.load_pem_x509_certificates(data)
                if label
                else [x509.load_der_x509_certificate(data)]
            )
        except ValueError as exc:
            if label is not None:
                raise PKIError(f"{path} holds a damaged certificate") from exc
            certs = []
        if certs:
            info = _describe_certificate(
                path, certs[0], now=now, context=context, role=role, server_name=server_name
            )
            if len(certs) > 1:
                info.notes.insert(
                    0, f"{path} holds {len(certs)} certificates (a bundle); this is the first"
                )
            return info
    if label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST") or label is None:
        try:
            return _describe_csr(path, load_csr(path), context=context)
        except PKIError:
            if label is not None:
                raise
    if label == "X509 CRL" or label is None:
        try:
            return _describe_crl(path, load_crl(path), now=now, context=context)
        except PKIError:
            if label is not None:
                raise
    raise PKIError(
        f"{path} is not a certificate, a certificate signing request or a CRL "
        f"(PEM or DER){_what_else(label)}"
    )

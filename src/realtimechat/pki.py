"""Certificates for realtimechat: a small CA, server and client certificates.

Everything here uses ``cryptography``; nothing shells out to ``openssl``. The
functions raise :class:`~realtimechat.errors.PKIError` for every certificate,
key or folder problem, and never print or exit: ``cli/certs.py`` does that.

A *CA folder* is the admin's certificate authority on disk (:class:`CaFolder`)::

    ca.crt  ca.key          the CA: what servers and clients trust, and its key
    server.crt  server.key  the chat server's certificate (issued by the CA)
    crl.pem                 the CA's revocation list (empty after ``init_ca``)
    clients/NAME.crt|key    client certificates (``issue_client``)
    index.json              every certificate the CA issued (see ``IndexEntry``)

Files are written atomically and never overwritten: private keys 0600,
certificates 0644, folders 0700.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
import shlex
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, get_args

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from realtimechat.errors import PKIError

KeyType = Literal["ec-p256", "ed25519", "rsa-3072", "rsa-4096"]
KEY_TYPES: Final[tuple[KeyType, ...]] = get_args(KeyType)
DEFAULT_KEY_TYPE: Final[KeyType] = "ec-p256"

#: The key types this module generates.
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

CertKind = Literal["client", "server"]

CA_DAYS: Final = 3650
SERVER_DAYS: Final = 825  # the longest validity clients (Apple, browsers) have accepted for servers
CLIENT_DAYS: Final = 365
CRL_DAYS: Final = 30
#: Certificates start this long before "now", so a peer whose clock is a little
#: behind does not reject a certificate that was just issued.
CLOCK_SKEW: Final = dt.timedelta(minutes=5)
#: X.509 caps a commonName at 64; cryptography counts UTF-8 bytes, so we do too.
MAX_NAME_BYTES: Final = 64
INDEX_VERSION: Final = 1

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


def _key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: the server and client load it without a prompt."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_der(key: Any) -> bytes:
    """The SubjectPublicKeyInfo of any public key, to compare keys of any type."""
    der: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


# --------------------------------------------------------------------------- loading


def _read(path: Path) -> bytes:
    """Read ``path``, turning every OS error into a PKIError that names it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise PKIError(f"cannot read {path}: {exc.strerror or exc}") from exc


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate of the PEM bundle ``path``, in file order (at least one)."""
    data = _read(path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PKIError(f"{path} does not hold a PEM certificate") from exc
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


def common_name(cert: x509.Certificate) -> str:
    """The certificate's subject CN ("" if it has none)."""
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def load_private_key(
    path: Path, passphrase: bytes | None = None
) -> CertificateIssuerPrivateKeyTypes:
    """Load the PEM private key in ``path``, decrypting it with ``passphrase`` if given."""
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        # cryptography raises TypeError both for a missing and for a needless passphrase.
        if passphrase is None:
            raise PKIError(f"{path} is encrypted: a passphrase is needed") from exc
        raise PKIError(f"{path} is not encrypted, but a passphrase was given") from exc
    except ValueError as exc:
        hint = "wrong passphrase, or " if passphrase is not None else ""
        raise PKIError(f"cannot load the private key in {path} ({hint}not a PEM key)") from exc
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


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class IndexEntry:
    """One certificate the CA issued, as recorded in ``index.json``.

    ``index.json`` is ``{"version": 1, "entries": [ ... ]}`` with one object
    per entry. Readers ignore fields they do not know and writers keep them,
    so revocation can add ``status: "revoked"`` and its own fields later.
    """

    name: str
    serial: str  # lowercase hex, as openssl and CRLs show serial numbers
    fingerprint: str  # fingerprint_sha256
    not_after: str  # RFC 3339, UTC
    kind: CertKind
    status: str = "valid"

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

    def to_json(self) -> dict[str, str]:
        """The entry as a JSON object."""
        return {
            "name": self.name,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "not_after": self.not_after,
            "kind": self.kind,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> IndexEntry:
        """Parse one entry; a missing or non-string field raises KeyError/TypeError."""
        fields = {key: obj[key] for key in ("name", "serial", "fingerprint", "not_after", "kind")}
        fields["status"] = obj.get("status", "valid")
        if not all(isinstance(value, str) for value in fields.values()):
            raise TypeError("index fields must be strings")
        if fields["kind"] not in get_args(CertKind):
            raise TypeError(f"unknown kind {fields['kind']!r}")
        return cls(**fields)


def _rfc3339(when: dt.datetime) -> str:
    """``when`` (UTC-aware) as an RFC 3339 ``...Z`` timestamp."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_index_raw(path: Path) -> list[dict[str, Any]]:
    """The raw entries of ``index.json`` (all fields kept); an absent file is an empty index."""
    if not os.path.lexists(path):
        return []
    try:
        entries = _index_entries(json.loads(_read(path)))
    except (ValueError, KeyError, TypeError) as exc:
        raise PKIError(f"{path} is damaged ({exc}); fix or restore it before issuing") from exc
    return entries


def _index_entries(doc: Any) -> list[dict[str, Any]]:
    """Check the shape of a parsed index; KeyError or TypeError if it is not one."""
    entries = doc["entries"]
    if not isinstance(entries, list):
        raise TypeError("'entries' is not a list")
    for entry in entries:
        IndexEntry.from_json(entry)
    return entries


def read_index(root: Path) -> list[IndexEntry]:
    """The certificates recorded in the CA folder ``root``, oldest first."""
    return [IndexEntry.from_json(entry) for entry in _load_index_raw(CaFolder(root).index)]


def _index_bytes(entries: list[dict[str, Any]]) -> bytes:
    return (json.dumps({"version": INDEX_VERSION, "entries": entries}, indent=2) + "\n").encode()


def _append_index(path: Path, entry: IndexEntry) -> None:
    """Add ``entry`` to ``index.json``, replacing the file atomically."""
    entries = _load_index_raw(path)
    entries.append(entry.to_json())
    _write_file(path, _index_bytes(entries), CERT_MODE, replace=True)


# --------------------------------------------------------------------------- writing


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
    key: PrivateKey,
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
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _build_ca(key: PrivateKey, server_cn: str, now: dt.datetime, days: int) -> x509.Certificate:
    name = _name(_ca_common_name(server_cn))
    builder = (
        _builder(name, name, key, now - CLOCK_SKEW, now + _check_days(days, "CA days"), ca=True)
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
    ca_key: PrivateKey,
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    not_after = now + _check_days(days, "server days")
    builder = (
        _builder(_name(server_cn), ca_cert.subject, key, now - CLOCK_SKEW, not_after, ca=False)
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
    key: PrivateKey,
    name: str,
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    builder = (
        _builder(_name(name), ca_cert.subject, key, not_before, not_after, ca=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_key_usage(digital_signature=True), critical=True)
    )
    return builder.sign(ca_key, _signature_hash(ca_key))


def _build_crl(
    ca_cert: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes, now: dt.datetime
) -> x509.CertificateRevocationList:
    """An empty CRL, number 1: revocation will rebuild it with entries and a higher number."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
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


def init_ca(
    root: Path,
    server_cn: str,
    sans: Sequence[str] = (),
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CA_DAYS,
    server_days: int = SERVER_DAYS,
) -> list[Path]:
    """Create the CA folder ``root``: CA, server certificate for ``server_cn``, empty CRL.

    The server certificate's subjectAltName holds ``server_cn`` and every
    entry of ``sans`` (IP addresses as IPAddress, the rest as DNSName). Keys
    are ``key_type``. If any file to be written already exists, nothing is
    written and PKIError names it. Returns the paths written, keys first.
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
    if not server_cn or server_cn != server_cn.strip():
        raise PKIError(f"server name {server_cn!r} must be non-empty without surrounding spaces")
    _reject_invisible(server_cn, "server name")
    _refuse_existing(targets)

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
    with _undo_on_error() as created:
        _make_dir(folder.root, created)
        _make_dir(folder.clients_dir, created)
        for path, data in zip(targets, contents, strict=True):
            _write_file(path, data, KEY_MODE if path.suffix == ".key" else CERT_MODE)
            created.append(path)
    return targets


def _load_ca(
    folder: CaFolder,
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    """The CA certificate and key of ``folder``, with errors that say what to do."""
    if not os.path.lexists(folder.ca_cert):
        command = f"rtchat-certs init --dir {shlex.quote(str(folder.root))} --cn chatserver"
        raise PKIError(f"no CA in {folder.root} (no ca.crt): create one first with `{command}`")
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


def issue_client(
    root: Path,
    name: str,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CLIENT_DAYS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> list[Path]:
    """Issue a client certificate and key for ``name`` from the CA folder ``root``.

    Writes ``clients/NAME.key`` and ``clients/NAME.crt`` (CN=NAME, clientAuth)
    and records the certificate in ``index.json``. Validity runs from
    ``not_before`` (default: now minus :data:`CLOCK_SKEW`) to ``not_after``
    (default: now plus ``days``); both must be timezone-aware. Refuses an
    invalid name and an existing key or certificate. Returns the paths
    written: key, certificate, index.
    """
    folder = CaFolder(Path(root))
    key_path, cert_path = folder.client_key(name), folder.client_cert(name)
    ca_cert, ca_key = _load_ca(folder)
    _load_index_raw(folder.index)  # a damaged index fails now, before any file is written
    _refuse_existing([key_path, cert_path])
    start, end = _validity(days, not_before, not_after)

    key = generate_key(key_type)
    cert = _build_client(
        key=key, name=name, ca_cert=ca_cert, ca_key=ca_key, not_before=start, not_after=end
    )
    with _undo_on_error() as created:
        _make_dir(folder.clients_dir, created)
        _write_file(key_path, _key_pem(key), KEY_MODE)
        created.append(key_path)
        _write_file(cert_path, _cert_pem(cert), CERT_MODE)
        created.append(cert_path)
        _append_index(folder.index, IndexEntry.for_certificate(cert, name, "client"))
    return [key_path, cert_path, folder.index]

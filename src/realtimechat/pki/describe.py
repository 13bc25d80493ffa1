"""Explaining to people what a certificate, CSR or CRL is and what would fail, and the index."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from realtimechat.errors import PKIError
from realtimechat.names import name_from_cn, name_key, name_problem
from realtimechat.sanitize import visible

from .build import _reason_of
from .csr import PENDING_KEY_SUFFIX
from .facts import _CertFacts, _eku_text, _ekus, _extension_label, _is_ca, _sans, _text
from .folder import CaFolder, _require_ca_cert, validate_client_name
from .index import (
    IndexEntry,
    Status,
    _live_entries,
    _name_clash,
    certificate_status,
    read_index,
)
from .keys import (
    _key_problem,
    _public_der,
    describe_key,
    fingerprint_sha256,
    format_fingerprint,
    public_key_fingerprint,
)
from .load import (
    _pem_label,
    _read,
    _signed_by,
    _what_else,
    common_name,
    load_certificate,
    load_crl,
    load_csr,
    load_private_key,
    private_key_is_encrypted,
    refuse_unusable_key,
)
from .validity import EXPIRING_SOON, _when

Role = Literal["client", "server"]

#: ``describe_file`` warns when a CRL's next update is this close.
CRL_RENEW_BEFORE: Final = dt.timedelta(days=7)


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
        folder = _folder_of(path)
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


def _folder_of(path: Path) -> Path | None:
    """The CA, server or user folder ``path`` lies in: the nearest one with a ca.crt.

    For clients/NAME.crt of a CA folder that is the CA folder, even if clients/
    holds a ca.crt (a user once issued as "ca" put one there).
    """
    parent = path.resolve().parent
    candidates = [parent]
    if parent.name == "clients":
        in_ca = CaFolder(parent.parent).index.is_file()
        candidates = [parent.parent, parent] if in_ca else [parent, parent.parent]
    return next((c for c in candidates if (c / "ca.crt").is_file()), None)


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
            "certificates it issues; in a server's --pins file it would let in its holder "
            "and nobody it signs for"
        ]
    if not facts.self_signed:
        return []
    notes = [
        "no CA vouches for it, so it is trusted by pinning: a server that lists it in its "
        "--pins file lets its holder in (and nobody it signs for), identified by its SHA-256 "
        "fingerprint; a client given it as --ca trusts a server that presents it"
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
    info.warnings.extend(_key_beside_warnings(path, cert))
    return info


def _key_beside_warnings(path: Path, cert: x509.Certificate) -> list[str]:
    """Whether NAME.key beside NAME.crt is its key, as rtchat and rtchat-server need.

    After a renewal's ``request --force`` the new key waits as NAME.new.key;
    putting the new NAME.crt in without moving that key makes the pair fail.
    Keys with a passphrase cannot be compared, so they are left out.
    """
    key, pending = path.with_suffix(".key"), path.with_name(f"{path.stem}{PENDING_KEY_SUFFIX}")
    if _holds_key_of(key, cert) is not False:
        return []
    if _holds_key_of(pending, cert):
        return [
            f"{key.name} beside it is not its key, {pending.name} is (a renewal): rtchat "
            f"refuses the pair until you run `mv {shlex.quote(str(pending))} "
            f"{shlex.quote(str(key))}`"
        ]
    return [f"{key.name} beside it is not its key: rtchat and rtchat-server refuse the pair"]


def _holds_key_of(key_path: Path, cert: x509.Certificate) -> bool | None:
    """True/False if ``key_path`` holds an unencrypted key that is/is not ``cert``'s; else None."""
    if not key_path.is_file():
        return None
    try:
        if private_key_is_encrypted(key_path):
            return None
        key = load_private_key(key_path)
    except PKIError:
        return None
    return _public_der(key.public_key()) == _public_der(cert.public_key())


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
                "only if it is pinned (listed in its --pins file)"
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
            "once they have reloaded it (within seconds of crl.pem changing, or on SIGHUP)"
        )
        return
    serial = f"{cert.serial_number:x}"
    if any(e.serial == serial and e.status == "revoked" for e in context.entries):
        info.warnings.append(
            f"index.json marks it revoked, but {where / 'crl.pem'} does not list it: "
            f"run `rtchat-certs crl --dir {shlex.quote(str(where))}` and give the servers "
            "the new crl.pem"
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
        clash = _name_clash(context.entries, cn)
        if clash is not None:
            same = name_key(name_from_cn(clash.name)) == name_key(name_from_cn(cn))
            how = "is the same chat name as" if same else "looks like the chat name of"
            info.warnings.append(
                f"{visible(cn)!r} {how} {visible(clash.name)!r}, who has a "
                f"certificate that is not revoked in {context.root} (serial {clash.serial}): "
                "sign refuses it unless that one is revoked first"
            )
        elif live:
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
        "within seconds of the file changing (or on SIGHUP)"
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
            refuse_unusable_key(certs[0], path)
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


def list_certificates(
    root: Path, now: dt.datetime | None = None
) -> list[tuple[IndexEntry, Status]]:
    """Every certificate of the CA folder's index, the soonest to expire first, with its status.

    Raises PKIError for a folder that is not a CA folder (a server or user
    folder also holds a ca.crt), rather than list nothing.
    """
    folder = CaFolder(Path(root))
    _require_ca_cert(folder)
    _require_ca_folder(folder)
    now = now or dt.datetime.now(dt.UTC)
    entries = sorted(read_index(folder.root), key=lambda entry: entry.not_after_utc)
    return [(entry, certificate_status(entry, now)) for entry in entries]


def _require_ca_folder(folder: CaFolder) -> None:
    """A CA folder has index.json or, at least, ca.key; a server or user folder has neither."""
    if os.path.lexists(folder.index) or os.path.lexists(folder.ca_key):
        return
    looks = " (it looks like a server folder)" if os.path.lexists(folder.server_cert) else ""
    raise PKIError(
        f"{folder.root} is not a CA folder: it has no index.json and no ca.key{looks}; give "
        "the CA folder that `rtchat-certs init` made with --dir"
    )

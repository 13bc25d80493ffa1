"""Signing requests: the user makes a key and a CSR, the admin checks the CSR and signs it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from realtimechat.errors import PKIError

from .build import _build_client, _cert_pem, _name
from .facts import _extension_label
from .files import (
    CERT_MODE,
    KEY_MODE,
    Written,
    _carry_out,
    _check_private_folder,
    _check_writable,
    _plan,
    _Put,
)
from .folder import CaFolder, _load_ca, refuse_server_name, validate_client_name
from .index import (
    IndexEntry,
    _live_entries,
    _load_index_raw,
    _plan_index_append,
    _refuse_duplicate_name,
    _refuse_name_clash,
    _revoked_file,
    _serial_and_end,
    read_index,
)
from .keys import (
    DEFAULT_KEY_TYPE,
    KeyType,
    _key_pem,
    _key_problem,
    _public_der,
    _signature_hash,
    describe_key,
    generate_key,
    public_key_fingerprint,
)
from .load import (
    _read,
    common_name,
    load_certificate,
    load_csr,
    load_private_key,
    private_key_is_encrypted,
)
from .validity import CLIENT_DAYS, _now, _validity


@dataclass(frozen=True)
class Request:
    """What ``create_request`` made: the files, and the key's fingerprint to read out.

    ``in_use`` is the certificate that keeps working with the current key
    during a renewal: the new key is then ``NAME.new.key`` (``key``), and
    goes to ``NAME.key`` once the new certificate is in place.
    """

    written: list[Written]
    key: Path
    csr: Path
    fingerprint: str  # public_key_fingerprint of the new key
    in_use: Path | None = None


#: During a renewal the new key waits under this name, beside the one in use.
PENDING_KEY_SUFFIX: Final = ".new.key"


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

    A renewal (``force`` while ``NAME.crt`` is a certificate of ``NAME.key``
    that has not expired) leaves both alone, so the user can chat on until
    the new certificate arrives: the new key is ``NAME.new.key``, and the
    user moves it to ``NAME.key`` when they put the new ``NAME.crt`` in.
    """
    validate_client_name(name)
    if passphrase is not None and not passphrase:
        raise PKIError("the passphrase cannot be empty")
    folder = Path(out_dir)
    key_path, csr_path = folder / f"{name}.key", folder / f"{name}.csr"
    in_use = _certificate_in_use(folder / f"{name}.crt", key_path)
    if in_use is not None:
        if not force:
            raise PKIError(
                f"{key_path} already exists and {in_use} is its certificate: pass --force to "
                "make a new key and request for a renewal (this key stays in use until the "
                "new certificate arrives)"
            )
        key_path = folder / f"{name}{PENDING_KEY_SUFFIX}"
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
    if in_use is not None:
        note = ", ".join(filter(None, [note, f"the new key; {name}.key stays in use for now"]))
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
        in_use=in_use,
    )


def _certificate_in_use(cert_path: Path, key_path: Path) -> Path | None:
    """``cert_path`` if it is a certificate of the key in ``key_path`` that has not expired.

    Replacing that key would break the user's rtchat until the new
    certificate arrives. A passphrase-protected key cannot be compared
    without its passphrase: it counts as in use, which only keeps it.
    """
    if not (os.path.lexists(cert_path) and os.path.lexists(key_path)):
        return None
    try:
        cert = load_certificate(cert_path)
        if cert.not_valid_after_utc <= _now():
            return None
        if private_key_is_encrypted(key_path):
            return cert_path
        key = load_private_key(key_path)
    except PKIError:
        return None  # damaged or no key: nothing works now that a new key could break
    return cert_path if _public_der(key.public_key()) == _public_der(cert.public_key()) else None


@dataclass(frozen=True)
class SigningRequest:
    """A CSR that ``read_csr`` checked: its signature verifies and its CN is a client name."""

    path: Path
    csr: x509.CertificateSigningRequest
    name: str
    fingerprint: str  # public_key_fingerprint: what the user read out
    key: str  # describe_key
    requested: list[str] = field(default_factory=list)  # extensions it asks for (ignored)


def read_csr(path: Path) -> SigningRequest:
    """Load and check the CSR in ``path``, for :func:`sign_request`.

    Raises PKIError for a file that is not a CSR, a CSR whose signature does
    not verify (damaged, or not made with the key it carries), a subject
    without exactly one CN, a CN that cannot be a client name, and a key no
    TLS peer here accepts.
    """
    path = Path(path)
    return check_csr(load_csr(path), path)


def check_csr(csr: x509.CertificateSigningRequest, path: Path) -> SigningRequest:
    """The checks of :func:`read_csr` on a CSR already loaded (``path`` names it in errors)."""
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

    Refuses the CA's own key; a name that is another user's chat name once
    folded (``Bob`` when ``bob`` has a certificate that is not revoked), even
    with ``force``; and a name that already has a certificate that is not
    revoked, and existing files, unless ``force``. ``confirm`` is
    called after every check and before anything is written; if it returns
    False, nothing is signed (PKIError).
    """
    folder = CaFolder(Path(root))
    ca_cert, ca_key = _load_ca(folder)
    plan = _plan_signing(folder, ca_cert, request, out_dir, force=force)
    start, end = _validity(days, None, None)
    if confirm is not None and not confirm(request):
        raise PKIError(f"not signed: {request.path} was left as it was and nothing was written")

    name = request.name
    cert = _build_client(
        public_key=request.csr.public_key(),
        name=name,
        ca_cert=ca_cert,
        ca_key=ca_key,
        not_before=start,
        not_after=end,
    )
    pem = _cert_pem(cert)
    replaceable = plan.replaceable
    note = "the previous certificate was revoked" if replaceable and not force else ""
    puts = [_plan(plan.cert_path, pem, CERT_MODE, force=force, replaceable=replaceable, note=note)]
    folders = [folder.clients_dir]
    if plan.out is not None and plan.ca_put is not None:
        puts.append(_plan(plan.out / f"{name}.crt", pem, CERT_MODE, force=force))
        puts.append(plan.ca_put)
        folders.append(plan.out)
    puts.append(_plan_index_append(folder.index, IndexEntry.for_certificate(cert, name, "client")))
    stale = [plan.stale_key] if plan.stale_key is not None else []
    return _carry_out(puts, folders, removals=stale)


@dataclass(frozen=True)
class _Signing:
    """What ``sign_request`` decided before asking: where the certificate goes, what it replaces."""

    cert_path: Path
    replaceable: bool  # clients/NAME.crt holds a revoked certificate
    stale_key: Path | None  # clients/NAME.key that `issue` made, removed with --force
    out: Path | None
    ca_put: _Put | None  # out/ca.crt: its content is known before signing


def _plan_signing(
    folder: CaFolder,
    ca_cert: x509.Certificate,
    request: SigningRequest,
    out_dir: Path | None,
    *,
    force: bool,
) -> _Signing:
    """Every check of ``sign_request``: a refusal comes before the admin is asked, never after."""
    name = request.name
    if _public_der(request.csr.public_key()) == _public_der(ca_cert.public_key()):
        raise PKIError(f"{request.path} carries the CA's own key: refusing to sign it")
    refuse_server_name(folder, name)
    _load_index_raw(folder.index)
    _refuse_name_clash(folder.root, name)  # even with force: --force renews the same user
    cert_path, key_path = folder.client_cert(name), folder.client_key(name)
    if not force:
        _refuse_signed_again(folder, request, cert_path)
        _refuse_duplicate_name(folder.root, name)
    replaceable = _revoked_file(folder.root, cert_path)
    _check_writable(cert_path, force=force, replaceable=replaceable)
    stale_key = key_path if os.path.lexists(key_path) else None
    if stale_key is not None and not (force or replaceable):
        raise PKIError(
            f"{stale_key} already exists (a key `issue` made): pass --force to replace that "
            "certificate and remove its key"
        )
    if out_dir is None:
        return _Signing(cert_path, replaceable, stale_key, None, None)
    out = Path(out_dir)
    if os.path.lexists(out) and not out.is_dir():
        raise PKIError(f"{out} exists and is not a folder: give --out a folder")
    _check_writable(out / f"{name}.crt", force=force)
    _check_user_key(out / f"{name}.key", request)
    ca_put = _plan(out / "ca.crt", _read(folder.ca_cert), CERT_MODE, force=force)
    return _Signing(cert_path, replaceable, stale_key, out, ca_put)


def _refuse_signed_again(folder: CaFolder, request: SigningRequest, cert_path: Path) -> None:
    """Raise PKIError if this very request's key already has the live certificate ``cert_path``.

    Signing the same request twice is usually a command run again: say which
    certificate it already has instead of only that the name has one.
    """
    try:
        cert = load_certificate(cert_path)
    except PKIError:
        return
    if _public_der(cert.public_key()) != _public_der(request.csr.public_key()):
        return
    serial = f"{cert.serial_number:x}"
    live = [e for e in _live_entries(read_index(folder.root), request.name) if e.serial == serial]
    if live:
        raise PKIError(
            f"{request.path} is already signed: {cert_path} ({_serial_and_end(live[0])}) is its "
            "certificate; send that one and ca.crt again, or pass --force to sign it again "
            "(a renewal with the same key)"
        )


def _check_user_key(key_path: Path, request: SigningRequest) -> None:
    """If the user folder already holds NAME.key (unencrypted), it must be the CSR's key."""
    if not os.path.lexists(key_path) or private_key_is_encrypted(key_path):
        return
    key = load_private_key(key_path)
    if _public_der(key.public_key()) != _public_der(request.csr.public_key()):
        pending = key_path.with_name(f"{request.name}{PENDING_KEY_SUFFIX}")
        if pending.exists():
            raise PKIError(
                f"{key_path} is the key still in use and {pending.name} waits for this "
                "certificate (a renewal): give --out another folder; the user puts the "
                f"certificate in and moves {pending.name} to {key_path.name} together"
            )
        raise PKIError(
            f"{key_path} is not the key of {request.path}: the certificate would not work "
            "with it; send the certificate to the folder that made this request"
        )

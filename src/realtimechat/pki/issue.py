"""Issuing from a CA folder: a new CA, client certificates, server certificates and folders."""

from __future__ import annotations

import datetime as dt
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from realtimechat.errors import PKIError

from ..sanitize import visible
from .build import _build_ca, _build_client, _build_crl, _build_server, _cert_pem
from .facts import _sans
from .files import (
    CERT_MODE,
    KEY_MODE,
    Written,
    _carry_out,
    _check_private_folder,
    _check_writable,
    _plan,
    _Put,
    _refuse_existing,
    same_folder,
)
from .folder import CaFolder, _check_server_cn, _load_ca, _require_ca_cert, refuse_server_name
from .groups import group_names
from .index import (
    IndexEntry,
    _index_bytes,
    _load_index_raw,
    _plan_index_append,
    _refuse_duplicate_name,
    _refuse_name_clash,
    _revoked_file,
)
from .keys import DEFAULT_KEY_TYPE, KeyType, _key_pem, _public_der, generate_key
from .load import (
    _read,
    _signed_by,
    certificate_names,
    common_name,
    load_certificate,
    load_crl,
    load_private_key,
)
from .validity import CA_DAYS, CLIENT_DAYS, SERVER_DAYS, _now, _validity


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


def issue_client(
    root: Path,
    name: str,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CLIENT_DAYS,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    force: bool = False,
    groups: Sequence[str] = (),
) -> list[Written]:
    """Issue a client certificate and key for ``name`` from the CA folder ``root``.

    Writes ``clients/NAME.key`` and ``clients/NAME.crt`` (CN=NAME, clientAuth,
    and each of ``groups`` as a SAN ``urn:rtchat:group:GROUP``) and records
    the certificate, with its groups, in ``index.json``. Validity runs from
    ``not_before`` (default: now minus :data:`CLOCK_SKEW`) to ``not_after``
    (default: now plus ``days``); both must be timezone-aware.

    Refuses an invalid name; a name that is another user's chat name once
    folded (``Bob`` when ``bob`` has a certificate that is not revoked), even
    with ``force``; and a name with a certificate that is not revoked, and
    existing files, unless ``force``. The files of a revoked certificate
    of ``name`` are replaced without ``force`` (the index keeps its record).
    Returns key, certificate and index.
    """
    folder = CaFolder(Path(root))
    key_path, cert_path = folder.client_key(name), folder.client_cert(name)
    groups = group_names(groups)  # a bad group fails now, before any file is written
    ca_cert, ca_key = _load_ca(folder)
    refuse_server_name(folder, name)
    _load_index_raw(folder.index)  # a damaged index fails now, before any file is written
    _refuse_name_clash(folder.root, name)  # even with force: --force renews the same user
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
        groups=groups,
    )
    note = "the previous certificate was revoked" if replaceable and not force else ""
    entry = IndexEntry.for_certificate(cert, name, "client", groups=groups)
    puts = [
        _plan(key_path, _key_pem(key), KEY_MODE, force=force, replaceable=replaceable, note=note),
        _plan(
            cert_path, _cert_pem(cert), CERT_MODE, force=force, replaceable=replaceable, note=note
        ),
        _plan_index_append(folder.index, entry),
    ]
    return _carry_out(puts, [folder.clients_dir])


def issue_server_certificate(
    root: Path,
    server_cn: str | None,
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

    ``server_cn`` None renews the certificate it replaces under its own CN.
    ``sans`` are the names besides ``server_cn`` (see :func:`init_ca`). If
    None, a renewal in the CA folder keeps those of the certificate it
    replaces (when that one is for ``server_cn``); otherwise there are none.
    :func:`server_names` before and after tells which names changed.
    """
    folder = CaFolder(Path(root))
    target = Path(out_dir) if out_dir is not None else folder.root
    separate = out_dir is not None and not same_folder(target, folder.root)
    key_path, cert_path = target / "server.key", target / "server.crt"
    if server_cn is None:
        server_cn = _renewed_cn(cert_path)
    _check_server_cn(server_cn)
    ca_cert, ca_key = _load_ca(folder)
    _load_index_raw(folder.index)
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


def _renewed_cn(cert_path: Path) -> str:
    """The CN of the server certificate in ``cert_path``, for a renewal without --cn."""
    cn = common_name(load_certificate(cert_path)) if os.path.lexists(cert_path) else ""
    if not cn:
        raise PKIError(
            f"give --cn: the name clients pass as --cn (there is no {cert_path} with a CN to renew)"
        )
    return cn


def server_names(cert_path: Path) -> list[str] | None:
    """The names clients may use as --cn for the server certificate in ``cert_path``.

    None if there is no certificate there (``certificate_names``, made safe
    to print).
    """
    if not os.path.lexists(cert_path):
        return None
    return [visible(name) for name in certificate_names(load_certificate(cert_path))]


def _current_server_names(cert_path: Path, server_cn: str) -> list[str]:
    """The names of the server certificate being renewed, if it is for ``server_cn``."""
    if not os.path.lexists(cert_path):
        return []
    try:
        old = load_certificate(cert_path)
        names = certificate_names(old)
    except (PKIError, ValueError):
        return []
    return names if common_name(old) == server_cn else []


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
    if same_folder(out, folder.root):
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
        _plan(out / "crl.pem", crl_data, CERT_MODE, force=force, hint=_crl_hint(out, folder)),
    ]
    return _carry_out(puts, [out])


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _crl_hint(out: Path, folder: CaFolder) -> str:
    """Why OUT/crl.pem differs from the CA folder's, for the refusal: usually a revoke since.

    Only a CRL of the same CA with a lower number is plainly older; anything
    else gets the plain hint, and a higher number a word of caution.
    """
    plain = " (pass --force to replace it)"
    try:
        old, new = load_crl(out / "crl.pem"), load_crl(folder.crl)
    except PKIError:
        return plain
    old_number, new_number = _crl_number(old), _crl_number(new)
    if old.issuer != new.issuer or old_number is None or new_number is None:
        return plain
    if old_number < new_number:
        return (
            f": it is an older CRL of this CA (number {old_number}, {len(old)} revoked) than "
            f"{folder.crl} (number {new_number}, {len(new)} revoked), after a revoke or a crl "
            "renewal: pass --force to replace it"
        )
    return (
        f": it is a CRL of this CA numbered {old_number}, not older than {folder.crl} "
        f"(number {new_number}): check that {folder.root} is the CA folder this server "
        "folder came from before you pass --force"
    )

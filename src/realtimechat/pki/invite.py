"""Invites: one file that carries everything a new user needs to join a server.

The admin writes one (``rtchat-certs invite NAME``, or ``sign NAME.csr
--invite FILE`` when the user made their own key) and the user runs
``rtchat join FILE``, which installs the identity and joins. The file is
TOML, a format every language reads and that never runs code, with the
certificates as PEM strings::

    # realtimechat invite for alice: join with `rtchat join alice.invite`
    format = "rtchat-invite"
    version = 1
    name = "alice"                  # the certificate's CN; NAME.crt, NAME.key
    host = "chat.example.com"       # the server's address ...
    port = 8443                     # ... and port
    cn = "chat.example.com"         # the name on the server's certificate
    certificate = '''
    -----BEGIN CERTIFICATE-----
    ...'''                          # multi-line strings, as tomli_w writes them
    key = '''
    -----BEGIN ENCRYPTED PRIVATE KEY-----
    ...'''
    ca = '''
    -----BEGIN CERTIFICATE-----
    ...'''

``key`` is there only when the admin made the key (``invite``); it is
PKCS#8, always encrypted, with a passphrase the admin tells the user by
another channel than the file. An invite from ``sign`` has no key: the
user's own stays where ``rtchat-certs request`` made it. Reading an invite
checks every field, that the CA issued the certificate, and that a key is
encrypted and belongs to the certificate; installing one never replaces a
file that differs unless asked to.
"""

from __future__ import annotations

import os
import secrets
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from realtimechat.errors import PKIError

from .build import _name
from .csr import PENDING_KEY_SUFFIX, SigningRequest, check_csr, sign_request
from .files import (
    CERT_MODE,
    KEY_MODE,
    Written,
    _carry_out,
    _check_private_folder,
    _check_writable,
    _plan,
)
from .folder import CaFolder, validate_client_name
from .keys import (
    DEFAULT_KEY_TYPE,
    KeyType,
    _key_pem,
    _public_der,
    _signature_hash,
    generate_key,
)
from .load import (
    _read,
    _signed_by,
    certificate_names,
    common_name,
    load_certificate,
    load_private_key,
    pem_kind,
    private_key_from_pem,
    private_key_is_encrypted,
)
from .validity import CLIENT_DAYS

FORMAT: Final = "rtchat-invite"
VERSION: Final = 1
SUFFIX: Final = ".invite"
MAX_BYTES: Final = 256 * 1024  # three PEM blocks and a few lines: far less
_ENCRYPTED_KEY: Final = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
# No l, o, 0 or 1: a passphrase read out over the phone is typed right.
_PASSPHRASE_LETTERS: Final = "abcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105 - an alphabet
_PASSPHRASE_GROUPS: Final = 5  # 5 x 4 letters of 32: 100 bits, beyond any offline guessing


@dataclass(frozen=True)
class ServerAddress:
    """Where the invite's user connects: address, port and the name on the certificate."""

    host: str
    port: int
    cn: str


@dataclass(frozen=True)
class Invite:
    """An invite, read and checked (``read_invite``); PEM bytes as they are in the file."""

    path: Path
    name: str
    server: ServerAddress
    certificate: bytes
    ca: bytes
    key: bytes | None  # encrypted PKCS#8; None: the user has their own key


def new_passphrase() -> str:
    """A passphrase for an invite's key: five groups of four letters and digits, 100 bits."""
    return "-".join(
        "".join(secrets.choice(_PASSPHRASE_LETTERS) for _ in range(4))
        for _ in range(_PASSPHRASE_GROUPS)
    )


def server_address(root: Path, host: str | None, port: int, cn: str | None) -> ServerAddress:
    """The server an invite points at, checked against the CA folder's server certificate.

    ``host`` defaults to ``cn``, else to the certificate's CN; ``cn`` to
    ``host`` when the certificate carries it, else to the certificate's CN.
    A ``cn`` the certificate does not carry is refused: every client would
    be refused by name.
    """
    folder = CaFolder(Path(root))
    names = (
        certificate_names(load_certificate(folder.server_cert))
        if os.path.lexists(folder.server_cert)
        else None
    )
    if host is None:
        host = cn or (names[0] if names else None)
        if host is None:
            raise PKIError(f"give --host: {folder.root} has no server.crt to take the name from")
    if cn is None:
        cn = host if names is None or host in names else names[0]
    elif names is not None and cn not in names:
        renew = " ".join(
            [f"rtchat-certs server-cert --dir {_quote(folder.root)} --cn {_quote(names[0])}"]
            + [f"--san {_quote(name)}" for name in [*names[1:], cn]]
            + ["--force"]
        )
        raise PKIError(
            f"the server's certificate is not for {cn!r} (it is for: {', '.join(names)}): "
            f"give --cn one of those, or add the name to the server's certificate (`{renew}`)"
        )
    return ServerAddress(host=host, port=port, cn=cn)


def _quote(value: str | Path) -> str:
    return shlex.quote(str(value))


def check_invite_target(path: Path, *, force: bool) -> None:
    """Raise PKIError now if writing the invite ``path`` would overwrite a file (no ``force``)."""
    _check_writable(Path(path), force=force)


def issue_invite(
    root: Path,
    name: str,
    out: Path,
    server: ServerAddress,
    passphrase: bytes,
    *,
    key_type: KeyType = DEFAULT_KEY_TYPE,
    days: int = CLIENT_DAYS,
    force: bool = False,
) -> list[Written]:
    """Make a key and a certificate for ``name`` and write them, encrypted, as the invite ``out``.

    The CA folder records the certificate (``clients/NAME.crt``, the index)
    as ``sign`` does, with the same refusals; it never keeps the key.
    """
    validate_client_name(name)
    if not passphrase:
        raise PKIError("the passphrase cannot be empty")
    check_invite_target(out, force=force)
    key = generate_key(key_type)
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(name))
    request = check_csr(csr.sign(key, _signature_hash(key)), Path(out))
    written = sign_request(root, request, days=days, force=force)
    return [*written, write_invite(root, request, out, server, key=_key_pem(key, passphrase))]


def write_invite(
    root: Path,
    request: SigningRequest,
    out: Path,
    server: ServerAddress,
    *,
    key: bytes | None = None,
    force: bool = True,
) -> Written:
    """Write the invite ``out`` for the certificate just signed for ``request``.

    Called after ``sign_request``: ``check_invite_target`` said before
    signing whether ``out`` may be written, so here it is replaced.
    """
    folder = CaFolder(Path(root))
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": request.name,
        "host": server.host,
        "port": server.port,
        "cn": server.cn,
        "certificate": _read(folder.client_cert(request.name)).decode("ascii"),
    }
    if key is not None:
        document["key"] = key.decode("ascii")
    document["ca"] = _read(folder.ca_cert).decode("ascii")
    head = (
        f"# realtimechat invite for {request.name}: join with "
        f"`rtchat join {Path(out).name}` (docs/certificates.md)\n"
    )
    data = (head + tomli_w.dumps(document, multiline_strings=True)).encode("utf-8")
    note = "private key, passphrase-protected" if key is not None else "no key: theirs stays theirs"
    put = _plan(Path(out), data, KEY_MODE, force=force, note=note)
    return _carry_out([put])[0]


def read_invite(path: Path) -> Invite:
    """Read and check the invite in ``path``; PKIError saying what is wrong with it."""
    path = Path(path)
    data = _read(path)
    if len(data) > MAX_BYTES:
        raise PKIError(f"{path} is not a realtimechat invite (it is {len(data)} bytes)")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        holds = pem_kind(path)
        raise PKIError(
            f"{path} is not a realtimechat invite"
            + (f" (it holds a {holds})" if holds else " (not an invite's TOML)")
        ) from None
    if document.get("format") != FORMAT:
        raise PKIError(f'{path} is not a realtimechat invite (no format = "{FORMAT}" in it)')
    if document.get("version") != VERSION:
        raise PKIError(
            f"{path} is an invite of version {document.get('version')!r}, which this "
            f"realtimechat cannot read (it reads version {VERSION}): update realtimechat"
        )
    field = _fields(path, document)
    port = document.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise PKIError(f"{path}: port must be a number from 1 to 65535")
    invite = Invite(
        path=path,
        name=field("name"),
        server=ServerAddress(host=field("host"), port=port, cn=field("cn")),
        certificate=field("certificate").encode("ascii", "replace"),
        ca=field("ca").encode("ascii", "replace"),
        key=field("key", required=False).encode("ascii", "replace") or None,
    )
    _check_certificates(invite)
    return invite


def _fields(path: Path, document: dict[str, Any]) -> Callable[..., str]:
    def field(key: str, *, required: bool = True) -> str:
        value = document.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise PKIError(f"{path}: {key} must be a string (the invite is damaged)")
        return value

    return field


def _check_certificates(invite: Invite) -> None:
    """The CA issued the certificate, it names the user, and a key comes encrypted."""
    path = invite.path
    try:
        cert = x509.load_pem_x509_certificate(invite.certificate)
        ca = x509.load_pem_x509_certificate(invite.ca)
    except ValueError:
        raise PKIError(f"{path}: a certificate in it cannot be read (damaged)") from None
    if not _signed_by(cert, ca):
        raise PKIError(f"{path}: its certificate is not issued by its ca (damaged)")
    validate_client_name(invite.name)
    if common_name(cert) != invite.name:
        raise PKIError(f"{path}: its certificate is for {common_name(cert)!r}, not {invite.name!r}")
    if invite.key is not None and not invite.key.lstrip().startswith(_ENCRYPTED_KEY.encode()):
        raise PKIError(f"{path}: its key is not encrypted; ask your admin for a new invite")


def open_key(invite: Invite, passphrase: str) -> CertificateIssuerPrivateKeyTypes:
    """The invite's key, decrypted (WrongPassphrase if it does not open it), checked to be ours."""
    assert invite.key is not None
    key = private_key_from_pem(invite.key, passphrase.encode(), f"the key in {invite.path}")
    cert = x509.load_pem_x509_certificate(invite.certificate)
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise PKIError(f"{invite.path}: its key does not belong to its certificate (damaged)")
    return key


@dataclass(frozen=True)
class Installed:
    """What ``install_invite`` did: each file, and the user folder it put them in."""

    written: list[Written]
    folder: Path


def install_invite(
    invite: Invite, folder: Path, *, key: bytes | None, force: bool = False
) -> Installed:
    """Put the invite's certificate, ``key`` (if any) and ca.crt into the user folder ``folder``.

    ``key`` is the PEM to install (decrypted, or the invite's own). An invite
    without a key needs the user's own key in the folder: ``NAME.key``, or
    ``NAME.new.key`` during a renewal, which then becomes ``NAME.key``. A
    file that differs is replaced only with ``force``; nothing is written
    if one would be refused.
    """
    folder = Path(folder)
    name = invite.name
    removals: list[Path] = []
    files: list[tuple[Path, bytes, int]] = []
    renewal = False  # the new key and certificate replace the pair in use, together
    if key is None:
        own = _own_key(invite, folder)
        if own.name != f"{name}.key":
            files.append((folder / f"{name}.key", _read(own), KEY_MODE))
            removals.append(own)
            renewal = True
    else:
        files.append((folder / f"{name}.key", key, KEY_MODE))
    files.append((folder / f"{name}.crt", invite.certificate, CERT_MODE))
    files.append((folder / "ca.crt", invite.ca, CERT_MODE))
    if not force:
        replaced = {folder / f"{name}.key", folder / f"{name}.crt"} if renewal else set()
        _refuse_different_files([item for item in files if item[0] not in replaced])
    _check_private_folder(folder)
    puts = [
        _plan(path, data, mode, force=True, note="private key" if mode == KEY_MODE else "")
        for path, data, mode in files
    ]
    return Installed(_carry_out(puts, [folder], removals=removals), folder)


def _refuse_different_files(files: list[tuple[Path, bytes, int]]) -> None:
    for path, data, _ in files:
        if os.path.lexists(path) and (not path.is_file() or path.read_bytes() != data):
            raise PKIError(
                f"{path} already exists and differs from the invite's: nothing was installed; "
                "pass --force to replace it, or --identity DIR for another folder"
            )


def _own_key(invite: Invite, folder: Path) -> Path:
    """The user's own key for the invite's certificate: NAME.key, or NAME.new.key (a renewal)."""
    name = invite.name
    cert = x509.load_pem_x509_certificate(invite.certificate)
    current, pending = folder / f"{name}.key", folder / f"{name}{PENDING_KEY_SUFFIX}"
    candidates = [path for path in (pending, current) if path.is_file()]
    if not candidates:
        raise PKIError(
            f"{invite.path} carries no key, and {current} does not exist: run `rtchat join` "
            f"where you ran `rtchat-certs request {name}`, or pass --identity with the folder "
            f"that holds {name}.key"
        )
    for path in candidates:
        if private_key_is_encrypted(path):
            return path  # it cannot be compared without its passphrase: rtchat will try it
        if _public_der(load_private_key(path).public_key()) == _public_der(cert.public_key()):
            return path
    raise PKIError(
        f"{candidates[-1]} is not the key of the certificate in {invite.path}: the invite is "
        "for a request made with another key; send your admin the NAME.csr beside your key"
    )


def reencode_key(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    """The key as PKCS#8 PEM without a passphrase, as ``rtchat-certs request`` writes keys."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

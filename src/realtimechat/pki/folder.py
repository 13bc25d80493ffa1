"""A CA folder: where its files are, which client and server names it takes, and its CA."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from realtimechat.errors import PKIError
from realtimechat.names import check_name, name_from_cn, name_key, shown

from .keys import _public_der
from .load import certificate_names, load_certificate, load_private_key

#: X.509 caps a commonName at 64; cryptography counts UTF-8 bytes, so we do too.
MAX_NAME_BYTES: Final = 64

#: Client names whose NAME.crt and NAME.key are the tool's own files: ``ca``
#: (ca.crt, ca.key: in a user folder the user's ca.crt would clash with the
#: CA's, and ``show`` would take clients/ca.crt for the CA) and ``server``
#: (a user folder would look like a server folder). Compared folded, as
#: case-insensitive file systems do. crl.pem and index.json cannot clash.
RESERVED_NAMES: Final = {
    "ca": "ca.crt and ca.key, the CA's own files",
    "server": "server.crt and server.key, the server's own files",
}


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
    no surrounding spaces, does not start with a dot (so it is never ``.``,
    ``..`` or a hidden file), is not one of :data:`RESERVED_NAMES`, and
    makes a chat name of the name profile, or one that is only too long
    (``_reject_lookalike``).
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
    _reject_reserved(name)
    _reject_lookalike(name)
    return name


def _reject_lookalike(name: str) -> None:
    """Raise PKIError if ``name``'s chat name breaks the name profile (names.check_name).

    Spaces become ``_`` as the server makes them; what is left must be
    letters and digits of one script and ``_ - . '``, with nothing
    invisible, or the certificate could carry a name that passes for
    someone else's (``alice`` with U+034F, or with a Cyrillic a, U+0430).
    A name that is only too long (33 to 64 characters) is no chat name
    either, but cannot pass for anyone: rtchat-certs issues it with a
    warning, for servers under --names claim.
    """
    chat = name_from_cn(name)
    problem = check_name(chat)
    if problem is not None and not problem.too_long:
        raise PKIError(
            f"client name '{shown(chat)}' cannot be a chat name: {problem.reason}; "
            "a name that could pass for someone else's is never issued"
        )


def _reject_reserved(name: str) -> None:
    clash = RESERVED_NAMES.get(name_key(name))
    if clash is not None:
        raise PKIError(
            f"client name {name!r} cannot be used: its files would clash with {clash}; "
            "pick another name"
        )


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


def _check_server_cn(server_cn: str) -> None:
    if not server_cn or server_cn != server_cn.strip():
        raise PKIError(f"server name {server_cn!r} must be non-empty without surrounding spaces")
    _reject_invisible(server_cn, "server name")


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
    _refuse_exposed_key(folder.ca_key)
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


def _refuse_exposed_key(path: Path) -> None:
    """Refuse to sign with a CA key that other users can open (as OpenSSH refuses such keys).

    Whoever can read ca.key can issue a certificate for any name and pose
    as the server to every client: it is the root of all trust. Refused
    rather than warned about: the command that would sign is exactly when
    the key is in use, and ``chmod 600`` is all it takes.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return  # loading it says what is wrong
    if mode & 0o077:
        who = "other users" if mode & 0o007 else "its group"
        raise PKIError(
            f"{path} is open to {who} (mode {mode:04o}): whoever can read the CA's key can"
            " issue certificates for any name. Refusing to use it: run"
            f" `chmod 600 {shlex.quote(str(path))}`, and if others may have read it, make a"
            " new CA"
        )


def refuse_server_name(folder: CaFolder, name: str) -> None:
    """Refuse a user name that is an IP address or one of this CA's server names.

    A user called ``localhost``, ``127.0.0.1`` or the server's own name
    would look like the server speaking, in every chat line and log. The
    names are those of the folder's server.crt, compared folded as chat names
    are (``LocalHost`` is ``localhost``).
    """
    if _is_ip_address(name):
        raise PKIError(
            f"{name!r} is an IP address, not a user's name: a user called so would look like"
            " a server; pick the person's name"
        )
    names = ["localhost"]
    if os.path.lexists(folder.server_cert):
        with contextlib.suppress(PKIError):  # a damaged server.crt: other commands say so
            names += certificate_names(load_certificate(folder.server_cert))
    key = name_key(name)
    clash = next((server for server in names if name_key(server) == key), None)
    if clash is not None:
        raise PKIError(
            f"{name!r} is a name of this CA's server ({clash!r}, in {folder.server_cert} or"
            " the loopback name): a user called so would look like the server; pick the"
            " person's name"
        )


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True

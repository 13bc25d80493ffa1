"""Where certificates live when the command line does not say.

Per-user folders under click's ``get_app_dir("rtchat")`` (for example
``~/.config/rtchat`` on Linux):

* ``ca/``       the admin's CA folder, as ``rtchat-certs init`` makes it
* ``server/``   a server folder (``rtchat-certs server-bundle``)
* ``identity/`` a user's folder: ``NAME.key``, ``NAME.crt``, ``ca.crt``

Each resolver returns the files to use or raises ConfigError with one line
that says what to run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import click

from .errors import ConfigError
from .pki import common_name, load_certificate
from .sanitize import visible
from .tls import ClientFiles, ServerFiles

APP_NAME = "rtchat"


def app_dir() -> Path:
    return Path(click.get_app_dir(APP_NAME))


def data_dir() -> Path:
    """Where a server keeps its messages: the per-user data folder.

    ``$XDG_DATA_HOME/rtchat`` (``~/.local/share/rtchat``) on Linux and the
    BSDs, the app folder elsewhere.
    """
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / APP_NAME
    return app_dir() / "data"


def default_ca_dir() -> Path:
    return app_dir() / "ca"


def server_files(
    *,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    pki: Path | None,
    crl: Path | None = None,
    pins: Path | None = None,
) -> ServerFiles:
    """The server's certificate, key, trust files and CRL, from options or defaults.

    A folder's ``crl.pem`` is used (required when its ca.crt is a CA); ``crl``
    overrides it. ``pins`` (pinned certificates) goes with any of the ways
    to give the rest.
    """
    files = _server_files(cert=cert, key=key, ca=ca, pki=pki, pins=pins)
    if pins is not None:
        if not pins.is_file():
            raise ConfigError(f"pinned certificates file {pins} does not exist")
        files = dataclasses.replace(files, pins=pins)
    if crl is not None:
        if not crl.is_file():
            raise ConfigError(f"CRL file {crl} does not exist")
        return dataclasses.replace(files, crl=crl)
    return files


def _server_files(
    *,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    pki: Path | None,
    pins: Path | None = None,
) -> ServerFiles:
    if cert or key or ca:
        wanted = [("--cert", cert), ("--key", key), ("--ca", ca if pins is None else pins)]
        missing = [flag for flag, value in wanted if value is None]
        if missing:
            said = " and ".join(missing).replace("--ca", "--ca (or --pins)")
            raise ConfigError(f"also give {said} (or use --pki DIR)")
        assert cert is not None
        assert key is not None
        return ServerFiles(cert=cert, key=key, ca=ca)
    if pki is not None:
        return _server_folder(pki)
    folders = (app_dir() / "server", default_ca_dir())
    for folder in folders:
        if (folder / "server.crt").is_file():
            return _server_folder(folder)
    raise ConfigError(
        f"no server certificate in {folders[0]} or {folders[1]}: {_BUNDLE_ADVICE} and copy "
        f"its contents into {folders[0]}; or pass --pki DIR (or --cert/--key/--ca)"
    )


# What a server host lacks comes from the admin's CA folder. Never `init`
# here: that would make a second CA, which no user's certificate is from.
_BUNDLE_ADVICE = "on the admin's machine, `rtchat-certs server-bundle --out DIR` makes the folder"


def _server_folder(folder: Path) -> ServerFiles:
    # Always named: if the trust file holds a CA, a missing crl.pem is an
    # error (Trust.load), not a server that silently admits revoked users.
    files = ServerFiles(
        cert=folder / "server.crt",
        key=folder / "server.key",
        ca=folder / "ca.crt",
        crl=folder / "crl.pem",
    )
    for path in (files.cert, files.key, folder / "ca.crt"):
        if not path.is_file():
            raise ConfigError(
                f"{folder} is not a server folder: {path.name} is missing ({_BUNDLE_ADVICE}: "
                f"copy its contents into {folder})"
            )
    return files


def client_files(
    *,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    pki: Path | None,
    name: str | None,
    identity: Path | None = None,
) -> ClientFiles:
    """Our certificate, key and the server's trust anchor, from options or defaults.

    In order: ``--cert``/``--key``; ``--identity DIR`` (a user folder);
    ``--pki DIR --name NAME`` (a CA folder, for development); the default
    user folder; the default CA folder's ``clients/NAME``.
    """
    if cert or key:
        if cert is None or key is None:
            raise ConfigError("give both --cert and --key")
        trust = ca or (pki / "ca.crt" if pki else None)
        if trust is None:
            raise ConfigError("also give --ca (the CA or server certificate to trust)")
        return ClientFiles(cert=cert, key=key, ca=trust)
    if identity is not None:
        return user_folder(identity, name, ca)
    if pki is not None:
        if not name:
            raise ConfigError("--pki needs --name: whose certificate to use from DIR/clients/")
        return _from_ca_folder(pki, name, ca)
    default = app_dir() / "identity"
    found = _from_identity_folder(default, name, ca)
    if found is not None:
        return found
    if name and (default_ca_dir() / "clients" / f"{name}.crt").is_file():
        return _from_ca_folder(default_ca_dir(), name, ca)
    if default.is_dir():
        _refuse_waiting_request(default)
    _refuse_other_certificates(default, name)
    raise ConfigError(
        f"no client certificate in {default}: ask your admin for one (`rtchat-certs request`), "
        "or pass --identity DIR, --pki DIR --name NAME, or --cert/--key/--ca"
    )


def user_folder(folder: Path, name: str | None, ca: Path | None) -> ClientFiles:
    """A user folder from ``rtchat-certs request`` + ``sign --out``, or why it is not ready."""
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    _refuse_admin_folders(folder)
    found = _from_identity_folder(folder, name, ca)
    if found is not None:
        for path in (found.key, found.ca):
            if not path.is_file():
                raise ConfigError(f"{folder} has {found.cert.name} but no {path.name}")
        return found
    _refuse_waiting_request(folder)
    _refuse_other_certificates(folder, name)
    raise ConfigError(f"{folder} holds no certificate (NAME.crt, NAME.key and ca.crt)")


def _refuse_waiting_request(folder: Path) -> None:
    """Raise ConfigError if ``folder`` holds a request (NAME.csr) that has no certificate yet.

    That is a user between `rtchat-certs request` and the admin's answer: the
    folder is not broken, it waits, and the next step is the admin's.
    """
    waiting = sorted(p for p in folder.glob("*.csr") if not p.with_suffix(".crt").exists())
    if not waiting:
        return
    csr = waiting[0]
    invite = f"{csr.stem}.invite"
    raise ConfigError(
        f"the request {csr.name} in {folder} is waiting to be signed: send it to your admin "
        f"(`rtchat-certs sign {csr.name} --invite {invite}`), then run `rtchat join {invite}` "
        "with the invite they send back"
    )


def _refuse_admin_folders(folder: Path) -> None:
    """A CA or server folder given as a user folder: say so before its server.crt is sent.

    Its server.crt would otherwise pass for the user's certificate, and the
    server's refusal ("unsupported certificate") would not say why.
    """
    if (folder / "ca.key").is_file() or (folder / "clients").is_dir():
        raise ConfigError(
            f"{folder} is a CA folder, not a user folder: pass --pki {folder} --name NAME "
            "to use a client certificate issued there, or --identity with the folder that "
            "holds your NAME.crt, NAME.key and ca.crt"
        )
    if (folder / "server.key").is_file():
        raise ConfigError(
            f"{folder} is a server folder, not a user folder: pass --identity with the folder "
            "that holds your NAME.crt, NAME.key and ca.crt"
        )


def _refuse_other_certificates(folder: Path, name: str | None) -> None:
    """Raise ConfigError if ``folder`` holds certificates, just not the one asked for (or several).

    Called once ``folder`` gave no certificate; if it holds none, the caller says so.
    """
    held = _names_in(folder)
    if not held:
        return
    names = ", ".join(visible(n) for n in held)
    if name:
        raise ConfigError(
            f"no certificate for {visible(name)!r} in {folder} (it has: {names}; "
            "names are matched as the files are named)"
        )
    raise ConfigError(f"{folder} holds certificates for {names}: say whose with --name")


def _names_in(folder: Path) -> list[str]:
    """Whose certificates a user folder (or a CA folder's clients/) holds: NAME of NAME.crt."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.crt") if p.name != "ca.crt")


def guess_name(*, cert: Path | None, pki: Path | None, identity: Path | None = None) -> str | None:
    """The name to offer when asking for one: whose certificate we would use."""
    try:
        if cert is not None:
            return common_name(load_certificate(cert)) or None
        if pki is not None:
            issued = _names_in(pki / "clients")
            return issued[0] if len(issued) == 1 else None
        found = _from_identity_folder(identity or app_dir() / "identity", None, None)
        return common_name(load_certificate(found.cert)) if found else None
    except (ConfigError, OSError):
        return None


def _from_ca_folder(folder: Path, name: str, ca: Path | None) -> ClientFiles:
    files = ClientFiles(
        cert=folder / "clients" / f"{name}.crt",
        key=folder / "clients" / f"{name}.key",
        ca=ca or folder / "ca.crt",
    )
    if not files.cert.is_file():
        _refuse_other_certificates(folder / "clients", name)
    for path in (files.cert, files.key, files.ca):
        if not path.is_file():
            raise ConfigError(f"no {path.name} in {path.parent}: is {name!r} issued there?")
    return files


def _from_identity_folder(folder: Path, name: str | None, ca: Path | None) -> ClientFiles | None:
    """``NAME.crt`` + ``NAME.key`` + ``ca.crt``; NAME may be left out if only one."""
    names = _names_in(folder)
    if name:
        names = [n for n in names if n == name]
    if len(names) != 1:
        return None
    cert = folder / f"{names[0]}.crt"
    return ClientFiles(cert=cert, key=cert.with_suffix(".key"), ca=ca or folder / "ca.crt")

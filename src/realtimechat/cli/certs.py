"""``rtchat-certs``: make the certificates realtimechat needs (a thin layer over ``pki``)."""

from __future__ import annotations

import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from realtimechat import pki
from realtimechat.errors import ExitCode, PKIError

PROG = "rtchat-certs"
DEFAULT_DIR = Path(click.get_app_dir("rtchat")) / "ca"


class CertsError(click.ClickException):
    """A PKIError at the edge: one line ``rtchat-certs: error: ...`` on stderr."""

    exit_code = ExitCode.ERROR  # what PKIError (a ConfigError) maps to

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one-line error (the message is joined onto one line if it is not)."""
        message = " ".join(self.format_message().split("\n"))
        click.echo(f"{PROG}: error: {message}", file=file, err=file is None)


@contextmanager
def _pki_errors() -> Iterator[None]:
    """Turn a PKIError into a CertsError, which click prints and exits with."""
    try:
        yield
    except PKIError as exc:
        raise CertsError(str(exc)) from exc


def _report(paths: Sequence[Path], updated: Sequence[Path] = ()) -> None:
    """Print one line per file written; keys with their mode, so 0600 is visible."""
    for path in paths:
        if path in updated:
            click.echo(f"updated {path}")
        elif path.suffix == ".key":
            mode = stat.S_IMODE(path.stat().st_mode)
            click.echo(f"wrote {path} (private key, mode {mode:04o})")
        else:
            click.echo(f"wrote {path}")


_dir_option = click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    envvar="RTCHAT_CERTS_DIR",
    show_envvar=True,
    help="The CA folder (created by init, with mode 0700).",
)
_key_type_option = click.option(
    "--key-type",
    type=click.Choice(pki.KEY_TYPES),
    default=pki.DEFAULT_KEY_TYPE,
    show_default=True,
    help="Type of the new keys: ECDSA P-256 makes the fastest handshakes.",
)


@click.group(
    context_settings={
        "auto_envvar_prefix": "RTCHAT_CERTS",
        "help_option_names": ["-h", "--help"],
    }
)
def main() -> None:
    """Make the certificates a realtimechat server and its users need.

    A CA folder is your own small certificate authority: ca.key signs every
    certificate and ca.crt is what servers and clients trust. `init` creates
    one, with the server's certificate and an empty revocation list (crl.pem);
    `issue` adds a user's certificate and key under clients/. index.json
    records every certificate issued.

    Keep the CA folder, and ca.key above all, with the admin. A server needs
    ca.crt, server.crt, server.key and crl.pem; a user needs ca.crt and their
    own clients/NAME.crt and clients/NAME.key.

    Private keys are written with mode 0600, and existing files are never
    overwritten: a command that would do so stops with an error instead.
    """


@main.command()
@_dir_option
@click.option(
    "--cn",
    default="chatserver",
    show_default=True,
    help="The server's name: the name clients pass as --cn. It is also a subjectAltName.",
)
@click.option(
    "--san",
    "sans",
    multiple=True,
    metavar="NAME_OR_IP",
    help="Another DNS name or IP address clients use to reach the server (repeatable).",
)
@_key_type_option
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=pki.CA_DAYS,
    show_default=True,
    help="How many days the CA certificate is valid.",
)
@click.option(
    "--server-days",
    type=click.IntRange(min=1),
    default=pki.SERVER_DAYS,
    show_default=True,
    help="How many days the server certificate is valid.",
)
def init(
    *,
    root: Path,
    cn: str,
    sans: tuple[str, ...],
    key_type: pki.KeyType,
    days: int,
    server_days: int,
) -> None:
    """Create a CA folder: CA key and certificate, server key and certificate, CRL.

    Stops without writing anything if any of these files already exists.
    """
    with _pki_errors():
        paths = pki.init_ca(root, cn, sans, key_type=key_type, days=days, server_days=server_days)
    _report(paths)


@main.command()
@click.argument("name")
@_dir_option
@_key_type_option
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=pki.CLIENT_DAYS,
    show_default=True,
    help="How many days the certificate is valid.",
)
def issue(*, name: str, root: Path, key_type: pki.KeyType, days: int) -> None:
    """Issue a certificate and key for the user NAME (their CN) into clients/.

    NAME is 1-64 characters without '/', '\\', control characters or a
    leading dot. Refuses a NAME that already has a certificate or key.
    """
    with _pki_errors():
        paths = pki.issue_client(root, name, key_type=key_type, days=days)
    _report(paths, updated=[pki.CaFolder(root).index])


if __name__ == "__main__":
    main(prog_name=PROG)

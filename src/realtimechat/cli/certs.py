"""``rtchat-certs``: make the certificates realtimechat needs (a thin layer over ``pki``)."""

from __future__ import annotations

import datetime as dt
import shlex
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from cryptography import x509

from realtimechat import locations, pki
from realtimechat.client.address import split_host_port
from realtimechat.errors import ConfigError, ExitCode, PKIError
from realtimechat.names import name_from_cn, name_problem
from realtimechat.sanitize import visible

from .common import OLD_PASSPHRASE_ENV, PASSPHRASE_ENV, passphrase_from_env, version_option

PROG = "rtchat-certs"
F = TypeVar("F", bound=Callable[..., Any])
APP_DIR = Path(click.get_app_dir("rtchat"))
DEFAULT_DIR = APP_DIR / "ca"
DEFAULT_USER_DIR = APP_DIR / "identity"
DEFAULT_PORT = 8443


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


def _report(written: Sequence[pki.Written]) -> None:
    """Print one line per file: what was done to it; keys with their mode, so 0600 is visible."""
    for item in written:
        details = []
        mode = stat.S_IMODE(item.path.stat().st_mode) if item.action != "removed" else 0
        if item.path.suffix == ".key" and item.action != "removed":
            details.append(f"private key, mode {mode:04o}")
        if item.note:
            details.append(item.note)
        if item.path.suffix == pki.INVITE_SUFFIX and item.action != "removed":
            details.append(f"mode {mode:04o}")  # it may hold a key: 0600 like one
        if item.action == "unchanged":
            details.append("already the same")
        suffix = f" ({', '.join(details)})" if details else ""
        click.echo(f"{item.action} {item.path}{suffix}")


def _quote(path: Path) -> str:
    return shlex.quote(str(path))


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
_force_option = click.option(
    "--force",
    is_flag=True,
    help="Replace files that already exist (and, for issue and sign, allow a second "
    "certificate for a name that has one: a renewal; for request, a renewal keeps the "
    "key NAME.crt uses and writes the new one as NAME.new.key).",
)


def _server_options(function: F) -> F:
    """--host, --port and --cn: the server an invite points at."""
    options = [
        click.option(
            "--host",
            metavar="HOST[:PORT]",
            default=None,
            help="The server's address as users reach it (a name or IP; :PORT gives the "
            "port too).  [default: the server certificate's name]",
        ),
        click.option(
            "--port",
            type=click.IntRange(1, 65535),
            default=None,
            help="The server's port.  [default: 8443]",
        ),
        click.option(
            "--cn",
            "server_cn",
            metavar="NAME",
            default=None,
            help="The name on the server's certificate that clients check.  [default: the "
            "host, if the certificate carries it; else the certificate's CN]",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _invite_server(
    root: Path, host: str | None, port: int | None, server_cn: str | None
) -> pki.ServerAddress:
    """The server for an invite, from --host/--port/--cn and the CA folder's server.crt."""
    in_host = None
    if host is not None:
        try:
            host, in_host = split_host_port(host)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--host") from None
        if in_host is not None and port is not None and in_host != port:
            raise click.BadParameter(
                f"{host}:{in_host} says port {in_host} but --port says {port}",
                param_hint="--host",
            )
    with _pki_errors():
        return pki.server_address(root, host, in_host or port or DEFAULT_PORT, server_cn)


def _days_option(default: int, what: str) -> Callable[[F], F]:
    return click.option(
        "--days",
        type=click.IntRange(min=1),
        default=default,
        show_default=True,
        help=f"How many days {what}.",
    )


@click.group(
    context_settings={
        "auto_envvar_prefix": "RTCHAT_CERTS",
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
    }
)
@version_option("rtchat-certs")
def main() -> None:
    """Make the certificates a realtimechat server and its users need.

    A CA folder is your own small certificate authority: ca.key signs every
    certificate and ca.crt is what servers and clients trust. `init` creates
    one, with the server's certificate and an empty revocation list (crl.pem);
    index.json records every certificate issued (`list` shows them). Keep
    the CA folder, and ca.key above all, with the admin.

    \b
    A user gets a certificate in one of these ways:
      invite NAME         the admin writes one file, NAME.invite (key encrypted,
                          certificate, ca.crt, the server's address); the user
                          runs `rtchat join NAME.invite`
      request NAME        the user makes a key and a request (NAME.csr) on their
                          own machine; the admin runs `sign NAME.csr --invite
                          FILE` (or --out DIR): the key never moves
      issue NAME          the admin makes key and certificate and hands both over
    \b
    A server needs ca.crt, server.crt, server.key and crl.pem, never ca.key:
    `server-bundle --out DIR` copies them into a server folder, and
    `server-cert` makes a new server certificate (renewal, another host).
    `revoke` puts a certificate on crl.pem; `crl` re-signs it before its next
    update. A running server applies a changed crl.pem within seconds (or at
    once on SIGHUP).
    `show FILE` explains any certificate, request or CRL.

    Private keys are written with mode 0600 in folders of mode 0700, and
    existing files are never overwritten unless you pass --force: a command
    that would do so stops with an error instead. A passphrase for a new key
    is asked twice, or taken from RTCHAT_PASSPHRASE (the older
    RTCHAT_CERTS_PASSPHRASE works too), the variable rtchat reads as well.
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
@_days_option(pki.CA_DAYS, "the CA certificate is valid")
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

    Stops without writing anything if any of these files already exists (to
    start again, move the old folder away: it holds the only copy of ca.key).
    """
    with _pki_errors():
        written = pki.init_ca(root, cn, sans, key_type=key_type, days=days, server_days=server_days)
    _report(written)


@main.command()
@click.argument("name")
@_dir_option
@_key_type_option
@_days_option(pki.CLIENT_DAYS, "the certificate is valid")
@_force_option
def issue(*, name: str, root: Path, key_type: pki.KeyType, days: int, force: bool) -> None:
    """Issue a certificate and key for the user NAME (their CN) into clients/.

    NAME is 1-64 characters without '/', '\\', control characters or a
    leading dot, and not ca or server (the tool's own file names), nor an IP
    address, localhost or a name of the server's certificate; as a chat
    name (spaces become _) it holds letters of one script, digits and _ - . '
    only, nothing invisible. Refuses a NAME that is, or looks like, another
    user's chat name (the server folds case and spaces: Bob is bob; aIice
    looks like alice) while that user has a certificate that is not revoked;
    and a NAME that already has a certificate that is not revoked, and
    existing files, unless --force. Hand the user
    clients/NAME.crt, clients/NAME.key and ca.crt. (`request` and `sign`
    keep the user's key on the user's machine instead.)
    """
    with _pki_errors():
        written = pki.issue_client(root, name, key_type=key_type, days=days, force=force)
    _report(written)
    _say_chat_name(name)


@main.command()
@click.argument("name")
@_dir_option
@_server_options
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The invite file to write.  [default: NAME.invite in this folder]",
)
@_key_type_option
@_days_option(pki.CLIENT_DAYS, "the certificate is valid")
@_force_option
def invite(
    *,
    name: str,
    root: Path,
    host: str | None,
    port: int | None,
    server_cn: str | None,
    out_file: Path | None,
    key_type: pki.KeyType,
    days: int,
    force: bool,
) -> None:
    """Write one file that lets NAME in: `rtchat join FILE` is all they run.

    The invite (NAME.invite, mode 0600) holds a new key for NAME, encrypted
    with a passphrase, their certificate, ca.crt and the server's address,
    port and certificate name. The passphrase comes from RTCHAT_PASSPHRASE,
    or is made here and printed: tell it to NAME by another channel than the
    file. The CA folder keeps the certificate (clients/NAME.crt, index.json),
    never the key. The same refusals as issue. For a user who made their own
    key (`request`), `sign NAME.csr --invite FILE` writes an invite without
    a key.
    """
    out = out_file if out_file is not None else Path(f"{name}{pki.INVITE_SUFFIX}")
    with _pki_errors():
        pki.validate_client_name(name)
        pki.check_invite_target(out, force=force)
    server = _invite_server(root, host, port, server_cn)
    from_env = passphrase_from_env(PASSPHRASE_ENV, OLD_PASSPHRASE_ENV)
    passphrase = from_env[1] if from_env is not None else pki.new_passphrase()
    with _pki_errors():
        written = pki.issue_invite(
            root, name, out, server, passphrase.encode(), key_type=key_type, days=days, force=force
        )
    _report(written)
    _say_chat_name(name)
    click.echo(f"server: {server.host}:{server.port}, certificate name {server.cn}")
    if from_env is None:
        click.echo(f"passphrase: {passphrase}")
    told = "this passphrase" if from_env is None else f"the passphrase (from ${from_env[0]})"
    click.echo(
        f"Next: send {out.name} to {visible(name)} and tell them {told} by another channel "
        f"(say it; never with the file); they run `rtchat join {_quote(Path(out.name))}`."
    )


def _say_chat_name(name: str) -> None:
    """Say which chat name a certificate for ``name`` gives, when it is not ``name`` itself.

    The server turns spaces into '_' (``bob smith`` joins as ``bob_smith``)
    and refuses, under its default --names cn, a CN that makes no chat name.
    """
    chat = name_from_cn(name)
    if not _warn_if_no_chat_name(name) and chat != name:
        click.echo(f"chat name: {visible(chat)} (the server turns spaces into '_')")


def _warn_if_no_chat_name(name: str) -> bool:
    """Warn (and say True) if a certificate for ``name`` makes no chat name the server takes."""
    problem = name_problem(name_from_cn(name))
    if problem is not None:
        _warn(
            f"{visible(name)!r} cannot be a chat name ({problem}): the server refuses this "
            "certificate unless it runs with --names claim"
        )
    return problem is not None


def _new_passphrase(key: Path) -> bytes:
    """The passphrase for a new key: from RTCHAT_PASSPHRASE (or the older
    RTCHAT_CERTS_PASSPHRASE), else asked twice."""
    from_env = passphrase_from_env(PASSPHRASE_ENV, OLD_PASSPHRASE_ENV)
    if from_env is not None:
        return from_env[1].encode()
    try:
        text: str = click.prompt(
            f"Passphrase for {key}",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    except click.Abort as exc:
        raise CertsError("no passphrase given: nothing was written") from exc
    if not text:
        raise CertsError("the passphrase cannot be empty: nothing was written")
    return text.encode()


@main.command()
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_USER_DIR,
    show_default=True,
    help="Your user folder: NAME.key and NAME.csr go here, and later the NAME.crt and "
    "ca.crt your admin sends back (rtchat finds this default folder by itself).",
)
@_key_type_option
@click.option(
    "--passphrase",
    "protect",
    is_flag=True,
    help=f"Protect the key with a passphrase, asked twice (or taken from ${PASSPHRASE_ENV}). "
    "rtchat asks for it when it starts.",
)
@_force_option
def request(*, name: str, out_dir: Path, key_type: pki.KeyType, protect: bool, force: bool) -> None:
    """Make your key and a certificate request for NAME, on your own machine.

    Writes OUT/NAME.key (mode 0600; it never leaves this machine) and
    OUT/NAME.csr, and prints the key's fingerprint. Send NAME.csr to your
    admin and read them the fingerprint: `rtchat-certs sign` shows it to
    them before they sign. Put the NAME.crt and ca.crt you get back into
    OUT; then `rtchat --identity OUT` uses them.

    To renew, run it again with --force: while OUT/NAME.crt is a certificate
    of NAME.key, both stay and rtchat keeps working; the new key is written
    as NAME.new.key, which you move to NAME.key when the new NAME.crt comes.
    """
    with _pki_errors():
        pki.validate_client_name(name)
    passphrase = _new_passphrase(out_dir / f"{name}.key") if protect else None
    with _pki_errors():
        made = pki.create_request(
            out_dir, name, key_type=key_type, passphrase=passphrase, force=force
        )
    _report(made.written)
    _say_chat_name(name)
    click.echo(f"public key SHA-256: {pki.format_fingerprint(made.fingerprint)}")
    if made.in_use is not None:
        _renewal_next_step(made, made.in_use)
        return
    invite = f"{made.csr.stem}{pki.INVITE_SUFFIX}"
    where = "" if pki.same_folder(out_dir, DEFAULT_USER_DIR) else f" --identity {_quote(out_dir)}"
    click.echo(
        f"Next: send {made.csr} to your admin and read them this fingerprint; they sign it "
        f"(`rtchat-certs sign {made.csr.name} --invite {invite}`) and send back {invite}: run "
        f"`rtchat join {invite}{where}`."
    )


def _renewal_next_step(made: pki.Request, in_use: Path) -> None:
    """How a renewal ends: the new certificate and the new key go in together."""
    current_key = in_use.with_suffix(".key")
    click.echo(
        f"Next: send {made.csr} to your admin and read them this fingerprint. Until the new "
        f"certificate comes, rtchat keeps using {in_use.name} and {current_key.name}. Then put "
        f"the new {in_use.name} into {in_use.parent} and, at the same time, move the new key "
        f"into place: `mv {_quote(made.key)} {_quote(current_key)}`."
    )


@main.command()
@click.argument("csr", type=click.Path(dir_okay=False, path_type=Path))
@_dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write NAME.crt and ca.crt into this folder, to send back to the user "
    "(their folder is complete with them).",
)
@click.option(
    "--invite",
    "invite_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write an invite: one file with NAME.crt, ca.crt and the server's address "
    "(--host, --port, --cn), for `rtchat join FILE` on the user's machine.",
)
@_server_options
@_days_option(pki.CLIENT_DAYS, "the certificate is valid")
@click.option(
    "--yes",
    "-y",
    "assume_yes",
    is_flag=True,
    help="Sign without asking (compare the fingerprint with the user first).",
)
@_force_option
def sign(
    *,
    csr: Path,
    root: Path,
    out_dir: Path | None,
    invite_file: Path | None,
    host: str | None,
    port: int | None,
    server_cn: str | None,
    days: int,
    assume_yes: bool,
    force: bool,
) -> None:
    """Sign a user's certificate request (CSR): their key stays with them.

    Shows the name (CN) and the public key fingerprint the request carries
    and asks before signing (unless --yes): compare the fingerprint with the
    one the user reads to you. The certificate has CN=NAME and clientAuth
    only, whatever else the request asks for. Writes clients/NAME.crt, and
    with --out, NAME.crt and ca.crt to send back. Refuses a NAME that is
    another user's chat name (Bob when bob has a certificate that is not
    revoked), and a NAME that already has a certificate that is not revoked,
    unless --force. Every check comes before the question: a yes is never
    followed by a refusal.
    """
    with _pki_errors():
        checked = pki.read_csr(csr)
    server = None
    if invite_file is not None:  # checked before the question, like everything else
        server = _invite_server(root, host, port, server_cn)
        with _pki_errors():
            pki.check_invite_target(invite_file, force=force)
    click.echo(f"request {csr}")
    click.echo(f"  name (CN)           {visible(checked.name)}")
    if name_from_cn(checked.name) != checked.name:
        click.echo(f"  chat name           {visible(name_from_cn(checked.name))} (spaces become _)")
    click.echo(f"  key                 {checked.key}")
    click.echo(f"  public key SHA-256  {pki.format_fingerprint(checked.fingerprint)}")
    if checked.requested:
        click.echo(
            f"  asks for            {', '.join(checked.requested)} (ignored: the certificate "
            "gets CN and clientAuth only)"
        )
    _warn_if_no_chat_name(checked.name)

    def confirm(request: pki.SigningRequest) -> bool:
        if assume_yes:
            return True
        question = (
            f"Sign a client certificate for {visible(request.name)!r}, valid {days} days? "
            "Only if the fingerprint is the one they read to you"
        )
        try:
            return click.confirm(question, default=False, err=True)
        except click.Abort:  # end of input: no answer is no
            click.echo(err=True)  # end the question's line before the error
            return False

    with _pki_errors():
        written = pki.sign_request(
            root, checked, days=days, out_dir=out_dir, force=force, confirm=confirm
        )
    if invite_file is not None and server is not None:
        with _pki_errors():
            written.append(pki.write_invite(root, checked, invite_file, server))
    _report(written)
    if invite_file is not None:
        click.echo(
            f"Next: send {invite_file.name} to {visible(checked.name)}; they run "
            f"`rtchat join {_quote(Path(invite_file.name))}` where their key is (it holds no key: "
            "theirs never moved)."
        )
        return
    sent = out_dir if out_dir is not None else pki.CaFolder(root).clients_dir
    click.echo(
        f"Next: send {checked.name}.crt and ca.crt (from {sent}"
        f"{'' if out_dir is not None else ' and ' + str(root)}) to {visible(checked.name)}; "
        "they go into the folder that holds their key."
    )


@main.command()
@click.argument("which", metavar="NAME|SERIAL|FINGERPRINT")
@_dir_option
@click.option(
    "--reason",
    type=click.Choice(pki.REVOCATION_REASONS),
    default="unspecified",
    show_default=True,
    help="Why: recorded in the index and (unless unspecified) on the CRL.",
)
@click.option(
    "--crl-days",
    type=click.IntRange(min=1),
    default=pki.CRL_DAYS,
    show_default=True,
    help="How many days until the new CRL's next update.",
)
def revoke(*, which: str, root: Path, reason: pki.RevocationReason, crl_days: int) -> None:
    """Revoke a certificate: mark it in index.json and sign a new crl.pem.

    NAME means that name's current certificate; SERIAL is hex as `list`
    shows it (colons allowed) or decimal; FINGERPRINT is the SHA-256 or its
    first 16 hex digits. If several certificates match, nothing is revoked
    and they are listed. A running server applies the new crl.pem within
    seconds of it changing in the server's folder (or at once on SIGHUP), and
    ends the revoked user's session.
    """
    with _pki_errors():
        done = pki.revoke(root, which, reason=reason, crl_days=crl_days)
    entry = done.entry
    click.echo(
        f"revoked {visible(entry.name)} ({entry.kind}, serial {entry.serial}, fingerprint "
        f"{entry.fingerprint[:16]})"
    )
    _report(done.written)
    _crl_next_step(root)


def _crl_next_step(root: Path) -> None:
    """The exact copy of crl.pem onto the server host: a file onto a file, the same if run twice."""
    click.echo(
        f"Next: copy the new CRL to each server host, `scp -p {_quote(pki.CaFolder(root).crl)} "
        f"{_server_host(root)}:{_SERVER_FOLDER}/crl.pem` (a server run on this folder has it "
        "already): a running server applies it within seconds (or at once on `kill -HUP "
        "<pid of rtchat-server>`)."
    )


# Where rtchat-server looks first on its host, relative to the home folder
# scp and ssh start in: the same place whatever the local user's home is.
_SERVER_FOLDER = ".config/rtchat/server"


def _server_host(root: Path) -> str:
    """The server host for a copy command: the server certificate's name (users connect to it)."""
    try:
        names = pki.server_names(pki.CaFolder(root).server_cert)
    except PKIError:
        names = None
    return shlex.quote(names[0]) if names else "SERVER_HOST"


@main.command()
@_dir_option
@_days_option(pki.CRL_DAYS, "until the CRL's next update")
def crl(*, root: Path, days: int) -> None:
    """Sign crl.pem again, with a new next update; the revoked list stays the same.

    Do this before the next update `list` shows, copy the new crl.pem to
    each server's folder: a running server applies it within seconds (or
    at once on SIGHUP).
    """
    with _pki_errors():
        written = pki.renew_crl(root, days=days)
    _report(written)
    _crl_next_step(root)


@main.command("list")
@_dir_option
def list_command(*, root: Path) -> None:
    """List every certificate the CA issued: name, serial, fingerprint, expiry, status.

    Status is valid, expiring soon (within 30 days), expired or revoked;
    ", replaced" marks a certificate that still works but has a newer one of
    the same name (a renewal: revoke it by serial if it must stop working).
    Run on a server or user folder, it says that is not a CA folder.
    """
    with _pki_errors():
        rows = pki.list_certificates(root)
        replaced = pki.replaced_serials([entry for entry, _ in rows])
        folder = pki.CaFolder(root)
        crl_file = pki.load_crl(folder.crl) if folder.crl.exists() else None
    if not rows:
        click.echo(f"no certificates recorded in {folder.index}")
    else:
        table = [("NAME", "KIND", "SERIAL", "FINGERPRINT", "NOT AFTER", "STATUS")]
        table += [
            (
                visible(entry.name),
                entry.kind,
                entry.serial,
                entry.fingerprint[:16],
                entry.not_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
                f"{status}, replaced" if entry.serial in replaced else status,
            )
            for entry, status in rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
        for row in table:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            click.echo("  ".join([*cells, row[-1]]))
    if crl_file is not None:
        _crl_footer(folder, crl_file)


def _crl_footer(folder: pki.CaFolder, crl_file: x509.CertificateRevocationList) -> None:
    """One line about crl.pem: how many it revokes and when it must be re-signed."""
    next_update = crl_file.next_update_utc
    line = f"{folder.crl}: {len(crl_file)} revoked"
    if next_update is not None:
        line += f", next update {next_update.strftime('%Y-%m-%d %H:%M UTC')}"
        if next_update <= dt.datetime.now(dt.UTC):
            line += f" -- past: re-sign it now with `rtchat-certs crl --dir {_quote(folder.root)}`"
    click.echo(line)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Check against this CA or server folder (issuer, revocation). Default: the "
    "folder FILE is in, if it holds a ca.crt.",
)
@click.option(
    "--for",
    "role",
    type=click.Choice(["client", "server"]),
    default=None,
    help="Check a certificate for this use only (default: every use its EKU allows).",
)
@click.option(
    "--cn",
    "server_name",
    metavar="NAME",
    default=None,
    help="Check that clients connecting with --cn NAME accept it as the server's certificate.",
)
def show(
    *, file: Path, folder: Path | None, role: pki.Role | None, server_name: str | None
) -> None:
    """Explain a certificate, certificate request (CSR) or CRL, PEM or DER.

    Prints its subject, names (SANs), uses (EKUs), validity, fingerprints and
    issuer, says what it is for (a CA, a client or server certificate, a
    self-signed certificate that can be pinned), and warns about what would
    make it fail here: expired, no clientAuth, a name that does not match, a
    CRL past its next update, a revoked certificate.
    """
    with _pki_errors():
        info = pki.describe_file(file, folder=folder, role=role, server_name=server_name)
    click.echo(f"{file}: {info.summary}")
    width = max(len(label) for label, _ in info.fields)
    for label, value in info.fields:
        click.echo(f"  {label.ljust(width)}  {value}")
    if info.checked_against is not None:
        click.echo(f"checked against {info.checked_against}")
    for note in info.notes:
        click.echo(f"note: {note}")
    for warning in info.warnings:
        click.echo(f"warning: {warning}")
    if not info.warnings:
        click.echo("no warnings")


@main.command("server-cert")
@_dir_option
@click.option(
    "--cn",
    default=None,
    help="The server's name: the name clients pass as --cn. It is also a subjectAltName. "
    "[default: for a renewal, the CN of the certificate it replaces]",
)
@click.option(
    "--san",
    "sans",
    multiple=True,
    metavar="NAME_OR_IP",
    help="Another DNS name or IP address clients use to reach the server (repeatable).",
)
@_key_type_option
@_days_option(pki.SERVER_DAYS, "the server certificate is valid")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write a complete server folder here (ca.crt, server.crt, server.key, crl.pem), "
    "for another host. Without it, server.crt and server.key of the CA folder are "
    "replaced (needs --force).",
)
@_force_option
def server_cert(
    *,
    root: Path,
    cn: str | None,
    sans: tuple[str, ...],
    key_type: pki.KeyType,
    days: int,
    out_dir: Path | None,
    force: bool,
) -> None:
    """Issue a new server certificate from the existing CA (renewal, or another host).

    `server-cert --force` renews server.crt of the CA folder with the same
    names. Without --san, a renewal in the CA folder keeps the names of the
    certificate it replaces, if that one is for the same --cn; if the names
    change, it says which, and warns about names that clients may still
    use. The old certificate stays valid until it expires unless you revoke
    it (by serial: `list` shows it). A running server picks up a new
    certificate within seconds of the file changing (or at once on SIGHUP).
    """
    cert_path = (out_dir if out_dir is not None else root) / "server.crt"
    before = _server_names(cert_path)
    with _pki_errors():
        written = pki.issue_server_certificate(
            root, cn, sans or None, key_type=key_type, days=days, out_dir=out_dir, force=force
        )
        after = pki.server_names(cert_path) or []
    _report(written)
    if before is not None and set(before) != set(after):
        _names_changed(root, out_dir, before, after)


def _server_names(cert_path: Path) -> list[str] | None:
    """The names of the certificate about to be replaced; None if none can be read."""
    try:
        return pki.server_names(cert_path)
    except PKIError:
        return None  # a damaged certificate: replacing it is the point, not an error


def _names_changed(root: Path, out_dir: Path | None, before: list[str], after: list[str]) -> None:
    """Say that the replaced certificate's names differ: a dropped name locks clients out.

    The command that restores the old names renews the same certificate: with
    ``--out``, that of the other server's folder, not the CA folder's.
    """
    click.echo(f"names: {', '.join(before)} -> {', '.join(after)}")
    dropped = [name for name in before if name not in after]
    if not dropped:
        return
    old_cn, *old_sans = before  # ours list the CN first, and it is a SAN too
    out = [f"--out {_quote(out_dir)}"] if out_dir is not None else []
    restore = " ".join(
        [f"rtchat-certs server-cert --dir {_quote(root)}", *out, f"--cn {shlex.quote(old_cn)}"]
        + [f"--san {shlex.quote(name)}" for name in old_sans]
        + ["--force"]
    )
    _warn(
        f"the new certificate drops {', '.join(dropped)}: clients that use "
        f"{'that name' if len(dropped) == 1 else 'those names'} will be refused once the "
        f"server uses it; if that was not meant, `{restore}` makes one with the old names again"
    )


def _warn(message: str) -> None:
    """One line ``rtchat-certs: warning: ...`` on stderr: done, but not what was likely meant."""
    click.echo(f"{PROG}: warning: {message}", err=True)


@main.command("server-bundle")
@_dir_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The server folder to write (created with mode 0700).",
)
@_force_option
def server_bundle(*, root: Path, out_dir: Path, force: bool) -> None:
    """Copy what a server needs into a server folder: never ca.key.

    ca.crt, server.crt, server.key (mode 0600) and crl.pem. Copy the folder's
    contents (never the folder: copied again, it would land inside the old
    one) into ~/.config/rtchat/server on the server host (on Linux), where
    rtchat-server looks by default, or run `rtchat-server --pki DIR` there.
    After a revoke, a crl renewal or a new server certificate, run it again
    with --force (unchanged files are left alone) and copy what changed: a
    running server applies it within seconds (or at once on SIGHUP).
    """
    with _pki_errors():
        written = pki.server_bundle(root, out_dir, force=force)
    _report(written)
    click.echo(_bundle_next_step(root, out_dir, written))


def _bundle_next_step(root: Path, out_dir: Path, written: Sequence[pki.Written]) -> str:
    """What to do with the server folder now, from what changed in it.

    Every copy command copies the folder's contents (or one file) into the
    server's folder, never the folder itself: run again, `scp -r` puts the
    folder inside the old one, and the server keeps its old crl.pem.
    """
    default = locations.app_dir() / "server"  # rtchat-server's first choice without --pki
    here = pki.same_folder(out_dir, default)  # made on the server host, where it is used
    changed = [item.path.name for item in written if item.action != "unchanged"]
    reload = (
        "the running server applies it within seconds (or at once on "
        "`kill -HUP <pid of rtchat-server>`; no restart needed)"
    )
    if not changed:
        return f"Nothing changed: {out_dir} already matches the CA folder."
    host = _server_host(root)
    if all(item.action == "wrote" for item in written):
        if here:
            return f"Next: run `rtchat-server` on this host: it uses {out_dir} by default."
        return (
            f"Next: copy the folder's contents to the server host, `ssh {host} mkdir -p -m 700 "
            f"{_SERVER_FOLDER}` and `scp -p {_quote(out_dir)}/* {host}:{_SERVER_FOLDER}/`, "
            "where rtchat-server looks by default; then run `rtchat-server` there."
        )
    if here:
        return f"Next: {reload}."
    what = "only crl.pem changed" if changed == ["crl.pem"] else f"{', '.join(changed)} changed"
    files = " ".join(_quote(out_dir / name) for name in changed)
    return f"Next: {what}: `scp -p {files} {host}:{_SERVER_FOLDER}/`: {reload}."


if __name__ == "__main__":
    main(prog_name=PROG)

"""``rtchat``: join a chat server."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from cryptography import x509

from .. import locations, pki
from ..client import config
from ..client.address import split_host_port
from ..client.connection import Endpoint, ServerConnection
from ..client.identity import certificate_expiry, check_client_certificate
from ..client.interactive import InteractiveClient, Look, ask
from ..client.plain import Lines, PlainClient, start_stdin_thread
from ..client.signatures import Signatures
from ..client.state import ResumePoint
from ..errors import ConfigError, ExitCode, PKIError, ServerNameMismatch, WrongPassphrase
from ..protocol import DEFAULT_ROOM
from ..rooms import room_problem
from ..signing import SIGNING_KEYS
from ..tls import ClientFiles, client_context, key_is_encrypted
from .common import (
    CONTEXT,
    PASSPHRASE_ENV,
    fail,
    passphrase_from_env,
    run_async,
    version_option,
)

PROGRAM = "rtchat"
_FILE = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)


@click.group(
    invoke_without_command=True,
    context_settings={**CONTEXT, "auto_envvar_prefix": "RTCHAT"},
    epilog=(
        "Options can also come from the environment as RTCHAT_<OPTION> "
        "(RTCHAT_HOST, RTCHAT_PORT, RTCHAT_CN, RTCHAT_NAME, ...); a key's passphrase "
        "from RTCHAT_PASSPHRASE (else it is asked). "
        "Exit codes: 0 ok, 1 a setting or certificate file that cannot be used, 2 usage, "
        "3 cannot connect, 4 server certificate not trusted "
        "or not for --cn, 5 refused by the server, 6 connection lost, "
        "7 messages not echoed in time (--plain), 8 a message refused or not sendable, "
        "or a line that is no command (--plain)."
    ),
)
@click.option(
    "--profile",
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, _, value: _use_profile(ctx, value),
    help="Take defaults from [profiles.NAME] in config.toml (else from its [defaults]).",
)
@click.option(
    "--host",
    help="The server's address (name or IP); HOST:PORT or [IPv6]:PORT give the port too.",
)
@click.option("--port", type=click.IntRange(1, 65535), help="The server's port.")
@click.option(
    "--cn",
    help="The name on the server's certificate (its CN or a SAN).  [default: the host]",
)
@click.option(
    "--name",
    help="Your chat name; under the default server setting it is your certificate's CN anyway.",
)
@click.option(
    "--identity",
    type=_DIR,
    metavar="DIR",
    help="Your user folder: NAME.key, NAME.crt and ca.crt (from rtchat-certs request "
    "and the admin's sign --out).  [default: the per-user config folder's identity/]",
)
@click.option(
    "--pki",
    type=_DIR,
    metavar="DIR",
    help="A CA folder made by rtchat-certs: uses DIR/ca.crt and "
    "DIR/clients/NAME.crt|key (needs --name).",
)
@click.option("--cert", type=_FILE, help="Your certificate (PEM).")
@click.option("--key", type=_FILE, help="Your private key (PEM).")
@click.option(
    "--ca",
    type=_FILE,
    help="What to trust for the server: the CA certificate, or the server's "
    "own self-signed certificate.",
)
@click.option(
    "--state",
    type=_FILE,
    metavar="FILE",
    help="Where to remember the last message shown per server, to resume there next time.  "
    "[default: client-state.json in the per-user data folder]",
)
@click.option(
    "--plain",
    is_flag=True,
    help="One line per event on stdout, lines from stdin sent as messages; "
    "automatic when stdin is not a terminal.",
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="--plain: at end of input, seconds to wait for our messages to come back "
    "(and /who, /whois to be answered).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds to connect and finish the TLS handshake.",
)
@click.option(
    "--ping-interval",
    type=click.FloatRange(0.1),
    default=30.0,
    show_default=True,
    help="Ping a server silent this many seconds; give up when it stays silent.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Like --plain, but every event is one JSON object per line (for bots: docs/bots.md).",
)
@click.option(
    "--room",
    metavar="#ROOM",
    callback=lambda ctx, param, value: _room_option(value),
    help="The room to type into (and, with --plain, to send every line to); joined if you "
    "are not in it yet. Default: the lobby.",
)
@click.option(
    "--require-signed",
    is_flag=True,
    help="Hide every message whose signature is missing or does not verify (one line says "
    "so instead); without it they are shown, marked '!! UNVERIFIED'. See docs/security.md.",
)
@click.option(
    "--crl",
    type=_FILE,
    metavar="FILE",
    help="Your CA's revocation list (PEM): messages signed after a certificate's revocation "
    "do not verify.",
)
@click.option("--no-color", is_flag=True, help="No colours (NO_COLOR in the environment too).")
@click.option("--no-bell", is_flag=True, help="Do not ring the terminal bell on a mention.")
@click.option(
    "--save-profile",
    metavar="[NAME]",
    is_flag=False,
    flag_value=config.DEFAULTS,
    help="Once connected, save the server and identity options into config.toml: as "
    "[defaults] (alone, or NAME defaults), which a bare rtchat uses, or as [profiles.NAME].",
)
@version_option(PROGRAM)
@click.pass_context
def main(ctx: click.Context, /, **options: Any) -> None:
    """Join a realtimechat server and chat.

    On a terminal it asks for whatever is missing (server address and port;
    your name only when several certificates could be yours), then keeps
    your input line intact while messages arrive above it. Type a line to
    send it. /who lists who is online, /me TEXT sends an action, /msg NAME
    TEXT a private message, /quit (or Ctrl-D) leaves; Ctrl-C clears the
    line, or leaves on an empty one; a message not yet sent is never dropped
    without asking. Start a line with // to send a literal /.

    Settings come from the command line, then the environment, then the
    profile in config.toml (see --profile), then the built-in defaults.
    `rtchat join FILE` installs the invite your admin sent and joins.
    """
    settings = ChatSettings(**options)
    ctx.obj = settings  # `join` connects with these (--no-color, --plain, ...)
    if ctx.invoked_subcommand is not None:
        return
    if settings.host is not None:
        settings.host, settings.port = given_address(ctx, settings.host, settings.port)
    start_chat(settings)


@dataclass
class ChatSettings:
    """Every option of ``rtchat`` that says where, who and how to chat."""

    host: str | None
    port: int | None
    cn: str | None
    name: str | None
    identity: Path | None
    pki: Path | None
    cert: Path | None
    key: Path | None
    ca: Path | None
    state: Path | None
    plain: bool
    wait: float
    connect_timeout: float
    ping_interval: float
    as_json: bool
    room: str | None  # --room: None for the lobby
    require_signed: bool
    crl: Path | None
    no_color: bool
    no_bell: bool
    save_profile: str | None

    @property
    def interactive(self) -> bool:
        return not self.plain and not self.as_json and sys.stdin.isatty() and sys.stdout.isatty()


def start_chat(settings: ChatSettings) -> None:
    """Chat with ``settings`` until the user leaves, or exit with why not."""
    if not settings.interactive:
        missing = [
            flag
            for flag, value in (("--host", settings.host), ("--port", settings.port))
            if value is None
        ]
        if missing:
            fail(
                PROGRAM,
                ConfigError(
                    f"missing {', '.join(missing)}: say which server to join "
                    "(for example --host 127.0.0.1 --port 8443)"
                ),
                2,
            )
    run_async(PROGRAM, lambda: chat(settings))


async def chat(settings: ChatSettings, passphrase: str | None = None) -> None:
    """Ask what is missing, open the key, then chat; on a terminal, a wrong CN is asked again."""
    s = settings
    interactive = s.interactive
    # A --cn given is meant: a wrong one ends the run (exit 4). One that
    # only defaulted to the host is asked again on a terminal.
    cn_given = s.cn is not None
    if interactive:
        if s.host is None:
            s.host, s.port = await ask_address(s.port)
        s.port = s.port or await ask_port()
        if s.cert is None and s.key is None and s.name is None:
            s.name = await name_unless_decided(s.pki, s.identity)
    if s.host is None or s.port is None:  # pragma: no cover - checked by start_chat
        raise ConfigError("missing --host or --port")
    # The host is the name we check by default: what people type is what the
    # admin listed (init --san), and the development server carries 127.0.0.1.
    s.cn = s.cn or s.host
    files = locations.client_files(
        cert=s.cert, key=s.key, ca=s.ca, pki=s.pki, name=s.name, identity=s.identity
    )
    check_client_certificate(files.cert)  # before a passphrase is asked, or a byte sent
    if passphrase is None:
        passphrase = await key_passphrase(files.key, interactive=interactive)
    password = (lambda: passphrase) if passphrase else None
    while True:
        try:
            await chat_once(s, files, password)
        except ServerNameMismatch as exc:
            if cn_given or not interactive or not exc.names:
                raise
            # Asked, never given up on: the certificate's own names are on offer.
            click.echo(
                f"  the server's certificate is not for {s.cn!r} "
                f"(it is for: {', '.join(exc.names)})",
                err=True,
            )
            s.cn = await ask("Server certificate name (CN)", exc.names[0])
        else:
            return


async def name_unless_decided(pki: Path | None, identity: Path | None) -> str | None:
    """Your name, asked only when no single certificate decides it.

    A user folder (or a CA folder's clients/) with one certificate is the
    one to use; with several, the name picks one of them.
    """
    decided = locations.guess_name(cert=None, pki=pki, identity=identity)
    if decided is None:
        return await ask("Your name")
    return decided if pki is not None else None  # --pki needs it; a user folder does not


async def chat_once(
    s: ChatSettings, files: ClientFiles, password: Callable[[], str] | None
) -> None:
    """One chat with the server at ``s.host``:``s.port`` as ``s.cn``, from the first connect."""
    assert s.host is not None
    assert s.port is not None
    assert s.cn is not None
    context = client_context(files, passphrase=password)

    def names_context() -> ssl.SSLContext:
        """Ours without the name check: only to read what a wrong --cn should have been."""
        probe = client_context(files, passphrase=password)
        probe.check_hostname = False  # the chain is still verified: CERT_REQUIRED stays
        return probe

    endpoint = Endpoint(host=s.host, port=s.port, cn=s.cn)
    resume = ResumePoint(
        s.state or locations.data_dir() / "client-state.json", resume_key(endpoint, files)
    )
    saved = False

    async def opener() -> ServerConnection:
        nonlocal saved
        connection = await ServerConnection.open(
            endpoint,
            context,
            timeout=s.connect_timeout,
            ping_interval=s.ping_interval,
            pong_timeout=max(s.ping_interval / 2, 5.0),
            names_context=names_context,
            trust=files.ca,
        )
        if s.save_profile and not saved:
            saved = True  # once the server is reached: a profile that is known to work
            save_settings(s, s.save_profile)
        return connection

    expires = certificate_expiry(files.cert)  # warned about at join when it is soon
    signatures = load_signatures(files, password, resume.path, s.crl)
    if s.interactive:
        look = Look.from_options(no_color=s.no_color, no_bell=s.no_bell)
        await InteractiveClient(
            opener,
            endpoint,
            name=s.name,
            resume=resume,
            look=look,
            room=s.room,
            certificate_expires=expires,
            signatures=signatures,
            require_signed=s.require_signed,
        ).run()
        return
    lines: Lines = asyncio.Queue()
    start_stdin_thread(asyncio.get_running_loop(), lines)
    plain_client = PlainClient(
        opener,
        sys.stdout,
        wait=s.wait,
        name=s.name,
        resume=resume,
        as_json=s.as_json,
        room=s.room,
        certificate_expires=expires,
        signatures=signatures,
        require_signed=s.require_signed,
    )
    await plain_client.run(lines)


def load_signatures(
    files: ClientFiles,
    password: Callable[[], str] | None,
    state: Path | None,
    crl: Path | None,
) -> Signatures:
    """What signs our messages and judges others' (client/signatures.py), from our files.

    The key is the one TLS loads; what we trust for the server is what we
    trust for signers; the state file's folder keeps the sequence numbers
    and the first certificate seen per name.
    """
    passphrase = password().encode() if password is not None else None
    key = pki.load_private_key(files.key, passphrase)
    if not isinstance(key, SIGNING_KEYS):
        raise ConfigError(f"{files.key}: a {type(key).__name__} cannot sign messages")
    crls = []
    if crl is not None:
        try:
            crls.append(x509.load_pem_x509_crl(crl.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the revocation list {crl}: {exc}") from None
    return Signatures(
        key,
        pki.load_certificate(files.cert),
        pki.load_certificates(files.ca),
        state.parent if state is not None else None,
        crls,
    )


@main.command(short_help="Install an invite FILE from your admin, then join.")
@click.argument("file", type=_FILE)
@click.option(
    "--identity",
    type=_DIR,
    metavar="DIR",
    help="The user folder to install into.  [default: the per-user config folder's identity/]",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace files in the folder that differ from the invite's (without it: asked on "
    "a terminal, refused elsewhere).",
)
@click.option(
    "--keep-passphrase",
    is_flag=True,
    help="Keep the key encrypted with the invite's passphrase: rtchat asks for it each time.",
)
@click.pass_obj
def join(
    settings: ChatSettings,
    /,
    *,
    file: Path,
    identity: Path | None,
    force: bool,
    keep_passphrase: bool,
) -> None:
    """Install the invite FILE from your admin, and join: the one command to get in.

    Asks for the invite's passphrase (the admin tells it to you apart from
    the file; or RTCHAT_PASSPHRASE), puts your key (mode 0600), certificate
    and ca.crt into your user folder (mode 0700), saves the server as your
    [defaults] in config.toml, and joins. From then on, `rtchat` alone
    joins. An invite made from your own request (`rtchat-certs request`,
    then the admin's `sign --invite`) has no key: run join where your key
    is. A file in the folder that differs is never replaced without asking.
    """
    run_async(
        PROGRAM, lambda: join_with(settings, file, identity, force=force, keep=keep_passphrase)
    )


async def join_with(
    settings: ChatSettings, file: Path, identity: Path | None, *, force: bool, keep: bool
) -> None:
    """Read the invite, open its key, install it, save the server, then chat."""
    invite = pki.read_invite(file)
    interactive = settings.interactive
    key: bytes | None = None
    passphrase: str | None = None
    if invite.key is not None:
        passphrase = await ask_passphrase(
            f"Passphrase for {file.name}",
            lambda answer: opens_invite(invite, answer),
            f"the key in {file}",
            interactive=interactive,
        )
        key = invite.key if keep else pki.reencode_key(pki.open_key(invite, passphrase))
    folder = identity or locations.app_dir() / "identity"
    installed = await install(invite, folder, key, force=force, interactive=interactive)
    for item in installed.written:
        click.echo(f"{item.action} {home_relative(item.path)}{_install_note(item)}", err=True)
    settings.host, settings.port = invite.server.host, invite.server.port
    settings.cn, settings.name = invite.server.cn, invite.name
    settings.identity = installed.folder
    settings.cert = settings.key = settings.ca = settings.pki = None
    save_settings(settings, profile_for(settings))
    settings.save_profile = None
    await chat(settings, passphrase if keep else None)


def opens_invite(invite: pki.Invite, passphrase: str) -> bool:
    try:
        pki.open_key(invite, passphrase)
    except WrongPassphrase:
        return False
    return True


async def install(
    invite: pki.Invite, folder: Path, key: bytes | None, *, force: bool, interactive: bool
) -> pki.Installed:
    """Install the invite; on a terminal, a file that differs is replaced only if you say so."""
    try:
        return pki.install_invite(invite, folder, key=key, force=force)
    except PKIError as exc:
        if not interactive or "already exists and differs" not in str(exc):
            raise
        click.echo(f"  {str(exc).split(': nothing was installed')[0]}", err=True)
        if (await ask("Replace it with the invite's (y/n)", "n")).lower() not in ("y", "yes"):
            raise PKIError("nothing was installed: the files there stay as they were") from None
        return pki.install_invite(invite, folder, key=key, force=True)


def home_relative(path: Path) -> str:
    """``path`` as ``~/...`` under the home folder: short, and what people type."""
    try:
        return f"~/{path.resolve().relative_to(Path.home().resolve())}"
    except (ValueError, OSError):
        return str(path)


def _install_note(item: pki.Written) -> str:
    if item.path.suffix == ".key" and item.action != "removed":
        mode = item.path.stat().st_mode & 0o777
        return f" (private key, mode {mode:04o})"
    return " (already the same)" if item.action == "unchanged" else ""


def profile_for(settings: ChatSettings) -> str:
    """Where to save a server that was joined: [defaults], unless they are another server's.

    Another server in [defaults] stays the one a bare rtchat joins; this one
    gets a profile named after its host.
    """
    current = config.load_profile(None)
    if not current.get("host") or (current.get("host"), current.get("port")) == (
        settings.host,
        settings.port,
    ):
        return config.DEFAULTS
    return str(settings.host)


def save_settings(s: ChatSettings, profile: str) -> None:
    """Write the server and identity settings into config.toml as ``profile``."""
    given = {key: getattr(s, key) for key in config.PROFILE_KEYS}
    saved_to = config.save_profile(profile, given)
    if profile == config.DEFAULTS:
        click.echo(
            f"saved [defaults] to {home_relative(saved_to)}: `rtchat` alone joins it", err=True
        )
    else:
        click.echo(
            f"saved [profiles.{profile}] to {home_relative(saved_to)}: "
            f"`rtchat --profile {profile}` joins it",
            err=True,
        )


def _room_option(value: str | None) -> str | None:
    """--room: a room name (checked before anything connects), or None for the lobby."""
    if value is None or value == DEFAULT_ROOM:
        return None
    problem = room_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--room")
    return value


def _use_profile(ctx: click.Context, profile: str | None) -> None:
    """Load config.toml's defaults (and a profile) under everything else given."""
    try:
        values = config.load_profile(profile)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="--profile") from None
    ctx.default_map = {**(ctx.default_map or {}), **values}


PASSPHRASE_TRIES = 3  # as ssh gives: a typo is not the end, guessing stays slow


async def key_passphrase(key: Path, *, interactive: bool) -> str | None:
    """The passphrase for ``key`` if it has one: from RTCHAT_PASSPHRASE, else asked."""
    if not key_is_encrypted(key):
        return None
    return await ask_passphrase(
        f"Passphrase for {key.name}",
        lambda answer: opens(key, answer),
        f"key {key}",
        interactive=interactive,
    )


async def ask_passphrase(
    question: str, opens: Callable[[str], bool], what: str, *, interactive: bool
) -> str:
    """A passphrase that ``opens`` says is right: from RTCHAT_PASSPHRASE, else asked.

    A wrong answer is asked again, three tries in all, as ssh does. A wrong
    one from the environment ends it at once: nobody is there to retype it.
    """
    from_env = passphrase_from_env()
    if from_env is not None:
        variable, value = from_env
        if not opens(value):
            raise PKIError(f"wrong passphrase for {what} (from {variable})")
        return value
    if not interactive and not sys.stdin.isatty():
        raise ConfigError(f"{what} is protected by a passphrase: set {PASSPHRASE_ENV}")
    for attempt in range(1, PASSPHRASE_TRIES + 1):
        if interactive:
            answer = await ask(question, secret=True)
        else:
            answer = await asyncio.to_thread(getpass.getpass, f"{question}: ")
        if opens(answer):
            return answer
        if attempt < PASSPHRASE_TRIES:
            click.echo("  wrong passphrase, try again", err=True)
    raise PKIError(f"wrong passphrase for {what} ({PASSPHRASE_TRIES} tries)")


def opens(key: Path, passphrase: str) -> bool:
    """Whether ``passphrase`` opens the key in ``key`` (a key that cannot be read: True).

    A key that fails for another reason is left for loading it to explain.
    """
    try:
        pki.load_private_key(key, passphrase.encode())
    except WrongPassphrase:
        return False
    except PKIError:
        return True
    return True


def resume_key(endpoint: Endpoint, files: ClientFiles) -> str:
    """Which resume point is ours: this server, under this certificate."""
    try:
        fingerprint = hashlib.sha256(files.cert.read_bytes()).hexdigest()[:16]
    except OSError:
        fingerprint = str(files.cert)
    return f"{endpoint}/{endpoint.cn}/{fingerprint}"


# Where an option's value came from, strongest first (click's own order).
_SOURCES = (
    ParameterSource.COMMANDLINE,
    ParameterSource.ENVIRONMENT,
    ParameterSource.DEFAULT_MAP,
    ParameterSource.DEFAULT,
)


def given_address(ctx: click.Context, host: str, port: int | None) -> tuple[str, int | None]:
    """--host, which may carry the port (HOST:PORT), and --port, as one address.

    A port in --host and a different --port given at the same level (both on
    the command line, say) are a usage error. Given at different levels, the
    stronger wins, as for any option: ``--host HOST:PORT`` typed now beats
    the port of a profile.
    """
    try:
        name, in_host = split_host_port(host)
    except ConfigError as exc:
        fail(PROGRAM, ConfigError(f"--host: {exc}"), ExitCode.USAGE)
    if in_host is None or port is None or in_host == port:
        return name, in_host or port
    host_from, port_from = ctx.get_parameter_source("host"), ctx.get_parameter_source("port")
    if host_from == port_from:
        fail(
            PROGRAM,
            ConfigError(
                f"{_given_as(host_from, 'host')} {host} says port {in_host} but "
                f"{_given_as(port_from, 'port')} says {port}: give the port once"
            ),
            ExitCode.USAGE,
        )
    return name, in_host if _strength(host_from) < _strength(port_from) else port


def _strength(source: ParameterSource | None) -> int:
    return _SOURCES.index(source) if source in _SOURCES else len(_SOURCES)


def _given_as(source: ParameterSource | None, option: str) -> str:
    """How the user gave ``option``: --host, RTCHAT_HOST or host in config.toml."""
    if source is ParameterSource.ENVIRONMENT:
        return f"RTCHAT_{option.upper()}"
    if source is ParameterSource.DEFAULT_MAP:
        return f"{option} in config.toml"
    return f"--{option}"


async def ask_address(port: int | None) -> tuple[str, int | None]:
    """Ask for the server's address (HOST, or HOST:PORT when no port is known yet)."""
    while True:
        try:
            host, in_host = split_host_port(await ask("Server address"))
        except ConfigError as exc:
            click.echo(f"  {exc}", err=True)
            continue
        if in_host is not None and port is not None and in_host != port:
            click.echo(f"  that address says port {in_host} but --port says {port}", err=True)
            continue
        return host, in_host or port


async def ask_port() -> int:
    while True:
        answer = await ask("Port", "8443")
        if answer.isdigit() and 0 < int(answer) < 65536:
            return int(answer)


if __name__ == "__main__":
    main()

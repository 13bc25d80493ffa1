"""``rtchat``: join a chat server."""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import os
import ssl
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .. import locations
from ..client import config
from ..client.address import split_host_port
from ..client.connection import Endpoint, ServerConnection
from ..client.identity import certificate_expiry, check_client_certificate
from ..client.interactive import InteractiveClient, Look, ask
from ..client.plain import Lines, PlainClient, start_stdin_thread
from ..client.state import ResumePoint
from ..errors import ConfigError, ExitCode
from ..tls import ClientFiles, client_context, key_is_encrypted
from .common import CONTEXT, fail, run_async, version_option

PROGRAM = "rtchat"
_FILE = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)


@click.command(
    context_settings={**CONTEXT, "auto_envvar_prefix": "RTCHAT"},
    epilog=(
        "Options can also come from the environment as RTCHAT_<OPTION> "
        "(RTCHAT_HOST, RTCHAT_PORT, RTCHAT_CN, RTCHAT_NAME, ...). "
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
@click.option("--cn", help="The name on the server's certificate (its CN or a SAN).")
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
@click.option("--no-color", is_flag=True, help="No colours (NO_COLOR in the environment too).")
@click.option("--no-bell", is_flag=True, help="Do not ring the terminal bell on a mention.")
@click.option(
    "--save-profile",
    metavar="NAME",
    help="Save the server and identity options given into config.toml as NAME.",
)
@version_option(PROGRAM)
def main(  # click passes every option by keyword
    *,
    host: str | None,
    port: int | None,
    cn: str | None,
    name: str | None,
    identity: Path | None,
    pki: Path | None,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    state: Path | None,
    plain: bool,
    wait: float,
    connect_timeout: float,
    ping_interval: float,
    as_json: bool,
    no_color: bool,
    no_bell: bool,
    save_profile: str | None,
) -> None:
    """Join a realtimechat server and chat.

    On a terminal it asks for whatever is missing (server address, port, the
    name on the server's certificate, your name), then keeps your input line
    intact while messages arrive above it. Type a line to send it. /who lists
    who is online, /me TEXT sends an action, /msg NAME TEXT a private message,
    /quit (or Ctrl-D) leaves; Ctrl-C clears the line, or leaves on an empty
    one; a message not yet sent is never dropped without asking. Start a line
    with // to send a literal /.

    Settings come from the command line, then the environment, then the
    profile in config.toml (see --profile), then the built-in defaults.
    """
    interactive = not plain and not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    if host is not None:
        host, port = given_address(click.get_current_context(), host, port)
    if not interactive:
        missing = [
            flag
            for flag, value in (("--host", host), ("--port", port), ("--cn", cn))
            if value is None
        ]
        if missing:
            fail(
                PROGRAM,
                ConfigError(
                    f"missing {', '.join(missing)}: say which server to join "
                    "(for example --host 127.0.0.1 --port 8443 --cn chatserver)"
                ),
                2,
            )

    async def chat() -> None:
        nonlocal host, port, cn, name
        if interactive:
            if host is None:
                host, port = await ask_address(port)
            port = port or await ask_port()
            cn = cn or await ask("Server certificate name (CN)", "chatserver")
            if cert is None and key is None:
                # The name picks the certificate from --pki or a user folder. With
                # --cert/--key it is chosen already, and a name would only be a
                # claim (servers with --names claim; the default names users by
                # their certificate): not asked, the server grants the CN's name.
                guess = locations.guess_name(cert=cert, pki=pki, identity=identity)
                name = name or await ask("Your name", guess)
        if host is None or port is None or cn is None:  # pragma: no cover - checked above
            raise ConfigError("missing --host, --port or --cn")
        if save_profile:
            given = {
                "host": host,
                "port": port,
                "cn": cn,
                "name": name,
                "identity": identity,
                "pki": pki,
                "cert": cert,
                "key": key,
                "ca": ca,
            }
            saved_to = config.save_profile(save_profile, given)
            click.echo(f"saved profile {save_profile!r} to {saved_to}", err=True)
        files = locations.client_files(
            cert=cert, key=key, ca=ca, pki=pki, name=name, identity=identity
        )
        check_client_certificate(files.cert)  # before a passphrase is asked, or a byte sent
        expires = certificate_expiry(files.cert)  # warned about at join when it is soon
        passphrase = await key_passphrase(files.key, interactive=interactive)
        password = (lambda: passphrase) if passphrase else None
        context = client_context(files, passphrase=password)

        def names_context() -> ssl.SSLContext:
            """Ours without the name check: only to read what a wrong --cn should have been."""
            probe = client_context(files, passphrase=password)
            probe.check_hostname = False  # the chain is still verified: CERT_REQUIRED stays
            return probe

        endpoint = Endpoint(host=host, port=port, cn=cn)
        resume = ResumePoint(
            state or locations.data_dir() / "client-state.json", resume_key(endpoint, files)
        )

        async def opener() -> ServerConnection:
            return await ServerConnection.open(
                endpoint,
                context,
                timeout=connect_timeout,
                ping_interval=ping_interval,
                pong_timeout=max(ping_interval / 2, 5.0),
                names_context=names_context,
                trust=files.ca,
            )

        if interactive:
            look = Look.from_options(no_color=no_color, no_bell=no_bell)
            await InteractiveClient(
                opener, endpoint, name=name, resume=resume, look=look, certificate_expires=expires
            ).run()
            return
        lines: Lines = asyncio.Queue()
        start_stdin_thread(asyncio.get_running_loop(), lines)
        plain_client = PlainClient(
            opener,
            sys.stdout,
            wait=wait,
            name=name,
            resume=resume,
            as_json=as_json,
            certificate_expires=expires,
        )
        await plain_client.run(lines)

    run_async(PROGRAM, chat)


def _use_profile(ctx: click.Context, profile: str | None) -> None:
    """Load config.toml's defaults (and a profile) under everything else given."""
    try:
        values = config.load_profile(profile)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="--profile") from None
    ctx.default_map = {**(ctx.default_map or {}), **values}


async def key_passphrase(key: Path, *, interactive: bool) -> str | None:
    """The passphrase for ``key`` if it has one: from RTCHAT_PASSPHRASE, else asked."""
    if not key_is_encrypted(key):
        return None
    from_env = os.environ.get("RTCHAT_PASSPHRASE")
    if from_env:
        return from_env
    question = f"Passphrase for {key.name}"
    if interactive:
        return await ask(question, secret=True)
    if sys.stdin.isatty():
        return await asyncio.to_thread(getpass.getpass, f"{question}: ")
    raise ConfigError(f"{key} is protected by a passphrase: set RTCHAT_PASSPHRASE")


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

"""``rtchat-server``: run a chat server."""

from __future__ import annotations

import datetime as dt
import errno
import signal
import sys
from pathlib import Path

import click

from .. import locations
from ..errors import ConfigError
from ..names import name_key
from ..protocol import MAX_LINE_BYTES
from ..server import audit
from ..server.app import ChatServer
from ..server.config import Limits, NamesMode, ServerSettings
from ..server.store import Durability, MemoryStore, SqliteStore
from .common import CONTEXT, LOOPS, fail, run_async, version_option

PROGRAM = "rtchat-server"
_FILE = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)
_DEFAULTS = Limits()
_SETTINGS = ServerSettings()
MAX_MOTD_CHARS = 4096
MIN_WATCH_INTERVAL = 0.1  # below this, stat() in a busy loop
MAX_WATCH_INTERVAL = 86400.0


@click.group(
    invoke_without_command=True,
    context_settings={**CONTEXT, "auto_envvar_prefix": "RTCHAT_SERVER"},
    epilog=(
        "Every option can also be set in the environment as RTCHAT_SERVER_<OPTION>, "
        "for example RTCHAT_SERVER_PORT=8443. Certificates and trust are reloaded for "
        "new connections when their files change (--watch-interval) or on SIGHUP; "
        "SIGINT or SIGTERM stops it (everyone gets 'bye shutdown'), and so does "
        "closing the terminal it runs in."
    ),
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="ADDR",
    help="Address to listen on; repeat for several.  [default: all interfaces, IPv4 and IPv6]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="TCP port to listen on. Asked for on a terminal when missing.",
)
@click.option(
    "--pki",
    type=_DIR,
    metavar="DIR",
    help="A CA or server folder made by rtchat-certs: uses DIR/server.crt, "
    "DIR/server.key, DIR/ca.crt and DIR/crl.pem (required beside a CA).  "
    "[default: ~/.config/rtchat/server if it holds server.crt, else ~/.config/rtchat/ca]",
)
@click.option("--cert", type=_FILE, help="The server's certificate (PEM).")
@click.option("--key", type=_FILE, help="The server's private key (PEM).")
@click.option(
    "--ca",
    type=_FILE,
    help="Whom to trust: a CA certificate, or a bundle of the known clients' "
    "own (even self-signed) certificates.",
)
@click.option(
    "--crl",
    type=_FILE,
    help="Revoked certificates (PEM CRL from rtchat-certs). [default: crl.pem of the --pki folder]",
)
@click.option(
    "--watch-interval",
    type=float,
    callback=lambda _ctx, _param, value: _watch_interval(value),
    default=_SETTINGS.watch_interval,
    show_default=True,
    metavar="SECONDS",
    help="Look at the certificate files (certificate, key, CA, CRL) this often and "
    "reload them when they change, as SIGHUP does: a revoked user's session ends "
    "within seconds. 0: reload only on SIGHUP; else 0.1 to 86400.",
)
@click.option(
    "--names",
    type=click.Choice([mode.value for mode in NamesMode]),
    default=NamesMode.CN.value,
    show_default=True,
    help="cn: a user's name is their certificate's CN (nobody can pose as "
    "anyone). claim: users pick names, each kept by the first identity "
    "that used it.",
)
@click.option(
    "--motd",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file whose text every user sees on joining.",
)
@click.option(
    "--presence-limit",
    type=click.IntRange(0),
    default=_SETTINGS.presence_limit,
    show_default=True,
    help="Above this many users, joins and leaves are not announced to everyone.",
)
@click.option(
    "--history-lines",
    type=click.IntRange(0, 1000),
    default=_SETTINGS.history_lines,
    show_default=True,
    help="Messages shown to someone joining fresh (a reconnecting client gets all it missed).",
)
@click.option(
    "--data",
    type=_DIR,
    metavar="DIR",
    help="Where messages, seen refs and name owners are kept (SQLite).  "
    "[default: the per-user data folder, e.g. ~/.local/share/rtchat]",
)
@click.option(
    "--ephemeral",
    is_flag=True,
    help="Keep nothing on disk: history lives in memory and is lost at exit.",
)
@click.option(
    "--durability",
    type=click.Choice([mode.value for mode in Durability]),
    default=Durability.FULL.value,
    show_default=True,
    help="full: a stored message survives power loss. normal: it survives a killed "
    "process (faster).",
)
@click.option(
    "--retention",
    metavar="AGE|COUNT",
    help="Forget old messages: an age such as 30d or 12h, or a number of messages to keep.  "
    "[default: keep everything]",
)
@click.option(
    "--max-line-bytes",
    type=click.IntRange(256, MAX_LINE_BYTES),
    default=_DEFAULTS.max_line_bytes,
    show_default=True,
    help="Longest frame a client may send (protocol v1 allows at most 64 KiB).",
)
@click.option(
    "--handshake-timeout",
    type=click.FloatRange(0.1),
    default=_DEFAULTS.handshake_timeout,
    show_default=True,
    help="Seconds a TLS handshake may take.",
)
@click.option(
    "--hello-timeout",
    type=click.FloatRange(0.1),
    default=_DEFAULTS.hello_timeout,
    show_default=True,
    help="Seconds between the handshake and 'hello'.",
)
@click.option(
    "--max-handshakes",
    type=click.IntRange(1),
    default=_DEFAULTS.max_handshakes,
    show_default=True,
    help="TLS handshakes in progress at once.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=_DEFAULTS.max_connections,
    show_default=True,
    help="Connections in total.",
)
@click.option(
    "--queue-frames",
    type=click.IntRange(1),
    default=_DEFAULTS.queue_frames,
    show_default=True,
    help="Frames queued for one slow client before its messages are dropped (it gets a 'gap').",
)
@click.option(
    "--queue-bytes",
    type=click.IntRange(1024),
    default=_DEFAULTS.queue_bytes,
    show_default=True,
    help="Bytes queued for one slow client, likewise.",
)
@click.option(
    "--write-timeout",
    type=click.FloatRange(0.1),
    default=_DEFAULTS.write_timeout,
    show_default=True,
    help="Seconds a client may leave us unable to write before it is disconnected (slow_consumer).",
)
@click.option(
    "--ping-interval",
    type=click.FloatRange(0.1),
    default=_DEFAULTS.ping_interval,
    show_default=True,
    help="Ping a client silent this many seconds.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1),
    default=_DEFAULTS.idle_timeout,
    show_default=True,
    help="Disconnect a client silent this many seconds.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=_DEFAULTS.rate,
    show_default=True,
    help="Requests (messages, who, history) a client may make per second; 0 for no limit.",
)
@click.option(
    "--burst",
    type=click.IntRange(1),
    default=_DEFAULTS.burst,
    show_default=True,
    help="Requests a client may make at once before --rate applies.",
)
@click.option(
    "--max-per-address",
    type=click.IntRange(1),
    default=_DEFAULTS.max_per_address,
    show_default=True,
    help="Connections from one IP address.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: 'event key=value' lines; json: one JSON object per line.",
)
@click.option(
    "--loop",
    type=click.Choice(LOOPS),
    default="auto",
    show_default=True,
    help="The event loop: uvloop (faster), asyncio, or auto (uvloop when installed).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@version_option(PROGRAM)
@click.pass_context
def main(  # click passes every option by keyword
    ctx: click.Context,
    *,
    hosts: tuple[str, ...],
    port: int | None,
    pki: Path | None,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    crl: Path | None,
    watch_interval: float,
    names: str,
    motd: Path | None,
    presence_limit: int,
    history_lines: int,
    data: Path | None,
    ephemeral: bool,
    durability: str,
    retention: str | None,
    max_line_bytes: int,
    handshake_timeout: float,
    hello_timeout: float,
    max_handshakes: int,
    max_connections: int,
    queue_frames: int,
    queue_bytes: int,
    write_timeout: float,
    ping_interval: float,
    idle_timeout: float,
    rate: float,
    burst: int,
    max_per_address: int,
    log_format: str,
    loop: str,
    log_level: str,
) -> None:
    """Run a realtimechat server.

    Only clients whose certificate the server trusts get in; every message
    is sent to everyone in real time and stored, so that nobody misses any
    across reconnects and restarts. With no certificate options it uses the
    per-user folder that `rtchat-certs init` fills.
    """
    if ctx.invoked_subcommand is not None:
        return  # e.g. `rtchat-server names release NAME`
    audit.configure(log_level, log_format)
    if port is None:
        if not sys.stdin.isatty():
            fail(PROGRAM, ConfigError("missing --port (or RTCHAT_SERVER_PORT)"), 2)
        port = click.prompt("Port to listen on", type=click.IntRange(1, 65535), default=8443)
    try:
        files = locations.server_files(cert=cert, key=key, ca=ca, pki=pki, crl=crl)
        motd_text = read_motd(motd) if motd else None
        age, count = parse_retention(retention)
        store = (
            MemoryStore() if ephemeral else SqliteStore(store_path(data), Durability(durability))
        )
        server = ChatServer(
            files,
            hosts=hosts or None,
            port=port,
            limits=Limits(
                max_line_bytes=max_line_bytes,
                handshake_timeout=handshake_timeout,
                hello_timeout=hello_timeout,
                max_handshakes=max_handshakes,
                max_connections=max_connections,
                queue_frames=queue_frames,
                queue_bytes=queue_bytes,
                write_timeout=write_timeout,
                ping_interval=ping_interval,
                idle_timeout=max(idle_timeout, ping_interval),
                rate=rate,
                burst=burst,
                max_per_address=max_per_address,
            ),
            settings=ServerSettings(
                names=NamesMode(names),
                presence_limit=presence_limit,
                history_lines=history_lines,
                retention_age=age,
                retention_count=count,
                motd=motd_text,
                watch_interval=watch_interval,
            ),
            store=store,
        )
    except (ConfigError, OSError) as exc:
        fail(PROGRAM, exc if isinstance(exc, ConfigError) else ConfigError(str(exc)))

    async def serve() -> None:
        # Signals are handled before "listening on" is logged: a SIGHUP or
        # SIGTERM sent as soon as that line shows must not kill the server.
        with server.handling_signals() as stop:
            try:
                await server.start()
            except OSError as exc:
                raise ConfigError(_cannot_listen(port, exc)) from None
            await stop.wait()  # SIGINT or SIGTERM (or the terminal closed)
        # A second SIGINT or SIGTERM now has its default effect (stop at once);
        # a SIGHUP, a reload we are past caring about, must not kill us mid-goodbye.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        server.log.info("shutting down")
        await server.shutdown()

    run_async(PROGRAM, serve, loop=loop)


def _watch_interval(value: float) -> float:
    """0 (off) or a sane period: not a busy loop, not NaN (which would turn it off unseen)."""
    if value != 0 and not MIN_WATCH_INTERVAL <= value <= MAX_WATCH_INTERVAL:
        raise click.BadParameter(
            f"0 (reload only on SIGHUP) or {MIN_WATCH_INTERVAL:g} to {MAX_WATCH_INTERVAL:g} seconds"
        )
    return value


def _cannot_listen(port: int, exc: OSError) -> str:
    """Why the server cannot listen, and what to do about the usual cause."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on port {port}: it is already in use"
            " (another rtchat-server running?): stop that one or choose another --port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on port {port}: permission denied (ports below 1024 need privileges)"
    return f"cannot listen on port {port}: {exc.strerror or exc}"


@main.group()
def names() -> None:
    """Manage the names the server remembers."""


@names.command("release")
@click.argument("name")
@click.option("--data", type=_DIR, metavar="DIR", help="The server's --data folder.")
def release_name(name: str, data: Path | None) -> None:
    """Free NAME, so that another identity may use it (stop the server first)."""

    async def release() -> None:
        store = SqliteStore(store_path(data))
        await store.open()
        try:
            released = await store.release_name(name_key(name))
        finally:
            await store.close()
        if not released:
            raise ConfigError(f"no identity owns the name {name!r} in {store.path}")
        click.echo(f"released {name!r}: the next identity to use it will own it")

    run_async(PROGRAM, release)


def store_path(data: Path | None) -> Path:
    return (data or locations.data_dir()) / "messages.db"


def parse_retention(text: str | None) -> tuple[dt.timedelta | None, int | None]:
    """``30d``/``12h``/``90m`` is an age, a bare number a count of messages."""
    if not text:
        return None, None
    units = {"d": 86400, "h": 3600, "m": 60}
    number, unit = text[:-1], text[-1:].lower()
    if unit in units and number.isdigit() and int(number) > 0:
        return dt.timedelta(seconds=int(number) * units[unit]), None
    if text.isdigit() and int(text) > 0:
        return None, int(text)
    raise ConfigError(f"--retention {text!r}: give an age such as 30d, 12h or 90m, or a count")


def read_motd(path: Path) -> str | None:
    """The message of the day: UTF-8 text, small enough to ride in ``welcome``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --motd {path}: {exc}") from None
    if len(text) > MAX_MOTD_CHARS:
        raise ConfigError(f"--motd {path} is longer than {MAX_MOTD_CHARS} characters")
    return text or None


if __name__ == "__main__":
    main()

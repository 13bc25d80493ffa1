"""``rtchat-server``: run a chat server."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import errno
import signal
import socket
import sys
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import click

from .. import locations
from ..errors import ConfigError, RtchatError
from ..names import name_key
from ..server import audit
from ..server.app import ChatServer
from ..server.config import Limits, ServerSettings
from ..server.redis_store import RedisDurability, RedisStore, shown_url
from ..server.store import Durability, MemoryStore, SqliteStore, Store
from .common import CONTEXT, LOOPS, fail, run_async, version_option
from .settings import from_options, settings_options

PROGRAM = "rtchat-server"
_FILE = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)
MAX_MOTD_CHARS = 4096


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
    help="CA certificates (PEM): each lets in the users' certificates it issued. "
    "(Given alone, a bundle of users' own certificates is read as --pins, as before.)",
)
@click.option(
    "--pins",
    type=_FILE,
    help="Pinned certificates (PEM bundle, self-signed ones included): each lets in "
    "its holder and nobody else, whatever it says it may sign. With --ca, --cert/--key or --pki.",
)
@click.option(
    "--crl",
    type=_FILE,
    help="Revoked certificates (PEM CRL from rtchat-certs). [default: crl.pem of the --pki folder]",
)
@settings_options(ServerSettings)
@click.option(
    "--motd",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A file whose text every user sees on joining.",
)
@click.option(
    "--rooms",
    "rooms_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    help="A TOML file of rooms and who may enter each (names, group:NAME, *): private "
    "rooms. Reloaded on SIGHUP and when it changes, as the certificates are.",
)
@click.option(
    "--no-room-create",
    is_flag=True,
    help="Only the rooms of --rooms exist: a join never creates a room.",
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
    "--redis",
    "redis_url",
    metavar="URL",
    help="Keep the conversation in this Redis (redis://, rediss:// with TLS, or "
    "unix:///path/to/socket), shared with every other server on it, instead of SQLite "
    "(docs/scaling.md). --data, --ephemeral and --durability do not apply then.",
)
@click.option(
    "--server-id",
    metavar="ID",
    help="This server's name among those on one Redis, unique to it.  [default: host name:port]",
)
@click.option(
    "--redis-durability",
    type=click.Choice([mode.value for mode in RedisDurability]),
    default=RedisDurability.FULL.value,
    show_default=True,
    help="What an acknowledged message survives, checked against Redis's configuration at "
    "start: full, power loss (appendonly yes, appendfsync always); normal, a killed Redis "
    "(appendonly yes); none, nothing (a restarted Redis has forgotten the history).",
)
@click.option(
    "--retention",
    metavar="AGE|COUNT",
    help="Forget old messages: an age such as 30d or 12h, or a number of messages to keep.  "
    "[default: keep everything]",
)
@settings_options(Limits)
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
    /,  # or mypy sees that **fields could hold a "ctx" too
    *,
    hosts: tuple[str, ...],
    port: int | None,
    pki: Path | None,
    cert: Path | None,
    key: Path | None,
    ca: Path | None,
    pins: Path | None,
    crl: Path | None,
    motd: Path | None,
    rooms_file: Path | None,
    no_room_create: bool,
    data: Path | None,
    ephemeral: bool,
    durability: str,
    redis_url: str | None,
    server_id: str | None,
    redis_durability: str,
    retention: str | None,
    log_format: str,
    loop: str,
    log_level: str,
    **fields: Any,  # the option fields of ServerSettings and Limits
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
        files = locations.server_files(cert=cert, key=key, ca=ca, pki=pki, crl=crl, pins=pins)
        motd_text = read_motd(motd) if motd else None
        age, count = parse_retention(retention)
        store: Store
        if redis_url is not None:
            store = RedisStore(
                redis_url,
                server_id=server_id or f"{socket.gethostname()}:{port}",
                durability=RedisDurability(redis_durability),
            )
        elif ephemeral:
            store = MemoryStore()
        else:
            store = SqliteStore(store_path(data), Durability(durability))
        server = ChatServer(
            files,
            hosts=hosts or None,
            port=port,
            limits=server_limits(fields),
            settings=from_options(
                ServerSettings,
                fields,
                retention_age=age,
                retention_count=count,
                motd=motd_text,
                rooms_file=rooms_file,
                room_create=not no_room_create,
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
            # SIGINT or SIGTERM (or the terminal closed), or a background loop failed.
            await _first(stop.wait(), server.failed.wait())
        # A second SIGINT or SIGTERM now has its default effect (stop at once);
        # a SIGHUP, a reload we are past caring about, must not kill us mid-goodbye.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        server.log.info("shutting down")
        await server.shutdown()
        if server.failure is not None:
            raise RtchatError(
                f"stopped: a background loop failed ({server.failure!r}); see the log"
            )

    run_async(PROGRAM, serve, loop=loop)


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def server_limits(fields: Mapping[str, object]) -> Limits:
    """The Limits the options give, with --idle-timeout raised to --ping-interval if lower.

    A client is pinged only once silent for the ping interval: with a shorter
    idle timeout it would be dropped before it had the chance to answer one.
    """
    limits = from_options(Limits, fields)
    return dataclasses.replace(limits, idle_timeout=max(limits.idle_timeout, limits.ping_interval))


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
@click.option(
    "--redis",
    "redis_url",
    metavar="URL",
    help="The servers' --redis instead: they forget the owner at once, running or not.",
)
def release_name(name: str, data: Path | None, redis_url: str | None) -> None:
    """Free NAME, so that another identity may use it.

    With --data, stop the server first (a running one keeps the owners it
    loaded); with --redis, every server on that Redis applies it at once.
    """

    async def release() -> None:
        store: SqliteStore | RedisStore
        if redis_url is not None:
            # Only the name is written: any persistence will do for that.
            store = RedisStore(
                redis_url, server_id="names-release", durability=RedisDurability.NONE
            )
            where = shown_url(redis_url)
        else:
            store = SqliteStore(store_path(data))
            where = str(store.path)
        await store.open()
        try:
            released = await store.release_name(name_key(name))
        finally:
            await store.close()
        if not released:
            raise ConfigError(f"no identity owns the name {name!r} in {where}")
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

"""``rtchat-server``: run a chat server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import click

from .. import locations
from ..errors import ConfigError, RtchatError
from ..moderation import MAX_MOTD_CHARS, parse_duration
from ..names import name_key
from ..rooms import group_problem
from ..server import audit, backup, export, moderation
from ..server.app import ChatServer
from ..server.app import format_peer as address_text
from ..server.config import Limits, Network, ServerSettings, proxy_networks
from ..server.listener import cannot_listen as _cannot_listen
from ..server.metrics import parse_address
from ..server.redis_store import RedisDurability, RedisStore, shown_url
from ..server.sdnotify import Notifier
from ..server.store import Durability, MemoryStore, SqliteStore, Store
from .common import CONTEXT, LOOPS, fail, run_async, version_option
from .preflight import check_command
from .settings import from_options, settings_options

PROGRAM = "rtchat-server"
_FILE = click.Path(dir_okay=False, path_type=Path)
_DIR = click.Path(file_okay=False, path_type=Path)


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
    # RTCHAT_SERVER_<OPTION>, as the epilog says; HOSTS (the parameter's name) as before.
    envvar=["RTCHAT_SERVER_HOST", "RTCHAT_SERVER_HOSTS"],
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
    "--operator-group",
    default="admin",
    callback=lambda _ctx, _param, value: _group(value),
    show_default=True,
    metavar="GROUP",
    help="Holders of a CA-issued certificate in this group (rtchat-certs issue --group) "
    "are operators: /kick, /mute, /ban, /motd, /announce, any room's /topic.",
)
@click.option(
    "--rooms",
    "rooms_file",
    envvar=["RTCHAT_SERVER_ROOMS", "RTCHAT_SERVER_ROOMS_FILE"],
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
    "--proxy-protocol",
    "proxy_from",
    multiple=True,
    envvar="RTCHAT_SERVER_PROXY_PROTOCOL",  # not _PROXY_FROM, the parameter's name
    metavar="FROM",
    callback=lambda _ctx, _param, value: _proxy_from(value),
    help="A load balancer (address or CIDR network) whose connections start with a "
    "PROXY protocol header (haproxy's send-proxy-v2, or send-proxy): the client's address "
    "in it counts for every per-source limit and log line. Its connections without one are "
    "refused; nobody else's header is read. Repeat for several.  [default: none]",
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
    envvar="RTCHAT_SERVER_REDIS",
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
    "--metrics",
    metavar="[ADDR:]PORT",
    callback=lambda _ctx, _param, value: metrics_address(value),
    help="Serve Prometheus metrics, /healthz and /readyz over HTTP on ADDR:PORT "
    "([::1]:PORT for IPv6; a bare PORT listens on 127.0.0.1).  [default: off]",
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
    operator_group: str,
    rooms_file: Path | None,
    no_room_create: bool,
    proxy_from: tuple[Network, ...],
    data: Path | None,
    ephemeral: bool,
    durability: str,
    redis_url: str | None,
    server_id: str | None,
    redis_durability: str,
    retention: str | None,
    metrics: tuple[str, int] | None,
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
            store = SqliteStore(store_path(data), Durability(durability), exclusive=True)
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
                operator_group=operator_group,
                rooms_file=rooms_file,
                room_create=not no_room_create,
                proxy_from=proxy_from,
            ),
            store=store,
            metrics=metrics,
        )
    except (ConfigError, OSError) as exc:
        fail(PROGRAM, exc if isinstance(exc, ConfigError) else ConfigError(str(exc)))

    # Under systemd (NOTIFY_SOCKET set): READY=1 once listening, RELOADING=1 and
    # READY=1 around a SIGHUP, STOPPING=1 at the end, WATCHDOG=1 if asked.
    notifier = Notifier.from_environ(os.environ, server.log)

    async def serve() -> None:
        # Signals are handled before "listening on" is logged: a SIGHUP or
        # SIGTERM sent as soon as that line shows must not kill the server.
        with server.handling_signals(notifier) as stop:
            try:
                await server.start()
            except OSError as exc:
                raise ConfigError(_cannot_listen(port, exc)) from None
            notifier.ready("listening on " + ", ".join(map(address_text, server.addresses)))
            # SIGINT or SIGTERM (or the terminal closed), or a background loop failed.
            await _first(stop.wait(), server.failed.wait(), notifier.keep_alive())
        notifier.stopping()
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


def metrics_address(value: str | None) -> tuple[str, int] | None:
    """--metrics as (host, port), or a usage error in one line."""
    try:
        return parse_address(value) if value is not None else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def server_limits(fields: Mapping[str, object]) -> Limits:
    """The Limits the options give, with --idle-timeout raised to --ping-interval if lower.

    A client is pinged only once silent for the ping interval: with a shorter
    idle timeout it would be dropped before it had the chance to answer one.
    """
    limits = from_options(Limits, fields)
    return dataclasses.replace(limits, idle_timeout=max(limits.idle_timeout, limits.ping_interval))


main.add_command(check_command(main))


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


_DATA = click.option(
    "--data", type=_DIR, metavar="DIR", help="The server's --data folder.  [default: as the server]"
)


def _on_store(data: Path | None, work: Callable[[SqliteStore], Awaitable[None]]) -> None:
    """Run ``work`` on the store of ``data`` (also while the server runs: SQLite in WAL)."""

    async def run() -> None:
        path = store_path(data)
        if not path.is_file():  # never a new, empty store in a mistyped folder
            raise ConfigError(f"no message store at {path}: is --data right?")
        store = SqliteStore(path)
        await store.open()
        try:
            await work(store)
        finally:
            await store.close()

    run_async(PROGRAM, run)


@main.command("ban")
@click.argument("name")
@click.argument("duration")
@click.option("--reason", help="Why: shown to everyone, and to NAME when refused.")
@_DATA
def ban(name: str, duration: str, reason: str | None, data: Path | None) -> None:
    """Ban NAME's identity for DURATION (30s, 10m, 2h, 7d, 1w; at most 365d).

    Works while the server runs: it applies the ban within --watch-interval
    (or on SIGHUP), ending NAME's sessions with 'bye banned'.
    """
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None

    async def write(store: SqliteStore) -> None:
        now = dt.datetime.now(dt.UTC)
        done = await moderation.ban_in_store(store, name, seconds, reason, now)
        click.echo(f"banned {done.name!r} until {done.until} (identity {done.identity})")

    _on_store(data, write)


@main.command("unban")
@click.argument("name")
@_DATA
def unban(name: str, data: Path | None) -> None:
    """Lift the ban of NAME's identity (while the server runs too)."""

    async def write(store: SqliteStore) -> None:
        click.echo(f"unbanned {await moderation.unban_in_store(store, name)!r}")

    _on_store(data, write)


@main.command("bans")
@_DATA
def bans(data: Path | None) -> None:
    """List the bans and mutes in force: name, kind, until, by, reason (tab-separated)."""

    async def read(store: SqliteStore) -> None:
        for sanction in await moderation.in_force(store, dt.datetime.now(dt.UTC)):
            click.echo(moderation.sanction_line(sanction))

    _on_store(data, read)


def _proxy_from(values: tuple[str, ...]) -> tuple[Network, ...]:
    """--proxy-protocol: addresses or networks, or a usage error naming the bad one."""
    try:
        return proxy_networks(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _group(value: str) -> str:
    """--operator-group: a group name as rtchat-certs writes them, or a usage error."""
    problem = group_problem(value)
    if problem is not None:
        raise click.BadParameter(problem)
    return value


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


# -- backups and export (logic in server/backup.py and server/export.py) --------------


@main.command("backup")
@click.argument("file", type=_FILE)
@_DATA
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup_command(file: Path, data: Path | None, force: bool) -> None:
    """Copy the message store to FILE, also while the server runs.

    FILE is one self-contained SQLite file, mode 0600, integrity-checked,
    holding every message committed when the copy began.
    """

    def progress(done: int, total: int) -> None:
        click.echo(f"backup: {done}/{total} pages ({100 * done // max(total, 1)}%)", err=True)

    try:
        facts = backup.backup(store_path(data), file, force=force, progress=progress)
    except ConfigError as exc:
        fail(PROGRAM, exc)
    click.echo(f"backed up {_count(facts.messages)} ({facts.ids()}) to {file}")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_DATA
def restore_command(file: Path, data: Path | None) -> None:
    """Put the backup FILE back as the message store (server stopped).

    FILE must be a realtimechat store of a schema this version reads; it is
    checked before anything moves. The store it replaces is kept beside it
    as messages.db.before-restore-TIME. Refused while a server uses the folder.
    """
    try:
        done = backup.restore(file, store_path(data))
    except ConfigError as exc:
        fail(PROGRAM, exc)
    click.echo(f"restored {_count(done.facts.messages)} ({done.facts.ids()}) from {file}")
    if done.kept is not None:
        click.echo(f"the store it replaced is kept as {done.kept}")
    if done.next_id > done.facts.last_id + 1:
        click.echo(
            f"new messages get ids from {done.next_id} on: ids are never given twice, and the "
            f"replaced store gave out up to {done.next_id - 1}"
        )


@main.command("export")
@_DATA
@click.option(
    "--since", type=click.IntRange(0), default=0, metavar="ID", help="Only messages after this id."
)
@click.option("--room", metavar="ROOM", help="Only this room's messages (lobby: the lobby's).")
@click.option(
    "--include-private", is_flag=True, help="Include private messages (left out by default)."
)
@click.option("--output", type=_FILE, metavar="FILE", help="Write to FILE (mode 0600), not stdout.")
def export_command(
    data: Path | None, since: int, room: str | None, include_private: bool, output: Path | None
) -> None:
    """Write messages as JSON Lines, oldest first.

    One line per message: the msg frame clients receive, plus the sender's
    identity key (and the recipient's, on a private message). Works while the
    server runs; docs/operations.md describes the format.
    """
    try:
        with _output(output) as out:
            count = export.export(
                store_path(data), out, since=since, room=room, include_private=include_private
            )
    except ConfigError as exc:
        fail(PROGRAM, exc)
    click.echo(f"exported {_count(count)}", err=True)


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_DATA
def import_command(file: Path, data: Path | None) -> None:
    """Load an export into an empty store (server stopped).

    Ids are kept. Every line is checked first-to-last; the first bad one stops
    the import with its line number, and nothing is stored.
    """
    try:
        with file.open("rb") as lines:
            facts = export.import_messages(store_path(data), lines, str(file))
    except OSError as exc:
        fail(PROGRAM, ConfigError(f"cannot read {file}: {exc.strerror}"))
    except ConfigError as exc:
        fail(PROGRAM, exc)
    click.echo(f"imported {_count(facts.messages)} ({facts.ids()}) into {store_path(data)}")


def _count(messages: int) -> str:
    return f"{messages:,} message{'' if messages == 1 else 's'}"


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """``path`` opened for writing, mode 0600 (private messages may go in), or stdout."""
    if path is None:
        yield sys.stdout
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    with open(fd, "w", encoding="utf-8") as out:
        yield out


if __name__ == "__main__":
    main()

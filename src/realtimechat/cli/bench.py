"""``rtchat-bench``: load a realtimechat server and measure it (a thin layer over ``bench``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ..bench.certs import check_ca_dir, check_pki_dir
from ..bench.errors import Interrupted
from ..bench.progress import ProgressLine
from ..bench.report import table
from ..bench.scenarios import Load, Scenario, Target, run
from ..bench.spawn import Store
from ..bench.wire import MIN_SIZE
from ..errors import ConfigError, ExitCode, PKIError, RtchatError
from ..server.redis_store import check_url
from .common import CONTEXT, LOOPS, fail, loop_factory, version_option

PROGRAM = "rtchat-bench"
F = TypeVar("F", bound=Callable[..., Any])
_DIR = click.Path(file_okay=False, exists=True, path_type=Path)
_MAX_CLIENTS = 20_000
_MAX_SERVERS = 8
STORES = ("memory", "sqlite")
_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C

LATENCY_NOTE = (
    "Latency is measured by the tool alone: the sender writes time.monotonic_ns() "
    "(the scheduled time under `rate`) into the text and the receiving client, in the "
    "same tool on the same machine, subtracts it from its own clock. It is the whole "
    "trip client -> server -> client, valid for a remote server too, and it includes "
    "the tool's own delays: watch the tool's CPU %."
)
EXIT_CODES = (
    "Exit codes: 0 every client connected, every expected message arrived and nothing "
    "went wrong, 1 error, 2 usage, 3 cannot connect, 4 server certificate not trusted or "
    "not for --cn, 5 refused by the server (the first connection), 7 the run finished but "
    "not cleanly: some clients could not connect, or there were errors (such as "
    "refusals or rate_limited), or delivered != expected (the results are still printed)."
)


def _target_options(command: F) -> F:
    """Where the server is, and where the client certificates come from."""
    options = [
        click.option(
            "--spawn",
            is_flag=True,
            help="Start a throwaway rtchat-server on 127.0.0.1 with a throwaway PKI "
            "(--ephemeral unless --store or --redis says otherwise, --rate 0, and the "
            "per-address, per-identity, identity-rate and handshake caps lifted), stop it "
            "at the end, and report its CPU % and memory.",
        ),
        click.option(
            "--server-arg",
            "server_args",
            multiple=True,
            metavar="ARG",
            help="One more argument for the spawned server (repeatable), e.g. "
            "--server-arg=--queue-frames=100.",
        ),
        click.option(
            "--store",
            type=click.Choice(STORES),
            default="memory",
            show_default=True,
            help="Where the spawned server keeps the history: memory (--ephemeral) or "
            "sqlite (--data in the run's temporary folder, durability full).",
        ),
        click.option(
            "--redis",
            "redis_url",
            metavar="URL",
            help="Spawn the servers on this Redis (--redis URL --server-id benchN) instead, "
            "and report what Redis did per message (its CPU, append scripts and XREADs, "
            "from INFO). Give it a Redis of its own: the run's messages stay in it.",
        ),
        click.option(
            "--servers",
            type=click.IntRange(1, _MAX_SERVERS),
            metavar="N",
            default=1,
            show_default=True,
            help="Spawn this many servers on the --redis, one conversation: client i "
            "connects to server i % N; their CPU % and RSS are reported summed.",
        ),
        click.option(
            "--host", default="127.0.0.1", show_default=True, help="The server's address."
        ),
        click.option("--port", type=click.IntRange(1, 65535), help="The server's port."),
        click.option(
            "--cn",
            default="chatserver",
            show_default=True,
            help="The name on the server's certificate.",
        ),
        click.option(
            "--ca-dir",
            type=_DIR,
            metavar="DIR",
            help="A CA folder (rtchat-certs init) to issue throwaway client certificates "
            "from (see --name-prefix; valid one day, kept in a temporary folder: the CA "
            "folder is only read). Its ca.crt is also what the server is checked against.",
        ),
        click.option(
            "--pki",
            type=_DIR,
            metavar="DIR",
            help="Use existing client certificates, round-robin: NAME.crt with NAME.key in "
            "DIR/clients (a CA folder) or else in DIR (a user folder); DIR/ca.crt is what "
            "the server is checked against.",
        ),
        click.option(
            "--name-prefix",
            default="bench",
            show_default=True,
            help="Names of the issued certificates: PREFIX0, PREFIX1, ...",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


#: How ``_run`` picks --timeout when it is not given, as each scenario's --help says it.
TIMEOUT_SENDING = "60 + warm-up + duration + drain + 1 per 20 clients"
TIMEOUT_CONNECT = "60 + drain + 1 per 20 clients"


def _load_options(clients: int, timeout: str) -> Callable[[F], F]:
    """Bounds every scenario has: clients, processes, handshakes at once, time limits.

    ``clients`` is the default of --clients; ``timeout`` how --timeout's default is computed.
    """

    def decorate(command: F) -> F:
        options = [
            click.option(
                "--clients",
                type=click.IntRange(1, _MAX_CLIENTS),
                default=clients,
                show_default=True,
                help="Connections (each its own client and certificate).",
            ),
            click.option(
                "--workers",
                type=click.IntRange(1, 64),
                default=2,
                show_default=True,
                help="Processes, each running an event loop with a share of the clients.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 1000),
                default=50,
                show_default=True,
                help="TLS handshakes in progress at once (over all workers). A server "
                "lets one address hold --max-handshakes-per-source of them (8 by default).",
            ),
            click.option(
                "--size",
                type=click.IntRange(MIN_SIZE, 60_000),
                default=100,
                show_default=True,
                help="Bytes of message text.",
            ),
            click.option(
                "--signed",
                is_flag=True,
                help="Send every message with the four fields of a signed message "
                "(protocol.md 6.8), sized as a P-256 signature's: what signatures cost the "
                "server, which stores and relays them without checking.",
            ),
            click.option(
                "--connect-timeout",
                type=click.FloatRange(0.1, 600),
                default=30.0,
                show_default=True,
                help="Seconds one connection may take to be welcomed.",
            ),
            click.option(
                "--drain",
                type=click.FloatRange(0.1, 600),
                default=10.0,
                show_default=True,
                help="Most seconds to wait, after sending stops, for the last messages.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(1, 24 * 3600),
                help=f"Hard limit in seconds for the whole run.  [default: {timeout}]",
            ),
            click.option(
                "--loop",
                type=click.Choice(LOOPS),
                default="auto",
                show_default=True,
                help="The workers' event loop: uvloop (faster), asyncio, or auto (uvloop "
                "when installed).",
            ),
            click.option(
                "--json", "as_json", is_flag=True, help="Print JSON instead of the table."
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _window_options(command: F) -> F:
    options = [
        click.option(
            "--duration",
            type=click.FloatRange(0.5, 3600),
            default=10.0,
            show_default=True,
            help="Seconds of the measurement window.",
        ),
        click.option(
            "--warmup",
            type=click.FloatRange(0, 600),
            default=2.0,
            show_default=True,
            help="Seconds of sending before the window opens.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(context_settings=CONTEXT, epilog=EXIT_CODES)
@version_option(PROGRAM)
def main() -> None:
    """Put load on a realtimechat server and measure what it does.

    \b
      fanout    every client receives; P publishers send as fast as a window
                of in-flight messages allows (their own echoes free it)
      rate      every client sends R messages a second on a fixed schedule
      rooms     as rate, with the clients spread over N rooms: each joins one,
                talks there and hears only its room
      connect   open N mutual-TLS connections, C handshakes at a time

    Point it at a server with --host/--port/--cn and --ca-dir (a CA folder to
    issue throwaway client certificates from) or --pki (existing client
    certificates), or let it start its own with --spawn. It counts every
    delivery: delivered/expected is exact.
    """


def _run(scenario: Scenario, options: dict[str, Any]) -> None:
    """Check the options, run, print the table or JSON, exit."""
    target = _target(options)
    clients: int = options["clients"]
    warmup: float = options.get("warmup", 0.0)
    duration: float = options.get("duration", 0.0)
    drain: float = options["drain"]
    timeout = options["timeout"] or 60 + warmup + duration + drain + clients / 20
    try:
        factory = loop_factory(options["loop"])
    except RtchatError as exc:
        fail(PROGRAM, exc)
    load = Load(
        scenario=scenario,
        clients=clients,
        workers=options["workers"],
        size=options["size"],
        signed=options["signed"],
        concurrency=options["concurrency"],
        connect_timeout=options["connect_timeout"],
        publishers=options.get("publishers", 0),
        window=options.get("window", 1),
        rate=options.get("rate", 1.0),
        rooms=options.get("rooms", 0),
        warmup=warmup,
        duration=duration,
        drain=drain,
        timeout=timeout,
        name_prefix=options["name_prefix"],
        loop_factory=factory,
    )
    if scenario == "fanout" and load.publishers > load.clients:
        raise click.UsageError(
            f"--publishers ({load.publishers}) is more than --clients ({clients})"
        )
    if scenario == "rooms" and load.rooms > load.clients:
        raise click.UsageError(f"--rooms ({load.rooms}) is more than --clients ({clients})")
    try:
        report = run(target, load, ProgressLine(sys.stderr))
    except RtchatError as exc:
        fail(PROGRAM, exc)
    except Interrupted as exc:
        fail(PROGRAM, str(exc), _INTERRUPTED)
    except KeyboardInterrupt:  # before the run began or after it ended: nothing to stop
        fail(PROGRAM, "interrupted", _INTERRUPTED)
    click.echo(report.to_json() if options["as_json"] else table(report))
    sys.exit(int(ExitCode.OK) if report.clean else int(ExitCode.NOT_DELIVERED))


def _target(options: dict[str, Any]) -> Target:
    """The target from --spawn, or --port with --ca-dir or --pki; UsageError otherwise."""
    spawn: bool = options["spawn"]
    chosen = [name for name in ("spawn", "ca_dir", "pki") if options[name]]
    if len(chosen) != 1:
        raise click.UsageError("choose one of --spawn, --ca-dir DIR and --pki DIR")
    if spawn:
        _check_spawn(options)
    elif options["port"] is None:
        raise click.UsageError("--port is required with --ca-dir or --pki")
    if options["server_args"] and not spawn:
        raise click.UsageError("--server-arg only goes with --spawn")
    store = _store(options)
    _check_folders(options)
    return Target(
        host=options["host"],
        port=options["port"] or 0,
        cn=options["cn"],
        ca_dir=options["ca_dir"],
        pki=options["pki"],
        spawn=spawn,
        server_args=tuple(options["server_args"]),
        store=store,
        servers=options["servers"],
    )


def _store(options: dict[str, Any]) -> Store:
    """The spawned servers' store from --store, --redis and --servers; UsageError if they clash."""
    context = click.get_current_context()
    url: str | None = options["redis_url"]
    store_given = context.get_parameter_source("store") not in (None, ParameterSource.DEFAULT)
    spawn_only = [
        name
        for name, given in (
            ("--store", store_given),
            ("--redis", url),
            ("--servers", options["servers"] > 1),
        )
        if given
    ]
    if spawn_only and not options["spawn"]:
        raise click.UsageError(f"{' and '.join(spawn_only)} only go with --spawn")
    if url is not None and store_given:
        raise click.UsageError("--store and --redis: choose one (--redis is the store then)")
    if url is None and options["servers"] > 1:
        raise click.UsageError(
            "--servers above 1 needs --redis URL: only servers on one Redis share a conversation"
        )
    if url is not None:
        try:
            check_url(url)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
        return Store("redis", url)
    return Store(options["store"])


def _check_spawn(options: dict[str, Any]) -> None:
    """--spawn picks where its server listens and what its certificate says: none of those
    options may be given too (a default value is fine; an explicit one would be ignored)."""
    context = click.get_current_context()
    given = [
        f"--{name}"
        for name in ("host", "port", "cn")
        if context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)
    ]
    if given:
        raise click.UsageError(
            f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for a running server; "
            "--spawn starts its own on 127.0.0.1 with a certificate for chatserver"
        )


def _check_folders(options: dict[str, Any]) -> None:
    """A --ca-dir or --pki folder of the wrong kind is a usage error, said in one line."""
    try:
        if options["ca_dir"] is not None:
            check_ca_dir(options["ca_dir"])
        if options["pki"] is not None:
            check_pki_dir(options["pki"])
    except PKIError as exc:
        raise click.UsageError(str(exc)) from None


@main.command(epilog=f"{LATENCY_NOTE} {EXIT_CODES}")
@_target_options
@_load_options(clients=50, timeout=TIMEOUT_SENDING)
@_window_options
@click.option(
    "--publishers",
    type=click.IntRange(1, _MAX_CLIENTS),
    default=5,
    show_default=True,
    help="Clients that publish (the first ones); every client receives.",
)
@click.option(
    "--window",
    type=click.IntRange(1, 10_000),
    default=64,
    show_default=True,
    help="Messages each publisher keeps in flight (until its own echo comes back).",
)
def fanout(**options: Any) -> None:
    """Fan-out throughput: every client receives, publishers send flat out.

    Each publisher sends one message per write and keeps at most --window
    of its messages in flight, counting its own echoes (a window that stays
    full for 1 s is counted as a stall and started afresh). Reports
    deliveries/s and msgs in/s over the window after the warm-up.
    """
    _run("fanout", options)


@main.command(epilog=f"{LATENCY_NOTE} {EXIT_CODES}")
@_target_options
@_load_options(clients=50, timeout=TIMEOUT_SENDING)
@_window_options
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 10_000),
    default=10.0,
    show_default=True,
    help="Messages per second each client sends.",
)
def rate(**options: Any) -> None:
    """Latency at a fixed rate: every client sends --rate messages a second.

    Sends follow a fixed schedule (each client with its own phase) and carry
    their scheduled time, so a stall anywhere shows up as latency rather than
    as fewer messages (no coordinated omission).
    """
    _run("rate", options)


@main.command(epilog=f"{LATENCY_NOTE} {EXIT_CODES}")
@_target_options
@_load_options(clients=1000, timeout=TIMEOUT_SENDING)
@_window_options
@click.option(
    "--rooms",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="Rooms the clients are spread over: client i is in #bench<i mod ROOMS>.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 10_000),
    default=1.0,
    show_default=True,
    help="Messages per second each client sends, to its room.",
)
def rooms(**options: Any) -> None:
    """Rooms: every client joins one of --rooms rooms and sends --rate a second there.

    Each message reaches only the members of its room (1,000 clients in 100
    rooms: 10 each), so deliveries/s is --clients x --rate x the room size.
    A client whose identity is in other rooms (from an earlier run with
    other --rooms) parts them first. Otherwise as `rate`: a fixed schedule,
    latency from the scheduled time.
    """
    _run("rooms", options)


@main.command(epilog=EXIT_CODES)
@_target_options
@_load_options(clients=500, timeout=TIMEOUT_CONNECT)
def connect(**options: Any) -> None:
    """Connection scale: open --clients connections, --concurrency handshakes at a time.

    Reports TLS handshakes/s, ready/s (ready: welcome received) and the time
    from connect to welcome; then one message to everyone, which must reach
    every connection. With --spawn also the server's memory per connection
    (VmRSS before the first connection and with all of them open).
    """
    _run("connect", options)


if __name__ == "__main__":
    main()

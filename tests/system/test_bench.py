"""``rtchat-bench`` as people run it: the installed console script against real servers.

Small runs only (a few clients, a few seconds). The assertions check that
what the tool reports is what happened (counts, exit codes, output), never
how fast anything was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from realtimechat.bench.certs import existing_clients
from realtimechat.bench.pool import _interrupt_deferred
from realtimechat.bench.report import Report, ServerFigures, table
from realtimechat.client.connection import ServerConnection
from realtimechat.pki import load_certificate
from realtimechat.protocol import Msg, SendMsg
from realtimechat.server.app import ChatServer

from ..support import WAIT, Pki, ServerFactory, join, port_of

BENCH = str(Path(sys.executable).parent / "rtchat-bench")
RUN_TIMEOUT = 60.0  # bound on one run of the tool (each run asks for a few seconds)
SHORT = ("--duration", "2", "--warmup", "0.5")


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    """Run rtchat-bench to the end (bounded) and capture what it printed."""
    return subprocess.run(
        [BENCH, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def table_cells(output: str) -> dict[str, str]:
    """The table's header cells mapped to the values of its one row."""
    header, row = output.splitlines()[:2]
    names = re.split(r"\s{2,}", header.strip())
    values = re.split(r"\s{2,}", row.strip())
    assert len(names) == len(values), output
    return dict(zip(names, values, strict=True))


def test_fanout_on_a_spawned_server_counts_every_delivery() -> None:
    """fanout with 5 clients and 2 publishers: deliveries counted are exactly 5 x messages sent."""
    result = bench(
        "fanout",
        "--spawn",
        "--clients",
        "5",
        "--publishers",
        "2",
        "--workers",
        "2",
        *SHORT,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scenario"] == "fanout"
    assert report["connected"] == 5
    assert report["workers"] == 2
    assert report["sent"] > 0
    assert report["expected"] == 5 * report["sent"]
    assert report["delivered"] == report["expected"]
    assert report["delivered_ratio"] == 1.0
    assert report["clients_complete"] == report["clients_alive"] == 5
    assert report["errors"] == 0
    assert report["error_kinds"] == {}
    assert report["connect_failures"] == {}
    assert report["gaps_missed"] == 0
    assert 0 < report["sent_in_window"] <= report["sent"]
    assert 0 < report["delivered_in_window"] <= report["delivered"]
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    server = report["server"]
    assert server["cpu_percent"] is not None
    assert server["rss_kib"] > 0
    assert not Path(f"/proc/{server['pid']}").exists(), "the spawned server was left running"


async def test_rate_matches_what_an_independent_observer_saw(server: ChatServer, pki: Pki) -> None:
    """rate against a running server: an observer sees exactly the messages the tool reports."""
    observer = await join(server, pki, "alice")
    seen: list[Msg] = []
    try:
        watcher = asyncio.create_task(_watch_until_own_message(observer, seen))
        out = await _run_bench(
            "rate",
            "--ca-dir",
            str(pki.folder.root),
            "--port",
            str(port_of(server)),
            "--clients",
            "5",
            "--rate",
            "5",
            "--workers",
            "1",
            *SHORT,
            "--json",
        )
        report = json.loads(out)
        # The server keeps one order: once our own message is back, everything before it is too.
        await observer.send(SendMsg(text="end of run"))
        async with asyncio.timeout(WAIT):
            await watcher
    finally:
        await observer.close()
    assert len(seen) == report["sent"]
    assert all(msg.text.startswith(f"~{report['run_id']}|") for msg in seen)
    assert {msg.from_ for msg in seen} == {f"bench{index}" for index in range(5)}
    assert report["delivered"] == report["expected"] == 5 * report["sent"]
    # Each client has 12 or 13 slots in 2.5 s at 5/s (its phase decides): all were sent.
    assert 5 * 12 <= report["sent"] <= 5 * 13
    assert report["server"] is None


async def test_refused_sends_are_counted_as_refused_not_expected(
    start_server: ServerFactory, pki: Pki
) -> None:
    """rate against a server allowing 5 messages/s: refusals are not waited for, and exit 7.

    --drain is longer than --timeout: a run that waited for the refused
    messages would end at the deadline (exit 1) instead of finishing.
    """
    server = await start_server(rate=5, burst=5)
    observer = await join(server, pki, "alice")
    seen: list[Msg] = []
    try:
        watcher = asyncio.create_task(_watch_until_own_message(observer, seen))
        code, out, err = await _run_bench_to_end(
            "rate",
            *_target(server, pki),
            "--clients",
            "3",
            "--rate",
            "20",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--drain",
            "60",
            "--timeout",
            "30",
            "--json",
        )
        await observer.send(SendMsg(text="end of run"))
        async with asyncio.timeout(WAIT):
            await watcher
    finally:
        await observer.close()
    assert code == 7, err
    report = json.loads(out)
    assert report["refused"] > 0
    assert report["error_codes"] == {"rate_limited": report["refused"]}
    assert report["accepted"] == report["sent"] - report["refused"] == len(seen)
    assert report["delivered"] == report["expected"] == 3 * report["accepted"]
    assert report["connected"] == report["clients_complete"] == 3
    [sentence] = report["error_kinds"]
    assert "--rate" in sentence
    assert "lower this tool's --rate" in sentence


async def test_a_refused_publisher_gets_its_window_back(
    start_server: ServerFactory, pki: Pki
) -> None:
    """fanout, window 8, server burst 5: refusals free the window (no stall) and are not expected.

    Before, each refused message held its room until the 1 s stall check.
    """
    server = await start_server(rate=2, burst=5)
    code, out, err = await _run_bench_to_end(
        "fanout",
        *_target(server, pki),
        "--clients",
        "2",
        "--publishers",
        "1",
        "--window",
        "8",
        "--duration",
        "2",
        "--warmup",
        "0",
        "--json",
    )
    assert code == 7, err
    report = json.loads(out)
    assert report["window_stalls"] == 0
    assert report["refused"] >= 3
    assert report["error_codes"] == {"rate_limited": report["refused"]}
    assert report["delivered"] == report["expected"] == 2 * report["accepted"]
    assert report["accepted"] == report["sent"] - report["refused"] >= 5


def _target(server: ChatServer, pki: Pki) -> tuple[str, ...]:
    """The options that point rtchat-bench at ``server`` with one worker."""
    return ("--ca-dir", str(pki.folder.root), "--port", str(port_of(server)), "--workers", "1")


async def _run_bench(*args: str) -> bytes:
    """Run rtchat-bench, expecting exit code 0; what it printed on stdout."""
    code, out, err = await _run_bench_to_end(*args)
    assert code == 0, err
    return out


async def _run_bench_to_end(*args: str) -> tuple[int, bytes, str]:
    """Run rtchat-bench without blocking the loop (an in-process server may be its target)."""
    process = await asyncio.create_subprocess_exec(
        BENCH, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(RUN_TIMEOUT):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out, err.decode()


async def _watch_until_own_message(observer: ServerConnection, seen: list[Msg]) -> None:
    """Collect live messages from others until one of the observer's own comes back."""
    assert observer.welcome is not None
    while True:
        frame = await observer.receive()
        if isinstance(frame, Msg) and not frame.replay:
            if frame.from_ == observer.welcome.name:
                return
            seen.append(frame)


async def test_existing_certificates_are_used_round_robin(server: ChatServer, pki: Pki) -> None:
    """--pki spreads 7 clients over the folder's 5 valid certificates (not the expired one)."""
    out = await _run_bench(
        "fanout",
        "--pki",
        str(pki.folder.root),
        "--port",
        str(port_of(server)),
        "--clients",
        "7",
        "--publishers",
        "1",
        "--workers",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--json",
    )
    report: dict[str, Any] = json.loads(out)
    assert report["connected"] == 7
    assert report["connect_failures"] == {}
    assert report["delivered"] == report["expected"] == 7 * report["sent"]


async def test_connections_refused_by_the_server_make_the_run_exit_7(
    start_server: ServerFactory, pki: Pki
) -> None:
    """5 clients, 3 allowed per address: 3 connect, 2 refusals explained, exit code 7."""
    server = await start_server(max_per_address=3)
    code, out, err = await _run_bench_to_end(
        "connect",
        "--ca-dir",
        str(pki.folder.root),
        "--port",
        str(port_of(server)),
        "--clients",
        "5",
        "--workers",
        "1",
        "--json",
    )
    assert code == 7, err
    report = json.loads(out)
    assert report["connected"] == 3
    assert report["delivered"] == report["expected"] == 3
    assert report["errors"] == 2
    assert report["connect_failure_codes"] == {"too_many_connections": 2}
    [sentence] = report["connect_failures"]
    assert "rtchat-server --max-per-address" in sentence
    assert "use fewer --clients" in sentence


def test_connect_prints_a_table() -> None:
    """connect with 20 connections prints the table: all ready, the broadcast reached all 20."""
    result = bench("connect", "--spawn", "--clients", "20", "--concurrency", "5")
    assert result.returncode == 0, result.stderr
    cells = table_cells(result.stdout)
    assert cells["scenario"] == "connect"
    assert cells["connections"] == "20"
    assert cells["delivered/expected"] == "1.0000"
    assert cells["errors"] == "0"
    assert float(cells["handshakes/s"].replace(",", "")) > 0
    assert float(cells["ready/s"].replace(",", "")) > 0
    assert float(cells["server RSS MiB"]) > 0
    assert cells["KiB/conn"] != "-"
    assert "20 of 20 connections ready; then one broadcast: delivered 20 of 20" in result.stdout
    assert result.stderr == "", "no progress line when stderr is not a terminal"


def test_connect_memory_is_per_connection_open() -> None:
    """3 of 5 connections allowed: memory per connection is over the 3 open, rss_kib is filled."""
    result = bench(
        "connect", "--spawn", "--clients", "5", "--server-arg=--max-per-address=3", "--json"
    )
    assert result.returncode == 7, result.stderr
    report = json.loads(result.stdout)
    assert report["connected"] == report["clients_alive"] == 3
    server = report["server"]
    assert server["connections_open"] == 3
    assert server["rss_kib"] == server["rss_after_kib"] > 0
    growth = server["rss_after_kib"] - server["rss_before_kib"]
    assert server["rss_per_connection_kib"] == round(growth / 3, 1)
    text = table(_report(scenario="connect", connected=3, server=ServerFigures(**server)))
    assert "with 3 connections open" in text
    for figures in (report["handshake_ms"], report["ready_ms"], report["latency_ms"]):
        assert all(value == round(value, 3) for value in figures.values()), figures


def test_each_scenario_says_how_its_timeout_default_is_computed() -> None:
    """connect has no warm-up or duration, so its --timeout default does not mention them."""
    connect = bench("connect", "--help").stdout
    assert "[default: 60 + drain + 1 per 20 clients]" in " ".join(connect.split())
    rate = bench("rate", "--help").stdout
    assert "[default: 60 + warm-up + duration + drain + 1 per 20 clients]" in " ".join(rate.split())


def _report(**fields: Any) -> Report:
    """A report with made-up figures, for what the table says about them."""
    base: dict[str, Any] = {
        "scenario": "rate",
        "run_id": "0",
        "target": "127.0.0.1:1",
        "spawned": False,
        "clients": 10,
        "connected": 10,
        "workers": 1,
        "loop": "asyncio",
        "size": 100,
    }
    return Report(**(base | fields))


def test_ctrl_c_says_the_spawned_server_was_stopped() -> None:
    """SIGINT during a run: one line on stderr, exit code 130, the spawned server gone."""
    process = subprocess.Popen(
        [BENCH, "rate", "--spawn", "--clients", "2", "--rate", "1", "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: dict[int, str] = {}
    try:
        # The workers start once the server listens: then the run is under way.
        deadline = time.monotonic() + RUN_TIMEOUT
        while not any("multiprocessing" in command for command in children.values()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run did not get under way"
            time.sleep(0.05)  # polling /proc, bounded by the deadline
            children = _children(process.pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        _kill_leftovers(children)
    assert process.returncode == 130
    assert out == ""
    assert err == "rtchat-bench: interrupted; the spawned server was stopped\n"
    [server] = [pid for pid, command in children.items() if "rtchat-server" in command]
    assert not Path(f"/proc/{server}").exists()


def test_a_ctrl_c_while_a_worker_starts_comes_once_it_has_started() -> None:
    """SIGINT during a worker's start is held until the start is done, then raised as usual.

    Interrupted while start() wrote the worker its plan, the worker read half
    of it and printed a traceback (EOFError) after the "interrupted" line.
    """
    before = signal.getsignal(signal.SIGINT)
    started = []

    def start() -> None:
        with _interrupt_deferred():
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, in the middle of it
            started.append("the whole start")

    with pytest.raises(KeyboardInterrupt):
        start()
    assert started == ["the whole start"]
    assert signal.getsignal(signal.SIGINT) is before


def _kill_leftovers(processes: dict[int, str]) -> None:
    """Kill those of ``processes`` still running (same id, same command line) after a failure."""
    for pid, command in processes.items():
        with contextlib.suppress(OSError):
            if _command_line(Path(f"/proc/{pid}")) == command:
                os.kill(pid, signal.SIGKILL)


def _command_line(proc: Path) -> str:
    return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def _children(parent: int) -> dict[int, str]:
    """The processes whose parent is ``parent``, with their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found[int(stat.parent.name)] = _command_line(stat.parent)
    return found


def test_a_server_that_is_not_there_is_one_clear_line(pki: Pki) -> None:
    """Nothing listening on the port: one line on stderr, nothing on stdout, exit code 3."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        result = bench(
            "rate", "--ca-dir", str(pki.folder.root), "--port", str(port), "--clients", "3"
        )
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"rtchat-bench: cannot connect to 127.0.0.1:{port}: "
        "connection refused (is the server running?)"
    ]


async def test_a_port_that_does_not_speak_tls_is_cannot_connect(pki: Pki) -> None:
    """A plain-text server on the port: exit 3 and a hint about the port, as rtchat says it."""

    async def answer_in_plain_text(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    plain = await asyncio.start_server(answer_in_plain_text, "127.0.0.1", 0)
    port = plain.sockets[0].getsockname()[1]
    try:
        code, out, err = await _run_bench_to_end(
            "rate", "--ca-dir", str(pki.folder.root), "--port", str(port), "--clients", "2"
        )
    finally:
        plain.close()
        await plain.wait_closed()
    assert code == 3, err
    assert out == b""
    assert err.splitlines() == [
        f"rtchat-bench: cannot connect to 127.0.0.1:{port}: the server did not answer in TLS "
        f"(is {port} the chat server's port?)"
    ]


def test_a_target_must_be_chosen() -> None:
    """Without --spawn, --ca-dir or --pki the tool says what is missing (usage error, exit 2)."""
    result = bench("fanout", "--port", "8443")
    assert result.returncode == 2
    assert "choose one of --spawn, --ca-dir DIR and --pki DIR" in result.stderr


def test_spawn_refuses_options_for_a_running_server() -> None:
    """--spawn with an explicit --host or --cn is a usage error (they would be ignored)."""
    result = bench("rate", "--spawn", "--host", "192.0.2.1", "--cn", "foo")
    assert result.returncode == 2
    assert "--host and --cn are for a running server; --spawn starts its own" in result.stderr
    result = bench("rate", "--spawn", "--cn", "chatserver")
    assert result.returncode == 2
    assert "--cn is for a running server" in result.stderr


def test_a_folder_that_is_not_a_ca_is_a_usage_error(pki: Pki, tmp_path: Path) -> None:
    """--ca-dir on a folder without ca.key (here a server bundle): exit 2, what it needs."""
    for name in ("ca.crt", "server.crt", "server.key"):
        (tmp_path / name).write_bytes((pki.folder.root / name).read_bytes())
    result = bench("connect", "--ca-dir", str(tmp_path), "--port", "8443")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: {tmp_path / 'ca.key'} does not exist: --ca-dir needs the CA folder that "
        "`rtchat-certs init` made (with ca.crt and ca.key)"
    )


def test_a_user_folder_gives_its_own_certificate(pki: Pki, tmp_path: Path) -> None:
    """--pki on a user folder (NAME.crt, NAME.key, ca.crt) uses NAME, never ca.crt or server.crt."""
    folder = pki.folder
    for source, name in [
        (folder.client_cert("alice"), "alice.crt"),
        (folder.client_key("alice"), "alice.key"),
        (folder.ca_cert, "ca.crt"),
        (folder.server_cert, "server.crt"),
        (folder.server_key, "server.key"),
    ]:
        (tmp_path / name).write_bytes(source.read_bytes())
    found = existing_clients(tmp_path)
    assert found.pairs == ((tmp_path / "alice.crt", tmp_path / "alice.key"),)
    assert found.ca_cert == tmp_path / "ca.crt"


def test_the_table_never_rounds_a_shortfall_up_to_one() -> None:
    """One delivery missing out of ten million still shows as less than 1.0000."""
    report = _report(
        delivered=9_999_999, expected=10_000_000, delivered_ratio=9_999_999 / 10_000_000
    )
    assert table_cells(table(report))["delivered/expected"] == "0.9999"
    assert not report.complete


@pytest.mark.protocol("6.5")
def test_rooms_on_a_spawned_server_counts_each_room_apart() -> None:
    """rooms: 12 clients in 3 rooms; each message reaches the 4 members of its room, exactly."""
    result = bench(
        *("rooms", "--spawn", "--clients", "12", "--rooms", "3", "--rate", "5"),
        *SHORT,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["scenario"], report["rooms"], report["connected"]) == ("rooms", 3, 12)
    assert report["sent"] > 0
    assert report["expected"] == 4 * report["sent"]
    assert report["delivered"] == report["expected"]
    assert report["errors"] == 0


@pytest.mark.protocol("6.5")
async def test_rooms_runs_again_with_other_rooms_part_the_old_ones(
    server: ChatServer, pki: Pki
) -> None:
    """A second run over the same identities in other rooms parts the old ones: still exact."""
    target = ("--ca-dir", str(pki.folder.root), "--port", str(port_of(server)))
    for rooms in ("2", "3"):
        out = await _run_bench(
            *("rooms", *target, "--clients", "6", "--rooms", rooms, "--rate", "5"),
            *("--workers", "1", *SHORT, "--json"),
        )
        report = json.loads(out)
        assert report["delivered"] == report["expected"] == 6 // int(rooms) * report["sent"]
    subject = load_certificate(pki.folder.ca_cert).subject.rfc4514_string()
    for index, room in ((0, "#bench0"), (4, "#bench1")):  # bench4 was in #bench0 before
        rooms_of = server.hub.rooms.rooms_of(f"ca:{subject}/bench{index}")
        assert [r.name for r in rooms_of] == [room]


def test_two_servers_on_one_redis_count_every_delivery(redis_url: str) -> None:
    """--redis --servers 2: clients spread over two servers; each message reaches all 6,
    whichever server its sender is on, and Redis's work in the window is reported."""
    result = bench(
        *("fanout", "--spawn", "--redis", redis_url, "--servers", "2"),
        *("--clients", "6", "--publishers", "3"),
        *SHORT,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(set(re.findall(r"127\.0\.0\.1:(\d+)", report["target"]))) == 2
    assert report["server"]["count"] == 2
    assert report["connected"] == 6
    assert report["sent"] > 0
    assert report["delivered"] == report["expected"] == 6 * report["sent"]
    assert report["errors"] == 0
    redis = report["redis"]
    assert redis["messages"] > 0
    assert redis["calls"]["evalsha"] > 0  # the append script, once per batch
    assert redis["calls"]["xread"] > 0  # both followers
    assert redis["publish_calls_per_msg"] == round(redis["calls"]["evalsha"] / redis["messages"], 4)


def test_the_table_names_the_servers_and_redis(redis_url: str) -> None:
    """Without --json: a line says the CPU is two servers' sum, one gives Redis's figures."""
    result = bench(
        *("rate", "--spawn", "--redis", redis_url, "--servers", "2", "--clients", "4"),
        *("--rate", "5", *SHORT),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert table_cells(result.stdout)["delivered/expected"] == "1.0000"
    assert (
        "2 servers on one Redis, the clients spread round robin: server CPU % and RSS are "
        "their sums"
    ) in lines
    assert any(line.startswith("Redis, per message in the window (") for line in lines), lines


def test_rate_on_a_spawned_sqlite_server_counts_every_delivery() -> None:
    """--store sqlite: the spawned server keeps history on disk; the counts are as ever."""
    result = bench("rate", "--spawn", "--store", "sqlite", "--clients", "4", *SHORT, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["delivered"] == report["expected"] == 4 * report["sent"]
    assert report["server"]["count"] == 1
    assert report["redis"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--servers", "2"), "--servers above 1 needs --redis URL"),
        (("--store", "sqlite", "--redis", "unix:///nowhere"), "--store and --redis: choose one"),
        (("--redis", "http://x"), "give a redis://, rediss:// (TLS) or unix:// URL"),
    ],
)
def test_store_and_servers_usage_errors(args: tuple[str, ...], message: str) -> None:
    """--servers, --store and --redis that cannot go together: exit 2 and why, one line."""
    result = bench("rate", "--spawn", *args)
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]


def test_spawn_options_need_spawn(pki: Pki) -> None:
    """--redis and --servers start servers: against a running one they are usage errors."""
    target = ("--ca-dir", str(pki.folder.root), "--port", "8443")
    result = bench("rate", *target, "--redis", "unix:///r.sock", "--servers", "2")
    assert result.returncode == 2
    assert "--redis and --servers only go with --spawn" in result.stderr

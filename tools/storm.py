"""A failover storm: N clients through haproxy, one of two servers killed -9; who came back.

Starts what ``make cluster`` starts (tools/cluster.py: redis-server with
its append-only file, rtchat-server a and b on it, haproxy in front with
the configuration docs/scaling.md shows) in a temporary folder, with a
throwaway PKI and the limits rtchat-bench --spawn lifts (every client
comes from 127.0.0.1 through haproxy, with one certificate); then
(realtimechat.bench.storm) connects the clients through haproxy, streams
numbered messages straight to server b, kills server a with SIGKILL,
waits until every client is back and resumed (hello since), streams a
little more and counts, per client, acknowledged numbers lost and numbers
shown twice. It prints the reconnect times, what the clients met on the
way, and the survivor's handshake refusals and closed sessions (from its
--metrics). docs/performance.md, "Failover storm", has the figures.

Exit 0 if clean (every client back, nothing lost, nothing twice), 7 if
the storm ran but was not, 1 with one line if the cluster cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from cluster import Cluster, Failed

from realtimechat import pki
from realtimechat.bench.spawn import SERVER_CN, SPAWN_FLAGS
from realtimechat.bench.storm import Backoff, StormPlan, StormResult, percentile, storm
from realtimechat.cli.common import loop_factory
from realtimechat.client.connection import Endpoint
from realtimechat.tls import ClientFiles, client_context

NOT_CLEAN = 7  # as rtchat-bench: the run finished, but not cleanly
USER = "storm"
STARTED = time.monotonic()
METRICS = re.compile(r"^(rtchat_(?:handshakes_refused|sessions_closed)_total\{.*\}) (\S+)$")


def free_port() -> int:
    """A port free on 127.0.0.1 just now (haproxy and --metrics take no port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def progress(step: str) -> None:
    """A step of the storm, on stderr with the time since the start."""
    print(f"storm: {time.monotonic() - STARTED:7.1f} s  {step}", file=sys.stderr, flush=True)


def raise_open_files() -> int:
    """Raise this process's open-file limit to its hard limit (each client is a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def survivor_metrics(port: int) -> dict[str, float]:
    """The survivor's non-zero handshake refusals and closed sessions, by metric and label."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        match = METRICS.match(line)
        if match and float(match.group(2)) > 0:
            found[match.group(1)] = float(match.group(2))
    return found


def summary(result: StormResult, metrics: dict[str, float]) -> dict[str, Any]:
    """What the storm measured, as printed (and as --json)."""
    times = result.reconnect_seconds

    def ms(value: float | None) -> int | None:
        return None if value is None else round(value * 1000)

    return {
        "clients": result.clients,
        "connected": result.connected,
        "dropped": result.dropped,
        "back": result.back,
        "reconnect_ms": {
            "p50": ms(percentile(times, 0.5)),
            "p99": ms(percentile(times, 0.99)),
            "max": ms(times[-1] if times else None),
        },
        "last_back_after_kill_ms": ms(result.last_back),
        "sent": result.sent,
        "acked": result.acked,
        "lost": result.lost,
        "lost_clients": result.lost_clients,
        "twice": result.twice,
        "twice_clients": result.twice_clients,
        "gap_missed": result.tally.gap_missed,
        "failed_tries": dict(result.tally.failures.most_common()),
        "byes": dict(result.tally.byes.most_common()),
        "errors": dict(result.tally.errors.most_common()),
        "survivor": metrics,
        "clean": result.clean,
    }


def print_table(report: dict[str, Any]) -> None:
    times = report["reconnect_ms"]
    print(f"clients          {report['clients']} ({report['connected']} connected before the kill)")
    print(f"on the killed    {report['dropped']} (lost their connection)")
    print(f"back, resumed    {report['back']} of {report['dropped']}")
    print(f"reconnect ms     p50 {times['p50']}  p99 {times['p99']}  max {times['max']}")
    print(f"last back        {report['last_back_after_kill_ms']} ms after the kill")
    print(f"stream           {report['sent']} sent, {report['acked']} acknowledged")
    print(f"lost             {report['lost']} ({report['lost_clients']} clients)")
    print(f"shown twice      {report['twice']} ({report['twice_clients']} clients)")
    print(f"gap (missed)     {report['gap_missed']}")
    for title, key in (("failed try", "failed_tries"), ("bye", "byes"), ("error", "errors")):
        for what, count in report[key].items():
            print(f"{title:<16} {count} x {what}")
    for metric, value in report["survivor"].items():
        print(f"survivor         {metric} {value:g}")
    print("clean" if report["clean"] else "NOT clean")


def at_least(low: float, kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` no lower than ``low`` (one-line error otherwise)."""

    def check(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"at least {low:g}, not {text}")
        return value

    return check


def parse(argv: Sequence[str]) -> argparse.Namespace:
    plan = StormPlan()
    parser = argparse.ArgumentParser(
        prog="tools/storm.py",
        description="A failover storm: Redis (AOF), rtchat-server a and b, haproxy in front; "
        "N clients through haproxy, a numbered stream to b, a killed -9; every client back "
        "and resumed, nothing lost, nothing twice? Exit 0 clean, 7 not clean, 1 no cluster.",
    )
    parser.add_argument(
        "--clients",
        type=at_least(2, int),
        default=plan.clients,
        help="clients through haproxy, round robin: half on the killed server (%(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=at_least(0.1, float),
        default=plan.rate,
        help="stream messages a second (%(default)s)",
    )
    parser.add_argument(
        "--before", type=float, default=plan.before, help="stream seconds before the kill"
    )
    parser.add_argument(
        "--after", type=float, default=plan.after, help="stream seconds once all are back"
    )
    parser.add_argument(
        "--concurrency",
        type=at_least(1, int),
        default=plan.concurrency,
        help="first connections at once (reconnects are not held back; default %(default)s)",
    )
    parser.add_argument(
        "--backoff",
        type=float,
        nargs=2,
        metavar=("BASE", "CAP"),
        default=(plan.backoff.base, plan.backoff.cap),
        help="a client waits uniform(0, min(CAP, BASE * 2**n)) s after its n-th failed try "
        "(default 0.05 2)",
    )
    parser.add_argument(
        "--timeout",
        type=at_least(1, float),
        default=plan.timeout,
        help="the whole storm, in s (%(default)s)",
    )
    parser.add_argument(
        "--try-timeout",
        type=at_least(0.1, float),
        default=plan.try_timeout,
        help="one connection try (TCP, TLS, welcome, replay), in s (%(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="the jitter's random seed")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more rtchat-server option for both (repeat; later wins), "
        "e.g. --server-arg=--max-handshakes-per-source --server-arg=8",
    )
    parser.add_argument("--folder", type=Path, help="keep the cluster's files here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print JSON, not a table")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, folder: Path) -> int:
    ca = folder / "ca"
    pki.init_ca(ca, SERVER_CN, ["localhost", "127.0.0.1"])
    pki.issue_client(ca, USER)
    authority = pki.CaFolder(ca)
    files = ClientFiles(
        cert=authority.client_cert(USER), key=authority.client_key(USER), ca=authority.ca_cert
    )
    metrics_port = free_port()
    extra = [*SPAWN_FLAGS, *args.server_arg]
    servers = {"a": extra, "b": [*extra, "--metrics", str(metrics_port)]}
    cluster = Cluster(folder, ca, Path(sys.executable).parent, free_port(), servers)
    try:
        cluster.start()
        plan = StormPlan(
            clients=args.clients,
            rate=args.rate,
            before=args.before,
            after=args.after,
            concurrency=args.concurrency,
            timeout=args.timeout,
            try_timeout=args.try_timeout,
            backoff=Backoff(*args.backoff),
            seed=args.seed,
        )
        through = Endpoint(host="127.0.0.1", port=cluster.port, cn=SERVER_CN)
        survivor = Endpoint(host="127.0.0.1", port=cluster.ports["b"], cn=SERVER_CN)
        context = client_context(files)
        kill = partial(cluster.kill, "a")
        with asyncio.Runner(loop_factory=loop_factory("auto")) as runner:
            result = runner.run(storm(plan, through, survivor, context, kill=kill, say=progress))
        report = summary(result, survivor_metrics(metrics_port))
    finally:
        cluster.stop()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0 if result.clean else NOT_CLEAN


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    raise_open_files()
    try:
        if args.folder is not None:
            args.folder.mkdir(parents=True, exist_ok=True)
            return run(args, args.folder.resolve())
        with tempfile.TemporaryDirectory(prefix="rtchat-storm-") as temp:
            return run(args, Path(temp))
    except Failed as exc:
        print(f"storm: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""``rtchat-server --metrics`` as run for real: a subprocess, scraped over HTTP.

Its exposition passes Prometheus's own checker (``promtool check
metrics``), and its counters after a real ``rtchat-bench`` run are the
bench's figures.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..support import WAIT, Pki, ServerProcess, wait_for_log

BIN = Path(sys.executable).parent
METRICS_AT = r"metrics on http://127\.0\.0\.1:(\d+)/metrics"
RUN_TIMEOUT = 60.0  # bound on one bench run (each asks for a second or two)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def promtool() -> str:
    """Prometheus's promtool (Debian's prometheus package); .ci/run installs it and sets
    RTCHAT_REQUIRE_PROMTOOL=1, so there a missing one fails rather than skips."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("RTCHAT_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool is not installed (apt-get install prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Every server a test starts; stopped after it."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


def start_with_metrics(
    pki: Pki, folder: Path, servers: list[ServerProcess], *options: str
) -> tuple[ServerProcess, int]:
    """``rtchat-server --metrics 127.0.0.1:0``; the server and the metrics port from its log."""
    server = ServerProcess(pki, folder, extra=["--metrics", "127.0.0.1:0", *options])
    servers.append(server)
    match = wait_for_log(server.process, folder / f"server-{server.starts}.log", METRICS_AT)
    return server, int(match.group(1))


def fetch(port: int, path: str = "/metrics") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def samples_of(body: bytes) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def scraped_once_all_left(port: int) -> Samples:
    """A scrape once no session is left: the bench has exited, but the server may not have
    read every client's end yet (polled, bounded)."""
    deadline = time.monotonic() + WAIT
    while True:
        status, body = fetch(port)
        assert status == 200
        samples = samples_of(body)
        if value(samples, "rtchat_connections", state="welcomed") == 0:
            assert value(samples, "rtchat_sessions") == 0
            return samples
        assert time.monotonic() < deadline, "the bench's sessions did not end"
        time.sleep(0.05)


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rtchat-bench"), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def test_a_real_scrape_passes_promtool(
    pki: Pki, tmp_path: Path, servers: list[ServerProcess], promtool: str
) -> None:
    """promtool check metrics finds nothing to say about a scrape after some traffic."""
    server, port = start_with_metrics(pki, tmp_path, servers)
    done = bench(
        "rate", "--ca-dir", str(pki.folder.root), "--port", str(server.port),
        "--clients", "2", "--rate", "5", "--workers", "1", "--duration", "1", "--warmup", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status, body = fetch(port)
    assert status == 200
    assert b"rtchat_messages_in_total" in body
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == checked.stderr == b""


def test_the_counters_after_a_bench_run_are_the_benchs_figures(
    pki: Pki, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    """rtchat-bench rate, 3 clients at 20/s against a server allowing 5/s each: the server's
    messages in, stored, delivered and rate-limited counts are what the bench reports."""
    server, port = start_with_metrics(pki, tmp_path, servers, "--rate", "5", "--burst", "5")
    done = bench(
        "rate", "--ca-dir", str(pki.folder.root), "--port", str(server.port),
        "--clients", "3", "--rate", "20", "--workers", "1", "--duration", "1",
        "--warmup", "0", "--drain", "60", "--timeout", "30", "--json",
    )  # fmt: skip
    assert done.returncode == 7, done.stderr  # the refusals: what this run is about
    report = json.loads(done.stdout)
    assert report["refused"] > 0
    assert report["delivered"] == report["expected"] == 3 * report["accepted"]
    assert report["connected"] == 3

    samples = scraped_once_all_left(port)
    assert value(samples, "rtchat_messages_in_total") == report["accepted"]
    assert value(samples, "rtchat_messages_stored_total") == report["accepted"]
    assert value(samples, "rtchat_store_batch_messages_sum") == report["accepted"]
    assert value(samples, "rtchat_messages_delivered_total") == report["delivered"]
    assert value(samples, "rtchat_room_messages_total", room="lobby") == report["accepted"]
    refused = value(samples, "rtchat_rate_limited_total", limit="rate") + value(
        samples, "rtchat_rate_limited_total", limit="identity_rate"
    )
    assert refused == report["refused"]
    assert value(samples, "rtchat_slow_consumer_dropped_messages_total") == 0
    closed = [
        count for (name, _), count in samples.items() if name == "rtchat_sessions_closed_total"
    ]
    assert sum(closed) == 3  # the bench's clients, each once

    assert fetch(port, "/readyz") == (200, b"ready\n")
    assert fetch(port, "/healthz") == (200, b"ok\n")

"""tools/storm.py: a small failover storm through haproxy, counted (never timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support import BIN, REDIS_REQUIRED, REPO, WAIT, haproxy_binary, redis_binary

CLIENTS = 40


def storm(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run the storm with --json; its exit code, report and stderr."""
    haproxy_binary()  # skips (or fails under .ci/run) without haproxy
    if redis_binary() is None and os.environ.get(REDIS_REQUIRED) != "1":
        pytest.skip("redis-server is not installed")
    command = [
        sys.executable,
        str(REPO / "tools" / "storm.py"),
        *("--clients", str(CLIENTS), "--before", "1", "--after", "1", "--timeout", "120"),
        *("--folder", str(tmp_path / "storm"), "--json", *args),
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=WAIT * 20,
        check=False,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    report = json.loads(done.stdout) if done.stdout.startswith("{") else {}
    return done.returncode, report, done.stderr


@pytest.mark.system
def test_a_killed_server_s_clients_all_come_back_through_haproxy_with_nothing_lost_or_twice(
    tmp_path: Path,
) -> None:
    """40 clients, round robin over a and b; a is killed -9: its clients come back through
    haproxy and resume, every acknowledged number reaches every client once; exit 0."""
    code, report, stderr = storm(tmp_path)
    assert code == 0, stderr
    assert report["connected"] == CLIENTS
    # Round robin puts half on a; a try refused on a loaded machine moves it on by one.
    assert CLIENTS // 4 <= report["dropped"] <= 3 * CLIENTS // 4
    assert report["back"] == report["dropped"]
    assert report["sent"] == report["acked"] > 0
    assert (report["lost"], report["twice"], report["gap_missed"]) == (0, 0, 0)
    assert report["clean"] is True


@pytest.mark.system
def test_the_survivor_s_handshake_limit_refuses_some_of_the_storm_and_all_still_come_back(
    tmp_path: Path,
) -> None:
    """With --max-handshakes-per-source 2 (all of haproxy's connections come from
    127.0.0.1) and no backoff to spread them, the survivor refuses handshakes, says so in
    its metrics; the clients retry and every one is back. (Refused tries move haproxy's
    round robin on, so a holds about half, not exactly.)"""
    code, report, stderr = storm(
        tmp_path,
        *("--server-arg=--max-handshakes-per-source", "--server-arg=2"),
        *("--backoff", "0", "0", "--concurrency", str(CLIENTS)),
    )
    assert code == 0, stderr
    assert report["connected"] == CLIENTS
    assert report["back"] == report["dropped"] > 0
    assert (report["lost"], report["twice"]) == (0, 0)
    refused = {k: v for k, v in report["survivor"].items() if "handshakes_refused" in k}
    assert refused, report["survivor"]
    assert sum(report["failed_tries"].values()) > 0

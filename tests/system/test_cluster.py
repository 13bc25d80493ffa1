"""`make cluster` (tools/cluster.py): Redis, two servers and haproxy, joined through one port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.protocol import Msg, SendMsg
from realtimechat.tls import client_context

from ..support import (
    BIN,
    REDIS_REQUIRED,
    REPO,
    WAIT,
    Pki,
    free_port,
    haproxy_binary,
    receive_until,
    redis_binary,
)

SERVER_PID = re.compile(r"rtchat-server (\w) \(pid (\d+);")


def start_cluster(pki: Pki, folder: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    """tools/cluster.py in the background, its output in a file; once it says it is up."""
    out = folder / "cluster.out"
    command = [
        sys.executable,
        str(REPO / "tools" / "cluster.py"),
        *("--port", str(port), "--pki", str(pki.folder.root)),
        *("--folder", str(folder / "cluster"), "--bin", str(BIN)),
    ]
    with out.open("wb") as sink:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, start_new_session=True
        )
    deadline = time.monotonic() + WAIT * 3
    while "Ctrl-C stops everything." not in out.read_text():  # bounded: deadline, or it exits
        assert process.poll() is None, out.read_text()
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    return process, out


async def say_through(port: int, pki: Pki) -> tuple[Msg, Msg]:
    """alice and bob both through haproxy (round robin: one on each server); alice speaks."""
    endpoint = Endpoint(host="127.0.0.1", port=port, cn="chatserver")
    alice, bob = [
        await ServerConnection.open(endpoint, client_context(pki.client(user)), timeout=WAIT)
        for user in ("alice", "bob")
    ]
    for connection in (alice, bob):
        await connection.hello()
    await alice.send(SendMsg(text="through haproxy", ref="h"))
    got, echo = await receive_until(bob, Msg), await receive_until(alice, Msg)
    await alice.close()
    await bob.close()
    return got, echo


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_make_cluster_lets_a_client_in_through_haproxy_and_stops_everything_on_ctrl_c(
    pki: Pki, tmp_path: Path
) -> None:
    """The script prints the join command for its port; two clients get in through haproxy,
    one on each server, and hear each other; SIGINT (Ctrl-C) ends it with 0 and its servers."""
    haproxy_binary()  # skips (or fails under .ci/run) without haproxy
    if redis_binary() is None and os.environ.get(REDIS_REQUIRED) != "1":
        pytest.skip("redis-server is not installed")
    port = free_port()
    process, out = start_cluster(pki, tmp_path, port)
    try:
        text = out.read_text()
        assert f"make chat NAME=alice PORT={port}" in text
        servers = {name: int(pid) for name, pid in SERVER_PID.findall(text)}
        assert list(servers) == ["a", "b"]
        got, echo = asyncio.run(say_through(port, pki))
        assert (got.text, got.from_, got.id) == ("through haproxy", "alice", echo.id)
        logs = [(tmp_path / "cluster" / f"server-{n}.log").read_text() for n in servers]
        assert all("joined" in log for log in logs), "round robin: one client on each server"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT * 3) == 0, out.read_text()
    assert "stopping the cluster" in out.read_text()
    assert all(gone(pid) for pid in servers.values())

"""rtchat-server --redis as a process: what it refuses at start, and two of them on one Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.names import name_key
from realtimechat.protocol import Join, Leave, Msg, SendMsg
from realtimechat.server.redis_store import RedisStore
from realtimechat.tls import client_context

from ..support import BIN, WAIT, Pki, RedisServer, ServerProcess, receive_until, start_redis


@pytest.fixture
def redis_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "redis"
    folder.mkdir()
    return folder


@pytest.fixture
def redis_aof(redis_folder: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, with its append-only file synced at each write."""
    server = start_redis(redis_folder)
    yield server
    server.stop()


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """``command`` to its end, without the caller's RTCHAT_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT")}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT * 3,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def server_run(pki: Pki, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """rtchat-server with ``options``, expected to stop by itself at start."""
    return run(
        [
            str(BIN / "rtchat-server"),
            *("--host", "127.0.0.1", "--port", "0", "--pki", str(pki.folder.root)),
            *("--data", str(tmp_path / "data"), *options),
        ]
    )


def test_an_unreachable_redis_stops_the_server_with_one_line(pki: Pki, tmp_path: Path) -> None:
    """--redis on a socket nobody listens on: exit 1, one line saying it cannot reach Redis."""
    url = f"unix://{tmp_path / 'nobody.sock'}"
    done = server_run(pki, tmp_path, "--redis", url)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"rtchat-server: cannot reach Redis at {url}: ")


def test_a_redis_that_wants_a_password_is_named_without_showing_ours(
    pki: Pki, tmp_path: Path, redis_folder: Path
) -> None:
    """No password, or a wrong one: exit 1, one line saying Redis refused us; no password shown."""
    redis = start_redis(redis_folder, extra=["--requirepass", "right-one"])
    try:
        wrong = f"unix://:wrong-one@{redis.socket}"
        for url, shown in ((redis.url, redis.url), (wrong, f"unix://:***@{redis.socket}")):
            done = server_run(pki, tmp_path, "--redis", url)
            assert done.returncode == 1
            last = done.stderr.strip().splitlines()[-1]
            assert last.startswith(f"rtchat-server: Redis at {shown} refused us: ")
            assert "wrong-one" not in done.stderr
    finally:
        redis.stop()


def test_a_redis_without_aof_is_refused_unless_durability_is_none(
    pki: Pki, tmp_path: Path, redis_folder: Path
) -> None:
    """A Redis that keeps nothing: full and normal exit 1 naming 'appendonly yes'; none starts."""
    redis = start_redis(redis_folder, persist=False)
    try:
        for durability in ("full", "normal"):
            done = server_run(pki, tmp_path, "--redis", redis.url, "--redis-durability", durability)
            assert done.returncode == 1
            assert "set 'appendonly yes'" in done.stderr.strip().splitlines()[-1]
        server = ServerProcess(
            pki, tmp_path, extra=["--redis", redis.url, "--redis-durability", "none"]
        )
        server.stop()
        assert server.process.returncode == 0
        assert "messages in Redis at" in server.log_text()
        assert "Redis has no maxmemory" in server.log_text()
    finally:
        redis.stop()


def test_a_message_sent_to_one_server_process_reaches_a_client_of_the_other(
    pki: Pki, tmp_path: Path, redis_aof: RedisServer
) -> None:
    """Two rtchat-server processes on one Redis (AOF, fsync always) serve one conversation."""
    folders = [tmp_path / "a", tmp_path / "b"]
    servers = []
    for folder, name in zip(folders, ("a", "b"), strict=True):
        folder.mkdir()
        extra = ["--redis", redis_aof.url, "--server-id", name]
        servers.append(ServerProcess(pki, folder, extra=extra))
    try:

        async def talk() -> tuple[Msg, Msg]:
            alice = await open_session(pki, servers[0].port, "alice")
            bob = await open_session(pki, servers[1].port, "bob")
            await alice.send(SendMsg(text="across", ref="x"))
            got = await receive_until(bob, Msg)
            echo = await receive_until(alice, Msg)
            await alice.close()
            await bob.close()
            return got, echo

        got, echo = asyncio.run(talk())
        assert (got.text, got.from_, got.id) == ("across", "alice", echo.id)
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert server.process.returncode == 0


def test_names_release_with_redis_frees_a_name_and_says_when_nobody_owns_it(
    pki: Pki, tmp_path: Path, redis_aof: RedisServer
) -> None:
    """rtchat-server names release NAME --redis URL: 0 and 'released' once, then 1 and why."""

    async def own() -> None:
        store = RedisStore(redis_aof.url, server_id="test")
        await store.open()
        await store.own_name(name_key("captain"), "id:alice", "captain")
        await store.close()

    asyncio.run(own())
    command = [str(BIN / "rtchat-server"), "names", "release", "Captain", "--redis", redis_aof.url]
    first = run(command)
    assert first.returncode == 0
    assert first.stdout.startswith("released 'Captain'")
    again = run(command)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"rtchat-server: no identity owns the name 'Captain' in {redis_aof.url}"
    )


async def open_session(pki: Pki, port: int, user: str) -> ServerConnection:
    endpoint = Endpoint(host="127.0.0.1", port=port, cn="chatserver")
    connection = await ServerConnection.open(
        endpoint, client_context(pki.client(user)), timeout=WAIT
    )
    await connection.hello()
    return connection


def test_a_server_process_killed_has_its_users_reaped_and_a_reconnect_elsewhere_is_quiet(
    pki: Pki, tmp_path: Path, redis_aof: RedisServer
) -> None:
    """kill -9 of A (--presence-grace 3): carol, who came back on B at once, is never seen
    to leave or join by bob on B; alice, who did not, is seen to leave, disconnected."""
    servers = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        extra = ["--redis", redis_aof.url, "--server-id", name, "--presence-grace", "3"]
        servers.append(ServerProcess(pki, folder, extra=extra))
    a, b = servers
    try:

        async def watch() -> list[tuple[str, str, str | None]]:
            alice = await open_session(pki, a.port, "alice")
            carol = await open_session(pki, a.port, "carol")
            bob = await open_session(pki, b.port, "bob")
            a.kill()
            again = await open_session(pki, b.port, "carol")
            seen: list[tuple[str, str, str | None]] = []
            async with asyncio.timeout(WAIT):
                while ("leave", "alice", "disconnected") not in seen:  # bounded by the timeout
                    frame = await bob.receive()
                    if isinstance(frame, Join | Leave):
                        seen.append((frame.TYPE, frame.name, getattr(frame, "reason", None)))
            for client in (alice, carol):
                await client.close(say_bye=False, timeout=0.1)
            await again.close()
            await bob.close()
            return seen

        assert asyncio.run(watch()) == [("leave", "alice", "disconnected")]
    finally:
        b.stop()

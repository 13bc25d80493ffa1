"""Faults under real processes: rtchat-server --redis behind haproxy, servers and Redis killed.

Each test starts its own redis-server, two ``rtchat-server --redis``
processes and Debian's haproxy in front (tests/support.py ``Haproxy``:
round robin, health checks); the clients are the bundled client's
library (``Chat``, resume with ``since``) connecting through haproxy.
Missing haproxy or redis-server skips, and fails under .ci/run
(RTCHAT_REQUIRE_HAPROXY=1, RTCHAT_REQUIRE_REDIS=1).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from realtimechat.client.chat import Chat
from realtimechat.client.commands import Say
from realtimechat.client.connection import Endpoint, ServerConnection
from realtimechat.client.events import Missed
from realtimechat.protocol import Gap
from realtimechat.tls import client_context

from ..support import (
    PROXY_FROM,
    WAIT,
    Haproxy,
    Pki,
    Recorder,
    RedisServer,
    ServerProcess,
    receive_until,
    start_haproxy,
    start_redis,
)
from .test_nothing_lost import Running, all_echoed, chat_for, shows_all, until

USERS = ("alice", "bob", "carol", "dave")  # round robin: two on each server


@dataclass
class Cluster:
    redis: RedisServer
    servers: list[ServerProcess]
    haproxy: Haproxy

    def stop(self) -> None:
        self.haproxy.stop()
        for server in self.servers:
            if server.process.poll() is None:
                server.stop()
        self.redis.stop()


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    chats = Running()
    yield chats
    await chats.stop()


def start_cluster(pki: Pki, tmp_path: Path, *, persist: bool = True) -> Cluster:
    """A redis-server, two rtchat-server processes on it, haproxy in front of both."""
    (tmp_path / "redis").mkdir()
    redis = start_redis(tmp_path / "redis", persist=persist)
    servers: list[ServerProcess] = []
    try:
        durability = "full" if persist else "none"
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            extra = ["--redis", redis.url, "--server-id", name, "--redis-durability", durability]
            extra += ["--proxy-protocol", PROXY_FROM]  # haproxy sends send-proxy-v2
            servers.append(ServerProcess(pki, folder, extra=extra))
        return Cluster(redis, servers, start_haproxy(tmp_path, [s.port for s in servers]))
    except BaseException:
        for server in servers:
            server.stop()
        redis.stop()
        raise


async def join_all(pki: Pki, port: int, running: Running) -> dict[str, tuple[Chat, Recorder]]:
    """Every user's Chat through ``port``, welcomed, in turn (so round robin alternates)."""
    chats = {}
    for user in USERS:
        chat, view = chat_for(pki, user, port)
        running.start(chat)
        await asyncio.wait_for(chat.welcomed.wait(), WAIT)
        chats[user] = (chat, view)
    return chats


async def every_screen_shows(chats: dict[str, tuple[Chat, Recorder]], lines: list[str]) -> None:
    """Each screen shows ``lines`` exactly once each and in the order sent."""
    prefix = lines[0].split()[0]
    for user, (_, view) in chats.items():
        await until(partial(shows_all, view, set(lines)))
        shown = [text for text in view.texts() if text.startswith(prefix)]
        assert shown == lines, f"{user}'s screen"


def reconnected(view: Recorder) -> bool:
    return any("reconnecting" in line for line in view.notices)


@pytest.mark.protocol("9.1", "9.2")
@pytest.mark.system  # real rtchat-server, redis-server and haproxy processes
async def test_kill_9_of_a_server_behind_haproxy_shows_every_line_once_in_order(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """A numbered stream; server a is killed -9 at line 50 and stays dead: its clients come
    back through haproxy (on b), resume, and every screen shows every line once, in order."""
    cluster = start_cluster(pki, tmp_path)
    try:
        chats = await join_all(pki, cluster.haproxy.port, running)
        alice = chats["alice"][0]
        lines = [f"line {n}" for n in range(150)]
        for n, text in enumerate(lines):
            await alice.say(Say(text))
            if n == 50:
                cluster.servers[0].kill()
            await asyncio.sleep(0)
        await until(partial(all_echoed, alice))
        await every_screen_shows(chats, lines)
        moved = [user for user, (_, view) in chats.items() if reconnected(view)]
        assert moved, "someone was on the killed server, and came back through haproxy"
    finally:
        cluster.stop()


@pytest.mark.protocol("9.1", "9.2")
@pytest.mark.system
async def test_kill_9_of_redis_with_aof_mid_burst_loses_no_ack_and_shows_nothing_twice(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """Redis (appendfsync always) killed -9 at line 40 and started again at line 80: every
    line acked is kept, and every screen shows each line once, in order."""
    cluster = start_cluster(pki, tmp_path)
    try:
        chats = await join_all(pki, cluster.haproxy.port, running)
        alice = chats["alice"][0]
        lines = [f"burst {n}" for n in range(120)]
        for n, text in enumerate(lines):
            await alice.say(Say(text))
            if n == 40:
                cluster.redis.kill()
            if n == 80:
                cluster.redis.start()
            await asyncio.sleep(0)
        await until(partial(all_echoed, alice))
        await every_screen_shows(chats, lines)
    finally:
        cluster.stop()


@pytest.mark.protocol("9.1", "9.2")
@pytest.mark.system
async def test_redis_down_for_5_s_under_traffic_sends_wait_and_go_through(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """Redis stopped for 5 s while alice keeps typing: her lines wait (pending), the sessions
    stay, and once Redis is back every screen shows each line once, in order."""
    cluster = start_cluster(pki, tmp_path)
    try:
        chats = await join_all(pki, cluster.haproxy.port, running)
        alice = chats["alice"][0]
        lines = [f"typed {n}" for n in range(40)]
        for text in lines[:10]:
            await alice.say(Say(text))
        cluster.redis.kill()
        for text in lines[10:]:
            await alice.say(Say(text))
            await asyncio.sleep(5 / 30)  # typing through the 5 s Redis is away
        assert alice.pending, "lines typed while Redis is away wait"
        cluster.redis.start()
        await until(partial(all_echoed, alice))
        await every_screen_shows(chats, lines)
        assert not [user for user, (_, view) in chats.items() if reconnected(view)]
    finally:
        cluster.stop()


@pytest.mark.protocol("6.1", "9.3")
@pytest.mark.system
async def test_redis_without_persistence_restarted_ids_keep_rising_and_resumes_get_a_gap(
    pki: Pki, tmp_path: Path, running: Running
) -> None:
    """Redis (no AOF, --redis-durability none) restarted: it forgets everything, yet every
    screen's ids keep rising; live sessions and a resume from before both get a gap."""
    cluster = start_cluster(pki, tmp_path, persist=False)
    try:
        chats = await join_all(pki, cluster.haproxy.port, running)
        alice = chats["alice"][0]
        before = [f"before {n}" for n in range(10)]
        for text in before:
            await alice.say(Say(text))
        await every_screen_shows(chats, before)
        old = max(chats["bob"][1].ids())
        cluster.redis.restart()
        after = [f"after {n}" for n in range(10)]
        for text in after:
            await alice.say(Say(text))
        await until(partial(all_echoed, alice))
        await every_screen_shows(chats, after)
        for user, (_, view) in chats.items():
            ids = view.ids()
            assert all(x < y for x, y in itertools.pairwise(ids)), f"{user}: ids rise"
            assert any(isinstance(event, Missed) for event in view.events), user
        first_after = min(msg.id for msg in chats["bob"][1].messages if msg.text in after)
        gap = await resume_gap(pki, cluster.haproxy.port, "erin", old)
        assert (gap.from_id, gap.to_id) == (old + 1, first_after - 1)
    finally:
        cluster.stop()


async def resume_gap(pki: Pki, port: int, user: str, since: int) -> Gap:
    """The gap a resume with ``since`` gets through ``port``."""
    endpoint = Endpoint(host="127.0.0.1", port=port, cn="chatserver")
    connection = await ServerConnection.open(
        endpoint, client_context(pki.client(user)), timeout=WAIT
    )
    try:
        await connection.hello(None, since)
        return await receive_until(connection, Gap)
    finally:
        await connection.close()

"""Shared fixtures: a real PKI, real servers on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from realtimechat.pki import CaFolder, init_ca, issue_client
from realtimechat.server.app import ChatServer, utc_now
from realtimechat.server.config import Limits, ServerSettings
from realtimechat.server.redis_store import RedisStore
from realtimechat.server.store import Store
from realtimechat.tls import ServerFiles

from .support import TEST_LIMITS, USERS, Pki, RedisServer, ServerFactory, limits_with, start_redis

# The engines a test marked ``engines`` runs on: one server on its own store,
# and the Redis engine (servers sharing a redis-server the tests start).
ENGINES = ("local", "redis")

# The tiers of the suite, one folder each (with subfolders: tests/unit/pki is
# unit): make test-fast runs all but system (and slow) tests. A test in one
# folder that needs another tier says so with the marker (an integration
# file's one test that kills a server process).
TIERS = ("unit", "integration", "system")
TESTS = Path(__file__).parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``engines`` that starts servers runs once per engine (``engine``)."""
    marked = metafunc.definition.get_closest_marker("engines") is not None
    if marked and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", ENGINES, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tier of its folder, unless it names its tier itself."""
    for item in items:
        if any(item.get_closest_marker(tier) is not None for tier in TIERS):
            continue
        tier = _tier_of(item.path)
        if tier not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: a test lives in tests/unit, tests/integration or tests/system"
            )
        item.add_marker(tier)


def _tier_of(path: Path) -> str:
    """The folder right under tests/ that holds ``path`` ("" if none does)."""
    folders = path.relative_to(TESTS).parent.parts if path.is_relative_to(TESTS) else ()
    return folders[0] if folders else ""


@pytest.fixture(scope="session", autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point HOME and the XDG folders at a temporary one for the whole run.

    Servers keep messages and clients keep resume points in per-user folders;
    no test, and no process a test starts, may touch the real ones.
    """
    home = tmp_path_factory.mktemp("home")
    saved = {key: os.environ.get(key) for key in _HOME_VARIABLES}
    os.environ.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


_HOME_VARIABLES = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """One CA for the whole run: server, five users, an expired user, a rogue CA."""
    root = tmp_path_factory.mktemp("pki") / "ca"
    init_ca(root, "chatserver", ["localhost", "127.0.0.1", "::1"])
    for name in USERS:
        issue_client(root, name)
    now = dt.datetime.now(dt.UTC)
    issue_client(
        root,
        "expired",
        not_before=now - dt.timedelta(days=10),
        not_after=now - dt.timedelta(days=1),
    )
    rogue_dir = tmp_path_factory.mktemp("rogue")
    return Pki(folder=CaFolder(root), rogue=trustme.CA(), rogue_dir=rogue_dir)


@pytest.fixture
def ca_root(tmp_path: Path) -> Path:
    """A CA folder made by init_ca for "chatserver" with localhost and loopback SANs.

    A fresh one per test, for the tests of realtimechat.pki (tests/unit/pki,
    tests/integration/test_pki_handshakes.py), which change their CA.
    """
    root = tmp_path / "ca"
    init_ca(root, "chatserver", ("localhost", "127.0.0.1", "::1"))
    return root


@pytest.fixture
def openssl() -> str:
    """The openssl command line tool, which checks our certificates independently."""
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed")
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the run (AOF on, fsync always), on a Unix socket of its own."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The run's redis-server, emptied for this test; its URL."""
    if redis_server.process is None:  # a test killed it and did not restart it
        redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The engine servers of this test run on ("local" unless the test is marked engines)."""
    return getattr(request, "param", "local")


@pytest.fixture
async def start_server(
    pki: Pki, engine: str, request: pytest.FixtureRequest
) -> AsyncIterator[ServerFactory]:
    """Start servers on 127.0.0.1, port 0; all are shut down after the test.

    On the Redis engine, each server gets a RedisStore on the test's Redis
    (unless the test gives a store): servers started together share one
    conversation.
    """
    started: list[ChatServer] = []
    url = request.getfixturevalue("redis_url") if engine == "redis" else None

    async def start(
        limits: Limits = TEST_LIMITS,
        settings: ServerSettings | None = None,
        files: ServerFiles | None = None,
        store: Store | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        **limit_overrides: Any,
    ) -> ChatServer:
        if store is None and url is not None:
            store = RedisStore(url, server_id=f"server{len(started) + 1}")
        server = ChatServer(
            files or pki.server,
            hosts=["127.0.0.1"],
            port=0,
            limits=limits_with(limits, **limit_overrides),
            settings=settings or ServerSettings(),
            store=store,
            clock=clock,
        )
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.shutdown()


@pytest.fixture
async def server(start_server: ServerFactory) -> ChatServer:
    """A server with the test limits."""
    return await start_server()


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The server's log records, from INFO up."""
    caplog.set_level(logging.INFO, logger="realtimechat.server")
    return caplog

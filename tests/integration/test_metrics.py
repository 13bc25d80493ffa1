"""--metrics on a real in-process server: scraped over a real socket after known actions.

The chat goes over real TLS on loopback; the metrics over plain HTTP on
loopback, read with prometheus_client's own parser of the text format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from realtimechat.client.connection import ServerConnection
from realtimechat.errors import CertificateRejected
from realtimechat.protocol import (
    HistoryEnd,
    Joined,
    JoinRoom,
    Msg,
    SendMsg,
    Who,
)
from realtimechat.server import metrics
from realtimechat.server.app import ChatServer
from realtimechat.server.config import Limits, ServerSettings
from realtimechat.server.store import MemoryStore, Store

from ..support import TEST_LIMITS, WAIT, Pki, connect, join, limits_with, receive_n, receive_until
from .test_refusals import ipv6_loopback

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Start = Callable[..., Awaitable[ChatServer]]


@pytest.fixture
async def start(pki: Pki) -> AsyncIterator[Start]:
    """Start servers with --metrics on 127.0.0.1, port 0; each is shut down after the test."""
    started: list[ChatServer] = []

    async def start_one(
        *,
        settings: ServerSettings | None = None,
        store: Store | None = None,
        limits: Limits = TEST_LIMITS,
        **overrides: object,
    ) -> ChatServer:
        server = ChatServer(
            pki.server,
            hosts=["127.0.0.1"],
            port=0,
            limits=limits_with(limits, **overrides),
            settings=settings,
            store=store,
            metrics=("127.0.0.1", 0),
        )
        await server.start()
        started.append(server)
        return server

    yield start_one
    for server in started:
        await server.shutdown()


def metrics_port(server: ChatServer) -> int:
    assert server.metrics is not None
    return server.metrics.addresses[0][1]


async def http(server: ChatServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is; the status, the headers and the body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", metrics_port(server))
    try:
        writer.write(request)
        async with asyncio.timeout(WAIT):
            answer = await reader.read()  # to EOF: every answer closes the connection
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("ascii").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert int(headers["Content-Length"]) == len(body) or request.startswith(b"HEAD")
    return int(status_line.split(" ")[1]), headers, body


async def get(server: ChatServer, path: str) -> tuple[int, dict[str, str], bytes]:
    return await http(server, f"GET {path} HTTP/1.1\r\nHost: metrics\r\n\r\n".encode())


async def scrape(server: ChatServer) -> Samples:
    """Every sample of /metrics, by name and labels."""
    status, headers, body = await get(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


async def scraped_until(server: ChatServer, name: str, wanted: float, **labels: str) -> Samples:
    """Scrape until ``name{labels}`` is ``wanted`` (bounded); the last scrape."""
    async with asyncio.timeout(WAIT):
        while True:
            samples = await scrape(server)
            if value(samples, name, **labels) == wanted:
                return samples
            await asyncio.sleep(0.02)


async def past_replay(connection: ServerConnection) -> ServerConnection:
    await receive_until(connection, HistoryEnd, replays=True)
    return connection


async def test_counts_after_two_clients_chat_and_a_stranger_is_refused(
    start: Start, pki: Pki
) -> None:
    """Two users, 5 messages: 5 in, 5 stored, 10 delivered, in the lobby; a rogue CA's
    client is one unknown_issuer refusal; a bye is one session closed with quit."""
    server = await start()
    alice = await past_replay(await join(server, pki, "alice"))
    bob = await past_replay(await join(server, pki, "bob"))
    for number in range(5):
        await alice.send(SendMsg(text=f"hello {number}", ref=f"r{number}"))
    received = await receive_n(bob, Msg, 5)
    assert [msg.text for msg in received] == [f"hello {number}" for number in range(5)]
    await receive_n(alice, Msg, 5)  # the echoes: all five delivered to both

    samples = await scrape(server)
    assert value(samples, "rtchat_messages_in_total") == 5
    assert value(samples, "rtchat_messages_stored_total") == 5
    assert value(samples, "rtchat_messages_delivered_total") == 10
    assert value(samples, "rtchat_room_messages_total", room="lobby") == 5
    assert value(samples, "rtchat_sessions") == 2
    assert value(samples, "rtchat_users_online") == 2
    assert value(samples, "rtchat_connections", state="welcomed") == 2
    assert value(samples, "rtchat_connections", state="handshaking") == 0
    assert value(samples, "rtchat_room_sessions", room="lobby") == 2
    assert value(samples, "rtchat_store_batch_messages_sum") == 5
    commits = value(samples, "rtchat_store_commit_seconds_count")
    assert 1 <= commits <= 5
    assert value(samples, "rtchat_store_batch_messages_count") == commits
    assert value(samples, "rtchat_store_commit_seconds_bucket", le="+Inf") == commits
    assert value(samples, "rtchat_handshakes_refused_total", reason="unknown_issuer") == 0
    assert value(samples, "rtchat_build_info", version=value_label(samples, "rtchat_build_info"))
    assert value(samples, "process_resident_memory_bytes") > 0

    stranger = await connect(server, pki.rogue_client())  # TLS 1.3: the client's side is done
    with pytest.raises(CertificateRejected):
        await stranger.hello()  # the refusal shows on the first read
    await stranger.close()
    await scraped_until(server, "rtchat_handshakes_refused_total", 1, reason="unknown_issuer")

    await alice.close()  # bye: the server ends the session with quit
    samples = await scraped_until(server, "rtchat_sessions_closed_total", 1, reason="quit")
    assert value(samples, "rtchat_sessions") == 1
    assert value(samples, "rtchat_sessions_closed_total", reason="disconnected") == 0
    await bob.close()


def value_label(samples: Samples, name: str) -> str:
    """The version label of the one ``name`` sample."""
    [(_, labels)] = [key for key in samples if key[0] == name]
    return dict(labels)["version"]


async def test_each_rate_limited_request_is_counted(start: Start, pki: Pki) -> None:
    """burst 2, rate 1: of five who requests three are refused, each counted once."""
    server = await start(rate=1, burst=2)
    alice = await past_replay(await join(server, pki, "alice"))
    for _ in range(5):
        await alice.send(Who())
    samples = await scraped_until(server, "rtchat_rate_limited_total", 3, limit="rate")
    assert value(samples, "rtchat_rate_limited_total", limit="identity_rate") == 0
    await alice.close()


async def test_rooms_of_the_room_file_by_name_the_others_together(
    start: Start, pki: Pki, tmp_path: Path
) -> None:
    """#ops (in the room file) has its own series; #random (made by a join) counts as other."""
    rooms = tmp_path / "rooms.toml"
    rooms.write_text('[rooms."#ops"]\nallow = ["*"]\n')
    server = await start(settings=ServerSettings(rooms_file=rooms))
    alice = await past_replay(await join(server, pki, "alice"))
    for room in ("#ops", "#random"):
        await alice.send(JoinRoom(room=room))
        await receive_until(alice, Joined)
        await receive_until(alice, HistoryEnd, replays=True)
    await alice.send(SendMsg(text="to ops", ref="a", room="#ops"))
    await alice.send(SendMsg(text="to random", ref="b", room="#random"))
    await alice.send(SendMsg(text="to random again", ref="c", room="#random"))
    await receive_n(alice, Msg, 3)

    samples = await scrape(server)
    assert value(samples, "rtchat_rooms") == 2
    assert value(samples, "rtchat_room_members", room="#ops") == 1
    assert value(samples, "rtchat_room_members", room="other") == 1
    assert value(samples, "rtchat_room_sessions", room="#ops") == 1
    assert value(samples, "rtchat_room_messages_total", room="#ops") == 1
    assert value(samples, "rtchat_room_messages_total", room="other") == 2
    assert value(samples, "rtchat_room_messages_total", room="lobby") == 0
    assert not [key for key in samples if dict(key[1]).get("room") == "#random"]
    await alice.close()


async def test_certificate_expiry_gauges_follow_the_files_in_force(start: Start, pki: Pki) -> None:
    """Seconds until the server certificate, the CA and the CRL's nextUpdate, as trusted now."""
    server = await start()
    samples = await scrape(server)
    now = server.clock()
    trust = server.trust
    expected = {
        "rtchat_server_certificate_expiry_seconds": trust.server_certificate.not_valid_after_utc,
        "rtchat_ca_certificate_expiry_seconds": trust.ca_certificates[0].not_valid_after_utc,
    }
    assert trust.revocations is not None
    assert trust.revocations.next_update is not None
    expected["rtchat_crl_next_update_seconds"] = trust.revocations.next_update
    for name, when in expected.items():
        # Read a moment apart: within a minute of each other, and in the future.
        assert abs(value(samples, name) - (when - now).total_seconds()) < 60, name
        assert value(samples, name) > 0, name


async def test_healthz_and_readyz(start: Start) -> None:
    """/healthz: alive; /readyz: listening and the store answered (HEAD too, no body)."""
    server = await start()
    assert await get(server, "/healthz") == (200, text_headers(3), b"ok\n")
    status, _, body = await get(server, "/readyz")
    assert (status, body) == (200, b"ready\n")
    status, headers, body = await http(server, b"HEAD /readyz HTTP/1.1\r\n\r\n")
    assert (status, headers["Content-Length"], body) == (200, "6", b"")


def text_headers(length: int) -> dict[str, str]:
    return {
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Length": str(length),
        "Connection": "close",
        "Cache-Control": "no-store",
    }


class DeadStore(MemoryStore):
    """A store that stopped answering queries (its disk went away, say)."""

    fail = False

    async def ping(self) -> None:
        if self.fail:
            raise OSError("disk I/O error")


async def test_readyz_says_503_when_the_store_fails(start: Start) -> None:
    """The store's query fails: 503 with the reason; /healthz stays 200 (alive, not ready)."""
    store = DeadStore()
    server = await start(store=store)
    store.fail = True
    status, _, body = await get(server, "/readyz")
    assert (status, body) == (503, b"not ready: the message store failed: disk I/O error\n")
    assert (await get(server, "/healthz"))[0] == 200


async def test_bad_requests_get_clean_errors_and_the_chat_goes_on(
    start: Start, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown path 404, POST 405, a huge head 431, garbage 400, silence 408, too many
    scrapers 503: each a whole HTTP answer; then two users still chat."""
    monkeypatch.setattr(metrics, "REQUEST_TIMEOUT", 0.3)
    server = await start()
    assert (await get(server, "/metrics/../secrets"))[0] == 404
    status, headers, _ = await http(server, b"POST /metrics HTTP/1.1\r\n\r\n")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")
    huge = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n"
    assert (await http(server, huge))[0] == 431
    assert (await http(server, b"\x16\x03\x01\x00\xa0\r\n\r\n"))[0] == 400
    assert (await http(server, b"GET /metrics HTTP/1.1\r\n"))[0] == 408  # never finished

    monkeypatch.setattr(metrics, "REQUEST_TIMEOUT", WAIT)
    idle = [
        await asyncio.open_connection("127.0.0.1", metrics_port(server))
        for _ in range(metrics.MAX_CLIENTS)
    ]
    try:
        await asyncio.sleep(0)  # (each waits for its request: nothing to poll for)
        status, _, body = await get(server, "/metrics")
        assert (status, body) == (503, b"too many scrapers at once\n")
    finally:
        for _, writer in idle:
            writer.close()
    status, _, _ = await get_when_free(server)
    assert status == 200

    alice = await past_replay(await join(server, pki, "alice"))
    bob = await past_replay(await join(server, pki, "bob"))
    await alice.send(SendMsg(text="still here", ref="s"))
    assert (await receive_until(bob, Msg)).text == "still here"
    await alice.close()
    await bob.close()


async def get_when_free(server: ChatServer) -> tuple[int, dict[str, str], bytes]:
    """/metrics once the idle scrapers' connections are gone (bounded)."""
    async with asyncio.timeout(WAIT):
        while True:
            answer = await get(server, "/metrics")
            if answer[0] != 503:
                return answer
            await asyncio.sleep(0.02)


async def test_a_port_in_use_is_one_clear_error(pki: Pki, start: Start) -> None:
    """--metrics on a port another server's metrics hold: ConfigError naming it."""
    first = await start()
    port = metrics_port(first)
    second = ChatServer(pki.server, hosts=["127.0.0.1"], port=0, metrics=("127.0.0.1", port))
    with pytest.raises(Exception, match=rf"cannot serve --metrics on 127\.0\.0\.1:{port}: "):
        await second.start()
    await second.shutdown()


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
async def test_metrics_on_ipv6_loopback(pki: Pki, server_log: pytest.LogCaptureFixture) -> None:
    """--metrics [::1]:PORT: served on the IPv6 loopback, and the log says so in brackets."""
    server = ChatServer(pki.server, hosts=["127.0.0.1"], port=0, metrics=("::1", 0))
    await server.start()
    try:
        assert server.metrics is not None
        [(host, port)] = server.metrics.addresses
        assert host == "::1"
        assert f"metrics on http://[::1]:{port}/metrics (and /healthz, /readyz)" in server_log.text
        reader, writer = await asyncio.open_connection("::1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n\r\n")
        async with asyncio.timeout(WAIT):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert answer.endswith(b"\r\n\r\nok\n")
    finally:
        await server.shutdown()

"""A bounded soak: 500 clients for 60 s, one flooding, ten never reading.

The server is a real subprocess (its memory is measured from /proc). The
witness must receive every message of a steady talker, in order, while
everything else goes on around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from pathlib import Path

import pytest

from realtimechat.protocol import FrameDecoder, Msg, Ping, Pong, SendMsg, encode
from realtimechat.tls import client_context

from ..support import Pki, ServerProcess

CLIENTS = 500
SOAK_SECONDS = 60.0
TICK = 0.1  # the talker's period: 600 ticks in SOAK_SECONDS
NEVER_READING = 10
MEMORY_BOUND_MIB = 400  # about 33 KiB per connection (docs/performance.md), plus queues and base
HELLO = b'{"type":"hello","v":1}\n'
PADDING = "x" * 2000

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def open_client(
    context: ssl.SSLContext, port: int, *, tiny_window: bool = False
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if tiny_window:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=context, server_hostname="chatserver", limit=16_384
    )
    writer.write(HELLO)
    await writer.drain()
    return reader, writer


async def drain_forever(reader: asyncio.StreamReader) -> int:
    """Read and discard everything; the byte count when the connection ends."""
    total = 0
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            total += len(data)
    return total


async def test_soak_500_clients_one_flood_ten_never_reading(pki: Pki, tmp_path: Path) -> None:
    """For 60 s the witness gets every message in order and server memory stays bounded."""
    server = ServerProcess(
        pki,
        tmp_path,
        extra=[
            *("--max-per-address", "2000", "--durability", "normal"),
            # 488 listeners of one certificate, 50 handshakes at a time from one address
            *("--max-per-identity", "2000", "--max-handshakes-per-source", "256"),
        ],
    )
    port = server.port
    contexts = {
        name: client_context(pki.client(name)) for name in ("alice", "bob", "carol", "dave", "erin")
    }
    writers: list[asyncio.StreamWriter] = []
    tasks: list[asyncio.Task[int]] = []
    peak = rss_mib(server.process.pid)
    try:
        # 488 quiet listeners, in batches so as not to trip the handshake cap.
        quiet = CLIENTS - NEVER_READING - 2
        for start in range(0, quiet, 50):
            batch = await asyncio.gather(
                *(open_client(contexts["bob"], port) for _ in range(min(50, quiet - start)))
            )
            for reader, writer in batch:
                writers.append(writer)
                tasks.append(asyncio.create_task(drain_forever(reader)))
        never = [
            await open_client(contexts["alice"], port, tiny_window=True)
            for _ in range(NEVER_READING)
        ]
        writers += [writer for _, writer in never]
        witness_reader, witness_writer = await open_client(contexts["erin"], port)
        talker_reader, talker_writer = await open_client(contexts["dave"], port)
        writers += [witness_writer, talker_writer]
        tasks.append(asyncio.create_task(drain_forever(talker_reader)))

        received: list[int] = []

        async def witness() -> int:
            decoder = FrameDecoder.for_client()
            while data := await witness_reader.read(65536):
                for frame in decoder.feed(data):
                    # Replayed ticks count too: the talker may get in first, and
                    # replay plus live must then be the whole sequence, once.
                    if isinstance(frame, Msg) and frame.from_ == "dave":
                        received.append(int(frame.text.split()[1]))
                    elif isinstance(frame, Ping):  # stay alive while waiting at the end
                        witness_writer.write(encode(Pong(t=frame.t)))
            return len(received)

        async def flooder() -> int:
            rounds = 0
            deadline = time.monotonic() + SOAK_SECONDS
            while time.monotonic() < deadline:
                reader, writer = await open_client(contexts["carol"], port)
                rounds += 1
                reading = asyncio.create_task(drain_forever(reader))
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    n = 0
                    while not reading.done() and time.monotonic() < deadline:
                        burst = b"".join(
                            encode(SendMsg(text=f"flood {n + i}", ref=f"f{rounds}-{n + i}"))
                            for i in range(50)
                        )
                        n += 50
                        writer.write(burst)
                        await writer.drain()
                        await asyncio.sleep(0)  # as fast as we can, but let the others run
                writer.transport.abort()
                await asyncio.gather(reading, return_exceptions=True)
            return rounds

        watching = asyncio.create_task(witness())
        flooding = asyncio.create_task(flooder())
        sent = 0
        started = time.monotonic()
        next_sample = started
        while time.monotonic() - started < SOAK_SECONDS:
            text = f"tick {sent} {PADDING}"  # 2 kB: enough to fill the never-readers' buffers
            talker_writer.write(encode(SendMsg(text=text, ref=f"t{sent}")))
            await talker_writer.drain()
            sent += 1
            if time.monotonic() >= next_sample:
                peak = max(peak, rss_mib(server.process.pid))
                next_sample += 1.0
            # Tick n is due at n * TICK: a busy loop's overhead must not add up tick after tick.
            await asyncio.sleep(max(0.0, started + sent * TICK - time.monotonic()))
        floods = await flooding

        async def witness_caught_up() -> None:
            while len(received) < sent:
                await asyncio.sleep(0.05)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(witness_caught_up(), 30)
        log = server.log_text()
        about_erin = [line for line in log.splitlines() if "cn=erin" in line]
        assert received == list(range(sent)), (
            f"the witness got {len(received)} of {sent} messages, "
            f"first missing: {next((i for i, n in enumerate(received) if i != n), len(received))}; "
            f"witness task done: {watching.done()}; log about it: {about_erin}"
        )
        assert sent >= 500, f"the talker sent {sent} ticks in {SOAK_SECONDS:g} s"
        assert floods >= 1
        assert server.process.poll() is None, "the server died"
        assert peak < MEMORY_BOUND_MIB, f"server RSS peaked at {peak:.0f} MiB"
        assert "reason=flooding" in log
        slow = [line for line in log.splitlines() if "reason=slow_consumer" in line]
        assert all("cn=alice" in line for line in slow), "a reading client was cut off"
        print(
            f"\nsoak: {CLIENTS} clients, {sent} ticks, {floods} flood rounds, "
            f"{len(slow)} slow consumers cut off, server RSS peak {peak:.0f} MiB"
        )
        watching.cancel()
    finally:
        for writer in writers:
            writer.transport.abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.stop()

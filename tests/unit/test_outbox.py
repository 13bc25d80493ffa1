"""The fan-out queue policy, driven directly: bounds, drops, gaps, order."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtimechat.protocol import Gap, encode
from realtimechat.server.outbox import FlushScheduler, Outbox


def frames(writes: list[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for chunk in writes for line in chunk.splitlines()]


def msg(n: int) -> bytes:
    return json.dumps({"type": "msg", "id": n}).encode() + b"\n"


async def settle() -> None:
    await asyncio.sleep(0)  # let the scheduled flush run once


@pytest.mark.protocol("10")
async def test_everything_pending_goes_out_in_one_write() -> None:
    """Frames queued in one loop iteration leave in a single write."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append, FlushScheduler(asyncio.get_running_loop()), max_frames=100, max_bytes=10_000
    )
    for n in range(10):
        box.put_msg(msg(n), n)
    box.put_control(b'{"type":"pong"}\n')
    await settle()
    assert len(writes) == 1
    assert [f["type"] for f in frames(writes)] == ["msg"] * 10 + ["pong"]


@pytest.mark.protocol("10")
async def test_full_queue_drops_only_msgs_and_reports_the_gap_in_order() -> None:
    """Over the bound, msgs are dropped; a gap with their ids comes before what follows."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append, FlushScheduler(asyncio.get_running_loop()), max_frames=3, max_bytes=10_000
    )
    box.pause()
    for n in range(1, 6):  # 1-3 fit, 4 and 5 are dropped
        box.put_msg(msg(n), n)
    box.put_control(b'{"type":"bye","reason":"x"}\n')  # never dropped, after the gap
    assert box.queued_frames == 5  # 3 msgs, the gap, the bye
    assert box.dropped == 2
    box.resume()
    out = frames(writes)
    assert [f.get("id") for f in out[:3]] == [1, 2, 3]
    assert out[3] == json.loads(encode(Gap(from_id=4, to_id=5, missed=2)))
    assert out[4]["type"] == "bye"


@pytest.mark.protocol("10")
async def test_byte_bound_counts_bytes() -> None:
    """The byte bound drops a msg that would not fit even when frames are few."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append,
        FlushScheduler(asyncio.get_running_loop()),
        max_frames=100,
        max_bytes=len(msg(1)) * 2,
    )
    box.pause()
    for n in range(1, 4):
        box.put_msg(msg(n), n)
    assert box.queued_bytes <= len(msg(1)) * 2
    assert box.dropped == 1
    box.resume()
    out = frames(writes)
    assert [f["type"] for f in out] == ["msg", "msg", "gap"]


@pytest.mark.protocol("10")
async def test_out_of_order_drops_make_separate_gaps() -> None:
    """A dropped replay older than a dropped live msg gets its own gap, ranges stay true."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append, FlushScheduler(asyncio.get_running_loop()), max_frames=1, max_bytes=10_000
    )
    box.pause()
    box.put_msg(msg(9), 9)  # fits
    box.put_msg(msg(10), 10)  # live, dropped
    for n in (3, 4):  # a history reply, dropped
        box.put_msg(msg(n), n)
    box.resume()
    gaps = [f for f in frames(writes) if f["type"] == "gap"]
    assert gaps == [
        {"type": "gap", "from_id": 10, "to_id": 10, "missed": 1},
        {"type": "gap", "from_id": 3, "to_id": 4, "missed": 2},
    ]

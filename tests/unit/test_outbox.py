"""The fan-out queue policy, driven directly: bounds, drops, gaps, order."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtimechat.protocol import Gap, encode
from realtimechat.server.outbox import WRITE_SLICE, FlushScheduler, Outbox


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


def ack(ref: str) -> bytes:
    return json.dumps({"type": "ack", "ref": ref}).encode() + b"\n"


@pytest.mark.protocol("10")
async def test_a_slow_consumer_ended_gets_a_gap_for_its_queue_then_its_bye() -> None:
    """Ended while paused: the queue is dropped, not written; one gap names every msg in it
    and every msg dropped before, then the bye; the scheduler's total is back to 0."""
    writes: list[bytes] = []
    scheduler = FlushScheduler(asyncio.get_running_loop())
    box = Outbox(writes.append, scheduler, max_frames=4, max_bytes=10_000)
    box.pause(held=5_000)  # what the transport held when it paused counts too
    for n in range(1, 4):  # 1-3 fit with the ack, 4 and 5 are dropped
        box.put_msg(msg(n), n)
        if n == 1:
            box.put_control(ack("r1"))
    box.put_msg(msg(4), 4)
    box.put_msg(msg(5), 5)
    assert box.holding_bytes == scheduler.holding == box.queued_bytes + 5_000
    box.end()
    assert scheduler.holding == 0
    box.put_control(b'{"type":"bye","reason":"slow_consumer"}\n')
    box.flush()
    assert frames(writes) == [
        {"type": "gap", "from_id": 1, "to_id": 5, "missed": 5},
        {"type": "bye", "reason": "slow_consumer"},
    ]
    assert box.dropped == 5
    assert scheduler.holding == 0


@pytest.mark.protocol("10")
async def test_a_reader_ended_gets_what_is_queued() -> None:
    """Ended while its transport takes writes: nothing is dropped, the bye comes last."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append, FlushScheduler(asyncio.get_running_loop()), max_frames=10, max_bytes=10_000
    )
    box.put_msg(msg(1), 1)
    box.end()
    box.put_control(b'{"type":"bye","reason":"shutdown"}\n')
    box.flush()
    assert [f["type"] for f in frames(writes)] == ["msg", "bye"]


async def test_the_scheduler_keeps_the_total_and_says_when_it_is_over() -> None:
    """What the paused outboxes hold adds up to one total; past the limit, ``over`` is called
    after the flushes (a transport that takes writes holds nothing past them)."""
    overs: list[int] = []

    def over() -> None:
        overs.append(scheduler.holding)

    scheduler = FlushScheduler(asyncio.get_running_loop(), limit=3 * len(msg(1)), over=over)
    written: list[bytes] = []
    slow, fast = (
        Outbox(written.append, scheduler, max_frames=100, max_bytes=10_000) for _ in range(2)
    )
    slow.pause()
    for n in range(1, 5):
        fast.put_msg(msg(n), n)
    await settle()
    assert (scheduler.holding, overs) == (0, [])  # the reader's queue was written out
    for n in range(1, 5):
        slow.put_msg(msg(n), n)
    await settle()
    assert overs == [4 * len(msg(1))]
    slow.close()
    assert scheduler.holding == 0


async def test_a_large_flush_goes_in_pieces_in_order() -> None:
    """Past WRITE_SLICE a flush is several writes of about that size, never one joined copy."""
    writes: list[bytes] = []
    box = Outbox(
        writes.append,
        FlushScheduler(asyncio.get_running_loop()),
        max_frames=10_000,
        max_bytes=10 * WRITE_SLICE,
    )
    sent = [msg(n) + b" " * 1000 for n in range(300)]  # about 300 kB
    for n, data in enumerate(sent):
        box.put_msg(data, n)
    await settle()
    assert len(writes) > 1
    assert all(len(piece) < WRITE_SLICE + 2000 for piece in writes)
    assert b"".join(writes) == b"".join(sent)


@pytest.mark.protocol("10")
async def test_a_burst_is_not_handed_whole_to_a_transport_that_pauses() -> None:
    """A replay-sized burst is written as soon as the queue reaches WRITE_SLICE; once the
    transport pauses, the rest waits in the bounded queue, and what does not fit is dropped
    with its gap, instead of the whole burst going into the paused transport."""
    writes: list[bytes] = []
    box: Outbox

    def write(data: bytes) -> None:  # a transport that pauses past 64 KiB and never drains
        writes.append(data)
        if sum(map(len, writes)) > WRITE_SLICE:
            box.pause()

    box = Outbox(
        write,
        FlushScheduler(asyncio.get_running_loop()),
        max_frames=10_000,
        max_bytes=4 * WRITE_SLICE,
    )
    sent = [
        json.dumps({"type": "msg", "id": n, "text": "x" * 10_000}).encode() + b"\n"
        for n in range(100)
    ]  # about 1 MB, as a replay of large messages
    for n, data in enumerate(sent):
        box.put_msg(data, n)
    assert sum(map(len, writes)) < 2 * WRITE_SLICE  # was the first 256 KiB, all of it
    assert box.queued_bytes <= 4 * WRITE_SLICE
    box.resume()
    out = frames(writes)
    ids = [frame["id"] for frame in out if frame["type"] == "msg"]
    assert ids == list(range(len(ids)))
    assert out[-1] == {"type": "gap", "from_id": len(ids), "to_id": 99, "missed": 100 - len(ids)}
    assert box.dropped == 100 - len(ids)


async def test_a_closed_outbox_writes_nothing_and_holds_nothing() -> None:
    """After the connection is gone, frames put are dropped and the total stays 0."""
    writes: list[bytes] = []
    scheduler = FlushScheduler(asyncio.get_running_loop())
    box = Outbox(writes.append, scheduler, max_frames=10, max_bytes=10_000)
    box.pause(held=100)
    box.put_msg(msg(1), 1)
    box.close()
    box.put_control(ack("late"))  # an ack settled after the peer went
    await settle()
    assert (writes, scheduler.holding) == ([], 0)

"""Per-session outbound queues and the one writer that empties them.

Fan-out policy -- what happens to a message on its way to each member:

* The hub encodes a message **once**; the same ``bytes`` object is appended
  to the outbox of every session that should see it (the sender's too: its
  echo carries ``id`` and ``ts``).
* Nothing is written at append time. The first append to an empty outbox
  asks the ``FlushScheduler`` to run once at the end of this event-loop
  iteration; it then writes **everything pending in one
  ``transport.write``**. However many messages arrived in one iteration,
  each client costs one TLS record batch and one ``send``: the number of
  writes, not JSON, is what costs (the shared benchmark harness, outside
  this repository: docs/performance.md). The exception: ``msg`` frames
  that bring the queue to ``WRITE_SLICE`` (a replay, a history reply, a
  burst) are written at once, so that a transport that asks us to stop
  has not been handed much more than that.
* Each outbox is bounded in frames (``Limits.queue_frames``) and bytes
  (``Limits.queue_bytes``). It only fills while its transport has asked us
  to stop writing (``pause_writing``: the peer is not reading fast enough
  and the kernel and TLS buffers are full). A burst larger than the bounds
  for a transport that is not paused is written out at once instead: a
  peer that reads never loses a message.
* When a ``msg`` does not fit, it is **dropped for that session only** and
  counted; as soon as one fits again (or the queue is next flushed), a
  ``gap {from_id, to_id, missed}`` frame is queued in its place, so the
  client knows exactly which ids to ask ``history`` for. Nobody else is
  affected.
* Control frames (``welcome``, ``ack``, ``error``, ``pong``, ``join``,
  ``leave``, ``users``, ``gap``, ``bye``, ...) are **never dropped**: they
  are few, and a client's state depends on each of them.
* A session whose transport stays paused longer than
  ``Limits.write_timeout`` is ended with ``bye {reason: slow_consumer}``
  (the session enforces this; see ``Session.pause_writing``). Its queue is
  then **dropped**, not written (``discard``): it gets a ``gap`` naming the
  messages that were in it, and its ``bye``. A peer that did not read for
  that long would not take the queue before its connection is cut, and
  handing it over would cost a private copy of it twice over (joined, then
  encrypted). So memory per slow peer is bounded by the queue limits plus
  what its transport was handed before it paused: one flush, which is
  under about three ``WRITE_SLICE`` (the queue is written once it reaches
  one, and a run is at most about two), unless it is the queue written
  whole as the transport resumed. No writer ever waits on a reader.
* All queues together are bounded too (``Limits.queue_total_bytes``). Only
  the queues of paused transports outlive a loop iteration (every other
  one is flushed at its end), so the ``FlushScheduler`` keeps the set of
  paused outboxes (changed on pause and resume, never per message) and,
  after its flushes, adds up what they hold and what their transports
  held when they paused. Past the limit it asks the hub to end the
  sessions holding the most as slow consumers (``Hub._shed``). A message
  queued for many sessions is counted once for each: an upper bound,
  since they share its bytes. Nothing of this runs while no transport
  is paused, and nothing of it is done per message.
* A flush larger than ``WRITE_SLICE`` is handed over in pieces of about
  that size, so that it is never joined into one private copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from ..protocol import Gap, encode

WRITE_SLICE: Final = 64 * 1024  # a flush larger than this is written in pieces of about this
_NO_ID: Final = 1 << 62  # above every message id: "no msg queued" for the lowest one queued
_NO_LIMIT: Final = 1 << 62  # bytes no set of queues reaches: the total is not bounded


class FlushScheduler:
    """Runs each marked outbox's flush once, at the end of this loop iteration.

    It also knows the outboxes whose transports are paused (``paused``)
    and, after its flushes, calls ``over`` when what they hold is above
    ``limit``. Being shared by every outbox of a server, it keeps their
    counts for the metrics too: ``gaps`` sent and ``dropped`` msg frames.
    """

    __slots__ = ("_loop", "_over", "_pending", "_scheduled", "dropped", "gaps", "limit", "paused")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        limit: int = _NO_LIMIT,
        over: Callable[[], None] | None = None,
    ) -> None:
        self._loop = loop
        self._pending: list[Outbox] = []
        self._scheduled = False
        self.limit = limit
        self._over = over
        self.paused: set[Outbox] = set()  # outboxes whose transport asked us to stop
        self.gaps = 0  # gap frames queued, over every outbox's life
        self.dropped = 0  # msg frames dropped for slow consumers, likewise

    def mark(self, outbox: Outbox) -> None:
        self._pending.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._run)

    @property
    def holding(self) -> int:
        """What the paused outboxes hold, with what their transports held when they paused."""
        return sum(outbox.holding_bytes for outbox in self.paused)

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        self._scheduled = False
        for outbox in pending:
            outbox.flush()
        if self.paused and self._over is not None and self.holding > self.limit:
            self._over()


class Outbox:
    """One session's bounded outbound queue (policy: the module docstring).

    Messages come as *runs*: the encoded frames of one or more consecutive
    messages with their first and last id, so that a committed batch costs
    one append per session rather than one per message.
    """

    __slots__ = (
        "_chunks",
        "_first",
        "_gap_first",
        "_gap_last",
        "_gap_missed",
        "_held",
        "_last",
        "_marked",
        "_max_bytes",
        "_max_frames",
        "_paused_gapped",
        "_paused_msgs",
        "_scheduler",
        "_transport_bytes",
        "_write",
        "dropped",
        "paused",
        "queued_bytes",
        "queued_frames",
    )

    def __init__(
        self,
        write: Callable[[bytes], None],
        scheduler: FlushScheduler,
        *,
        max_frames: int,
        max_bytes: int,
    ) -> None:
        self._write = write
        self._scheduler = scheduler
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self.queued_bytes = 0
        self.queued_frames = 0
        self._marked = False
        self.paused = False
        self.dropped = 0  # msg frames dropped over this session's life
        self._gap_first = 0
        self._gap_last = 0
        self._gap_missed = 0
        self._held: list[Run] | None = None  # live runs held back during a replay
        # While paused, for discard(): the lowest and highest msg id queued (in
        # runs and gaps), the msgs queued and the msgs the queued gaps name. The
        # queue is empty when a transport pauses (only a write makes it pause,
        # and a flush empties the queue before it writes), so this is all of it.
        self._first = _NO_ID
        self._last = 0
        self._paused_msgs = 0
        self._paused_gapped = 0
        self._transport_bytes = 0  # what the transport held when it paused

    @property
    def holding_bytes(self) -> int:
        """What this session costs beyond its connection: its queue, and its transport's
        buffer when it paused."""
        return self.queued_bytes + self._transport_bytes

    def put_control(self, data: bytes) -> None:
        """Queue a frame that must not be dropped (after any gap it follows)."""
        if self._gap_missed:
            self._append_gap()
        self._append(data, 1)

    def put_msg(self, data: bytes, msg_id: int, *, hold: bool = True) -> None:
        """Queue one ``msg`` frame (see ``put_run``)."""
        self.put_run(Run(data, msg_id, msg_id, 1), hold=hold)

    def put_run(self, run: Run, *, hold: bool = True) -> None:
        """Queue a run of ``msg`` frames, or drop it and remember the gap if full.

        During a replay (``hold``), live messages wait for ``release``;
        ``hold=False`` is for frames that belong to another reply.
        """
        if hold and self._held is not None:
            # Bounded without a limit of its own: held only while this
            # session's replay waits for its turn and is read (Hub.replay_turn),
            # and each run is the one every other queue shares; ``release``
            # puts them through the bounds below.
            self._held.append(run)
            return
        if self.paused:
            self._put_paused(run)
            return
        if self._over(run):
            # A peer that reads loses nothing: a large batch queued in one
            # loop iteration goes to the transport now, and only a transport
            # that then asks us to stop makes the queue fill and drop.
            self.flush()
            if self.paused:
                self._put_paused(run)
                return
        if self._gap_missed:
            self._append_gap()
        self._append(run.data, run.count)
        if self.queued_bytes >= WRITE_SLICE:
            # Handed over a slice at a time, not all at the end of the loop
            # iteration: a replay, or the live runs held during it, used to
            # reach a transport that had paused after its first piece whole (up
            # to --queue-bytes each, encrypted: a private copy per session). Now
            # a transport that pauses was given at most about two slices past
            # its limit, and the rest waits in the bounded queue (_put_paused).
            self.flush()

    def _put_paused(self, run: Run) -> None:
        """Queue a run while the transport is paused (the queue lasts): bounded, counted."""
        if self._over(run):
            self._drop(run)
            return
        if self._gap_missed:
            self._append_gap()
        self._paused_msgs += run.count
        if run.first < self._first:  # noqa: PLR1730
            self._first = run.first
        if run.last > self._last:  # noqa: PLR1730
            self._last = run.last
        self._append(run.data, run.count)

    def _over(self, run: Run) -> bool:
        return (
            self.queued_frames + run.count > self._max_frames
            or self.queued_bytes + len(run.data) > self._max_bytes
        )

    def _drop(self, run: Run) -> None:
        if self._gap_missed and run.first <= self._gap_last:
            # Out of order (a history reply after live traffic): report the
            # gap so far, start another.
            self._append_gap()
        if not self._gap_missed:
            self._gap_first = run.first
        self._gap_last = run.last
        self._gap_missed += run.count
        self.dropped += run.count
        self._scheduler.dropped += run.count

    def flush(self) -> None:
        """Write everything pending in one write (pieces, past WRITE_SLICE), unless paused."""
        self._marked = False
        if self.paused:
            return
        if self._gap_missed:
            self._append_gap()
        if not self._chunks:
            return
        chunks = self._chunks
        size = self.queued_bytes
        self._chunks = []
        self.queued_bytes = 0
        self.queued_frames = 0
        if len(chunks) == 1:
            self._write(chunks[0])
        elif size <= WRITE_SLICE:
            self._write(b"".join(chunks))
        else:
            for piece in _pieces(chunks):
                self._write(piece)

    def discard(self) -> None:
        """Drop everything queued: the session ends and its peer is not reading.

        What is kept is a ``gap`` naming the messages dropped (those queued
        and any dropped before that were not reported yet), queued before
        the next frame: the ``bye``. The control frames in the queue go too;
        the peer must connect again anyway, and a resent message is acked
        again.
        """
        first, last = self._first, self._last
        missed = self._paused_msgs + self._paused_gapped
        if self._gap_missed:
            first = min(first, self._gap_first)
            last = max(last, self._gap_last)
            missed += self._gap_missed
        self.dropped += self._paused_msgs
        self._scheduler.dropped += self._paused_msgs
        self._chunks = []
        self.queued_bytes = 0
        self.queued_frames = 0
        self._forget_paused()
        self._gap_missed = 0
        if missed:
            self._gap_first, self._gap_last, self._gap_missed = first, last, missed

    def end(self) -> None:
        """The session ends: a peer that is not reading gets no more than a gap and what follows.

        The outbox is not paused any more: the ``bye`` is written whatever the peer does.
        """
        if self.paused:
            self.discard()
            self._unpause()

    def close(self) -> None:
        """The connection is gone: drop everything, write nothing more, hold nothing back."""
        self._unpause()
        self._chunks = []
        self.queued_bytes = 0
        self.queued_frames = 0
        self._gap_missed = 0
        self._held = None
        self._write = _nowhere  # the session's method: no cycle left through it

    @property
    def holding(self) -> bool:
        """Whether live messages are being held back for a replay."""
        return self._held is not None

    def hold(self) -> None:
        """Hold back live messages until ``release`` (a replay is being read)."""
        self._held = []

    def release(
        self, replay: list[tuple[bytes, int]], *, gap: Gap | None = None, end: bytes | None = None
    ) -> None:
        """Queue ``gap``, the replayed messages, ``end``, then the held live ones not replayed.

        ``end`` (a control frame: a room's ``history_end``) comes between the
        replay and the live messages that follow it.
        """
        held, self._held = self._held or [], None
        if gap is not None:
            self.put_control(encode(gap))
        last = 0
        for data, msg_id in replay:
            self.put_msg(data, msg_id)
            last = msg_id
        if end is not None:
            self.put_control(end)
        for run in held:
            if run.last > last:  # a run both stored before the read and held is sent once
                self.put_run(run)

    def pause(self, held: int = 0) -> None:
        """The transport asks us to stop writing; it holds ``held`` bytes (counted with ours)."""
        self.paused = True
        self._transport_bytes = held
        self._scheduler.paused.add(self)
        if not self._marked:  # the scheduler looks at the total after its next run
            self._marked = True
            self._scheduler.mark(self)

    def resume(self) -> None:
        self._unpause()
        self.flush()

    def _unpause(self) -> None:
        self.paused = False
        self._transport_bytes = 0
        self._forget_paused()
        self._scheduler.paused.discard(self)

    def _forget_paused(self) -> None:
        self._first, self._last, self._paused_msgs, self._paused_gapped = _NO_ID, 0, 0, 0

    def _append(self, data: bytes, frames: int) -> None:
        self._chunks.append(data)
        self.queued_bytes += len(data)
        self.queued_frames += frames
        if not self._marked:
            self._marked = True
            self._scheduler.mark(self)

    def _append_gap(self) -> None:
        gap = Gap(from_id=self._gap_first, to_id=self._gap_last, missed=self._gap_missed)
        self._gap_missed = 0
        self._scheduler.gaps += 1
        if self.paused:  # the gap is in the queue that lasts: discard() names it again
            self._paused_gapped += gap.missed
            self._first = min(self._first, gap.from_id)
            self._last = max(self._last, gap.to_id)
        self._append(encode(gap), 1)


@dataclass(frozen=True, slots=True)
class Run:
    """Encoded ``msg`` frames of consecutive messages, ids ``first`` to ``last``."""

    data: bytes
    first: int
    last: int
    count: int


def _pieces(chunks: list[bytes]) -> Iterator[bytes]:
    """``chunks`` joined into pieces of about WRITE_SLICE bytes, in order."""
    piece: list[bytes] = []
    size = 0
    for chunk in chunks:
        piece.append(chunk)
        size += len(chunk)
        if size >= WRITE_SLICE:
            yield piece[0] if len(piece) == 1 else b"".join(piece)
            piece, size = [], 0
    if piece:
        yield piece[0] if len(piece) == 1 else b"".join(piece)


def _nowhere(data: bytes) -> None:
    """Where a closed outbox writes."""

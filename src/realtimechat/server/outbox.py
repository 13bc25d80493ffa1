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
  this repository: docs/performance.md).
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
  (the session enforces this; see ``Session.pause_writing``). So memory
  per slow peer is bounded by the queue limits plus the transport's own
  high-water mark, and no writer ever waits on a reader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol import Gap, encode


class FlushScheduler:
    """Runs each marked outbox's flush once, at the end of this loop iteration."""

    __slots__ = ("_loop", "_pending", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: list[Outbox] = []
        self._scheduled = False

    def mark(self, outbox: Outbox) -> None:
        self._pending.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        self._scheduled = False
        for outbox in pending:
            outbox.flush()


class Outbox:
    """One session's bounded outbound queue (policy: the module docstring).

    Messages come as *runs*: the encoded frames of one or more consecutive
    messages with their first and last id, so that a committed batch costs
    one append per session rather than one per message.
    """

    __slots__ = (
        "_chunks",
        "_gap_first",
        "_gap_last",
        "_gap_missed",
        "_held",
        "_marked",
        "_max_bytes",
        "_max_frames",
        "_scheduler",
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
            # Bounded without a limit of its own: held only while the store
            # reads a replay, and commits (hence new messages) wait for it.
            self._held.append(run)
            return
        if not self.paused and self._over(run):
            # A peer that reads loses nothing: a large batch queued in one
            # loop iteration goes to the transport now, and only a transport
            # that then asks us to stop makes the queue fill and drop.
            self.flush()
        if self._over(run) and (self.paused or self._chunks):
            self._drop(run)
            return
        if self._gap_missed:
            self._append_gap()
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

    def flush(self) -> None:
        """Write everything pending in one write, unless the transport is paused."""
        self._marked = False
        if self.paused:
            return
        if self._gap_missed:
            self._append_gap()
        if not self._chunks:
            return
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self.queued_bytes = 0
        self.queued_frames = 0
        self._write(data)

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

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self.flush()

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
        self._append(encode(gap), 1)


@dataclass(frozen=True, slots=True)
class Run:
    """Encoded ``msg`` frames of consecutive messages, ids ``first`` to ``last``."""

    data: bytes
    first: int
    last: int
    count: int

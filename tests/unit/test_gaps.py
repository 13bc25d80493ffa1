"""The gap filler on its own: what it asks for, and when it gives up on an id."""

from __future__ import annotations

import pytest

from realtimechat.client.gaps import GapFiller

pytestmark = pytest.mark.protocol("9.2")


def after_join() -> GapFiller:
    filler = GapFiller()
    filler.connected()
    assert filler.end(more=False) is None  # the server's own replay ended
    return filler


def test_a_gap_during_the_join_replay_waits_for_its_end() -> None:
    """Requests start only after the replay that follows welcome has ended."""
    filler = GapFiller()
    filler.connected()
    assert filler.gap(5, 9) is None
    assert filler.end(more=False) == 4
    assert filler.asking == 4


def test_a_reply_that_brings_everything_ends_the_fill() -> None:
    """Ids brought by the reply are no longer missing; nothing more is asked."""
    filler = after_join()
    assert filler.gap(5, 7) == 4
    for msg_id in (5, 6, 7):
        filler.received(msg_id, replay=True)
    assert filler.end(more=False) is None
    assert filler.missing == []


def test_ids_the_reply_skipped_are_given_up() -> None:
    """An id inside a complete reply that never came is someone else's private message."""
    filler = after_join()
    assert filler.gap(5, 7) == 4
    filler.received(5, replay=True)
    filler.received(7, replay=True)
    assert filler.end(more=False) is None
    assert filler.missing == []


def test_a_reply_cut_by_its_own_gap_asks_again_for_the_rest() -> None:
    """Drops during the reply (another gap) stay missing and are asked for next."""
    filler = after_join()
    assert filler.gap(1, 10) == 0
    for msg_id in (1, 2, 3):
        filler.received(msg_id, replay=True)
    assert filler.gap(4, 10) is None  # still too slow: the reply lost its tail
    assert filler.end(more=False) == 3
    assert filler.missing == [(4, 10)]


def test_a_paged_reply_continues_after_its_last_id() -> None:
    """history_end with more=true: only ids up to the last one received count as covered."""
    filler = after_join()
    assert filler.gap(1, 300) == 0
    for msg_id in range(1, 101):
        filler.received(msg_id, replay=True)
    filler.received(500, replay=False)  # live traffic does not widen what the reply covered
    assert filler.end(more=True) == 100
    assert filler.missing == [(101, 300)]


def test_a_new_connection_voids_the_request_but_keeps_what_is_missing() -> None:
    """After a reconnect the missing ranges are asked for again, after the new replay."""
    filler = after_join()
    assert filler.gap(20, 30) == 19
    filler.connected()
    assert filler.asking is None
    assert filler.end(more=False) == 19

"""The failover storm's pure parts (realtimechat.bench.storm): backoff, counting, percentiles."""

from __future__ import annotations

import random
import ssl

from realtimechat.bench.storm import (
    Backoff,
    StormClient,
    StormTally,
    losses,
    percentile,
    stream_text,
)
from realtimechat.client.connection import Endpoint
from realtimechat.protocol import Msg, encode

RUN = "0badf00d"


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - jitter in a test, not secrecy


def client(size: int = 10) -> StormClient:
    return StormClient(
        Endpoint(host="127.0.0.1", port=1, cn="chatserver"),
        ssl.create_default_context(),
        RUN,
        size,
        StormTally(),
        backoff=Backoff(),
        rng=seeded(1),
        timeout=1.0,
    )


def line(msg_id: int, text: str) -> bytes:
    msg = Msg(id=msg_id, ts="2026-12-07T00:00:00.000Z", from_="storm", text=text)
    return encode(msg).rstrip(b"\n")


def test_backoff_doubles_up_to_its_cap_and_never_waits_less_than_nothing() -> None:
    backoff = Backoff(base=0.05, cap=2.0)
    rng = seeded(7)
    for tries, ceiling in ((1, 0.1), (2, 0.2), (5, 1.6), (6, 2.0), (100, 2.0)):
        delays = [backoff.delay(tries, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays), tries
        assert max(delays) > ceiling / 2, "full jitter spreads over the whole range"


def test_backoff_of_zero_retries_at_once() -> None:
    assert Backoff(base=0.0, cap=0.0).delay(3, seeded(1)) == 0.0


def test_a_client_counts_its_run_s_numbers_and_keeps_the_highest_id() -> None:
    storm = client()
    storm.saw(line(7, stream_text(RUN, 3)))
    storm.saw(line(9, stream_text(RUN, 4)))
    storm.saw(line(8, stream_text(RUN, 3)))
    storm.saw(line(12, stream_text("another", 5)))  # another run's: counts for the id only
    assert list(storm.counts[:6]) == [0, 0, 0, 2, 1, 0]
    assert storm.last_id == 12


def test_losses_are_acknowledged_numbers_unseen_and_twice_is_any_number_seen_again() -> None:
    storm = client()
    for number in (0, 1, 1, 3):
        storm.saw(line(number + 1, stream_text(RUN, number)))
    found = losses(storm, {0, 1, 2, 3})
    assert (found.lost, found.twice) == (1, 1)
    assert losses(storm, {0, 3}).lost == 0, "an unacknowledged number is nobody's loss"


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) is None

"""server/refusals.py: repeated refusals become one counted line, and the lines stay bounded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from realtimechat.server.refusals import OTHERS, RefusalLog

RESET = "peer closed the connection during the handshake"


class Keep(logging.Handler):
    """Keeps the fields of every record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.fields: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.fields.append(dict(getattr(record, "fields", {})))


@pytest.fixture
def lines() -> Iterator[list[dict[str, Any]]]:
    """The fields of every line the log under test writes (a list that fills as it logs)."""
    logger = logging.getLogger("test.refusals")
    keep = Keep()
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    yield keep.fields
    logger.removeHandler(keep)


def refusal_log(interval: float = 10.0, max_keys: int = 100) -> RefusalLog:
    return RefusalLog(logging.getLogger("test.refusals"), interval=interval, max_keys=max_keys)


def test_the_first_refusal_is_logged_in_full(lines: list[dict[str, Any]]) -> None:
    """One refusal: one line with the peer's address and port, as before."""
    log = refusal_log()
    log.refused(0.0, peer="198.51.100.7:4000", source="198.51.100.7", reason=RESET)
    log.flush()
    assert lines == [{"peer": "198.51.100.7:4000", "reason": RESET}]


def test_a_flood_from_one_source_is_one_line_then_a_count(lines: list[dict[str, Any]]) -> None:
    """5,000 resets in one interval: the first line, and at its end one line with times=4999."""
    log = refusal_log()
    for n in range(5000):
        log.refused(n / 1000, peer=f"198.51.100.7:{n}", source="198.51.100.7", reason=RESET)
    assert len(lines) == 1
    assert not log.due(9.9)
    assert log.due(10.0)
    log.flush()
    assert lines[1:] == [{"peer": "198.51.100.7", "reason": RESET, "times": 4999}]
    assert not log.due(10.0)


def test_each_reason_and_source_is_its_own_line(lines: list[dict[str, Any]]) -> None:
    """Two sources, two reasons: four first lines; only repeated ones get a count."""
    log = refusal_log()
    for source in ("a", "b"):
        for reason in ("r1", "r2"):
            log.refused(0.0, peer=f"{source}:1", source=source, reason=reason)
    log.refused(0.0, peer="a:2", source="a", reason="r1")
    log.flush()
    assert len(lines) == 5
    assert lines[-1] == {"peer": "a", "reason": "r1", "times": 1}


def test_a_new_interval_logs_in_full_again(lines: list[dict[str, Any]]) -> None:
    """After an interval's count, the next refusal of that source is a full line again."""
    log = refusal_log(interval=10.0)
    log.refused(0.0, peer="a:1", source="a", reason=RESET)
    log.refused(1.0, peer="a:2", source="a", reason=RESET)
    log.refused(10.0, peer="a:3", source="a", reason=RESET)  # flushes the first interval
    assert lines == [
        {"peer": "a:1", "reason": RESET},
        {"peer": "a", "reason": RESET, "times": 1},
        {"peer": "a:3", "reason": RESET},
    ]


def test_many_sources_are_bounded(lines: list[dict[str, Any]]) -> None:
    """Ten thousand sources, twice each, with room for 100: at most about 200 lines."""
    log = refusal_log(max_keys=100)
    for _ in range(2):
        for n in range(10_000):
            log.refused(0.0, peer=f"s{n}:1", source=f"s{n}", reason=RESET)
    log.flush()
    assert len(lines) == 100 + 100 + 1
    assert lines[-1] == {"peer": OTHERS, "reason": RESET, "times": 2 * (10_000 - 100)}
    assert sum(line.get("times", 1) for line in lines) == 20_000


def test_many_reasons_past_the_bound_are_one_count(lines: list[dict[str, Any]]) -> None:
    """Past the bound in sources and in reasons, the rest is one line of other reasons."""
    log = refusal_log(max_keys=2)
    for n in range(10):
        log.refused(0.0, peer=f"s{n}:1", source=f"s{n}", reason=f"r{n}")
    log.flush()
    assert len(lines) == 2 + 2 + 1
    assert sum(line.get("times", 1) for line in lines) == 10

"""The bench's Redis figures and spawned stores: pure logic, no Redis."""

from __future__ import annotations

from pathlib import Path

from realtimechat.bench.redisstats import figures, sample
from realtimechat.bench.spawn import Store


def test_sample_reads_cpu_and_calls_from_info() -> None:
    """INFO cpu's user + sys seconds; commandstats' calls by command, prefix dropped."""
    got = sample(
        {"used_cpu_user": "1.5", "used_cpu_sys": 0.25, "used_cpu_user_children": 9},
        {"cmdstat_evalsha": {"calls": 4, "usec": 10}, "cmdstat_xread": {"calls": 7}, "x": 1},
    )
    assert got.cpu_s == 1.75
    assert got.calls == {"evalsha": 4, "xread": 7}


def test_figures_are_the_window_per_message() -> None:
    """After minus before, per message: scripts and XREADs apart, CPU in microseconds."""
    before = sample({"used_cpu_user": 1.0, "used_cpu_sys": 0.0}, {"cmdstat_evalsha": {"calls": 2}})
    after = sample(
        {"used_cpu_user": 1.5, "used_cpu_sys": 0.5},
        {
            "cmdstat_evalsha": {"calls": 12},
            "cmdstat_xread": {"calls": 20},
            "cmdstat_xadd": {"calls": 1000},
        },
    )
    got = figures(before, after, 1000)
    assert got.cpu_us_per_msg == 1000.0
    assert got.publish_calls_per_msg == 0.01
    assert got.follow_calls_per_msg == 0.02
    assert got.calls == {"evalsha": 10, "xadd": 1000, "xread": 20}


def test_figures_without_messages_say_nothing_per_message() -> None:
    """A window with no message has no per-message figure (not a division by zero)."""
    same = sample({}, {})
    got = figures(same, same, 0)
    assert (got.cpu_us_per_msg, got.publish_calls_per_msg, got.calls) == (None, None, {})


def test_each_store_gives_its_servers_their_flags(tmp_path: Path) -> None:
    """memory: --ephemeral; sqlite: a data folder per server; redis: one URL, ids apart."""
    assert Store().flags(0, tmp_path) == ["--ephemeral"]
    assert Store("sqlite").flags(1, tmp_path) == ["--data", str(tmp_path / "data1")]
    url = "unix:///r.sock"
    assert Store("redis", url).flags(0, tmp_path) == ["--redis", url, "--server-id", "bench0"]
    assert Store("redis", url).flags(1, tmp_path)[-1] == "bench1"

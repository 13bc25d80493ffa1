"""What the server asks of a Redis before it keeps the conversation there (redis_store.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from realtimechat.errors import ConfigError
from realtimechat.server.redis_store import (
    RedisDurability,
    RedisStore,
    check_config,
    check_url,
    memory_warning,
    shown_url,
)
from realtimechat.server.store import REF_DAYS

SAFE = {"appendonly": "yes", "appendfsync": "always", "maxmemory-policy": "noeviction"}


@pytest.mark.parametrize("durability", list(RedisDurability))
def test_aof_with_fsync_always_keeps_every_durability(durability: RedisDurability) -> None:
    """appendonly yes, appendfsync always, noeviction: every setting is accepted."""
    assert check_config(SAFE, durability) is None


def test_full_needs_fsync_always_and_says_which_line() -> None:
    """--redis-durability full refuses fsync every second, naming the line to set."""
    problem = check_config({**SAFE, "appendfsync": "everysec"}, RedisDurability.FULL)
    assert problem is not None
    assert "'appendfsync always'" in problem
    assert "--redis-durability normal" in problem
    assert check_config({**SAFE, "appendfsync": "everysec"}, RedisDurability.NORMAL) is None


def test_without_aof_only_none_is_accepted() -> None:
    """No append-only file: full and normal are refused (naming appendonly), none accepted."""
    config = {**SAFE, "appendonly": "no"}
    for durability in (RedisDurability.FULL, RedisDurability.NORMAL):
        problem = check_config(config, durability)
        assert problem is not None
        assert "'appendonly yes'" in problem
    assert check_config(config, RedisDurability.NONE) is None


@pytest.mark.parametrize("durability", list(RedisDurability))
def test_an_evicting_redis_is_refused_whatever_the_durability(
    durability: RedisDurability,
) -> None:
    """maxmemory-policy allkeys-lru could delete history: refused, naming noeviction."""
    problem = check_config({**SAFE, "maxmemory-policy": "allkeys-lru"}, durability)
    assert problem is not None
    assert "'maxmemory-policy noeviction'" in problem


def test_a_redis_without_maxmemory_is_warned_about() -> None:
    """INFO memory with maxmemory 0 gives a warning; a limit gives none."""
    warning = memory_warning({"maxmemory": 0})
    assert warning is not None
    assert "--retention" in warning
    assert memory_warning({"maxmemory": 1 << 30}) is None


def test_urls_are_checked_and_shown_without_their_password() -> None:
    """redis://, rediss:// and unix:// pass; others are refused; a password is never shown."""
    for url in ("redis://localhost:6379/0", "rediss://h:6380", "unix:///run/redis.sock"):
        assert check_url(url) == url
    with pytest.raises(ConfigError, match="redis://, rediss://"):
        check_url("http://s3cret@host")
    assert (
        shown_url("rediss://chat:s3cret@db.example:6380/0") == "rediss://chat:***@db.example:6380/0"
    )
    assert "s3cret" not in shown_url("redis://:s3cret@db")


def test_ref_buckets_are_made_once_a_day_today_first() -> None:
    """The append script's day buckets: the same all day, the next day's from UTC midnight."""
    store = RedisStore("unix:///r.sock", server_id="a")
    noon = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC).timestamp()
    first = store._buckets(noon)
    assert first[:2] == ["{rtc}:refs:20261207", "{rtc}:refs:20261206"]
    assert len(first) == REF_DAYS + 1
    assert store._buckets(noon + 11 * 3600 + 3599) is first  # 23:59:59: not made again
    assert store._buckets(noon + 12 * 3600)[0] == "{rtc}:refs:20261208"

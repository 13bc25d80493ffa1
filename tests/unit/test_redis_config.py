"""What the server asks of a Redis before it keeps the conversation there (redis_store.py)."""

from __future__ import annotations

import pytest

from realtimechat.errors import ConfigError
from realtimechat.server.redis_store import (
    RedisDurability,
    check_config,
    check_url,
    memory_warning,
    shown_url,
)

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

"""What Redis did during the window (``--redis``): its CPU and its commands, per message.

Read from ``INFO cpu`` and ``INFO commandstats`` at the start and at the end
of the window, so the figures cover exactly the messages counted there.
Commandstats counts the commands a script runs as well as the script: the
round trips are the commands a client sent (``evalsha``: one per batch of
the group commit; ``xread``: the followers' reads), and Redis's CPU is its
own (``used_cpu_user`` + ``used_cpu_sys``: scripts, replies, the
append-only file), whatever command spent it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import redis
from redis import exceptions as redis_errors

from .errors import BenchError

#: Commands a server sends on the publish path (the append script), and the followers'.
PUBLISH_COMMANDS: Final = ("evalsha", "eval")
FOLLOW_COMMANDS: Final = ("xread",)
_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class RedisSample:
    """Redis's CPU seconds and its calls per command, at one moment."""

    cpu_s: float
    calls: dict[str, int]


@dataclass(slots=True)
class RedisFigures:
    """Redis's work over the window, per message that came in then."""

    messages: int
    cpu_us_per_msg: float | None
    publish_calls_per_msg: float | None  # append scripts: round trips on the publish path
    follow_calls_per_msg: float | None  # XREADs of every follower together
    calls: dict[str, int]  # every command's calls in the window, scripts' own included


def sample(info_cpu: Mapping[str, Any], info_commands: Mapping[str, Any]) -> RedisSample:
    """A sample from redis-py's parsed ``INFO cpu`` and ``INFO commandstats``."""
    cpu = float(info_cpu.get("used_cpu_user", 0)) + float(info_cpu.get("used_cpu_sys", 0))
    calls = {
        key.removeprefix("cmdstat_"): int(value["calls"])
        for key, value in info_commands.items()
        if key.startswith("cmdstat_") and isinstance(value, Mapping)
    }
    return RedisSample(cpu, calls)


def figures(before: RedisSample, after: RedisSample, messages: int) -> RedisFigures:
    """The window's figures: ``after`` minus ``before``, per message (None with no message)."""
    calls = {
        name: count - before.calls.get(name, 0)
        for name, count in after.calls.items()
        if count != before.calls.get(name, 0)
    }

    def per_msg(value: float, scale: float = 1.0) -> float | None:
        return round(value * scale / messages, 4) if messages else None

    return RedisFigures(
        messages=messages,
        cpu_us_per_msg=per_msg(after.cpu_s - before.cpu_s, 1e6),
        publish_calls_per_msg=per_msg(sum(calls.get(name, 0) for name in PUBLISH_COMMANDS)),
        follow_calls_per_msg=per_msg(sum(calls.get(name, 0) for name in FOLLOW_COMMANDS)),
        calls=dict(sorted(calls.items())),
    )


class RedisWatch:
    """Samples one Redis (the spawned servers'); BenchError if it cannot be read."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=_TIMEOUT)

    def sample(self) -> RedisSample:
        try:
            info_cpu = self._client.info("cpu")
            info_commands = self._client.info("commandstats")
        except (redis_errors.RedisError, OSError) as exc:
            raise BenchError(f"cannot read INFO of the Redis given with --redis: {exc}") from None
        return sample(info_cpu, info_commands)

    def close(self) -> None:
        self._client.close()

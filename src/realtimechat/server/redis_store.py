"""The conversation in Redis: ``RedisStore``, a ``Store`` that several servers share.

Data layout (docs/scaling.md, "Data layout"); every key carries the hash tag
``{rtc}`` so that one conversation is one slot::

    {rtc}:log              stream: one entry per message, entry id <msg-id>-0;
                           fields s (sender identity), r (recipient or ""),
                           o (origin server-id:batch), b (the msg as JSON, no id)
    {rtc}:meta             hash: epoch, last (last id given out), run (Redis run_id)
    {rtc}:refs:<yyyymmdd>  hash: <identity>:<ref> -> id, one per day, kept REF_DAYS + 1 days
    {rtc}:owners           hash: name key -> JSON [identity, name]
    {rtc}:looks            hash: look-alike key of an owned name -> its owner's JSON
    {rtc}:rooms            hash: room key -> JSON room record
    {rtc}:members:<key>    set: the identity keys of a room's members
    {rtc}:roomlast         hash: room name -> id of its last message
    {rtc}:certs            hash: SHA-256 fingerprint -> a session's certificate (PEM)
    {rtc}:certof           hash: identity key -> fingerprint of the certificate it last used
    {rtc}:ctl              stream: what servers must tell each other (names
                           claimed, memberships, topics, names online and
                           offline): o, k (kind), e (JSON)
    {rtc}:srv:<origin>     hash: one server process's sessions: session -> name key
    {rtc}:online           hash: name key -> its sessions on all servers
    {rtc}:users            hash: name key -> the name online (JSON: key, identity,
                           name, fp, since, op)
    {rtc}:servers          sorted set: origin -> its deadline (ms, Redis's clock)
    {rtc}:revoked          set: revocation keys (trust.revocation_keys); only grows

Ids come from the ``append`` script, never from a client: ``last + 1``,
and on the first write by a new Redis process (a restart, a failover:
its ``run_id`` changed) ``last`` is first raised to Redis's clock in
microseconds, so ids that a lost tail gave out are never given again
(clients drop a message whose id they have seen). A resent ``ref`` is
looked up in the day buckets in the same script, so either both the
message and its ref are stored or neither is.

What Redis must promise is checked at ``open`` (``check_config``): the
server refuses a Redis that cannot keep the durability asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis import exceptions as redis_errors
from redis.commands.core import AsyncScript
from redis.typing import EncodableT, FieldT

from ..errors import ConfigError, StoreClosed
from ..names import lookalike_keys, name_problem
from ..protocol import Msg
from .engine import Engine
from .store import (
    LOBBY,
    REF_DAYS,
    Draft,
    HistoryPage,
    RoomRecord,
    Sanction,
    Scope,
    Stored,
    message_of,
)

PREFIX: Final = "{rtc}"
CTL_MAXLEN: Final = 10_000  # control events kept (about): a follower far behind re-reads state
READ_CHUNK: Final = 500  # entries per XRANGE while filtering a page by visibility
PURGE_CHUNK: Final = 1000  # entries per XRANGE while looking for the first one young enough
SCHEMES: Final = ("redis", "rediss", "unix")


class RedisDurability(StrEnum):
    """What an acknowledged message survives, and what Redis must be configured with."""

    FULL = "full"  # power loss: appendonly yes + appendfsync always
    NORMAL = "normal"  # a killed Redis process: appendonly yes (fsync every second is enough)
    NONE = "none"  # nothing: a restarted Redis has forgotten everything (ids still rise)


# ----------------------------------------------------------------------
# Checking the Redis we are given (pure: tests/unit/test_redis_config.py)


def check_config(config: Mapping[str, str], durability: RedisDurability) -> str | None:
    """Why this Redis cannot keep ``durability`` (one line naming the setting), or None."""
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        return (
            f"Redis evicts keys (maxmemory-policy {policy}), which would silently delete "
            "history: set 'maxmemory-policy noeviction' in its configuration"
        )
    if durability is RedisDurability.NONE:
        return None
    if config.get("appendonly") != "yes":
        fsync = " and 'appendfsync always'" if durability is RedisDurability.FULL else ""
        return (
            f"Redis keeps no append-only file (appendonly {config.get('appendonly', '?')}), so "
            f"--redis-durability {durability.value} cannot be kept: set 'appendonly yes'{fsync} "
            "in its configuration, or run with --redis-durability none"
        )
    fsync_mode = config.get("appendfsync", "?")
    if durability is RedisDurability.FULL and fsync_mode != "always":
        return (
            f"Redis syncs its append-only file with appendfsync {fsync_mode}, so an "
            "acknowledged message could be lost on power loss: set 'appendfsync always' in its "
            "configuration, or run with --redis-durability normal"
        )
    return None


def memory_warning(info: Mapping[str, Any]) -> str | None:
    """A warning for a Redis without a memory limit (history lives in its RAM), or None."""
    if int(info.get("maxmemory", 0) or 0) > 0:
        return None
    return (
        "Redis has no maxmemory: the history is kept in its RAM (about 250 bytes a message) "
        "and grows without bound; set --retention and Redis's maxmemory"
    )


def shown_url(url: str) -> str:
    """``url`` without its password, for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """``url`` if it is one ``--redis`` takes; a ConfigError otherwise."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigError(
            f"--redis {shown_url(url)!r}: give a redis://, rediss:// (TLS) or unix:// URL"
        )
    return url


# ----------------------------------------------------------------------
# Scripts: each one atomic, each one a single round trip

_APPEND: Final = """
-- KEYS: log, meta, roomlast, refs buckets (today's first); ARGV: origin, new epoch,
-- ref ttl, then five per draft: sender, recipient, ref, body, room
local log, meta, roomlast = KEYS[1], KEYS[2], KEYS[3]
local origin, ttl = ARGV[1], tonumber(ARGV[3])
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local m = redis.call('HMGET', meta, 'epoch', 'last', 'run')
local epoch = m[1] or ARGV[2]
local last = tonumber(m[2]) or 0
if m[3] ~= run then
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if floor > last then last = floor end
end
local out = {}
for i = 4, #ARGV, 5 do
  local sender, recipient, ref, body, room = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
  local field, prev = nil, false
  if ref ~= '' then
    field = sender .. ':' .. ref
    for k = 4, #KEYS do
      prev = redis.call('HGET', KEYS[k], field)
      if prev then break end
    end
  end
  if prev then
    out[#out + 1] = 'd' .. prev
  else
    last = last + 1
    local id = string.format('%d', last)
    redis.call('XADD', log, id .. '-0', 's', sender, 'r', recipient, 'o', origin, 'b', body)
    if field then
      redis.call('HSET', KEYS[4], field, id)
      redis.call('EXPIRE', KEYS[4], ttl)
    end
    if room ~= '' then redis.call('HSET', roomlast, room, id) end
    out[#out + 1] = id
  end
end
redis.call('HSET', meta, 'epoch', epoch, 'last', string.format('%d', last), 'run', run)
return out
"""

_CTL_XADD: Final = (
    "redis.call('XADD', KEYS[#KEYS], 'MAXLEN', '~', ARGV[#ARGV], '*', "
    "'o', ARGV[#ARGV - 2], 'k', ARGV[#ARGV - 1], 'e', EVENT)"
)

# KEYS: owners, looks, ctl; ARGV: key, value, identity, then the name's look-alike
# keys, then origin, kind, maxlen. Returns the owner's value: ours if the claim was
# made, else the owner of the name or of a name it looks like.
_CLAIM: Final = f"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then return current end
for i = 4, #ARGV - 3 do
  local look = redis.call('HGET', KEYS[2], ARGV[i])
  if look and cjson.decode(look)[1] ~= ARGV[3] then return look end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 4, #ARGV - 3 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[2]) end
local EVENT = cjson.encode({{key = ARGV[1], owner = cjson.decode(ARGV[2])}})
{_CTL_XADD}
return ARGV[2]
"""

# KEYS: owners, looks, ctl; ARGV: key, then the owned name's look-alike keys,
# then origin, kind, maxlen. Returns 1 if someone owned it.
_RELEASE: Final = f"""
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
for i = 2, #ARGV - 3 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == owner then redis.call('HDEL', KEYS[2], ARGV[i]) end
end
local EVENT = cjson.encode({{key = ARGV[1]}})
{_CTL_XADD}
return 1
"""

# KEYS: rooms, members, ctl; ARGV: key, record, identity, event, origin, kind, maxlen.
_JOIN: Final = f"""
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local EVENT = ARGV[4]
{_CTL_XADD}
return 1
"""

# KEYS: rooms, members, roomlast, log, ctl; ARGV: key, identity, event, origin, kind, maxlen.
# The room goes with its last member when no message of it is left (retention).
_PART: Final = f"""
redis.call('SREM', KEYS[2], ARGV[2])
local gone = 0
local record = redis.call('HGET', KEYS[1], ARGV[1])
if record and redis.call('SCARD', KEYS[2]) == 0 then
  local name = cjson.decode(record)['name']
  local last = tonumber(redis.call('HGET', KEYS[3], name) or '0')
  local first = redis.call('XRANGE', KEYS[4], '-', '+', 'COUNT', 1)
  local kept = 0
  if #first > 0 then kept = tonumber(string.match(first[1][1], '^(%d+)')) end
  if last == 0 or #first == 0 or last < kept then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[3], name)
    gone = 1
  end
end
local event = cjson.decode(ARGV[3])
event['gone'] = gone
local EVENT = cjson.encode(event)
{_CTL_XADD}
return gone
"""

# KEYS: rooms, ctl; ARGV: key, topic ("" none), by, ts, origin, kind, maxlen.
_TOPIC: Final = f"""
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 0 end
local room = cjson.decode(record)
if ARGV[2] == '' then room['topic'] = nil else room['topic'] = ARGV[2] end
room['topic_by'] = ARGV[3]
room['topic_ts'] = ARGV[4]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(room))
local EVENT = cjson.encode({{key = ARGV[1], topic = ARGV[2], by = ARGV[3], ts = ARGV[4]}})
{_CTL_XADD}
return 1
"""


# KEYS: revoked, ctl; ARGV: the revocation keys, then origin, kind, maxlen. Only the
# keys new to the set go to ctl; how many.
_REVOKE: Final = f"""
local new = {{}}
for i = 1, #ARGV - 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then new[#new + 1] = ARGV[i] end
end
if #new == 0 then return 0 end
local EVENT = cjson.encode(new)
{_CTL_XADD}
return #new
"""

# Presence (docs/scaling.md, "Presence"). A name's sessions on all servers are
# counted in {rtc}:online; an event goes to ctl only when the count crosses
# 0 <-> 1, so a second device, or a reconnect elsewhere before the reaper
# ends the first session, announces nothing. Server hashes are named by the
# script from ARGV (their keys share {rtc}'s slot).
_NOW_MS: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: online, users, ..., ctl (last, as _CTL_XADD wants). Defines leave(srv, session,
# reason): 1 if that was the name's last session anywhere (it went offline).
_LEAVE_FN: Final = f"""
local function leave(srv, session, reason)
  local key = redis.call('HGET', srv, session)
  if not key then return 0 end
  redis.call('HDEL', srv, session)
  if redis.call('HINCRBY', KEYS[1], key, -1) > 0 then return 0 end
  redis.call('HDEL', KEYS[1], key)
  local user = cjson.decode(redis.call('HGET', KEYS[2], key) or '{{}}')
  redis.call('HDEL', KEYS[2], key)
  local EVENT = cjson.encode({{key = key, identity = user['identity'] or '',
                               name = user['name'] or '', reason = reason}})
  {_CTL_XADD}
  return 1
end
"""

# KEYS: online, users, servers, srv, ctl; ARGV: session, key, user, grace ms, origin,
# kind, maxlen. Returns the newest ctl id: the server's picture includes this
# session's name once its follower has read that far.
_ENTER: Final = f"""
{_NOW_MS}
if not redis.call('ZSCORE', KEYS[3], ARGV[5]) then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[5])
end
if redis.call('HSETNX', KEYS[4], ARGV[1], ARGV[2]) == 1 and
   redis.call('HINCRBY', KEYS[1], ARGV[2], 1) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  local EVENT = ARGV[3]
  return {_CTL_XADD}
end
local newest = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)
if #newest == 0 then return '0-0' end
return newest[1][1]
"""

# KEYS: online, users, srv, ctl; ARGV: session, reason, origin, kind, maxlen.
_EXIT: Final = f"""
{_LEAVE_FN}
return leave(KEYS[3], ARGV[1], ARGV[2])
"""

# KEYS: online, users, servers, ctl; ARGV: srv key prefix, reason, origin, kind, maxlen.
# Ends every session of each server whose deadline has passed; how many servers.
_REAP: Final = f"""
{_NOW_MS}
{_LEAVE_FN}
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, origin in ipairs(dead) do
  local srv = ARGV[1] .. origin
  for _, session in ipairs(redis.call('HKEYS', srv)) do leave(srv, session, ARGV[2]) end
  redis.call('DEL', srv)
  redis.call('ZREM', KEYS[3], origin)
end
return #dead
"""

# KEYS: servers; ARGV: origin, grace ms. 1 if the server was still there (not reaped).
_BEAT: Final = f"""
{_NOW_MS}
local alive = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if alive then return 1 end
return 0
"""


# ----------------------------------------------------------------------
# Entries


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One ``{rtc}:log`` entry, decoded: the message, whose it is to see, where it came from."""

    msg: Msg
    sender: str
    recipient: str | None
    origin: str

    def visible(self, reader: str, scope: Scope) -> bool:
        """The same rule as every store's (store.py ``_visible``)."""
        room = self.msg.room
        if room is not None:
            return room in scope.rooms
        return scope.lobby and (self.recipient is None or reader in (self.sender, self.recipient))


def entry_id(stream_id: str) -> int:
    """The message id of a stream entry id ``<msg-id>-0``."""
    return int(stream_id.partition("-")[0])


def decode_entry(stream_id: str, fields: Mapping[str, str]) -> LogEntry:
    body = json.loads(fields["b"])
    msg = Msg(
        id=entry_id(stream_id),
        ts=body["ts"],
        from_=body["from"],
        text=body["text"],
        to=body.get("to"),
        action=body.get("action"),
        room=body.get("room"),
        sig=body.get("sig"),
        ref=body.get("ref"),
        fp=body.get("fp"),
        sent=body.get("sent"),
        seq=body.get("seq"),
    )
    return LogEntry(msg, fields["s"], fields["r"] or None, fields.get("o", ""))


def _body(draft: Draft) -> str:
    body: dict[str, str | int] = {"ts": draft.ts, "from": draft.from_name, "text": draft.text}
    optional = (
        ("to", draft.to_name),
        ("action", draft.action),
        ("room", draft.room),
        *(("sig", draft.sig), ("fp", draft.fp), ("sent", draft.sent), ("seq", draft.seq)),
        ("ref", draft.ref if draft.sig is not None else None),  # delivered when signed
    )
    for key, value in optional:
        if value is not None:
            body[key] = value
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _looks(name: str) -> list[str]:
    """The look-alike keys a name holds (none for a name the profile refuses: as the hub)."""
    return [] if name_problem(name) is not None else sorted(lookalike_keys(name))


def _day(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y%m%d")


def _record(text: str) -> RoomRecord:
    fields = json.loads(text)
    return RoomRecord(
        fields["key"], fields["name"], fields.get("topic"), fields.get("topic_by"),
        fields.get("topic_ts"),
    )  # fmt: skip


def _record_json(room: RoomRecord) -> str:
    fields = {
        "key": room.key,
        "name": room.name,
        "topic": room.topic,
        "topic_by": room.topic_by,
        "topic_ts": room.topic_ts,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)


# ----------------------------------------------------------------------
# redis-py's replies, typed as they come with decode_responses=True

Entries = list[tuple[str, dict[str, str]]]


async def xrange(client: redis.Redis, key: str, start: str, end: str, count: int) -> Entries:
    return cast(Entries, await client.xrange(key, start, end, count=count))


async def xrevrange(client: redis.Redis, key: str, end: str, start: str, count: int) -> Entries:
    return cast(Entries, await client.xrevrange(key, end, start, count=count))


async def hgetall(client: redis.Redis, key: str) -> dict[str, str]:
    return cast(dict[str, str], await client.hgetall(key))


async def hget(client: redis.Redis, key: str, field: str) -> str | None:
    return cast(str | None, await client.hget(key, field))


# ----------------------------------------------------------------------
# The store


class RedisStore:
    """Messages, refs, name owners and rooms in one Redis, shared by every server on it.

    ``bound``, once an engine follows the log, is the last id this server
    has handed to its sessions: reads stop there, so that a replay and the
    live messages held meanwhile meet without a hole or a duplicate (the
    log may already hold later ids that reach this server a moment later).
    """

    def __init__(
        self,
        url: str,
        *,
        server_id: str,
        durability: RedisDurability = RedisDurability.FULL,
        prefix: str = PREFIX,
    ) -> None:
        self.url = check_url(url)
        self.server_id = server_id
        # What this process writes is marked with: the server id and a token
        # of this run, so that a restarted server (or two given one id by
        # mistake) never takes another's entries for its own.
        self.origin = f"{server_id}#{secrets.token_hex(4)}"
        self.durability = durability
        self.last_id = 0
        self.warnings: list[str] = []  # said once at start (the server logs them)
        self.bound: int | None = None
        self.log_key = f"{prefix}:log"
        self.ctl_key = f"{prefix}:ctl"
        self._prefix = prefix
        self._meta = f"{prefix}:meta"
        self._owners = f"{prefix}:owners"
        self._looks = f"{prefix}:looks"
        self._rooms = f"{prefix}:rooms"
        self._roomlast = f"{prefix}:roomlast"
        self._sanctions = f"{prefix}:sanctions"  # "kind identity" -> the Sanction as JSON
        self._online = f"{prefix}:online"
        self._users = f"{prefix}:users"
        self._servers = f"{prefix}:servers"
        self._srv = f"{prefix}:srv:"  # + origin
        self._revoked = f"{prefix}:revoked"
        self._certs = f"{prefix}:certs"
        self._cert_of = f"{prefix}:certof"  # identity key -> fingerprint of its last certificate
        self.ctl_start = "0-0"  # the last control event at open: a follower starts after it
        self._client: redis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._buckets_day = -1  # the UTC day _buckets_now were made for
        self._buckets_now: list[str] = []

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise ConfigError("the Redis store is not open")
        return self._client

    def _script(self, name: str) -> AsyncScript:
        """A script to run; StoreClosed once closed (a script holds its client, and would
        open a new connection on a closed one, which nobody would close)."""
        if self._client is None:
            raise StoreClosed("the Redis store is closed")
        return self._scripts[name]

    def connect(self, **options: Any) -> redis.Redis:
        """A new client of this Redis (the follower's own connection, say)."""
        return redis.Redis.from_url(self.url, decode_responses=True, **options)

    def engine(self, log: logging.Logger) -> Engine:
        """The engine that follows this store's log (after ``open``)."""
        from .redis_engine import RedisEngine  # noqa: PLC0415 (it imports this module)

        return RedisEngine(self, log)

    def describe(self) -> str:
        return (
            f"messages in Redis at {shown_url(self.url)} (durability {self.durability.value}, "
            f"server id {self.server_id})"
        )

    async def open(self) -> None:
        """Connect and check Redis's configuration; ConfigError (one line) if it cannot serve."""
        # Commands are never retried by redis-py: an append whose reply was
        # lost is in doubt, and only the engine may send it again (its refs
        # make that safe: RedisEngine._append).
        self._client = self.connect(socket_timeout=10, health_check_interval=15, retry=None)
        try:
            await self._first_contact()
        except BaseException:
            await self.close()
            raise
        self._scripts = {
            name: self.client.register_script(text)
            for name, text in (
                ("append", _APPEND),
                ("claim", _CLAIM),
                ("release", _RELEASE),
                ("join", _JOIN),
                ("part", _PART),
                ("topic", _TOPIC),
                ("enter", _ENTER),
                ("exit", _EXIT),
                ("reap", _REAP),
                ("beat", _BEAT),
                ("revoke", _REVOKE),
            )
        }

    async def _first_contact(self) -> None:
        """Check Redis and read where the log and the control stream are; one-line errors."""
        where = shown_url(self.url)
        try:
            await self._check()
            self.last_id = await self.log_top()
            newest = await xrevrange(self.client, self.ctl_key, "+", "-", 1)
            self.ctl_start = newest[0][0] if newest else "0-0"
        except redis_errors.AuthenticationError as exc:
            raise ConfigError(f"Redis at {where} refused us: {exc}") from None
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise ConfigError(f"cannot reach Redis at {where}: {exc}") from None
        except redis_errors.ResponseError as exc:
            raise ConfigError(f"Redis at {where} answered: {exc}") from None

    async def _check(self) -> None:
        try:
            config = cast(dict[str, str], await self.client.config_get("*"))
        except redis_errors.ResponseError as exc:
            raise ConfigError(
                f"cannot read the configuration of Redis at {shown_url(self.url)} ({exc}): "
                "the server checks it at start; allow CONFIG GET to its user"
            ) from None
        problem = check_config(config, self.durability)
        if problem is not None:
            raise ConfigError(f"{problem} (Redis at {shown_url(self.url)})")
        warning = memory_warning(await self.client.info("memory"))
        self.warnings = [warning] if warning is not None else []

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    # -- messages ----------------------------------------------------------------

    def _buckets(self, now: float) -> list[str]:
        """The refs' day buckets at ``now``, today's first: made once a day, not per batch
        (formatting nine dates cost the publish path about 2 % of the server's CPU)."""
        today = int(now // 86400)  # UTC days: Unix time has no leap seconds
        if self._buckets_day != today:
            self._buckets_day = today
            self._buckets_now = [
                f"{self._prefix}:refs:{_day(now - day * 86400)}" for day in range(REF_DAYS + 1)
            ]
        return self._buckets_now

    async def append(self, drafts: Sequence[Draft], origin: str = "") -> list[Stored]:
        buckets = self._buckets(time.time())
        ttl = (REF_DAYS + 1) * 86400
        args: list[str | int] = [origin or self.origin, secrets.token_hex(8), ttl]
        for draft in drafts:
            args += [
                draft.sender,
                draft.recipient or "",
                draft.ref or "",
                _body(draft),
                draft.room or "",
            ]
        keys = [self.log_key, self._meta, self._roomlast, *buckets]
        replies = await self._script("append")(keys=keys, args=args)
        out = []
        for draft, reply in zip(drafts, replies, strict=True):
            if reply.startswith("d"):
                out.append(Stored(None, int(reply[1:])))
            else:
                out.append(Stored(message_of(int(reply), draft)))
                self.last_id = max(self.last_id, int(reply))
        return out

    def _top(self, upto: int | None = None) -> str:
        """The highest entry id a read may return: ``upto`` and ``bound``, whichever is lower."""
        limits = [value for value in (upto, self.bound) if value is not None]
        return f"{min(limits)}-0" if limits else "+"

    async def first_kept(self) -> int:
        first = await xrange(self.client, self.log_key, "-", "+", 1)
        return entry_id(first[0][0]) if first else 0

    async def after(self, since: int, limit: int, reader: str, scope: Scope = LOBBY) -> HistoryPage:
        top = self._top()
        start = f"({since}-0" if since > 0 else "-"
        found: list[Msg] = []
        while len(found) <= limit:
            chunk = await xrange(self.client, self.log_key, start, top, READ_CHUNK)
            for stream_id, fields in chunk:
                entry = decode_entry(stream_id, fields)
                if entry.visible(reader, scope):
                    found.append(entry.msg)
            if len(chunk) < READ_CHUNK:
                break
            start = f"({chunk[-1][0]}"
        return HistoryPage(found[:limit], len(found) > limit, await self.first_kept())

    async def recent(
        self, count: int, reader: str, upto: int | None = None, scope: Scope = LOBBY
    ) -> HistoryPage:
        end = self._top(upto)
        found: list[Msg] = []
        while len(found) < count:
            chunk = await xrevrange(self.client, self.log_key, end, "-", READ_CHUNK)
            for stream_id, fields in chunk:
                entry = decode_entry(stream_id, fields)
                if entry.visible(reader, scope) and len(found) < count:
                    found.append(entry.msg)
            if len(chunk) < READ_CHUNK:
                break
            end = f"({chunk[-1][0]}"
        return HistoryPage(found[::-1], False, await self.first_kept())

    async def log_top(self) -> int:
        """The last id given out (``meta.last``): what a follower can catch up to."""
        return int(await hget(self.client, self._meta, "last") or 0)

    # -- names -------------------------------------------------------------------------

    async def names(self) -> dict[str, tuple[str, str]]:
        owners = await hgetall(self.client, self._owners)
        out = {}
        for key, value in owners.items():
            identity, name = json.loads(value)
            out[key] = (identity, name)
        return out

    async def own_name(self, key: str, identity: str, name: str) -> None:
        await self.claim(key, identity, name)

    async def claim(self, key: str, identity: str, name: str) -> tuple[str, str]:
        """Record ``identity`` as the owner of ``name`` unless someone owns it, or a name
        it looks like (names.lookalike_keys), in one step: the owner (identity, name)."""
        value = json.dumps([identity, name], ensure_ascii=False)
        args = [key, value, identity, *_looks(name), *self._ctl_args("own")]
        keys = [self._owners, self._looks, self.ctl_key]
        owner = await self._script("claim")(keys=keys, args=args)
        first, second = json.loads(owner)
        return first, second

    async def release_name(self, key: str) -> bool:
        """Free a name; running servers on this Redis forget its owner too (``ctl release``)."""
        owner = await hget(self.client, self._owners, key)
        looks = _looks(json.loads(owner)[1]) if owner is not None else []
        args = [key, *looks, *self._ctl_args("release")]
        keys = [self._owners, self._looks, self.ctl_key]
        return bool(await self._script("release")(keys=keys, args=args))

    # -- rooms -------------------------------------------------------------------------

    def _members(self, key: str) -> str:
        return f"{self._prefix}:members:{key}"

    def _ctl_args(self, kind: str) -> list[str | int]:
        return [self.origin, kind, CTL_MAXLEN]

    async def rooms(self) -> tuple[list[RoomRecord], list[tuple[str, str]]]:
        records = [_record(text) for text in (await hgetall(self.client, self._rooms)).values()]
        pipe = self.client.pipeline(transaction=False)
        for record in records:
            pipe.smembers(self._members(record.key))
        members = await pipe.execute()
        return records, [
            (record.key, identity)
            for record, identities in zip(records, members, strict=True)
            for identity in sorted(identities)
        ]

    async def join_room(self, room: RoomRecord, identity: str, name: str = "") -> None:
        event = json.dumps({"room": json.loads(_record_json(room)), "identity": identity,
                            "name": name}, ensure_ascii=False)  # fmt: skip
        keys = [self._rooms, self._members(room.key), self.ctl_key]
        args = [room.key, _record_json(room), identity, event, *self._ctl_args("join")]
        await self._script("join")(keys=keys, args=args)

    async def part_room(self, key: str, identity: str, name: str = "", reason: str = "") -> bool:
        event = json.dumps(
            {"key": key, "identity": identity, "name": name, "reason": reason}, ensure_ascii=False
        )
        keys = [self._rooms, self._members(key), self._roomlast, self.log_key, self.ctl_key]
        args = [key, identity, event, *self._ctl_args("part")]
        return bool(await self._script("part")(keys=keys, args=args))

    async def set_topic(self, key: str, topic: str | None, by: str, ts: str) -> None:
        args = [key, topic or "", by, ts, *self._ctl_args("topic")]
        await self._script("topic")(keys=[self._rooms, self.ctl_key], args=args)

    async def tell(self, kind: str, event: Mapping[str, Any]) -> None:
        """A control event of ``kind`` for every other server (an operator's action)."""
        text = json.dumps(event, ensure_ascii=False)
        fields: dict[FieldT, EncodableT] = {"o": self.origin, "k": kind, "e": text}
        await self.client.xadd(self.ctl_key, fields, maxlen=CTL_MAXLEN, approximate=True)

    # -- revocations every server refuses ---------------------------------------------

    async def revocations(self) -> frozenset[str]:
        return frozenset(cast(set[str], await self.client.smembers(self._revoked)))

    async def revoke(self, keys: Sequence[str]) -> int:
        """Add revocation keys; the new ones go to ``ctl`` (``revoke``). How many were new."""
        args = [*keys, *self._ctl_args("revoke")]
        return int(await self._script("revoke")(keys=[self._revoked, self.ctl_key], args=args))

    # -- presence: who is online on every server -------------------------------------

    async def online(self) -> list[dict[str, Any]]:
        """Every name online on some server: its JSON record, as ``enter`` wrote it."""
        return [json.loads(value) for value in (await hgetall(self.client, self._users)).values()]

    async def enter(self, session: str, key: str, user: dict[str, Any], grace: float) -> str:
        """Register a session of this server; the newest ctl id after it (see _ENTER)."""
        keys = [self._online, self._users, self._servers, self._srv + self.origin, self.ctl_key]
        text = json.dumps(user, ensure_ascii=False)
        args = [session, key, text, int(grace * 1000), *self._ctl_args("online")]
        return str(await self._script("enter")(keys=keys, args=args))

    async def exit(self, session: str, reason: str) -> bool:
        """End a session of this server; True if its name went offline everywhere."""
        keys = [self._online, self._users, self._srv + self.origin, self.ctl_key]
        args = [session, reason, *self._ctl_args("offline")]
        return bool(await self._script("exit")(keys=keys, args=args))

    async def beat(self, grace: float) -> bool:
        """This server is alive for ``grace`` seconds more; False if it had been reaped."""
        args: list[str | int] = [self.origin, int(grace * 1000)]
        return bool(await self._script("beat")(keys=[self._servers], args=args))

    async def reap(self, reason: str) -> int:
        """End the sessions of every server past its deadline; how many servers."""
        keys = [self._online, self._users, self._servers, self.ctl_key]
        args = [self._srv, reason, *self._ctl_args("offline")]
        return int(await self._script("reap")(keys=keys, args=args))

    # -- operators' sanctions and message of the day ----------------------------------
    # Kept in Redis, so every server on it reads the same: each re-reads the
    # sanctions every --watch-interval, as a SQLite server re-reads its store.

    async def sanctions(self) -> list[Sanction]:
        stored = await hgetall(self.client, self._sanctions)
        return [Sanction(**json.loads(value)) for value in stored.values()]

    async def put_sanction(self, sanction: Sanction) -> None:
        value = json.dumps(dataclasses.asdict(sanction), ensure_ascii=False)
        await self.client.hset(self._sanctions, f"{sanction.kind} {sanction.identity}", value)

    async def drop_sanction(self, kind: str, identity: str) -> bool:
        return bool(await self.client.hdel(self._sanctions, f"{kind} {identity}"))

    async def motd(self) -> str | None:
        return await hget(self.client, self._meta, "motd")

    async def set_motd(self, text: str | None) -> None:
        if text is None:
            await self.client.hdel(self._meta, "motd")
        else:
            await self.client.hset(self._meta, "motd", text)

    async def put_cert(self, fp: str, pem: str, identity: str) -> None:
        await self.client.hsetnx(self._certs, fp, pem)
        await self.client.hset(self._cert_of, identity, fp)

    async def cert_of(self, identity: str) -> str | None:
        return await hget(self.client, self._cert_of, identity)

    async def cert(self, fp: str) -> str | None:
        return await hget(self.client, self._certs, fp)

    async def ping(self) -> None:
        """Redis's PING (``/readyz``)."""
        await self.client.ping()

    # -- retention ----------------------------------------------------------------------

    async def purge(self, older_than: dt.datetime | None, keep: int | None) -> int:
        """Trim the log by age and by count; refs expire by themselves (day buckets)."""
        removed = 0
        if older_than is not None:
            cutoff = older_than.astimezone(dt.UTC).isoformat(timespec="milliseconds")
            minid = await self._first_young(cutoff.replace("+00:00", "Z"))
            if minid is not None:
                removed += int(await self.client.xtrim(self.log_key, minid=minid))
        if keep is not None:
            removed += int(await self.client.xtrim(self.log_key, maxlen=keep, approximate=False))
        return removed

    async def _first_young(self, cutoff: str) -> str | None:
        """The id of the first entry stored at or after ``cutoff`` (past the last if none)."""
        start = "-"
        last: str | None = None
        while True:  # ends: each round reads further along a finite stream
            chunk = await xrange(self.client, self.log_key, start, "+", PURGE_CHUNK)
            for stream_id, fields in chunk:
                if json.loads(fields["b"])["ts"] >= cutoff:
                    return stream_id
                last = stream_id
            if len(chunk) < PURGE_CHUNK:
                return None if last is None else f"{entry_id(last) + 1}-0"
            start = f"({chunk[-1][0]}"

"""The conversation lock: one turn of a conversation at a time, across Rasa processes.

Rasa runs each turn inside ``async with lock_store.lock(sender_id)``. Its own
stores are not safe for several processes: ``RedisLockStore`` changes a lock
with get / modify / set and no transaction (RasaHQ/rasa#9213), decides who
is served with each host's clock, and waits in 1 s steps; an earlier version
of this module reset its ticket counter when a queue emptied, so a late
finisher could release somebody else's ticket (issue 8, audit finding F5).
``NpsLockStore.lock`` is therefore the whole protocol, and ours:

Redis (``NPS_LOCK_STORE_URL=redis://host:6379/1``), through ``redis.asyncio``:
- each ticket is a unique token (uuid4) with an order number from ``INCR`` on
  a per-conversation counter that is never deleted (its TTL, 30 days, is
  refreshed on every ticket), so numbers never repeat;
- the queue is a sorted set of tokens scored by order number; each token's
  expiry is in a hash, set and compared with Redis's ``TIME`` inside Lua, so
  no Rasa host's clock takes part in deciding who is served;
- "am I served?" is one Lua script: drop expired tokens, answer how many
  tokens are ahead of mine (or that mine is gone), and renew my expiry: a
  waiter's by 10 s (it polls every 250 ms at most, so a process killed while
  waiting blocks nobody for long), the holder's by the full lifetime;
- the holder's token is extended every lifetime / 3 by a heartbeat (compare
  and extend: a lost token is logged, never re-created);
- release removes my own token only (compare and delete), so a turn that
  finishes after its ticket expired removes nothing of anybody else's;
- keys are ``nps:lock:{sha256(conversation id)}:q|e|n``: no sender id can
  name another conversation's keys, and the braces keep the three on one
  Redis Cluster slot;
- any Redis error while taking or waiting, a ticket that vanished (Redis
  restarted) or a wait longer than lifetime + turn timeout raises Rasa's
  ``LockError``: the turn fails, the webhook answers 5xx and the platform
  redelivers. A turn never runs unlocked.

Memory (``NPS_LOCK_STORE_URL`` empty, one Rasa process): an ``asyncio.Lock``
per conversation, removed when nobody holds or waits for it; waiters are
woken by the lock (first come, first served), with no polling.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from nps.identity import log_id
from nps.settings import load_settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "nps:lock:"
# The order counter outlives any queue by far; it only expires once a
# conversation has been quiet for this long, when no ticket can be left.
COUNTER_TTL_SECONDS = 30 * 24 * 3600
# A queue's keys outlive the longest expiry in them by this margin, so Redis
# removes an abandoned queue on its own.
QUEUE_TTL_MARGIN_SECONDS = 60
# Waiters ask "am I served?" after 10 ms, then doubling up to 250 ms: a turn
# takes tens of milliseconds, and Rasa's fixed 1 s step would add a second.
FIRST_POLL_SECONDS = 0.01
MAX_POLL_SECONDS = 0.25
# One Redis call's bound: a slow or unreachable Redis fails the turn in
# seconds (and the platform redelivers) instead of stalling it.
REDIS_TIMEOUT_SECONDS = 2.0
# A waiting ticket expires this long after its last poll (polls come every
# 250 ms at most): a process killed while waiting blocks the queue for
# seconds, not a whole lock lifetime. Several Redis timeouts long, so a
# waiter in a briefly stalled process keeps its place.
WAITER_LIFETIME_SECONDS = 10.0


def lock_keys(conversation_id: str, prefix: str = KEY_PREFIX) -> tuple[str, str, str]:
    """The queue, expiry and counter keys of one conversation.

    The id is hashed: any sender id, however long or odd ("x:n", "{x}",
    unicode), becomes 64 hex digits, so it cannot name another conversation's
    keys; the braces are a Redis Cluster hash tag (one slot for the three)."""
    digest = hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()
    base = f"{prefix}{{{digest}}}"
    return f"{base}:q", f"{base}:e", f"{base}:n"


def poll_delays(
    first: float = FIRST_POLL_SECONDS, maximum: float = MAX_POLL_SECONDS
) -> Iterator[float]:
    """Waits between polls: ``first``, doubling, never above ``maximum``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, maximum)


# Every script starts from Redis's clock (milliseconds: exact in Lua's
# doubles) and drops the tokens whose expiry has passed. Writing after TIME
# needs Redis >= 5 (scripts replicated by their effects, the default there). KEYS: queue (sorted
# set token -> order), expiries (hash token -> ms), counter.
_NOW_AND_DROP_EXPIRED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiries = redis.call('HGETALL', KEYS[2])
for i = 1, #expiries, 2 do
  if tonumber(expiries[i + 1]) <= now then
    redis.call('ZREM', KEYS[1], expiries[i])
    redis.call('HDEL', KEYS[2], expiries[i])
  end
end
local function keep_queue_until(ms)
  for i = 1, 2 do
    local left = redis.call('PTTL', KEYS[i])
    -- -1: made by this script, no TTL yet; -2: absent (nothing to keep)
    if left == -1 or (left >= 0 and left < ms) then redis.call('PEXPIRE', KEYS[i], ms) end
  end
end
"""

# ARGV: token, waiting ms, counter TTL ms, queue margin ms. Returns the
# ticket's order number.
_ISSUE = (
    _NOW_AND_DROP_EXPIRED
    + """
local order = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[1], order, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
keep_queue_until(tonumber(ARGV[2]) + tonumber(ARGV[4]))
return order
"""
)

# ARGV: token, waiting ms, holding ms, queue margin ms. Returns how many
# tickets are ahead of the token (0: served), or -1 when it is gone (expired,
# or Redis lost it). The token's expiry is renewed: a waiter's by the short
# waiting lifetime (a live waiter polls far more often; a dead one is dropped
# soon), the holder's by the full lifetime (its heartbeat extends it).
_SERVED = (
    _NOW_AND_DROP_EXPIRED
    + """
local ahead = redis.call('ZRANK', KEYS[1], ARGV[1])
if (not ahead) or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return -1
end
local ms = tonumber(ARGV[2])
if ahead == 0 then ms = tonumber(ARGV[3]) end
redis.call('HSET', KEYS[2], ARGV[1], now + ms)
keep_queue_until(ms + tonumber(ARGV[4]))
return ahead
"""
)

# ARGV: token, lifetime ms, queue margin ms. Extends the token's expiry only
# if it still exists (compare and extend); returns 1, or 0 when it is gone.
_EXTEND = (
    _NOW_AND_DROP_EXPIRED
    + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
keep_queue_until(tonumber(ARGV[2]) + tonumber(ARGV[3]))
return 1
"""
)

# ARGV: token. Removes this token only (compare and delete): a late finisher
# whose ticket expired finds nothing of its own and removes nothing else.
# An empty queue's keys go; the counter stays. Returns 1 if the token was there.
_RELEASE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return removed
"""


@dataclass(frozen=True)
class Held:
    """What ``lock()`` yields: which ticket holds the conversation."""

    conversation_id: str
    token: str = ""
    order: int = 0


class RedisLocks:
    """The lock protocol in Redis (see the module docstring)."""

    def __init__(
        self,
        url: str,
        key_prefix: str = KEY_PREFIX,
        timeout: float = REDIS_TIMEOUT_SECONDS,
        waiter_lifetime: float = WAITER_LIFETIME_SECONDS,
    ):
        self.url = url
        self.key_prefix = key_prefix
        self.timeout = timeout
        self.waiter_lifetime = waiter_lifetime
        # One client per event loop (Rasa has one; tests may run several):
        # redis.asyncio connections belong to the loop that opened them.
        # Made on first use, never at import.
        self._clients: dict[int, tuple] = {}

    def _client(self) -> dict:
        import redis.asyncio

        loop = asyncio.get_running_loop()
        key = id(loop)
        client = self._clients.get(key)
        if client is None or client[0] is not loop:
            for stale in [k for k, (old, _, _) in self._clients.items() if old.is_closed()]:
                del self._clients[stale]
            red = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
            scripts = {
                name: red.register_script(source)
                for name, source in (
                    ("issue", _ISSUE),
                    ("served", _SERVED),
                    ("extend", _EXTEND),
                    ("release", _RELEASE),
                )
            }
            client = self._clients[key] = (loop, red, scripts)
        return client[2]

    async def _run(self, script: str, conversation_id: str, *args) -> int:
        scripts = self._client()
        keys = lock_keys(conversation_id, self.key_prefix)
        return int(await scripts[script](keys=list(keys), args=list(args)))

    async def issue(self, conversation_id: str, token: str, lifetime: float) -> int:
        return await self._run(
            "issue",
            conversation_id,
            token,
            _ms(min(lifetime, self.waiter_lifetime)),
            COUNTER_TTL_SECONDS * 1000,
            QUEUE_TTL_MARGIN_SECONDS * 1000,
        )

    async def served(self, conversation_id: str, token: str, lifetime: float) -> int:
        return await self._run(
            "served",
            conversation_id,
            token,
            _ms(min(lifetime, self.waiter_lifetime)),
            _ms(lifetime),
            QUEUE_TTL_MARGIN_SECONDS * 1000,
        )

    async def extend(self, conversation_id: str, token: str, lifetime: float) -> bool:
        return bool(
            await self._run(
                "extend", conversation_id, token, _ms(lifetime), QUEUE_TTL_MARGIN_SECONDS * 1000
            )
        )

    async def release(self, conversation_id: str, token: str) -> bool:
        return bool(await self._run("release", conversation_id, token))

    @asynccontextmanager
    async def hold(
        self,
        conversation_id: str,
        lifetime: float,
        max_wait: float,
        heartbeat: float | None = None,
    ) -> AsyncIterator[Held]:
        """Take a ticket, wait to be served, hold it with a heartbeat, release it.

        ``heartbeat``: seconds between extensions (default lifetime / 3; 0
        turns it off, for tests of expiry)."""
        who = _Who(conversation_id)
        token = uuid.uuid4().hex
        beat = None
        try:
            try:
                order = await self.issue(conversation_id, token, lifetime)
            except Exception as error:  # any Redis failure fails the turn
                logger.error(
                    "Conversation lock for %s not taken: Redis error (%s)", who, _kind(error)
                )
                raise LockError(f"lock store unavailable: {_kind(error)}") from error
            await self._wait_served(conversation_id, token, lifetime, max_wait, who)
            interval = lifetime / 3 if heartbeat is None else heartbeat
            if interval > 0:
                beat = asyncio.create_task(
                    self._heartbeat(conversation_id, token, lifetime, interval, who)
                )
            yield Held(conversation_id, token, order)
        finally:
            if beat is not None:
                beat.cancel()
            # Shielded: a turn cancelled while waiting or running still
            # gives its place back; if even that fails, the ticket expires.
            try:
                await asyncio.shield(self.release(conversation_id, token))
            except Exception as error:  # noqa: BLE001 - the turn's own outcome stands
                logger.warning(
                    "Conversation lock for %s not released (%s); it expires in %g s",
                    who,
                    _kind(error),
                    lifetime,
                )

    async def _wait_served(
        self, conversation_id: str, token: str, lifetime: float, max_wait: float, who: _Who
    ) -> None:
        deadline = time.monotonic() + max_wait  # only this waiter's patience
        delays, ahead_before = poll_delays(), None
        while True:
            try:
                state = await self.served(conversation_id, token, lifetime)
            except Exception as error:  # never run unlocked
                logger.error(
                    "Conversation lock for %s lost while waiting: Redis error (%s)",
                    who,
                    _kind(error),
                )
                raise LockError(f"lock store unavailable: {_kind(error)}") from error
            if state == 0:
                return
            if state == -1:
                logger.error(
                    "Conversation lock ticket for %s vanished while waiting (Redis restarted?)",
                    who,
                )
                raise LockError("lock ticket vanished while waiting")
            if ahead_before is None or state < ahead_before:
                # Somebody ahead left: the turn now ahead has just started,
                # so poll quickly again (a hand-over costs ~ a turn, not 250 ms).
                delays, ahead_before = poll_delays(), state
            delay = next(delays)
            if time.monotonic() + delay > deadline:
                logger.error("Conversation %s still locked after %g s: giving up", who, max_wait)
                raise LockError(f"conversation still locked after {max_wait:g} s")
            await asyncio.sleep(delay)

    async def _heartbeat(
        self, conversation_id: str, token: str, lifetime: float, interval: float, who: _Who
    ) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                alive = await self.extend(conversation_id, token, lifetime)
            except Exception as error:  # noqa: BLE001 - retried at the next beat
                logger.warning("Conversation lock for %s not extended (%s)", who, _kind(error))
                continue
            if not alive:
                logger.error(
                    "Conversation lock for %s was lost while its turn ran "
                    "(expired or Redis restarted): another turn may overlap",
                    who,
                )
                return

    async def close(self) -> None:
        """Close the client of the running loop (tests; Rasa never closes it)."""
        entry = self._clients.pop(id(asyncio.get_running_loop()), None)
        if entry is not None:
            await entry[1].close(close_connection_pool=True)


class MemoryLocks:
    """One ``asyncio.Lock`` per conversation, for a single Rasa process."""

    def __init__(self) -> None:
        # conversation id -> [lock, how many hold or wait]; an entry goes when
        # its count drops to zero, so the dict holds only busy conversations.
        self.locks: dict[str, list] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str, max_wait: float) -> AsyncIterator[Held]:
        entry = self.locks.setdefault(conversation_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            try:
                await asyncio.wait_for(entry[0].acquire(), max_wait)
            except asyncio.TimeoutError:
                logger.error(
                    "Conversation %s still locked after %g s: giving up",
                    _Who(conversation_id),
                    max_wait,
                )
                raise LockError(f"conversation still locked after {max_wait:g} s") from None
            try:
                yield Held(conversation_id)
            finally:
                entry[0].release()
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self.locks.get(conversation_id) is entry:
                del self.locks[conversation_id]


class NpsLockStore(LockStore):
    """The lock store named in endpoints.yml: Redis when configured, else memory."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        url: str | None = None,
        key_prefix: str = KEY_PREFIX,
        heartbeat: float | None = None,
    ):
        settings = load_settings()
        if url is None:
            url = (endpoint_config.url if endpoint_config else "") or settings.lock_store_url
        url = (url or "").strip()
        self.lifetime = settings.lock_lifetime
        # A waiter gives up once the turn ahead of it has surely ended: by its
        # bound, or by its lock expiring.
        self.max_wait = settings.lock_lifetime + settings.turn_timeout
        self.heartbeat = heartbeat
        if endpoint_config is not None and endpoint_config.kwargs.get("key_prefix"):
            key_prefix = str(endpoint_config.kwargs["key_prefix"])
        self.redis = RedisLocks(url, key_prefix) if url else None
        self.memory = None if url else MemoryLocks()
        if url:
            logger.info("Conversation locks: Redis (lifetime %g s)", self.lifetime)
        elif settings.db_url.startswith("postgres"):
            # PostgreSQL means the tracker store may be shared by several
            # Rasa processes, whose in-memory locks do not see each other.
            logger.error(
                "Conversation locks are in memory but the tracker store is PostgreSQL: "
                "several Rasa processes would run turns of one conversation at once and "
                "lose events. Set NPS_LOCK_STORE_URL (redis://host:6379/1) unless "
                "exactly one Rasa process runs."
            )
        else:
            logger.info("Conversation locks: in memory (one Rasa process only)")
        super().__init__()

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float | None = None,
    ) -> AsyncIterator[Held]:
        """Hold the conversation's lock for one turn (Rasa's only use of this store).

        ``wait_time_in_seconds`` (Rasa's fixed polling step) is accepted and
        ignored: waiters back off from 10 ms to 250 ms instead."""
        lifetime = self.lifetime if lock_lifetime is None else lock_lifetime
        if self.redis is not None:
            held = self.redis.hold(conversation_id, lifetime, self.max_wait, self.heartbeat)
        else:
            held = self.memory.hold(conversation_id, self.max_wait)
        async with held as ticket:
            yield ticket

    # Rasa 3.6 reaches a lock store only through ``lock()`` (agent, processor
    # and server; `grep -rn "lock_store\." rasa/`). The ticket-object methods
    # below would bypass the protocol above, so they refuse rather than
    # half-work.
    def _not_ours(self, *_args, **_kwargs):
        raise NotImplementedError(
            "NpsLockStore keeps tickets in its own protocol; use `async with store.lock(id)`"
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 0) -> int:
        return self._not_ours()

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self._not_ours()

    def save_lock(self, lock: TicketLock) -> None:
        self._not_ours()

    def delete_lock(self, conversation_id: str) -> None:
        self._not_ours()

    def update_lock(self, conversation_id: str) -> None:
        self._not_ours()

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._not_ours()

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self._not_ours()

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self._not_ours()


class _Who:
    """A conversation as logs name it (``nps.identity.log_id``), computed only
    when a line is actually written."""

    def __init__(self, conversation_id: str):
        self.conversation_id = conversation_id

    def __str__(self) -> str:
        # A lone surrogate (possible in a JSON sender id) cannot be UTF-8
        # encoded by log_id; its escaped form names the same conversation.
        safe = self.conversation_id.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return log_id(safe)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _kind(error: BaseException) -> str:
    """An error as one line without data: its type and first line (Redis
    errors name hosts and commands, never a conversation)."""
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

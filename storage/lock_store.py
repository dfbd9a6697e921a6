"""A conversation lock store that stays correct when several Rasa processes share it.

Rasa serialises the turns of one conversation with a ticket lock: each
incoming message takes a ticket and waits until it is served. Rasa Open
Source's ``RedisLockStore`` issues and returns tickets with get / modify /
set and no transaction (RasaHQ/rasa#9213), so two processes that take a
ticket at the same moment can get the same number, both run, and the SQL
tracker store (which has no uniqueness guard) then duplicates or loses
events. Here every change of a lock is one Lua script, which Redis runs
atomically: ticket numbers come from INCR, the queue is a sorted set served in
ticket order, and expiry uses Redis's clock.

``endpoints.yml`` always names this store; with ``NPS_LOCK_STORE_URL``
empty it keeps locks in memory, which is right for a single Rasa process
(the default local run), and with ``redis://host:6379/1`` it uses Redis.
"""

from __future__ import annotations

import logging
from collections import deque

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# Keys of one conversation's lock: KEYS[1] the queue, a sorted set of ticket
# numbers scored by the number itself (so the queue is served in the order
# tickets were issued); KEYS[2] a hash ticket number -> expiry time; KEYS[3]
# the last number issued. Time is Redis's own clock, the one clock every Rasa
# process shares.
_DROP_EXPIRED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expiries = redis.call('HGETALL', KEYS[2])
for i = 1, #expiries, 2 do
  if tonumber(expiries[i + 1]) <= now then
    redis.call('ZREM', KEYS[1], expiries[i])
    redis.call('HDEL', KEYS[2], expiries[i])
  end
end
"""

# ARGV[1] lifetime in seconds. Returns the new ticket number.
_ISSUE = (
    _DROP_EXPIRED
    + """
local number = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], number, number)
redis.call('HSET', KEYS[2], number, now + tonumber(ARGV[1]))
local ttl = math.ceil(tonumber(ARGV[1]) * 1000) + 60000
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return number
"""
)

# ARGV[1] ticket number. Removes it; when nobody is left, removes the lock.
_FINISH = (
    _DROP_EXPIRED
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 1
end
return 0
"""
)

_EXPIRE = _DROP_EXPIRED + "return 0"


class AtomicRedisLocks(LockStore):
    """The ticket lock kept in Redis, each change made atomically."""

    def __init__(self, url: str, key_prefix: str = "nps:lock:", socket_timeout: float = 10):
        import redis

        self.red = redis.Redis.from_url(url, socket_timeout=socket_timeout)
        self.key_prefix = key_prefix
        self._issue = self.red.register_script(_ISSUE)
        self._finish = self.red.register_script(_FINISH)
        self._expire = self.red.register_script(_EXPIRE)
        super().__init__()

    def _keys(self, conversation_id: str) -> list:
        base = f"{self.key_prefix}{conversation_id}"
        return [base, f"{base}:expires", f"{base}:last"]

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 60) -> int:
        try:
            return int(self._issue(keys=self._keys(conversation_id), args=[lock_lifetime]))
        except Exception as error:  # Rasa expects LockError for any failure here
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        queue, expiries, _ = self._keys(conversation_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.zrange(queue, 0, -1)
            pipe.hgetall(expiries)
            numbers, expires = pipe.execute()
        tickets = deque(Ticket(int(n), float(expires[n])) for n in numbers if n in expires)
        return TicketLock(conversation_id, tickets) if tickets else None

    def update_lock(self, conversation_id: str) -> None:
        self._expire(keys=self._keys(conversation_id))

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._finish(keys=self._keys(conversation_id), args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # One script both returns the ticket and drops an empty lock, so no
        # ticket issued in between can be deleted with it.
        self.finish_serving(conversation_id, ticket_number)

    def delete_lock(self, conversation_id: str) -> None:
        deleted = self.red.delete(*self._keys(conversation_id))
        self._log_deletion(conversation_id, bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        # Rasa's base class calls this only from methods overridden above;
        # kept for completeness, as one transaction.
        queue, expiries, last = self._keys(lock.conversation_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.delete(queue, expiries)
            if lock.tickets:
                pipe.zadd(queue, {str(t.number): t.number for t in lock.tickets})
                pipe.hset(expiries, mapping={str(t.number): t.expires for t in lock.tickets})
                pipe.set(last, max(t.number for t in lock.tickets))
            pipe.execute()


class NpsLockStore(LockStore):
    """The lock store named in endpoints.yml: Redis when configured, else memory."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, url: str = ""):
        url = (url or (endpoint_config.url if endpoint_config else "") or "").strip()
        self.backend: LockStore = AtomicRedisLocks(url) if url else InMemoryLockStore()
        logger.info(
            "Conversation locks: %s",
            "atomic Redis" if url else "in memory (one Rasa process only)",
        )
        super().__init__()

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = 60) -> int:
        return self.backend.issue_ticket(conversation_id, lock_lifetime)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self.backend.get_lock(conversation_id)

    def update_lock(self, conversation_id: str) -> None:
        self.backend.update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.backend.finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.backend.cleanup(conversation_id, ticket_number)

    def delete_lock(self, conversation_id: str) -> None:
        self.backend.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self.backend.save_lock(lock)

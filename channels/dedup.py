"""Small time-bounded memories the connectors need.

* ``DoneIds``: "has this message id's turn completed already?" Meta
  redelivers a webhook when it did not get a 200 in time (WhatsApp for up to
  days), Twilio when told to, and a redelivered message must not become a
  second user turn (a score given twice, a why-question skipped). An id is
  recorded only after its turn was stored (``channels.turn``), so a turn that
  failed is run again by the redelivery. This is a fast path: the tracker
  store, checked under the conversation lock, is what keeps a message once.
* ``ChoiceMemory``: the options last offered to a sender as numbered text
  (SMS, WhatsApp fallback), so that a reply "2" can be turned back into the
  second option's payload.

Both are in-memory, bounded in size and in age, and good for ONE process.
Several Rasa processes behind a load balancer share the record of done ids
on Redis (``RedisDoneIds``). See docs/channels.md.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_TTL_SECONDS = 7 * 24 * 3600  # Meta retries failed webhooks for up to 7 days
DEFAULT_MAX_ITEMS = 100_000  # ~10 MB of short ids; oldest go first when full


class TTLCache(Generic[K, V]):
    """An insertion-ordered map whose entries expire after ``ttl`` seconds.

    Bounded: when full, the oldest entry is dropped. Not thread-safe, and it
    need not be: a Sanic worker runs one event loop and these methods never
    await, so a check-and-set cannot be interleaved.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_items <= 0:
            raise ValueError("ttl and max_items must be positive")
        self.ttl = ttl
        self.max_items = max_items
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def _expire(self, now: float) -> None:
        # Entries are in insertion order and share one TTL, so expired ones
        # are all at the front: stop at the first live one.
        while self._data:
            key, (stamp, _) = next(iter(self._data.items()))
            if now - stamp < self.ttl:
                break
            self._data.popitem(last=False)

    def get(self, key: K) -> V | None:
        self._expire(self._clock())
        item = self._data.get(key)
        return None if item is None else item[1]

    def set(self, key: K, value: V) -> None:
        now = self._clock()
        self._expire(now)
        self._data.pop(key, None)  # re-insert at the end with a fresh stamp
        self._data[key] = (now, value)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        item = self._data.pop(key, None)
        return None if item is None else item[1]

    def add_if_absent(self, key: K, value: V) -> bool:
        """Store ``key`` unless present; True when it was absent."""
        if self.get(key) is not None:
            return False
        self.set(key, value)
        return True

    def __len__(self) -> int:
        self._expire(self._clock())
        return len(self._data)


class DoneIds:
    """In-memory, per-process record of message ids whose turn completed.

    An id is recorded only AFTER its turn returned (stored), never before:
    a turn that failed or was cut short leaves its id unrecorded, so the
    platform's redelivery runs it again."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache: TTLCache[str, bool] = TTLCache(ttl, max_items, clock)

    async def is_done(self, message_id: str | None) -> bool:
        """True when this id's turn completed; messages without id never are."""
        if not message_id:
            return False
        return self._cache.get(message_id) is not None

    async def mark_done(self, message_id: str | None) -> None:
        if message_id:
            self._cache.set(message_id, True)


class RedisDoneIds:
    """The same record shared by several processes, on Redis.

    A fast path only: two processes may both see "not done" and both run the
    turn; the tracker store, checked under the conversation lock, then keeps
    one (the second turn finds the message id already stored and does
    nothing). So a Redis failure is only logged: ``is_done`` answers False
    (the turn runs, the store deduplicates) and ``mark_done`` is skipped.

    Keys are ``nps:done:<id>``, not the ``nps:seen:<id>`` of the old
    claim-first scheme: an id claimed by it may never have been stored.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "nps:done:",
        ttl: float = DEFAULT_TTL_SECONDS,
        client: Any = None,
    ) -> None:
        if client is None:
            import redis.asyncio as redis_asyncio  # installed with Rasa

            client = redis_asyncio.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._redis = client
        self._prefix = prefix
        self._ttl = int(ttl)

    async def is_done(self, message_id: str | None) -> bool:
        if not message_id:
            return False
        try:
            return bool(await self._redis.exists(self._prefix + message_id))
        except Exception as exc:  # noqa: BLE001 - any Redis failure: run the turn
            logger.warning(
                "dedup store unavailable (%s); running message %s (the tracker store "
                "keeps it once)",
                exc.__class__.__name__,
                message_id,
            )
            return False

    async def mark_done(self, message_id: str | None) -> None:
        if not message_id:
            return
        try:
            await self._redis.set(self._prefix + message_id, 1, ex=self._ttl)
        except Exception as exc:  # noqa: BLE001 - a redelivery is then deduplicated by the store
            logger.warning(
                "dedup store unavailable (%s); message %s not recorded as done",
                exc.__class__.__name__,
                message_id,
            )

    async def close(self) -> None:
        await self._redis.close()


def done_ids_from_url(url: str | None) -> DoneIds | RedisDoneIds:
    """``redis://...`` gives a shared store; empty gives the in-memory one."""
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisDoneIds(url)
    return DoneIds()


class ChoiceMemory:
    """Per-sender mapping from option numbers to payloads, for numbered text."""

    def __init__(self, ttl: float = 24 * 3600, max_items: int = 50_000) -> None:
        self._cache: TTLCache[str, dict[str, str]] = TTLCache(ttl, max_items)

    def remember(self, sender_id: str, choices: dict[str, str]) -> None:
        if choices:
            self._cache.set(sender_id, choices)
        else:
            # The bot moved on to a question without options: a later "2" is
            # an answer in its own right, not option 2 of an older question.
            self._cache.pop(sender_id)

    def resolve(self, sender_id: str, text: str | None) -> str | None:
        """The payload for a reply that is exactly an offered number, else None."""
        if not text:
            return None
        choices = self._cache.get(sender_id)
        if not choices:
            return None
        return choices.get(text.strip().rstrip(".)"))

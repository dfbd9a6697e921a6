"""Done-id and choice memories: bounded, expiring, and the Redis variant."""

import asyncio
import inspect
import os
import uuid

import pytest

from channels.dedup import ChoiceMemory, DoneIds, RedisDoneIds, TTLCache, done_ids_from_url


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_ttl_cache_expires_and_is_bounded():
    clock = Clock()
    cache = TTLCache(ttl=10, max_items=3, clock=clock)
    assert cache.add_if_absent("a", 1) and not cache.add_if_absent("a", 1)
    clock.now = 11
    assert cache.add_if_absent("a", 1)  # expired: new again
    for key in "bcd":
        cache.set(key, 1)
    assert len(cache) == 3 and cache.get("a") is None  # oldest dropped when full


def test_done_ids_record_only_what_was_marked_done():
    done = DoneIds()

    async def run():
        # Seeing an id is not claiming it: only mark_done (after the turn
        # was stored) makes a redelivery skippable.
        before = [await done.is_done(i) for i in ("w1", "w1", None)]
        await done.mark_done("w1")
        await done.mark_done(None)
        return before, [await done.is_done(i) for i in ("w1", "w2", None)]

    assert asyncio.run(run()) == ([False, False, False], [True, False, False])


def test_choice_memory_maps_numbers_and_forgets_on_a_plain_question():
    memory = ChoiceMemory()
    memory.remember("u", {"1": "/affirm", "2": "/deny"})
    assert [memory.resolve("u", t) for t in ("1", " 2 ", "2.", "3", "tak", "")] == [
        "/affirm",
        "/deny",
        "/deny",
        None,
        None,
        None,
    ]
    assert memory.resolve("someone else", "1") is None
    memory.remember("u", {})
    assert memory.resolve("u", "1") is None


def test_done_ids_from_url():
    assert isinstance(done_ids_from_url(""), DoneIds)
    assert isinstance(done_ids_from_url("redis://127.0.0.1:6379/0"), RedisDoneIds)


def test_redis_done_ids_run_the_turn_when_unreachable():
    store = RedisDoneIds("redis://127.0.0.1:1/0")

    async def run():
        await store.mark_done("x")  # logged, not raised
        return await store.is_done("x")

    assert asyncio.run(run()) is False


def test_redis_done_ids_shared_between_two_processes_worth_of_clients():
    url = os.environ.get("NPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

    async def run():
        a, b = RedisDoneIds(url, ttl=60), RedisDoneIds(url, ttl=60)
        try:
            await a._redis.ping()
        except Exception:  # noqa: BLE001 - any Redis error: no server to test against
            pytest.skip(f"no Redis at {url}")
        key = "wamid." + uuid.uuid4().hex
        before = await asyncio.gather(a.is_done(key), b.is_done(key))
        await a.mark_done(key)
        after = await asyncio.gather(a.is_done(key), b.is_done(key))
        ttl = await b._redis.ttl("nps:done:" + key)
        await a.close()
        await b.close()
        return before, after, ttl

    before, after, ttl = asyncio.run(run())
    assert before == [False, False] and after == [True, True]
    assert 0 < ttl <= 60


def test_socketio_compat_makes_enter_room_immediate():
    """Rasa 3.6 calls AsyncServer.enter_room without await (see socketio_compat)."""
    import socketio

    import channels  # noqa: F401  (applies the shim)

    sio = socketio.AsyncServer(async_mode="asgi")

    async def scenario():
        sio.manager.initialize()
        sid = sio.manager.connect("eio-sid", "/")
        if inspect.isawaitable(sid):
            sid = await sid
        result = sio.enter_room(sid, "session-1")  # not awaited, as Rasa does
        in_room = sid in dict(sio.manager.get_participants("/", "session-1"))
        if result is not None:
            await result  # awaiting it still works
        return in_room

    assert asyncio.run(scenario()) is True

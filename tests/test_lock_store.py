"""The atomic Redis lock store, against a real Redis on loopback."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
import uuid

import pytest

from storage.lock_store import AtomicRedisLocks, NpsLockStore

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001 - no server: nothing to test against
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")
    return client


@pytest.fixture
def prefix():
    client = _redis_or_skip()
    value = f"test:{uuid.uuid4().hex}:"
    yield value
    for key in client.scan_iter(f"{value}*"):
        client.delete(key)


def test_concurrent_tickets_are_unique(prefix):
    numbers, errors = [], []

    def take():
        store = AtomicRedisLocks(REDIS_URL, key_prefix=prefix)  # own connection, like a process
        try:
            for _ in range(50):
                numbers.append(store.issue_ticket("conv", 30))
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == list(range(1, 401))


def _critical_sections(prefix: str, rounds: int) -> None:
    import redis

    store = AtomicRedisLocks(REDIS_URL, key_prefix=prefix)
    client = redis.Redis.from_url(REDIS_URL)

    async def work():
        for _ in range(rounds):
            async with store.lock("conv", lock_lifetime=30, wait_time_in_seconds=0.002):
                # a read-modify-write that loses updates unless turns exclude each other
                value = int(client.get(f"{prefix}counter") or 0)
                await asyncio.sleep(0.001)
                client.set(f"{prefix}counter", value + 1)

    asyncio.run(work())


def test_turns_of_one_conversation_exclude_each_other_across_processes(prefix):
    client = _redis_or_skip()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_critical_sections, args=(prefix, 20)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    assert int(client.get(f"{prefix}counter")) == 80
    # every lock is gone once nobody waits
    assert not [k for k in client.scan_iter(f"{prefix}conv*")]


def test_expired_tickets_do_not_block(prefix):
    store = AtomicRedisLocks(REDIS_URL, key_prefix=prefix)
    stale = store.issue_ticket("conv", 0.05)
    time.sleep(0.1)
    fresh = store.issue_ticket("conv", 30)
    assert fresh == stale + 1
    lock = store.get_lock("conv")
    assert lock.now_serving == fresh and not lock.is_locked(fresh)
    store.cleanup("conv", fresh)
    assert store.get_lock("conv") is None


def test_without_a_url_locks_stay_in_memory():
    store = NpsLockStore(url="")
    ticket = store.issue_ticket("conv", 30)
    assert store.get_lock("conv").now_serving == ticket
    store.cleanup("conv", ticket)
    assert store.get_lock("conv") is None

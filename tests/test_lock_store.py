"""The conversation lock (storage/lock_store.py): Redis on loopback, and the in-memory one.

Each Redis test uses keys under a prefix of its own in database 15 and
removes them afterwards; a test that needs Redis skips when none answers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import uuid

import pytest
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from storage.lock_store import (
    COUNTER_TTL_SECONDS,
    MAX_POLL_SECONDS,
    NpsLockStore,
    lock_keys,
    poll_delays,
)
from tests.databases import redis_or_skip

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_or_skip():
    return redis_or_skip(REDIS_URL)


@pytest.fixture
def red():
    """A sync client for looking at Redis from the test (never the code under test)."""
    client = _redis_or_skip()
    yield client
    client.close()


@pytest.fixture
def prefix(red):
    value = f"test:{uuid.uuid4().hex}:"
    yield value
    for key in red.scan_iter(f"{value}*"):
        red.delete(key)


def _store(prefix: str, **kwargs) -> NpsLockStore:
    return NpsLockStore(url=REDIS_URL, key_prefix=prefix, **kwargs)


def _queue(red, prefix: str, conversation: str) -> list[str]:
    return [t.decode() for t in red.zrange(lock_keys(conversation, prefix)[0], 0, -1)]


async def _until(condition, seconds: float = 10) -> None:
    """Wait until `condition()` holds (polling); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- pure parts -----------------------------------------------------------------


def test_keys_are_a_hash_of_the_id_on_one_cluster_slot():
    queue, expiries, counter = lock_keys("rest:ania")
    tag = queue[queue.index("{") : queue.index("}") + 1]
    assert len(tag) == 66 and all(key.startswith(f"nps:lock:{tag}:") for key in (expiries, counter))
    assert (queue[-2:], expiries[-2:], counter[-2:]) == (":q", ":e", ":n")
    hostile = ["rest:ania:n", "rest:ania:q", "{rest:ania}", "x" * 100_000, "żółć 🙂", "\ud800"]
    tags = {lock_keys(h)[0] for h in hostile}
    assert len(tags) == len(hostile) and queue not in tags
    assert {len(lock_keys(h)[0]) for h in hostile} == {len(queue)}


def test_waiters_back_off_from_10_ms_to_250_ms():
    delays = poll_delays()
    first = [next(delays) for _ in range(8)]
    assert first[:5] == [0.01, 0.02, 0.04, 0.08, 0.16]
    assert first[5:] == [MAX_POLL_SECONDS] * 3


# --- Redis ------------------------------------------------------------------------


def test_contention_one_holder_at_a_time_all_served_in_ticket_order(prefix):
    """Three event loops on three threads, each with its own client (like three
    processes), each running tasks that take many tickets on one conversation."""
    threads_n, tasks_n, rounds = 3, 6, 8
    mutex = threading.Lock()
    state = {"active": 0, "most": 0}
    served: list[int] = []
    errors: list[BaseException] = []

    async def customer(store: NpsLockStore) -> None:
        for _ in range(rounds):
            async with store.lock("rest:busy") as held:
                with mutex:
                    state["active"] += 1
                    state["most"] = max(state["most"], state["active"])
                    served.append(held.order)
                await asyncio.sleep(0.002)  # a turn that yields, so overlap would show
                with mutex:
                    state["active"] -= 1

    def loop_thread() -> None:
        async def main():
            store = _store(prefix)
            try:
                await asyncio.gather(*(customer(store) for _ in range(tasks_n)))
            finally:
                await store.redis.close()

        try:
            asyncio.run(main())
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=loop_thread) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert state["most"] == 1
    total = threads_n * tasks_n * rounds
    assert len(served) == total
    # Served strictly in the order tickets were issued (FIFO), none skipped.
    assert served == sorted(served) and len(set(served)) == total


def test_late_finisher_releases_nothing_of_the_next_holder(prefix, red):
    """A's ticket expires mid-turn (no heartbeat); B takes the lock; A's late
    exit must leave B holding and C, queued behind B, waiting."""
    store = _store(prefix, heartbeat=0)
    conversation = "rest:late"

    async def scenario():
        entered = {}
        leave = {name: asyncio.Event() for name in "ABC"}

        async def turn(name: str, lifetime: float | None = None):
            async with store.lock(conversation, lock_lifetime=lifetime) as held:
                entered[name] = held
                await leave[name].wait()

        a = asyncio.create_task(turn("A", lifetime=0.2))
        await _until(lambda: "A" in entered)
        await asyncio.sleep(0.3)  # A's ticket expires on Redis's clock
        b = asyncio.create_task(turn("B"))
        await _until(lambda: "B" in entered)
        c = asyncio.create_task(turn("C"))
        await _until(lambda: len(_queue(red, prefix, conversation)) == 2)

        leave["A"].set()
        await a  # the late finisher leaves
        queue = _queue(red, prefix, conversation)
        assert queue[0] == entered["B"].token and len(queue) == 2
        assert await store.redis.served(conversation, queue[1], 30) == 1  # one ahead
        assert "C" not in entered

        leave["B"].set()
        await b
        await _until(lambda: "C" in entered)
        assert entered["C"].order > entered["B"].order > entered["A"].order
        leave["C"].set()
        await c
        await store.redis.close()

    asyncio.run(scenario())
    assert _queue(red, prefix, conversation) == []


def test_counter_is_never_reset(prefix, red):
    store = _store(prefix)
    conversation = "rest:again"
    queue, expiries, counter = lock_keys(conversation, prefix)

    async def two_turns():
        orders = []
        for _ in range(2):
            async with store.lock(conversation) as held:
                orders.append(held.order)
            # an empty queue leaves no queue keys, but the counter stays
            assert not red.exists(queue) and not red.exists(expiries)
            assert red.exists(counter)
        await store.redis.close()
        return orders

    first, second = asyncio.run(two_turns())
    assert second == first + 1
    assert COUNTER_TTL_SECONDS - 60 < red.ttl(counter) <= COUNTER_TTL_SECONDS


def test_hostile_sender_ids_do_not_disturb_the_victim(prefix, red):
    store = _store(prefix)
    victim = "rest:victim"
    hostile = [
        f"{victim}:n",
        f"{victim}:q",
        f"{victim}:e",
        "{" + victim + "}",
        lock_keys(victim, prefix)[2],  # the victim's counter key, as a sender id
        "x" * 100_000,
        "żółć 🙂 \u202e",
        "\ud800",
    ]

    async def scenario():
        async with store.lock(victim) as held:
            for sender in hostile:
                # each is served at once (not queued behind the victim) ...
                async with store.lock(sender):
                    pass
            # ... and the victim still holds its own, only ticket
            assert _queue(red, prefix, victim) == [held.token]
            first = held.order
        async with store.lock(victim) as again:
            assert again.order == first + 1
        await store.redis.close()

    asyncio.run(scenario())


def test_who_is_served_is_decided_by_redis_time(prefix, red, monkeypatch):
    store = _store(prefix, heartbeat=0)
    conversation = "rest:clock"
    lifetime = 20.0

    async def scenario():
        entered = []
        leave = asyncio.Event()

        async def turn(name):
            async with store.lock(conversation, lock_lifetime=lifetime) as held:
                entered.append((name, held))
                await leave.wait()

        a = asyncio.create_task(turn("A"))
        await _until(lambda: entered)
        seconds, micros = red.time()
        expiry = float(red.hget(lock_keys(conversation, prefix)[1], entered[0][1].token))
        assert abs(expiry - (seconds * 1000 + micros / 1000 + lifetime * 1000)) < 2000

        # This host's clock jumps a day ahead: A's ticket is still A's.
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 86_400)
        b = asyncio.create_task(turn("B"))
        await _until(lambda: len(_queue(red, prefix, conversation)) == 2)
        assert await store.redis.served(conversation, entered[0][1].token, lifetime) == 0
        assert [name for name, _ in entered] == ["A"]
        leave.set()
        await asyncio.gather(a, b)
        assert [name for name, _ in entered] == ["A", "B"]
        await store.redis.close()

    asyncio.run(scenario())


def test_redis_unreachable_fails_the_turn_promptly(caplog):
    store = NpsLockStore(url=f"redis://127.0.0.1:{_free_port()}/0")
    ran = []

    async def turn():
        async with store.lock("whatsapp:+48600100200"):
            ran.append(True)

    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="storage.lock_store"):
        with pytest.raises(LockError):
            asyncio.run(turn())
    assert time.monotonic() - started < 5
    assert not ran
    assert "600100200" not in caplog.text and "Redis error" in caplog.text


class _CuttableProxy:
    """A TCP proxy to Redis inside the test's event loop; `cut()` drops every
    connection and refuses new ones, as a Redis that went away."""

    def __init__(self, target_port: int = 6379):
        self.target_port = target_port
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self):
        self.server.close()
        await self.server.wait_closed()
        for writer in self.writers:
            writer.close()


def test_redis_going_away_while_waiting_fails_the_waiter(prefix, red):
    async def scenario():
        proxy = _CuttableProxy()
        port = await proxy.start()
        store = NpsLockStore(url=f"redis://127.0.0.1:{port}/15", key_prefix=prefix)
        leave = asyncio.Event()
        entered = []

        async def turn(name):
            async with store.lock("rest:outage"):
                entered.append(name)
                await leave.wait()

        holder = asyncio.create_task(turn("A"))
        await _until(lambda: entered)
        waiter = asyncio.create_task(turn("B"))
        await _until(lambda: len(_queue(red, prefix, "rest:outage")) == 2)
        await proxy.cut()
        with pytest.raises(LockError):
            await asyncio.wait_for(waiter, 10)
        leave.set()
        await holder  # a release that cannot reach Redis is logged, not raised
        assert entered == ["A"]

    asyncio.run(scenario())


def test_a_vanished_ticket_fails_the_waiter_and_is_logged_for_the_holder(prefix, red, caplog):
    """Redis restarted (keys gone): the waiter must not run unlocked, and the
    holder's heartbeat reports the lost lock."""
    store = _store(prefix, heartbeat=0.05)
    conversation = "rest:restart"

    async def scenario():
        leave = asyncio.Event()
        entered = []

        async def turn(name):
            async with store.lock(conversation):
                entered.append(name)
                await leave.wait()

        holder = asyncio.create_task(turn("A"))
        await _until(lambda: entered)
        waiter = asyncio.create_task(turn("B"))
        await _until(lambda: len(_queue(red, prefix, conversation)) == 2)
        red.delete(*lock_keys(conversation, prefix)[:2])  # what a Redis restart leaves
        with pytest.raises(LockError):
            await asyncio.wait_for(waiter, 10)
        await _until(lambda: "was lost" in caplog.text)
        leave.set()
        await holder
        assert entered == ["A"]
        await store.redis.close()

    with caplog.at_level(logging.ERROR, logger="storage.lock_store"):
        asyncio.run(scenario())


def test_a_dead_waiter_blocks_the_queue_only_briefly(prefix, red):
    """A process killed while waiting leaves its ticket; it expires after the
    short waiting lifetime, not the holder's, and the next waiter is served."""
    store = _store(prefix)
    store.redis.waiter_lifetime = 0.3
    conversation = "rest:dead-waiter"

    async def scenario():
        leave = asyncio.Event()
        entered = []

        async def turn(name):
            async with store.lock(conversation, lock_lifetime=60):
                entered.append(name)
                await leave.wait()

        holder = asyncio.create_task(turn("A"))
        await _until(lambda: entered)
        # the dead waiter: a ticket taken, never polled again
        await store.redis.issue(conversation, "dead", 60)
        live = asyncio.create_task(turn("C"))
        await _until(lambda: len(_queue(red, prefix, conversation)) == 3)
        leave.set()
        await holder
        await _until(lambda: entered == ["A", "C"])  # once "dead" expired
        assert "dead" not in _queue(red, prefix, conversation)
        await live
        await store.redis.close()

    asyncio.run(scenario())
    assert _queue(red, prefix, conversation) == []


def test_heartbeat_keeps_a_long_turn_locked(prefix, red):
    store = _store(prefix, heartbeat=0.1)
    conversation = "rest:slow"

    async def scenario():
        async with store.lock(conversation, lock_lifetime=0.4) as held:
            await asyncio.sleep(1.0)  # 2.5 lifetimes
            assert _queue(red, prefix, conversation) == [held.token]
        await store.redis.close()

    asyncio.run(scenario())
    assert _queue(red, prefix, conversation) == []


def test_a_cancelled_waiter_gives_its_place_back(prefix, red):
    store = _store(prefix)
    conversation = "rest:cancel"

    async def scenario():
        leave = asyncio.Event()
        entered = []

        async def turn(name):
            async with store.lock(conversation) as held:
                entered.append(held)
                await leave.wait()

        holder = asyncio.create_task(turn("A"))
        await _until(lambda: entered)
        waiter = asyncio.create_task(turn("B"))
        await _until(lambda: len(_queue(red, prefix, conversation)) == 2)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert _queue(red, prefix, conversation) == [entered[0].token]
        leave.set()
        await holder
        await store.redis.close()

    asyncio.run(scenario())
    assert _queue(red, prefix, conversation) == []


# --- configuration ----------------------------------------------------------------


def test_rasa_builds_it_from_endpoints_and_takes_the_url_from_settings(monkeypatch, prefix):
    monkeypatch.setenv("NPS_LOCK_STORE_URL", REDIS_URL)
    config = EndpointConfig(url="", type="storage.lock_store.NpsLockStore", key_prefix=prefix)
    store = LockStore.create(config)
    assert isinstance(store, NpsLockStore)
    assert store.redis is not None and store.redis.url == REDIS_URL
    assert store.redis.key_prefix == prefix
    with pytest.raises(NotImplementedError):
        store.issue_ticket("rest:x")


def test_memory_locks_with_postgresql_log_an_error(monkeypatch, caplog):
    monkeypatch.setenv("NPS_LOCK_STORE_URL", "")
    monkeypatch.setenv("NPS_DB_URL", "postgresql://nps@db/nps")
    with caplog.at_level(logging.INFO, logger="storage.lock_store"):
        store = NpsLockStore(EndpointConfig(url="", type="storage.lock_store.NpsLockStore"))
    assert store.redis is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "NPS_LOCK_STORE_URL" in errors[0].getMessage()


def test_memory_locks_with_sqlite_log_no_error(monkeypatch, caplog):
    monkeypatch.setenv("NPS_LOCK_STORE_URL", "")
    monkeypatch.setenv("NPS_DB_URL", "sqlite:////tmp/x.db")
    with caplog.at_level(logging.INFO, logger="storage.lock_store"):
        NpsLockStore()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- in memory ----------------------------------------------------------------------


def test_memory_locks_exclude_serve_in_order_and_leave_nothing(monkeypatch):
    monkeypatch.setenv("NPS_LOCK_STORE_URL", "")
    store = NpsLockStore()
    state = {"active": 0, "most": 0}
    served = []

    async def customer(name: int):
        async with store.lock("rest:mem"):
            state["active"] += 1
            state["most"] = max(state["most"], state["active"])
            served.append(name)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            state["active"] -= 1

    async def scenario():
        # started in this order, so they queue in this order
        await asyncio.gather(*(customer(i) for i in range(30)))
        other = asyncio.create_task(customer(99))
        async with store.lock("rest:other"):
            assert set(store.memory.locks) <= {"rest:other", "rest:mem"}
        await other

    asyncio.run(scenario())
    assert state["most"] == 1
    assert served[:30] == list(range(30))
    assert store.memory.locks == {}


def test_memory_lock_waiter_gives_up_and_cancelled_waiters_leave_nothing(monkeypatch):
    monkeypatch.setenv("NPS_LOCK_STORE_URL", "")
    monkeypatch.setenv("NPS_TURN_TIMEOUT", "1")
    monkeypatch.setenv("NPS_LOCK_LIFETIME", "2")
    store = NpsLockStore()
    store.max_wait = 0.05  # the waiter's patience, short for the test

    async def scenario():
        leave = asyncio.Event()

        async def holder():
            async with store.lock("rest:held"):
                await leave.wait()

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        with pytest.raises(LockError):
            async with store.lock("rest:held"):
                pass
        cancelled = asyncio.create_task(holder())
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        leave.set()
        await first

    asyncio.run(scenario())
    assert store.memory.locks == {}

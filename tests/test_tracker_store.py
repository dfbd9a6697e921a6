"""The tracker store never invents a conversation; a turn either stores or fails
(storage/tracker_store.py, storage/turn_guard.py; issue 8, audit F4 and F5).

On SQLite and on a fresh PostgreSQL database (tests/databases.py). Outages
are played by a TCP proxy between the store and PostgreSQL (tests/tcp_proxy.py),
never by touching the machine's server; SQLite's "database is locked" by a
second connection holding the write lock. The last test runs the real bot
(`rasa run`, marked `rasa`) on PostgreSQL through the proxy.
"""

from __future__ import annotations

import asyncio
import sqlite3
import urllib.error

import pytest
import sqlalchemy as sa
from rasa.core.agent import Agent
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from nps.settings import load_settings
from storage import erasure, turn_guard
from storage.tracker_store import (
    ConcurrentTurnError,
    NpsSQLTrackerStore,
    StoredMark,
    advisory_key,
    backoff_delays,
    current_session_count,
    sqlite_pragmas,
    stored_mark,
)
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database, stored_events
from tests.tcp_proxy import TcpProxy

DOMAIN_PATH = load_settings().domain_path


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(DOMAIN_PATH))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def guard():
    """The turn guard installed as in `rasa run`, removed afterwards."""
    was_installed = turn_guard.installed()
    turn_guard.install()
    yield
    if not was_installed:
        turn_guard.uninstall()


def run(coroutine):
    return asyncio.run(coroutine)


def stored_rows(url: str, sender: str) -> list[dict]:
    return stored_events(url, sender)


async def started(store: NpsSQLTrackerStore, sender: str, text: str = "cześć", mid: str = "m1"):
    """A conversation as Rasa begins one: session start, then a user message; saved."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text, {"name": "greet"}, message_id=mid))
    await store.save(tracker)
    return tracker


# --- small pure functions ---------------------------------------------------------


def test_advisory_key_is_a_stable_signed_64_bit_number_per_conversation():
    key = advisory_key("whatsapp:+48600100200")
    assert key == advisory_key("whatsapp:+48600100200")
    assert -(2**63) <= key < 2**63
    assert len({advisory_key(f"rest:{n}") for n in range(1000)}) == 1000
    # known value: the same in every process and every release
    assert advisory_key("") == int.from_bytes(bytes.fromhex("e3b0c44298fc1c14"), "big", signed=True)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        (0, []),
        (0.05, [0.05]),
        (0.3, [0.05, 0.1, 0.15]),
        (3.0, [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 0.45]),
    ],
)
def test_backoff_doubles_up_to_a_cap_within_the_budget(budget, expected):
    assert backoff_delays(budget) == pytest.approx(expected)


def test_current_session_is_counted_from_the_latest_session_start():
    assert current_session_count([]) == 0
    assert current_session_count([("user", 1.0), ("bot", 2.0)]) == 2
    rows = [
        ("session_started", 1.0),
        ("user", 2.0),
        ("action", 2.5),
        ("session_started", 3.0),
        ("action", 3.5),
        ("user", None),  # no timestamp: never in a session, as in Rasa's SQL
    ]
    assert current_session_count(rows) == 2


def test_sqlite_connections_use_wal_a_busy_timeout_and_normal_sync():
    assert sqlite_pragmas(2.5) == [
        "PRAGMA journal_mode=WAL",
        "PRAGMA busy_timeout=2500",
        "PRAGMA synchronous=NORMAL",
    ]


# --- the store on both databases --------------------------------------------------


def test_saved_events_are_rasas_rows_and_read_back_by_rasas_own_store(db_url, domain):
    store = NpsSQLTrackerStore(domain=domain, host=db_url)
    tracker = run(started(store, "rest:ania"))
    tracker.update(SlotSet("nps_score", 8))
    run(store.save(tracker))

    ours = run(store.retrieve("rest:ania"))
    rasas = run(SQLTrackerStore(domain=domain, host=db_url).retrieve("rest:ania"))
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
    assert ours.get_slot("nps_score") == 8
    rows = stored_rows(db_url, "rest:ania")
    assert [r["event"] for r in rows] == ["action", "session_started", "action", "user", "slot"]
    # a second save of the same tracker adds nothing
    run(store.save(ours))
    assert len(stored_rows(db_url, "rest:ania")) == 5


def test_a_save_after_another_turn_saved_fails_and_leaves_the_events_intact(db_url, domain):
    store = NpsSQLTrackerStore(domain=domain, host=db_url)
    run(started(store, "rest:bartek"))
    first = run(store.retrieve("rest:bartek"))
    second = run(store.retrieve("rest:bartek"))
    first.update(UserUttered("3", {"name": "give_score"}, message_id="m2"))
    first.update(SlotSet("nps_score", 3))
    run(store.save(first))
    before = stored_rows(db_url, "rest:bartek")

    second.update(UserUttered("9", {"name": "give_score"}, message_id="m3"))
    second.update(SlotSet("nps_score", 9))
    with pytest.raises(ConcurrentTurnError):
        run(store.save(second))

    assert stored_rows(db_url, "rest:bartek") == before
    assert run(store.retrieve("rest:bartek")).get_slot("nps_score") == 3


def test_two_new_trackers_of_one_conversation_the_second_save_fails(db_url, domain):
    store = NpsSQLTrackerStore(domain=domain, host=db_url)
    one = run(store.get_or_create_tracker("rest:new", append_action_listen=False))
    two = run(store.get_or_create_tracker("rest:new", append_action_listen=False))
    assert stored_mark(one) == stored_mark(two) == StoredMark(0, 0)
    one.update(UserUttered("cześć", message_id="a"))
    two.update(UserUttered("hej", message_id="b"))
    run(store.save(one))
    with pytest.raises(ConcurrentTurnError):
        run(store.save(two))
    assert [r.get("text") for r in stored_rows(db_url, "rest:new")] == ["cześć"]


def test_erasure_on_the_same_database_still_works(db_url, domain):
    store = NpsSQLTrackerStore(domain=domain, host=db_url)
    run(started(store, "rest:ela"))
    run(started(store, "rest:other"))
    read_before = run(store.retrieve("rest:ela"))

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        assert erasure.erase_tracker_events(conn, ["rest:ela"]) == 4
    engine.dispose()

    assert run(store.retrieve("rest:ela")) is None
    # a turn that read the conversation before the erasure does not put it back
    read_before.update(UserUttered("jeszcze", message_id="late"))
    with pytest.raises(ConcurrentTurnError):
        run(store.save(read_before))
    assert stored_rows(db_url, "rest:ela") == []
    # the person may start again; the other conversation is untouched
    run(started(store, "rest:ela", mid="again"))
    assert len(stored_rows(db_url, "rest:ela")) == 4
    assert len(stored_rows(db_url, "rest:other")) == 4


def test_a_retried_save_whose_first_commit_went_through_is_not_stored_twice(
    db_url, domain, monkeypatch
):
    """The connection drops after COMMIT reached the server: the retry finds
    its own events stored and succeeds, rather than failing the turn."""
    store = NpsSQLTrackerStore(domain=domain, host=db_url, retry_seconds=1)
    tracker = run(started(store, "rest:once"))
    tracker.update(UserUttered("10", {"name": "give_score"}, message_id="m2"))
    write = store._write
    calls = []

    def committed_then_lost(tracker_, events, attempt):
        calls.append(attempt)
        result = write(tracker_, events, attempt)
        if attempt == 0:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))
        return result

    monkeypatch.setattr(store, "_write", committed_then_lost)
    run(store.save(tracker))
    assert calls == [0, 1]
    assert [r.get("text") for r in stored_rows(db_url, "rest:once") if r["event"] == "user"] == [
        "cześć",
        "10",
    ]


# --- outages ----------------------------------------------------------------------


@pytest.fixture
def pg_proxy(tmp_path):
    """(proxied URL, proxy, direct URL) of a fresh PostgreSQL database."""
    with fresh_database("postgresql", tmp_path) as url:
        target = sa.engine.make_url(url)
        with TcpProxy(target.host, target.port or 5432) as proxy:
            proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
            yield proxied, proxy, url


def test_postgresql_cut_retrieve_and_save_raise_and_nothing_goes_to_memory(pg_proxy, domain, guard):
    proxied, proxy, direct = pg_proxy
    store = NpsSQLTrackerStore(domain=domain, host=proxied, retry_seconds=0.3)
    agent = Agent(tracker_store=store)
    assert agent.tracker_store is store  # not Rasa's FailSafeTrackerStore
    tracker = run(started(agent.tracker_store, "rest:cut"))

    proxy.cut()
    with pytest.raises(sa.exc.OperationalError):
        run(agent.tracker_store.retrieve("rest:cut"))
    tracker.update(UserUttered("kurier zgubił paczkę", message_id="m2"))
    with pytest.raises(sa.exc.OperationalError):
        run(agent.tracker_store.save(tracker))
    assert len(stored_rows(direct, "rest:cut")) == 4

    proxy.restore()
    run(agent.tracker_store.save(tracker))
    texts = [r.get("text") for r in stored_rows(direct, "rest:cut") if r["event"] == "user"]
    assert texts == ["cześć", "kurier zgubił paczkę"]


def test_postgresql_restarted_the_next_call_works_at_once(pg_proxy, domain):
    """No retry allowed: the pooled connection the restart killed is replaced
    by the pre-ping, not discovered by a failing turn."""
    proxied, proxy, _ = pg_proxy
    store = NpsSQLTrackerStore(domain=domain, host=proxied, retry_seconds=0)
    run(started(store, "rest:ping"))
    assert store.engine.pool.checkedin() >= 1
    proxy.cut()  # kills the pooled connection, as a restart does
    proxy.restore()
    assert len(run(store.retrieve("rest:ping")).events) == 3


def test_sqlite_locked_save_raises_then_works_once_the_lock_is_gone(tmp_path, domain, guard):
    path = tmp_path / "tracker.db"
    url = f"sqlite:///{path}"
    store = NpsSQLTrackerStore(domain=domain, host=url, busy_timeout=0.1, retry_seconds=0.3)
    agent = Agent(tracker_store=store)
    tracker = run(started(agent.tracker_store, "rest:locked"))
    tracker.update(UserUttered("7", message_id="m2"))

    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            run(agent.tracker_store.save(tracker))
        # readers are not blocked meanwhile (WAL)
        assert len(run(agent.tracker_store.retrieve("rest:locked")).events) == 3
    finally:
        other.execute("COMMIT")
        other.close()
    assert len(stored_rows(url, "rest:locked")) == 4

    run(agent.tracker_store.save(tracker))
    assert len(stored_rows(url, "rest:locked")) == 5


def test_sqlite_a_reader_in_a_read_transaction_does_not_block_a_save(tmp_path, domain):
    path = tmp_path / "tracker.db"
    # No retry and a short busy timeout: a save that had to wait would fail.
    store = NpsSQLTrackerStore(
        domain=domain, host=f"sqlite:///{path}", busy_timeout=0.2, retry_seconds=0
    )
    tracker = run(started(store, "rest:read"))
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4
        for n in range(3):
            tracker.update(UserUttered(str(n), message_id=f"r{n}"))
            run(store.save(tracker))
        # the reader's snapshot is unchanged while the saves went through
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 4
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 7
    finally:
        reader.close()


def test_rasa_falls_back_to_memory_only_without_the_guard(tmp_path, domain):
    """What the guard removes: Rasa's own wrapper answers "no conversation"."""
    store = NpsSQLTrackerStore(domain=domain, host=f"sqlite:///{tmp_path / 't.db'}")
    assert not turn_guard.installed()
    wrapped = Agent(tracker_store=store).tracker_store
    assert wrapped is not store
    store.engine.dispose()
    (tmp_path / "t.db").unlink()
    (tmp_path / "t.db").mkdir()  # no database can be opened there now
    assert run(wrapped.retrieve("rest:x")) is None
    with pytest.raises(sa.exc.OperationalError):
        run(store.retrieve("rest:x"))


# --- the real bot -----------------------------------------------------------------


def _bot_events(bot, sender):
    return bot.tracker(sender, include_events="ALL")["events"]


def _said_after_last_user(events) -> list[str]:
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [
        (e.get("metadata") or {}).get("utter_action") or e.get("text")
        for e in events[last_user + 1 :]
        if e["event"] == "bot" and e.get("text")
    ]


@pytest.mark.rasa
@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no trained model: run `make train`")
def test_a_database_error_during_a_turn_does_not_restart_the_survey(pg_proxy, tmp_path):
    proxied, proxy, direct = pg_proxy
    env = {"NPS_DB_RETRY_SECONDS": "0.5", "NPS_RESURVEY_DAYS": "30"}
    with BotProcess(db_url=proxied, env=env, log_dir=tmp_path) as bot:
        bot.send("restart", "cześć")
        bot.send("restart", "10")
        assert _said_after_last_user(_bot_events(bot, "restart")) == ["utter_ask_reason_promoter"]

        proxy.cut()
        with pytest.raises(urllib.error.HTTPError) as failed:
            bot.send("restart", "bardzo miła obsługa w sklepie")
        assert failed.value.code >= 500
        proxy.restore()

        bot.send("restart", "bardzo miła obsługa w sklepie")
        events = _bot_events(bot, "restart")
        assert _said_after_last_user(events) == ["utter_ask_valued_most"]
        assert [e["event"] for e in events].count("session_started") == 1
        texts = [e["text"] for e in events if e["event"] == "user"]
        assert texts == ["cześć", "10", "bardzo miła obsługa w sklepie"]
        slots = bot.slots("restart")
        assert slots["nps_score"] == 10
        assert slots["reason"] == "bardzo miła obsługa w sklepie"
    # what Rasa answered is what the database holds: the failed turn left nothing
    rows = stored_rows(direct, "rest:restart")
    assert [r.get("text") for r in rows if r["event"] == "user"] == texts

"""Fixtures: tracker stores on SQLite and PostgreSQL, and a shorthand for
writing conversations through analytics.rasa_events."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from analytics import rasa_events, tracker_source
from analytics.db import writable_engine

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
# Every test computes pseudonyms with this key, never the developer's var/pseudonym.key.
TEST_PSEUDONYM_KEY = "analytics-tests-pseudonym-key-0123456789"


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    monkeypatch.setenv("NPS_PSEUDONYM_KEY", TEST_PSEUDONYM_KEY)


def person(sender_id: str) -> str:
    """The projection's pseudonym of a sender id under the tests' key."""
    from analytics.pseudonym import pseudonym

    return pseudonym(sender_id, TEST_PSEUDONYM_KEY)


def _pg_available() -> tuple[bool, str]:
    try:
        engine = sa.create_engine(PG_BASE, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True, ""
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        reason = str(exc).splitlines()[0]
    if "does not exist" in reason:
        # The server answers but has no `test` database yet: make it.
        try:
            admin = sa.create_engine(
                PG_BASE.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as conn:
                conn.execute(sa.text("CREATE DATABASE test"))
            admin.dispose()
            return True, ""
        except Exception as exc:  # noqa: BLE001 (reported as the skip reason)
            reason = str(exc).splitlines()[0]
    return False, reason


@pytest.fixture(scope="session")
def pg_admin():
    ok, why = _pg_available()
    if not ok:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (database test) is unreachable: {why}")
    engine = sa.create_engine(PG_BASE)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_schema(pg_admin):
    """A fresh schema with a unique name; its URL puts it first on the
    search_path, the way Rasa's POSTGRESQL_SCHEMA does. Dropped afterwards."""
    name = "nps_test_" + uuid.uuid4().hex[:12]
    with pg_admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(name))
    yield name, f"{PG_BASE}?options=-csearch_path%3D{name}"
    with pg_admin.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request, tmp_path):
    """A tracker store URL on each backend (events table not yet created)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    name, url = request.getfixturevalue("pg_schema")
    return url


@pytest.fixture
def projection_target(request, tmp_path, tracker_url):
    """(projection URL, schema): on PostgreSQL its own unique schema in the
    same database, dropped afterwards; on SQLite a separate file."""
    if tracker_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'analytics.db'}", None
        return
    pg_admin = request.getfixturevalue("pg_admin")
    name = "nps_proj_" + uuid.uuid4().hex[:12]
    yield PG_BASE, name
    with pg_admin.begin() as conn:
        conn.execute(sa.schema.DropSchema(name, cascade=True, if_exists=True))


class Conversation(rasa_events.EventWriter):
    """One sender's events, written by analytics.rasa_events (as Rasa 3.6
    stores them), in a chainable shorthand: every event 10 s after the last."""

    def __init__(self, sender_id: str, channel: str = "rest", start: float = 1_700_000_000.0):
        super().__init__(sender_id, channel, start)

    def session(self):
        self.action("action_session_start")
        return self.session_started()

    def user(self, text, intent="feedback"):
        return super().user(text, intent, confidence=0.9)

    def bot(self, text, response=None):
        return super().bot(text, response)

    def form(self, name="survey_form"):
        return self.active_loop(name)


def write(url: str, *conversations: Conversation) -> None:
    engine = writable_engine(url)
    tracker_source.create_events_table(engine)
    with engine.begin() as conn:
        for c in conversations:
            rasa_events.write(conn, c.rows)
    engine.dispose()

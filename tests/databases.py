"""Throw-away tracker-store databases for tests: a SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any driver error means: no server to test on
        return str(error).splitlines()[0]


@contextlib.contextmanager
def fresh_database(kind: str, tmp_dir: Path):
    """Yield a SQLAlchemy URL of an empty database; drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir / 'tracker.db'}"
        return
    reason = postgres_reachable()
    if reason:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {reason}")
    name = f"nps_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))  # name is ours, not input
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def stored_slots(db_url: str, sender: str) -> dict:
    """The last value of each slot for a sender, read straight from the events table."""
    import json

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT data FROM events WHERE sender_id = :s AND type_name = 'slot' ORDER BY id"
                ),
                {"s": sender},
            ).fetchall()
    finally:
        engine.dispose()
    slots = {}
    for (data,) in rows:
        event = json.loads(data)
        slots[event["name"]] = event["value"]
    return slots


def stored_events(db_url: str, sender: str) -> list[dict]:
    """Every event of a sender, in order, read straight from the events table."""
    import json

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
            ).fetchall()
    finally:
        engine.dispose()
    return [json.loads(data) for (data,) in rows]


def redis_or_skip(url: str):
    """A client of the Redis at `url`, or skip the test saying it is not reachable."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001 - no server: nothing to test against
        pytest.skip(f"Redis is not reachable at {url}: {error}")
    return client

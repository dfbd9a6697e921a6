"""Engines for the tracker store (read only) and the projection database.

Engines are created on demand, never at import time. SQLite tracker stores
are opened read-only: a second writer on Rasa's SQLite file could lock Rasa
out and lose an answer, and read-only mode makes that impossible.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url


class AnalyticsError(Exception):
    """A problem the user can fix (bad URL, missing table...), reported in one
    line without a traceback."""


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise AnalyticsError(f"not a database URL: {url!r} ({exc})") from None


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_postgresql(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def _check_backend(url: URL) -> None:
    if not (is_sqlite(url) or is_postgresql(url)):
        raise AnalyticsError(
            f"unsupported database {url.get_backend_name()!r}: use sqlite:///file.db or postgresql://..."
        )


def tracker_engine(url: str) -> Engine:
    """Engine on Rasa's tracker store. SQLite: read-only URI connection, and
    a missing file is an error (sqlite would otherwise create an empty one)."""
    parsed = parse_url(url)
    _check_backend(parsed)
    if is_sqlite(parsed):
        path = parsed.database
        if not path or path == ":memory:":
            raise AnalyticsError(
                "the tracker store must be a SQLite file, not an in-memory database"
            )
        if not Path(path).is_file():
            raise AnalyticsError(f"tracker store not found: no SQLite file at {path}")
        uri = f"file:{Path(path).resolve().as_posix()}?mode=ro"
        # Each read is its own short transaction (see tracker_source), so Rasa
        # is never kept waiting for long behind our shared lock.
        return sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False),
        )
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def writable_engine(url: str) -> Engine:
    """Engine on a database analytics may write: the projection, or a
    tracker store the synthetic generator fills."""
    parsed = parse_url(url)
    _check_backend(parsed)
    if is_sqlite(parsed):
        path = parsed.database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return sa.create_engine(parsed, connect_args={"timeout": 30})
        # One shared in-memory database for the whole engine (tests).
        return sa.create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=sa.pool.StaticPool
        )
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def fetch_tuples(engine: Engine, query) -> list[tuple]:
    """The rows of `query` as the DBAPI's own tuples: SQLAlchemy's Row
    objects cost more than the query itself at millions of rows. For columns
    that need no type conversion (the caller converts the rest)."""
    with engine.connect() as conn:
        result = conn.execute(query)
        cursor = getattr(result, "cursor", None)
        return cursor.fetchall() if cursor is not None else [tuple(r) for r in result]

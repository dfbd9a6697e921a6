"""How the bot's replies are doing on their way out: the outbox table
(storage.outbox_schema) in the tracker store, counted for the dashboard.

A reply that is still pending, was given up (failed) or may not have arrived
(unknown) is a customer whose survey may have stalled; the overview shows
these counts and the age of the oldest pending part. Read with SQLAlchemy
Core, without Rasa: the table is described in ``storage``, which both
environments share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from storage.outbox_schema import FAILED, OPEN_STATES, SENT, TABLE, UNKNOWN, outbox_table


@dataclass(frozen=True)
class OutboxStatus:
    pending: int = 0  # waiting for a first try, a retry, or being sent
    failed: int = 0  # refused for good, too old, or reported failed later
    unknown: int = 0  # sent without an answer: may not have arrived
    sent: int = 0
    oldest_pending_seconds: float | None = None
    exists: bool = False  # False until the bot first sent through the outbox


def summarise(counts: dict[str, int], oldest_open: float | None, now: float) -> OutboxStatus:
    """The status from counts per state and the creation time of the oldest
    unsettled row (pure)."""
    return OutboxStatus(
        pending=sum(counts.get(state, 0) for state in OPEN_STATES),
        failed=counts.get(FAILED, 0),
        unknown=counts.get(UNKNOWN, 0),
        sent=counts.get(SENT, 0),
        oldest_pending_seconds=None if oldest_open is None else max(0.0, now - oldest_open),
        exists=True,
    )


def read_status(engine: sa.engine.Engine, now: float | None = None) -> OutboxStatus:
    """The outbox's status in this tracker store (empty when it has no outbox)."""
    if not sa.inspect(engine).has_table(TABLE):
        return OutboxStatus()
    t = outbox_table(sa.MetaData())
    with engine.connect() as conn:
        counts = {
            state: n
            for state, n in conn.execute(sa.select(t.c.state, sa.func.count()).group_by(t.c.state))
        }
        oldest = conn.execute(
            sa.select(sa.func.min(t.c.created_at)).where(t.c.state.in_(OPEN_STATES))
        ).scalar()
    return summarise(counts, oldest, time.time() if now is None else now)


def load(db_url: str, now: float | None = None) -> OutboxStatus:
    """``read_status`` of the tracker store at ``db_url`` (read-only engine)."""
    from analytics.db import tracker_engine

    engine = tracker_engine(db_url)
    try:
        return read_status(engine, now)
    finally:
        engine.dispose()

"""Reading Rasa's SQL tracker store (table `events`), read only.

The table definition mirrors `SQLTrackerStore.SQLEvent` of Rasa 3.6
(rasa/core/tracker_store.py) column by column, so the synthetic generator
writes exactly what Rasa writes; analytics never imports Rasa itself.

Rasa fills `action_name` with the event's `name` field, which for `slot`
events is the slot name and for `active_loop` events the form name. That
lets us pick the survey slots in SQL and skip the rest of the (large) event
stream without parsing its JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics.db import AnalyticsError

metadata = sa.MetaData()

# Rasa creates the sequence `events_seq` (optional=True: PostgreSQL then
# uses the SERIAL column's own `events_id_seq`).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, sa.Sequence("events_seq", optional=True), primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)

# Slots of the data contract (BRIEF section 3) plus the extra survey slots.
SURVEY_SLOTS = (
    "nps_score",
    "nps_group",
    "reason",
    "drivers",
    "why_chain",
    "known_issue",
    "issue_resolved",
    "nps_score_after",
    "contact_consent",
    "touchpoint",
    "improvement",
    "valued_most",
    "extra_comment",
    "survey_outcome",
)
# Event types that change what a survey looks like. Boundaries:
# session_started and restart; reset_slots clears the slots like Rasa does.
BOUNDARY_TYPES = ("session_started", "restart")
PLAIN_TYPES = ("user", "active_loop", "reset_slots") + BOUNDARY_TYPES


@dataclass(frozen=True)
class RawEvent:
    id: int
    sender_id: str
    type_name: str
    timestamp: Optional[float]
    action_name: Optional[str]
    data: Optional[str]  # JSON text, parsed only where needed


def _relevant():
    return sa.or_(
        events.c.type_name.in_(PLAIN_TYPES),
        sa.and_(events.c.type_name == "slot", events.c.action_name.in_(SURVEY_SLOTS)),
    )


def _columns():
    # `data` is only needed for user and slot events; the rest is in columns.
    data = sa.case(
        (events.c.type_name.in_(("user", "slot")), events.c.data),
        else_=sa.null(),
    ).label("data")
    return [events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.action_name, data]


def check_events_table(engine: Engine) -> None:
    """Fail with a clear message when the database has no Rasa events table."""
    try:
        with engine.connect() as conn:
            has = sa.inspect(conn).has_table("events")
    except sa.exc.OperationalError as exc:
        raise AnalyticsError(f"cannot read the tracker store: {_first_line(exc)}") from None
    except sa.exc.DBAPIError as exc:
        raise AnalyticsError(f"cannot read the tracker store: {_first_line(exc)}") from None
    if not has:
        raise AnalyticsError("the tracker store has no `events` table (is this Rasa's SQL tracker store?)")


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def event_bounds(engine: Engine) -> tuple[Optional[int], Optional[int]]:
    """(first id, last id) of the events table, (None, None) when empty."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.min(events.c.id), sa.func.max(events.c.id))).one()
    return row[0], row[1]


def source_fingerprint(engine: Engine, first_id: Optional[int]) -> str:
    """Identity of the store: its URL (no password) and its first event, so a
    projection notices when it is pointed at another or a recreated store."""
    where = engine.url.render_as_string(hide_password=True)
    if engine.url.get_backend_name() == "sqlite":
        # Read-only engines are built from a creator; identify the file instead.
        with engine.connect() as conn:
            files = conn.exec_driver_sql("PRAGMA database_list").fetchall()
        where = "sqlite:" + ";".join(str(f[2]) for f in files if f[1] == "main")
    if first_id is None:
        return where + "#empty"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(events.c.sender_id, events.c.timestamp).where(events.c.id == first_id)
        ).one()
    return f"{where}#{first_id}:{row[0]}:{row[1]!r}"


def iter_events(engine: Engine, after_id: int, upto_id: int, chunk_ids: int = 100_000) -> Iterator[RawEvent]:
    """Relevant events with after_id < id <= upto_id, in id order.

    Read in id ranges, each its own short query and transaction, so a SQLite
    tracker store is never held under our shared lock for long."""
    start = after_id
    while start < upto_id:
        end = min(start + chunk_ids, upto_id)
        query = (
            sa.select(*_columns())
            .where(events.c.id > start, events.c.id <= end, _relevant())
            .order_by(events.c.id)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        for r in rows:
            yield RawEvent(r[0], r[1], r[2], r[3], r[4], r[5])
        start = end


def changed_senders(engine: Engine, after_id: int, upto_id: int) -> list[str]:
    """Senders with any event in (after_id, upto_id], sorted."""
    query = (
        sa.select(events.c.sender_id)
        .where(events.c.id > after_id, events.c.id <= upto_id)
        .distinct()
    )
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(query))


def iter_sender_events(
    engine: Engine, senders: Sequence[str], upto_id: int, batch: int = 500
) -> Iterator[RawEvent]:
    """All relevant events of these senders up to upto_id, grouped by sender
    and in id order within a sender (uses Rasa's index on sender_id)."""
    for i in range(0, len(senders), batch):
        part = list(senders[i : i + batch])
        query = (
            sa.select(*_columns())
            .where(events.c.sender_id.in_(part), events.c.id <= upto_id, _relevant())
            .order_by(events.c.sender_id, events.c.id)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        for r in rows:
            yield RawEvent(r[0], r[1], r[2], r[3], r[4], r[5])


def latest_messages(engine: Engine, limit: int = 50) -> list[dict]:
    """The newest user and bot messages, for the live view."""
    import json

    query = (
        sa.select(events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data)
        .where(events.c.type_name.in_(("user", "bot")))
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    out = []
    for r in rows:
        try:
            data = json.loads(r[4] or "{}")
        except ValueError:
            data = {}
        out.append(
            {
                "id": r[0],
                "sender_id": r[1],
                "who": "klient" if r[2] == "user" else "bot",
                "timestamp": r[3],
                "text": data.get("text") if isinstance(data, dict) else None,
                "channel": data.get("input_channel") if isinstance(data, dict) else None,
            }
        )
    return out


def create_events_table(engine: Engine) -> None:
    """Create Rasa's events table if it does not exist (generator, tests)."""
    metadata.create_all(engine, tables=[events], checkfirst=True)


def insert_events(conn, rows: Iterable[dict]) -> None:
    rows = list(rows)
    if rows:
        conn.execute(events.insert(), rows)

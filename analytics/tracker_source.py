"""Reading Rasa's SQL tracker store (table `events`), read only.

The table definition mirrors `SQLTrackerStore.SQLEvent` of Rasa 3.6
(rasa/core/tracker_store.py) column by column, so analytics.rasa_events
writes rows as Rasa writes them; analytics never imports Rasa itself.

Rasa fills `action_name` with the event's `name` field, which for `slot`
events is the slot name and for `active_loop` events the form name. That
lets us pick the survey slots in SQL and skip the rest of the (large) event
stream without parsing its JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from analytics.db import AnalyticsError, fetch_tuples
from nps.db_error import describe
from storage.tracker_schema import events_table

metadata = sa.MetaData()

# Rasa creates the sequence `events_seq` (optional=True: PostgreSQL then
# uses the SERIAL column's own `events_id_seq`).
events = events_table(metadata)

# Slots of the data contract (README, "The data it writes") plus the extra
# survey slots.
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
    # How the why-chain ended (nps.why_stops); why_driver is the bot's
    # internal slot naming the driver the last "why?" probed.
    "why_depth",
    "why_stop",
    "why_driver",
    # An employee's mirror survey (analytics.segments, "Employees' mirror
    # surveys"): who answered, and what they believe customers say.
    "role",
    "survey_wave",
    "predicted_score",
    "predicted_praise",
    "predicted_complaint",
    "employee_drivers",
    "proposed_fix",
)
# Rasa's own slot naming the question the form asks: read only to know which
# driver the first "why?" probed (analytics.segments).
REQUESTED_SLOT = "requested_slot"
# Event types that change what a survey looks like. Boundaries:
# session_started and restart; reset_slots clears the slots like Rasa does.
BOUNDARY_TYPES = ("session_started", "restart")
PLAIN_TYPES = ("user", "active_loop", "reset_slots") + BOUNDARY_TYPES


class RawEvent(NamedTuple):
    """One relevant event. Readers yield plain tuples in this order (millions
    pass through a rebuild); the names document the positions."""

    id: int
    sender_id: str
    type_name: str
    timestamp: float | None
    action_name: str | None  # slot name for slot events, form name for active_loop
    channel: str | None  # input_channel, user events only
    value: Any  # slot value (decoded by decode_value), slot events only
    value_type: str | None  # SQLite's json_type of the value; None on PostgreSQL


def _relevant():
    return sa.or_(
        events.c.type_name.in_(PLAIN_TYPES),
        sa.and_(
            events.c.type_name == "slot",
            events.c.action_name.in_((*SURVEY_SLOTS, REQUESTED_SLOT)),
        ),
    )


def _columns(dialect: str) -> list:
    """The JSON is taken apart by the database, in C: user events carry
    their whole NLU parse (kilobytes), of which we need one field."""
    is_user = events.c.type_name == "user"
    is_slot = events.c.type_name == "slot"
    if dialect == "postgresql":
        # PostgreSQL refuses to read a JSON document holding an escaped NUL
        # (a customer can type one), which would fail the whole query: the
        # escape becomes U+FFFD, still six characters, so the JSON stays valid.
        clean = sa.func.replace(events.c.data, "\\u0000", "\\ufffd")
        doc = sa.cast(clean, postgresql.JSON)
        channel = doc["input_channel"].astext
        value = doc["value"]  # psycopg2 turns json into Python values
        kind = sa.null()
        valid = sa.true()
    else:
        channel = sa.func.json_extract(events.c.data, "$.input_channel")
        value = sa.func.json_extract(events.c.data, "$.value")
        kind = sa.func.json_type(events.c.data, "$.value")
        # json_extract raises on malformed JSON; such an event is skipped.
        valid = sa.func.json_valid(events.c.data) == 1
    return [
        events.c.id,
        events.c.sender_id,
        events.c.type_name,
        events.c.timestamp,
        events.c.action_name,
        sa.case((sa.and_(is_user, valid), channel), else_=sa.null()).label("channel"),
        sa.case((sa.and_(is_slot, valid), value), else_=sa.null()).label("value"),
        sa.case((sa.and_(is_slot, valid), kind), else_=sa.null()).label("value_type"),
    ]


def decode_value(value: Any, value_type: str | None) -> Any:
    """SQLite's json_extract gives SQL values: booleans as 1/0 and lists as
    JSON text; json_type says which it was."""
    if value_type is None:
        return value
    if value_type == "true":
        return True
    if value_type == "false":
        return False
    if value_type in ("array", "object"):
        return json.loads(value)
    return value


def check_events_table(engine: Engine) -> None:
    """Fail with a clear message when the database has no Rasa events table."""
    try:
        with engine.connect() as conn:
            has = sa.inspect(conn).has_table("events")
    except sa.exc.DBAPIError as exc:  # OperationalError included
        raise AnalyticsError(f"cannot read the tracker store: {describe(exc)}") from None
    if not has:
        raise AnalyticsError(
            "the tracker store has no `events` table (is this Rasa's SQL tracker store?)"
        )


def event_bounds(engine: Engine) -> tuple[int | None, int | None]:
    """(first id, last id) of the events table, (None, None) when empty."""
    # Two queries on purpose: each alone is answered from the primary key
    # index at once, while min() and max() together make SQLite scan the table.
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(events.c.id))).scalar()
        last = conn.execute(sa.select(sa.func.max(events.c.id))).scalar()
    return first, last


def source_fingerprint(engine: Engine, first_id: int | None) -> str:
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


def iter_events(
    engine: Engine, after_id: int, upto_id: int, chunk_ids: int = 100_000
) -> Iterator[tuple]:
    """Relevant events with after_id < id <= upto_id, in id order, as
    RawEvent-ordered tuples.

    Read in id ranges, each its own short query and transaction, so a SQLite
    tracker store is never held under our shared lock for long."""
    columns = _columns(engine.dialect.name)
    start = after_id
    while start < upto_id:
        end = min(start + chunk_ids, upto_id)
        query = (
            sa.select(*columns)
            .where(events.c.id > start, events.c.id <= end, _relevant())
            .order_by(events.c.id)
        )
        yield from fetch_tuples(engine, query)
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
) -> Iterator[tuple]:
    """All relevant events of these senders up to upto_id, grouped by sender
    and in id order within a sender (uses Rasa's index on sender_id)."""
    columns = _columns(engine.dialect.name)
    for i in range(0, len(senders), batch):
        part = list(senders[i : i + batch])
        query = (
            sa.select(*columns)
            .where(events.c.sender_id.in_(part), events.c.id <= upto_id, _relevant())
            .order_by(events.c.sender_id, events.c.id)
        )
        yield from fetch_tuples(engine, query)


def latest_messages(engine: Engine, limit: int = 50) -> list[dict]:
    """The newest user and bot messages, for the live view."""
    query = (
        sa.select(
            events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data
        )
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

"""Projection of the tracker store into tidy tables, in analytics' own database.

One row per response (survey), per driver mention, per why-answer and per
known-issue offer. The tracker store stays the only source of truth: this
database can be deleted and rebuilt at any time with the same result.

How a response is cut out of the event stream
- A sender's events are split into segments at `session_started` and
  `restart` events. A segment that contains `active_loop` {name:
  survey_form} is a response; its id is the id of the segment's first event.
- Slot events take the last value set in the segment. Slot events between a
  boundary and the segment's first user message are ignored: that is where
  Rasa's session start carries slots over (or a custom session start resets
  them), and they belong to no answer of this survey.
- Channel and time come from the segment's first user message.

Incremental update and rebuild share one code path: a response depends only
on its sender's events in id order, so the incremental update finds the
senders with new events and recomputes all their segments from their full
event history (Rasa indexes sender_id). Rebuild streams every event in id
order through the same segment builder. Both therefore give identical rows.
On PostgreSQL a transaction with a lower event id can commit after one with
a higher id; re-examining the senders of the last LOOKBACK_IDS ids catches
such late events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics import tracker_source
from analytics.db import AnalyticsError, is_postgresql
from analytics.stats import nps_group

SCHEMA_VERSION = "1"
LOOKBACK_IDS = 1000
SURVEY_FORM = "survey_form"

metadata = sa.MetaData()

responses = sa.Table(
    "responses",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("touchpoint", sa.String(255)),
    sa.Column("started_at", sa.Float, index=True),
    sa.Column("last_event_at", sa.Float),
    sa.Column("last_event_id", sa.BigInteger),
    # A later session start or restart of the same sender ended this segment.
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("nps_score", sa.Integer),
    sa.Column("nps_group", sa.String(16)),
    sa.Column("reason", sa.Text),
    sa.Column("improvement", sa.Text),
    sa.Column("valued_most", sa.Text),
    sa.Column("extra_comment", sa.Text),
    sa.Column("known_issue", sa.String(255)),
    sa.Column("issue_resolved", sa.Boolean),
    sa.Column("nps_score_after", sa.Integer),
    sa.Column("contact_consent", sa.Boolean),
    sa.Column("survey_outcome", sa.String(32)),
)

driver_mentions = sa.Table(
    "driver_mentions",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("driver", sa.String(255), nullable=False, index=True),
    sa.Column("polarity", sa.String(8)),
)

why_answers = sa.Table(
    "why_answers",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("answer", sa.Text),
)

known_issue_offers = sa.Table(
    "known_issue_offers",
    metadata,
    sa.Column("response_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("known_issue", sa.String(255), nullable=False),
    sa.Column("issue_resolved", sa.Boolean),
    sa.Column("score_before", sa.Integer),
    sa.Column("score_after", sa.Integer),
)

# Comments left instead of a survey (the person was surveyed recently).
extra_comments = sa.Table(
    "extra_comments",
    metadata,
    sa.Column("segment_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(64)),
    sa.Column("at", sa.Float),
    sa.Column("comment", sa.Text),
)

projection_state = sa.Table(
    "projection_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text),
)

CHILD_TABLES = (driver_mentions, why_answers, known_issue_offers)
DATA_TABLES = (responses,) + CHILD_TABLES + (extra_comments,)


# --- slot values -----------------------------------------------------------


def _score(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            return None
        value = int(value)
    if isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value <= 10:
        return int(value)
    return None


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    return value or None


def _text_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [t for t in (_text(v) for v in value) if t is not None]


def _drivers(value) -> list[tuple[str, str | None]]:
    """["staff:pos", "price:neg"] -> [("staff", "pos"), ("price", "neg")],
    each (driver, polarity) once, in the order first named."""
    out: list[tuple[str, str | None]] = []
    for item in _text_list(value):
        driver, sep, polarity = item.rpartition(":")
        if not sep:
            driver, polarity = item, None
        elif polarity not in ("pos", "neg"):
            driver, polarity = item, None
        key = (driver.strip(), polarity)
        if key[0] and key not in out:
            out.append(key)
    return out


# --- segments -------------------------------------------------------------


@dataclass(slots=True)
class Segment:
    segment_id: int
    sender_id: str
    first_event_at: float | None
    surveyed: bool = False
    seen_user: bool = False
    channel: str | None = None
    started_at: float | None = None
    last_event_at: float | None = None
    last_event_id: int = 0
    closed: bool = False
    slots: dict = field(default_factory=dict)
    offers: list = field(default_factory=list)

    def set_slot(self, name: str, value: Any) -> None:
        self.slots[name] = value
        if name == "known_issue":
            issue = _text(value)
            if issue is not None and (not self.offers or self.offers[-1]["known_issue"] != issue):
                self.offers.append(
                    {
                        "known_issue": issue,
                        "issue_resolved": None,
                        "score_after": None,
                        "score_before": _score(self.slots.get("nps_score")),
                    }
                )
        elif name == "issue_resolved" and self.offers:
            self.offers[-1]["issue_resolved"] = _flag(value)
        elif name == "nps_score_after" and self.offers:
            self.offers[-1]["score_after"] = _score(value)


RESPONSE_COLUMNS = tuple(c.name for c in responses.columns)


@dataclass
class Rows:
    """Projection rows produced from some events, as tuples in each table's
    column order (cheap to build, and inserted as they are)."""

    responses: list = field(default_factory=list)
    driver_mentions: list = field(default_factory=list)
    why_answers: list = field(default_factory=list)
    known_issue_offers: list = field(default_factory=list)
    extra_comments: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.responses) + len(self.extra_comments)

    def add(self, seg: Segment) -> None:
        slots = seg.slots
        started = seg.started_at if seg.started_at is not None else seg.first_event_at
        if not seg.surveyed:
            comment = _text(slots.get("extra_comment"))
            if comment is not None:
                self.extra_comments.append(
                    (seg.segment_id, seg.sender_id, seg.channel, started, comment)
                )
            return
        rid = seg.segment_id
        score = _score(slots.get("nps_score"))
        self.responses.append(
            (
                rid,
                seg.sender_id,
                seg.channel,
                _text(slots.get("touchpoint")),
                started,
                seg.last_event_at,
                seg.last_event_id,
                seg.closed,
                score,
                # Derived from the score, not read from the nps_group slot, so
                # the group can never disagree with the score that NPS uses.
                nps_group(score),
                _text(slots.get("reason")),
                _text(slots.get("improvement")),
                _text(slots.get("valued_most")),
                _text(slots.get("extra_comment")),
                _text(slots.get("known_issue")),
                _flag(slots.get("issue_resolved")),
                _score(slots.get("nps_score_after")),
                _flag(slots.get("contact_consent")),
                _text(slots.get("survey_outcome")),
            )
        )
        for pos, (driver, polarity) in enumerate(_drivers(slots.get("drivers"))):
            self.driver_mentions.append((rid, pos, driver, polarity))
        for pos, answer in enumerate(_text_list(slots.get("why_chain"))):
            self.why_answers.append((rid, pos, answer))
        for pos, offer in enumerate(seg.offers):
            self.known_issue_offers.append(
                (
                    rid,
                    pos,
                    offer["known_issue"],
                    offer["issue_resolved"],
                    offer["score_before"],
                    offer["score_after"],
                )
            )


def build_segments(events_in_order: Iterable[tuple], emit: Rows) -> None:
    """Feed events (RawEvent-ordered tuples, in id order per sender) through
    one open segment per sender; a segment is added to `emit` when its
    sender's next boundary arrives, the open ones at the end."""
    open_segments: dict[str, Segment] = {}
    boundaries = tracker_source.BOUNDARY_TYPES
    decode = tracker_source.decode_value
    for event_id, sender, kind, ts, name, channel, value, value_type in events_in_order:
        seg = open_segments.get(sender)
        if kind in boundaries:
            if seg is not None:
                seg.closed = True
                emit.add(seg)
            open_segments[sender] = Segment(
                event_id, sender, ts, last_event_at=ts, last_event_id=event_id
            )
            continue
        if seg is None:
            # The sender's history starts without a session start (older
            # trackers, or a store trimmed by hand): the first event opens it.
            seg = open_segments[sender] = Segment(event_id, sender, ts)
        seg.last_event_id = event_id
        if ts is not None:
            seg.last_event_at = ts
        if kind == "slot":
            if seg.seen_user:
                seg.set_slot(name, decode(value, value_type))
        elif kind == "user":
            if not seg.seen_user:
                seg.seen_user = True
                seg.started_at = ts
                seg.channel = _text(channel)
        elif kind == "active_loop":
            if name == SURVEY_FORM:
                seg.surveyed = True
        elif kind == "reset_slots":
            seg.slots.clear()
            seg.offers.clear()
    for seg in open_segments.values():
        emit.add(seg)


# --- the projection database ----------------------------------------------


@dataclass(frozen=True)
class UpdateResult:
    mode: str  # "rebuild", "incremental" or "unchanged"
    last_event_id: int
    senders: int
    responses: int
    seconds: float


class Projection:
    """The projection database. On PostgreSQL its tables live in their own
    schema (NPS_ANALYTICS_SCHEMA), mapped with schema_translate_map so the
    same table objects serve SQLite and PostgreSQL."""

    def __init__(self, engine: Engine, schema: str | None = "nps_analytics"):
        self.engine = engine
        self.schema = schema if is_postgresql(engine.url) else None
        if self.schema:
            self.engine = engine.execution_options(schema_translate_map={None: self.schema})
        self._ready = False

    def ensure_tables(self) -> None:
        if self._ready:
            return
        with self.engine.begin() as conn:
            if self.schema:
                conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
            metadata.create_all(conn, checkfirst=True)
        self._ready = True

    def drop(self) -> None:
        """Remove the projection entirely (tests, or a full reset)."""
        if self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(self.schema, cascade=True, if_exists=True))
        else:
            metadata.drop_all(self.engine, checkfirst=True)
        self._ready = False

    def state(self, conn: Connection) -> dict:
        return {
            k: v
            for k, v in conn.execute(sa.select(projection_state.c.key, projection_state.c.value))
        }

    def _set_state(self, conn: Connection, values: dict) -> None:
        conn.execute(projection_state.delete().where(projection_state.c.key.in_(list(values))))
        conn.execute(
            projection_state.insert(), [{"key": k, "value": str(v)} for k, v in values.items()]
        )

    def update(self, tracker: Engine, rebuild: bool = False) -> UpdateResult:
        """Bring the projection up to date with the tracker store: an
        incremental update by event id, or a rebuild when asked, when the
        projection is new or belongs to another store, or when the store
        went backwards (recreated)."""
        started = time.perf_counter()
        tracker_source.check_events_table(tracker)
        self.ensure_tables()
        first_id, last_id = tracker_source.event_bounds(tracker)
        last_id = last_id or 0
        fingerprint = tracker_source.source_fingerprint(tracker, first_id)
        with self.engine.connect() as conn:
            state = self.state(conn)
        known_id = int(state.get("last_event_id", "-1"))
        fresh = (
            rebuild
            or state.get("schema_version") != SCHEMA_VERSION
            or state.get("source") != fingerprint
            or known_id < 0
            or last_id < known_id
        )
        if fresh:
            rows = Rows()
            build_segments(tracker_source.iter_events(tracker, 0, last_id), rows)
            with self.engine.begin() as conn:
                self._lock(conn)
                for table in DATA_TABLES:
                    conn.execute(table.delete())
                self._insert(conn, rows)
                self._set_state(
                    conn,
                    {
                        "last_event_id": last_id,
                        "source": fingerprint,
                        "schema_version": SCHEMA_VERSION,
                        "updated_at": time.time(),
                    },
                )
                if self.schema:
                    # Fresh statistics, so later incremental updates find a
                    # sender's rows through the indexes, not by scanning.
                    for table in DATA_TABLES:
                        conn.execute(sa.text(f"ANALYZE {self._qualified(conn, table)}"))
            return UpdateResult(
                "rebuild",
                last_id,
                len({r[1] for r in rows.responses}),
                len(rows.responses),
                time.perf_counter() - started,
            )
        if last_id == known_id:
            return UpdateResult("unchanged", last_id, 0, 0, time.perf_counter() - started)
        senders = tracker_source.changed_senders(tracker, max(0, known_id - LOOKBACK_IDS), last_id)
        rows = Rows()
        build_segments(tracker_source.iter_sender_events(tracker, senders, last_id), rows)
        with self.engine.begin() as conn:
            self._lock(conn)
            self._delete_senders(conn, senders)
            self._insert(conn, rows)
            self._set_state(conn, {"last_event_id": last_id, "updated_at": time.time()})
        return UpdateResult(
            "incremental", last_id, len(senders), len(rows.responses), time.perf_counter() - started
        )

    def forget(self, senders: list[str]) -> None:
        """Remove these senders' rows (a person's data erased on request).
        The erasure in the tracker store itself is the bot's job; without
        this, the projection would keep the rows until its next rebuild."""
        self.ensure_tables()
        with self.engine.begin() as conn:
            self._lock(conn)
            self._delete_senders(conn, sorted(set(senders)))

    def _lock(self, conn: Connection) -> None:
        """One writer at a time (a dashboard per browser tab, the CLI...).
        Without it two PostgreSQL transactions could both delete a sender's
        rows and both insert them again. SQLite serialises writers itself."""
        if self.schema:
            conn.execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"nps_analytics:{self.schema}"))
                )
            )

    def _delete_senders(self, conn: Connection, senders: list[str], batch: int = 500) -> None:
        for i in range(0, len(senders), batch):
            part = senders[i : i + batch]
            ids = (
                sa.select(responses.c.response_id)
                .where(responses.c.sender_id.in_(part))
                .scalar_subquery()
            )
            for table in CHILD_TABLES:
                conn.execute(table.delete().where(table.c.response_id.in_(ids)))
            conn.execute(responses.delete().where(responses.c.sender_id.in_(part)))
            conn.execute(extra_comments.delete().where(extra_comments.c.sender_id.in_(part)))

    def _qualified(self, conn: Connection, table: sa.Table) -> str:
        """Quoted (schema.)table name for the few statements written by hand."""
        prep = conn.dialect.identifier_preparer
        name = prep.quote(table.name)
        return f"{prep.quote_schema(self.schema)}.{name}" if self.schema else name

    def _insert(self, conn: Connection, rows: Rows, page: int = 5_000) -> None:
        """Bulk insert straight through the driver: SQLAlchemy's per-row
        parameter handling would cost more than the database work here."""
        prep = conn.dialect.identifier_preparer
        cursor = conn.connection.driver_connection.cursor()
        for table, items in (
            (responses, rows.responses),
            (driver_mentions, rows.driver_mentions),
            (why_answers, rows.why_answers),
            (known_issue_offers, rows.known_issue_offers),
            (extra_comments, rows.extra_comments),
        ):
            if not items:
                continue
            name = self._qualified(conn, table)
            columns = ", ".join(prep.quote(c.name) for c in table.columns)
            if conn.dialect.name == "postgresql":  # psycopg2
                from psycopg2.extras import execute_values

                execute_values(
                    cursor,
                    f"INSERT INTO {name} ({columns}) VALUES %s",  # noqa: S608 - names from our schema
                    items,
                    page_size=page,
                )
            else:
                marks = ", ".join("?" for _ in table.columns)
                # Table and column names come from our own schema, values are bound.
                sql = f"INSERT INTO {name} ({columns}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, items)

    def read_table(self, table: sa.Table, where=None, columns=None):
        """A projection table as a DataFrame (optionally filtered, optionally
        only some columns or column expressions)."""
        import pandas as pd

        columns = list(columns) if columns is not None else list(table.columns)
        query = sa.select(*columns)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            result = conn.execute(query)
            # The driver's tuples straight into pandas: at 100k+ rows,
            # SQLAlchemy's Row objects would cost more than the query.
            cursor = getattr(result, "cursor", None)
            rows = cursor.fetchall() if cursor is not None else [tuple(r) for r in result]
        frame = pd.DataFrame.from_records(rows, columns=[c.name for c in columns])
        for column in columns:
            # SQLite hands booleans back as 0/1.
            if (
                isinstance(column.type, sa.Boolean)
                and len(frame)
                and frame[column.name].dtype != bool
            ):
                frame[column.name] = frame[column.name].map(_as_bool).astype("object")
        return frame


def _as_bool(value):
    if value is None or value != value:  # None or NaN
        return None
    return bool(value)


def update_projection(
    tracker: Engine,
    projection_engine: Engine,
    schema: str | None = "nps_analytics",
    rebuild: bool = False,
) -> UpdateResult:
    try:
        return Projection(projection_engine, schema).update(tracker, rebuild=rebuild)
    except sa.exc.OperationalError as exc:
        raise AnalyticsError(f"database error: {tracker_source._first_line(exc)}") from None

"""The projection database: bringing it up to date with the tracker store,
forgetting a person, and reading its tables.

The tables are defined in `analytics.schema`, and `analytics.segments` turns
events into their rows (pure). The tracker store stays the only source of
truth: this database can be deleted and rebuilt at any time with the same
result.

Incremental update and rebuild share one code path: a response depends only
on its sender's events in id order, so the incremental update finds the
senders with new events and recomputes all their segments from their full
event history (Rasa indexes sender_id). Rebuild streams every event in id
order through the same segment builder. Both therefore give identical rows.
On PostgreSQL a transaction with a lower event id can commit after one with
a higher id; re-examining the senders of the last LOOKBACK_IDS ids catches
such late events.

No raw sender id is stored here: rows name the person by a keyed pseudonym
(analytics.pseudonym), and the store's fingerprint is hashed. A projection
made with another key is rebuilt.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics import pseudonym, tracker_source
from analytics.db import AnalyticsError, fetch_tuples, is_postgresql
from analytics.schema import (
    CHILD_TABLES,
    CUSTOMER,
    DATA_TABLES,
    SCHEMA_VERSION,
    extra_comments,
    metadata,
    projection_state,
    responses,
)
from analytics.segments import Rows, build_segments
from nps.db_error import describe

LOOKBACK_IDS = 1000


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

    def __init__(
        self, engine: Engine, schema: str | None = "nps_analytics", key: bytes | None = None
    ):
        # The pseudonym key (None: the installation's, analytics.pseudonym).
        self.key = key if key is not None else pseudonym.configured_key()
        self.key_id = pseudonym.key_id(self.key)
        self.engine = engine
        self.schema = schema if is_postgresql(engine.url) else None
        if self.schema:
            self.engine = engine.execution_options(schema_translate_map={None: self.schema})
        self._ready = False

    def ensure_tables(self) -> None:
        """Create the tables; tables of another schema version are dropped
        first (their columns differ), and the next update rebuilds them."""
        if self._ready:
            return
        with self.engine.begin() as conn:
            if self.schema:
                conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
            if sa.inspect(conn).has_table(projection_state.name):
                version = self.state(conn).get("schema_version")
                if version is not None and version != SCHEMA_VERSION:
                    self._lock(conn)
                    metadata.drop_all(conn, tables=list(DATA_TABLES), checkfirst=True)
                    conn.execute(projection_state.delete())
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
        # Hashed: the fingerprint names the store's first sender.
        fingerprint = hashlib.sha256(
            tracker_source.source_fingerprint(tracker, first_id).encode("utf-8")
        ).hexdigest()
        with self.engine.connect() as conn:
            state = self.state(conn)
        known_id = int(state.get("last_event_id", "-1"))
        fresh = (
            rebuild
            or state.get("schema_version") != SCHEMA_VERSION
            or state.get("source") != fingerprint
            or state.get("key_id") != self.key_id
            or known_id < 0
            or last_id < known_id
        )
        if fresh:
            rows = Rows(self.person)
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
                        "key_id": self.key_id,
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
                len({r["person"] for r in rows.responses}),
                len(rows.responses),
                time.perf_counter() - started,
            )
        if last_id == known_id:
            return UpdateResult("unchanged", last_id, 0, 0, time.perf_counter() - started)
        senders = tracker_source.changed_senders(tracker, max(0, known_id - LOOKBACK_IDS), last_id)
        rows = Rows(self.person)
        build_segments(tracker_source.iter_sender_events(tracker, senders, last_id), rows)
        with self.engine.begin() as conn:
            self._lock(conn)
            self._delete_senders(conn, senders)
            self._insert(conn, rows)
            self._set_state(conn, {"last_event_id": last_id, "updated_at": time.time()})
        return UpdateResult(
            "incremental", last_id, len(senders), len(rows.responses), time.perf_counter() - started
        )

    def person(self, sender_id: str) -> str:
        """What the projection stores in place of this sender id."""
        return pseudonym.pseudonym(sender_id, self.key)

    def forget(self, senders: list[str]) -> None:
        """Remove these senders' rows (a person's data erased on request).
        The erasure in the tracker store itself is storage.erasure's job
        (which also calls the equivalent of this); without this, the
        projection would keep the rows until its next rebuild."""
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
        people = sorted({self.person(s) for s in senders})
        for i in range(0, len(people), batch):
            part = people[i : i + batch]
            ids = (
                sa.select(responses.c.response_id)
                .where(responses.c.person.in_(part))
                .scalar_subquery()
            )
            for table in CHILD_TABLES:
                conn.execute(table.delete().where(table.c.response_id.in_(ids)))
            conn.execute(responses.delete().where(responses.c.person.in_(part)))
            conn.execute(extra_comments.delete().where(extra_comments.c.person.in_(part)))

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
        for table, items in rows.tables():
            if not items:
                continue
            name = self._qualified(conn, table)
            columns = ", ".join(prep.quote(c.name) for c in table.columns)
            # Table and column names come from our own schema, values are bound.
            if conn.dialect.name == "postgresql":  # psycopg2
                from psycopg2.extras import execute_values

                sql = f"INSERT INTO {name} ({columns}) VALUES %s"  # noqa: S608 (see above)
                execute_values(cursor, sql, items, page_size=page)
            else:
                marks = ", ".join("?" for _ in table.columns)
                sql = f"INSERT INTO {name} ({columns}) VALUES ({marks})"  # noqa: S608 (see above)
                cursor.executemany(sql, items)

    def read_table(self, table: sa.Table, where=None, columns=None, order_by=(), limit=None):
        """A projection table as a DataFrame (optionally filtered, ordered,
        limited, and only some columns or column expressions)."""
        import pandas as pd

        columns = list(columns) if columns is not None else list(table.columns)
        query = sa.select(*columns)
        if where is not None:
            query = query.where(where)
        if order_by:
            query = query.order_by(*order_by)
        if limit is not None:
            query = query.limit(limit)
        # The driver's tuples straight into pandas: at 100k+ rows,
        # SQLAlchemy's Row objects would cost more than the query.
        rows = fetch_tuples(self.engine, query)
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

    def latest_responses(self, limit: int = 20, role: str = CUSTOMER):
        """The responses of `role` (customers by default) with the newest
        events, newest first (the live view)."""
        return self.read_table(
            responses,
            where=responses.c.role == role,
            order_by=(responses.c.last_event_at.desc().nulls_last(),),
            limit=limit,
        )


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
        raise AnalyticsError(f"database error: {describe(exc)}") from None

"""The cases' tables (SQLAlchemy Core; SQLite and PostgreSQL) and the
operations that change them.

By default the tables live in the tracker store's database (one URL to back
up; settings.cases_db_url), next to Rasa's `events` table but never in it.
Every write is one short transaction; on SQLite it begins with `BEGIN
IMMEDIATE` and waits up to the busy timeout for Rasa's own writes, so the
bot is never locked out for long.

Times are Unix seconds (UTC), like the projection's. `sender` is the tracker
store's conversation id (personal data: never logged).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Container, Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url

from cases import states

SQLITE_BUSY_TIMEOUT = 10.0

metadata = sa.MetaData()

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The conversation (Rasa's sender_id) and the survey (analytics'
    # response_id: the id of the first event of the survey's session).
    sa.Column("sender", sa.String(255), nullable=False, index=True),
    sa.Column("response_id", sa.BigInteger, nullable=False, unique=True),
    sa.Column("person", sa.String(64), index=True),  # analytics.pseudonym
    sa.Column("store", sa.String(255), index=True),  # the touchpoint
    sa.Column("channel", sa.String(64)),
    sa.Column("rule", sa.String(255), nullable=False),
    sa.Column("priority", sa.String(16), nullable=False),
    sa.Column("team", sa.String(255), nullable=False),
    sa.Column("owner", sa.String(255)),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("first_contact_due", sa.Float),
    sa.Column("resolve_due", sa.Float),
    sa.Column("first_contact_at", sa.Float),
    sa.Column("resolved_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("root_cause", sa.String(255)),  # a driver id of data/drivers.yml
    sa.Column("resolution", sa.String(64)),  # a code of data/cases.yml `resolutions:`
    sa.Column("score", sa.Integer),  # the survey's score
    sa.Column("winback_score", sa.Integer),  # asked after resolving
    sa.Column("on_hold_since", sa.Float),
    sa.Column("paused_seconds", sa.Float, nullable=False, default=0.0),
    sa.Column("acknowledged_at", sa.Float),
)

case_log = sa.Table(
    "case_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("who", sa.String(255), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("field", sa.String(64)),
    sa.Column("from", sa.Text),
    sa.Column("to", sa.Text),
    sa.Column("note", sa.Text),
)

case_notes = sa.Table(
    "case_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("who", sa.String(255), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

TABLES = (cases, case_log, case_notes)
SYSTEM = "system"


class CaseNotFound(LookupError):
    pass


def cases_engine(url: str, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Engine:
    """An engine for the cases' database. SQLite: WAL, a busy timeout, and
    the driver's own transaction handling off so that writes can begin with
    BEGIN IMMEDIATE (execution option `cases_immediate`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    path = parsed.database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
    else:
        engine = sa.create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=sa.pool.StaticPool
        )

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            if path and path != ":memory:":
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError:
                    # Another connection holds a lock while the file is new:
                    # that one sets WAL (it is remembered in the file).
                    pass
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("cases_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _text(value) -> str | None:
    return None if value is None else str(value)


def write(engine: Engine):
    """A write transaction; on cases_engine's SQLite engines it begins with
    BEGIN IMMEDIATE, so it waits for Rasa's own writes instead of failing to
    upgrade a read lock (other engines ignore the option)."""
    return engine.execution_options(cases_immediate=True).begin()


def create_tables(engine: Engine, meta: sa.MetaData, wait: float = 10.0) -> None:
    """Create `meta`'s tables if missing. Two processes may try at once: on
    PostgreSQL the loser gets "already exists" (or a unique violation in the
    catalogue), on SQLite possibly "database is locked"; it tries again and
    finds them."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with write(engine) as conn:
                meta.create_all(conn, checkfirst=True)
            return
        except (sa.exc.ProgrammingError, sa.exc.IntegrityError, sa.exc.OperationalError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


class CaseStore:
    """The cases of one database. `root_causes` (driver ids) and
    `resolutions` (codes), when given, are what closing accepts."""

    def __init__(
        self,
        engine: Engine,
        root_causes: Container[str] | None = None,
        resolutions: Container[str] | None = None,
        clock=time.time,
        calendars=None,
    ):
        """`calendars` (cases.sla.Calendars): time on hold is then counted in
        the store's business hours and due times move by it; without them,
        by wall-clock time."""
        self.engine = engine
        self.calendars = calendars
        self.root_causes = root_causes
        self.resolutions = resolutions
        self.clock = clock
        self._ready = False

    # --- tables ---------------------------------------------------------------

    def ensure_tables(self, wait: float = 10.0) -> None:
        """Create the tables if missing (create_tables)."""
        if self._ready:
            return
        create_tables(self.engine, metadata, wait)
        self._ready = True

    def _write(self):
        self.ensure_tables()
        return write(self.engine)

    # --- reading ----------------------------------------------------------------

    def get(self, case_id: int) -> dict:
        self.ensure_tables()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).mappings().first()
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        return dict(row)

    def list_cases(
        self,
        states_in: Iterable[str] | None = None,
        stores: Iterable[str] | None = None,
        teams: Iterable[str] | None = None,
    ) -> list[dict]:
        """Cases, oldest first, optionally only in these states / stores / teams."""
        self.ensure_tables()
        query = sa.select(cases).order_by(cases.c.opened_at, cases.c.id)
        if states_in is not None:
            query = query.where(cases.c.state.in_(list(states_in)))
        if stores is not None:
            query = query.where(cases.c.store.in_(list(stores)))
        if teams is not None:
            query = query.where(cases.c.team.in_(list(teams)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def response_ids(self) -> set[int]:
        self.ensure_tables()
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(cases.c.response_id))}

    def log(self, case_id: int) -> list[dict]:
        """The audit log of a case, in order."""
        self.ensure_tables()
        query = sa.select(case_log).where(case_log.c.case_id == case_id).order_by(case_log.c.id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def notes(self, case_id: int) -> list[dict]:
        self.ensure_tables()
        query = (
            sa.select(case_notes).where(case_notes.c.case_id == case_id).order_by(case_notes.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # --- writing ----------------------------------------------------------------

    def open_case(self, row: dict, who: str = SYSTEM) -> int | None:
        """Insert a new case (state "new") and its "open" log entry; None
        when the survey already has a case (response_id is unique)."""
        values = {k: v for k, v in row.items() if k in cases.c}
        values.setdefault("state", states.NEW)
        values.setdefault("paused_seconds", 0.0)
        values.setdefault("opened_at", self.clock())
        self.ensure_tables()
        try:
            with self._write() as conn:
                exists = conn.execute(
                    sa.select(cases.c.id).where(cases.c.response_id == values["response_id"])
                ).first()
                if exists is not None:
                    return None
                case_id = conn.execute(cases.insert().values(**values)).inserted_primary_key[0]
                conn.execute(
                    case_log.insert().values(
                        case_id=case_id,
                        at=values["opened_at"],
                        who=who,
                        action="open",
                        field="state",
                        **{"from": None, "to": values["state"]},
                        note=f"rule {values.get('rule')}",
                    )
                )
                return case_id
        except sa.exc.IntegrityError:
            # Another process opened it between our check and insert.
            return None

    def _apply(self, conn, case_id: int, changes: dict, entries, who: str, now: float, note=None):
        if changes:
            conn.execute(cases.update().where(cases.c.id == case_id).values(**changes))
        has_state = any(e.field == "state" for e in entries)
        for e in entries:
            conn.execute(
                case_log.insert().values(
                    case_id=case_id,
                    at=now,
                    who=who,
                    action=e.action,
                    field=e.field,
                    **{"from": _text(e.old), "to": _text(e.new)},
                    note=note if (e.field == "state" or not has_state) else e.note,
                )
            )

    def _locked(self, conn, case_id: int) -> dict:
        query = sa.select(cases).where(cases.c.id == case_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        return dict(row)

    def transition(
        self,
        case_id: int,
        to: str,
        who: str,
        now: float | None = None,
        *,
        owner: str | None = None,
        root_cause: str | None = None,
        resolution: str | None = None,
        note: str | None = None,
    ) -> dict:
        """Move the case to state `to` (cases.states rules), logging every
        changed field; returns the updated case. Raises states.CaseError."""
        now = self.clock() if now is None else now
        with self._write() as conn:
            case = self._locked(conn, case_id)
            changes, entries = states.transition(
                case,
                to,
                now,
                owner=owner,
                root_cause=root_cause,
                resolution=resolution,
                root_causes=self.root_causes,
                resolutions=self.resolutions,
                **self._clocks(case.get("store")),
            )
            self._apply(conn, case_id, changes, entries, who, now, note)
        return self.get(case_id)

    def _clocks(self, store: str | None) -> dict:
        if self.calendars is None:
            return {}
        import datetime as dt

        from cases import sla

        calendar = sla.calendar_for(store, self.calendars)

        def utc(ts: float) -> dt.datetime:
            return dt.datetime.fromtimestamp(ts, dt.timezone.utc)

        return {
            "pause_clock": lambda a, b: sla.business_seconds_between(utc(a), utc(b), calendar),
            "extend_due": lambda due, s: sla.extend_due(utc(due), s, calendar).timestamp(),
        }

    def reassign(self, case_id: int, owner: str, who: str, now: float | None = None) -> dict:
        now = self.clock() if now is None else now
        with self._write() as conn:
            case = self._locked(conn, case_id)
            changes, entries = states.reassign(case, owner)
            self._apply(conn, case_id, changes, entries, who, now)
        return self.get(case_id)

    def set_fields(self, case_id: int, who: str, now: float | None = None, **values) -> dict:
        """Set other fields (due times moved by the SLA clock, the win-back
        score, acknowledged_at), logged like every change. The state and the
        closing fields change only through `transition`."""
        forbidden = set(values) & {"state", "root_cause", "resolution", "closed_at", "id"}
        if forbidden:
            raise states.CaseError(f"use transition() to change {', '.join(sorted(forbidden))}")
        now = self.clock() if now is None else now
        with self._write() as conn:
            case = self._locked(conn, case_id)
            changes = {k: v for k, v in values.items() if case.get(k) != v}
            entries = [states.LogEntry("set", k, case.get(k), v) for k, v in changes.items()]
            self._apply(conn, case_id, changes, entries, who, now)
        return self.get(case_id)

    def acknowledge(self, case_id: int, who: str, now: float | None = None) -> dict:
        """Someone saw the alert (stops its repetition); the first time counts."""
        now = self.clock() if now is None else now
        case = self.get(case_id)
        if case["acknowledged_at"] is not None:
            return case
        return self.set_fields(case_id, who, now, acknowledged_at=now)

    def add_note(self, case_id: int, who: str, text: str, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        if not text or not text.strip():
            raise states.CaseError("a note needs some text")
        with self._write() as conn:
            self._locked(conn, case_id)
            note_id = conn.execute(
                case_notes.insert().values(case_id=case_id, at=now, who=who, text=text.strip())
            ).inserted_primary_key[0]
            conn.execute(
                case_log.insert().values(
                    case_id=case_id, at=now, who=who, action="note", field=None, note=None
                )
            )
        return note_id

"""The tracker store: Rasa's SQL store, made to fail loudly and never lose a turn.

endpoints.yml names it (`type: storage.tracker_store.NpsSQLTrackerStore`,
`url: ${NPS_DB_URL}`); the table is Rasa's own (storage/tracker_schema.py),
so analytics, erasure and retention read and write it as before. What it
changes in Rasa 3.6's `SQLTrackerStore` (audit F4, F5):

* **Connections are checked and retried.** `pool_pre_ping` replaces a pooled
  connection that a database restart killed; an operation that still meets a
  connection-class error is retried with a short back-off for
  `NPS_DB_RETRY_SECONDS`, then the error is raised: the turn fails and the
  platform redelivers the message. Nothing is ever answered from, or saved
  to, memory (storage/turn_guard.py keeps Rasa from wrapping this store in
  its `FailSafeTrackerStore`, which did both).
* **SQLite never blocks the bot on a reader**: WAL journal, a busy timeout
  and `synchronous=NORMAL` on every connection, so the analytics reader's
  long read transactions and the bot's writes go on side by side.
* **Optimistic concurrency on save.** Rasa's save appends
  `tracker.events[n:]`, n being the number of events of the current session
  in the database *now*: if another turn of the same conversation saved in
  between, this silently drops or splices events. Here the store remembers,
  on the tracker it returned, how many events it read; the save runs in one
  transaction that serialises the writers of that conversation
  (PostgreSQL: `pg_advisory_xact_lock` of a 64-bit hash of the sender id;
  SQLite: `BEGIN IMMEDIATE`) and raises `ConcurrentTurnError` when the count
  is not the one read: the turn fails and is redelivered, it never
  overwrites or interleaves another turn's events.

The database work is synchronous on the event loop, as in Rasa's store: a
turn cannot be cancelled half-way through a save (the turn bound in
storage/turn_guard.py only cancels at an `await`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc

from nps.db_error import describe
from nps.identity import log_id
from nps.settings import load_settings
from storage.turn_guard import TurnFailed

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that say "the database could not be reached or was busy", worth
# another try; anything else (a constraint, bad SQL) is raised at once.
CONNECTION_ERRORS = (sa_exc.OperationalError, sa_exc.DisconnectionError, sa_exc.InterfaceError)

# Back-off between tries: from 50 ms doubling to 1 s, within the retry budget.
FIRST_DELAY = 0.05
MAX_DELAY = 1.0
# SQLite: how long a writer waits for another writer's lock before "database
# is locked" (then the retry above applies). Readers never wait in WAL mode.
SQLITE_BUSY_TIMEOUT = 10.0
# PostgreSQL: a connection attempt to a host that does not answer gives up
# after this many seconds (libpq waits forever by default, blocking the
# event loop), and a connection whose server went silent is declared dead by
# TCP keepalives and the user timeout within about ten seconds.
PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
# How long the store waits for the database when Rasa starts (Rasa's own
# store waits forever). scripts/check_db.py has already said what is wrong.
STARTUP_WAIT = 30.0

# The attribute on a tracker this store returned: what of it is in the database.
_MARK = "_nps_stored"


class ConcurrentTurnError(TurnFailed):
    """Another turn of this conversation saved events since this turn read
    them; this turn's events were not saved (it fails and is redelivered)."""


@dataclass(frozen=True)
class StoredMark:
    """How much of a tracker is in the database.

    `stored` is how many of `tracker.events` are stored (the save appends the
    rest); `session_count` how many events of the conversation's current
    session the database held then (a save finds the same number, or another
    turn wrote in between)."""

    stored: int
    session_count: int


# --- small pure functions ---------------------------------------------------------


def advisory_key(sender_id: str) -> int:
    """PostgreSQL's advisory lock key of a conversation: a signed 64-bit
    integer from SHA-256, the same in every process (not Python's hash)."""
    digest = hashlib.sha256(sender_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def backoff_delays(
    budget: float, first: float = FIRST_DELAY, cap: float = MAX_DELAY
) -> list[float]:
    """The pauses between tries within `budget` seconds of pausing: doubling
    from `first` up to `cap`, the last one cut to fit. Empty for no budget."""
    delays: list[float] = []
    delay, left = first, budget
    while left > 1e-9:
        step = min(delay, left)
        delays.append(step)
        left -= step
        delay = min(delay * 2, cap)
    return delays


def is_sqlite(url: str | sa.engine.URL) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str | sa.engine.URL) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "postgresql"


def sqlite_pragmas(busy_timeout: float) -> list[str]:
    """What every SQLite connection runs first (see the module docstring)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",
        "PRAGMA synchronous=NORMAL",
    ]


def current_session_count(rows: Sequence[tuple[str, float | None]]) -> int:
    """How many of a conversation's events (type, timestamp) belong to its
    latest session, by Rasa's rule: at or after the latest `session_started`,
    or all of them when there is none."""
    starts = [ts for kind, ts in rows if kind == SessionStarted.type_name and ts is not None]
    if not starts:
        return len(rows)
    latest = max(starts)
    return sum(1 for _, ts in rows if ts is not None and ts >= latest)


def event_row(sender_id: str, event: Event) -> dict[str, Any]:
    """The `events` row of one event, exactly as Rasa's SQL store writes it."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def stored_mark(tracker: DialogueStateTracker) -> StoredMark | None:
    return getattr(tracker, _MARK, None)


# --- the engine -------------------------------------------------------------------


def make_engine(
    url: str | sa.engine.URL, busy_timeout: float = SQLITE_BUSY_TIMEOUT
) -> sa.engine.Engine:
    """An engine that checks a pooled connection before use, with the
    per-dialect settings above. On SQLite the driver's own transaction
    handling is switched off so that a save can say `BEGIN IMMEDIATE`
    (execution option `nps_begin_immediate`); other transactions begin with
    a plain (deferred) `BEGIN`."""
    kwargs: dict[str, Any] = dict(create_engine_kwargs(url))  # Rasa's pool and schema options
    kwargs["pool_pre_ping"] = True
    if is_postgresql(url):
        kwargs["connect_args"] = {**PG_CONNECT_ARGS, **kwargs.get("connect_args", {})}
    if is_sqlite(url):
        kwargs["connect_args"] = {"timeout": busy_timeout}
    engine = sa.create_engine(url, **kwargs)
    if is_sqlite(url):
        pragmas = sqlite_pragmas(busy_timeout)

        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None  # we say BEGIN ourselves
            cursor = dbapi_connection.cursor()
            try:
                for pragma in pragmas:
                    cursor.execute(pragma)
            finally:
                cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            immediate = connection.get_execution_options().get("nps_begin_immediate")
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# --- the store --------------------------------------------------------------------


class NpsSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store that never invents a conversation (module docstring)."""

    def __init__(
        self,
        domain=None,
        host: str | None = None,
        event_broker=None,
        dialect: str = "sqlite",
        port: int | None = None,
        db: str = "rasa.db",
        username: str | None = None,
        password: str | None = None,
        query: dict | None = None,
        retry_seconds: float | None = None,
        busy_timeout: float = SQLITE_BUSY_TIMEOUT,
        startup_wait: float = STARTUP_WAIT,
        **kwargs: Any,
    ) -> None:
        if kwargs.pop("login_db", None):
            raise ValueError("login_db is not supported: create the database beforehand")
        # Not SQLTrackerStore.__init__: it builds its own engine and waits for
        # the database forever. The rest of Rasa's SQL store (session_scope,
        # keys, its SQLEvent table) works on the engine made here.
        url = self.get_db_url(dialect, host, port, db, username, password, None, query)
        self.engine = make_engine(url, busy_timeout)
        self.retry_seconds = (
            load_settings().db_retry_seconds if retry_seconds is None else retry_seconds
        )
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._events = self.SQLEvent.__table__
        self._serialise = self._writer_lock_for(self.engine)
        self._create_table(startup_wait)
        super(SQLTrackerStore, self).__init__(domain, event_broker, **kwargs)

    # --- Rasa's interface --------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrieve(sender_id, fetch_events_from_all_sessions=False)

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        return await self._retrieve(conversation_id, fetch_events_from_all_sessions=True)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        rows = await self._with_retry(
            "read", sender_id, lambda _: self._read(sender_id, fetch_events_from_all_sessions)
        )
        if not (self.domain and rows):
            return None
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(data) for data, _, _ in rows], self.domain.slots
        )
        kinds = [(kind, ts) for _, kind, ts in rows]
        setattr(tracker, _MARK, StoredMark(len(rows), current_session_count(kinds)))
        return tracker

    def init_tracker(self, sender_id: str) -> DialogueStateTracker:
        """A new conversation's tracker: nothing of it stored, and its save
        fails if another turn created the conversation meanwhile."""
        tracker = super().init_tracker(sender_id)
        setattr(tracker, _MARK, StoredMark(0, 0))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        events = list(tracker.events)
        mark = await self._with_retry(
            "save", tracker.sender_id, lambda attempt: self._write(tracker, events, attempt)
        )
        setattr(tracker, _MARK, mark)

    # --- database work (synchronous; see the module docstring) -------------------

    def _current_session(self, sender_id: str):
        t = self._events
        start = (
            sa.select(sa.func.max(t.c.timestamp))
            .where(t.c.sender_id == sender_id, t.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        return sa.and_(t.c.sender_id == sender_id, sa.or_(t.c.timestamp >= start, start.is_(None)))

    def _read(self, sender_id: str, all_sessions: bool) -> list[tuple[str, str, float | None]]:
        t = self._events
        where = t.c.sender_id == sender_id if all_sessions else self._current_session(sender_id)
        query = sa.select(t.c.data, t.c.type_name, t.c.timestamp).where(where).order_by(t.c.id)
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def _count(self, conn, sender_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(self._events)
        return conn.execute(query.where(self._current_session(sender_id))).scalar_one()

    def _write(
        self, tracker: DialogueStateTracker, events: list[Event], attempt: int
    ) -> StoredMark:
        sender_id = tracker.sender_id
        mark = stored_mark(tracker)
        with self.engine.connect() as conn:
            conn = conn.execution_options(nps_begin_immediate=True)
            with conn.begin():
                self._serialise(conn, sender_id)
                count = self._count(conn, sender_id)
                # A tracker this store did not return (Rasa's HTTP API
                # replacing events): Rasa's rule, append what is beyond the count.
                first = count if mark is None else mark.stored
                rows = [event_row(sender_id, e) for e in events[first:]]
                if mark is not None and count != mark.session_count:
                    if attempt and rows and self._is_stored_tail(conn, sender_id, rows):
                        # The previous try committed and only its answer was lost.
                        return StoredMark(len(events), count)
                    logger.error(
                        "tracker store: %s changed since this turn read it (%d events, now %d); "
                        "the turn is not saved",
                        log_id(sender_id),
                        mark.session_count,
                        count,
                    )
                    raise ConcurrentTurnError(
                        f"conversation {log_id(sender_id)} was saved by another turn meanwhile"
                    )
                if rows:
                    conn.execute(self._events.insert(), rows)
                    count = self._count(conn, sender_id)
        return StoredMark(len(events), count)

    def _is_stored_tail(self, conn, sender_id: str, rows: list[dict[str, Any]]) -> bool:
        t = self._events
        query = (
            sa.select(t.c.data)
            .where(t.c.sender_id == sender_id)
            .order_by(t.c.id.desc())
            .limit(len(rows))
        )
        tail = [data for (data,) in conn.execute(query)][::-1]
        return tail == [row["data"] for row in rows]

    @staticmethod
    def _writer_lock_for(engine: sa.engine.Engine) -> Callable[[Any, str], None]:
        """How a save keeps other writers of the conversation out until it commits."""
        if engine.dialect.name == "postgresql":

            def advisory(conn, sender_id: str) -> None:
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(sender_id)}
                )

            return advisory
        if engine.dialect.name != "sqlite":
            logger.warning(
                "tracker store: %s has no per-conversation writer lock here; only SQLite and "
                "PostgreSQL are supported",
                engine.dialect.name,
            )
        # SQLite: BEGIN IMMEDIATE (make_engine) already holds the database's write lock.
        return lambda conn, sender_id: None

    def _create_table(self, startup_wait: float) -> None:
        deadline = time.monotonic() + startup_wait
        while True:
            try:
                self.Base.metadata.create_all(self.engine, tables=[self._events])
                return
            except (sa_exc.ProgrammingError, sa_exc.IntegrityError):
                # Another process created it at the same moment: PostgreSQL says
                # so as "already exists" or, for the id sequence, as a unique
                # violation in its catalogue. create_all checks first, so the
                # next round finds the table and returns.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
            except CONNECTION_ERRORS as error:
                if time.monotonic() >= deadline:
                    raise
                logger.warning("tracker store: database not reachable yet: %s", describe(error))
                time.sleep(1.0)

    async def _with_retry(self, what: str, sender_id: str, operation: Callable[[int], T]) -> T:
        """`operation(attempt)`, tried again on connection-class errors while
        the retry budget lasts; then the error is raised."""
        delays = iter(backoff_delays(self.retry_seconds))
        attempt = 0
        while True:
            try:
                return operation(attempt)
            except CONNECTION_ERRORS as error:
                delay = next(delays, None)
                if delay is None:
                    logger.error(
                        "tracker store: %s of %s failed after %d tries: %s",
                        what,
                        log_id(sender_id),
                        attempt + 1,
                        describe(error),
                    )
                    raise
                logger.warning(
                    "tracker store: %s of %s failed, trying again: %s",
                    what,
                    log_id(sender_id),
                    describe(error),
                )
                await asyncio.sleep(delay)
                attempt += 1

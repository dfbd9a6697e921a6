"""Replies of a stored turn, on their way to the customer: a durable outbox.

``dispatch`` renders the turn's bot messages into the platform's parts,
writes one row per part (``storage.outbox_schema``, in the tracker database)
and then sends them in order right away. A part that cannot go now stays in
the table; the retry worker that ``attach`` starts with the server sends it
later. Why a table and not a retry loop: a retry loop dies with the process
and holds the customer's next question hostage to one slow call; rows survive
restarts and are shared by every Rasa process.

Rules the rows follow:

* a turn's parts are stored once, keyed by (channel, turn key, seq): a turn
  dispatched twice (a redelivery) does not send twice;
* a row is sent by whoever claims it with one atomic UPDATE (state and the
  absence of an earlier unsettled row of the same conversation in its WHERE),
  so two processes never send the same row, and part n+1 never leaves before
  part n is settled (sent, failed or unknown);
* the outcome of a try (``channels.outbound``) decides: sent; retry later
  (``Retry-After`` honoured, else exponential back-off); failed for good (the
  rest of that turn too: it would not make sense alone); unknown (the request
  left, no answer: never resent automatically);
* a row still unsent after ``outbox_max_age_hours`` is given up (failed); a
  row claimed by a process that died mid-send becomes unknown;
* WhatsApp's later ``failed`` delivery statuses are recorded against the row
  with that platform message id (``record_whatsapp_failures``).

If the table cannot be written (database down), the replies are sent
directly, and that is logged: the customer should still get them.
DB calls run in a worker thread (``asyncio.to_thread``), never on the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.channels.channel import OutputChannel

from channels.outbound import Outcome, SendResult, later_parts_go
from nps.identity import log_id
from nps.settings import load_settings
from storage.outbox_schema import (
    FAILED,
    OPEN_STATES,
    PENDING,
    RETRY,
    SENDING,
    SENT,
    UNKNOWN,
    create_outbox,
)

logger = logging.getLogger(__name__)

BACKOFF_BASE = 1.0  # seconds before the second try of a part
BACKOFF_CAP = 300.0  # longest pause between tries without a Retry-After
POLL_SECONDS = 1.0  # how often the worker looks for due rows
EXPIRE_SECONDS = 30.0  # how often it settles too old and abandoned rows (writes)
BATCH = 50  # due rows one worker pass takes


# ---------------------------------------------------------------- pure rules


def retry_delay(
    attempts: int, retry_after: float | None, rand: Callable[[], float] = random.random
) -> float:
    """Seconds until the next try of a part tried ``attempts`` times: the
    platform's ``Retry-After`` when it gave one, else exponential back-off
    with jitter (50-100 %) so that parts failing together spread out."""
    if retry_after is not None:
        return max(0.0, retry_after)
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return step * (0.5 + rand() / 2)


def next_state(
    result: SendResult, attempts: int, created_at: float, now: float, max_age: float
) -> tuple[str, float | None]:
    """(state, next attempt time) after a try with this result."""
    if result.outcome is Outcome.SENT:
        return SENT, None
    if result.outcome is Outcome.UNKNOWN:
        return UNKNOWN, None
    if result.outcome is Outcome.RETRY:
        when = now + retry_delay(attempts, result.retry_after)
        if when - created_at > max_age:
            return FAILED, None  # the next try would be past the age limit
        return RETRY, when
    return FAILED, None


def supports_outbox(output: Any) -> bool:
    """Our connectors' output channels render parts and send one at a time."""
    return all(callable(getattr(output, name, None)) for name in ("parts", "send_part", "route"))


@dataclass(frozen=True)
class Part:
    id: int
    conversation_id: str
    channel: str
    route: dict[str, Any]
    turn_key: str
    seq: int
    payload: Any
    created_at: float


# ---------------------------------------------------------------- the table


class Outbox:
    """The outbox table of one database. The engine is made on first use."""

    def __init__(
        self,
        db_url: str,
        max_age_hours: float = 24.0,
        send_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db_url = db_url
        self.max_age = max_age_hours * 3600.0
        # A claim outlives the longest send (one bounded try) and its record.
        self.lease = 2 * send_timeout + 30.0
        self.clock = clock
        self._engine: sa.engine.Engine | None = None
        self._table: sa.Table | None = None

    @property
    def engine(self) -> sa.engine.Engine:
        if self._engine is None:
            url = sa.engine.make_url(self.db_url)
            args: dict[str, Any] = {"pool_pre_ping": True}
            if url.get_backend_name() == "postgresql":
                args["connect_args"] = {"connect_timeout": 5}
            self._engine = sa.create_engine(url, **args)
        return self._engine

    @property
    def table(self) -> sa.Table:
        if self._table is None:
            self._table = create_outbox(self.engine)
        return self._table

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def _insert_ignoring_duplicates(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        t = self.table
        name = conn.dialect.name
        if name in ("postgresql", "sqlite"):
            if name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            statement = insert(t).on_conflict_do_nothing(
                index_elements=["channel", "turn_key", "seq"]
            )
            conn.execute(statement, rows)
            return
        for row in rows:  # other databases: one by one, duplicates skipped
            try:
                with conn.begin_nested():
                    conn.execute(t.insert(), row)
            except sa.exc.IntegrityError:
                pass

    def add(self, parts: list[dict[str, Any]], hold: float = 0.0) -> None:
        """Store a turn's parts (conversation_id, channel, route, turn_key,
        seq, payload), each once; not due for the retry worker for ``hold``
        seconds."""
        if not parts:
            return
        now = self.clock()
        rows = [
            {
                **part,
                "route": json.dumps(part.get("route") or {}),
                "payload": json.dumps(part["payload"], ensure_ascii=False),
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now + hold,
                "created_at": now,
                "updated_at": now,
            }
            for part in parts
        ]
        with self.engine.begin() as conn:
            self._insert_ignoring_duplicates(conn, rows)

    def _parts(self, rows: Iterable[Any]) -> list[Part]:
        return [
            Part(
                r.id,
                r.conversation_id,
                r.channel,
                json.loads(r.route or "{}"),
                r.turn_key,
                r.seq,
                json.loads(r.payload),
                r.created_at,
            )
            for r in rows
        ]

    def turn_parts(self, channel: str, turn_key: str) -> list[Part]:
        """The turn's parts not yet settled, in order."""
        t = self.table
        query = (
            sa.select(t)
            .where(t.c.channel == channel, t.c.turn_key == turn_key, t.c.state.in_(OPEN_STATES))
            .order_by(t.c.seq)
        )
        with self.engine.connect() as conn:
            return self._parts(conn.execute(query))

    def due(self, channels: Iterable[str], limit: int = BATCH) -> list[Part]:
        """Rows of these channels that may be tried now, oldest first."""
        t = self.table
        query = (
            sa.select(t)
            .where(
                t.c.channel.in_(list(channels)),
                t.c.state.in_([PENDING, RETRY]),
                t.c.next_attempt_at <= self.clock(),
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return self._parts(conn.execute(query))

    def release(self, channel: str, turn_key: str) -> None:
        """Hand a turn's parts that its dispatch did not send to the retry
        worker now (they waited behind a part that could not go)."""
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(
                    t.c.channel == channel,
                    t.c.turn_key == turn_key,
                    t.c.state == PENDING,
                    t.c.attempts == 0,
                )
                .values(next_attempt_at=self.clock())
            )

    def claim(self, part: Part, first: bool = False) -> str | None:
        """Take a row for sending; its claim token, or None when another
        process has it, it is not due, or an earlier part of the same
        conversation is not settled yet. ``first``: the dispatching process's
        own first try, which need not wait for the row to fall due."""
        t = self.table
        earlier = t.alias("earlier")
        now = self.clock()
        token = uuid.uuid4().hex
        unsettled_before = (
            sa.select(earlier.c.id)
            .where(
                earlier.c.conversation_id == part.conversation_id,
                earlier.c.id < part.id,
                earlier.c.state.in_(OPEN_STATES),
            )
            .exists()
        )
        statement = (
            t.update()
            .where(
                t.c.id == part.id,
                sa.and_(t.c.state == PENDING, t.c.attempts == 0)
                if first
                else sa.and_(t.c.state.in_([PENDING, RETRY]), t.c.next_attempt_at <= now),
                ~unsettled_before,
            )
            .values(
                state=SENDING,
                claim=token,
                lease_until=now + self.lease,
                attempts=t.c.attempts + 1,
                updated_at=now,
            )
        )
        with self.engine.begin() as conn:
            claimed = conn.execute(statement).rowcount == 1
        return token if claimed else None

    def record(self, part: Part, token: str, result: SendResult) -> str:
        """Store a try's result on the claimed row; its new state."""
        t = self.table
        now = self.clock()
        with self.engine.begin() as conn:
            attempts = conn.execute(sa.select(t.c.attempts).where(t.c.id == part.id)).scalar()
            state, when = next_state(result, attempts or 1, part.created_at, now, self.max_age)
            values: dict[str, Any] = {
                "state": state,
                "claim": None,
                "lease_until": None,
                "updated_at": now,
                "last_error": (result.error or "")[:500] or None,
            }
            if state == RETRY:
                values["next_attempt_at"] = when
            if state == SENT:
                values["sent_at"] = now
                values["platform_message_id"] = result.message_id
            # The token: a row whose lease ran out (marked unknown) is still
            # ours to correct with what really happened.
            conn.execute(t.update().where(t.c.id == part.id, t.c.claim == token).values(**values))
            if state == FAILED:
                # Later parts of the same turn would not make sense alone.
                conn.execute(
                    t.update()
                    .where(
                        t.c.channel == part.channel,
                        t.c.turn_key == part.turn_key,
                        t.c.seq > part.seq,
                        t.c.state.in_([PENDING, RETRY]),
                    )
                    .values(state=FAILED, last_error="an earlier part failed", updated_at=now)
                )
        return state

    def expire(self) -> tuple[int, int]:
        """Give up rows older than the age limit (failed) and settle rows
        whose sender died mid-send (unknown); (failed, unknown) counts."""
        t = self.table
        now = self.clock()
        with self.engine.begin() as conn:
            failed = conn.execute(
                t.update()
                .where(t.c.state.in_([PENDING, RETRY]), t.c.created_at < now - self.max_age)
                .values(
                    state=FAILED,
                    last_error=f"not sent within {self.max_age / 3600:g} h",
                    updated_at=now,
                )
            ).rowcount
            unknown = conn.execute(
                t.update()
                .where(t.c.state == SENDING, t.c.lease_until < now)
                .values(
                    state=UNKNOWN,
                    last_error="the sending process stopped mid-send",
                    updated_at=now,
                )
            ).rowcount
        return failed or 0, unknown or 0

    def record_delivery_failure(
        self, channel: str, message_id: str, conversation_id: str | None, error: str
    ) -> bool:
        """A platform's later report that a sent message failed: on the row
        sent with that message id, else a row of its own (idempotent).
        True when a row we sent was found."""
        t = self.table
        now = self.clock()
        with self.engine.begin() as conn:
            found = conn.execute(
                t.update()
                .where(t.c.channel == channel, t.c.platform_message_id == message_id)
                .values(state=FAILED, last_error=error[:500], updated_at=now)
            ).rowcount
            if found:
                return True
            if conversation_id is None:
                return False
            row = {
                "conversation_id": conversation_id,
                "channel": channel,
                "route": "{}",
                "turn_key": f"status:{message_id}",
                "seq": 0,
                "payload": "null",
                "state": FAILED,
                "attempts": 0,
                "next_attempt_at": now,
                "platform_message_id": message_id,
                "last_error": error[:500],
                "created_at": now,
                "updated_at": now,
            }
            self._insert_ignoring_duplicates(conn, [row])
        return False


_outboxes: dict[tuple[str, float, float], Outbox] = {}


def default_outbox() -> Outbox:
    """The outbox of the tracker database in force (NPS_DB_URL)."""
    s = load_settings()
    key = (s.db_url, s.outbox_max_age_hours, s.send_timeout)
    if key not in _outboxes:
        _outboxes[key] = Outbox(*key)
    return _outboxes[key]


# ---------------------------------------------------------------- sending


async def send_part(box: Outbox, output: Any, part: Part, first: bool = False) -> Outcome | None:
    """Claim, send and record one row; the outcome, or None when not claimed."""
    token = await asyncio.to_thread(box.claim, part, first)
    if token is None:
        return None
    result = await output.send_part(part.conversation_id, part.payload)
    try:
        state = await asyncio.to_thread(box.record, part, token, result)
    except sa.exc.SQLAlchemyError as error:
        # The row stays "sending" until its lease ends, then counts as unknown.
        logger.error(
            "outbox: result of a %s send to %s not recorded (%s): %s",
            part.channel,
            log_id(part.conversation_id),
            result.outcome.value,
            error.__class__.__name__,
        )
        return result.outcome
    if state in (RETRY, FAILED):
        logger.info(
            "outbox: part %d of a turn of %s is %s after try (%s)",
            part.seq,
            log_id(part.conversation_id),
            state,
            result.outcome.value,
        )
    return result.outcome


async def send_parts(box: Outbox, output: Any, parts: list[Part]) -> None:
    """Send a just-stored turn's parts in order (the dispatching process's
    first try), stopping where one cannot go now."""
    for part in parts:
        outcome = await send_part(box, output, part, first=True)
        if outcome is None or not later_parts_go(outcome):
            return


async def send_directly(output: Any, recipient_id: str, messages: list[dict[str, Any]]) -> None:
    """Without the outbox: each message in order; a failed one stops the rest."""
    for message in messages:
        results = await output.send_response(recipient_id, message)
        if isinstance(results, list) and results and not later_parts_go(results[-1].outcome):
            return


def turn_rows(
    output: Any, recipient_id: str, messages: list[dict[str, Any]], turn_key: str
) -> list[dict[str, Any]]:
    """The rows of a turn's replies: every rendered part, numbered in order."""
    payloads = [p for message in messages for p in output.parts(recipient_id, dict(message))]
    route = output.route()
    return [
        {
            "conversation_id": recipient_id,
            "channel": output.name(),
            "route": route,
            "turn_key": turn_key,
            "seq": seq,
            "payload": payload,
        }
        for seq, payload in enumerate(payloads)
    ]


async def dispatch(
    output: OutputChannel,
    recipient_id: str,
    messages: list[dict[str, Any]],
    turn_key: str,
    *,
    outbox: Outbox | None = None,
) -> None:
    """Send the replies of one stored turn, in order. ``turn_key`` names the
    turn (channel message id) so a turn's replies are kept once."""
    if not supports_outbox(output):
        # REST and the web chat answer on the request or socket itself.
        for message in messages:
            await output.send_response(recipient_id, message)
        return
    turn_key = turn_key or uuid.uuid4().hex
    rows = turn_rows(output, recipient_id, messages, turn_key)
    box = outbox or default_outbox()
    try:
        # Held from the retry worker while this process sends them itself
        # (else the worker could send part 2 while part 1 is in flight); if
        # this process dies, they fall due when the hold ends.
        await asyncio.to_thread(box.add, rows, box.lease)
        parts = await asyncio.to_thread(box.turn_parts, output.name(), turn_key)
    except sa.exc.SQLAlchemyError as error:
        logger.error(
            "outbox: cannot store the replies of %s (%s); sending them directly, without retries",
            log_id(recipient_id),
            error.__class__.__name__,
        )
        await send_directly(output, recipient_id, messages)
        return
    await send_parts(box, output, parts)
    try:
        await asyncio.to_thread(box.release, output.name(), turn_key)
    except sa.exc.SQLAlchemyError as error:
        # They fall due by themselves when their lease ends.
        logger.warning(
            "outbox: unsent replies of %s wait for their lease (%s)",
            log_id(recipient_id),
            error.__class__.__name__,
        )


# ---------------------------------------------------------------- the worker


class Worker:
    """Sends due rows of one connector's channel until stopped."""

    def __init__(
        self,
        connector: Any,
        outbox: Outbox | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.connector = connector
        self.channel = connector.name()
        self._outbox = outbox
        self.poll_seconds = poll_seconds
        self._outputs: dict[str, Any] = {}
        self._expired_at = float("-inf")

    @property
    def outbox(self) -> Outbox:
        return self._outbox or default_outbox()

    def output_for(self, route: dict[str, Any]) -> Any:
        key = json.dumps(route, sort_keys=True)
        if key not in self._outputs:
            self._outputs[key] = self.connector.outbox_output(route)
        return self._outputs[key]

    async def run_once(self) -> int:
        """One pass: expire, then try every due row; how many were tried."""
        box = self.outbox
        failed = unknown = 0
        if time.monotonic() - self._expired_at >= EXPIRE_SECONDS:
            # Not every pass: a write transaction each second would compete
            # with Rasa's own writes on SQLite.
            failed, unknown = await asyncio.to_thread(box.expire)
            self._expired_at = time.monotonic()
        if failed or unknown:
            logger.warning(
                "outbox: %d part(s) given up after %g h, %d left unknown by a stopped sender",
                failed,
                box.max_age / 3600,
                unknown,
            )
        tried = 0
        blocked: set[str] = set()
        for part in await asyncio.to_thread(box.due, [self.channel]):
            if part.conversation_id in blocked:
                continue  # an earlier part of it cannot go now
            outcome = await send_part(box, self.output_for(part.route), part)
            if outcome is None or not later_parts_go(outcome):
                blocked.add(part.conversation_id)
            if outcome is not None:
                tried += 1
        return tried

    async def run(self) -> None:
        pause = self.poll_seconds
        while True:
            try:
                await self.run_once()
                pause = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the worker outlives a DB outage
                pause = min(60.0, pause * 2)
                logger.error(
                    "outbox worker (%s): %s; next pass in %.0f s",
                    self.channel,
                    error.__class__.__name__,
                    pause,
                )
            await asyncio.sleep(pause)


def attach(connector: Any, hook: Any) -> None:
    """Register what the outbox needs on a connector's blueprint (its retry
    worker, how to rebuild the connector's output channel)."""
    if not callable(getattr(connector, "outbox_output", None)):
        return  # a connector without outbox support sends directly
    if not getattr(connector, "configured", False):
        return  # it sends nothing; no worker needed
    worker = Worker(connector)
    running: dict[str, asyncio.Task] = {}

    @hook.listener("after_server_start")
    async def start_outbox_worker(*_: Any) -> None:
        running["task"] = asyncio.get_running_loop().create_task(worker.run())

    @hook.listener("before_server_stop")
    async def stop_outbox_worker(*_: Any) -> None:
        task = running.pop("task", None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""Erasing people: their events from Rasa's tracker store and their rows
from the analytics projection.

    python -m storage.erasure PERSON [--dry-run]

PERSON is a phone number in any notation ("48600100200", "+48 600 100 200",
"whatsapp:+48600100200") or a conversation id ("messenger:<psid>", "web:…"),
and is looked up under every form it may be stored as
(`nps.identity.person_ids`). It prints how many rows it removed from each
table, never what they said. What it cannot reach (logs, backups, Redis
dedup keys) is listed in docs/privacy.md.

Written with SQLAlchemy Core `text()` only: the same code runs in the bot's
environment (SQLAlchemy 1.4: the action server erases on a customer's
request, storage.retention) and in analytics' (SQLAlchemy 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from nps.identity import PHONE_CHANNELS, IdentityError, person_ids, split

# Rasa's SQLTrackerStore keeps every event of every conversation in one table.
EVENTS = "events"
# The bot's replies on their way out (storage.outbox_schema): keyed by the
# conversation id, with the reply text.
OUTBOX = "nps_outbox"
# Projection tables naming the person (analytics.schema), and the tables of a
# response's details, found through the response.
PROJECTION_PEOPLE = ("responses", "extra_comments")
PROJECTION_DETAILS = ("driver_mentions", "why_answers", "known_issue_offers")
BATCH = 500


@dataclass
class ErasureReport:
    """Rows removed per table ("tracker store: events", "analytics: responses"...)."""

    removed: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        return [f"{verb} {n} row(s) from {table}" for table, n in self.removed.items()]


def conversation_forms(sender_id: str) -> set[str]:
    """The stored forms of one conversation, for an erasure the customer asks
    for in the chat: a phone number's every form (it is that person's number),
    otherwise the id and its form from before channel prefixes. Unlike
    `person_ids`, never another channel's id: a REST client must not be able
    to erase the Messenger customer whose psid it names."""
    channel, bare = split(sender_id)
    if channel in PHONE_CHANNELS:
        return person_ids(sender_id)
    if channel in ("messenger", "web"):
        return {sender_id, bare}
    return {sender_id}


def _batches(items: Iterable[str]) -> list[list[str]]:
    items = sorted(set(items))
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def _in(name: str) -> sa.sql.elements.BindParameter:
    return sa.bindparam(name, expanding=True)


def _delete_rows(
    conn, table: str, id_column: str, time_column: str, ids: Iterable[str], before: float | None
) -> int:
    """Delete the rows of `table` whose `id_column` is one of `ids` (only those
    whose `time_column` is at or before `before`, a Unix time, when given);
    the number of rows removed. Table and column names are this module's
    constants, never input; the values are bound."""
    where = f"{id_column} IN :ids" + (
        f" AND {time_column} <= :before" if before is not None else ""
    )
    statement = sa.text(f"DELETE FROM {table} WHERE {where}").bindparams(_in("ids"))  # noqa: S608 (constant SQL, values bound)
    removed = 0
    for part in _batches(ids):
        params = {"ids": part} if before is None else {"ids": part, "before": before}
        removed += conn.execute(statement, params).rowcount or 0
    return removed


def erase_tracker_events(conn, ids: Iterable[str], before: float | None = None) -> int:
    """Delete the events of these sender ids (only those at or before
    `before`, a Unix time, when given); the number of rows removed."""
    return _delete_rows(conn, EVENTS, "sender_id", "timestamp", ids, before)


def erase_outbox_rows(conn, ids: Iterable[str], before: float | None = None) -> int:
    """Delete the outbox rows of these conversation ids (only those created
    at or before `before` when given); the number of rows removed."""
    return _delete_rows(conn, OUTBOX, "conversation_id", "created_at", ids, before)


# The closed loop's tables (cases/store.py, cases/alerts.py), by default in
# the tracker store's database: a case names its conversation (`sender`), and
# its log, notes and alerts hang on the case.
CASES = "cases"
CASE_DETAILS = ("case_log", "case_notes", "alert_deliveries", "alert_acks", "theme_cases")


def erase_case_rows(conn, ids: Iterable[str], before: float | None = None) -> dict[str, int]:
    """Delete the cases of these conversation ids (opened at or before
    `before` when given) with their log, notes and alert rows."""
    tables = _table_names(conn, None)
    if CASES not in tables:
        return {}
    where = "sender IN :ids" + (" AND opened_at <= :before" if before is not None else "")
    select = sa.text(f"SELECT id FROM {CASES} WHERE {where}").bindparams(_in("ids"))  # noqa: S608 (constant SQL, values bound)
    case_ids: list[int] = []
    for part in _batches(ids):
        params = {"ids": part} if before is None else {"ids": part, "before": before}
        case_ids += [row[0] for row in conn.execute(select, params)]
    removed: dict[str, int] = {}
    for table in CASE_DETAILS:
        if table in tables:
            statement = sa.text(f"DELETE FROM {table} WHERE case_id IN :ids").bindparams(_in("ids"))  # noqa: S608 (constant SQL, values bound)
            removed[table] = sum(
                conn.execute(statement, {"ids": case_ids[i : i + BATCH]}).rowcount or 0
                for i in range(0, len(case_ids), BATCH)
            )
    statement = sa.text(f"DELETE FROM {CASES} WHERE id IN :ids").bindparams(_in("ids"))  # noqa: S608 (constant SQL, values bound)
    removed[CASES] = sum(
        conn.execute(statement, {"ids": case_ids[i : i + BATCH]}).rowcount or 0
        for i in range(0, len(case_ids), BATCH)
    )
    return removed


def _table_names(conn, schema: str | None) -> set[str]:
    return set(sa.inspect(conn).get_table_names(schema=schema))


def erase_projection_rows(conn, people: Iterable[str], schema: str | None = None) -> dict[str, int]:
    """Delete the projection rows of these pseudonyms; rows removed per table.
    Tables that do not exist (no projection yet) are skipped."""
    existing = _table_names(conn, schema)
    prep = conn.dialect.identifier_preparer

    def name(table: str) -> str:
        quoted = prep.quote(table)
        return f"{prep.quote_schema(schema)}.{quoted}" if schema else quoted

    removed = {t: 0 for t in (*PROJECTION_DETAILS, *PROJECTION_PEOPLE) if t in existing}
    # Table and schema names are ours (analytics.schema, settings), quoted by
    # the dialect; values are bound.
    for part in _batches(people):
        if "responses" in existing:
            of_person = f"SELECT response_id FROM {name('responses')} WHERE person IN :people"  # noqa: S608 (see above)
            for table in PROJECTION_DETAILS:
                if table in existing:
                    sql = f"DELETE FROM {name(table)} WHERE response_id IN ({of_person})"  # noqa: S608 (see above)
                    result = conn.execute(sa.text(sql).bindparams(_in("people")), {"people": part})
                    removed[table] += result.rowcount or 0
        for table in PROJECTION_PEOPLE:
            if table in existing:
                sql = f"DELETE FROM {name(table)} WHERE person IN :people"  # noqa: S608 (see above)
                result = conn.execute(sa.text(sql).bindparams(_in("people")), {"people": part})
                removed[table] += result.rowcount or 0
    return removed


# --- erasure the customer asked for in the chat (actions/privacy.py) ---------
#
# The request is the `action_erase_data` event itself: durable (in the tracker
# store) and saved by Rasa together with the rest of the turn. Deleting inside
# the action would not work: Rasa saves the turn's events after the action
# returns, appending those beyond the count already stored, so a deletion
# made before the save would be undone or half undone. The action server
# erases once the marker is saved, and sweeps for markers at start and
# hourly (a request survives a restart of the action server).

ERASE_ACTION = "action_erase_data"
# Events of the confirming turn come right after the marker (the bot's
# answer, action_listen): everything up to this long after it is erased.
TURN_MARGIN_SECONDS = 10.0


def erasure_requests(conn, senders: Iterable[str] | None = None) -> dict[str, float]:
    """{sender_id: time of its latest erasure request} in the tracker store
    (only these senders when given)."""
    sql = (
        f"SELECT sender_id, MAX(timestamp) FROM {EVENTS} "  # noqa: S608 (constant SQL, values bound)
        "WHERE type_name = 'action' AND action_name = :action"
    )
    if senders is None:
        rows = conn.execute(sa.text(sql + " GROUP BY sender_id"), {"action": ERASE_ACTION})
        return {r[0]: float(r[1] or 0) for r in rows}
    statement = sa.text(sql + " AND sender_id IN :ids GROUP BY sender_id").bindparams(_in("ids"))
    found: dict[str, float] = {}
    for part in _batches(senders):
        rows = conn.execute(statement, {"action": ERASE_ACTION, "ids": part})
        found.update({r[0]: float(r[1] or 0) for r in rows})
    return found


def erase_requested(
    tracker_url: str,
    analytics_url: str | None = None,
    analytics_schema: str | None = "nps_analytics",
    senders: Iterable[str] | None = None,
    key: bytes | None = None,
) -> ErasureReport:
    """Carry out the saved erasure requests (of these senders, or all): each
    conversation's forms, up to just after its request."""
    engine = _engine(tracker_url)
    try:
        with engine.connect() as conn:
            if EVENTS not in _table_names(conn, None):
                return ErasureReport()
            requests = erasure_requests(conn, senders)
    finally:
        engine.dispose()
    total = ErasureReport()
    for sender, at in requests.items():
        report = erase_ids(
            tracker_url,
            conversation_forms(sender),
            analytics_url,
            analytics_schema,
            key,
            before=at + TURN_MARGIN_SECONDS,
        )
        for table, n in report.removed.items():
            total.removed[table] = total.removed.get(table, 0) + n
    return total


def _engine(url: str) -> sa.engine.Engine:
    return sa.create_engine(url)


def _sqlite_file_missing(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return (
        not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file()
    )


def erase_ids(
    tracker_url: str,
    ids: Iterable[str],
    analytics_url: str | None = None,
    analytics_schema: str | None = "nps_analytics",
    key: bytes | None = None,
    before: float | None = None,
    dry_run: bool = False,
) -> ErasureReport:
    """Erase exactly these sender ids: their events and outbox rows in the
    tracker store (at or before `before` when given) and their projection
    rows (matched by pseudonym, computed with `key`, default the installation's)."""
    ids = set(ids)
    report = ErasureReport(dry_run=dry_run)
    engine = _engine(tracker_url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            tables = _table_names(conn, None)
            if EVENTS in tables:
                report.removed[f"tracker store: {EVENTS}"] = erase_tracker_events(conn, ids, before)
            if OUTBOX in tables:
                report.removed[f"tracker store: {OUTBOX}"] = erase_outbox_rows(conn, ids, before)
            for table, n in erase_case_rows(conn, ids, before).items():
                report.removed[f"tracker store: {table}"] = n
            (transaction.rollback if dry_run else transaction.commit)()
    finally:
        engine.dispose()
    if analytics_url and not _sqlite_file_missing(analytics_url):
        from analytics.pseudonym import configured_key, pseudonym

        secret = key if key is not None else configured_key()
        people = {pseudonym(i, secret) for i in ids}
        engine = _engine(analytics_url)
        schema = analytics_schema if engine.dialect.name == "postgresql" else None
        try:
            with engine.connect() as conn:
                transaction = conn.begin()
                for table, n in erase_projection_rows(conn, people, schema).items():
                    report.removed[f"analytics: {table}"] = n
                (transaction.rollback if dry_run else transaction.commit)()
        finally:
            engine.dispose()
    return report


def erase_person(
    tracker_url: str,
    person: str,
    analytics_url: str | None = None,
    analytics_schema: str | None = "nps_analytics",
    key: bytes | None = None,
    dry_run: bool = False,
) -> ErasureReport:
    """Erase a person given as a phone number or id, under every form of it."""
    return erase_ids(
        tracker_url, person_ids(person), analytics_url, analytics_schema, key, dry_run=dry_run
    )


def add_database_arguments(parser: argparse.ArgumentParser, settings) -> None:
    """--db, --analytics-db, --analytics-schema and --dry-run, as erasure and
    retention both take them (defaults: the settings in force)."""
    parser.add_argument("--db", default=settings.db_url, help="tracker store (NPS_DB_URL)")
    parser.add_argument(
        "--analytics-db", default=settings.analytics_db_url, help="NPS_ANALYTICS_DB_URL"
    )
    parser.add_argument("--analytics-schema", default=settings.analytics_schema)
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")


def main(argv: list[str] | None = None) -> int:
    from analytics.settings import load_settings
    from nps.settings import SettingError

    try:
        settings = load_settings()
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m storage.erasure",
        description="Erase a person from the tracker store and the analytics projection.",
    )
    parser.add_argument("person", help="phone number (any notation) or conversation id")
    add_database_arguments(parser, settings)
    args = parser.parse_args(argv)
    try:
        report = erase_person(
            args.db, args.person, args.analytics_db, args.analytics_schema, dry_run=args.dry_run
        )
    except IdentityError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as error:
        from nps.db_error import describe

        print(f"error: database: {describe(error)}", file=sys.stderr)
        return 2
    print(f"{args.person}: looked up under {len(person_ids(args.person))} id form(s)")
    for line in report.lines():
        print(line)
    print(
        "Not reached by this tool: logs, backups, Redis keys (docs/privacy.md, 'Erasing a person')."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

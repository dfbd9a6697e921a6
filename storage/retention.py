"""Retention: conversations whose last event is older than
NPS_RETENTION_DAYS are deleted from the tracker store and the projection,
and outbox rows (the bot's replies on their way out) older than that too
(0, the default, keeps everything).

    python -m storage.retention [--days N] [--dry-run]     (cron, systemd timer)

The action server also runs it hourly (actions/privacy.py). Only events at
or before the cut-off are deleted, so a conversation that gets a new
message while the job runs keeps that message.
"""

from __future__ import annotations

import argparse
import sys
import time

import sqlalchemy as sa

from storage.erasure import (
    EVENTS,
    OUTBOX,
    ErasureReport,
    _engine,
    _table_names,
    add_database_arguments,
    erase_ids,
)

DAY = 86_400.0


def expired_conversations(conn, cutoff: float) -> list[str]:
    """Sender ids whose newest event is older than `cutoff` (Unix time)."""
    rows = conn.execute(
        sa.text(
            f"SELECT sender_id FROM {EVENTS} GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"  # noqa: S608 (constant SQL, values bound)
        ),
        {"cutoff": cutoff},
    )
    return sorted(r[0] for r in rows)


def erase_old_outbox_rows(conn, cutoff: float) -> int:
    """Delete outbox rows (replies sent or given up) created before `cutoff`,
    whatever their conversation's age; the number removed."""
    statement = sa.text(f"DELETE FROM {OUTBOX} WHERE created_at < :cutoff")  # noqa: S608 (constant SQL, values bound)
    return conn.execute(statement, {"cutoff": cutoff}).rowcount or 0


def _apply_to_outbox(tracker_url: str, cutoff: float, report: ErasureReport) -> None:
    engine = _engine(tracker_url)
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            if OUTBOX in _table_names(conn, None):
                name = f"tracker store: {OUTBOX}"
                report.removed[name] = report.removed.get(name, 0) + erase_old_outbox_rows(
                    conn, cutoff
                )
            (transaction.rollback if report.dry_run else transaction.commit)()
    finally:
        engine.dispose()


def apply_retention(
    tracker_url: str,
    days: int,
    analytics_url: str | None = None,
    analytics_schema: str | None = "nps_analytics",
    now: float | None = None,
    key: bytes | None = None,
    dry_run: bool = False,
) -> tuple[int, ErasureReport]:
    """(conversations deleted, rows removed per table); nothing when days is 0."""
    if days <= 0:
        return 0, ErasureReport(dry_run=dry_run)
    cutoff = (time.time() if now is None else now) - days * DAY
    engine = _engine(tracker_url)
    try:
        with engine.connect() as conn:
            tables = _table_names(conn, None)
            senders = expired_conversations(conn, cutoff) if EVENTS in tables else []
    finally:
        engine.dispose()
    if senders:
        report = erase_ids(
            tracker_url,
            senders,
            analytics_url,
            analytics_schema,
            key,
            before=cutoff,
            dry_run=dry_run,
        )
    else:
        report = ErasureReport(dry_run=dry_run)
    if OUTBOX in tables:
        _apply_to_outbox(tracker_url, cutoff, report)
    return len(senders), report


def main(argv: list[str] | None = None) -> int:
    from analytics.settings import load_settings
    from nps.settings import SettingError
    from nps.settings import load_settings as bot_settings

    try:
        settings, days = load_settings(), bot_settings().retention_days
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m storage.retention",
        description="Delete conversations older than NPS_RETENTION_DAYS.",
    )
    parser.add_argument("--days", type=int, default=days, help="default: NPS_RETENTION_DAYS")
    add_database_arguments(parser, settings)
    args = parser.parse_args(argv)
    if args.days < 0:
        parser.error("--days must be 0 or more")
    if args.days == 0:
        print("retention: keep forever (NPS_RETENTION_DAYS=0); nothing deleted")
        return 0
    try:
        count, report = apply_retention(
            args.db, args.days, args.analytics_db, args.analytics_schema, dry_run=args.dry_run
        )
    except sa.exc.SQLAlchemyError as error:
        from nps.db_error import describe

        print(f"error: database: {describe(error)}", file=sys.stderr)
        return 2
    verb = "would delete" if args.dry_run else "deleted"
    print(f"retention {args.days} days: {verb} {count} conversation(s)")
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

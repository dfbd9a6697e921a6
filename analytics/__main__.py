"""Command line: `python -m analytics report|gap|cases|generate|project|forget ...`.

Mistakes the user can fix (unreachable database, wrong URL, a database
without Rasa's events table, a setting that is not a number) end with one
line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import sqlalchemy as sa

from analytics.db import AnalyticsError, tracker_engine, writable_engine
from analytics.settings import load_settings
from nps.db_error import describe
from nps.settings import SettingError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser(settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics", description="NPS analytics")
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser(
        "report", help="NPS, interval, groups and drivers (same numbers as the dashboard)"
    )
    rep.add_argument(
        "--db", default=settings.db_url, help="tracker store URL (default: NPS_DB_URL)"
    )
    rep.add_argument("--format", choices=("json", "csv", "md"), default="json")
    rep.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC)")
    rep.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (UTC), inclusive")
    rep.add_argument(
        "--channel", action="append", help="channel(s): rest, socketio, facebook, whatsapp, twilio"
    )
    rep.add_argument(
        "--touchpoint", action="append", help="touchpoint(s); 'none' = without touchpoint"
    )
    _projection_options(rep, settings)

    gap = sub.add_parser(
        "gap",
        help="the perception gap: employees' predicted NPS and drivers against the "
        "customers' (same numbers as the dashboard's page)",
    )
    gap.add_argument(
        "--db", default=settings.db_url, help="tracker store URL (default: NPS_DB_URL)"
    )
    gap.add_argument("--format", choices=("json", "md"), default="json")
    gap.add_argument("--since", type=_date, help="first day, YYYY-MM-DD (UTC)")
    gap.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (UTC), inclusive")
    gap.add_argument(
        "--channel",
        action="append",
        help="customers' channel(s) (employees answer from their own link: not filtered)",
    )
    gap.add_argument(
        "--touchpoint", action="append", help="store(s) / touchpoint(s); 'none' = without"
    )
    _projection_options(gap, settings)

    cas = sub.add_parser(
        "cases",
        help="open the cases data/cases.yml asks for, then list the cases (docs/closed-loop.md)",
    )
    cas.add_argument(
        "--db", default=settings.db_url, help="tracker store URL (default: NPS_DB_URL)"
    )
    cas.add_argument(
        "--cases-db",
        help="the cases' database (default: NPS_CASES_DB_URL when --db is NPS_DB_URL, "
        "otherwise the --db database itself)",
    )
    cas.add_argument("--format", choices=("json", "md"), default="json")
    cas.add_argument("--no-open", action="store_true", help="only list, open no new cases")
    cas.add_argument("--state", action="append", help="only cases in these state(s)")
    _projection_options(cas, settings)

    gen = sub.add_parser("generate", help="write synthetic conversations into a tracker store")
    gen.add_argument("--db", required=True, help="tracker store URL to write (created if missing)")
    gen.add_argument("--conversations", type=int, default=1000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--end", type=_date, help="last day of the generated period (default: now)")
    gen.add_argument("--months", type=int, default=18)
    gen.add_argument(
        "--employees",
        type=int,
        help="employees' mirror surveys to add (default: one per 20 conversations, "
        "when the bot has the employee survey)",
    )

    proj = sub.add_parser(
        "project", help="update (or --rebuild) the projection and print what was done"
    )
    proj.add_argument(
        "--db", default=settings.db_url, help="tracker store URL (default: NPS_DB_URL)"
    )
    _projection_options(proj, settings)

    forget = sub.add_parser(
        "forget",
        help="remove sender ids' rows from the projection (to erase a person "
        "everywhere use python -m storage.erasure, docs/privacy.md)",
    )
    forget.add_argument("--sender", action="append", required=True, help="sender id (repeatable)")
    forget.add_argument(
        "--analytics-db",
        default=settings.analytics_db_url,
        help="projection database URL (default: NPS_ANALYTICS_DB_URL)",
    )
    forget.add_argument("--analytics-schema", default=settings.analytics_schema)
    return parser


def _projection_options(p: argparse.ArgumentParser, settings) -> None:
    p.add_argument(
        "--analytics-db",
        help="projection database URL (default: NPS_ANALYTICS_DB_URL when --db is "
        "NPS_DB_URL, otherwise a throw-away in-memory projection)",
    )
    p.add_argument(
        "--analytics-schema",
        default=settings.analytics_schema,
        help="schema of the projection on PostgreSQL (default: NPS_ANALYTICS_SCHEMA)",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the projection from scratch")


def _projection(args, settings):
    from analytics.projection import Projection

    url = args.analytics_db
    if url is None:
        # The dashboard's projection follows NPS_DB_URL; a report on another
        # store must not overwrite it, so it gets a projection of its own.
        url = settings.analytics_db_url if args.db == settings.db_url else "sqlite://"
    return Projection(writable_engine(url), args.analytics_schema)


def _report(args, settings) -> int:
    from analytics.dataset import Filters, load_dataset, parse_list
    from analytics.drivers import load_catalogue
    from analytics.report import FORMATS, build_report

    if args.since and args.until and args.since > args.until:
        raise AnalyticsError("--since is after --until")
    tracker = tracker_engine(args.db)
    projection = _projection(args, settings)
    projection.update(tracker, rebuild=args.rebuild)
    ds = load_dataset(projection, parts=())  # the report needs responses and mentions only
    filters = Filters(args.since, args.until, parse_list(args.channel), parse_list(args.touchpoint))
    catalogue = load_catalogue(settings.drivers_file, settings.known_issues_file)
    report = build_report(ds, catalogue, filters, abandon_after_hours=settings.abandon_after_hours)
    sys.stdout.write(FORMATS[args.format](report))
    return 0


def _gap(args, settings) -> int:
    import json

    from analytics import gap
    from analytics.dataset import Filters, filter_dataset, load_dataset, parse_list
    from analytics.drivers import load_catalogue

    if args.since and args.until and args.since > args.until:
        raise AnalyticsError("--since is after --until")
    tracker = tracker_engine(args.db)
    projection = _projection(args, settings)
    projection.update(tracker, rebuild=args.rebuild)
    ds = load_dataset(projection, parts=("employees",))
    filters = Filters(args.since, args.until, parse_list(args.channel), parse_list(args.touchpoint))
    catalogue = load_catalogue(settings.drivers_file, settings.known_issues_file)
    result = gap.build_gap(filter_dataset(ds, filters), catalogue)
    result = {"filters": filters.as_dict(), **result}
    if args.format == "json":
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(gap.to_markdown(result))
    return 0


def _cases(args, settings) -> int:
    import json

    from cases import worker
    from cases.states import STATES
    from cases.store import CaseStore, cases_engine
    from nps.trainer_yaml import TrainerFileError

    for state in args.state or ():
        if state not in STATES:
            raise AnalyticsError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    url = args.cases_db or (settings.cases_db_url if args.db == settings.db_url else args.db)
    store = CaseStore(cases_engine(url))
    store.ensure_tables()
    if not args.no_open:
        tracker = tracker_engine(args.db)
        try:
            opened, reopened = worker.open_and_reopen(
                store,
                tracker,
                _projection(args, settings),
                settings.data_dir,
                time.time(),
                rebuild=args.rebuild,
            )
        except TrainerFileError as exc:
            raise AnalyticsError(str(exc)) from None
        print(f"opened {len(opened)} case(s), reopened {len(reopened)}", file=sys.stderr)
    rows = [_case_json(c) for c in store.list_cases(states_in=args.state)]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(_cases_markdown(rows))
    return 0


_CASE_TIMES = (
    "opened_at",
    "first_contact_due",
    "resolve_due",
    "first_contact_at",
    "resolved_at",
    "closed_at",
    "on_hold_since",
    "acknowledged_at",
)


def _iso(ts) -> str | None:
    if ts is None:
        return None
    moment = dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _case_json(case: dict) -> dict:
    """A case for scripts: times as ISO 8601 UTC; no pseudonym."""
    out = {k: v for k, v in case.items() if k != "person"}
    for key in _CASE_TIMES:
        out[key] = _iso(case.get(key))
    return out


def _cases_markdown(rows: list[dict]) -> str:
    """The cases as a table for people: no conversation ids."""
    head = ("id", "state", "priority", "team", "rule", "store", "score", "opened_at", "resolve_due")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(k) is None else str(r[k]) for k in head) + " |")
    return "\n".join(lines) + "\n"


def _generate(args, settings) -> int:
    from analytics.generate import DomainDrift, generate

    if args.conversations < 0:
        raise AnalyticsError("--conversations must be 0 or more")
    if args.employees is not None and args.employees < 0:
        raise AnalyticsError("--employees must be 0 or more")
    end = None
    if args.end:
        end = dt.datetime.combine(args.end, dt.time(23, 59), tzinfo=dt.timezone.utc).timestamp()
    started = time.perf_counter()
    staff: list = []
    try:
        plans = generate(
            writable_engine(args.db),
            args.conversations,
            args.seed,
            end=end,
            months=args.months,
            employees=args.employees,
            employee_plans=staff,
        )
    except DomainDrift as exc:
        raise AnalyticsError(str(exc)) from None
    print(
        f"wrote {args.conversations} conversations ({len(plans)} surveys) and {len(staff)} "
        f"employees' surveys in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def _project(args, settings) -> int:
    result = _projection(args, settings).update(tracker_engine(args.db), rebuild=args.rebuild)
    print(
        f"{result.mode}: up to event {result.last_event_id}, {result.senders} senders, "
        f"{result.responses} responses written in {result.seconds:.2f} s"
    )
    return 0


def _forget(args, settings) -> int:
    from analytics.projection import Projection

    Projection(writable_engine(args.analytics_db), args.analytics_schema).forget(args.sender)
    print(f"removed {len(set(args.sender))} sender(s) from the projection")
    return 0


def main(argv=None) -> int:
    try:
        settings = load_settings()
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    handler = {
        "report": _report,
        "gap": _gap,
        "cases": _cases,
        "generate": _generate,
        "project": _project,
        "forget": _forget,
    }[args.command]
    try:
        return handler(args, settings)
    except AnalyticsError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except sa.exc.SQLAlchemyError as exc:
        print(f"error: database: {describe(exc)}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""From surveys to cases: the rules of data/cases.yml applied to the
projection's responses, and the win-back score that reopens a case.

`open_cases` is idempotent: a survey has at most one case (the cases table's
response_id is unique), so running it again opens nothing new. Only
finished or stopped surveys are considered (one still in progress may yet
change its answers). A case opens at the time of the survey's last event,
and its due times are that moment plus the rule's SLA hours on the store's
business-hours calendar (cases.sla).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cases import states
from cases.rules import RuleSet, Survey, first_match, suppressed_by
from cases.store import SYSTEM, CaseStore

DONE_OUTCOMES = ("finished", "stopped")
WINBACK_SLOT = "winback_score"
# A win-back score in the detractor range (0-6) reopens the case.
LOW_WINBACK = 6

# due(start, hours, store) -> the due time; datetimes are timezone-aware UTC.
Due = Callable[[dt.datetime, float, "str | None"], dt.datetime]


def sla_due(data_dir: Path | str) -> Due:
    """Due times on the business-hours calendars of data_dir/business_hours.yml."""
    from cases import sla

    calendars = sla.load(data_dir)

    def due(start: dt.datetime, hours: float, store: str | None) -> dt.datetime:
        return sla.add_business_hours(start, hours, sla.calendar_for(store, calendars))

    return due


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def senders_of(tracker: Engine, response_ids: Iterable[int], batch: int = 500) -> dict[int, str]:
    """The conversation id of each response: a response's id is the id of
    the first event of its session in Rasa's events table."""
    from analytics.tracker_source import events

    ids = sorted({int(i) for i in response_ids})
    out: dict[int, str] = {}
    with tracker.connect() as conn:
        for i in range(0, len(ids), batch):
            query = sa.select(events.c.id, events.c.sender_id).where(
                events.c.id.in_(ids[i : i + batch])
            )
            out.update({int(r[0]): r[1] for r in conn.execute(query)})
    return out


def _none(value):
    """pandas' missing values (NaN, NA, None) as None."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:  # pd.NA
        return None
    return value


def surveys_from_dataset(ds, senders: Mapping[int, str]) -> list[Survey]:
    """The analytics Dataset's customer responses as Surveys (its mentions
    and, when loaded, why-answers and texts)."""
    drivers: dict[int, list] = defaultdict(list)
    for rid, driver, polarity in ds.mentions[["response_id", "driver", "polarity"]].itertuples(
        index=False
    ):
        drivers[int(rid)].append((driver, _none(polarity)))
    whys: dict[int, list] = defaultdict(list)
    if len(ds.whys) and "answer" in ds.whys:
        for rid, answer in ds.whys[["response_id", "answer"]].itertuples(index=False):
            if _none(answer):
                whys[int(rid)].append(str(answer))
    out = []
    for row in ds.responses.to_dict("records"):
        rid = int(row["response_id"])
        score = _none(row.get("nps_score"))
        texts = [
            str(row[c])
            for c in ("reason", "improvement", "extra_comment")
            if c in row and _none(row[c])
        ]
        consent = _none(row.get("contact_consent"))
        resolved = _none(row.get("issue_resolved"))
        out.append(
            Survey(
                response_id=rid,
                person=row["person"],
                started_at=float(_none(row.get("started_at")) or 0.0),
                score=None if score is None else int(score),
                group=_none(row.get("nps_group")),
                consent=None if consent is None else bool(consent),
                drivers=tuple(drivers.get(rid, ())),
                known_issue=_none(row.get("known_issue")),
                issue_resolved=None if resolved is None else bool(resolved),
                texts=tuple(texts + whys.get(rid, [])),
                store=_none(row.get("touchpoint")),
                channel=_none(row.get("channel")),
                outcome=_none(row.get("survey_outcome")),
                answered_at=_none(row.get("last_event_at")),
                sender=senders.get(rid),
            )
        )
    return out


def _detractor_times(surveys: Sequence[Survey]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for s in surveys:
        if s.group == "detractor":
            times[s.person].append(s.started_at)
    return times


def plan_cases(surveys: Sequence[Survey], ruleset: RuleSet, due: Due, now: float) -> list[dict]:
    """The cases the rules open for these surveys (pure): one row per
    matching survey that is done, not suppressed and linked to a sender."""
    earlier = _detractor_times(surveys)
    rows = []
    for s in sorted(surveys, key=lambda s: (s.started_at, s.response_id)):
        if s.outcome not in DONE_OUTCOMES or not s.sender:
            continue
        if suppressed_by(ruleset, s) is not None:
            continue
        before = [t for t in earlier.get(s.person, ()) if t < s.started_at]
        rule = first_match(ruleset, s, before)
        if rule is None:
            continue
        opened = min(now, s.answered_at if s.answered_at is not None else now)
        start = _utc(opened)
        rows.append(
            {
                "sender": s.sender,
                "response_id": s.response_id,
                "person": s.person,
                "store": s.store,
                "channel": s.channel,
                "rule": rule.id,
                "priority": rule.priority,
                "team": rule.team,
                "state": states.NEW,
                "opened_at": opened,
                "first_contact_due": due(start, rule.first_contact_hours, s.store).timestamp(),
                "resolve_due": due(start, rule.resolve_hours, s.store).timestamp(),
                "score": s.score,
            }
        )
    return rows


def open_cases(
    dataset_or_rows,
    rules: RuleSet,
    store: CaseStore,
    now: float,
    *,
    tracker: Engine | None = None,
    due: Due | None = None,
    data_dir: Path | str | None = None,
) -> list[int]:
    """Open the cases the rules ask for; returns the new cases' ids (none
    for a survey that already has one).

    `dataset_or_rows`: Surveys, or an analytics Dataset (then `tracker`, the
    tracker store, gives each response's conversation id). `due` defaults to
    the business-hours calendars of `data_dir` (cases.sla)."""
    if isinstance(dataset_or_rows, (list, tuple)):
        surveys = list(dataset_or_rows)
    else:
        if tracker is None:
            raise ValueError("open_cases from a Dataset needs the tracker store (tracker=)")
        rids = [int(r) for r in dataset_or_rows.responses["response_id"]]
        surveys = surveys_from_dataset(dataset_or_rows, senders_of(tracker, rids))
    if due is None:
        from nps.settings import load_settings

        due = sla_due(data_dir if data_dir is not None else load_settings().data_dir)
    known = store.response_ids()
    opened = []
    for row in plan_cases([s for s in surveys], rules, due, now):
        if row["response_id"] in known:
            continue
        case_id = store.open_case(row, who=SYSTEM)
        if case_id is not None:
            opened.append(case_id)
    return opened


# --- win-back -----------------------------------------------------------------


def winback_scores(
    tracker: Engine, senders: Iterable[str], batch: int = 500
) -> dict[str, list[tuple[float, int]]]:
    """Each sender's `winback_score` slot values (time, score) in event order."""
    from analytics.tracker_source import events

    senders = sorted(set(senders))
    out: dict[str, list[tuple[float, int]]] = defaultdict(list)
    with tracker.connect() as conn:
        for i in range(0, len(senders), batch):
            query = (
                sa.select(events.c.sender_id, events.c.timestamp, events.c.data)
                .where(
                    events.c.sender_id.in_(senders[i : i + batch]),
                    events.c.type_name == "slot",
                    events.c.action_name == WINBACK_SLOT,
                )
                .order_by(events.c.id)
            )
            for sender, ts, data in conn.execute(query):
                try:
                    value = json.loads(data or "{}").get("value")
                except (ValueError, AttributeError):
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                if 0 <= value <= 10 and ts is not None:
                    out[sender].append((float(ts), int(value)))
    return out


def reopen_low_winbacks(
    store: CaseStore, tracker: Engine, now: float, who: str = SYSTEM
) -> list[int]:
    """Record the win-back score the customer gave after a case was
    resolved (the last one set since resolving) and reopen the case when it
    is low (0-6). Returns the reopened cases' ids."""
    resolved = store.list_cases(states_in=[states.RESOLVED])
    if not resolved:
        return []
    scores = winback_scores(tracker, [c["sender"] for c in resolved])
    reopened = []
    for case in resolved:
        after = [score for ts, score in scores.get(case["sender"], ()) if ts >= case["resolved_at"]]
        if not after:
            continue
        score = after[-1]
        if case["winback_score"] != score:
            store.set_fields(case["id"], who, now, winback_score=score)
        if score <= LOW_WINBACK:
            store.transition(case["id"], states.REOPENED, who, now, note=f"win-back score {score}")
            reopened.append(case["id"])
    return reopened

"""The projection loaded into pandas, and the filters every view shares.

Loading is separate from the statistics: `load_dataset` reads, `filter_dataset`
and `with_status` are pure, so the dashboard and the report CLI filter and
count in exactly the same way.

Customers and employees: `Dataset.responses` (and the mentions, whys and
offers hanging on them) hold customers' responses only, so no customer
statistic can count an employee's mirror survey. Employees' responses and
the drivers they believe in are apart, in `employees` and
`employee_mentions` (analytics.gap reads them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from analytics import schema
from analytics.projection import Projection

NO_TOUCHPOINT = "none"  # filter value for "no touchpoint in the start payload"


@dataclass(frozen=True)
class Dataset:
    responses: pd.DataFrame
    mentions: pd.DataFrame
    whys: pd.DataFrame
    offers: pd.DataFrame
    extra_comments: pd.DataFrame
    # Last projected event id: changes whenever the data does (cache key).
    version: str = ""
    # Employees' mirror surveys (role "employee"), and their believed drivers
    # (employee_drivers rows). Empty unless load_dataset was asked for them.
    employees: pd.DataFrame = field(default_factory=lambda: _frame(schema.responses))
    employee_mentions: pd.DataFrame = field(default_factory=lambda: _frame(schema.employee_drivers))

    @property
    def empty(self) -> bool:
        """No customer responses (employees' answers alone are no data for
        the customer pages)."""
        return self.responses.empty


def _frame(table) -> pd.DataFrame:
    return pd.DataFrame(columns=[c.name for c in table.columns])


def empty_dataset() -> Dataset:
    return Dataset(
        _frame(schema.responses),
        _frame(schema.driver_mentions),
        _frame(schema.why_answers),
        _frame(schema.known_issue_offers),
        _frame(schema.extra_comments),
    )


# What the report needs of a response. The reason's text is replaced by a
# marker: the report only asks whether there is one (the projection stores
# blank answers as NULL), and 100k texts are the slowest part to read.
REPORT_COLUMNS = (
    schema.responses.c.response_id,
    schema.responses.c.channel,
    schema.responses.c.touchpoint,
    schema.responses.c.started_at,
    schema.responses.c.last_event_at,
    schema.responses.c.closed,
    schema.responses.c.nps_score,
    schema.responses.c.survey_outcome,
    # How the why-chains ended (analytics.why_chains).
    schema.responses.c.probed_driver,
    schema.responses.c.why_driver,
    schema.responses.c.why_depth,
    schema.responses.c.why_stop,
    schema.responses.c.role,
    sa.case((schema.responses.c.reason.isnot(None), sa.literal("(text)")), else_=sa.null()).label(
        "reason"
    ),
)


DEFAULT_PARTS = ("texts", "whys", "offers", "extra_comments", "employees")


def load_dataset(projection: Projection, parts: tuple = DEFAULT_PARTS) -> Dataset:
    """The projection as frames. Customers' responses and driver mentions
    are always read; `parts` names what else is wanted: "texts" (every
    response column, with the customers' words), "whys", "offers",
    "extra_comments", "employees" (employees' responses and believed
    drivers). The report needs none of them.

    Only rows of role "customer" become `responses`; mentions, whys and
    offers are kept only for them."""
    projection.ensure_tables()
    with projection.engine.connect() as conn:
        version = projection.state(conn).get("last_event_id", "")
    columns = None if "texts" in parts else REPORT_COLUMNS
    responses = _responses(projection, schema.CUSTOMER, columns)
    customer_ids = set(responses["response_id"])
    offers = (
        projection.read_table(schema.known_issue_offers)
        if "offers" in parts
        else _frame(schema.known_issue_offers)
    )
    for col in ("score_before", "score_after"):
        offers[col] = pd.array(offers[col], dtype="Int64") if len(offers) else offers[col]
    mentions = projection.read_table(
        schema.driver_mentions,
        columns=None
        if "texts" in parts
        else (
            schema.driver_mentions.c.response_id,
            schema.driver_mentions.c.driver,
            schema.driver_mentions.c.polarity,
        ),
    )
    whys = (
        projection.read_table(schema.why_answers) if "whys" in parts else _frame(schema.why_answers)
    )
    if "employees" in parts:
        employees = _responses(projection, schema.EMPLOYEE, None)
        employee_mentions = projection.read_table(schema.employee_drivers)
    else:
        employees, employee_mentions = _frame(schema.responses), _frame(schema.employee_drivers)
    return Dataset(
        responses=responses,
        mentions=_of(mentions, customer_ids),
        whys=_of(whys, customer_ids),
        offers=_of(offers, customer_ids),
        extra_comments=(
            projection.read_table(schema.extra_comments)
            if "extra_comments" in parts
            else _frame(schema.extra_comments)
        ),
        version=version,
        employees=employees,
        employee_mentions=_of(employee_mentions, set(employees["response_id"])),
    )


def _responses(projection: Projection, role: str, columns) -> pd.DataFrame:
    frame = projection.read_table(
        schema.responses, where=schema.responses.c.role == role, columns=columns
    )
    # Nullable integers, so a missing score stays missing instead of NaN floats.
    for col in ("nps_score", "nps_score_after", "predicted_score"):
        if col in frame and len(frame):
            frame[col] = pd.array(frame[col], dtype="Int64")
    return frame.sort_values("response_id").reset_index(drop=True)


def _of(rows: pd.DataFrame, response_ids: set) -> pd.DataFrame:
    """The rows that hang on these responses (a child table of another role's
    response is dropped)."""
    if rows.empty:
        return rows
    return rows[rows["response_id"].isin(response_ids)].reset_index(drop=True)


@dataclass(frozen=True)
class Filters:
    since: dt.date | None = None  # inclusive, UTC day
    until: dt.date | None = None  # inclusive, UTC day
    channels: tuple = field(default_factory=tuple)  # empty: all
    touchpoints: tuple = field(default_factory=tuple)  # empty: all; "none" = no touchpoint

    def as_dict(self) -> dict:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "channel": list(self.channels) or None,
            "touchpoint": list(self.touchpoints) or None,
        }


def _day_start(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()


def filter_dataset(ds: Dataset, f: Filters) -> Dataset:
    if f == Filters():
        return ds
    r = ds.responses
    keep = pd.Series(True, index=r.index)
    if f.since:
        keep &= r["started_at"] >= _day_start(f.since)
    if f.until:
        keep &= r["started_at"] < _day_start(f.until + dt.timedelta(days=1))
    if f.channels:
        keep &= r["channel"].isin(list(f.channels))
    if f.touchpoints:
        wanted = [t for t in f.touchpoints if t != NO_TOUCHPOINT]
        tp = r["touchpoint"].isin(wanted)
        if NO_TOUCHPOINT in f.touchpoints:
            tp |= r["touchpoint"].isna()
        keep &= tp
    responses = r[keep].reset_index(drop=True)
    employees = _filter_employees(ds.employees, f)
    extra = ds.extra_comments
    if f.since:
        extra = extra[extra["at"] >= _day_start(f.since)]
    if f.until:
        extra = extra[extra["at"] < _day_start(f.until + dt.timedelta(days=1))]
    if f.channels:
        extra = extra[extra["channel"].isin(list(f.channels))]
    part = subset(ds, responses, extra)
    return dataclasses.replace(
        part,
        employees=employees,
        employee_mentions=_of(ds.employee_mentions, set(employees["response_id"])),
    )


def _filter_employees(e: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Employees under the same dates and touchpoints as the customers. The
    channel filter does not apply: employees answer from their own link, on
    whatever channel it opens, which says nothing of the customers'."""
    if e.empty:
        return e
    keep = pd.Series(True, index=e.index)
    if f.since:
        keep &= e["started_at"] >= _day_start(f.since)
    if f.until:
        keep &= e["started_at"] < _day_start(f.until + dt.timedelta(days=1))
    if f.touchpoints:
        wanted = [t for t in f.touchpoints if t != NO_TOUCHPOINT]
        tp = e["touchpoint"].isin(wanted)
        if NO_TOUCHPOINT in f.touchpoints:
            tp |= e["touchpoint"].isna()
        keep &= tp
    return e[keep].reset_index(drop=True)


def scope_employees(ds: Dataset, touchpoints: Sequence[str]) -> Dataset:
    """`ds` with only the employees of these touchpoints (a store manager's
    stores); customers are left as they are (analytics.dashboard.auth.scope
    cuts them)."""
    e = ds.employees
    kept = e[e["touchpoint"].isin(list(touchpoints))].reset_index(drop=True) if len(e) else e
    return dataclasses.replace(
        ds, employees=kept, employee_mentions=_of(ds.employee_mentions, set(kept["response_id"]))
    )


def subset(ds: Dataset, responses: pd.DataFrame, extra_comments: pd.DataFrame) -> Dataset:
    """`ds` cut down to these responses (their mentions, whys and known-issue
    offers follow them) and these extra comments."""
    ids = set(responses["response_id"])
    return Dataset(
        responses=responses,
        mentions=ds.mentions[ds.mentions["response_id"].isin(ids)].reset_index(drop=True),
        whys=ds.whys[ds.whys["response_id"].isin(ids)].reset_index(drop=True),
        offers=ds.offers[ds.offers["response_id"].isin(ids)].reset_index(drop=True),
        extra_comments=extra_comments.reset_index(drop=True),
        version=ds.version,
        # Employees are not the customers' children: they stay as they are
        # (filter_dataset and scope_employees cut them).
        employees=ds.employees,
        employee_mentions=ds.employee_mentions,
    )


STATUSES = ("finished", "stopped", "in_progress", "abandoned")


def with_status(
    responses: pd.DataFrame, now: float, abandon_after_hours: float = 24.0
) -> pd.DataFrame:
    """Add `status`: finished / stopped (the survey says so), abandoned (no
    outcome, and the customer started over or has been silent longer than
    `abandon_after_hours`), otherwise in_progress. Computed when read, not
    stored, because it depends on the clock and the projection must not."""
    if responses.empty:
        return responses.assign(status=pd.Series(dtype="object"))
    outcome = responses["survey_outcome"]
    silent = (now - responses["last_event_at"].astype(float)) > abandon_after_hours * 3600.0
    status = pd.Series("in_progress", index=responses.index, dtype="object")
    status[responses["closed"].astype(bool) | silent] = "abandoned"
    status[outcome == "stopped"] = "stopped"
    status[outcome == "finished"] = "finished"
    return responses.assign(status=status)


def status_counts(responses: pd.DataFrame, now: float, abandon_after_hours: float = 24.0) -> dict:
    counts = with_status(responses, now, abandon_after_hours)["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def parse_list(values: Sequence[str] | None) -> tuple:
    """CLI / widget values: repeated options or comma-separated lists."""
    out: list[str] = []
    for v in values or ():
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return tuple(dict.fromkeys(out))

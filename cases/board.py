"""What the dashboard's case pages show: who may see which case, the queue
with each case's age and SLA status, and a case's conversation.

Pure functions over the case rows of cases.store (plain dicts), except
``conversation``, which reads one conversation's messages from the tracker
store. The pages (analytics/dashboard/views/cases.py) stay thin.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cases import sla, states

# The clock an open case is measured against: first contact until someone
# reached the customer, then resolution.
FIRST_CONTACT = "first_contact"
RESOLUTION = "resolution"
AGE_BUCKETS = (("<1 d", 0, 1), ("1-3 d", 1, 3), ("3-7 d", 3, 7), (">7 d", 7, None))


def may_see(case: Mapping, analyst: bool, stores: Iterable[str]) -> bool:
    """Analysts see every case; a store manager only their stores' cases
    (and may change those: seeing and changing follow the same rule)."""
    return analyst or case.get("store") in set(stores)


def visible(cases: Iterable[Mapping], analyst: bool, stores: Iterable[str]) -> list[dict]:
    stores = set(stores)
    return [dict(c) for c in cases if may_see(c, analyst, stores)]


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def age_bucket(opened_at: float, now: float) -> str:
    days = max(0.0, now - opened_at) / 86400.0
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days < high):
            return name
    return AGE_BUCKETS[-1][0]


def clock(case: Mapping) -> tuple[str, float | None] | None:
    """The SLA clock an open case runs against, and its due time; None when
    closed (or no due time was set)."""
    if case.get("state") in states.CLOSED:
        return None
    if case.get("first_contact_at") is None and case.get("first_contact_due") is not None:
        return FIRST_CONTACT, case["first_contact_due"]
    if case.get("resolve_due") is not None:
        return RESOLUTION, case["resolve_due"]
    return None


def sla_of(case: Mapping, now: float, calendars: sla.Calendars) -> str | None:
    """ok / at_risk / breached on the running clock; None for a closed case."""
    running = clock(case)
    if running is None:
        return None
    _, due = running
    calendar = sla.calendar_for(case.get("store"), calendars)
    paused = float(case.get("paused_seconds") or 0.0)
    if case.get("on_hold_since") is not None:  # on hold now: the clock stands still
        now = float(case["on_hold_since"])
    return sla.sla_status(_utc(case["opened_at"]), _utc(due), _utc(now), calendar, paused)


def queue(
    cases: Sequence[Mapping],
    now: float,
    calendars: sla.Calendars,
    states_in: Iterable[str] | None = None,
    stores: Iterable[str] | None = None,
    slas: Iterable[str] | None = None,
    ages: Iterable[str] | None = None,
) -> list[dict]:
    """The queue: each case with its age bucket, running clock and SLA
    status, filtered; breached first, then at risk, then by due time."""
    wanted = {
        "state": set(states_in) if states_in is not None else None,
        "store": set(stores) if stores is not None else None,
        "sla": set(slas) if slas is not None else None,
        "age": set(ages) if ages is not None else None,
    }
    rows = []
    for case in cases:
        row = dict(case)
        running = clock(case)
        row["age"] = age_bucket(case["opened_at"], now)
        row["clock"] = running[0] if running else None
        row["due"] = running[1] if running else None
        row["sla"] = sla_of(case, now, calendars)
        if all(allowed is None or row[key] in allowed for key, allowed in wanted.items()):
            rows.append(row)
    order = {sla.BREACHED: 0, sla.AT_RISK: 1, sla.OK: 2, None: 3}
    return sorted(rows, key=lambda r: (order[r["sla"]], r["due"] or float("inf"), r["id"]))


@dataclass(frozen=True)
class Line:
    """One message of a case's conversation."""

    at: float
    who: str  # "customer", "bot" or "agent"
    text: str


def conversation(tracker: Engine, sender: str, limit: int = 500) -> tuple[list[Line], dict]:
    """The messages of a conversation, oldest first (at most ``limit``, the
    newest), and the last value of each slot. Agent messages are the bot
    events whose metadata says ``agent_reply`` (actions/closed_loop.py); a
    triggered intent's own user event (metadata ``is_external``) is left out."""
    events = sa.table(
        "events",
        sa.column("id"),
        sa.column("sender_id"),
        sa.column("type_name"),
        sa.column("timestamp"),
        sa.column("data"),
    )
    query = (
        sa.select(events.c.type_name, events.c.timestamp, events.c.data)
        .where(events.c.sender_id == sender, events.c.type_name.in_(("user", "bot", "slot")))
        .order_by(events.c.id)
    )
    lines: list[Line] = []
    slots: dict = {}
    with tracker.connect() as conn:
        for type_name, timestamp, raw in conn.execute(query):
            try:
                data = json.loads(raw or "{}")
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            if type_name == "slot":
                slots[data.get("name")] = data.get("value")
                continue
            text = data.get("text")
            metadata = data.get("metadata") or {}
            if not text or metadata.get("is_external"):
                continue
            if type_name == "user":
                who = "customer"
            else:
                who = "agent" if metadata.get("agent_reply") else "bot"
            lines.append(Line(float(timestamp or 0.0), who, str(text)))
    return lines[-limit:], slots

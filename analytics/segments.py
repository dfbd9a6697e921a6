"""From Rasa events to projection rows: pure, no database.

How a response is cut out of the event stream
- A sender's events are split into segments at `session_started` and
  `restart` events. A segment that contains `active_loop` {name:
  survey_form} is a response; its id is the id of the segment's first event.
- Slot events take the last value set in the segment. Slot events between a
  boundary and the segment's first user message are ignored: that is where
  Rasa's session start carries slots over (or a custom session start resets
  them), and they belong to no answer of this survey.
- Channel and time come from the segment's first user message.
- The driver the why-chain probes is the one the bot probed: when the form
  first sets `requested_slot` to `why_answer`, `nps.drivers.main_negative`
  of the drivers known at that moment (None: generic whys).
- How the chain ended is read from the bot's slots `why_depth`,
  `why_stop` and `why_driver` (last values), as written.
- Conversations of the dashboard's "Try the bot" page (`rest:try-…`) are
  never counted.

Employees' mirror surveys
- A segment whose `role` slot is "employee" is an employee's (any other
  value, or none, is a customer's). The role is read from anywhere in the
  segment, also before the first user message: a signed link may be read at
  session start, and a slot carried over there is still the same person's.
- It is a response when the employee answered something (`predicted_score`,
  `predicted_praise`, `predicted_complaint`, `proposed_fix`,
  `employee_drivers`) or a form other than the comment form was activated.
- Its drivers come from `employee_drivers` only and go to the
  employee_drivers table, never to driver_mentions; it never has a score or
  group (an `nps_score` slot set by mistake is not stored).
- `survey_wave` is the link's label; without one, the month the
  conversation started (UTC, YYYY-MM).

What is stored is bounded: the person is a keyed pseudonym of the sender id
(analytics.pseudonym), every string fits its column (clamped, NUL removed),
an unknown channel is "other" and the touchpoint passes
`nps.flow.clean_touchpoint` again (a typed `/intent{"touchpoint": …}` may
have set the slot). One hostile value must never fail a PostgreSQL update.

Rows are dicts keyed by column name; `Rows.tuples` puts them in the order of
the table definition (analytics.schema), so a row and its table cannot drift
apart silently (a missing column is a KeyError).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from analytics import schema, tracker_source
from analytics.stats import nps_group
from nps.drivers import POLARITIES, main_negative, split_tag
from nps.flow import clean_touchpoint

SURVEY_FORM = "survey_form"
COMMENT_FORM = "comment_form"
ROLE_SLOT = "role"
# An employee segment with one of these is an answered mirror survey.
EMPLOYEE_ANSWER_SLOTS = (
    "predicted_score",
    "predicted_praise",
    "predicted_complaint",
    "proposed_fix",
    "employee_drivers",
)
WHY_SLOT = "why_answer"
# The channels' input_channel names (channels/, Rasa's rest and socketio).
KNOWN_CHANNELS = ("facebook", "whatsapp", "twilio", "socketio", "rest")
OTHER_CHANNEL = "other"
# Conversations that are never counted: the dashboard's "Try the bot" page
# (issued as REST sender try-<uuid>; dashboard-<uuid> before channel prefixes).
NOT_COUNTED_PREFIXES = ("rest:try-", "rest:dashboard-", "dashboard-")


def counted(sender_id: str) -> bool:
    return not str(sender_id).startswith(NOT_COUNTED_PREFIXES)


def _length(table: sa.Table, column: str) -> int | None:
    return getattr(table.c[column].type, "length", None)


def _bounded(value: str | None, limit: int | None) -> str | None:
    """The value without NUL (PostgreSQL refuses it in text), cut to the
    column's length."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    if limit is not None:
        value = value[:limit]
    return value or None


def _channel(value) -> str | None:
    channel = _text(value)
    if channel is None:
        return None
    return channel if channel in KNOWN_CHANNELS else OTHER_CHANNEL


# --- slot values -----------------------------------------------------------


def _score(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            return None
        value = int(value)
    if isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value <= 10:
        return int(value)
    return None


def _count(value) -> int | None:
    """A count the bot stores as a number slot (Rasa's float slots give 2.0)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        value = int(value)
    if isinstance(value, (int, float)) and float(value).is_integer() and 0 <= value < 2**31:
        return int(value)
    return None


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    return value or None


def _text_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return []
    return [t for t in (_text(v) for v in value) if t is not None]


def role_of(value) -> str:
    """schema.EMPLOYEE for the role slot's value "employee", else
    schema.CUSTOMER (customers never set it)."""
    return schema.EMPLOYEE if _text(value) == schema.EMPLOYEE else schema.CUSTOMER


def month_of(ts: float | None) -> str | None:
    """YYYY-MM of a unix time (UTC): a wave label for a link that had none."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m")


def drivers_of(value) -> list[tuple[str, str | None]]:
    """The `drivers` slot, ["staff:pos", "price:neg"], as [("staff", "pos"),
    ("price", "neg")]: each (driver, polarity) once, in the order first
    named. Tags are read by nps.drivers.split_tag, as the bot writes them; a
    value without a known polarity is kept whole, with polarity None."""
    out: list[tuple[str, str | None]] = []
    for item in _text_list(value):
        driver, polarity = split_tag(item)
        if polarity not in POLARITIES:
            driver, polarity = item, None
        key = (driver.strip(), polarity)
        if key[0] and key not in out:
            out.append(key)
    return out


# --- segments -------------------------------------------------------------


@dataclass(slots=True)
class Segment:
    segment_id: int
    sender_id: str
    first_event_at: float | None
    surveyed: bool = False
    seen_user: bool = False
    channel: str | None = None
    started_at: float | None = None
    last_event_at: float | None = None
    last_event_id: int = 0
    closed: bool = False
    slots: dict = field(default_factory=dict)
    offers: list = field(default_factory=list)
    why_asked: bool = False
    probed_driver: str | None = None
    # A form other than the comment form was activated (an employee's survey
    # may have its own form).
    form_started: bool = False
    # The `role` slot as set before the first user message (see the module doc).
    early_role: Any = None

    @property
    def employee(self) -> bool:
        return role_of(self.slots.get(ROLE_SLOT, self.early_role)) == schema.EMPLOYEE

    def set_slot(self, name: str, value: Any) -> None:
        if name == tracker_source.REQUESTED_SLOT:
            if value == WHY_SLOT and not self.why_asked:
                self.why_asked = True
                tags = "employee_drivers" if self.employee else "drivers"
                self.probed_driver = main_negative(_text_list(self.slots.get(tags)))
            return
        self.slots[name] = value
        if name == "known_issue":
            issue = _text(value)
            if issue is not None and (not self.offers or self.offers[-1]["known_issue"] != issue):
                self.offers.append(
                    {
                        "known_issue": issue,
                        "issue_resolved": None,
                        "score_after": None,
                        "score_before": _score(self.slots.get("nps_score")),
                    }
                )
        elif name == "issue_resolved" and self.offers:
            self.offers[-1]["issue_resolved"] = _flag(value)
        elif name == "nps_score_after" and self.offers:
            self.offers[-1]["score_after"] = _score(value)

    def reset(self) -> None:
        self.slots.clear()
        self.offers.clear()
        self.why_asked = False
        self.probed_driver = None
        self.form_started = False
        self.early_role = None


def _fit(table: sa.Table, row: dict) -> dict:
    """Every string of the row bounded to its column (see the module doc)."""
    for column in table.columns:
        value = row[column.name]
        if isinstance(value, str):
            value = _bounded(value, _length(table, column.name))
            row[column.name] = "" if value is None and not column.nullable else value
    return row


@dataclass
class Rows:
    """Projection rows produced from some events, one dict per row, keyed
    by the column names of analytics.schema. `person` turns a sender id into
    the pseudonym stored in its place (analytics.pseudonym)."""

    person: Callable[[str], str]
    responses: list = field(default_factory=list)
    driver_mentions: list = field(default_factory=list)
    employee_drivers: list = field(default_factory=list)
    why_answers: list = field(default_factory=list)
    known_issue_offers: list = field(default_factory=list)
    extra_comments: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.responses) + len(self.extra_comments)

    def tuples(self, table: sa.Table) -> list[tuple]:
        """This table's rows as tuples in its column order (for bulk inserts)."""
        get = operator.itemgetter(*schema.columns(table))
        return [get(row) for row in getattr(self, table.name)]

    def tables(self) -> Iterator[tuple[sa.Table, list[tuple]]]:
        for table in schema.DATA_TABLES:
            yield table, self.tuples(table)

    def _append(self, table: sa.Table, row: dict) -> None:
        getattr(self, table.name).append(_fit(table, row))

    def add(self, seg: Segment) -> None:
        if not counted(seg.sender_id):
            return
        slots = seg.slots
        person = self.person(seg.sender_id)
        channel = _channel(seg.channel)
        started = seg.started_at if seg.started_at is not None else seg.first_event_at
        employee = seg.employee
        if employee:
            answered = seg.form_started or any(
                slots.get(name) not in (None, "", []) for name in EMPLOYEE_ANSWER_SLOTS
            )
            if answered:
                self._add_response(seg, person, channel, started, employee=True)
                return
        if not seg.surveyed:
            comment = _text(slots.get("extra_comment"))
            if comment is not None:
                self._append(
                    schema.extra_comments,
                    {
                        "segment_id": seg.segment_id,
                        "person": person,
                        "channel": channel,
                        "at": started,
                        "comment": comment,
                    },
                )
            return
        self._add_response(seg, person, channel, started, employee=False)

    def _add_response(self, seg: Segment, person, channel, started, employee: bool) -> None:
        slots = seg.slots
        rid = seg.segment_id
        # An employee's answer never carries a customer's score (see the module doc).
        score = None if employee else _score(slots.get("nps_score"))
        self._append(
            schema.responses,
            {
                "response_id": rid,
                "person": person,
                "channel": channel,
                "touchpoint": clean_touchpoint(slots.get("touchpoint")),
                "started_at": started,
                "last_event_at": seg.last_event_at,
                "last_event_id": seg.last_event_id,
                "closed": seg.closed,
                "nps_score": score,
                # Derived from the score, not read from the nps_group slot, so
                # the group can never disagree with the score that NPS uses.
                "nps_group": nps_group(score),
                "reason": _text(slots.get("reason")),
                "improvement": _text(slots.get("improvement")),
                "valued_most": _text(slots.get("valued_most")),
                "extra_comment": _text(slots.get("extra_comment")),
                "known_issue": _text(slots.get("known_issue")),
                "issue_resolved": _flag(slots.get("issue_resolved")),
                "nps_score_after": _score(slots.get("nps_score_after")),
                "contact_consent": _flag(slots.get("contact_consent")),
                "survey_outcome": _text(slots.get("survey_outcome")),
                "probed_driver": seg.probed_driver,
                "why_depth": _count(slots.get("why_depth")),
                "why_stop": _text(slots.get("why_stop")),
                "why_driver": _text(slots.get("why_driver")),
                "role": schema.EMPLOYEE if employee else schema.CUSTOMER,
                "predicted_score": _score(slots.get("predicted_score")) if employee else None,
                "predicted_praise": _text(slots.get("predicted_praise")) if employee else None,
                "predicted_complaint": (
                    _text(slots.get("predicted_complaint")) if employee else None
                ),
                "proposed_fix": _text(slots.get("proposed_fix")) if employee else None,
                "survey_wave": (
                    (_text(slots.get("survey_wave")) or month_of(started)) if employee else None
                ),
            },
        )
        tags, table = (
            ("employee_drivers", schema.employee_drivers)
            if employee
            else ("drivers", schema.driver_mentions)
        )
        for pos, (driver, polarity) in enumerate(drivers_of(slots.get(tags))):
            self._append(
                table,
                {"response_id": rid, "position": pos, "driver": driver, "polarity": polarity},
            )
        for pos, answer in enumerate(_text_list(slots.get("why_chain"))):
            self._append(
                schema.why_answers, {"response_id": rid, "position": pos, "answer": answer}
            )
        for pos, offer in enumerate(seg.offers):
            self._append(schema.known_issue_offers, {"response_id": rid, "position": pos, **offer})


def build_segments(events_in_order: Iterable[tuple], emit: Rows) -> None:
    """Feed events (RawEvent-ordered tuples, in id order per sender) through
    one open segment per sender; a segment is added to `emit` when its
    sender's next boundary arrives, the open ones at the end."""
    open_segments: dict[str, Segment] = {}
    boundaries = tracker_source.BOUNDARY_TYPES
    decode = tracker_source.decode_value
    for event_id, sender, kind, ts, name, channel, value, value_type in events_in_order:
        seg = open_segments.get(sender)
        if kind in boundaries:
            if seg is not None:
                seg.closed = True
                emit.add(seg)
            open_segments[sender] = Segment(
                event_id, sender, ts, last_event_at=ts, last_event_id=event_id
            )
            continue
        if seg is None:
            # The sender's history starts without a session start (older
            # trackers, or a store trimmed by hand): the first event opens it.
            seg = open_segments[sender] = Segment(event_id, sender, ts)
        seg.last_event_id = event_id
        if ts is not None:
            seg.last_event_at = ts
        if kind == "slot":
            if seg.seen_user:
                seg.set_slot(name, decode(value, value_type))
            elif name == ROLE_SLOT:
                seg.early_role = decode(value, value_type)
        elif kind == "user":
            if not seg.seen_user:
                seg.seen_user = True
                seg.started_at = ts
                seg.channel = _text(channel)
        elif kind == "active_loop":
            if name == SURVEY_FORM:
                seg.surveyed = True
            if name and name != COMMENT_FORM:
                seg.form_started = True
        elif kind == "reset_slots":
            seg.reset()
    for seg in open_segments.values():
        emit.add(seg)

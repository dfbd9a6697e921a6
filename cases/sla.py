"""SLA clocks in business hours: a calendar per store, due times, "at risk".

An SLA of 8 hours means 8 hours while the team works: the clock runs only
inside a store's opening hours, in its time zone (summer and winter time
included), and stops at night, at weekends not listed and on holidays. The
calendars come from the trainers' file data/business_hours.yml (a default and
per-store overrides; the file's header explains its shape).

Pure standard library and PyYAML: it runs in the bot's environment
(`make validate` calls `problems`) and in analytics' (the cases, the alerts).
Datetimes in and out are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nps import trainer_yaml
from nps.trainer_yaml import LINE, TrainerFileError, line_of

FILE_NAME = "business_hours.yml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# "At risk" once this share of the business time to the due time is used.
AT_RISK_SHARE = 0.75
# How far ahead due times are searched: a calendar open one hour a year still works.
_MAX_DAYS = 3 * 366
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

OK, AT_RISK, BREACHED = "ok", "at_risk", "breached"


@dataclass(frozen=True)
class Calendar:
    """One store's working time: ranges of minutes after local midnight per
    weekday (0 = Monday), holidays, a time zone."""

    timezone: str = "Europe/Warsaw"
    # weekday -> ((start_minute, end_minute), ...), sorted, not overlapping;
    # end_minute may be 1440 (midnight at the end of the day).
    hours: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def ranges_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """The opening ranges of a local date (none on a holiday)."""
        if day in self.holidays:
            return ()
        return self.hours.get(day.weekday(), ())

    def is_ever_open(self) -> bool:
        return any(self.hours.get(d) for d in range(7))


@dataclass(frozen=True)
class Calendars:
    """The default calendar and the stores' own."""

    default: Calendar
    stores: Mapping[str, Calendar] = field(default_factory=dict)


def calendar_for(store: str | None, calendars: Calendars) -> Calendar:
    """The calendar of a store; the default for an unknown or missing store."""
    if store is not None and store in calendars.stores:
        return calendars.stores[store]
    return calendars.default


# --- the arithmetic ----------------------------------------------------------------------------


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    return moment.astimezone(timezone.utc)


def _local_to_utc(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """A local wall time (minute 1440 is the next midnight) as UTC. A time
    skipped by the spring change maps to the same instant as the hour after
    it would (zoneinfo's fold=0)."""
    if minute >= 24 * 60:
        day, minute = day + timedelta(days=1), minute - 24 * 60
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(timezone.utc)


def _intervals(calendar: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals (UTC start, UTC end), in order, from the local date
    of `since` onwards (the first may end before `since`)."""
    zone = calendar.zone
    day = since.astimezone(zone).date()
    for offset in range(_MAX_DAYS):
        current = day + timedelta(days=offset)
        for start, end in calendar.ranges_on(current):
            yield _local_to_utc(current, start, zone), _local_to_utc(current, end, zone)


def add_business_seconds(start: datetime, seconds: float, calendar: Calendar) -> datetime:
    """The moment `seconds` of working time after `start` (UTC). Starting
    outside the hours, the clock starts at the next opening."""
    start = _utc(start, "start")
    if seconds < 0:
        raise ValueError("cannot add a negative business time")
    if not calendar.is_ever_open():
        raise ValueError("the calendar has no opening hours")
    remaining = timedelta(seconds=seconds)
    for open_at, close_at in _intervals(calendar, start):
        if close_at <= start:
            continue
        begin = max(open_at, start)
        available = close_at - begin
        if remaining <= available:
            # Exactly at a closing time stays there (not the next opening).
            return begin + remaining if remaining else begin
        remaining -= available
    raise ValueError(f"no business time within {_MAX_DAYS} days (too many holidays?)")


def add_business_hours(start: datetime, hours: float, calendar: Calendar) -> datetime:
    """The due time of an SLA of `hours` working hours opened at `start` (UTC)."""
    return add_business_seconds(start, hours * 3600.0, calendar)


def business_seconds_between(a: datetime, b: datetime, calendar: Calendar) -> float:
    """Working seconds from a to b (negative when b is before a)."""
    a, b = _utc(a, "a"), _utc(b, "b")
    if b < a:
        return -business_seconds_between(b, a, calendar)
    total = 0.0
    for open_at, close_at in _intervals(calendar, a):
        if open_at >= b:
            break
        begin, end = max(open_at, a), min(close_at, b)
        if end > begin:
            total += (end - begin).total_seconds()
    return total


def extend_due(due: datetime, paused_seconds: float, calendar: Calendar) -> datetime:
    """A due time moved by the business time a case spent on hold (the clock
    paused): `paused_seconds` is `business_seconds_between(hold, resume)`."""
    return add_business_seconds(due, max(0.0, paused_seconds), calendar)


def sla_status(
    opened_at: datetime,
    due: datetime,
    now: datetime,
    calendar: Calendar,
    paused_seconds: float = 0,
) -> str:
    """ "ok", "at_risk" (75% of the business time to `due` used) or "breached"
    (past `due`). `due` is the due time already extended by the pauses
    (`extend_due`); `paused_seconds` the business time on hold so far, which
    counts neither as budget nor as time used."""
    opened_at, due, now = _utc(opened_at, "opened_at"), _utc(due, "due"), _utc(now, "now")
    if now > due:
        return BREACHED
    budget = business_seconds_between(opened_at, due, calendar) - paused_seconds
    used = business_seconds_between(opened_at, now, calendar) - paused_seconds
    if budget <= 0 or used >= AT_RISK_SHARE * budget:
        return AT_RISK
    return OK


# --- the trainers' file ------------------------------------------------------------------------


def _minutes(path: Path, line: int | None, text: str, hour: str, minute: str) -> int:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (h == 24 and m):
        raise TrainerFileError(path, line, f"'{text}': not a time of day")
    return h * 60 + m


def _day_ranges(path: Path, line: int | None, day: str, value) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TrainerFileError(path, line, f"hours: '{day}' must be a list of \"HH:MM-HH:MM\"")
    ranges = []
    for item in items:
        match = _RANGE.match(item) if isinstance(item, str) else None
        if not match:
            raise TrainerFileError(
                path, line, f"hours: '{day}': {item!r} is not a range such as \"08:00-18:00\""
            )
        start = _minutes(path, line, item, match[1], match[2])
        end = _minutes(path, line, item, match[3], match[4])
        if end <= start:
            raise TrainerFileError(
                path, line, f"hours: '{day}': {item!r} ends before it starts (use 00:00-24:00)"
            )
        ranges.append((start, end))
    ranges.sort()
    for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
        if start < end:
            raise TrainerFileError(path, line, f"hours: '{day}': ranges overlap")
    return tuple(ranges)


def _hours(path: Path, owner: dict, label: str) -> dict[int, tuple[tuple[int, int], ...]]:
    value = owner.get("hours")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TrainerFileError(path, line_of(owner), f"{label}: 'hours' must map weekdays")
    line = line_of(value)
    out = {}
    for key, ranges in value.items():
        if key == LINE:
            continue
        if not isinstance(key, str) or key.lower() not in WEEKDAYS:
            raise TrainerFileError(
                path, line, f"{label}: {key!r} is not a weekday ({', '.join(WEEKDAYS)})"
            )
        out[WEEKDAYS.index(key.lower())] = _day_ranges(path, line, key, ranges)
    return out


def _holidays(path: Path, owner: dict, label: str) -> frozenset[date]:
    value = owner.get("holidays")
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise TrainerFileError(path, line_of(owner), f"{label}: 'holidays' must be a list")
    days = set()
    for item in value:
        if isinstance(item, datetime) or not isinstance(item, date):
            try:
                item = date.fromisoformat(str(item))
            except ValueError:
                raise TrainerFileError(
                    path, line_of(owner), f"{label}: holiday {item!r} is not a date YYYY-MM-DD"
                ) from None
        days.add(item)
    return frozenset(days)


def _zone(path: Path, owner: dict, label: str, default: str | None) -> str:
    name = owner.get("timezone", default)
    if not isinstance(name, str) or not name.strip():
        raise TrainerFileError(path, line_of(owner), f"{label}: 'timezone' is missing")
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise TrainerFileError(
            path, line_of(owner), f"{label}: unknown timezone {name!r} (e.g. Europe/Warsaw)"
        ) from None
    return name.strip()


_KNOWN = {"timezone", "hours", "holidays", LINE}


def _check_keys(path: Path, owner: dict, label: str) -> None:
    for key in owner:
        if key not in _KNOWN:
            raise TrainerFileError(
                path, line_of(owner), f"{label}: unknown key {key!r} (timezone, hours, holidays)"
            )


def load_calendars(path: Path | str) -> Calendars:
    """Read data/business_hours.yml; a mistake raises TrainerFileError naming
    the file and line."""
    path = Path(path)
    try:
        data = trainer_yaml.load(path)
    except TrainerFileError:
        raise
    except ValueError as exc:
        # PyYAML builds a date such as 2026-13-01 itself and fails without a line.
        raise TrainerFileError(path, None, f"not a valid value: {exc}") from None
    default = data.get("default")
    if not isinstance(default, dict):
        raise TrainerFileError(path, line_of(data), "top-level key 'default:' must be a mapping")
    _check_keys(path, default, "default")
    base = Calendar(
        timezone=_zone(path, default, "default", None),
        hours=_hours(path, default, "default"),
        holidays=_holidays(path, default, "default"),
    )
    if not base.is_ever_open():
        raise TrainerFileError(path, line_of(default), "default: no opening hours at all")
    stores_data = data.get("stores") or {}
    if not isinstance(stores_data, dict):
        raise TrainerFileError(path, line_of(data), "'stores:' must map store ids to calendars")
    stores = {}
    for store, own in stores_data.items():
        if store == LINE:
            continue
        label = f"store '{store}'"
        own = own or {}
        if not isinstance(own, dict):
            raise TrainerFileError(path, line_of(stores_data), f"{label}: must be a mapping")
        _check_keys(path, own, label)
        calendar = Calendar(
            timezone=_zone(path, own, label, base.timezone),
            hours={**base.hours, **_hours(path, own, label)},
            holidays=base.holidays | _holidays(path, own, label),
        )
        if not calendar.is_ever_open():
            raise TrainerFileError(path, line_of(own), f"{label}: no opening hours at all")
        stores[str(store)] = calendar
    for key in data:
        if key not in ("default", "stores", LINE):
            raise TrainerFileError(path, line_of(data), f"unknown top-level key {key!r}")
    return Calendars(default=base, stores=stores)


def load(data_dir: Path | str) -> Calendars:
    """The calendars of the trainers' folder (NPS_DATA_DIR)."""
    return load_calendars(Path(data_dir) / FILE_NAME)


def problems(data_dir: Path | str) -> list[str]:
    """For `make validate`: one line per problem of data/business_hours.yml."""
    try:
        load(data_dir)
    except TrainerFileError as exc:
        return [str(exc)]
    return []

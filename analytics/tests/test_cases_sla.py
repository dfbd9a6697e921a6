"""Business-hours SLA arithmetic (cases/sla.py).

Every expected time is worked out by hand in the comment beside it. The
default calendar of data/business_hours.yml is Monday to Friday 08:00-18:00,
Europe/Warsaw: CET is UTC+1 in winter, CEST UTC+2 in summer (2026: summer
time from Sunday 29 March, winter time from Sunday 25 October).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from cases import sla
from nps import settings as bot_settings

DATA_DIR = bot_settings.REPO_ROOT / "data"
H = 3600.0


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def calendars() -> sla.Calendars:
    return sla.load(DATA_DIR)


@pytest.fixture(scope="module")
def default(calendars) -> sla.Calendar:
    return calendars.default


def test_the_trainers_file_is_valid_and_has_the_polish_holidays(calendars):
    assert sla.problems(DATA_DIR) == []
    holidays = calendars.default.holidays
    # 14 public holidays a year (Wigilia included since 2025), two years.
    assert len(holidays) == 28
    # Easter Monday: Easter is 5 April 2026 and 28 March 2027.
    assert {date(2026, 4, 6), date(2027, 3, 29)} <= holidays
    # Corpus Christi is Easter + 60 days: 4 June 2026, 27 May 2027.
    assert {date(2026, 6, 4), date(2027, 5, 27)} <= holidays
    assert date(2026, 12, 24) in holidays


def test_across_a_weekend(default):
    # Friday 27 Nov 2026 16:00 CET (15:00 UTC) + 8 h: Friday 16-18 is 2 h,
    # Saturday and Sunday closed, Monday 30 Nov 08:00 + 6 h = 14:00 CET = 13:00 UTC.
    due = sla.add_business_hours(utc(2026, 11, 27, 15), 8, default)
    assert due == utc(2026, 11, 30, 13)
    assert sla.business_seconds_between(utc(2026, 11, 27, 15), due, default) == 8 * H


def test_across_a_holiday(default):
    # Tuesday 10 Nov 2026 14:00 CET (13:00 UTC) + 8 h: Tuesday 14-18 is 4 h,
    # Wednesday 11 Nov is Independence Day, Thursday 08:00 + 4 h = 12:00 CET = 11:00 UTC.
    assert sla.add_business_hours(utc(2026, 11, 10, 13), 8, default) == utc(2026, 11, 12, 11)
    # Easter: Friday 3 Apr 2026 17:00 CEST (15:00 UTC) + 4 h: Friday 1 h, the
    # weekend, Easter Monday 6 Apr closed, Tuesday 08:00 + 3 h = 11:00 CEST = 09:00 UTC.
    assert sla.add_business_hours(utc(2026, 4, 3, 15), 4, default) == utc(2026, 4, 7, 9)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Monday 30 Nov 06:30 CET, before opening: 08:00 + 2 h = 10:00 CET = 09:00 UTC.
        (utc(2026, 11, 30, 5, 30), 2, utc(2026, 11, 30, 9)),
        # Tuesday 1 Dec 20:00 CET, after closing: Wednesday 08:00 + 2 h = 10:00 CET.
        (utc(2026, 12, 1, 19), 2, utc(2026, 12, 2, 9)),
        # Saturday 28 Nov 12:00 CET: Monday 08:00 + 2 h = 10:00 CET.
        (utc(2026, 11, 28, 11), 2, utc(2026, 11, 30, 9)),
        # Exactly at closing, Monday 18:00 CET: Tuesday 08:00 + 1 h = 09:00 CET.
        (utc(2026, 11, 30, 17), 1, utc(2026, 12, 1, 8)),
    ],
)
def test_starting_outside_hours(default, start, hours, due):
    assert sla.add_business_hours(start, hours, default) == due


def test_starting_mid_range(default):
    # Wednesday 2 Dec 09:15 CET (08:15 UTC) + 1.5 h = 10:45 CET = 09:45 UTC.
    assert sla.add_business_hours(utc(2026, 12, 2, 8, 15), 1.5, default) == utc(2026, 12, 2, 9, 45)
    # The whole day's 10 hours end exactly at 18:00 CET, not at the next opening.
    assert sla.add_business_hours(utc(2026, 12, 2, 7), 10, default) == utc(2026, 12, 2, 17)


def test_several_ranges_a_day():
    # 08:00-12:00 and 13:00-17:00 UTC every weekday. Monday 7 Dec 11:00 + 2 h:
    # 11-12 is 1 h, lunch, 13:00 + 1 h = 14:00.
    lunch = sla.Calendar(
        timezone="UTC", hours={d: ((8 * 60, 12 * 60), (13 * 60, 17 * 60)) for d in range(5)}
    )
    assert sla.add_business_hours(utc(2026, 12, 7, 11), 2, lunch) == utc(2026, 12, 7, 14)
    # 10:00 to 15:00 holds 2 h in the morning and 2 h after lunch.
    assert sla.business_seconds_between(utc(2026, 12, 7, 10), utc(2026, 12, 7, 15), lunch) == 4 * H


def test_a_dst_change(default):
    # Friday 27 Mar 2026 17:00 CET (16:00 UTC) + 2 h: Friday 17-18 is 1 h; on
    # Sunday 29 Mar the clocks go forward; Monday 30 Mar 08:00 CEST + 1 h =
    # 09:00 CEST = 07:00 UTC (not 08:00 UTC as a fixed UTC+1 would say).
    assert sla.add_business_hours(utc(2026, 3, 27, 16), 2, default) == utc(2026, 3, 30, 7)
    # A store open round the clock: local Sunday 29 March has 23 hours,
    # local Sunday 25 October 25.
    always = sla.Calendar(timezone="Europe/Warsaw", hours={d: ((0, 24 * 60),) for d in range(7)})
    # 29 Mar 00:00 CET = 28 Mar 23:00 UTC; 30 Mar 00:00 CEST = 29 Mar 22:00 UTC.
    assert (
        sla.business_seconds_between(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), always) == 23 * H
    )
    # 25 Oct 00:00 CEST = 24 Oct 22:00 UTC; 26 Oct 00:00 CET = 25 Oct 23:00 UTC.
    assert (
        sla.business_seconds_between(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), always) == 25 * H
    )
    # 24 business hours on that calendar are 24 real hours across the change.
    assert sla.add_business_hours(utc(2026, 3, 28, 11), 24, always) == utc(2026, 3, 29, 11)


def test_a_pause_extends_the_due_time_and_the_status(default):
    # Opened Monday 30 Nov 09:00 CET (08:00 UTC), SLA 8 h: due 17:00 CET (16:00 UTC).
    opened = utc(2026, 11, 30, 8)
    due = sla.add_business_hours(opened, 8, default)
    assert due == utc(2026, 11, 30, 16)
    # On hold from Monday 10:00 CET to Tuesday 10:00 CET: Monday 10-18 (8 h)
    # and Tuesday 08-10 (2 h) = 10 business hours paused.
    paused = sla.business_seconds_between(utc(2026, 11, 30, 9), utc(2026, 12, 1, 9), default)
    assert paused == 10 * H
    # Due moves 10 h on from Monday 17:00: Monday 17-18 is 1 h, Tuesday
    # 08:00 + 9 h = 17:00 CET = 16:00 UTC (1 h used before the hold, 7 h after 10:00).
    extended = sla.extend_due(due, paused, default)
    assert extended == utc(2026, 12, 1, 16)
    # Budget without the pause: (Mon 9-18 = 9 h) + (Tue 8-17 = 9 h) - 10 h = 8 h.
    # Tuesday 14:00 CET: used (9 + 6) - 10 = 5 h = 62.5% -> ok.
    assert sla.sla_status(opened, extended, utc(2026, 12, 1, 13), default, paused) == "ok"
    # Tuesday 15:00 CET: used (9 + 7) - 10 = 6 h = 75% -> at risk.
    assert sla.sla_status(opened, extended, utc(2026, 12, 1, 14), default, paused) == "at_risk"
    # Monday 17:30 CET is past the old due time but not the extended one.
    assert sla.sla_status(opened, extended, utc(2026, 11, 30, 16, 30), default, paused) != (
        "breached"
    )
    assert sla.sla_status(opened, extended, utc(2026, 12, 1, 16, 1), default, paused) == "breached"


@pytest.mark.parametrize(
    ("now", "status"),
    [
        # Opened Monday 09:00 CET, due 17:00 CET: 8 h of budget, 75% = 6 h = 15:00 CET.
        (utc(2026, 11, 30, 13, 59), "ok"),  # 14:59 CET, 5 h 59 min used
        (utc(2026, 11, 30, 14), "at_risk"),  # 15:00 CET, 6 h used
        (utc(2026, 11, 30, 16), "at_risk"),  # 17:00 CET, at the due time, not past it
        (utc(2026, 11, 30, 16, 0, 1), "breached"),
    ],
)
def test_status_thresholds(default, now, status):
    assert sla.sla_status(utc(2026, 11, 30, 8), utc(2026, 11, 30, 16), now, default) == status


def test_the_weekend_does_not_use_the_budget(default):
    # Opened Friday 27 Nov 17:00 CET, 2 h: Friday 17-18 and Monday 08-09 CET.
    opened = utc(2026, 11, 27, 16)
    due = sla.add_business_hours(opened, 2, default)
    assert due == utc(2026, 11, 30, 8)
    # Saturday noon: 1 h of 2 used (50%) -> ok although 43 real hours passed.
    assert sla.sla_status(opened, due, utc(2026, 11, 28, 11), default) == "ok"


def test_a_store_inherits_the_default_and_changes_what_it_lists(calendars):
    store = sla.calendar_for("store_a", calendars)
    assert sla.calendar_for("no_such_store", calendars) is calendars.default
    assert sla.calendar_for(None, calendars) is calendars.default
    # store_a adds Saturday 09:00-13:00. Friday 27 Nov 17:00 CET + 3 h: Friday
    # 1 h, Saturday 09:00 + 2 h = 11:00 CET = 10:00 UTC (the default: Monday).
    assert sla.add_business_hours(utc(2026, 11, 27, 16), 3, store) == utc(2026, 11, 28, 10)
    assert sla.add_business_hours(utc(2026, 11, 27, 16), 3, calendars.default) == utc(
        2026, 11, 30, 9
    )
    assert store.holidays == calendars.default.holidays


def test_naive_datetimes_are_refused(default):
    with pytest.raises(ValueError, match="timezone-aware"):
        sla.add_business_hours(datetime(2026, 11, 30, 9), 1, default)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("default:\n  timezone: Europe/Warsaw\n  hours:\n    mon: ['18:00-08:00']\n", 4, "ends"),
        ("default:\n  timezone: Europe/Warszawa\n  hours:\n    mon: ['08:00-18:00']\n", 2, "zone"),
        ("default:\n  timezone: UTC\n  hours:\n    mo: ['08:00-18:00']\n", 4, "weekday"),
        ("default:\n  timezone: UTC\n  hours:\n    mon: ['8-18']\n", 4, "range"),
        (
            "default:\n  timezone: UTC\n  hours:\n    mon: ['08:00-12:00', '11:00-14:00']\n",
            4,
            "overlap",
        ),
        (
            "default:\n  timezone: UTC\n  hours:\n    mon: ['08:00-18:00']\n"
            "  holidays:\n    - jutro\n",
            2,
            "date",
        ),
        (
            "default:\n  timezone: UTC\n  hours:\n    mon: ['08:00-18:00']\n"
            "stores:\n  shut:\n    hours:\n      mon: []\n",
            7,
            "no opening hours",
        ),
        ("default:\n  timezone: UTC\n  hours: {}\n", 2, "no opening hours"),
    ],
)
def test_problems_name_file_and_line(tmp_path, text, line, words):
    (tmp_path / sla.FILE_NAME).write_text(text, encoding="utf-8")
    found = sla.problems(tmp_path)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / sla.FILE_NAME}:{line}:")
    assert words in found[0]


def test_an_impossible_date_is_a_problem_not_a_traceback(tmp_path):
    text = (
        "default:\n  timezone: UTC\n  hours:\n    mon: ['08:00-18:00']\n  holidays: [2026-13-01]\n"
    )
    (tmp_path / sla.FILE_NAME).write_text(text, encoding="utf-8")
    found = sla.problems(tmp_path)
    assert found == [f"{tmp_path / sla.FILE_NAME}: not a valid value: month must be in 1..12"]


def test_a_missing_file_is_a_problem(tmp_path):
    assert sla.problems(tmp_path) == [f"{tmp_path / sla.FILE_NAME}: file not found"]

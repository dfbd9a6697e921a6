"""The loop metrics (cases.metrics) on a hand-worked example of six cases.
Every expected number is worked out in the comments."""

from __future__ import annotations

import datetime as dt

import pytest

from cases import metrics

H = 3600.0
D = 86400.0
NOW = 1_800_000_000.0
T = NOW - 10 * D  # the cases open at T + k hours


def _case(**kw):
    base = dict(
        state="new",
        store="a",
        opened_at=T,
        first_contact_at=None,
        closed_at=None,
        resolved_at=None,
        first_contact_due=None,
        resolve_due=None,
        root_cause=None,
        score=3,
        winback_score=None,
        paused_seconds=0.0,
    )
    base.update(kw)
    return base


CASES = [
    # 1: resolved, store a. Contact after 2 h (due 4 h: met), closed after
    #    10 h with 1 h on hold -> 9 h (due 20 h: met). Win-back 9 from 3:
    #    detractor -> promoter, recovered. Root cause delivery.
    _case(
        state="resolved",
        first_contact_at=T + 2 * H,
        closed_at=T + 10 * H,
        resolved_at=T + 10 * H,
        first_contact_due=T + 4 * H,
        resolve_due=T + 20 * H,
        paused_seconds=H,
        root_cause="delivery",
        score=3,
        winback_score=9,
    ),
    # 2: resolved, store a. Contact after 6 h (due 4 h: missed), closed after
    #    30 h (due 20 h: missed). Win-back 5 from 5: still a detractor.
    _case(
        state="resolved",
        first_contact_at=T + 6 * H,
        closed_at=T + 30 * H,
        resolved_at=T + 30 * H,
        first_contact_due=T + 4 * H,
        resolve_due=T + 20 * H,
        root_cause="delivery",
        score=5,
        winback_score=5,
    ),
    # 3: unresolved, store b. Contact after 1 h (met), closed after 5 h (met).
    #    No win-back (not resolved). Root cause price.
    _case(
        state="unresolved",
        store="b",
        first_contact_at=T + 1 * H,
        closed_at=T + 5 * H,
        first_contact_due=T + 4 * H,
        resolve_due=T + 20 * H,
        root_cause="price",
    ),
    # 4: open (contacted), store b, opened 2.5 days ago (backlog 1-3d).
    #    Contact after 3 h (met); resolution not due until later: not counted.
    _case(
        state="contacted",
        store="b",
        opened_at=NOW - 2.5 * D,
        first_contact_at=NOW - 2.5 * D + 3 * H,
        first_contact_due=NOW - 2.5 * D + 4 * H,
        resolve_due=NOW + D,
    ),
    # 5: open (new), store a, opened 8 days ago (backlog >7d); no contact and
    #    both due times past: missed twice.
    _case(
        state="new", opened_at=NOW - 8 * D, first_contact_due=NOW - 7 * D, resolve_due=NOW - 6 * D
    ),
    # 6: open (assigned), no store, opened 2 hours ago (backlog <1d); due
    #    times in the future: not counted.
    _case(
        state="assigned",
        store=None,
        opened_at=NOW - 2 * H,
        first_contact_due=NOW + 2 * H,
        resolve_due=NOW + D,
    ),
]


def test_hand_worked_example():
    m = metrics.loop_metrics(CASES, NOW)
    assert (m["cases"], m["open"]) == (6, 3)
    # Win-back asked in cases 1 and 2, better in case 1: 1/2.
    assert m["recovery"] == {"asked": 2, "recovered": 1, "rate": 0.5}
    # First contact hours: 2, 6, 1, 3 -> sorted 1 2 3 6: median 2.5, mean 12/4 = 3.
    assert m["time_to_first_contact"] == {"n": 4, "median_hours": 2.5, "mean_hours": 3.0}
    # Close hours: 9 (10 - 1 on hold), 30, 5 -> median 9, mean 44/3.
    assert m["time_to_close"] == {
        "n": 3,
        "median_hours": 9.0,
        "mean_hours": pytest.approx(44 / 3, abs=1e-4),
    }
    # First contact: met 1, 3, 4; missed 2, 5 (past due, none); 6 not yet: 3/5.
    assert m["within_sla"]["first_contact"] == {"counted": 5, "met": 3, "share": 0.6}
    # Resolution: met 1, 3; missed 2, 5; 4 and 6 not due yet: 2/4.
    assert m["within_sla"]["resolution"] == {"counted": 4, "met": 2, "share": 0.5}
    assert m["backlog"] == {"<1d": 1, "1-3d": 1, "3-7d": 0, ">7d": 1}
    assert m["root_causes"] == [
        {"root_cause": "delivery", "cases": 2},
        {"root_cause": "price", "cases": 1},
    ]
    # Per store: a = cases 1, 2, 5; b = 3, 4; (none) = 6.
    a, b = m["per_store"]["a"], m["per_store"]["b"]
    assert list(m["per_store"]) == ["(none)", "a", "b"]
    assert (a["cases"], a["open"], a["recovery"]["rate"]) == (3, 1, 0.5)
    # a: contact 2 and 6 h -> median = mean = 4; b: 1 and 3 h -> 2.
    assert a["time_to_first_contact"]["median_hours"] == 4.0
    assert b["time_to_first_contact"]["mean_hours"] == 2.0
    assert a["within_sla"]["resolution"] == {"counted": 3, "met": 1, "share": pytest.approx(1 / 3)}
    assert b["root_causes"] == [{"root_cause": "price", "cases": 1}]
    assert m["per_store"]["(none)"]["backlog"]["<1d"] == 1


def test_backlog_bucket_edges():
    # Exactly 1, 3 and 7 days old fall into the next bucket up.
    cases = [_case(opened_at=NOW - d * D) for d in (0, 1, 3, 7)]
    assert metrics.backlog(cases, NOW) == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}


def test_passive_to_passive_is_not_recovered():
    cases = [
        _case(state="resolved", resolved_at=T, score=7, winback_score=8),
        _case(state="resolved", resolved_at=T, score=6, winback_score=7),
    ]
    assert metrics.recovery(cases) == {"asked": 2, "recovered": 1, "rate": 0.5}


def test_business_hours_with_a_calendar():
    """With calendars the durations are business hours. data/business_hours.yml's
    default: Mon-Fri 08:00-18:00 Europe/Warsaw (UTC+2 in September). Opened
    Monday 2026-09-21 15:00 UTC (17:00 local), contacted and closed 18 h
    later, Tuesday 09:00 UTC (11:00 local): Monday 17-18 (1 h) + Tuesday
    8-11 (3 h) = 4 business hours."""
    from cases import sla
    from nps.settings import REPO_ROOT

    start = dt.datetime(2026, 9, 21, 15, tzinfo=dt.timezone.utc).timestamp()
    case = _case(
        state="resolved",
        store="x",
        opened_at=start,
        first_contact_at=start + 18 * H,
        closed_at=start + 18 * H,
        resolved_at=start + 18 * H,
        root_cause="price",
    )
    calendars = sla.load(REPO_ROOT / "data")
    m = metrics.loop_metrics([case], NOW, lambda s: sla.calendar_for(s, calendars))
    assert m["time_to_first_contact"]["median_hours"] == 4.0
    assert m["time_to_close"]["mean_hours"] == 4.0
    # Without calendars: wall-clock hours.
    assert metrics.loop_metrics([case], NOW)["time_to_close"]["mean_hours"] == 18.0

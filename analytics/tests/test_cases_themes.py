"""Themes over recurring root causes (cases.themes): suggestions on a
hand-worked table of cases, creating and linking themes with entries in the
cases' audit log, and the "you told us, we changed it" message: sent once,
only to customers who agreed, only when the theme is resolved. The message
goes through a fake `send` that records its calls (no bot)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cases import states, themes
from cases.reply import ReplyResult
from cases.store import CaseNotFound, CaseStore, cases_engine

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC
DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.db'}"
    else:
        url = request.getfixturevalue("pg_schema")[1]
    engine = cases_engine(url)
    yield engine
    engine.dispose()


def _case(store: CaseStore, response_id: int, sender: str, root_cause: str, **kw) -> int:
    row = dict(
        sender=sender,
        response_id=response_id,
        store="krakow_2",
        channel="rest",
        rule="detractor_contact",
        priority="normal",
        team="cs",
        owner="ola",
        state=states.RESOLVED,
        opened_at=T0 - 10 * DAY,
        closed_at=T0 - 5 * DAY,
        resolved_at=T0 - 5 * DAY,
        root_cause=root_cause,
        resolution="apology",
        score=2,
    )
    row.update(kw)
    return store.open_case(row)


class FakeSend:
    """Records (sender, text, now); answers with `statuses[sender]` or sent."""

    def __init__(self, statuses=None):
        self.calls = []
        self.statuses = statuses or {}

    def __call__(self, sender, text, now):
        self.calls.append((sender, text, now))
        return ReplyResult(self.statuses.get(sender, "sent"), "")


# --- suggest (pure) --------------------------------------------------------------


def _row(case_id, root_cause, closed_days_ago, store="s1", state=states.RESOLVED):
    return dict(
        id=case_id,
        root_cause=root_cause,
        state=state,
        store=store,
        opened_at=T0 - ((closed_days_ago or 0) + 1) * DAY + case_id,
        closed_at=None if closed_days_ago is None else T0 - closed_days_ago * DAY,
    )


def test_suggest_ranks_recurring_root_causes_in_the_window():
    rows = [
        # delivery: 1, 2, 3, 4 count; 5 closed 100 days ago is outside 90 days;
        # 6 is reopened (not closed); 7 is already in a theme.
        _row(1, "delivery", 1, "s1"),
        _row(2, "delivery", 10, "s2"),
        _row(3, "delivery", 20, "s1", state=states.UNRESOLVED),
        _row(4, "delivery", 89, "s1"),
        _row(5, "delivery", 100, "s1"),
        _row(6, "delivery", None, "s1", state=states.REOPENED),
        _row(7, "delivery", 2, "s3"),
        # price: 8, 9, 10 count (store None is not counted among the stores).
        _row(8, "price", 3, "s2"),
        _row(9, "price", 4, "s2"),
        _row(10, "price", 5, None),
        # staff: only 2 cases, below min_cases=3.
        _row(11, "staff", 1),
        _row(12, "staff", 2),
        # queue: 3 cases, ties with price on count, ranked after it by name.
        _row(13, "queue", 1, "s4"),
        _row(14, "queue", 2, "s4"),
        _row(15, "queue", 3, "s4"),
        # no root cause: never suggested.
        _row(16, None, 1),
        _row(17, None, 1),
        _row(18, None, 1),
    ]
    found = themes.suggest(rows, min_cases=3, within_days=90, now=T0, linked={7})
    # Worked by hand from the table above: delivery 4 (s1: 1, 3, 4; s2: 2),
    # then price 3 and queue 3 (tie, by name); staff 2 < 3 is left out.
    assert [(s.root_cause, s.count) for s in found] == [("delivery", 4), ("price", 3), ("queue", 3)]
    delivery = found[0]
    # Oldest opened first: case 4 (90 days), 3 (21), 2 (11), 1 (2).
    assert delivery.case_ids == (4, 3, 2, 1)
    assert delivery.stores == {"s1": 3, "s2": 1}
    assert found[1].stores == {"s2": 2}
    assert found[2].case_ids == (15, 14, 13)

    # Without the link, case 7 joins delivery (5 cases, store s3 once).
    again = themes.suggest(rows, min_cases=3, within_days=90, now=T0)
    assert again[0].count == 5 and again[0].stores == {"s1": 3, "s2": 1, "s3": 1}
    # A 7-day window keeps delivery 1, 7 (2 cases) out; price 8, 9, 10 and queue stay.
    week = themes.suggest(rows, min_cases=3, within_days=7, now=T0)
    assert [s.root_cause for s in week] == ["price", "queue"]


# --- tables, create, link, status ----------------------------------------------


def test_tables_are_created_idempotently_beside_the_cases(engine):
    themes.ensure_tables(engine)
    themes.ensure_tables(engine)
    names = set(sa.inspect(engine).get_table_names())
    assert {"themes", "theme_cases"} <= names


def test_create_link_and_status_write_the_cases_audit(engine):
    store = CaseStore(engine)
    a = _case(store, 1, "rest:anna", "delivery")
    b = _case(store, 2, "rest:bartek", "delivery")
    c = _case(store, 3, "rest:cyryl", "delivery")

    theme_id = themes.create(engine, "Late couriers", "delivery", "kasia", [a, b], now=T0)
    theme = themes.get(engine, theme_id)
    assert theme["status"] == themes.OPEN and theme["owner"] == "kasia"
    assert theme["created_at"] == T0 and theme["resolved_at"] is None
    assert themes.case_ids(engine, theme_id) == [a, b]

    # Linking again is harmless; only c is new.
    assert themes.link(engine, theme_id, [b, c], who="kasia", now=T0 + 1) == [c]
    assert themes.case_ids(engine, theme_id) == [a, b, c]
    assert themes.linked_case_ids(engine) == {a, b, c}
    with pytest.raises(CaseNotFound):
        themes.link(engine, theme_id, [c, 999], who="kasia", now=T0 + 2)

    themes.set_status(engine, theme_id, themes.IN_PROGRESS, "kasia", now=T0 + 3)
    resolved = themes.set_status(engine, theme_id, themes.RESOLVED, "kasia", now=T0 + 4)
    assert resolved["status"] == themes.RESOLVED and resolved["resolved_at"] == T0 + 4
    # The same status again changes nothing and logs nothing.
    themes.set_status(engine, theme_id, themes.RESOLVED, "kasia", now=T0 + 5)
    with pytest.raises(themes.ThemeError):
        themes.set_status(engine, theme_id, "done", "kasia", now=T0 + 6)

    entries = [e for e in store.log(a) if e["action"] == "theme"]
    assert [(e["who"], e["field"], e["from"], e["to"], e["at"]) for e in entries] == [
        ("kasia", "theme", None, "open", T0),
        ("kasia", "theme", "open", "in_progress", T0 + 3),
        ("kasia", "theme", "in_progress", "resolved", T0 + 4),
    ]
    assert entries[0]["note"] == f"theme {theme_id}: Late couriers"
    # c was linked later: its first entry is the link, at T0 + 1.
    assert [(e["from"], e["to"], e["at"]) for e in store.log(c) if e["action"] == "theme"] == [
        (None, "open", T0 + 1),
        ("open", "in_progress", T0 + 3),
        ("in_progress", "resolved", T0 + 4),
    ]

    # Reopening the theme clears resolved_at.
    reopened = themes.set_status(engine, theme_id, themes.OPEN, "kasia", now=T0 + 7)
    assert reopened["resolved_at"] is None
    listed = themes.list_themes(engine)
    assert [(t["id"], t["case_ids"]) for t in listed] == [(theme_id, [a, b, c])]


def test_create_needs_title_root_cause_owner_and_existing_cases(engine):
    store = CaseStore(engine)
    a = _case(store, 1, "rest:anna", "delivery")
    with pytest.raises(themes.ThemeError):
        themes.create(engine, " ", "delivery", "kasia", [a], now=T0)
    with pytest.raises(themes.ThemeError):
        themes.create(engine, "Late couriers", "delivery", "", [a], now=T0)
    with pytest.raises(CaseNotFound):
        themes.create(engine, "Late couriers", "delivery", "kasia", [a, 42], now=T0)
    # Nothing half-made: no theme, no link, no log entry.
    assert themes.list_themes(engine) == []
    assert [e for e in store.log(a) if e["action"] == "theme"] == []


# --- announce --------------------------------------------------------------------


def test_announce_only_when_resolved_once_and_only_to_those_who_agreed(engine):
    store = CaseStore(engine)
    a = _case(store, 1, "rest:anna", "delivery", winback_score=None)
    b = _case(store, 2, "rest:bartek", "delivery", winback_score=9)
    c = _case(store, 3, "rest:cyryl", "delivery", winback_score=4)
    # Anna's second case: she is told once.
    d = _case(store, 4, "rest:anna", "delivery", winback_score=8)
    e = _case(store, 5, "rest:ewa", "delivery", winback_score=7)
    other = _case(store, 6, "rest:filip", "delivery", winback_score=10)  # not in the theme
    theme_id = themes.create(engine, "Late couriers", "delivery", "kasia", [a, b, c, d, e], now=T0)
    text = "Dziękujemy: zmieniliśmy firmę kurierską."
    send = FakeSend(statuses={"rest:ewa": "refused_window"})

    # Here "agreed" is decided by the caller; this one: everyone but Cyryl.
    def consented(case):
        return case["sender"] != "rest:cyryl"

    for status in (themes.OPEN, themes.IN_PROGRESS):
        if status != themes.OPEN:
            themes.set_status(engine, theme_id, status, "kasia", now=T0 + 1)
        with pytest.raises(themes.ThemeError):
            themes.announce(engine, theme_id, text, send, consented, now=T0 + 2)
    assert send.calls == []

    themes.set_status(engine, theme_id, themes.RESOLVED, "kasia", now=T0 + 3)
    with pytest.raises(themes.ThemeError):
        themes.announce(engine, theme_id, "  ", send, consented, now=T0 + 4)
    results = themes.announce(engine, theme_id, text, send, consented, now=T0 + 5)
    # By hand: a sent (Anna), b sent (Bartek), c no consent (Cyryl), d Anna
    # again (same customer), e refused by the channel's window (Ewa).
    assert [(r.case_id, r.status) for r in results] == [
        (a, "sent"),
        (b, "sent"),
        (c, themes.NO_CONSENT),
        (d, themes.SAME_CUSTOMER),
        (e, "refused_window"),
    ]
    assert send.calls == [
        ("rest:anna", text, T0 + 5),
        ("rest:bartek", text, T0 + 5),
        ("rest:ewa", text, T0 + 5),
    ]
    theme = themes.get(engine, theme_id)
    assert theme["announced_at"] == T0 + 5 and theme["announcement"] == text

    # A second call sends nothing, even after reopening and resolving again.
    assert themes.announce(engine, theme_id, text, send, consented, now=T0 + 6) == []
    themes.set_status(engine, theme_id, themes.OPEN, "kasia", now=T0 + 7)
    themes.set_status(engine, theme_id, themes.RESOLVED, "kasia", now=T0 + 8)
    assert themes.announce(engine, theme_id, text, send, consented, now=T0 + 9) == []
    assert len(send.calls) == 3

    # The outcome is in each case's audit; the case outside the theme has none.
    last = [x for x in store.log(c) if x["field"] == "announcement"]
    assert [(x["to"], x["at"]) for x in last] == [(themes.NO_CONSENT, T0 + 5)]
    assert [x for x in store.log(other) if x["action"] == "theme"] == []


def test_announce_default_consent_and_winback_rule(engine):
    store = CaseStore(engine)
    a = _case(store, 1, "rest:anna", "price", winback_score=None)
    b = _case(store, 2, "rest:bartek", "price", winback_score=6)
    theme_id = themes.create(engine, "Prices", "price", "kasia", [a, b], now=T0)
    themes.set_status(engine, theme_id, themes.RESOLVED, "kasia", now=T0 + 1)
    send = FakeSend()
    # A caller's rule: only customers who answered the win-back question.
    results = themes.announce(
        engine,
        theme_id,
        "Obniżyliśmy ceny.",
        send,
        consented=lambda case: case["winback_score"] is not None,
        now=T0 + 2,
    )
    assert [(r.case_id, r.status) for r in results] == [(a, themes.NO_CONSENT), (b, "sent")]
    assert [call[0] for call in send.calls] == ["rest:bartek"]

    # The default consents everyone.
    c = _case(store, 3, "rest:cyryl", "price")
    second = themes.create(engine, "Prices again", "price", "kasia", [c], now=T0 + 3)
    themes.set_status(engine, second, themes.RESOLVED, "kasia", now=T0 + 4)
    results = themes.announce(engine, second, "Obniżyliśmy ceny.", send, now=T0 + 5)
    assert [(r.case_id, r.status) for r in results] == [(c, "sent")]

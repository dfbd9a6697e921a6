"""The case pages (analytics/dashboard/views/cases.py, cases/board.py): the
queue with ages and SLA states worked out by hand, who sees which case, a
case's conversation with the agent's messages told apart, and the actions
on the page changing the case with an audit entry."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from analytics.tests.conftest import Conversation, write
from cases import board, sla, states
from cases.store import CaseStore, cases_engine

VIEW = Path(__file__).resolve().parents[1] / "dashboard" / "views" / "cases.py"
UTC = dt.timezone.utc
# A calendar open every day 9-17 UTC, no holidays (hand arithmetic below).
CAL = sla.Calendars(
    default=sla.Calendar(
        timezone="UTC", hours={d: ((9 * 60, 17 * 60),) for d in range(7)}, holidays=frozenset()
    )
)


def ts(day: int, hour: float) -> float:
    return dt.datetime(2026, 11, day, tzinfo=UTC).timestamp() + hour * 3600


OPENED, DUE = ts(2, 9), ts(2, 17)


def case(id_, store="sklep-a", state=states.NEW, opened=OPENED, due=DUE, **more):
    return {
        "id": id_,
        "store": store,
        "state": state,
        "opened_at": opened,
        "first_contact_due": due,
        "resolve_due": ts(5, 17),
        "first_contact_at": None,
        "paused_seconds": 0.0,
        "on_hold_since": None,
        **more,
    }


def test_queue_ages_and_sla_by_hand():
    # Opened 09:00, first contact due 17:00 the same day: 8 business hours.
    # At 14:00, 5 of 8 used (62.5%): ok; at 15:00, 6 of 8 (75%): at risk;
    # at 17:30: breached. Reached at 10:00: the resolution clock (due the 5th) runs.
    cases = [
        case(1),
        case(2, opened=ts(2, 9), due=ts(2, 17), first_contact_at=ts(2, 10)),
        case(3, state=states.RESOLVED),
    ]
    at_14 = {r["id"]: r["sla"] for r in board.queue(cases, ts(2, 14), CAL)}
    assert at_14 == {1: sla.OK, 2: sla.OK, 3: None}
    assert board.queue(cases, ts(2, 15), CAL)[0]["sla"] == sla.AT_RISK
    late = board.queue(cases, ts(2, 17.5), CAL)
    assert [r["id"] for r in late] == [1, 2, 3]  # breached first
    assert (late[0]["sla"], late[0]["clock"]) == (sla.BREACHED, board.FIRST_CONTACT)
    assert late[1]["clock"] == board.RESOLUTION
    # Age buckets: 4 days after opening is "3-7 d"; filters combine.
    assert board.queue(cases, ts(6, 9), CAL, ages=["3-7 d"], states_in=states.OPEN)[0]["id"] == 1
    assert board.queue(cases, ts(2, 14), CAL, slas=[sla.BREACHED]) == []


def test_on_hold_the_clock_stands_still():
    held = case(1, state=states.ON_HOLD, on_hold_since=ts(2, 10))
    # Put on hold at 10:00 (1 of 8 hours used): still ok at 23:00.
    assert board.sla_of(held, ts(2, 23), CAL) == sla.OK


def test_a_store_manager_sees_only_their_stores_cases():
    cases = [case(1, store="sklep-a"), case(2, store="sklep-b"), case(3, store=None)]
    assert [c["id"] for c in board.visible(cases, True, ())] == [1, 2, 3]
    assert [c["id"] for c in board.visible(cases, False, ("sklep-b",))] == [2]
    assert board.visible(cases, False, ()) == []


@pytest.fixture
def one_case(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    talk = (
        Conversation("messenger:4242", channel="facebook")
        .session()
        .user("2", intent="give_score")
        .slot("nps_score", 2)
        .slot("reason", "kurier zgubił paczkę")
        .slot("drivers", ["delivery:neg"])
        .slot("why_chain", ["nikt nie odbiera infolinii"])
        .slot("contact_consent", True)
        .bot("Dziękuję", "utter_thanks_detractor_contact")
    )
    talk._add(
        {
            "event": "bot",
            "text": "Dzień dobry, tu Ania ze sklepu.",
            "metadata": {"agent_reply": True},
        }
    )
    talk.user("dziękuję, czekam na paczkę")
    write(url, talk)
    store = CaseStore(cases_engine(url))
    store.ensure_tables()
    case_id = store.open_case(
        {
            "sender": "messenger:4242",
            "response_id": 1,
            "store": "sklep-a",
            "channel": "facebook",
            "rule": "detractor_with_consent",
            "priority": "normal",
            "team": "obsluga",
            "score": 2,
            "opened_at": ts(2, 9),
            "first_contact_due": ts(2, 17),
            "resolve_due": ts(5, 17),
        }
    )
    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
    monkeypatch.setenv("NPS_PSEUDONYM_KEY", "test-key")
    monkeypatch.delenv("NPS_HOST", raising=False)
    monkeypatch.delenv("NPS_CASES_DB_URL", raising=False)
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    yield store, case_id
    st_config.set_option("server.address", before)


def test_the_conversation_tells_the_agent_from_the_bot(one_case):
    store, _ = one_case
    lines, slots = board.conversation(store.engine, "messenger:4242")
    assert [line.who for line in lines] == ["customer", "bot", "agent", "customer"]
    assert slots["why_chain"] == ["nikt nie odbiera infolinii"]


def test_the_page_shows_the_case_and_taking_it_is_audited(one_case):
    store, case_id = one_case
    at = AppTest.from_file(str(VIEW), default_timeout=90).run()
    assert not at.exception
    shown = "\n".join(str(e.value) for e in [*at.markdown, *at.text, *at.caption, *at.header])
    assert f"Sprawa {case_id}" in shown and "kurier zgubił paczkę" in shown
    assert "Konsultant" in shown and "Dzień dobry, tu Ania ze sklepu." in shown
    queue = at.dataframe[0].value
    assert list(queue.iloc[:, 0]) == [case_id]
    next(b for b in at.button if b.label == "Biorę tę sprawę").click().run()
    assert not at.exception
    taken = store.get(case_id)
    assert taken["state"] == states.ASSIGNED and taken["owner"]
    assert [e["to"] for e in store.log(case_id) if e["field"] == "state"] == ["new", "assigned"]


def test_a_recurring_root_cause_becomes_a_theme_from_the_page(one_case):
    from cases import themes

    store, _ = one_case
    for i in range(2, 5):  # three closed cases with the same root cause
        store.open_case(
            {
                "sender": f"messenger:{i}",
                "response_id": i,
                "store": "sklep-a",
                "rule": "r",
                "priority": "normal",
                "team": "obsluga",
                "state": states.RESOLVED,
                "root_cause": "delivery",
                "resolution": "fixed",
                # Closed yesterday: within the suggestions' window whenever this runs.
                "opened_at": time.time() - 2 * 86400,
                "closed_at": time.time() - 86400,
            }
        )
    at = AppTest.from_file(str(VIEW), default_timeout=90).run()
    assert not at.exception
    # The loop metrics per store: 4 cases at sklep-a, 1 open (the fixture's), 3 closed.
    [per_store] = [
        d.value for d in at.dataframe if "sprawy" in d.value.columns and len(d.value.columns) > 2
    ]
    assert per_store.iloc[0].tolist()[:3] == ["sklep-a", 4, 1]
    create = [b for b in at.button if b.label.startswith("Utwórz temat")]
    assert len(create) == 1
    create[0].click().run()
    assert not at.exception
    [theme] = themes.list_themes(store.engine)
    assert theme["root_cause"] == "delivery" and theme["status"] == themes.OPEN
    assert len(themes.case_ids(store.engine, theme["id"])) == 3

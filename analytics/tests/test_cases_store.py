"""The cases' tables on SQLite and PostgreSQL (cases.store), and opening
cases from conversations in a tracker store (cases.opener): idempotent, one
case per survey, linked to the conversation, reopened by a low win-back
score. Due times use a stand-in clock (`due=`: plus wall-clock hours) so
the expected values are simple sums; cases.sla has its own tests."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from analytics.dataset import load_dataset
from analytics.db import tracker_engine, writable_engine
from analytics.projection import Projection
from analytics.tests.conftest import Conversation, person, write
from cases import opener, states
from cases.rules import load_for
from cases.store import CaseStore, cases_engine, metadata
from nps.settings import REPO_ROOT

T0 = 1_790_000_000.0  # 2026-09-21 (a Monday) 14:13:20 UTC
HOUR = 3600.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    return request.getfixturevalue("pg_schema")[1]


def _store(url, **kw):
    return CaseStore(cases_engine(url), **kw)


def _row(response_id=1, **kw):
    row = dict(
        sender="rest:anna",
        response_id=response_id,
        person="p",
        store="warszawa_1",
        channel="rest",
        rule="detractor_contact",
        priority="normal",
        team="cs",
        opened_at=T0,
        first_contact_due=T0 + 8 * HOUR,
        resolve_due=T0 + 40 * HOUR,
        score=3,
    )
    row.update(kw)
    return row


def plus_hours(start, hours, store):
    return start + dt.timedelta(hours=hours)


def test_tables_created_once_by_two_processes_at_once(db_url):
    errors = []

    def create():
        try:
            _store(db_url).ensure_tables()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = cases_engine(db_url)
    names = set(sa.inspect(engine).get_table_names())
    assert {"cases", "case_log", "case_notes"} <= names


def test_lifecycle_and_audit_log(db_url):
    store = _store(db_url, root_causes={"delivery", "price"}, resolutions={"fixed", "refund"})
    case_id = store.open_case(_row())
    assert store.open_case(_row()) is None  # one case per survey
    assert store.get(case_id)["state"] == "new"

    store.transition(case_id, "assigned", "lead", T0 + 60, owner="ola")
    store.transition(case_id, "contacted", "ola", T0 + 120)
    store.transition(case_id, "on_hold", "ola", T0 + 180, note="czeka na kuriera")
    store.transition(case_id, "in_progress", "ola", T0 + 180 + HOUR)
    # Illegal move and a close without the required fields change nothing.
    with pytest.raises(states.IllegalTransition):
        store.transition(case_id, "new", "ola", T0 + 2 * HOUR)
    with pytest.raises(states.MissingField):
        store.transition(case_id, "resolved", "ola", T0 + 2 * HOUR, root_cause="delivery")
    with pytest.raises(states.MissingField):
        store.transition(
            case_id, "resolved", "ola", T0 + 2 * HOUR, root_cause="weather", resolution="fixed"
        )
    assert store.get(case_id)["state"] == "in_progress"
    case = store.transition(
        case_id, "resolved", "ola", T0 + 3 * HOUR, root_cause="delivery", resolution="refund"
    )
    # 1 hour on hold: paused 3600 s and the resolve due time 1 hour later
    # (first contact was made at T0 + 120, so its due time stays).
    assert case["paused_seconds"] == HOUR
    assert case["resolve_due"] == T0 + 41 * HOUR
    assert case["first_contact_due"] == T0 + 8 * HOUR
    assert (case["first_contact_at"], case["resolved_at"], case["closed_at"]) == (
        T0 + 120,
        T0 + 3 * HOUR,
        T0 + 3 * HOUR,
    )

    log = store.log(case_id)
    states_seen = [(e["who"], e["from"], e["to"]) for e in log if e["field"] == "state"]
    assert states_seen == [
        ("system", None, "new"),
        ("lead", "new", "assigned"),
        ("ola", "assigned", "contacted"),
        ("ola", "contacted", "on_hold"),
        ("ola", "on_hold", "in_progress"),
        ("ola", "in_progress", "resolved"),
    ]
    on_hold = next(e for e in log if e["to"] == "on_hold")
    assert on_hold["at"] == T0 + 180 and on_hold["note"] == "czeka na kuriera"
    fields = {(e["field"], e["to"]) for e in log}
    assert ("owner", "ola") in fields and ("root_cause", "delivery") in fields
    assert ("resolution", "refund") in fields

    store.add_note(case_id, "ola", "  Zadzwoniłam, zwrot zlecony. ", T0 + 3 * HOUR)
    assert [n["text"] for n in store.notes(case_id)] == ["Zadzwoniłam, zwrot zlecony."]
    assert store.log(case_id)[-1]["action"] == "note"
    store.acknowledge(case_id, "lead", T0 + 4 * HOUR)
    store.acknowledge(case_id, "lead", T0 + 5 * HOUR)  # the first one counts
    assert store.get(case_id)["acknowledged_at"] == T0 + 4 * HOUR

    store.transition(case_id, "reopened", "system", T0 + 50 * HOUR)
    case = store.transition(case_id, "assigned", "lead", T0 + 51 * HOUR)
    assert (case["state"], case["owner"], case["root_cause"], case["closed_at"]) == (
        "assigned",
        "ola",
        None,
        None,
    )
    with pytest.raises(states.CaseError):
        store.set_fields(case_id, "x", state="resolved")


def test_list_filters(db_url):
    store = _store(db_url)
    a = store.open_case(_row(1, store="a", opened_at=T0 + 1))
    b = store.open_case(_row(2, store="b", team="stores", opened_at=T0))
    assert [c["id"] for c in store.list_cases()] == [b, a]  # oldest first
    assert [c["id"] for c in store.list_cases(stores=["a"])] == [a]
    assert [c["id"] for c in store.list_cases(teams=["stores"])] == [b]
    assert store.list_cases(states_in=["resolved"]) == []


def _conversations():
    """Four senders (times: 10 s per event from each start):
    anna: detractor 3, consent, known issue not fixed -> known_issue_not_fixed;
    bartek: detractor 5, consent, complaint about staff in a store -> store_staff;
    celina: detractor 2 but no consent -> no case; a later survey of hers
            (she agreed this time) -> detractor_contact (earlier detractor
            31 days before: outside repeat_within_days 30);
    darek: detractor 1 with consent, survey not finished -> no case."""
    anna = (
        Conversation("rest:anna", "rest", start=T0)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 3)
        .slot("nps_group", "detractor")
        .user("kurier zgubił paczkę")
        .slot("reason", "kurier zgubił paczkę")
        .slot("drivers", ["delivery:neg"])
        .slot("known_issue", "parcel_tracking")
        .user("nie")
        .slot("issue_resolved", False)
        .user("tak")
        .slot("contact_consent", True)
        .slot("survey_outcome", "finished")
        .form(None)
    )
    bartek = (
        Conversation("messenger:42", "facebook", start=T0 + 100)
        .session()
        .user("/start")
        .slot("touchpoint", "warszawa_1")
        .form()
        .slot("nps_score", 5)
        .user("niemiły pan przy kasie")
        .slot("reason", "niemiły pan przy kasie")
        .slot("drivers", ["staff:neg"])
        .user("tak")
        .slot("contact_consent", True)
        .slot("survey_outcome", "finished")
        .form(None)
    )
    celina = (
        Conversation("rest:celina", "rest", start=T0 - 31 * 86400)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 2)
        .user("drogo")
        .slot("reason", "drogo")
        .slot("drivers", ["price:neg"])
        .user("nie")
        .slot("contact_consent", False)
        .slot("survey_outcome", "finished")
        .form(None)
        .wait(31 * 86400 + 200)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 4)
        .user("nadal drogo")
        .slot("reason", "nadal drogo")
        .user("tak")
        .slot("contact_consent", True)
        .slot("survey_outcome", "stopped")
        .form(None)
    )
    darek = (
        Conversation("rest:darek", "rest", start=T0 + 300)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 1)
        .user("tak")
        .slot("contact_consent", True)
    )
    return anna, bartek, celina, darek


def _dataset(url):
    projection = Projection(writable_engine("sqlite://"), None)
    projection.update(tracker_engine(url) if url.startswith("sqlite") else writable_engine(url))
    return load_dataset(projection, parts=("texts", "whys"))


def test_open_cases_from_conversations(db_url):
    write(db_url, *_conversations())
    tracker = tracker_engine(db_url) if db_url.startswith("sqlite") else writable_engine(db_url)
    store = _store(db_url)
    rules = load_for(REPO_ROOT / "data")
    ds = _dataset(db_url)
    now = T0 + 10 * 86400
    opened = opener.open_cases(ds, rules, store, now, tracker=tracker, due=plus_hours)
    assert len(opened) == 3
    got = {c["sender"]: c for c in store.list_cases()}
    assert set(got) == {"rest:anna", "messenger:42", "rest:celina"}
    anna = got["rest:anna"]
    assert (anna["rule"], anna["priority"], anna["team"], anna["score"]) == (
        "known_issue_not_fixed",
        "high",
        "customer_support",
        3,
    )
    assert anna["person"] == person("rest:anna")
    # Anna's conversation has 16 events (the session start is two), the
    # last 15 ticks of 10 s after T0: the case opens then; data/cases.yml
    # gives this rule 4 h and 16 h.
    assert anna["opened_at"] == T0 + 150
    assert anna["first_contact_due"] == T0 + 150 + 4 * HOUR
    assert anna["resolve_due"] == T0 + 150 + 16 * HOUR
    bartek = got["messenger:42"]
    assert (bartek["rule"], bartek["team"], bartek["store"], bartek["channel"]) == (
        "store_staff",
        "stores",
        "warszawa_1",
        "facebook",
    )
    assert got["rest:celina"]["rule"] == "detractor_contact"
    # The tables sit next to Rasa's events, never inside them.
    with tracker.connect() as conn:
        kinds = {r[0] for r in conn.execute(sa.text("select distinct type_name from events"))}
    assert "case" not in kinds
    # Idempotent.
    assert opener.open_cases(ds, rules, store, now, tracker=tracker, due=plus_hours) == []
    assert len(store.list_cases()) == 3


def test_exception_suppresses(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    write(url, *_conversations())
    data = tmp_path / "data"
    data.mkdir()
    for name in ("drivers.yml", "known_issues.yml"):
        (data / name).write_text((REPO_ROOT / "data" / name).read_text("utf-8"), "utf-8")
    text = (REPO_ROOT / "data" / "cases.yml").read_text("utf-8")
    text = text.replace("exceptions: []", "exceptions:\n  - id: outage\n    drivers: [delivery]")
    (data / "cases.yml").write_text(text, "utf-8")
    store = _store(url)
    opened = opener.open_cases(
        _dataset(url),
        load_for(data),
        store,
        T0 + 86400,
        tracker=tracker_engine(url),
        due=plus_hours,
    )
    assert len(opened) == 2
    assert "rest:anna" not in {c["sender"] for c in store.list_cases()}


def test_low_winback_reopens(db_url):
    anna = _conversations()[0]
    write(db_url, anna)
    tracker = tracker_engine(db_url) if db_url.startswith("sqlite") else writable_engine(db_url)
    store = _store(db_url)
    rules = load_for(REPO_ROOT / "data")
    (case_id,) = opener.open_cases(
        _dataset(db_url), rules, store, T0 + HOUR, tracker=tracker, due=plus_hours
    )
    store.transition(case_id, "assigned", "lead", T0 + HOUR, owner="ola")
    store.transition(case_id, "contacted", "ola", T0 + 2 * HOUR)
    store.transition(
        case_id, "resolved", "ola", T0 + 3 * HOUR, root_cause="delivery", resolution="refund"
    )
    # No win-back answer yet: nothing happens.
    assert opener.reopen_low_winbacks(store, tracker, T0 + 4 * HOUR) == []
    # The bot asks after resolving; she answers 4 (a detractor score).
    later = (
        Conversation("rest:anna", "rest", start=T0 + 5 * HOUR).user("4").slot("winback_score", 4)
    )
    write(db_url, later)
    assert opener.reopen_low_winbacks(store, tracker, T0 + 6 * HOUR) == [case_id]
    case = store.get(case_id)
    assert (case["state"], case["winback_score"]) == ("reopened", 4)
    reopen = [e for e in store.log(case_id) if e["to"] == "reopened"]
    assert reopen[0]["note"] == "win-back score 4"
    # Resolved again; the old score (before this resolution) does not count,
    # a new 9 is recorded and the case stays resolved.
    store.transition(case_id, "assigned", "lead", T0 + 7 * HOUR)
    store.transition(case_id, "in_progress", "ola", T0 + 7 * HOUR)
    store.transition(
        case_id, "resolved", "ola", T0 + 8 * HOUR, root_cause="delivery", resolution="voucher"
    )
    assert opener.reopen_low_winbacks(store, tracker, T0 + 9 * HOUR) == []
    write(
        db_url,
        Conversation("rest:anna", "rest", start=T0 + 10 * HOUR).user("9").slot("winback_score", 9),
    )
    assert opener.reopen_low_winbacks(store, tracker, T0 + 11 * HOUR) == []
    case = store.get(case_id)
    assert (case["state"], case["winback_score"]) == ("resolved", 9)


def test_metadata_tables():
    assert sorted(metadata.tables) == ["case_log", "case_notes", "cases"]

"""Erasure in the bot's environment (SQLAlchemy 1.4): `python -m
storage.erasure`, the erasure requests the action server carries out, and
the real bot erasing a conversation a customer asked to delete in Polish.

The completeness check with a projection built by analytics itself is
analytics/tests/test_erasure.py (analytics' environment)."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from analytics import pseudonym, schema
from storage import erasure
from storage.tracker_schema import events_table
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database

KEY = b"bot-side-erasure-tests-key-0123456789"
PERSON = "+48 600 100 200"
STORED_FORMS = ("48600100200", "whatsapp:+48600100200", "sms:+48600100200")
OTHER = "messenger:48600100200"  # a psid that happens to be the same digits


def _event(sender, kind, ts, text=None, action=None):
    data = {"event": kind, "timestamp": ts}
    if text is not None:
        data["text"] = text
    if action is not None:
        data["name"] = action
    return {
        "sender_id": sender,
        "type_name": kind,
        "timestamp": ts,
        "intent_name": None,
        "action_name": action,
        "data": json.dumps(data, ensure_ascii=False),
    }


def _store(url: str, rows: list[dict]) -> sa.engine.Engine:
    """A tracker store (Rasa's events table) with a projection's tables in it."""
    engine = sa.create_engine(url)
    events = events_table(sa.MetaData())
    events.metadata.create_all(engine)
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(events.insert(), rows)
    return engine


def _responses(engine, people: dict[str, str]) -> None:
    """One projection response (with a why-answer) per pseudonym: text."""
    with engine.begin() as conn:
        for rid, (who, text) in enumerate(people.items(), start=1):
            conn.execute(
                schema.responses.insert(),
                {"response_id": rid, "person": who, "closed": True, "reason": text},
            )
            conn.execute(
                schema.why_answers.insert(), {"response_id": rid, "position": 0, "answer": text}
            )


def _all_values(engine) -> str:
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        return "\n".join(
            str(v)
            for table in meta.sorted_tables
            for row in conn.execute(table.select())
            for v in row
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


def test_erase_a_person_under_every_form(db_url):
    rows = [_event(f, "user", 1000.0 + i, f"tajne-{i}") for i, f in enumerate(STORED_FORMS)]
    rows += [_event(OTHER, "user", 2000.0, "cudze"), _event("web:abc", "user", 2001.0, "inne")]
    engine = _store(db_url, rows)
    people = {pseudonym.pseudonym(f, KEY): f"tajne-{i}" for i, f in enumerate(STORED_FORMS)}
    people[pseudonym.pseudonym(OTHER, KEY)] = "cudze"
    _responses(engine, people)
    before = _all_values(engine)
    assert all(f"tajne-{i}" in before for i in range(3))

    # The projection lives in the same database here (schema None on SQLite).
    analytics_schema = None if db_url.startswith("sqlite") else "public"
    report = erasure.erase_person(db_url, PERSON, db_url, analytics_schema, key=KEY)

    assert report.removed == {
        "tracker store: events": 3,
        "analytics: driver_mentions": 0,
        "analytics: why_answers": 3,
        "analytics: known_issue_offers": 0,
        "analytics: responses": 3,
        "analytics: extra_comments": 0,
    }
    after = _all_values(engine)
    values = set(after.split("\n"))
    # No stored form of the id (the Messenger psid below is another person's
    # id that merely contains the same digits), no pseudonym, no text.
    assert not values & set(STORED_FORMS)
    assert not any(f"tajne-{i}" in after for i in range(3))
    for p in people:
        assert (p in values) == (people[p] == "cudze")
    # The Messenger customer whose psid has the same digits keeps everything.
    assert "cudze" in after and OTHER in after and "inne" in after


def test_the_cli_prints_counts_never_messages(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    _store(url, [_event("whatsapp:+48600100200", "user", 1.0, "moja-tajemnica")])
    monkeypatch.setenv("NPS_PSEUDONYM_KEY", KEY.decode())
    code = erasure.main([PERSON, "--db", url, "--analytics-db", f"sqlite:///{tmp_path / 'no.db'}"])
    out = capsys.readouterr().out
    assert code == 0
    assert "removed 1 row(s) from tracker store: events" in out
    assert "moja-tajemnica" not in out
    assert erasure.main(["   ", "--db", url]) == 2


def test_a_rest_or_web_conversation_erases_only_itself():
    assert erasure.conversation_forms("rest:123") == {"rest:123"}
    assert erasure.conversation_forms("web:abc") == {"web:abc", "abc"}
    assert erasure.conversation_forms("messenger:77") == {"messenger:77", "77"}
    assert "sms:+48600100200" in erasure.conversation_forms("whatsapp:+48600100200")


def test_requests_are_carried_out_up_to_the_confirming_turn(db_url):
    me, other = "whatsapp:+48600100200", "web:someone"
    rows = [
        _event(me, "user", 100.0, "stara odpowiedź"),
        _event(me, "action", 200.0, action=erasure.ERASE_ACTION),
        _event(me, "bot", 200.5, "usuwam"),
        _event(me, "user", 900.0, "nowa rozmowa po usunięciu"),
        _event(other, "action", 150.0, action="action_listen"),
        _event(other, "user", 150.0, "ktoś inny"),
    ]
    engine = _store(db_url, rows)
    report = erasure.erase_requested(db_url)
    assert report.removed == {"tracker store: events": 3}
    left = _all_values(engine)
    assert "stara odpowiedź" not in left and "usuwam" not in left
    assert "nowa rozmowa po usunięciu" in left and "ktoś inny" in left
    # Done once: nothing left to do.
    assert erasure.erase_requested(db_url).total == 0


# --- the real bot -------------------------------------------------------------


def _stored(url: str, conversation: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": conversation},
        ).fetchall()
    engine.dispose()
    return [(r[0], json.loads(r[1]).get("text") or "") for r in rows]


def _responses_said(replies: list[dict], bot: BotProcess, sender: str) -> list[str]:
    events = bot.tracker(sender, include_events="ALL")["events"]
    bot_events = [e for e in events if e["event"] == "bot"]
    return [(e.get("metadata") or {}).get("utter_action") for e in bot_events[-len(replies) :]]


@pytest.mark.rasa
@pytest.mark.skipif(not DEFAULT_MODEL.exists(), reason="no trained model: run `make train`")
def test_a_customer_erases_their_conversation_from_the_chat(tmp_path):
    (tmp_path / "logs").mkdir()
    # The action server's projection: a row of each customer (analytics
    # itself needs its own environment; the rows stand in for its update).
    analytics_url = f"sqlite:///{tmp_path / 'analytics.db'}"
    projection = sa.create_engine(analytics_url)
    schema.metadata.create_all(projection)
    mine, theirs = (
        pseudonym.pseudonym(BotProcess.conversation(s), KEY) for s in ("erase-me", "keep-me")
    )
    _responses(projection, {mine: "moje", theirs: "cudze"})
    env = {"NPS_ANALYTICS_DB_URL": analytics_url, "NPS_PSEUDONYM_KEY": KEY.decode()}
    with fresh_database("sqlite", tmp_path) as url:
        with BotProcess(db_url=url, log_dir=tmp_path / "logs", env=env) as bot:
            me, other = "erase-me", "keep-me"
            for sender in (me, other):
                bot.send(sender, "cześć")
                bot.send(sender, "3, kurier Zbyszek rzucił paczką")
                bot.send(sender, "nie chcę")
            conversation = bot.conversation(me)
            assert any("Zbyszek" in text for _, text in _stored(url, conversation))

            # "No" deletes nothing.
            replies = bot.send(me, "chcę żebyście skasowali moje odpowiedzi")
            assert _responses_said(replies, bot, me)[-1] == "utter_ask_erase_confirm"
            assert replies[-1].get("buttons")
            replies = bot.send(me, "nie")
            assert _responses_said(replies, bot, me) == ["utter_erase_cancelled"]
            time.sleep(2)
            assert any("Zbyszek" in text for _, text in _stored(url, conversation))

            # "Yes": the conversation is gone once the turn is saved.
            replies = bot.send(me, "RODO, proszę o usunięcie danych")
            assert _responses_said(replies, bot, me)[-1] == "utter_ask_erase_confirm"
            replies = bot.send(me, "tak")
            assert len(replies) == 1
            deadline = time.monotonic() + 20
            while _stored(url, conversation) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _stored(url, conversation) == []

            # The next message starts a new, empty conversation.
            bot.send(me, "cześć")
            events = bot.tracker(me, include_events="ALL")["events"]
            texts = [e.get("text") or "" for e in events if e["event"] in ("user", "bot")]
            assert texts[0] == "cześć" and not any("Zbyszek" in t for t in texts)
            assert bot.slots(me)["nps_score"] is None
            # Their projection rows went too; the other customer is untouched.
            assert set(_all_values(projection).split("\n")) & {mine, theirs} == {theirs}
            assert any("Zbyszek" in text for _, text in _stored(url, bot.conversation(other)))
            # Nothing of the conversation went to the logs.
            for name in ("rasa", "actions"):
                assert "Zbyszek" not in bot.log(name)


def test_erasure_takes_the_persons_cases_with_their_log_and_notes(db_url):
    """A case names its conversation: erasing the person removes it, its
    audit log and notes; another customer's case stays."""
    from cases.store import case_log, case_notes, cases, metadata

    engine = _store(db_url, [_event(STORED_FORMS[0], "user", 1000.0, "tajne")])
    metadata.create_all(engine)
    with engine.begin() as conn:
        for case_id, sender in ((1, STORED_FORMS[0]), (2, OTHER)):
            conn.execute(
                cases.insert(),
                {
                    "id": case_id,
                    "sender": sender,
                    "response_id": case_id,
                    "rule": "r",
                    "priority": "normal",
                    "team": "t",
                    "state": "new",
                    "opened_at": 1000.0,
                    "paused_seconds": 0.0,
                },
            )
            conn.execute(
                case_log.insert(), {"case_id": case_id, "at": 1.0, "who": "a", "action": "open"}
            )
            conn.execute(
                case_notes.insert(), {"case_id": case_id, "at": 1.0, "who": "a", "text": "x"}
            )
    report = erasure.erase_person(db_url, PERSON, key=KEY)
    assert report.removed["tracker store: cases"] == 1
    assert report.removed["tracker store: case_log"] == 1
    assert report.removed["tracker store: case_notes"] == 1
    with engine.connect() as conn:
        assert [r.sender for r in conn.execute(cases.select())] == [OTHER]
        assert [r.case_id for r in conn.execute(case_notes.select())] == [2]

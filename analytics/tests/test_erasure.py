"""Erase completeness (storage.erasure, analytics' SQLAlchemy 2): after
erasing a person, no row in any table of the tracker store or the projection
holds any form of their id, their pseudonym or a word they wrote; everyone
else's rows are untouched. On SQLite and PostgreSQL, with the projection in
its own database (SQLite) or schema (PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from analytics import schema
from analytics.db import tracker_engine, writable_engine
from analytics.projection import Projection
from analytics.tests.conftest import Conversation, person, write
from nps.identity import person_ids
from storage.erasure import erase_person

PHONE = "+48 600 100 200"
# The same person, as stored by WhatsApp Cloud before channel prefixes, by
# Twilio's WhatsApp, and by today's connectors.
FORMS = ("48600100200", "whatsapp:+48600100200", "sms:+48600100200")
SECRET_WORDS = ("kurierzyna-Zbyszek", "paczkomat-przy-Lidlu", "zamówienie-A-7731", "dopiero-rano")


def _survey(sender, channel, start, words):
    reason, why, comment, extra = words
    return (
        Conversation(sender, channel, start=start)
        .session()
        .user("cześć")
        .bot("Jak oceniasz…", "utter_ask_nps_score")
        .form()
        .slot("nps_score", 3)
        .user(f"3, {reason}")
        .slot("reason", reason)
        .slot("drivers", ["delivery:neg"])
        .slot("requested_slot", "why_answer")
        .user(why)
        .slot("why_chain", [why])
        .slot("known_issue", "parcel_locker_code")
        .user("nie")
        .slot("issue_resolved", False)
        .user(comment)
        .slot("improvement", comment)
        .form(None)
        .slot("survey_outcome", "finished")
        .session()
        .user(extra)
        .slot("extra_comment", extra)
    )


def _every_text(engine: sa.engine.Engine, schema_name: str | None = None) -> list[str]:
    """Every value of every column of every table (as text)."""
    found = []
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in inspector.get_table_names(schema=schema_name):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema_name)
            for row in conn.execute(sa.select(table)):
                found.extend(str(v) for v in row if v is not None)
    return found


def test_erase_leaves_no_trace_of_the_person(tracker_url, projection_target):
    others = [
        _survey("messenger:77001", "facebook", 1_700_000_000.0, ("inni1", "inni2", "inni3", "x")),
        _survey("rest:ala", "rest", 1_700_500_000.0, ("ala1", "ala2", "ala3", "ala4")),
    ]
    theirs = [
        _survey(form, channel, 1_700_100_000.0 + i * 100_000, SECRET_WORDS)
        for i, (form, channel) in enumerate(
            zip(FORMS, ("whatsapp", "twilio", "twilio"), strict=True)
        )
    ]
    write(tracker_url, *others, *theirs)
    analytics_url, analytics_schema = projection_target
    tracker = tracker_engine(tracker_url)
    projection = Projection(writable_engine(analytics_url), analytics_schema)
    projection.update(tracker)
    assert len(projection.read_table(schema.responses)) == 5
    before_others = projection.read_table(schema.responses).query(
        "person in @p", local_dict={"p": [person("messenger:77001"), person("rest:ala")]}
    )

    needles = person_ids(PHONE) | {person(i) for i in person_ids(PHONE)} | set(SECRET_WORDS)
    needles |= {"600100200"}

    def leaks() -> set[str]:
        haystack = _every_text(tracker) + _every_text(projection.engine, analytics_schema)
        return {n for n in needles for value in haystack if n in value}

    # The search finds them before (each stored form, pseudonym and word).
    assert set(FORMS) | {person(f) for f in FORMS} | set(SECRET_WORDS) <= leaks()

    report = erase_person(tracker_url, PHONE, analytics_url, analytics_schema)

    assert report.removed["tracker store: events"] == sum(len(c.rows) for c in theirs)
    assert report.removed["analytics: responses"] == 3
    assert report.removed["analytics: extra_comments"] == 3
    assert report.removed["analytics: why_answers"] == 3
    assert not leaks()
    # Everyone else is still there, row for row, and in the tracker store.
    after = projection.read_table(schema.responses)
    assert after.sort_values("response_id").to_dict("records") == before_others.sort_values(
        "response_id"
    ).to_dict("records")
    with tracker.connect() as conn:
        senders = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT sender_id FROM events"))}
    assert senders == {"messenger:77001", "rest:ala"}
    # The projection's next update agrees with a rebuild (nothing comes back).
    projection.update(tracker)
    assert len(projection.read_table(schema.responses)) == 2


def test_a_dry_run_removes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, _survey("whatsapp:+48600100200", "whatsapp", 1_700_000_000.0, SECRET_WORDS))
    report = erase_person(url, "48600100200", dry_run=True)
    assert report.removed["tracker store: events"] > 0
    assert erase_person(url, "48600100200").removed == report.removed
    assert erase_person(url, "48600100200").total == 0

"""storage.migrate_ids renames conversations stored before channel prefixes,
on SQLite and PostgreSQL, and a second run changes nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from storage.migrate_ids import main, migrate
from storage.tracker_schema import events_table
from tests.databases import fresh_database

# Rasa 3.6's SQLTrackerStore table, as it creates it.
EVENTS = events_table(sa.MetaData())

# (stored id, input_channel of its user messages) -> id after the migration
STORED = {
    ("48600100200", "whatsapp"): "whatsapp:+48600100200",
    ("+48600100201", "twilio"): "sms:+48600100201",
    ("whatsapp:+48600100202", "twilio"): "whatsapp:+48600100202",  # already its new id
    ("2566120950074", "facebook"): "messenger:2566120950074",
    ("3f2a9c", "socketio"): "web:3f2a9c",
    ("alice", "rest"): "rest:alice",
    ("messenger:77", "facebook"): "messenger:77",  # migrated before
    ("bob", None): "bob",  # no user message: left alone
    ("carol", "cmdline"): "carol",  # unknown channel: left alone
    ("12ab", "whatsapp"): "12ab",  # not a phone number: left alone
    # the same person on WhatsApp Cloud: whatsapp:+48600100202 is taken
    ("48600100202", "whatsapp"): "48600100202",
}


def fill(url: str) -> None:
    engine = sa.create_engine(url)
    EVENTS.metadata.create_all(engine)
    rows = []
    for (sender, channel), _ in STORED.items():
        rows.append({"sender_id": sender, "type_name": "action", "data": "{}"})
        if channel:
            data = {"event": "user", "text": "hej", "input_channel": channel}
            rows.append({"sender_id": sender, "type_name": "user", "data": json.dumps(data)})
            # a later message on another channel does not decide
            data = {**data, "input_channel": "rest"}
            rows.append({"sender_id": sender, "type_name": "user", "data": json.dumps(data)})
    with engine.begin() as connection:
        connection.execute(EVENTS.insert(), rows)
    engine.dispose()


def counts_by_sender(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")
        ).fetchall()
    engine.dispose()
    return {sender: count for sender, count in rows}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_renames_each_conversation_once(kind, tmp_path, capsys):
    with fresh_database(kind, tmp_path) as url:
        fill(url)
        before = counts_by_sender(url)

        assert main(["--db", url, "--dry-run"]) == 0
        assert "5 would be renamed" in capsys.readouterr().out
        assert counts_by_sender(url) == before  # a dry run changes nothing

        counts = migrate(url)
        after = counts_by_sender(url)
        expected = {new: before[old] for (old, _), new in STORED.items()}
        assert after == expected
        assert counts["renamed whatsapp -> whatsapp"] == 1
        assert counts["renamed twilio -> sms"] == 1
        assert counts["conflict (whatsapp)"] == 1
        assert counts["no user message"] == 1

        again = migrate(url)  # idempotent
        assert counts_by_sender(url) == after
        assert not any(what.startswith("renamed") for what in again)

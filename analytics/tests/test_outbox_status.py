"""The outbox counted for the dashboard (analytics/outbox_status.py), read with
SQLAlchemy 2 from a table the bot writes, and shown on the overview page."""

from __future__ import annotations

from pathlib import Path

from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from analytics import outbox_status
from analytics.db import writable_engine
from analytics.tests.conftest import Conversation, write
from storage.outbox_schema import create_outbox

NOW = 1_750_000_000.0
DASH = Path(__file__).resolve().parents[1] / "dashboard"


def add(engine, *rows: tuple[str, str, float]) -> None:
    table = create_outbox(engine)
    with engine.begin() as conn:
        for seq, (conversation, state, created) in enumerate(rows):
            conn.execute(
                table.insert(),
                {
                    "conversation_id": conversation,
                    "channel": "whatsapp",
                    "route": "{}",
                    "turn_key": "t",
                    "seq": seq,
                    "payload": "{}",
                    "state": state,
                    "attempts": 1,
                    "next_attempt_at": created,
                    "created_at": created,
                    "updated_at": created,
                },
            )


ROWS = [
    ("whatsapp:+48600100200", "sent", NOW - 900),
    ("whatsapp:+48600100200", "retry", NOW - 600),
    ("whatsapp:+48600100201", "pending", NOW - 60),
    ("whatsapp:+48600100202", "sending", NOW - 5),
    ("whatsapp:+48600100203", "failed", NOW - 7200),
    ("whatsapp:+48600100204", "unknown", NOW - 30),
    ("whatsapp:+48600100204", "unknown", NOW - 20),
]


def test_summarise():
    status = outbox_status.summarise({"pending": 2, "retry": 1, "failed": 4}, NOW - 90, NOW)
    assert (status.pending, status.failed, status.unknown, status.sent) == (3, 4, 0, 0)
    assert status.oldest_pending_seconds == 90 and status.exists
    assert outbox_status.summarise({"sent": 5}, None, NOW).oldest_pending_seconds is None


def test_read_status(tracker_url):
    engine = writable_engine(tracker_url)
    try:
        assert outbox_status.read_status(engine, NOW) == outbox_status.OutboxStatus()
        add(engine, *ROWS)
        status = outbox_status.read_status(engine, NOW)
    finally:
        engine.dispose()
    assert (status.pending, status.failed, status.unknown, status.sent) == (3, 1, 2, 1)
    assert status.oldest_pending_seconds == 600


def test_overview_shows_the_counts(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    scored = Conversation("48601234567", "whatsapp").session().user("9").slot("nps_score", 9)
    write(url, scored)
    engine = writable_engine(url)
    add(engine, *ROWS)
    engine.dispose()
    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
    monkeypatch.delenv("NPS_HOST", raising=False)
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")  # on loopback: no login
    try:
        at = AppTest.from_file(str(DASH / "views" / "overview.py"), default_timeout=90).run()
    finally:
        st_config.set_option("server.address", before)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Czekające na wysłanie"] == "3"
    assert metrics["Niewysłane"] == "1" and metrics["Niepewne"] == "2"

"""Retention (storage/retention.py): conversations whose last event is older
than NPS_RETENTION_DAYS leave the tracker store and the projection; newer
ones, and old conversations with a recent message, stay whole."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from analytics import pseudonym, schema
from storage import retention
from tests.databases import fresh_database
from tests.test_erasure import KEY, _event, _store

NOW = 1_800_000_000.0
DAY = retention.DAY


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


def _made_store(url: str) -> sa.engine.Engine:
    rows = [
        # Last spoke 100 days ago: goes.
        _event("whatsapp:+48600100200", "user", NOW - 120 * DAY, "stara-1"),
        _event("whatsapp:+48600100200", "user", NOW - 100 * DAY, "stara-2"),
        # Started long ago, wrote yesterday: stays whole.
        _event("messenger:1", "user", NOW - 200 * DAY, "dawno-zaczęta"),
        _event("messenger:1", "user", NOW - 1 * DAY, "wczoraj"),
        # New: stays.
        _event("web:new", "user", NOW - 2 * DAY, "nowa"),
    ]
    engine = _store(url, rows)
    with engine.begin() as conn:
        for rid, sender in enumerate(("whatsapp:+48600100200", "messenger:1", "web:new"), 1):
            conn.execute(
                schema.responses.insert(),
                {"response_id": rid, "person": pseudonym.pseudonym(sender, KEY), "closed": True},
            )
    return engine


def _texts(engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT data FROM events"))}


def _people(engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(schema.responses.c.person))}


def test_old_conversations_go_new_ones_stay(db_url):
    engine = _made_store(db_url)
    analytics_schema = None if db_url.startswith("sqlite") else "public"
    count, report = retention.apply_retention(
        db_url, 90, db_url, analytics_schema, now=NOW, key=KEY
    )
    assert count == 1
    assert report.removed["tracker store: events"] == 2
    assert report.removed["analytics: responses"] == 1
    texts = "".join(_texts(engine))
    assert "stara" not in texts
    assert all(t in texts for t in ("dawno-zaczęta", "wczoraj", "nowa"))
    assert _people(engine) == {pseudonym.pseudonym(s, KEY) for s in ("messenger:1", "web:new")}
    # Nothing more to do the next hour.
    assert retention.apply_retention(db_url, 90, now=NOW + 3600, key=KEY)[0] == 0


def test_zero_days_keeps_everything(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = _made_store(url)
    assert retention.apply_retention(url, 0, now=NOW)[0] == 0
    monkeypatch.setenv("NPS_RETENTION_DAYS", "0")
    assert retention.main(["--db", url]) == 0
    assert "keep forever" in capsys.readouterr().out
    assert len(_texts(engine)) == 5


def test_the_cli_and_the_action_servers_sweep(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = _made_store(url)
    assert retention.main(["--db", url, "--days", "1000", "--dry-run"]) == 0
    assert "would delete 0 conversation(s)" in capsys.readouterr().out
    # The action server's hourly sweep reads the same settings.
    from actions import privacy

    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_ANALYTICS_DB_URL", url)
    monkeypatch.setenv("NPS_RETENTION_DAYS", "30")
    monkeypatch.setenv("NPS_PSEUDONYM_KEY", KEY.decode())
    privacy.sweep(now=NOW)
    assert not any("stara" in t for t in _texts(engine))
    assert len(_texts(engine)) == 3
    assert pseudonym.pseudonym("whatsapp:+48600100200", KEY) not in _people(engine)

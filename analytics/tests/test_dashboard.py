"""Every dashboard page under streamlit.testing.v1.AppTest: no exception,
the key numbers present and equal to the report CLI's, clear messages for
an empty or missing store, a response alone, a driver nobody mentioned;
customer text never rendered as markdown; pseudonyms, never phone numbers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import tracker_source
from analytics.db import writable_engine
from analytics.generate import generate
from analytics.tests.conftest import Conversation, write

DASH = Path(__file__).resolve().parents[1] / "dashboard"
VIEWS = ["overview", "drivers", "root_causes", "known_issues", "topics", "live", "try_bot"]
TIMEOUT = 90


def page(name: str) -> AppTest:
    return AppTest.from_file(str(DASH / "views" / f"{name}.py"), default_timeout=TIMEOUT)


def texts(at: AppTest) -> str:
    """Everything shown as text, caption, message or metric."""
    parts = []
    for kind in ("title", "subheader", "caption", "info", "warning", "error", "text", "markdown"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(parts)


def frames(at: AppTest) -> str:
    return "\n".join(e.value.to_csv() for e in at.dataframe)


@pytest.fixture
def env(monkeypatch, tmp_path):
    def point_at(db_url: str) -> None:
        monkeypatch.setenv("NPS_DB_URL", db_url)
        monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
        monkeypatch.setenv("NPS_PSEUDONYM_KEY", "test-key")

    return point_at


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "tracker.db"
    url = f"sqlite:///{path}"
    generate(writable_engine(url), 400, seed=17, end=1_750_000_000.0)
    return url


@pytest.mark.parametrize("name", VIEWS)
def test_every_page_renders_generated_data(name, generated, env):
    env(generated)
    at = page(name).run()
    assert not at.exception, at.exception


def test_overview_numbers_equal_the_report(generated, env, capsys):
    from analytics.__main__ import main

    env(generated)
    assert (
        main(["report", "--db", generated, "--format", "json", "--analytics-db", "sqlite://"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    at = page("overview").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["NPS"] == f"{report['nps']:.1f}"
    assert metrics["Odpowiedzi"] == str(report["responses"])
    assert metrics["Z oceną"] == str(report["scored"])
    assert f"95%: {report['ci95'][0]:.1f} … {report['ci95'][1]:.1f}" in texts(at)
    # Changing the trend period and a filter keeps the page working.
    at.radio(key="overview_period").set_value("quarter").run()
    assert not at.exception
    at.multiselect(key="f_channels").set_value(["whatsapp"]).run()
    assert not at.exception
    assert (
        main(
            [
                "report",
                "--db",
                generated,
                "--format",
                "json",
                "--analytics-db",
                "sqlite://",
                "--channel",
                "whatsapp",
            ]
        )
        == 0
    )
    whatsapp = json.loads(capsys.readouterr().out)
    assert {m.label: m.value for m in at.metric}["NPS"] == f"{whatsapp['nps']:.1f}"


def test_drivers_page_table_and_verbatims(generated, env, capsys):
    from analytics.__main__ import main

    env(generated)
    assert (
        main(["report", "--db", generated, "--format", "json", "--analytics-db", "sqlite://"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    at = page("drivers").run()
    table = at.dataframe[0].value.set_index("driver")
    for d in report["drivers"]:
        assert table.loc[d["driver"], "mentions"] == d["mentions"]
    at.selectbox(key="drivers_pick").set_value("delivery").run()
    at.radio(key="drivers_polarity").set_value("neg").run()
    assert not at.exception
    quotes = at.dataframe[1].value
    delivery = next(d for d in report["drivers"] if d["driver"] == "delivery")
    assert len(quotes) == delivery["negative"] and (quotes["polarity"].str.contains("neg")).all()


@pytest.mark.parametrize("name", VIEWS)
def test_empty_store_gives_a_clear_message(name, env, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    tracker_source.create_events_table(writable_engine(url))
    env(url)
    at = page(name).run()
    assert not at.exception
    if name != "try_bot":
        assert "Nie ma jeszcze" in texts(at)


@pytest.mark.parametrize("name", VIEWS[:6])
def test_missing_store_gives_a_clear_message(name, env, tmp_path):
    env(f"sqlite:///{tmp_path / 'nothing_here.db'}")
    at = page(name).run()
    assert not at.exception
    assert "Nie mogę odczytać danych" in texts(at) and "tracker store not found" in texts(at)


@pytest.fixture
def one_response(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    c = (
        Conversation("48601234567", "whatsapp")
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 9)
        .user("<script>alert(1)</script> **tanio**")
        .slot("reason", "<script>alert(1)</script> **tanio**")
        .slot("drivers", ["price:pos"])
        .form(None)
        .slot("survey_outcome", "finished")
    )
    write(url, c)
    return url


@pytest.mark.parametrize("name", VIEWS)
def test_one_response(name, one_response, env):
    env(one_response)
    at = page(name).run()
    assert not at.exception
    shown = texts(at)
    if name == "overview":
        assert "NPS=100.0" in shown and "Tylko 1 ocen" in shown
    # Customer text only inside tables or plain text, never as markdown / HTML.
    for element in at.markdown:
        assert "<script>" not in str(element.value) and "tanio" not in str(element.value)
    # The WhatsApp sender id is a phone number: never shown.
    assert "48601234567" not in shown and "48601234567" not in frames(at)


def test_driver_nobody_mentioned(one_response, env):
    env(one_response)
    at = page("drivers").run()
    at.selectbox(key="drivers_pick").set_value("delivery").run()
    assert not at.exception
    assert "Nikt nie wspomniał o czynniku „Dostawa”" in texts(at)


def test_live_shows_pseudonyms(one_response, env):
    env(one_response)
    at = page("live").run()
    assert not at.exception
    table = frames(at)
    assert "klient-" in table and "48601234567" not in table
    assert "<script>alert(1)</script> **tanio**" in table  # the customer's words, as data


class _StandInBot(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _StandInBot.received.append(body)
        reply = [
            {
                "recipient_id": body["sender"],
                "text": "Jak bardzo polecisz nas znajomym? (0-10)",
                "buttons": [{"title": str(i), "payload": str(i)} for i in range(11)],
            }
        ]
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in_bot(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _StandInBot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _StandInBot.received = []
    monkeypatch.setenv("NPS_BOT_URL", f"http://127.0.0.1:{server.server_port}")
    yield _StandInBot.received
    server.shutdown()
    server.server_close()


def test_try_the_bot(stand_in_bot, env, one_response):
    env(one_response)
    at = page("try_bot").run()
    at.chat_input(key="bot_input").set_value("cześć").run()
    assert not at.exception
    assert stand_in_bot[0]["message"] == "cześć" and stand_in_bot[0]["sender"].startswith(
        "dashboard-"
    )
    assert "Jak bardzo polecisz nas znajomym? (0-10)" in texts(at)
    at.button(key="bot_button_2_8").click().run()
    assert not at.exception
    assert stand_in_bot[-1]["message"] == "8"


def test_try_the_bot_when_it_is_down(env, one_response, monkeypatch):
    env(one_response)
    monkeypatch.setenv("NPS_BOT_URL", "http://127.0.0.1:9")
    at = page("try_bot").run()
    at.chat_input(key="bot_input").set_value("cześć").run()
    assert not at.exception
    assert "Bot nie odpowiada" in texts(at)


def test_app_navigation(generated, env):
    env(generated)
    at = AppTest.from_file(str(DASH / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(m.label == "NPS" for m in at.metric)
    for name in VIEWS[1:5]:
        at.switch_page(f"views/{name}.py").run()
        assert not at.exception, name

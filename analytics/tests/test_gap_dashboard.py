"""The "Luka percepcji" page under AppTest: the same figures as
`python -m analytics gap`, Polish headers, clear messages without data or
without employees, a store manager's own stores only."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from analytics.dashboard.widgets import HEADERS
from analytics.tests.conftest import write
from analytics.tests.test_dashboard import DASH, ENGLISH, POLISH, TIMEOUT, on_loopback, texts
from analytics.tests.test_gap import _customer_conversations, _employee
from analytics.tests.test_projection import hand_built

__all__ = ["on_loopback"]  # the autouse fixture: the dashboard on loopback, no login


def page() -> AppTest:
    return AppTest.from_file(str(DASH / "views" / "gap.py"), default_timeout=TIMEOUT)


@pytest.fixture
def env(monkeypatch, tmp_path):
    def point_at(db_url: str) -> None:
        monkeypatch.setenv("NPS_DB_URL", db_url)
        monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")

    return point_at


@pytest.fixture
def mixed_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    employees = [_employee(0, 9), _employee(1, 10), _employee(2, 7, store="store_b")]
    write(url, *_customer_conversations(), *employees)
    return url


def cli_gap(capsys, url: str, *args) -> dict:
    from analytics.__main__ import main

    assert main(["gap", "--db", url, "--format", "json", "--analytics-db", "sqlite://", *args]) == 0
    return json.loads(capsys.readouterr().out)


def _fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def assert_same_figures(at: AppTest, cli: dict) -> None:
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["NPS klientów"] == _fmt(cli["customer"]["nps"])
    assert metrics["NPS przewidywany"] == _fmt(cli["employee"]["predicted_nps"])
    assert metrics["Różnica"] == _fmt(cli["nps_gap"]["difference"])
    assert metrics["Pracownicy"] == str(cli["employee"]["responses"])
    shown = texts(at)
    ci = cli["customer"]["ci95"]
    assert f"95%: {ci[0]:.1f} … {ci[1]:.1f}" in shown
    # The driver table: the CLI's drivers, in its order, shares in percent.
    table = at.dataframe[1].value
    assert table[HEADERS["driver"]].tolist() == [d["driver"] for d in cli["drivers"]]
    for row, d in zip(table.to_dict("records"), cli["drivers"], strict=True):
        for key in ("customer_share", "employee_share", "gap"):
            expected = None if d[key] is None else d[key] * 100
            got = row[HEADERS[key]]
            assert (expected is None and got != got) or got == pytest.approx(expected), key
        assert row[HEADERS["p_value"]] == pytest.approx(d["p_value"]) or d["p_value"] is None
    # Stores: the first table, one row per store of the CLI's.
    stores = at.dataframe[0].value
    assert stores[HEADERS["customer_scored"]].tolist() == [
        s["customer"]["scored"] for s in cli["stores"]
    ]
    assert stores[HEADERS["employee_predicted"]].tolist() == [
        s["employee"]["predicted"] for s in cli["stores"]
    ]


def test_page_equals_the_cli(mixed_store, env, capsys):
    env(mixed_store)
    at = page().run()
    assert not at.exception, at.exception
    assert_same_figures(at, cli_gap(capsys, mixed_store))
    assert "Martwe pola" in texts(at) and "Mity" in texts(at)
    # A touchpoint filter gives the CLI's --touchpoint figures.
    at.multiselect(key="f_touchpoints").set_value(["store_a"]).run()
    assert not at.exception
    assert_same_figures(at, cli_gap(capsys, mixed_store, "--touchpoint", "store_a"))
    at.selectbox(key="gap_wave").set_value("2026-11").run()
    assert not at.exception


def test_headers_and_chart_labels_are_polish(mixed_store, env):
    from analytics.tests.test_dashboard import _chart_titles

    env(mixed_store)
    at = page().run()
    assert not at.exception
    for frame in at.dataframe:
        columns = set(frame.value.columns)
        assert columns <= POLISH, columns - POLISH
        assert not columns & ENGLISH
    charts = at.get("arrow_vega_lite_chart")
    assert len(charts) == 2
    for chart in charts:
        for channel, title in _chart_titles(json.loads(chart.proto.spec)):
            assert title is None or title not in ENGLISH, (channel, title)
            assert channel != "tooltip" or title in POLISH, title


def test_without_employees_says_how_to_get_them(tmp_path, env):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, *hand_built())
    env(url)
    at = page().run()
    assert not at.exception
    assert "Brak odpowiedzi pracowników" in texts(at) and "nps.links employee" in texts(at)


def test_empty_store(tmp_path, env):
    from analytics import tracker_source
    from analytics.db import writable_engine

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    tracker_source.create_events_table(writable_engine(url))
    env(url)
    at = page().run()
    assert not at.exception and "Nie ma jeszcze" in texts(at)


def test_store_manager_sees_only_their_staff(mixed_store, env, monkeypatch):
    from analytics.dashboard import login
    from analytics.dashboard.auth import User

    env(mixed_store)
    monkeypatch.setattr(
        login, "require_user", lambda: User("kierownik", "store_manager", ("store_b",))
    )
    at = page().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pracownicy"] == "1"  # store_b's one employee, not store_a's two
    assert metrics["NPS klientów"] == "–"  # no customer at store_b


def test_page_equals_the_cli_on_generated_data(tmp_path, env, capsys):
    from analytics.db import writable_engine
    from analytics.generate import BotModel, generate

    bot = BotModel.load()
    if not bot.has_employees:
        pytest.skip("the bot's domain has no employee survey yet (slot 'role')")
    url = f"sqlite:///{tmp_path / 'generated.db'}"
    generate(writable_engine(url), 600, seed=17, end=1_796_000_000.0, bot=bot)
    env(url)
    at = page().run()
    assert not at.exception, at.exception
    cli = cli_gap(capsys, url)
    assert cli["employee"]["responses"] == 30 and cli["blind_spots"] and cli["myths"]
    assert_same_figures(at, cli)
    # Each wave's row of the waves table, as the CLI has it.
    waves = at.dataframe[4].value
    assert waves[HEADERS["wave"]].tolist() == [w["wave"] for w in cli["waves"]]
    assert waves[HEADERS["employee_predicted"]].tolist() == [
        w["employee"]["predicted"] for w in cli["waves"]
    ]

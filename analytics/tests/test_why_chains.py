"""How why-chains end: the bot's why_depth / why_stop / why_driver slots in
the projection, the per-driver and per-group table worked out by hand, the
report's `why_chains` key in every format, and the Root causes page."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import schema, why_chains
from analytics.__main__ import main
from analytics.db import tracker_engine, writable_engine
from analytics.drivers import GENERIC
from analytics.projection import Projection
from analytics.tests.conftest import Conversation, write
from analytics.tests.test_dashboard import (  # noqa: F401 (on_loopback: a fixture)
    HEADERS,
    POLISH,
    on_loopback,
    page,
    texts,
)
from nps.why_stops import REACHED_A_CAUSE, WHY_STOPS


def _survey(sender, score, reason_drivers, chain, end=None, start=1_700_000_000.0):
    """A survey as the bot writes it: score, reason, the whys (requested_slot
    why_answer before each), then the slots that say how the chain ended.
    `end` = (why_depth, why_stop, why_driver) or None (never probed)."""
    c = (
        Conversation(sender, "rest", start=start)
        .session()
        .user("hej")
        .form()
        .slot("nps_score", score)
        .user("powód")
        .slot("reason", "powód")
        .slot("drivers", reason_drivers)
    )
    for i, answer in enumerate(chain):
        c.slot("requested_slot", "why_answer").user(answer).slot("why_chain", chain[: i + 1])
    if end is not None:
        depth, stop, driver = end
        c.slot("why_depth", depth).slot("why_stop", stop).slot("why_driver", driver)
    return c.form(None).slot("survey_outcome", "finished")


def conversations():
    return [
        # Rasa's float slots store 2.0: a whole count all the same.
        _survey(
            "a",
            2,
            ["delivery:neg"],
            ["bo kurier nie zadzwonił", "bo nikt nie odbiera na infolinii"],
            (2.0, "specific", "customer_support"),
        ),
        # The customer's "nie wiem" ended it at once: depth 0, no answers kept.
        _survey("b", 7, ["price:neg"], [], (0, "done", "price"), start=1_700_000_100.0),
        # A promoter is never probed.
        _survey("c", 10, ["staff:pos"], [], None, start=1_700_000_200.0),
        # Before the bot recorded how chains end: no why_stop.
        _survey("d", 3, ["delivery:neg"], ["bo długo"], None, start=1_700_000_300.0),
    ]


# --- projection -------------------------------------------------------------


def test_the_projection_reads_the_new_slots(tracker_url, projection_target):
    write(tracker_url, *conversations())
    url, name = projection_target
    proj = Projection(writable_engine(url), name)
    proj.update(tracker_engine(tracker_url))
    df = proj.read_table(schema.responses).sort_values("response_id").reset_index(drop=True)
    got = [
        (None if pd.isna(d) else int(d), s, w)
        for d, s, w in zip(df["why_depth"], df["why_stop"], df["why_driver"], strict=True)
    ]
    assert got == [
        (2, "specific", "customer_support"),
        (0, "done", "price"),
        (None, None, None),
        (None, None, None),
    ]
    # The first why of "a" probed delivery; the last one followed the answer.
    assert df.loc[0, "probed_driver"] == "delivery"


@pytest.mark.parametrize(
    "value, expected",
    [(3, 3), (3.0, 3), ("4", 4), (2.5, None), (-1, None), (True, None), ("dużo", None)],
)
def test_a_depth_is_a_whole_count_or_nothing(value, expected):
    from analytics.segments import Rows, build_segments
    from analytics.tests.conftest import person

    events = [
        (1, "s", "session_started", 1.0, None, None, None, None),
        (2, "s", "user", 2.0, None, "rest", None, None),
        (3, "s", "active_loop", 3.0, "survey_form", None, None, None),
        (4, "s", "slot", 4.0, "why_depth", None, value, None),
    ]
    rows = Rows(person)
    build_segments(events, rows)
    assert rows.responses[0]["why_depth"] == expected


def test_an_older_projection_is_rebuilt_with_the_new_columns(tmp_path):
    # A projection written before why_depth existed (schema version 3) has no
    # such columns: the next update drops and rebuilds it.
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(tracker, *conversations())
    target = writable_engine(f"sqlite:///{tmp_path / 'analytics.db'}")
    with target.begin() as conn:
        conn.execute(sa.text("CREATE TABLE responses (response_id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE projection_state (key TEXT PRIMARY KEY, value TEXT)"))
        conn.execute(sa.text("INSERT INTO projection_state VALUES ('schema_version', '3')"))
    proj = Projection(target, None)
    assert proj.update(tracker_engine(tracker)).mode == "rebuild"
    assert sorted(proj.read_table(schema.responses)["why_stop"].dropna()) == ["done", "specific"]


# --- the metrics, by hand ----------------------------------------------------


def hand_table() -> pd.DataFrame:
    rows = [
        # rid, score, probed_driver, why_driver, why_depth, why_stop
        (1, 2, "delivery", "customer_support", 3, "specific"),
        (2, 4, "delivery", None, 5, "limit"),  # no why_driver: the first probe's driver
        (3, 0, None, None, 1, "done"),  # nothing negative named: generic
        (4, 7, "delivery", "delivery", 2, "known_issue"),
        (5, 8, "price", "price", 0, "done"),
        (6, None, "returns_complaints", "returns_complaints", 2, "vague_limit"),  # no score
        (7, 10, None, None, None, None),  # promoter: never probed
        (8, 3, "delivery", None, None, None),  # from before why_stop: not a chain here
        (9, 6, "delivery", "delivery", 1, "specific"),
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "response_id",
            "nps_score",
            "probed_driver",
            "why_driver",
            "why_depth",
            "why_stop",
        ],
    ).astype({"nps_score": "Int64", "why_depth": "Int64"})


def _stops(row) -> dict:
    return {s: row[f"stop_{s}"] for s in WHY_STOPS}


def test_chains_by_hand():
    chains = why_chains.chains(hand_table())
    # Chains: responses 1-6 and 9 (7 never probed, 8 has no why_stop).
    assert chains["response_id"].tolist() == [1, 2, 3, 4, 5, 6, 9]
    assert chains["driver"].tolist() == [
        "customer_support",
        "delivery",
        GENERIC,
        "delivery",
        "price",
        "returns_complaints",
        "delivery",
    ]
    assert chains["nps_group"].tolist() == [
        "detractor",
        "detractor",
        "detractor",
        "passive",
        "passive",
        why_chains.NO_SCORE,
        "detractor",
    ]

    total = why_chains.summary(chains)
    # depths 3 + 5 + 1 + 2 + 0 + 2 + 1 = 14 over 7 chains = 2.0
    # reached a cause: 1 (specific), 4 (known_issue), 9 (specific) = 3 of 7
    assert total["chains"] == 7
    assert total["mean_depth"] == pytest.approx(2.0)
    assert total["reached_cause"] == 3
    assert total["reached_share"] == pytest.approx(3 / 7)
    assert _stops(total) == {
        "specific": 2,
        "known_issue": 1,
        "done": 2,
        "limit": 1,
        "vague_limit": 1,
    }

    groups = why_chains.summary_by(chains, "nps_group").set_index("nps_group")
    # Detractors 1, 2, 3, 9: depths 3 + 5 + 1 + 1 = 10 / 4 = 2.5; reached 1 and 9 = 2/4.
    # Passives 4, 5: depths 2 + 0 = 2 / 2 = 1.0; reached 4 = 1/2.
    # No score 6: depth 2; reached 0/1. Promoters: no chains, no row.
    assert groups.index.tolist() == ["detractor", "passive", why_chains.NO_SCORE]
    assert groups["chains"].tolist() == [4, 2, 1]
    assert groups["mean_depth"].tolist() == pytest.approx([2.5, 1.0, 2.0])
    assert groups["reached_share"].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert _stops(groups.loc["detractor"]) == {
        "specific": 2,
        "known_issue": 0,
        "done": 1,
        "limit": 1,
        "vague_limit": 0,
    }

    drivers = why_chains.summary_by(chains, "driver")
    # delivery 2, 4, 9: depths 5 + 2 + 1 = 8 / 3; reached 4 and 9 = 2/3.
    # Then one chain each, by id: "(generic)" sorts before the letters.
    assert drivers["driver"].tolist() == [
        "delivery",
        GENERIC,
        "customer_support",
        "price",
        "returns_complaints",
    ]
    assert drivers["chains"].tolist() == [3, 1, 1, 1, 1]
    assert drivers["mean_depth"].tolist() == pytest.approx([8 / 3, 1.0, 3.0, 0.0, 2.0])
    assert drivers["reached_cause"].tolist() == [2, 0, 1, 0, 0]
    assert drivers["reached_share"].tolist() == pytest.approx([2 / 3, 0.0, 1.0, 0.0, 0.0])
    assert _stops(drivers.iloc[0]) == {
        "specific": 1,
        "known_issue": 1,
        "done": 0,
        "limit": 1,
        "vague_limit": 0,
    }


def test_no_chains_gives_empty_tables():
    chains = why_chains.chains(hand_table().iloc[6:8])
    assert chains.empty
    assert why_chains.summary(chains)["chains"] == 0
    assert why_chains.summary(chains)["mean_depth"] is None
    assert why_chains.summary_by(chains, "driver").empty


def test_reached_a_cause_is_a_stop_value():
    assert set(REACHED_A_CAUSE) <= set(WHY_STOPS)


# --- the report -------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, *conversations())
    return url


def _report(capsys, store, fmt):
    assert main(["report", "--db", store, "--format", fmt, "--analytics-db", "sqlite://"]) == 0
    return capsys.readouterr().out


def test_report_json_has_why_chains(store, capsys):
    why = json.loads(_report(capsys, store, "json"))["why_chains"]
    # Two chains: a (depth 2, specific, customer_support), b (depth 0, done, price).
    assert why["all"] == {
        "chains": 2,
        "mean_depth": 1.0,
        "reached_cause": 1,
        "reached_share": 0.5,
        "stops": {"specific": 1, "known_issue": 0, "done": 1, "limit": 0, "vague_limit": 0},
    }
    assert [(g["group"], g["chains"], g["mean_depth"]) for g in why["by_group"]] == [
        ("detractor", 1, 2.0),
        ("passive", 1, 0.0),
    ]
    by_driver = {d["driver"]: d for d in why["by_driver"]}
    assert set(by_driver) == {"customer_support", "price"}
    assert by_driver["customer_support"]["label"] == "Kontakt z obsługą klienta"
    assert by_driver["customer_support"]["reached_share"] == 1.0
    assert by_driver["price"]["stops"]["done"] == 1


def test_report_csv_and_markdown_have_why_chains(store, capsys):
    rows = list(csv.reader(io.StringIO(_report(capsys, store, "csv"))))
    values = {(m, d): v for m, d, v in rows[1:]}
    assert values[("why_chains", "")] == "2"
    assert values[("why_mean_depth_detractor", "")] == "2.0"
    assert values[("why_reached_share", "customer_support")] == "1.0"
    assert values[("why_stop_done", "price")] == "1"
    md = _report(capsys, store, "md")
    assert "## Why-chains" in md
    assert "| all | 2 | 1.0 | 1 (50.0%) | 1 | 0 | 1 | 0 | 0 |" in md


# --- the dashboard ----------------------------------------------------------


@pytest.mark.usefixtures("on_loopback")
def test_root_causes_page_shows_depth_and_stops(store, monkeypatch, tmp_path):
    monkeypatch.setenv("NPS_DB_URL", store)
    monkeypatch.setenv("NPS_ANALYTICS_DB_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
    at = page("root_causes").run()
    assert not at.exception, at.exception
    by_driver, by_group = at.dataframe[0].value, at.dataframe[1].value
    for frame in (by_driver, by_group):
        assert set(frame.columns) <= POLISH
    by_driver = by_driver.set_index(HEADERS["driver"])
    # a's chain followed the customer to the hotline; d's (no why_stop) is not counted.
    assert by_driver.loc["customer_support", HEADERS["stop_specific"]] == 1
    assert by_driver.loc["customer_support", HEADERS["reached_share"]] == 100.0
    assert by_driver.loc["price", HEADERS["mean_depth"]] == 0.0
    assert by_group[HEADERS["nps_group"]].tolist() == ["krytycy", "neutralni"]
    assert "1 łańcuchów z rozmów sprzed zapisu" in texts(at)
    # The answers behind a driver, with how the chain ended in words.
    at.selectbox(key="root_pick").set_value("customer_support").run()
    chain = at.dataframe[2].value
    assert chain[HEADERS["stop"]].tolist() == ["konkretna odpowiedź"]
    # price's chain ended before any answer was kept.
    at.selectbox(key="root_pick").set_value("price").run()
    assert not at.exception
    assert "skończyły się przed pierwszą zapisaną odpowiedzią" in texts(at)
    # The older chain is still there to read, under the driver it probed.
    at.selectbox(key="root_pick").set_value("delivery").run()
    assert at.dataframe[2].value[HEADERS["chain"]].tolist() == ["bo długo"]


def test_every_stop_has_polish_words():
    from analytics.dashboard.widgets import STOP_LABELS

    assert set(STOP_LABELS) == set(WHY_STOPS)
    assert {f"stop_{s}" for s in WHY_STOPS} <= set(HEADERS)

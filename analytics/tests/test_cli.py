"""The report CLI against stores whose answers are known."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.__main__ import main
from analytics.db import writable_engine
from analytics.generate import generate
from analytics.stats import nps_group
from analytics.tests.conftest import write
from analytics.tests.test_projection import hand_built

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=None if env is None else {**os.environ, **env},
    )


def report(capsys, *args) -> dict:
    assert main(["report", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def hand_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    write(url, *hand_built())
    return url


def test_report_on_hand_built_store(hand_store, capsys):
    r = report(capsys, "--db", hand_store)
    # Surveys: alice 3, bob 9, carol 7 (abandoned by /restart), carol 10 (in progress)
    # P = 2 (9, 10), passive = 1 (7), D = 1 (3): NPS = (2 - 1)/4 = 25
    # n' = 7, p' = 2.75/7 = 0.392857, d' = 1.75/7 = 0.25, p'-d' = 0.142857
    # var = 0.642857 - 0.020408 = 0.622449, SE = sqrt(0.622449/7) = 0.298197
    # 1.96*SE = 0.584466 -> [-0.441609, 0.727323] -> [-44.2, 72.7]
    assert r["responses"] == 4 and r["scored"] == 4
    assert r["nps"] == 25.0
    assert r["ci95"] == [-44.2, 72.7]
    assert r["groups"] == {"promoter": 2, "passive": 1, "detractor": 1}
    # started 4; scored 4; reason: alice only; finished: alice only
    assert r["funnel"] == {"started": 4, "scored": 4, "reason": 1, "finished": 1}
    assert r["status"]["finished"] == 1 and r["status"]["stopped"] == 1
    drivers = {d["driver"]: d for d in r["drivers"]}
    # delivery: alice only (3): share 1/4, NPS(mentioners) -100;
    # rest 9, 7, 10: (2 - 0)/3 = 66.7 -> impact 25 - 66.67 = -41.7
    assert drivers["delivery"]["mentions"] == 1 and drivers["delivery"]["share"] == 0.25
    assert drivers["delivery"]["negative"] == 1 and drivers["delivery"]["positive"] == 0
    assert drivers["delivery"]["nps_mentioners"] == -100.0
    assert drivers["delivery"]["impact"] == -41.7
    # staff: carol's 7, positive: NPS(mentioners) 0; rest 3, 9, 10: (2 - 1)/3 = 33.3
    # -> impact 25 - 33.33 = -8.3
    assert drivers["staff"]["positive"] == 1 and drivers["staff"]["nps_mentioners"] == 0.0
    assert drivers["staff"]["impact"] == -8.3
    # Every required key is there.
    assert set(drivers["price"]) >= {
        "driver",
        "mentions",
        "share",
        "positive",
        "negative",
        "nps_mentioners",
        "impact",
    }


def test_report_filters(hand_store, capsys):
    # bob is the only WhatsApp response: one promoter -> NPS 100
    r = report(capsys, "--db", hand_store, "--channel", "whatsapp")
    assert (r["responses"], r["nps"], r["groups"]["promoter"]) == (1, 100.0, 1)
    # carol's touchpoint "store" survives only in her first survey (7: passive -> NPS 0)
    r = report(capsys, "--db", hand_store, "--touchpoint", "store")
    assert (r["responses"], r["nps"]) == (1, 0.0)
    r = report(capsys, "--db", hand_store, "--touchpoint", "none", "--channel", "rest,facebook")
    assert r["responses"] == 2  # alice and carol's second survey
    # All responses are in November 2023 (unix 1.7e9 = 2023-11-14).
    assert report(capsys, "--db", hand_store, "--since", "2023-12-01")["responses"] == 0
    r = report(capsys, "--db", hand_store, "--since", "2023-11-14", "--until", "2023-11-14")
    assert r["responses"] == 1 and r["nps"] == -100.0  # alice, 3
    empty = report(capsys, "--db", hand_store, "--channel", "nowhere")
    assert empty["responses"] == 0 and empty["nps"] is None and empty["ci95"] is None


def test_report_on_generated_store_matches_the_plan(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'gen.db'}"
    plans = generate(writable_engine(url), 500, seed=21, end=1_750_000_000.0)
    r = report(capsys, "--db", url)
    # Count the plan directly, without the analytics code.
    groups = collections.Counter(nps_group(p.score) for p in plans if p.score is not None)
    n = sum(groups.values())
    assert r["responses"] == len(plans) and r["scored"] == n
    assert r["groups"] == {g: groups[g] for g in ("promoter", "passive", "detractor")}
    assert r["nps"] == round(100 * (groups["promoter"] - groups["detractor"]) / n, 1)
    mentioned = collections.Counter()
    for p in plans:
        if p.score is not None:
            for d in {t.split(":")[0] for t in p.drivers}:
                mentioned[d] += 1
    assert {d["driver"]: d["mentions"] for d in r["drivers"] if d["mentions"]} == dict(mentioned)
    # The funnel's stages are nested: finished counts those scored, with a reason.
    assert r["funnel"]["finished"] == sum(
        1
        for p in plans
        if p.score is not None and (p.reason or "").strip() and p.outcome == "finished"
    )


def test_csv_and_markdown(hand_store, capsys):
    assert main(["report", "--db", hand_store, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "metric,driver,value"
    assert "nps,,25.0" in lines and "ci95_low,,-44.2" in lines and "impact,delivery,-41.7" in lines
    assert main(["report", "--db", hand_store, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| NPS | 25.0 |" in md and "-44.2 … 72.7" in md


def test_report_json_via_subprocess(hand_store):
    done = run_cli("report", "--db", hand_store, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nps"] == 25.0


@pytest.mark.parametrize(
    "db, message",
    [
        ("sqlite:///{tmp}/missing.db", "tracker store not found"),
        ("not a url", "not a database URL"),
        ("mysql://u@127.0.0.1/x", "unsupported database"),
        ("sqlite:///{tmp}/no_events.db", "no `events` table"),
        ("postgresql://postgres@127.0.0.1:1/test", "cannot read the tracker store"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, db, message):
    writable_engine(f"sqlite:///{tmp_path / 'no_events.db'}").connect().close()
    done = run_cli("report", "--db", db.format(tmp=tmp_path), "--format", "json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_bad_arguments(hand_store):
    done = run_cli("report", "--db", hand_store, "--since", "yesterday")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    done = run_cli("report", "--db", hand_store, "--since", "2024-02-01", "--until", "2024-01-01")
    assert done.returncode == 2 and "--since is after --until" in done.stderr


def test_same_seed_same_store_on_both_backends(pg_schema, tmp_path, capsys):
    # The generator writes PostgreSQL with COPY and SQLite with INSERT; the
    # same seed and end date must give the same report on both.
    _, url = pg_schema
    lite = f"sqlite:///{tmp_path / 'g.db'}"
    for db in (url, lite):
        assert (
            main(
                [
                    "generate",
                    "--db",
                    db,
                    "--conversations",
                    "150",
                    "--seed",
                    "9",
                    "--end",
                    "2025-06-30",
                ]
            )
            == 0
        )
    assert report(capsys, "--db", url) == report(capsys, "--db", lite)


@pytest.mark.parametrize(
    "name, value",
    [
        ("NPS_ABANDON_AFTER_HOURS", "a day"),
        ("NPS_ABANDON_AFTER_HOURS", "-3"),
        ("NPS_LIVE_REFRESH_SECONDS", "5s"),
        ("NPS_LIVE_REFRESH_SECONDS", "0"),
    ],
)
def test_a_bad_number_setting_is_one_line_naming_the_variable(hand_store, name, value):
    done = run_cli("report", "--db", hand_store, env={name: value})
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0]


def test_the_trainer_files_come_from_nps_data_dir(tmp_path, monkeypatch):
    from analytics.settings import load_settings

    settings = load_settings({"NPS_DATA_DIR": str(tmp_path)})
    assert settings.drivers_file == tmp_path / "drivers.yml"
    assert settings.known_issues_file == tmp_path / "known_issues.yml"
    # The tracker store is the bot's: one default, in nps/settings.py.
    from nps.settings import load_settings as bot_settings

    assert load_settings({}).db_url == bot_settings({}).db_url

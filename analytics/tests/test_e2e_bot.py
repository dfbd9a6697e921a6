"""End to end: conversations held with the real bot over REST appear in the
report CLI with the right numbers, on SQLite and on PostgreSQL.

Uses the bot team's tests/bot_process.py (starts the action server and
`rasa run` from .venv/ on loopback) and tests/databases.py (a fresh tracker
database). Skipped, with the reason, when the bot environment or the trained
model is missing (`make train` builds it; `make test` runs it first)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bot_tools():
    missing = [
        p
        for p in (
            REPO / "tests" / "bot_process.py",
            REPO / "tests" / "databases.py",
            REPO / ".venv" / "bin" / "rasa",
        )
        if not p.exists()
    ]
    if missing:
        pytest.skip(
            f"bot environment not available: missing {', '.join(str(p.relative_to(REPO)) for p in missing)}"
        )
    bot_process = _load("nps_bot_process", REPO / "tests" / "bot_process.py")
    if not bot_process.DEFAULT_MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    return bot_process, _load("nps_bot_databases", REPO / "tests" / "databases.py")


CONVERSATIONS = {
    "e2e-promoter": [
        "cześć",
        "10",
        "bardzo miła obsługa w sklepie",
        "szybka dostawa do paczkomatu",
    ],
    "e2e-passive": [
        '/start{"touchpoint": "store"}',
        "8",
        "miła obsługa, ale ceny za wysokie",
        "u konkurencji jest taniej",
        "to wszystko",
        "niższe ceny",
    ],
    "e2e-fixed": ["dzień dobry", "2, nie wiem gdzie jest moja paczka", "tak, pomogło", "7", "nie"],
    "e2e-leaver": ["cześć", "5", "koniec"],
    "e2e-talking": ["cześć"],  # still in progress: started, no score yet
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def talked(request, tmp_path_factory):
    """A fresh tracker store filled by real conversations; yields (db_url, slots per sender)."""
    bot_process, databases = _bot_tools()
    with databases.fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        with bot_process.BotProcess(db_url=url, log_dir=tmp_path_factory.mktemp("logs")) as bot:
            for sender, lines in CONVERSATIONS.items():
                for line in lines:
                    bot.send(sender, line)
            slots = {sender: bot.slots(sender) for sender in CONVERSATIONS}
        yield url, slots


def report(db_url: str, *extra) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "report",
            "--db",
            db_url,
            "--format",
            "json",
            "--analytics-db",
            "sqlite://",
            *extra,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_conversations_appear_in_the_report(talked):
    url, slots = talked
    # What Rasa itself says the customers answered.
    assert [slots[s]["nps_score"] for s in CONVERSATIONS] == [10, 8, 2, 5, None]
    r = report(url)
    # 5 surveys started, 4 scores: 10 promoter, 8 passive, 2 and 5 detractors
    # NPS = (1 - 2) / 4 = -25
    assert r["responses"] == 5 and r["scored"] == 4
    assert r["groups"] == {"promoter": 1, "passive": 1, "detractor": 2}
    assert r["nps"] == -25.0
    # reason: promoter, passive, fixed; finished: the same three; the leaver stopped
    assert r["funnel"] == {"started": 5, "scored": 4, "reason": 3, "finished": 3}
    assert r["status"]["stopped"] == 1 and r["status"]["in_progress"] == 1
    # Drivers, counted from the slots Rasa holds, among the scored respondents.
    expected: dict[str, set] = {}
    for sender, s in slots.items():
        if s["nps_score"] is None:
            continue
        for tag in s.get("drivers") or []:
            driver, polarity = tag.split(":")
            expected.setdefault(driver, set()).add((sender, polarity))
    got = {d["driver"]: d for d in r["drivers"] if d["mentions"]}
    assert set(got) == set(expected)
    for driver, who in expected.items():
        assert got[driver]["mentions"] == len({s for s, _ in who})
        assert got[driver]["positive"] == len({s for s, p in who if p == "pos"})
        assert got[driver]["negative"] == len({s for s, p in who if p == "neg"})
    assert "staff" in got and "price" in got


def test_filters_and_known_issue(talked):
    url, slots = talked
    store = report(url, "--touchpoint", "store")
    assert (store["responses"], store["nps"]) == (1, 0.0)  # the passive, 8
    assert report(url, "--channel", "rest")["responses"] == 5
    assert report(url, "--channel", "whatsapp")["responses"] == 0

    from analytics.dataset import load_dataset
    from analytics.db import tracker_engine, writable_engine
    from analytics.drivers import known_issue_summary
    from analytics.projection import Projection

    projection = Projection(writable_engine("sqlite://"))
    projection.update(tracker_engine(url))
    issues = known_issue_summary(load_dataset(projection)).set_index("known_issue")
    row = issues.loc["parcel_tracking"]
    assert (row["offered"], row["resolved"], row["rerated"]) == (1, 1, 1)
    assert (row["mean_before"], row["mean_after"]) == (2.0, 7.0)

    # The passive named the price negatively in the reason, before the first
    # why: the root cause is the driver the bot's whys were about.
    from analytics.drivers import root_causes
    from nps.drivers import main_negative

    ds = load_dataset(projection)
    causes = root_causes(ds).merge(ds.responses[["response_id", "person"]])
    # The REST conversation is "rest:e2e-passive" (bare before channel prefixes).
    forms = {projection.person(f) for f in ("e2e-passive", "rest:e2e-passive")}
    passive = causes[causes["person"].isin(forms)]["driver"].tolist()
    assert passive == [main_negative(slots["e2e-passive"]["drivers"])] == ["price"]


def test_why_chains_follow_the_bots_slots(talked):
    """The report's why-chain numbers are those of the why_stop / why_depth
    slots Rasa holds (the passive is probed, the promoter never)."""
    from nps.why_stops import WHY_STOPS

    url, slots = talked
    assert slots["e2e-promoter"].get("why_stop") is None
    ended = [s for s in slots.values() if s.get("why_stop")]
    assert slots["e2e-passive"].get("why_stop")  # named the price negatively: probed
    why = report(url)["why_chains"]
    assert why["all"]["chains"] == len(ended)
    assert why["all"]["stops"] == {
        stop: sum(s["why_stop"] == stop for s in ended) for stop in WHY_STOPS
    }
    depths = [s["why_depth"] for s in ended]
    assert why["all"]["mean_depth"] == (round(sum(depths) / len(depths), 2) if depths else None)

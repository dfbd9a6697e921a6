"""The retrain advice (analytics.retrain): thresholds worked out by hand,
the model's training time read from its archive, and the answers since."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile

from analytics import retrain
from analytics.rasa_events import EventWriter
from analytics.settings import load_settings
from analytics.tests.conftest import write

T = retrain.Thresholds(answers=5000, not_understood=0.10, min_answers=100)


def test_below_both_thresholds():
    # 4999 answers < 5000; 499 / 4999 = 9.98% < 10%.
    a = retrain.advice(4999, 499, T)
    assert not a.retrain and a.reasons == ()
    assert round(a.share, 4) == 0.0998


def test_answers_threshold_reached():
    # 5000 answers = the threshold; 0 not understood.
    a = retrain.advice(5000, 0, T)
    assert a.retrain and a.reasons == ("answers",)
    assert "make inbox" in a.commands and a.commands[-1] == "make eval"


def test_share_threshold_reached():
    # 20 of 200 = exactly 10%: past the threshold, with 200 >= 100 answers.
    a = retrain.advice(200, 20, T)
    assert a.retrain and a.reasons == ("not_understood",)
    assert a.share == 0.10
    # 19 of 200 = 9.5%: not yet.
    assert not retrain.advice(200, 19, T).retrain


def test_both_thresholds():
    # 6000 answers, 900 not understood = 15%.
    a = retrain.advice(6000, 900, T)
    assert a.reasons == ("answers", "not_understood")


def test_share_needs_enough_answers():
    # 1 of 3 = 33%, but 3 answers say nothing yet; at 100 answers, 34 = 34% does.
    assert not retrain.advice(3, 1, T).retrain
    assert retrain.advice(100, 34, T).retrain


def test_no_answers():
    a = retrain.advice(0, 0, T)
    assert not a.retrain and a.share is None


def _model(path, trained_at: str) -> None:
    meta = json.dumps({"trained_at": trained_at, "domain": {}}).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(meta)
        archive.addfile(info, io.BytesIO(meta))


def test_trained_at_from_the_archive(tmp_path):
    _model(tmp_path / "m.tar.gz", "2023-11-14T22:20:00.500000")
    assert retrain.trained_at(tmp_path / "m.tar.gz") == dt.datetime(
        2023, 11, 14, 22, 20, 0, 500000, tzinfo=dt.timezone.utc
    )
    assert retrain.trained_at(tmp_path / "missing.tar.gz") is None


def test_answers_since_training(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    # 1_700_000_000 = 2023-11-14T22:13:20Z. Three answers before training
    # (22:13:20..22:13:40 + ...), training at 22:20:00, then two answers, one
    # of them a fallback; a message with no question pending is no answer.
    old = EventWriter("rest:old", "rest", 1_700_000_000.0)
    old.session_started().user("hej", "greet").slot("requested_slot", "nps_score")
    old.user("8", "give_score").slot("requested_slot", "reason")
    old.user("drogo", "feedback", confidence=0.2)
    new = EventWriter("rest:new", "rest", 1_700_000_000.0 + 3600)
    new.session_started().user("hej", "greet").slot("requested_slot", "nps_score")
    new.user("9", "give_score").slot("requested_slot", "reason")
    new.user("qwerty", "nlu_fallback", confidence=0.2).action("action_nps_fallback")
    write(url, old, new)
    model = tmp_path / "model.tar.gz"
    _model(model, "2023-11-14T22:20:00")
    monkeypatch.setenv("NPS_DB_URL", url)
    monkeypatch.setenv("NPS_MODEL_PATH", str(model))
    settings = load_settings()
    assert settings.model_path == model
    from analytics.db import tracker_engine

    engine = tracker_engine(url)
    since = retrain.since_training(engine, settings, retrain.trained_at(model))
    engine.dispose()
    # rest:new: "hej" (no question pending), "9" and "qwerty" answer questions.
    assert (since.answers, since.not_understood) == (2, 1)

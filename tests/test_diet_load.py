"""The model loaded the quick way predicts exactly what Rasa's own loader predicts.

nps_nlu/diet.py builds DIET's weights eagerly before reading them, instead of
tracing a training step nobody uses. Both loaders read the same trained
weights, so for the same message they must give the same intent, confidence,
entities, spans and roles. The messages are the development comments
(never trained on) and the score answers customers type.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml

from tests.bot_process import DEFAULT_MODEL, REPO

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
    ),
]

# A sample that crosses every driver and both polarities, with typos and no diacritics.
SAMPLE = 120


def messages() -> list[str]:
    dev = yaml.safe_load((REPO / "data/eval/dev_comments.yml").read_text(encoding="utf-8"))
    texts = [c["text"] for c in dev["comments"]][:SAMPLE]
    return texts + ["cześć", "10", "dziewięć", "2, kurier zgubił moją paczkę", "nie wiem", "stop"]


def parse_all(agent, texts: list[str]) -> list[dict]:
    async def run() -> list[dict]:
        return [await agent.parse_message(text) for text in texts]

    return asyncio.run(run())


def summary(parsed: dict) -> tuple:
    return (
        parsed["intent"]["name"],
        [
            (e["entity"], e.get("role"), e.get("role_diet"), e["start"], e["end"], e["value"])
            for e in parsed["entities"]
        ],
    )


@pytest.fixture(scope="module")
def both_loaders():
    from rasa.core.agent import Agent

    from nps_nlu.diet import FastLoadDIETClassifier

    start = time.monotonic()
    quick = Agent.load(str(DEFAULT_MODEL))
    quick_seconds = time.monotonic() - start

    # Rasa's own loader, for this comparison only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastLoadDIETClassifier, "build_eagerly", False)
        start = time.monotonic()
        stock = Agent.load(str(DEFAULT_MODEL))
        stock_seconds = time.monotonic() - start
    print(f"loaded in {quick_seconds:.1f} s the quick way, {stock_seconds:.1f} s Rasa's way")
    return quick, stock


def test_the_quick_load_predicts_what_rasas_load_predicts(both_loaders):
    quick, stock = both_loaders
    texts = messages()
    quick_parses, stock_parses = parse_all(quick, texts), parse_all(stock, texts)
    assert [summary(p) for p in quick_parses] == [summary(p) for p in stock_parses]
    for q, s in zip(quick_parses, stock_parses, strict=True):
        assert q["intent"]["confidence"] == pytest.approx(s["intent"]["confidence"], abs=1e-5)
        for qe, se in zip(q["entities"], s["entities"], strict=True):
            assert qe["confidence_entity"] == pytest.approx(se["confidence_entity"], abs=1e-5)
    # Not a vacuous comparison: drivers with both polarities were found.
    roles = {(e["entity"], e.get("role")) for p in quick_parses for e in p["entities"]}
    assert {role for _, role in roles} >= {"pos", "neg"} and len(roles) >= 10


def test_entities_still_say_diet_found_them(both_loaders):
    quick, _ = both_loaders
    (parsed,) = parse_all(quick, ["kurier zgubił moją paczkę"])
    assert {e["extractor"] for e in parsed["entities"]} == {"DIETClassifier"}

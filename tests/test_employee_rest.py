"""The employees' mirror survey with the real bot over REST.

A staff member opens a signed link (nps/links.py): the bot asks what score
they think customers give, why customers recommend us, what customers
complain about, why that happens, and what they would change; the answers
land in the employee slots of the data contract, never in a customer's. A
forged or unsigned link opens nothing. What the bot said is read as response
names (rewording the trainers' texts breaks nothing).
"""

from __future__ import annotations

import json
import time

import pytest

from nps import links
from nps.why_stops import WHY_STOPS
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database, stored_slots

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
    ),
]

KEY = "employee-link-key-for-tests-0123456789"  # pragma: allowlist secret (a test value)
BOT_SETTINGS = {
    "NPS_EMPLOYEE_LINK_KEY": KEY,
    "NPS_MAX_WHYS": "3",
    "NPS_MAX_CLARIFICATIONS": "2",
    "NPS_RESURVEY_DAYS": "30",
    "NPS_REVIEW_URL": "",
}


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    with fresh_database("sqlite", tmp_path_factory.mktemp("db")) as url:
        logs = tmp_path_factory.mktemp("logs")
        with BotProcess(db_url=url, env=BOT_SETTINGS, log_dir=logs) as running:
            yield running


def start(token: str) -> str:
    return "/start" + json.dumps({"employee_link": token})


def last(bot, sender: str, text: str) -> list[str]:
    bot.send(sender, text)
    return bot.said(sender)[-1]


def signed(store: str = "warszawa-1", wave: str = "2026-11", expires: float | None = None) -> str:
    expires = time.time() + 3600 if expires is None else expires
    return links.sign(store, wave, int(expires), KEY.encode())


def test_an_employee_survey_end_to_end(bot):
    who = "employee-anna"
    assert last(bot, who, start(signed())) == ["utter_employee_intro", "utter_ask_predicted_score"]
    assert last(bot, who, "myślę, że klienci dają nam 8") == ["utter_ask_predicted_praise"]
    assert last(bot, who, "miła i pomocna obsługa w sklepie") == ["utter_ask_predicted_complaint"]
    # Always asked why about the complaint they predicted.
    assert last(bot, who, "długie kolejki do kasy") == ["utter_employee_why"]
    answers = [
        "po 16 otwarta jest tylko jedna kasa, bo brakuje ludzi na zmianie",
        "grafik układa centrala i nie patrzy na ruch w sklepie",
        "nie wiem",
    ]
    for answer in answers:
        turn = last(bot, who, answer)
        if turn == ["utter_ask_proposed_fix"]:
            break
        assert turn == ["utter_employee_why"]
    else:
        pytest.fail("the why-chain never ended")
    assert last(bot, who, "otwierać drugą kasę w godzinach szczytu") == ["utter_thanks_employee"]

    for slots in (bot.tracker(who)["slots"], stored_slots(bot.db_url, bot.conversation(who))):
        assert slots["role"] == "employee"
        assert (slots["touchpoint"], slots["survey_wave"]) == ("warszawa-1", "2026-11")
        assert slots["predicted_score"] == 8
        assert slots["predicted_praise"] == "miła i pomocna obsługa w sklepie"
        assert slots["predicted_complaint"] == "długie kolejki do kasy"
        assert slots["proposed_fix"] == "otwierać drugą kasę w godzinach szczytu"
        assert any(t.endswith(":pos") for t in slots["employee_drivers"])
        assert any(t.endswith(":neg") for t in slots["employee_drivers"])
        assert 1 <= len(slots["why_chain"]) <= 3
        assert slots["why_stop"] in WHY_STOPS
        assert slots["survey_outcome"] == "finished"
        # Nothing of a customer's survey: no score, no customer drivers, no fix offered.
        for customer_slot in ("nps_score", "nps_group", "reason", "drivers", "known_issue"):
            assert slots.get(customer_slot) is None, customer_slot


@pytest.mark.parametrize(
    "token",
    [
        "warszawa-1",  # unsigned: a store name typed by hand
        signed()[:-3] + "abc",  # altered signature
        links.sign("warszawa-1", "2026-11", int(time.time()) + 3600, b"someone else's key" * 2),
        signed(expires=time.time() - 60),  # expired
    ],
    ids=["unsigned", "altered", "another key", "expired"],
)
def test_a_forged_or_unsigned_link_opens_nothing(bot, token):
    who = f"forger-{abs(hash(token)) % 10**8}"
    assert last(bot, who, start(token)) == ["utter_employee_link_invalid"]
    last(bot, who, "8")
    slots = stored_slots(bot.db_url, bot.conversation(who))
    assert slots.get("role") is None and slots.get("survey_wave") is None
    assert slots.get("predicted_score") is None and slots.get("nps_score") is None
    assert token not in bot.log("rasa") + bot.log("actions")

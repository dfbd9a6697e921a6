"""Whole conversations with the real bot over REST, on SQLite and on PostgreSQL.

Starts the action server and ``rasa run`` on loopback with the trained model
(``make train``), talks Polish to it like a customer, and checks what it
chose to say and what it stored:
- which responses it said after each message, from the tracker's bot events
  (``metadata.utter_action``); a text an action wrote is recognised as a
  why-question or a known issue's fix of the trainers' files (NPS_DATA_DIR),
  so rewording any of it cannot break these tests;
- the slots, read twice: through Rasa's tracker endpoint and straight from
  the tracker store's ``events`` table.
"""

from __future__ import annotations

import pytest

from nps import drivers, known_issues, why_questions
from nps.settings import load_settings
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database, stored_slots

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
    ),
]

DATA = load_settings().data_dir
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")
WHYS = why_questions.load(DATA / "why_questions.yml", CATALOGUE)
ISSUES = known_issues.load(DATA / "known_issues.yml", CATALOGUE)

# Operator settings the bot runs with here, whatever the shell exports.
MAX_WHYS = 5
BOT_SETTINGS = {
    "NPS_MAX_WHYS": str(MAX_WHYS),
    "NPS_MAX_CLARIFICATIONS": "2",
    "NPS_RESURVEY_DAYS": "30",
    "NPS_REVIEW_URL": "",
}

# The opening of every survey: the intro, then the score question.
OPENING = ["utter_intro", "utter_ask_nps_score"]
# What the bot said as a text of its own, labelled by what it was.
WHY = "why"
FIX = "fix:"  # + the known issue's id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bot(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        logs = tmp_path_factory.mktemp("logs")
        with BotProcess(db_url=url, env=BOT_SETTINGS, log_dir=logs) as running:
            yield running


def _label(event: dict) -> str:
    """A bot event as the response it said, or what its text was."""
    name = (event.get("metadata") or {}).get("utter_action")
    if name:
        return name
    text = event.get("text") or ""
    if text in WHYS.all_texts():
        return WHY
    for issue in ISSUES:
        if text.startswith(issue.fix):
            return FIX + issue.id
    return text


def said(bot, sender: str) -> list[list[str]]:
    """What the bot said after each customer message, in order."""
    turns: list[list[str]] = []
    for event in bot.tracker(sender, include_events="ALL")["events"]:
        if event["event"] == "user":
            turns.append([])
        elif event["event"] == "bot" and turns and (event.get("text") or _label(event)):
            # A bot event without text is a signal to the web chat (the
            # survey_end custom payload), nothing the customer reads.
            turns[-1].append(_label(event))
    return turns


def whys_asked(bot, sender: str) -> list[str]:
    events = bot.tracker(sender, include_events="ALL")["events"]
    return [e["text"] for e in events if e["event"] == "bot" and _label(e) == WHY]


def wordings(driver: str | None, kind: str | None = None) -> set[str]:
    """The why-questions that may be asked about ``driver`` (of one kind, or any)."""
    kinds = [kind] if kind else why_questions.KINDS
    return {q for k in kinds for q in WHYS.wordings(driver, k)}


def assert_whys_probe(asked: list[str], driver: str) -> None:
    """The whys are the driver's own questions or the generic ones, never the
    same twice in a row."""
    assert asked and set(asked) <= wordings(driver)
    assert all(a != b for a, b in zip(asked, asked[1:], strict=False))


def talk(bot, sender, *lines) -> list[list[str]]:
    """Send each line; return what the bot said after each of them."""
    for line in lines:
        bot.send(sender, line)
    return said(bot, sender)[-len(lines) :]


def test_a_promoter(bot):
    turns = talk(
        bot,
        "promoter",
        "cześć",
        "10",
        "bardzo miła obsługa w sklepie",
        "szybka dostawa do paczkomatu",
    )
    assert turns[:3] == [OPENING, ["utter_ask_reason_promoter"], ["utter_ask_valued_most"]]
    # then the thanks, and a tip if the trainers wrote one for what was praised
    assert turns[3][0] == "utter_thanks_promoter"
    assert set(turns[3][1:]) <= {"utter_tip"}
    slots = bot.slots("promoter")
    assert slots["nps_score"] == 10 and slots["nps_group"] == "promoter"
    assert slots["reason"] == "bardzo miła obsługa w sklepie"
    assert slots["valued_most"] == "szybka dostawa do paczkomatu"
    assert "staff:pos" in slots["drivers"]
    assert slots["survey_outcome"] == "finished"
    # what Rasa reports is what the tracker store holds
    stored = stored_slots(bot.db_url, bot.conversation("promoter"))
    for name in ("nps_score", "nps_group", "reason", "drivers", "survey_outcome"):
        assert stored[name] == slots[name]


def test_after_the_survey_every_message_gets_one_answer(bot):
    talk(bot, "after", "cześć", "9", "miła obsługa", "szybka dostawa")
    assert bot.slots("after")["survey_outcome"] == "finished"
    turns = talk(bot, "after", "pozdrawiam", "ok", "a kurier był niemiły i spóźnił się dwa dni")
    # one reply per message: never the same one repeated, never silence
    assert [len(turn) for turn in turns] == [1, 1, 1]
    assert turns[2] == ["utter_comment_thanks"]
    assert bot.slots("after")["extra_comment"] == "a kurier był niemiły i spóźnił się dwa dni"


def test_a_passive_from_a_store_touchpoint(bot):
    turns = talk(
        bot,
        "passive",
        '/start{"touchpoint": "store"}',
        "8",
        "miła obsługa, ale ceny za wysokie",
        "u konkurencji jest taniej",
        "to wszystko",
        "niższe ceny",
    )
    assert turns == [
        OPENING,
        ["utter_ask_reason_passive"],
        [WHY],  # a passive who named something negative is asked why
        [WHY],
        ["utter_ask_improvement"],  # "to wszystko" ends the whys
        ["utter_thanks_passive"],
    ]
    assert_whys_probe(whys_asked(bot, "passive"), "price")
    slots = bot.slots("passive")
    assert slots["touchpoint"] == "store"
    assert slots["nps_group"] == "passive"
    assert "price:neg" in slots["drivers"] and "staff:pos" in slots["drivers"]
    assert slots["why_chain"] == ["u konkurencji jest taniej"]
    assert (slots["why_stop"], slots["why_depth"]) == ("done", 1)
    assert slots["improvement"] == "niższe ceny"
    assert slots["survey_outcome"] == "finished"
    user_events = [e for e in bot.tracker("passive")["events"] if e["event"] == "user"]
    assert {e["input_channel"] for e in user_events} == {"rest"}


def test_a_detractor_whose_known_issue_is_fixed_and_who_re_rates(bot):
    turns = talk(
        bot,
        "fixed",
        "dzień dobry",
        "2, nie wiem gdzie jest moja paczka",
        "tak, pomogło",
        "7",
        "nie",
    )
    assert turns == [
        OPENING,
        # the reason came with the score: the fix is offered at once, no "why?"
        ["utter_fix_intro", FIX + "parcel_tracking", "utter_ask_issue_resolved"],
        ["utter_ask_nps_score_after"],
        ["utter_ask_contact_consent"],
        ["utter_thanks_detractor"],
    ]
    slots = bot.slots("fixed")
    assert slots["nps_score"] == 2 and slots["nps_group"] == "detractor"
    assert slots["reason"] == "nie wiem gdzie jest moja paczka"
    assert slots["known_issue"] == "parcel_tracking"
    assert slots["issue_resolved"] is True
    assert slots["nps_score_after"] == 7
    assert slots["contact_consent"] is False
    assert slots["why_chain"] in (None, [])
    # never asked "why?": the chain's slots stay empty
    assert (slots["why_stop"], slots["why_depth"]) == (None, None)


def test_a_known_issue_that_did_not_help(bot):
    turns = talk(bot, "notfixed", "hej", "3", "nie mogę się zalogować do aplikacji", "nie", "tak")
    assert turns == [
        OPENING,
        ["utter_ask_reason_detractor"],
        ["utter_fix_intro", FIX + "password_reset", "utter_ask_issue_resolved"],
        ["utter_issue_not_resolved", "utter_ask_contact_consent"],
        ["utter_thanks_detractor_contact"],
    ]
    slots = bot.slots("notfixed")
    assert slots["known_issue"] == "password_reset"
    assert slots["issue_resolved"] is False
    assert slots["nps_score_after"] is None
    assert slots["contact_consent"] is True


def test_five_vague_whys_reach_the_limit(bot):
    # each names no driver, or nothing concrete: asked again, up to the limit
    whys = [
        "bo wszędzie jest taniej",
        "chyba macie wysokie marże",
        "bo macie drogie reklamy",
        "bo czynsze są wysokie",
        "bo czynsze rosną",
    ]
    assert len(whys) == MAX_WHYS
    turns = talk(bot, "whys", "cześć", "4", "za drogo", *whys, "nie")
    assert turns == [
        OPENING,
        ["utter_ask_reason_detractor"],
        *[[WHY]] * MAX_WHYS,
        ["utter_ask_contact_consent"],
        ["utter_thanks_detractor"],
    ]
    asked = whys_asked(bot, "whys")
    assert_whys_probe(asked, "price")
    # the kinds rotate: clarify, cause, fix, clarify, cause
    kinds = [why_questions.KINDS[i % 3] for i in range(MAX_WHYS)]
    assert all(q in wordings("price", k) for q, k in zip(asked, kinds, strict=True))
    slots = bot.slots("whys")
    assert slots["why_chain"] == whys
    assert (slots["why_stop"], slots["why_depth"]) == ("limit", MAX_WHYS)
    assert "price:neg" in slots["drivers"]
    assert slots["contact_consent"] is False
    assert slots["survey_outcome"] == "finished"


def test_the_issues_detractor_moves_to_the_hotline_and_says_yes(bot):
    """Issue 10, as a new user tried it: the next why follows the hotline,
    "tak" is not stored as a cause, a second "tak" ends the chain."""
    turns = talk(
        bot,
        "hotline",
        "cześć",
        "2",
        "paczka przyszła tydzień za późno",
        "nikt nie odbierał infolinii",
        "nie wiem, chyba mają za mało ludzi",
        "tak",
        "tak, można dzwonić",
        "nie",
    )
    assert turns == [
        OPENING,
        ["utter_ask_reason_detractor"],
        [WHY],
        [WHY],
        [WHY],
        ["utter_why_clarify"],
        ["utter_ask_contact_consent"],
        ["utter_thanks_detractor"],
    ]
    asked = whys_asked(bot, "hotline")
    assert asked[0] in wordings("delivery", "clarify")
    assert asked[1] in wordings("customer_support", "cause")
    assert asked[2] in wordings("customer_support", "fix")
    slots = bot.slots("hotline")
    assert slots["why_chain"] == [
        "nikt nie odbierał infolinii",
        "nie wiem, chyba mają za mało ludzi",
    ]
    assert (slots["why_stop"], slots["why_depth"]) == ("vague_limit", 2)
    assert {"delivery:neg", "customer_support:neg"} <= set(slots["drivers"])
    stored = stored_slots(bot.db_url, bot.conversation("hotline"))
    assert (stored["why_stop"], stored["why_depth"]) == ("vague_limit", 2)


def test_a_specific_answer_ends_the_whys(bot):
    turns = talk(
        bot, "specific", "cześć", "3", "dostawa była fatalna", "paczka przyszła 5 dni po terminie"
    )
    assert turns[2:] == [[WHY], ["utter_ask_contact_consent"]]
    slots = bot.slots("specific")
    assert slots["why_chain"] == ["paczka przyszła 5 dni po terminie"]
    assert (slots["why_stop"], slots["why_depth"]) == ("specific", 1)


def test_invalid_then_valid_score(bot):
    turns = talk(bot, "unclear", "cześć", "11", "7")
    assert turns == [
        OPENING,
        ["utter_score_out_of_range", "utter_ask_nps_score"],
        ["utter_ask_reason_passive"],
    ]
    assert bot.slots("unclear")["nps_score"] == 7


def test_an_interruption_then_the_question_again(bot):
    turns = talk(bot, "botq", "cześć", "czy jesteś botem?")
    assert turns == [OPENING, ["utter_iamabot", "utter_ask_nps_score"]]


def test_leaving_mid_survey_and_the_cool_down(bot):
    turns = talk(bot, "leaver", "cześć", "5", "koniec", "cześć")
    assert turns == [
        OPENING,
        ["utter_ask_reason_detractor"],
        ["utter_goodbye_stop"],
        # greeted again within the cool-down: no new survey, the comment box
        ["utter_resurvey_cooldown", "utter_ask_extra_comment"],
    ]
    slots = bot.slots("leaver")
    assert slots["nps_score"] == 5 and slots["survey_outcome"] == "stopped"
    assert slots["survey_allowed"] is False


def test_any_first_message_opens_the_survey_and_a_complaint_counts_as_the_reason(bot):
    turns = talk(bot, "opener", "kurier rzucił paczką pod drzwiami", "2")
    # the reason was given already, so the next question is a "why?"
    assert turns == [OPENING, [WHY]]
    assert_whys_probe(whys_asked(bot, "opener"), "delivery")
    slots = bot.slots("opener")
    assert slots["reason"] == "kurier rzucił paczką pod drzwiami"
    assert "delivery:neg" in slots["drivers"]


def test_restart_starts_over(bot):
    talk(bot, "restarter", "cześć", "9")
    turns = talk(bot, "restarter", "/restart")
    assert turns == [["utter_restarting", *OPENING]]
    assert bot.slots("restarter")["nps_score"] is None

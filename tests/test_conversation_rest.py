"""Whole conversations with the real bot over REST, on SQLite and on PostgreSQL.

Starts the action server and ``rasa run`` on loopback with the trained model
(``make train``), talks Polish to it like a customer, and reads the slots
back twice: through Rasa's tracker endpoint and straight from the tracker
store's ``events`` table.
"""

from __future__ import annotations

import pytest

from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.databases import fresh_database, stored_slots

pytestmark = pytest.mark.skipif(
    not DEFAULT_MODEL.exists(), reason="no trained model: run `make train` (make test does)"
)

SCORE_QUESTION = "Na ile prawdopodobne jest, że polecisz nas"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bot(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        with BotProcess(db_url=url, log_dir=tmp_path_factory.mktemp("logs")) as running:
            yield running


def talk(bot, sender, *lines):
    """Send each line; return the bot's replies to each."""
    return [bot.say(sender, line) for line in lines]


def test_a_promoter(bot):
    replies = talk(
        bot,
        "promoter",
        "cześć",
        "10",
        "bardzo miła obsługa w sklepie",
        "szybka dostawa do paczkomatu",
    )
    assert SCORE_QUESTION in replies[0]
    assert "oceniasz nas tak wysoko" in replies[1]
    assert "cenisz u nas najbardziej" in replies[2]
    assert "Bardzo dziękujemy" in replies[3]
    slots = bot.slots("promoter")
    assert slots["nps_score"] == 10 and slots["nps_group"] == "promoter"
    assert slots["reason"] == "bardzo miła obsługa w sklepie"
    assert "staff:pos" in slots["drivers"]
    assert slots["survey_outcome"] == "finished"
    # what Rasa reports is what the tracker store holds
    stored = stored_slots(bot.db_url, "promoter")
    for name in ("nps_score", "nps_group", "reason", "drivers", "survey_outcome"):
        assert stored[name] == slots[name]


def test_a_passive_from_a_store_touchpoint(bot):
    replies = talk(
        bot,
        "passive",
        '/start{"touchpoint": "store"}',
        "8",
        "miła obsługa, ale ceny za wysokie",
        "u konkurencji jest taniej",
        "to wszystko",
        "niższe ceny",
    )
    assert SCORE_QUESTION in replies[0]
    assert "zdecydowało o takiej ocenie" in replies[1]
    assert "Twoje uwagi pomogą" in replies[5]
    slots = bot.slots("passive")
    assert slots["touchpoint"] == "store"
    assert slots["nps_group"] == "passive"
    assert "price:neg" in slots["drivers"] and "staff:pos" in slots["drivers"]
    assert slots["why_chain"] == ["u konkurencji jest taniej"]
    assert slots["improvement"] == "niższe ceny"
    user_events = [e for e in bot.tracker("passive")["events"] if e["event"] == "user"]
    assert {e["input_channel"] for e in user_events} == {"rest"}


def test_a_detractor_whose_known_issue_is_fixed_and_who_re_rates(bot):
    replies = talk(
        bot,
        "fixed",
        "dzień dobry",
        "2, nie wiem gdzie jest moja paczka",
        "tak, pomogło",
        "7",
        "nie",
    )
    assert "Status paczki sprawdzisz" in replies[1] and "Czy to pomogło?" in replies[1]
    assert "Twoja ocena byłaby inna" in replies[2]
    assert "skontaktować" in replies[3]
    slots = bot.slots("fixed")
    assert slots["nps_score"] == 2 and slots["nps_group"] == "detractor"
    assert slots["reason"] == "nie wiem gdzie jest moja paczka"
    assert slots["known_issue"] == "parcel_tracking"
    assert slots["issue_resolved"] is True
    assert slots["nps_score_after"] == 7
    assert slots["contact_consent"] is False
    assert slots["why_chain"] in (None, [])


def test_a_known_issue_that_did_not_help(bot):
    replies = talk(bot, "notfixed", "hej", "3", "nie mogę się zalogować do aplikacji", "nie", "tak")
    assert "Nie pamiętam hasła" in replies[2]
    assert "Przykro mi, że to nie wystarczyło" in replies[3]
    slots = bot.slots("notfixed")
    assert slots["known_issue"] == "password_reset"
    assert slots["issue_resolved"] is False
    assert slots["nps_score_after"] is None
    assert slots["contact_consent"] is True


def test_five_whys_reach_the_limit(bot):
    whys = [
        "bo w innych sklepach to samo jest taniej",
        "chyba macie za wysokie marże",
        "bo płacicie za drogie reklamy w telewizji",
        "bo sklepy są w drogich galeriach",
        "bo czynsze w galeriach rosną",
    ]
    replies = talk(bot, "whys", "cześć", "4", "za drogo", *whys, "nie")
    assert len(set(replies[2:7])) == 5  # five different why-questions
    assert "skontaktować" in replies[7]
    slots = bot.slots("whys")
    assert slots["why_chain"] == whys
    assert "price:neg" in slots["drivers"]
    assert slots["contact_consent"] is False
    assert slots["survey_outcome"] == "finished"


def test_invalid_then_valid_score(bot):
    replies = talk(bot, "unclear", "cześć", "11", "7")
    assert "od 0 do 10" in replies[1]
    assert "zdecydowało o takiej ocenie" in replies[2]
    assert bot.slots("unclear")["nps_score"] == 7


def test_an_interruption_then_the_question_again(bot):
    replies = talk(bot, "botq", "cześć", "czy jesteś botem?")
    assert "Jestem botem" in replies[1] and SCORE_QUESTION in replies[1]


def test_leaving_mid_survey_and_the_cool_down(bot):
    replies = talk(bot, "leaver", "cześć", "5", "koniec", "cześć")
    assert "nie zabieram więcej czasu" in replies[2]
    assert "Nie będziemy pytać ponownie" in replies[3]
    slots = bot.slots("leaver")
    assert slots["nps_score"] == 5 and slots["survey_outcome"] == "stopped"


def test_any_first_message_opens_the_survey_and_a_complaint_counts_as_the_reason(bot):
    replies = talk(bot, "opener", "kurier rzucił paczką pod drzwiami", "2")
    assert SCORE_QUESTION in replies[0]
    # the reason was given already, so the next question is a "why?"
    assert "Co poszło nie tak?" not in replies[1]
    slots = bot.slots("opener")
    assert slots["reason"] == "kurier rzucił paczką pod drzwiami"
    assert "delivery:neg" in slots["drivers"]


def test_restart_starts_over(bot):
    talk(bot, "restarter", "cześć", "9")
    replies = talk(bot, "restarter", "/restart")
    assert SCORE_QUESTION in replies[0]
    assert bot.slots("restarter")["nps_score"] is None

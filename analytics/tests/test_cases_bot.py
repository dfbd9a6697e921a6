"""Rules to cases on conversations run through the real bot (REST): a
detractor whose known-issue fix did not help and who agreed to be contacted
gets a high-priority case, a detractor who agreed gets the catch-all case,
one who refused and a promoter get none; the CLI prints them with the
conversation ids. Skipped, with the reason, without the bot environment or
a trained model (see test_e2e_bot)."""

from __future__ import annotations

import json

import pytest

from analytics.__main__ import main
from analytics.tests.test_e2e_bot import _bot_tools

CONVERSATIONS = {
    "cases-fix-failed": ["dzień dobry", "2, nie wiem gdzie jest moja paczka", "nie, nie pomogło"],
    "cases-contact": ["cześć", "3", "drogo i długo czekałem na kuriera", "to wszystko"],
    "cases-refused": ["cześć", "4", "niemiła obsługa", "to wszystko"],
    "cases-promoter": ["cześć", "10", "bardzo miła obsługa w sklepie"],
}
CONSENT = {"cases-fix-failed": "tak", "cases-contact": "tak", "cases-refused": "nie"}


def _talk(bot, sender, lines, consent):
    for line in lines:
        bot.send(sender, line)
    # Answer whatever the bot still asks (more whys) until it asks for
    # consent to be contacted, then answer that; at most a few turns.
    for _ in range(6):
        slots = bot.slots(sender)
        if slots.get("survey_outcome") or consent is None:
            return slots
        if slots.get("requested_slot") == "contact_consent":
            bot.send(sender, consent)
        else:
            bot.send(sender, "to wszystko")
    return bot.slots(sender)


@pytest.fixture(scope="module")
def talked(tmp_path_factory):
    bot_process, databases = _bot_tools()
    with databases.fresh_database("sqlite", tmp_path_factory.mktemp("db")) as url:
        with bot_process.BotProcess(db_url=url, log_dir=tmp_path_factory.mktemp("logs")) as bot:
            slots = {s: _talk(bot, s, lines, CONSENT.get(s)) for s, lines in CONVERSATIONS.items()}
        yield url, slots


def test_cases_from_the_bot(talked, capsys):
    url, slots = talked
    failed = slots["cases-fix-failed"]
    assert (failed["nps_score"], failed["issue_resolved"], failed["contact_consent"]) == (
        2,
        False,
        True,
    ), failed
    assert slots["cases-contact"]["contact_consent"] is True, slots["cases-contact"]
    assert slots["cases-refused"]["contact_consent"] is False, slots["cases-refused"]
    assert main(["cases", "--db", url, "--format", "json"]) == 0
    cases = {c["sender"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(cases) == {"rest:cases-fix-failed", "rest:cases-contact"}
    fix = cases["rest:cases-fix-failed"]
    assert (fix["rule"], fix["priority"], fix["state"]) == ("known_issue_not_fixed", "high", "new")
    assert cases["rest:cases-contact"]["rule"] in ("detractor_contact", "complaint_words")
    # Idempotent on the real store too.
    assert main(["cases", "--db", url]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2

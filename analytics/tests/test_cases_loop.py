"""The whole closed loop with the real bot over REST, as `make run` runs it:
a detractor agrees to be contacted; the worker's round opens a case; an
agent takes it and replies in the customer's chat (stored in the
conversation, told apart from the bot); the customer answers; the agent
resolves it with a root cause and a resolution, which asks the customer for
a new score in the same chat; a low new score reopens the case at the next
round. Skipped, with the reason, without the bot environment or a model."""

from __future__ import annotations

import time

import pytest

from analytics.db import tracker_engine, writable_engine
from analytics.projection import Projection
from analytics.tests.test_e2e_bot import _bot_tools
from cases import board, reply, states, worker
from cases.store import CaseStore, cases_engine
from nps.settings import load_settings

CUSTOMER = "loop-customer"


def _survey(bot) -> dict:
    for line in ("cześć", "2", "kurier zgubił moją paczkę i nikt nie odpowiada"):
        bot.send(CUSTOMER, line)
    for _ in range(8):  # the whys, then the consent question
        slots = bot.slots(CUSTOMER)
        if slots.get("survey_outcome"):
            break
        bot.send(
            CUSTOMER, "tak" if slots.get("requested_slot") == "contact_consent" else "to wszystko"
        )
    return bot.slots(CUSTOMER)


def test_from_a_detractors_answer_to_a_reopened_case(tmp_path):
    bot_process, databases = _bot_tools()
    data_dir = load_settings().data_dir
    logs = tmp_path / "logs"
    logs.mkdir()
    with databases.fresh_database("sqlite", tmp_path) as url:
        with bot_process.BotProcess(db_url=url, log_dir=logs) as bot:
            slots = _survey(bot)
            assert (slots["nps_group"], slots["contact_consent"]) == ("detractor", True), slots
            sender = bot.conversation(CUSTOMER)

            tracker = tracker_engine(url)
            projection = Projection(writable_engine(f"sqlite:///{tmp_path / 'a.db'}"), None)
            store = CaseStore(cases_engine(url))
            opened, _ = worker.open_and_reopen(store, tracker, projection, data_dir, time.time())
            [case] = [store.get(i) for i in opened if store.get(i)["sender"] == sender]
            assert case["state"] == states.NEW and case["score"] == 2
            assert case["first_contact_due"] > case["opened_at"]

            store.transition(case["id"], states.ASSIGNED, "ania", owner="ania")
            sent = reply.send_reply(
                bot.url, bot.token, sender, "Dzień dobry, tu Ania.", time.time()
            )
            assert sent.status == reply.SENT, sent
            store.transition(case["id"], states.CONTACTED, "ania")
            bot.send(CUSTOMER, "dziękuję, czekam na paczkę")
            lines, after = board.conversation(tracker, sender)
            # The agent's words, the customer's answer, the bot's short thanks.
            assert [ln.who for ln in lines[-3:]] == ["agent", "customer", "bot"]
            assert lines[-3].text == "Dzień dobry, tu Ania."
            assert after["case_reply"] == "dziękuję, czekam na paczkę"

            with pytest.raises(states.CaseError):  # closing needs a root cause and a resolution
                store.transition(case["id"], states.RESOLVED, "ania")
            store.transition(
                case["id"], states.RESOLVED, "ania", root_cause="delivery", resolution="replacement"
            )
            asked = reply.ask_winback(bot.url, bot.token, sender, time.time())
            assert asked.status == reply.SENT, asked
            bot.send(CUSTOMER, "3")
            assert bot.slots(CUSTOMER)["winback_score"] == 3

            _, reopened = worker.open_and_reopen(store, tracker, projection, data_dir, time.time())
            assert reopened == [case["id"]]
            case = store.get(case["id"])
            assert (case["state"], case["winback_score"]) == (states.REOPENED, 3)
            moves = [(e["from"], e["to"]) for e in store.log(case["id"]) if e["field"] == "state"]
            assert moves == [
                (None, "new"),
                ("new", "assigned"),
                ("assigned", "contacted"),
                ("contacted", "resolved"),
                ("resolved", "reopened"),
            ]

"""An agent's reply reaches a Messenger customer in the same chat, with the
REAL bot (trained model, action server, tracker store) and a stand-in Graph
API (cases/reply.py, actions/closed_loop.py, channels/messenger.py).

A detractor finishes the survey on Messenger; the agent writes from the case
page (``send_reply``): the Send API request carries the customer's PSID, the
agent's words and ``messaging_type`` RESPONSE; the bot event is marked as the
agent's; the customer's answer is stored after it and acknowledged. A day
and an hour after the customer's last message the reply goes with the
HUMAN_AGENT tag; eight days after it, it is refused and nothing is sent.
On SMS (a stand-in Twilio API) there is no window: the reply goes to the
customer's number, even days later, and their answer is stored the same way.

Needs `models/nps-bot.tar.gz` (`make train`).
"""

from __future__ import annotations

import pytest

from actions import responses as say
from cases.reply import REFUSED_WINDOW, last_customer_message_at, send_reply
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.channels.channel_helpers import (
    FB_SECRET,
    TW_TOKEN,
    channel_env,
    load_payload,
    new_id,
    new_phone,
    post_meta,
    post_twilio,
    twilio_form,
    wait_until,
)

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(),
        reason="no trained model at models/nps-bot.tar.gz: run `make train`",
    ),
]

HOUR = 3600.0


@pytest.fixture(scope="module")
def bot(stand_in, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agent-reply")
    env = {**channel_env(stand_in.url), "NPS_MAX_WHYS": "1", "NPS_MAX_CLARIFICATIONS": "2"}
    process = BotProcess(db_url=f"sqlite:///{tmp}/tracker.db", log_dir=tmp, env=env)
    with process as running:
        yield running


def test_agent_reply_on_messenger(bot, outbox):
    url = bot.url + "/webhooks/facebook/webhook"
    psid = new_id("psid")
    conversation = f"messenger:{psid}"

    def say_(text):
        body = load_payload("messenger_text.json", SENDER=psid, MID=new_id("m_"), TEXT=text)
        assert post_meta(url, body, FB_SECRET).status == 200

    def sent():
        return [
            r.json()
            for r in outbox.requests
            if r.path.endswith("/me/messages") and r.json()["recipient"]["id"] == psid
        ]

    def events():
        return bot.tracker(conversation, include_events="ALL")["events"]

    def active_loop():
        return (bot.tracker(conversation).get("active_loop") or {}).get("name")

    # A detractor's survey, to its end.
    say_("cześć")
    say_("2, kurier był niemiły i rzucił paczką")
    for _ in range(8):
        if active_loop() != "survey_form":
            break
        say_("nie")
    assert bot.slots(conversation)["nps_score"] == 2, bot.log()
    assert active_loop() is None, bot.log()

    # The agent writes, inside the 24-hour window.
    last = last_customer_message_at(events())
    before = len(sent())
    text = "Cześć, tu Ania z obsługi. Przepraszamy za kuriera, zajmę się tym."
    result = send_reply(bot.url, bot.token, conversation, text, last + 2 * HOUR)
    assert (result.status, result.delivery) == ("sent", "response"), result
    assert wait_until(lambda: len(sent()) > before)
    request = sent()[before]
    assert request["recipient"] == {"id": psid}
    assert request["message"]["text"] == text
    assert request["messaging_type"] == "RESPONSE" and "tag" not in request
    # Stored in the conversation as a bot event marked as the agent's.
    agent_events = [e for e in events() if (e.get("metadata") or {}).get("agent_reply")]
    assert [(e["event"], e["text"]) for e in agent_events] == [("bot", text)]
    assert agent_events[0]["metadata"]["delivery"] == "response"

    # The customer's answer: stored after it, kept, acknowledged; no new survey.
    say_("Dziękuję, czekam na informację")
    stored = events()
    agent_at = next(i for i, e in enumerate(stored) if (e.get("metadata") or {}).get("agent_reply"))
    answers = [e for e in stored[agent_at:] if e["event"] == "user"]
    assert answers[-1]["text"] == "Dziękuję, czekam na informację"
    assert answers[-1]["input_channel"] == "facebook"
    assert bot.slots(conversation)["case_reply"] == "Dziękuję, czekam na informację"
    assert bot.said(conversation)[-1] == [say.CASE_REPLY_THANKS]
    assert active_loop() is None

    # A day and an hour after the customer's last message: the HUMAN_AGENT tag.
    last = last_customer_message_at(events())
    before = len(sent())
    result = send_reply(bot.url, bot.token, conversation, "Paczka wyjdzie jutro.", last + 25 * HOUR)
    assert (result.status, result.delivery) == ("sent", "human_agent"), result
    assert wait_until(lambda: len(sent()) > before)
    request = sent()[before]
    assert request["messaging_type"] == "MESSAGE_TAG"
    assert request["tag"] == "HUMAN_AGENT"
    assert request["message"] == {"text": "Paczka wyjdzie jutro."}
    agent_events = [e for e in events() if (e.get("metadata") or {}).get("agent_reply")]
    assert agent_events[-1]["metadata"]["delivery"] == "human_agent"

    # Eight days after it: refused, nothing sent, nothing recorded.
    count = len(events())
    before = len(sent())
    result = send_reply(bot.url, bot.token, conversation, "Halo?", last + 8 * 24 * HOUR)
    assert result.status == REFUSED_WINDOW and "7-day" in result.detail
    assert len(sent()) == before
    assert len(events()) == count


def test_agent_reply_on_sms(bot, outbox):
    url = bot.url + "/webhooks/twilio/webhook"
    phone = new_phone("+48")
    conversation = f"sms:{phone}"

    def say_(text):
        params = twilio_form("twilio_sms.txt", SENDER=phone, MID=new_id("SM"), TEXT=text)
        assert post_twilio(url, params, TW_TOKEN).status == 200

    def sent():
        return [
            r.form()
            for r in outbox.requests
            if r.path.endswith("/Messages.json") and r.form()["To"] == phone
        ]

    def events():
        return bot.tracker(conversation, include_events="ALL")["events"]

    say_("dzień dobry")
    say_("3, paczka przyszła zgnieciona")
    for _ in range(8):
        if (bot.tracker(conversation).get("active_loop") or {}).get("name") != "survey_form":
            break
        say_("nie")
    assert bot.slots(conversation)["nps_score"] == 3, bot.log()

    # Three days after the customer's last message: SMS has no window.
    last = last_customer_message_at(events())
    before = len(sent())
    text = "Dzień dobry, tu Ania z obsługi. Wyślemy nową paczkę jeszcze dziś."
    result = send_reply(bot.url, bot.token, conversation, text, last + 72 * HOUR)
    assert (result.status, result.delivery) == ("sent", "response"), result
    assert wait_until(lambda: len(sent()) > before)
    assert sent()[before]["Body"] == text
    agent_events = [e for e in events() if (e.get("metadata") or {}).get("agent_reply")]
    assert [(e["event"], e["text"]) for e in agent_events] == [("bot", text)]

    say_("Dziękuję bardzo")
    assert bot.slots(conversation)["case_reply"] == "Dziękuję bardzo"
    assert bot.said(conversation)[-1] == [say.CASE_REPLY_THANKS]

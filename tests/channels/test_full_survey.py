"""A whole survey through every channel with the REAL bot (trained model,
action server, tracker store), each customer answering the way the platform
lets them: Messenger quick replies, WhatsApp reply buttons and typed numbers,
numbered SMS options, buttons in the web chat page.

The flow is a detractor whose known problem gets fixed on the spot and who
then re-rates: it touches the score, the reason, the known issue, a yes/no
question with buttons, the score after and the contact consent. Afterwards
the slots are read from Rasa's tracker and every user event must carry the
channel's name in `input_channel`.

Needs `models/nps-bot.tar.gz` (`make train`; `make test-channels` trains it).
"""

from __future__ import annotations

import pytest

from channels.render import DEFAULT_TEXTS, numbered_options
from nps.domain import load_domain
from nps.settings import load_settings
from nps.yes_no import parse_yes_no
from tests.bot_process import DEFAULT_MODEL, BotProcess
from tests.channels.channel_helpers import (
    FB_SECRET,
    TW_TOKEN,
    WA_PHONE_ID,
    WA_SECRET,
    channel_env,
    load_payload,
    new_id,
    new_phone,
    post_meta,
    post_twilio,
    texts,
    twilio_form,
    wait_for,
    wait_until,
    web_conversation,
)

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not DEFAULT_MODEL.exists(),
        reason="no trained model at models/nps-bot.tar.gz: run `make train`",
    ),
]

REASON = "2, nie wiem gdzie jest moja paczka"
EXPECTED = {
    "nps_score": 2,
    "nps_group": "detractor",
    "known_issue": "parcel_tracking",
    "issue_resolved": True,
    "nps_score_after": 7,
    "contact_consent": False,
}

# The two yes/no questions of this flow. Their buttons come from the domain,
# read here, not copied: a trainer may reword them. Which button is "yes" is
# what the bot's own yes/no reader makes of its payload.
_RESPONSES = load_domain(load_settings().domain_path)["responses"]
ISSUE_BUTTONS = _RESPONSES["utter_ask_issue_resolved"][0]["buttons"]
CONSENT_BUTTONS = _RESPONSES["utter_ask_contact_consent"][0]["buttons"]
# The renderers' hint under a 0-10 scale sent as text (channels/render.py).
SCALE_HINT = DEFAULT_TEXTS.scale_hint.format(lo=0, hi=10)


def sms_variant(response):
    """The text of a response's ``channel: twilio`` variant in the domain."""
    (text,) = [v["text"] for v in _RESPONSES[response] if v.get("channel") == "twilio"]
    return text


def last_response(bot, sender):
    """The name of the last response the bot sent (Rasa keeps it in the bot event)."""
    # Bot events without text are signals (the web chat's survey_end).
    bots = [e for e in bot.tracker(sender)["events"] if e["event"] == "bot" and e.get("text")]
    return bots[-1]["metadata"]["utter_action"]


def titles(buttons):
    return [b["title"] for b in buttons]


def title_meaning(buttons, yes):
    """The title of the button the bot reads as yes (or no)."""
    (title,) = [b["title"] for b in buttons if parse_yes_no(b["payload"]) is yes]
    return title


def number_meaning(buttons, yes):
    """The option number an SMS customer types for yes (or no)."""
    return str(titles(buttons).index(title_meaning(buttons, yes)) + 1)


@pytest.fixture(scope="module")
def bot(stand_in, webchat_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full-survey")
    env = {**channel_env(stand_in.url), "NPS_WEBCHAT_ORIGINS": webchat_url}
    process = BotProcess(db_url=f"sqlite:///{tmp}/tracker.db", log_dir=tmp, env=env)
    with process as running:
        yield running


def check_survey(bot, sender, channel, touchpoint=None):
    slots = bot.slots(sender)
    assert {k: slots[k] for k in EXPECTED} == EXPECTED, bot.log()
    assert slots["reason"] == "nie wiem gdzie jest moja paczka"
    if touchpoint:
        assert slots["touchpoint"] == touchpoint
    users = [e for e in bot.tracker(sender)["events"] if e["event"] == "user"]
    assert users and {e["input_channel"] for e in users} == {channel}


# ------------------------------------------------------------------ Messenger


def test_messenger(bot, outbox):
    url = bot.url + "/webhooks/facebook/webhook"
    sender = new_id("psid")

    def last_quick_replies():
        sent = [
            r.json()
            for r in outbox.requests
            if r.path.endswith("/me/messages") and r.json()["recipient"]["id"] == sender
        ]
        return {q["title"]: q["payload"] for q in sent[-1]["message"].get("quick_replies", [])}

    def say(text):
        body = load_payload("messenger_text.json", SENDER=sender, MID=new_id("m_"), TEXT=text)
        assert post_meta(url, body, FB_SECRET).status == 200

    def tap(title):
        body = load_payload(
            "messenger_quick_reply.json",
            SENDER=sender,
            MID=new_id("m_"),
            TITLE=title,
            PAYLOAD=last_quick_replies()[title],
        )
        assert post_meta(url, body, FB_SECRET).status == 200

    body = load_payload("messenger_get_started_referral.json", SENDER=sender, MID=new_id("m_"))
    assert post_meta(url, body, FB_SECRET).status == 200  # m.me/...?ref=store
    assert list(last_quick_replies()) == [str(i) for i in range(11)]
    say(REASON)
    tap(title_meaning(ISSUE_BUTTONS, yes=True))
    say("7")
    tap(title_meaning(CONSENT_BUTTONS, yes=False))
    check_survey(bot, f"messenger:{sender}", "facebook", touchpoint="store")


# ------------------------------------------------------------------- WhatsApp


def test_whatsapp(bot, outbox):
    url = bot.url + "/webhooks/whatsapp/webhook"
    sender = new_phone()

    def last():
        return [
            r.json()
            for r in outbox.requests
            if r.path.endswith(f"{WA_PHONE_ID}/messages") and r.json()["to"] == sender
        ][-1]

    def say(text):
        body = load_payload(
            "whatsapp_text.json",
            SENDER=sender,
            PHONE_ID=WA_PHONE_ID,
            MID=new_id("wamid."),
            TEXT=text,
        )
        assert post_meta(url, body, WA_SECRET).status == 200

    def tap(title):
        message = last()
        assert message["type"] == "interactive"
        buttons = {
            b["reply"]["title"]: b["reply"]["id"]
            for b in message["interactive"]["action"]["buttons"]
        }
        body = load_payload(
            "whatsapp_button_reply.json",
            SENDER=sender,
            PHONE_ID=WA_PHONE_ID,
            MID=new_id("wamid."),
            PAYLOAD=buttons[title],
            TITLE=title,
        )
        assert post_meta(url, body, WA_SECRET).status == 200

    body = load_payload(
        "whatsapp_template_button.json", SENDER=sender, PHONE_ID=WA_PHONE_ID, MID=new_id("wamid.")
    )
    assert post_meta(url, body, WA_SECRET).status == 200  # the template's start button
    assert SCALE_HINT in last()["text"]["body"]  # 11 options: a typed number
    say(REASON)
    tap(title_meaning(ISSUE_BUTTONS, yes=True))
    say("7")
    tap(title_meaning(CONSENT_BUTTONS, yes=False))
    check_survey(bot, f"whatsapp:+{sender}", "whatsapp", touchpoint="delivery")


# --------------------------------------------------------------------- Twilio


def test_twilio_sms(bot, outbox):
    url = bot.url + "/webhooks/twilio/webhook"
    sender = new_phone("+48")

    def last_body():
        sent = [
            r.form()
            for r in outbox.requests
            if r.path.endswith("/Messages.json") and r.form()["To"] == sender
        ]
        return sent[-1]["Body"]

    def say(text):
        params = twilio_form("twilio_sms.txt", SENDER=sender, MID=new_id("SM"), TEXT=text)
        assert post_twilio(url, params, TW_TOKEN).status == 200

    say("dzień dobry")
    # The 0-10 question, as the domain's SMS variant: a typed number, never
    # eleven numbered options.
    assert last_response(bot, f"sms:{sender}") == "utter_ask_nps_score"
    assert last_body() == sms_variant("utter_ask_nps_score")
    say(REASON)
    assert numbered_options(ISSUE_BUTTONS, DEFAULT_TEXTS)[0] in last_body()
    say(number_meaning(ISSUE_BUTTONS, yes=True))  # the option number, not the word
    say("7")
    assert numbered_options(CONSENT_BUTTONS, DEFAULT_TEXTS)[0] in last_body()
    say(number_meaning(CONSENT_BUTTONS, yes=False))
    check_survey(bot, f"sms:{sender}", "twilio")


# ------------------------------------------------------------------- web chat


def test_web_chat(bot, webchat_url, browser):
    browser.get(f"{webchat_url}/index.html?server={bot.url}&touchpoint=store")
    wait_for(browser, lambda d: len(texts(d, ".npsc-reply")) == 11, timeout=60)

    def say(text):
        count = len(texts(browser, ".npsc-bot"))
        browser.find_element("css selector", ".npsc-input").send_keys(text + "\n")
        wait_for(browser, lambda d: len(texts(d, ".npsc-bot")) > count, timeout=60)

    def tap(title):
        count = len(texts(browser, ".npsc-bot"))
        browser.find_element("xpath", f"//button[@class='npsc-reply' and text()='{title}']").click()
        wait_for(browser, lambda d: len(texts(d, ".npsc-bot")) > count, timeout=60)

    # The conversation the server issued: read now, the page forgets it when
    # the survey ends.
    sender = web_conversation(browser, bot.url)
    say(REASON)
    wait_for(browser, lambda d: texts(d, ".npsc-reply") == titles(ISSUE_BUTTONS), timeout=60)
    tap(title_meaning(ISSUE_BUTTONS, yes=True))
    say("7")
    wait_for(browser, lambda d: texts(d, ".npsc-reply") == titles(CONSENT_BUTTONS), timeout=60)
    tap(title_meaning(CONSENT_BUTTONS, yes=False))
    wait_until(lambda: bot.slots(sender).get("contact_consent") is False, timeout=30)
    check_survey(bot, sender, "socketio", touchpoint="store")

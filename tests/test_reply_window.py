"""May an agent (or the bot's win-back question) write to the customer now,
and how: the channels' windows, table-tested (cases/reply.py reply_window),
and the customer's last own message found among the tracker's events.

The expected values are the platforms' rules, worked out by hand: Messenger
24 hours, then the HUMAN_AGENT tag for a person's reply up to 7 days (168 h);
WhatsApp 24 hours, then only an approved template; SMS always; the web chat
while connected."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from cases.reply import (
    ERROR,
    HUMAN_AGENT,
    NOT_CONNECTED,
    REFUSED_WINDOW,
    RESPONSE,
    SENT,
    TEMPLATE,
    Plan,
    clean_text,
    last_customer_message_at,
    reply_window,
)

H = 3600.0
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    "channel, hours_ago, agent, template, connected, delivery, status",
    [
        # Messenger: 24 h a normal reply, the boundary included.
        ("messenger", 0, True, "", False, RESPONSE, SENT),
        ("messenger", 23.9, True, "", False, RESPONSE, SENT),
        ("messenger", 24, True, "", False, RESPONSE, SENT),
        # ... then a person's reply with the HUMAN_AGENT tag up to 7 days.
        ("messenger", 24.01, True, "", False, HUMAN_AGENT, SENT),
        ("messenger", 100, True, "", False, HUMAN_AGENT, SENT),
        ("messenger", 168, True, "", False, HUMAN_AGENT, SENT),
        ("messenger", 168.01, True, "", False, None, REFUSED_WINDOW),
        # The bot's win-back question is no person's reply: 24 h only.
        ("messenger", 23, False, "", False, RESPONSE, SENT),
        ("messenger", 25, False, "", False, None, REFUSED_WINDOW),
        # WhatsApp: 24 h, then a template when one is configured.
        ("whatsapp", 2, True, "", False, RESPONSE, SENT),
        ("whatsapp", 24, True, "", False, RESPONSE, SENT),
        ("whatsapp", 25, True, "", False, None, REFUSED_WINDOW),
        ("whatsapp", 25, True, "agent_reply:pl", False, TEMPLATE, SENT),
        ("whatsapp", 2000, True, "agent_reply", False, TEMPLATE, SENT),
        ("whatsapp", 25, False, "agent_reply", False, None, REFUSED_WINDOW),
        # SMS: always.
        ("sms", 0, True, "", False, RESPONSE, SENT),
        ("sms", 10_000, True, "", False, RESPONSE, SENT),
        ("sms", 10_000, False, "", False, RESPONSE, SENT),
        # Web chat: only while the page is connected, however recent.
        ("web", 0, True, "", True, RESPONSE, SENT),
        ("web", 0, True, "", False, None, NOT_CONNECTED),
        ("web", 500, False, "", True, RESPONSE, SENT),
        # A clock a little behind the message's: still inside.
        ("messenger", -0.5, True, "", False, RESPONSE, SENT),
    ],
)
def test_reply_window(channel, hours_ago, agent, template, connected, delivery, status):
    plan = reply_window(
        channel,
        NOW - hours_ago * H,
        NOW,
        agent=agent,
        whatsapp_template=template,
        web_connected=connected,
    )
    assert (plan.delivery, plan.status) == (delivery, status)
    if delivery is None:
        assert plan.detail  # the agent is told why


def test_refusals_say_what_to_do():
    whatsapp = reply_window("whatsapp", NOW - 30 * H, NOW)
    assert "24-hour window" in whatsapp.detail
    assert "NPS_WHATSAPP_REPLY_TEMPLATE" in whatsapp.detail
    assert "7-day" in reply_window("messenger", NOW - 200 * H, NOW).detail
    assert "not connected" in reply_window("web", NOW, NOW).detail


def test_a_customer_who_never_wrote_and_an_unknown_channel():
    assert reply_window("messenger", None, NOW) == Plan(
        None, REFUSED_WINDOW, "the customer has not written in this chat"
    )
    assert reply_window("whatsapp", None, NOW).status == REFUSED_WINDOW
    assert reply_window("sms", None, NOW).delivery == RESPONSE
    assert reply_window("fax", NOW, NOW).status == ERROR


def test_last_customer_message_skips_triggered_intents():
    events = [
        {"event": "user", "text": "2", "timestamp": 100.0},
        {"event": "bot", "text": "Dlaczego?", "timestamp": 101.0},
        {"event": "user", "text": "kurier zgubił paczkę", "timestamp": 200.0},
        # The dashboard's trigger: not the customer's message.
        {
            "event": "user",
            "text": "EXTERNAL: agent_reply",
            "metadata": {"is_external": True},
            "timestamp": 900.0,
        },
        {"event": "bot", "text": "Przepraszamy", "timestamp": 901.0},
    ]
    assert last_customer_message_at(events) == 200.0
    assert last_customer_message_at(events[3:]) is None
    assert last_customer_message_at([]) is None


def test_now_may_be_a_datetime():
    from cases.reply import _unix

    moment = datetime(2027, 1, 15, 12, 0, tzinfo=timezone.utc)
    assert _unix(moment) == moment.timestamp()
    assert _unix(5.0) == 5.0


@pytest.mark.parametrize(
    "text, kept",
    [("  Dzień dobry!  ", "Dzień dobry!"), ("", None), ("   ", None), ("x" * 1001, None)],
)
def test_agent_text_bounds(text, kept):
    assert clean_text(text) == kept


# --- how the channels send it (channels/messenger.py, channels/whatsapp.py) ----


def test_messenger_tags_only_an_agents_reply_outside_the_window():
    from channels.messenger import TAG_KEY, MessengerOutput, message_tag

    agent = {"text": "Paczka wyjdzie jutro.", "agent_reply": True, "delivery": "human_agent"}
    assert message_tag(agent) == "HUMAN_AGENT"
    assert message_tag({**agent, "delivery": "response"}) is None
    assert message_tag({"text": "bot", "delivery": "human_agent"}) is None  # not an agent's
    output = MessengerOutput("token", "http://127.0.0.1:9/me/messages", sender=None)
    assert output.parts("messenger:1", agent) == [
        {"text": "Paczka wyjdzie jutro.", TAG_KEY: "HUMAN_AGENT"}
    ]
    assert output.parts("messenger:1", {"text": "Hej"}) == [{"text": "Hej"}]


def test_whatsapp_reply_template():
    from channels.whatsapp import reply_template_part

    assert reply_template_part("Hej", "") is None
    assert reply_template_part("Paczka\n\nwyjdzie   jutro.", "agent_reply:en") == {
        "type": "template",
        "template": {
            "name": "agent_reply",
            "language": {"code": "en"},
            "components": [
                {
                    "type": "body",
                    # no new lines or runs of spaces in a template parameter
                    "parameters": [{"type": "text", "text": "Paczka wyjdzie jutro."}],
                }
            ],
        },
    }
    assert reply_template_part("x", "agent_reply")["template"]["language"] == {"code": "pl"}

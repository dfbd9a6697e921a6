"""Reply in the customer's own chat, and ask for a new score when a case is resolved.

The conversation lives in Rasa (the tracker store). The dashboard calls
``send_reply`` for an agent's message and ``ask_winback`` when a case is
resolved; both read the conversation through Rasa's authenticated HTTP API,
check whether the customer's channel lets us write now (``reply_window``,
pure), and trigger an intent in the conversation
(``POST /conversations/<id>/trigger_intent?output_channel=latest``): the bot
says the message through the customer's channel and records it as a bot
event. The customer's answer then arrives as a normal message.

The channels' rules, by the time since the customer's last message:

* Messenger: a normal reply within 24 hours; an agent's reply up to 7 days
  with the HUMAN_AGENT message tag; later, refused. The bot's win-back
  question only within 24 hours (the tag is for a person's words).
* WhatsApp: within 24 hours; later only as the approved template
  NPS_WHATSAPP_REPLY_TEMPLATE (agent's replies), else refused.
* SMS: always.
* Web chat: only while the customer's page is connected.
* REST (local use and tests): always; the messages come back in Rasa's answer.

Runs in either environment (requests and the standard library only).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from nps.identity import split
from nps.settings import load_settings

SENT = "sent"
REFUSED_WINDOW = "refused_window"
NOT_CONNECTED = "not_connected"
ERROR = "error"
STATUSES = (SENT, REFUSED_WINDOW, NOT_CONNECTED, ERROR)

# How the channel must send it (actions/closed_loop.py DELIVERIES).
RESPONSE = "response"
HUMAN_AGENT = "human_agent"
TEMPLATE = "template"

HOUR = 3600.0
STANDARD_WINDOW = 24 * HOUR  # Messenger and WhatsApp: since the customer's last message
HUMAN_AGENT_WINDOW = 7 * 24 * HOUR  # Messenger's HUMAN_AGENT tag
# Longer agent messages are refused here (the action cuts at the same length).
AGENT_TEXT_MAX = 1000
TIMEOUT_SECONDS = 30
# Rasa writes a triggered intent as this user text, with metadata is_external.
EXTERNAL_PREFIX = "EXTERNAL: "
# While one of these runs, the customer's next message answers its question:
# a message from the case page would be taken for that answer.
BUSY_LOOPS = frozenset({"survey_form", "comment_form"})


@dataclass(frozen=True)
class Plan:
    """Whether a message may go now: ``delivery`` when it may, else the
    refusal's ``status`` and a ``detail`` for the agent."""

    delivery: str | None
    status: str = SENT
    detail: str = ""


@dataclass(frozen=True)
class ReplyResult:
    status: str  # one of STATUSES
    detail: str = ""
    delivery: str | None = None  # how it was sent, when it was


def _hours(seconds: float) -> str:
    if seconds < 48 * HOUR:
        return f"{seconds / HOUR:.0f} h"
    return f"{seconds / (24 * HOUR):.1f} days"


def reply_window(
    channel: str,
    last_user_at: float | None,
    now: float,
    *,
    agent: bool = True,
    whatsapp_template: str = "",
    web_connected: bool = False,
) -> Plan:
    """May we write to this customer now, and how (pure).

    ``last_user_at``/``now``: unix times; ``last_user_at`` is the customer's
    last own message (None: they never wrote). ``agent``: a person's words
    (True) or the bot's (the win-back question).
    """
    if channel == "sms" or channel == "rest":
        return Plan(RESPONSE)
    if channel == "web":
        if web_connected:
            return Plan(RESPONSE)
        return Plan(None, NOT_CONNECTED, "customer not connected: the web chat is closed")
    if channel not in ("messenger", "whatsapp"):
        return Plan(None, ERROR, f"unknown channel {channel!r}")
    if last_user_at is None:
        return Plan(None, REFUSED_WINDOW, "the customer has not written in this chat")
    age = max(0.0, now - last_user_at)
    if age <= STANDARD_WINDOW:
        return Plan(RESPONSE)
    if channel == "messenger":
        if not agent:
            return Plan(
                None,
                REFUSED_WINDOW,
                f"outside the 24-hour window (last message {_hours(age)} ago): "
                "Messenger allows only a person's reply now",
            )
        if age <= HUMAN_AGENT_WINDOW:
            return Plan(HUMAN_AGENT)
        return Plan(
            None,
            REFUSED_WINDOW,
            f"outside the 7-day window of the HUMAN_AGENT tag (last message {_hours(age)} ago)",
        )
    if agent and whatsapp_template.strip():
        return Plan(TEMPLATE)
    return Plan(
        None,
        REFUSED_WINDOW,
        f"outside the 24-hour window (last message {_hours(age)} ago): send an approved "
        "template (python -m channels.whatsapp_template) or set NPS_WHATSAPP_REPLY_TEMPLATE",
    )


def last_customer_message_at(events: list[dict[str, Any]]) -> float | None:
    """Unix time of the customer's last own message (triggered intents are not theirs)."""
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        if (event.get("metadata") or {}).get("is_external"):
            continue
        if str(event.get("text") or "").startswith(EXTERNAL_PREFIX):
            continue
        timestamp = event.get("timestamp")
        return float(timestamp) if timestamp is not None else None
    return None


def _unix(now: float | datetime) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def _url(bot_url: str, sender: str, tail: str, token: str, **params: str) -> str:
    # ":" and "+" as they are: Rasa does not unquote the path, so
    # "whatsapp%3A%2B48..." would name another conversation.
    query = urllib.parse.urlencode({**params, "token": token})
    return f"{bot_url.rstrip('/')}/conversations/{urllib.parse.quote(sender, safe=':+')}/{tail}?{query}"


def _tracker(bot_url: str, token: str, sender: str) -> dict[str, Any]:
    response = requests.get(
        _url(bot_url, sender, "tracker", token, include_events="ALL"), timeout=TIMEOUT_SECONDS
    )
    response.raise_for_status()
    return response.json()


def _trigger(
    bot_url: str, token: str, sender: str, intent: str, entities: dict[str, str]
) -> requests.Response:
    return requests.post(
        _url(bot_url, sender, "trigger_intent", token, output_channel="latest"),
        json={"name": intent, "entities": entities},
        timeout=TIMEOUT_SECONDS,
    )


# Where the web chat's socket answers presence questions (channels/webchat_socket.py).
PRESENCE_PATH = "/webhooks/socketio/presence"


def web_presence(bot_url: str, sender: str, secret: bytes | None = None) -> bool:
    """Has the customer's web chat page a live connection to the bot? Asked
    with proof of the web chat's key (nps.identity.presence_proof); any error
    is "no" (the reply is then refused as not connected, never lost unseen).
    With several Rasa processes the answer is that of the process reached."""
    from nps.identity import presence_proof
    from nps.keys import key

    secret = secret if secret is not None else key("webchat", load_settings().webchat_secret)
    try:
        answer = requests.get(
            bot_url.rstrip("/") + PRESENCE_PATH,
            params={"conversation": sender},
            headers={"X-NPS-Presence": presence_proof(secret, sender)},
            timeout=TIMEOUT_SECONDS,
        )
        return answer.status_code == 200 and answer.json().get("connected") is True
    except (requests.RequestException, ValueError, AttributeError):
        return False


def _send(
    bot_url: str,
    token: str,
    sender: str,
    now: float | datetime,
    intent: str,
    entities: dict[str, str],
    agent: bool,
    web_connected: bool,
) -> ReplyResult:
    channel, _ = split(sender)
    if channel == "web" and not web_connected:
        web_connected = web_presence(bot_url, sender)
    try:
        tracker = _tracker(bot_url, token, sender)
    except (requests.RequestException, ValueError) as error:
        return ReplyResult(
            ERROR, f"the bot did not give the conversation ({error.__class__.__name__})"
        )
    events = tracker.get("events") or []
    if not any(e.get("event") == "user" for e in events):
        return ReplyResult(ERROR, "no such conversation")
    loop = (tracker.get("active_loop") or {}).get("name")
    if loop in BUSY_LOOPS:
        return ReplyResult(ERROR, "the customer is answering a survey right now: try again later")
    plan = reply_window(
        channel,
        last_customer_message_at(events),
        _unix(now),
        agent=agent,
        whatsapp_template=load_settings().whatsapp_reply_template,
        web_connected=web_connected,
    )
    if plan.delivery is None:
        return ReplyResult(plan.status, plan.detail)
    if agent:
        entities = {**entities, "agent_delivery": plan.delivery}
    try:
        response = _trigger(bot_url, token, sender, intent, entities)
    except requests.RequestException as error:
        return ReplyResult(ERROR, f"the bot did not answer ({error.__class__.__name__})")
    if response.status_code != 200:
        return ReplyResult(ERROR, f"the bot answered HTTP {response.status_code}")
    return ReplyResult(SENT, delivery=plan.delivery)


def clean_text(text: str) -> str | None:
    """The agent's message as typed, trimmed; None when empty or too long."""
    text = (text or "").strip()
    return text if 0 < len(text) <= AGENT_TEXT_MAX else None


def send_reply(
    bot_url: str,
    token: str,
    sender: str,
    text: str,
    now: float | datetime,
    web_connected: bool = False,
) -> ReplyResult:
    """Send an agent's message to the customer of conversation ``sender``.

    ``token``: Rasa's HTTP API token (``rasa run --auth-token``). The bot
    records the message as a bot event marked ``agent_reply`` and keeps the
    customer's answer in the slot ``case_reply``. ``web_connected``: whether a
    web chat customer's page is open (the web chat socket knows).
    """
    cleaned = clean_text(text)
    if cleaned is None:
        return ReplyResult(ERROR, f"the message must have 1 to {AGENT_TEXT_MAX} characters")
    return _send(
        bot_url,
        token,
        sender,
        now,
        "agent_reply",
        {"agent_text": cleaned},
        agent=True,
        web_connected=web_connected,
    )


def ask_winback(
    bot_url: str, token: str, sender: str, now: float | datetime, web_connected: bool = False
) -> ReplyResult:
    """The case is resolved: the bot asks the customer for a new score (slot
    ``winback_score``; 0-6 reopens the case, cases/store.py)."""
    return _send(
        bot_url, token, sender, now, "case_resolved", {}, agent=False, web_connected=web_connected
    )

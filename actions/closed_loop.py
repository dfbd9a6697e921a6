"""The closed loop in the customer's chat: an agent's reply, and the win-back question.

Both start with an intent that only Rasa's authenticated HTTP API triggers
(``POST /conversations/<id>/trigger_intent``, called by cases/reply.py):

* ``agent_reply`` (entities ``agent_text``, ``agent_delivery``): the agent's
  words are said as a bot message whose metadata marks them as the agent's
  (``{"agent_reply": true, "delivery": ...}``; Rasa keeps it on the bot event
  and hands it to the output channel, which picks the Messenger tag or the
  WhatsApp template from ``delivery``). ``case_reply_form`` then waits for the
  customer's answer: it is kept in ``case_reply`` and acknowledged, so the
  answer never starts a new survey.
* ``case_resolved``: the bot asks for a new score, kept in ``winback_score``
  (parsed like the survey's score, asked again when unclear, given up on
  after ``max_clarifications`` tries).

A customer can type ``/agent_reply{"agent_text": ...}`` on any channel: such
a message is no trigger (``is_trigger``) and gets the fallback answer, so
nobody can put words in an agent's mouth.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import message
from actions import responses as say
from actions.survey_form import clarify
from nps.groups import DETRACTOR, nps_group
from nps.score import parse_score
from nps.text import cap

AGENT_REPLY = "agent_reply"
CASE_RESOLVED = "case_resolved"
CASE_REPLY_FORM = "case_reply_form"
WINBACK_FORM = "winback_form"
# How a channel sends an agent's message (cases/reply.py decides, from the
# customer's last message and the channel's rules).
DELIVERIES = ("response", "human_agent", "template")
# An agent's message: at most this many characters (Messenger's limit for one
# bubble is 2000, a WhatsApp template parameter about 1000).
AGENT_TEXT_MAX = 1000
# Rasa writes a triggered intent as this user text (rasa.shared.core.constants).
EXTERNAL_PREFIX = "EXTERNAL: "

# Control characters and the invisible ones that reorder or hide text
# (bidirectional overrides, zero-width marks): an agent's message is plain
# text, shown as it reads.
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_agent_text(value: Any) -> str | None:
    """An agent's message as the bot may say it: plain text, line breaks kept,
    invisible characters dropped, at most AGENT_TEXT_MAX characters; None when
    nothing is left."""
    if not isinstance(value, str):
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in _INVISIBLE)
    text = _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in text.split("\n")))
    text = cap(text.strip(), AGENT_TEXT_MAX)[0]
    return text or None


def is_trigger(tracker: Tracker, intent: str) -> bool:
    """Did ``intent`` come from Rasa's trigger_intent API, not from a customer?

    Rasa writes a triggered intent as the text "EXTERNAL: <intent>" with
    metadata ``is_external``; a customer's "/intent{...}" keeps its slash,
    and their words go through the NLU model, whose entities name an
    extractor (a triggered entity has none).
    """
    latest = tracker.latest_message or {}
    if (latest.get("intent") or {}).get("name") != intent:
        return False
    if latest.get("text") != EXTERNAL_PREFIX + intent:
        return False
    if (latest.get("metadata") or {}).get("is_external") is not True:
        return False
    return not any(e.get("extractor") for e in latest.get("entities") or [])


def entity_value(tracker: Tracker, name: str) -> Any:
    for found in (tracker.latest_message or {}).get("entities") or []:
        if found.get("entity") == name:
            return found.get("value")
    return None


class ActionAgentReply(Action):
    """Say the agent's message, marked as theirs, then wait for the answer."""

    def name(self) -> str:
        return "action_agent_reply"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        text = clean_agent_text(entity_value(tracker, "agent_text"))
        if not is_trigger(tracker, AGENT_REPLY) or text is None:
            dispatcher.utter_message(response=say.DEFAULT)
            return []
        delivery = entity_value(tracker, "agent_delivery")
        dispatcher.utter_message(
            text=text,
            agent_reply=True,
            delivery=delivery if delivery in DELIVERIES else "response",
        )
        # The answer is the customer's to give: the form only keeps it
        # (the agent's message was the question, action_ask_case_reply is silent).
        return [
            ActiveLoop(CASE_REPLY_FORM),
            SlotSet("case_reply", None),
            SlotSet("requested_slot", "case_reply"),
        ]


class ActionAskWinback(Action):
    """The case is resolved: ask the customer for a new score."""

    def name(self) -> str:
        return "action_ask_winback"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        if not is_trigger(tracker, CASE_RESOLVED):
            dispatcher.utter_message(response=say.DEFAULT)
            return []
        dispatcher.utter_message(response=say.WINBACK_QUESTION)
        skipped = [s for s in tracker.get_slot("skipped_slots") or [] if s != "winback_score"]
        return [
            ActiveLoop(WINBACK_FORM),
            SlotSet("winback_score", None),
            SlotSet("clarify_count", 0),
            SlotSet("skipped_slots", skipped),
            SlotSet("requested_slot", "winback_score"),
        ]


class ActionAskCaseReply(Action):
    """The form's question for case_reply: the agent's message asked it already."""

    def name(self) -> str:
        return "action_ask_case_reply"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        return []


class ActionAskWinbackScore(Action):
    """The form's question for winback_score: asked by action_ask_winback,
    and again by the validation (with the reason the answer was unclear)."""

    def name(self) -> str:
        return "action_ask_winback_score"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        return []


class ValidateCaseReplyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_reply_form"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    def validate_case_reply(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Any answer is the customer's answer, even "ok" or an emoji: the
        # agent reads it on the case page (a picture arrives as "/non_text").
        return {"case_reply": message.latest(tracker).text or None}


class ValidateWinbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_winback_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # Given up on after unclear answers: nothing more to ask.
        if "winback_score" in (tracker.get_slot("skipped_slots") or []):
            return []
        return domain_slots

    def validate_winback_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        parsed = parse_score(message.latest(tracker).text)
        if parsed.status == "ok":
            return {"winback_score": parsed.score, "clarify_count": 0}
        # Asked again like any survey question, then given up on (skipped_slots).
        ask_again = say.SCORE_ASK_AGAIN.get(parsed.status, say.SCORE_UNCLEAR)
        return clarify(dispatcher, tracker, "winback_score", ask_again, say.WINBACK_SKIPPED)


class ActionCaseReplyThanks(Action):
    def name(self) -> str:
        return "action_case_reply_thanks"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        dispatcher.utter_message(response=say.CASE_REPLY_THANKS)
        return []


class ActionWinbackThanks(Action):
    """Thanks for the new score; a detractor's is told the team will be back."""

    def name(self) -> str:
        return "action_winback_thanks"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        score = tracker.get_slot("winback_score")
        if score is None:
            return []  # given up on: the validation said so already
        low = nps_group(int(score)) == DETRACTOR
        dispatcher.utter_message(response=say.WINBACK_LOW if low else say.WINBACK_THANKS)
        return []

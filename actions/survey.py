"""Starting, finishing and leaving a survey, and the never-silent fallback."""

from __future__ import annotations

import logging
import time

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import message, resources
from actions import responses as say
from nps import drivers, flow, links, tips
from nps.groups import DETRACTOR, PROMOTER

logger = logging.getLogger(__name__)

# A message outside the survey this long (or naming a driver) is a comment.
COMMENT_MIN_WORDS = 3


def start(dispatcher: CollectingDispatcher, tracker: Tracker, now: float) -> list[dict]:
    """Open the survey, or the comment box for someone surveyed recently.

    Returns a FollowupAction so that the same start works from a rule, from
    the fallback (any first message) and after /restart.
    """
    res = resources.get()
    msg = message.latest(tracker)
    link = _entity(msg, "employee_link")
    if link is not None:
        return _start_employee(dispatcher, link, res, now)
    events: list[dict] = []
    if tracker.get_slot("role") is not None:
        # A plain start after an employee's survey in the same session: a customer's survey.
        events += [SlotSet("role", None), SlotSet("survey_wave", None)]
    stored = tracker.get_slot("touchpoint")
    # Only a start payload names the touchpoint (the slot has no mapping of
    # its own); a value stored before that rule is cleaned on the next start.
    given = _entity(msg, "touchpoint")
    touchpoint = flow.clean_touchpoint(stored if given is None else given)
    if touchpoint != stored:
        events.append(SlotSet("touchpoint", touchpoint))
    if flow.recently_surveyed(tracker.get_slot("last_survey_at"), now, res.settings.resurvey_days):
        dispatcher.utter_message(response=say.RESURVEY_COOLDOWN)
        return events + [SlotSet("survey_allowed", False), FollowupAction("comment_form")]
    dispatcher.utter_message(response=say.INTRO)
    tags = msg.driver_tags(drivers.NEGATIVE)
    if msg.intent == "feedback" and tags:
        # Someone who opens with a complaint has given the reason already.
        events += [SlotSet("reason", msg.text), SlotSet("drivers", tags)]
    return events + [SlotSet("survey_allowed", True), FollowupAction("survey_form")]


def _entity(msg: message.Message, name: str) -> str | None:
    """An entity of a start payload (``/start{"touchpoint": "store"}``)."""
    if msg.intent != "start":
        return None
    return next((e.get("value") for e in msg.entities if e.get("entity") == name), None)


def _start_employee(
    dispatcher: CollectingDispatcher, token: object, res: resources.Resources, now: float
) -> list[dict]:
    """Open the employees' survey for a link this installation signed.

    A forged, altered or expired link opens nothing: the employee is told to
    ask for a new one, and nothing they say later counts as an employee's.
    The store and wave come from the signed link only. No re-survey
    cool-down: a wave is one survey per link, and staff may take part in
    each wave.
    """
    try:
        link = links.verify(token, links.link_key(res.settings), now)
    except links.LinkError as error:
        logger.info("employee link refused: %s", error)  # the reason, never the token
        dispatcher.utter_message(response=say.EMPLOYEE_LINK_INVALID)
        return [SlotSet("survey_allowed", False), FollowupAction(LISTEN)]
    dispatcher.utter_message(response=say.EMPLOYEE_INTRO)
    return [
        SlotSet("role", links.EMPLOYEE),
        SlotSet("touchpoint", link.store),
        SlotSet("survey_wave", link.wave),
        SlotSet("survey_allowed", True),
        FollowupAction("survey_form"),
    ]


# The web chat forgets a finished survey when it gets this custom payload
# (channels/webchat/nps-chat.js); the other channels send nothing for it
# (channels/render.py WEB_CHAT_SIGNALS).
SURVEY_END = {"survey_end": True}


class ActionStartSurvey(Action):
    def name(self) -> str:
        return "action_start_survey"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        return start(dispatcher, tracker, time.time())


class ActionFinishSurvey(Action):
    """Thank the customer in the words of their group, and close the survey."""

    def name(self) -> str:
        return "action_finish_survey"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        res = resources.get()
        group = tracker.get_slot("nps_group")
        if flow.is_employee(tracker.slots):
            dispatcher.utter_message(response=say.THANKS_EMPLOYEE)
            group = None  # no review link, no tip
        elif group == DETRACTOR and tracker.get_slot("contact_consent") is True:
            dispatcher.utter_message(response=say.THANKS_DETRACTOR_CONTACT)
        else:
            dispatcher.utter_message(response=say.THANKS.get(group, say.THANKS_NO_SCORE))
        if group == PROMOTER:
            if res.settings.review_url:
                dispatcher.utter_message(response=say.RECOMMEND, review_url=res.settings.review_url)
            tip = tips.tip_for(tracker.get_slot("drivers"), res.tips)
            if tip:
                dispatcher.utter_message(response=say.TIP, tip=tip)
        dispatcher.utter_message(json_message=SURVEY_END)
        return [
            SlotSet("survey_outcome", "finished"),
            SlotSet("last_survey_at", time.time()),
        ]


class ActionStopSurvey(Action):
    """The customer left: keep what they gave, and do not ask them again soon."""

    def name(self) -> str:
        return "action_stop_survey"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        dispatcher.utter_message(response=say.GOODBYE_STOP)
        dispatcher.utter_message(json_message=SURVEY_END)
        return [
            SlotSet("survey_outcome", "stopped"),
            SlotSet("last_survey_at", time.time()),
        ]


LISTEN = "action_listen"


class ActionNpsFallback(Action):
    """Whatever nothing else handled: the bot answers, never goes silent.

    - inside a form: a short apology and the pending question again;
    - before any survey in this session: the survey starts (any first
      message opens it, not only a greeting);
    - after the survey: a real comment is kept as an extra comment.
    """

    def name(self) -> str:
        return "action_nps_fallback"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        loop = (tracker.active_loop or {}).get("name")
        if loop:
            dispatcher.utter_message(response=say.DEFAULT)
            # Re-running the form after another action asks again, without
            # re-validating the message it could not use.
            return [FollowupAction(loop)]
        if tracker.get_slot("survey_allowed") is None:
            return start(dispatcher, tracker, time.time())
        msg = message.latest(tracker)
        # Then wait for the customer. No rule follows this action, so without
        # the explicit listen Rasa's core fallback would predict it again, ten
        # times in one turn, and the conversation would be stuck after that.
        if msg.word_count >= COMMENT_MIN_WORDS or msg.driver_tags(None):
            dispatcher.utter_message(response=say.COMMENT_THANKS)
            return [SlotSet("extra_comment", msg.text), FollowupAction(LISTEN)]
        dispatcher.utter_message(response=say.ANYTHING_ELSE)
        return [FollowupAction(LISTEN)]

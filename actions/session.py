"""Session start and /restart."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, FollowupAction, Restarted, SessionStarted, SlotSet
from rasa_sdk.types import DomainDict

from actions import responses as say


class ActionSessionStart(Action):
    """A new session starts clean, except for when the last survey ended.

    Carrying over only ``last_survey_at`` keeps each survey's data apart
    while still honouring the re-survey cool-down across sessions.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        events: list[dict] = [SessionStarted()]
        last = tracker.get_slot("last_survey_at")
        if last is not None:
            events.append(SlotSet("last_survey_at", last))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionRestart(Action):
    """/restart forgets the conversation and starts the survey again at once.

    Anyone can type /restart, so it keeps what a new session keeps: when the
    last survey ended. Without it, ``Restarted`` would wipe the cool-down and
    the same person could score again at once.
    """

    def name(self) -> str:
        return "action_restart"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        dispatcher.utter_message(response=say.RESTARTING)
        events: list[dict] = [Restarted()]
        last = tracker.get_slot("last_survey_at")
        if last is not None:
            events.append(SlotSet("last_survey_at", last))
        return events + [FollowupAction("action_start_survey")]

"""The comment box for someone who was surveyed recently."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import message
from actions import responses as say


class ValidateCommentForm(FormValidationAction):
    def name(self) -> str:
        return "validate_comment_form"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    def validate_extra_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            # "nie, dzięki": close the comment box without storing a comment.
            return {"extra_comment": None, "requested_slot": None}
        return {"extra_comment": msg.text}


class ActionSaveComment(Action):
    def name(self) -> str:
        return "action_save_comment"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        if tracker.get_slot("extra_comment"):
            dispatcher.utter_message(response=say.COMMENT_THANKS)
        else:
            dispatcher.utter_message(response=say.GOODBYE)
        return []

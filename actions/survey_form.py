"""The survey form: checking each answer and asking each question.

Rasa's form asks the first empty slot of ``required_slots``; the branching
lives in ``nps.flow`` and the parsing in ``nps.score`` / ``nps.yes_no``.
Every free-text answer is also classified into drivers.

rasa-sdk serves every conversation from one event loop (one Sanic worker),
so each ``validate_<slot>`` (parsing, matching known issues) runs in a
worker thread: a customer's long message never holds up another's turn.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import message, resources
from actions import responses as say
from nps import drivers, flow, known_issues
from nps.groups import PROMOTER, nps_group
from nps.score import parse_score
from nps.yes_no import parse_yes_no

# A remainder after the score with at least this many words is a reason.
REASON_MIN_WORDS = 3
# An intent this sure of "yes"/"no" decides when the words alone do not.
YES_NO_CONFIDENCE = 0.6


def _has_substance(text: str, msg: message.Message) -> bool:
    """Is this part of the message a reason? It names a driver, or says enough."""
    if not text:
        return False
    return (
        msg.names_a_driver(resources.get().catalogue)
        or message.word_count(text) >= REASON_MIN_WORDS
    )


def _yes_no(msg: message.Message) -> bool | None:
    answer = parse_yes_no(msg.text)
    if answer is None and msg.confidence >= YES_NO_CONFIDENCE:
        answer = {"affirm": True, "deny": False}.get(msg.intent or "")
    return answer


def _off_loop(validate: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """Run a synchronous ``validate_<slot>`` in a thread, awaited by rasa-sdk."""

    @functools.wraps(validate)
    async def run(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return await asyncio.to_thread(validate, self, value, dispatcher, tracker, domain)

    return run


def _skip(tracker: Tracker, slot: str) -> dict[str, Any]:
    """Leave a question unanswered: the form will not ask it again."""
    skipped = [s for s in tracker.get_slot("skipped_slots") or [] if s != slot] + [slot]
    return {slot: None, "skipped_slots": skipped, "clarify_count": 0}


def _clarify(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    slot: str,
    ask_again: str,
    move_on: str | None = None,
) -> dict[str, Any]:
    """An unclear answer: ask again, or after too many tries move on."""
    count = int(tracker.get_slot("clarify_count") or 0) + 1
    if count >= resources.get().settings.max_clarifications:
        if move_on:
            dispatcher.utter_message(response=move_on)
        return _skip(tracker, slot)
    dispatcher.utter_message(response=ask_again)
    return {slot: None, "clarify_count": count}


class ValidateSurveyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_survey_form"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return flow.required_slots(tracker.slots, resources.get().settings)

    # --- shared steps --------------------------------------------------------

    @staticmethod
    def _classify(
        text: str, msg: message.Message, tracker: Tracker, default_polarity: str
    ) -> dict[str, Any]:
        """Drivers of this answer added to the list, and a known issue if one fits."""
        res = resources.get()
        tags = drivers.drivers_from_entities(msg.entities, res.catalogue, default_polarity)
        result: dict[str, Any] = {"drivers": drivers.merge(tracker.get_slot("drivers"), tags)}
        if not tracker.get_slot("known_issue"):
            issue = known_issues.match(text, tags, res.known_issues)
            if issue:
                result["known_issue"] = issue.id
        return result

    def _reason(
        self, text: str, msg: message.Message, tracker: Tracker, group: str | None
    ) -> dict[str, Any]:
        polarity = drivers.POSITIVE if group == PROMOTER else drivers.NEGATIVE
        return {"reason": text, **self._classify(text, msg, tracker, polarity)}

    # --- one method per question -------------------------------------------

    @_off_loop
    def validate_nps_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        parsed = parse_score(msg.text)
        if parsed.status == "ok":
            group = nps_group(parsed.score)
            result = {"nps_score": parsed.score, "nps_group": group, "clarify_count": 0}
            # "3, bo kurier zgubił paczkę": the reason is taken too, and the
            # bot will not ask for it again.
            if tracker.get_slot("reason") is None and _has_substance(parsed.remainder, msg):
                result.update(self._reason(parsed.remainder, msg, tracker, group))
            return result

        result: dict[str, Any] = {}
        ask_again = say.SCORE_ASK_AGAIN.get(parsed.status, say.SCORE_UNCLEAR)
        # A reason without a score is kept, not lost.
        if (
            parsed.status == "none"
            and tracker.get_slot("reason") is None
            and _has_substance(msg.text, msg)
        ):
            result.update(self._reason(msg.text, msg, tracker, None))
            ask_again = say.SCORE_UNCLEAR_REASON_KEPT
        result.update(_clarify(dispatcher, tracker, "nps_score", ask_again, say.SCORE_SKIPPED))
        return result

    @_off_loop
    def validate_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            # No reason given: asking "why?" about nothing would only annoy.
            return {**_skip(tracker, "reason"), "whys_done": True}
        return self._reason(msg.text, msg, tracker, tracker.get_slot("nps_group"))

    @_off_loop
    def validate_why_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            return {"why_answer": None, "whys_done": True}
        # At most max_whys answers, whatever the slot held before.
        max_whys = resources.get().settings.max_whys
        chain = (list(tracker.get_slot("why_chain") or []) + [msg.text])[:max_whys]
        # why_answer goes back to empty so the form can ask the next "why?".
        return {
            "why_answer": None,
            "why_chain": chain,
            **self._classify(msg.text, msg, tracker, drivers.NEGATIVE),
        }

    @_off_loop
    def validate_issue_resolved(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _yes_no(message.latest(tracker))
        if answer is None:
            return _clarify(dispatcher, tracker, "issue_resolved", say.CLARIFY_YES_NO)
        if answer is False:
            dispatcher.utter_message(response=say.ISSUE_NOT_RESOLVED)
        return {"issue_resolved": answer, "clarify_count": 0}

    @_off_loop
    def validate_nps_score_after(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        parsed = parse_score(msg.text)
        if parsed.status == "ok":
            return {"nps_score_after": parsed.score, "clarify_count": 0}
        if parse_yes_no(msg.text) is False or msg.is_nothing_to_add:
            return _skip(tracker, "nps_score_after")  # keeps the first score
        return _clarify(dispatcher, tracker, "nps_score_after", say.SCORE_UNCLEAR)

    def _open_answer(self, slot: str, polarity: str, tracker: Tracker) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            return _skip(tracker, slot)
        return {slot: msg.text, **self._classify(msg.text, msg, tracker, polarity)}

    @_off_loop
    def validate_improvement(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # What is missing for a 10 is something that is not good enough yet.
        return self._open_answer("improvement", drivers.NEGATIVE, tracker)

    @_off_loop
    def validate_valued_most(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._open_answer("valued_most", drivers.POSITIVE, tracker)

    @_off_loop
    def validate_contact_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _yes_no(message.latest(tracker))
        if answer is None:
            return _clarify(dispatcher, tracker, "contact_consent", say.CLARIFY_YES_NO)
        return {"contact_consent": answer, "clarify_count": 0}


class ActionAskReason(Action):
    """The reason question depends on the group: praise, doubt or complaint."""

    def name(self) -> str:
        return "action_ask_reason"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        group = tracker.get_slot("nps_group")
        dispatcher.utter_message(response=say.ASK_REASON.get(group, say.ASK_REASON_NO_SCORE))
        return []


class ActionAskWhyAnswer(Action):
    """The next "why?", phrased for the main negative driver and never repeated."""

    def name(self) -> str:
        return "action_ask_why_answer"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        res = resources.get()
        driver = drivers.main_negative(tracker.get_slot("drivers"))
        round_ = len(tracker.get_slot("why_chain") or [])
        dispatcher.utter_message(text=res.why_questions.question(driver, round_))
        return []


class ActionAskIssueResolved(Action):
    """Offer the known fix, then ask whether it helped."""

    def name(self) -> str:
        return "action_ask_issue_resolved"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        issue_id = tracker.get_slot("known_issue")
        issue = next((i for i in resources.get().known_issues if i.id == issue_id), None)
        if issue is not None:
            dispatcher.utter_message(response=say.FIX_INTRO)
            fix = f"{issue.fix}\n{issue.link}" if issue.link else issue.fix
            dispatcher.utter_message(text=fix)
        dispatcher.utter_message(response=say.ASK_ISSUE_RESOLVED)
        return []

"""The survey form: checking each answer and asking each question.

Rasa's form asks the first empty slot of ``required_slots``; the branching
lives in ``nps.flow`` and the parsing in ``nps.score`` / ``nps.yes_no``.
Every free-text answer is also classified into drivers. The questions whose
words depend on the answers (the reason, the whys, the fix) are said here,
in the same call that validated the answer ("asking", below).

rasa-sdk serves every conversation from one event loop (one Sanic worker),
so each ``validate_<slot>`` (parsing, matching known issues) runs in a
worker thread: a customer's long message never holds up another's turn.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import message, resources
from actions import responses as say
from nps import drivers, flow, known_issues, why_chain
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
    # Any polarity will do here: the question is only whether a driver is named.
    named = bool(msg.driver_tags(drivers.NEGATIVE))
    return named or message.word_count(text) >= REASON_MIN_WORDS


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


def skip(tracker: Tracker, slot: str) -> dict[str, Any]:
    """Leave a question unanswered: the form will not ask it again.

    A trainer's own question has no slot of its own: its id is only listed
    (its carrier, survey_answer, is emptied by the caller)."""
    skipped = [s for s in tracker.get_slot("skipped_slots") or [] if s != slot] + [slot]
    own = slot in resources.get().survey_paths.questions
    return {**({} if own else {slot: None}), "skipped_slots": skipped, "clarify_count": 0}


def clarify(
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
        return skip(tracker, slot)
    dispatcher.utter_message(response=ask_again)
    return {slot: None, "clarify_count": count}


class ValidateSurveyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_survey_form"

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        message.note_if_shortened(dispatcher, tracker)
        events = await super().run(dispatcher, tracker, domain)
        # rasa-sdk has applied the validated answers to tracker.slots already.
        # When Rasa rejects this turn (nothing was answered: "stop", "are you a
        # bot?"), it drops these messages together with the events.
        for utterance in question(requested(events), tracker.slots):
            dispatcher.utter_message(**utterance)
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        res = resources.get()
        return flow.required_slots(tracker.slots, res.settings, res.survey_paths)

    # --- shared steps --------------------------------------------------------

    @staticmethod
    def _tags(msg: message.Message, default_polarity: str) -> list[str]:
        """The driver tags of this answer alone (the whole message: the NLU
        entities' offsets are in it, also when the reason followed a score)."""
        return msg.driver_tags(default_polarity)

    @staticmethod
    def _classify(text: str, tags: list[str], tracker: Tracker) -> dict[str, Any]:
        """This answer's tags added to the list, and a known issue if one fits
        (customers only: an employee is not offered a customer's fix)."""
        slot = flow.drivers_slot(tracker.slots)
        result: dict[str, Any] = {slot: drivers.merge(tracker.get_slot(slot), tags)}
        if not flow.is_employee(tracker.slots) and not tracker.get_slot("known_issue"):
            issue = known_issues.match(text, tags, resources.get().known_issues)
            if issue:
                result["known_issue"] = issue.id
        return result

    def _reason(
        self, text: str, msg: message.Message, tracker: Tracker, group: str | None
    ) -> dict[str, Any]:
        polarity = drivers.POSITIVE if group == PROMOTER else drivers.NEGATIVE
        return {"reason": text, **self._classify(text, self._tags(msg, polarity), tracker)}

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
        # ("obsługa na piątkę z plusem": a school mark is asked again as 0-10,
        # and what it praised is a reason too.)
        if (
            parsed.status in ("none", "school_grade")
            and tracker.get_slot("reason") is None
            and _has_substance(msg.text, msg)
        ):
            result.update(self._reason(msg.text, msg, tracker, None))
            if parsed.status == "none":
                ask_again = say.SCORE_UNCLEAR_REASON_KEPT
        result.update(clarify(dispatcher, tracker, "nps_score", ask_again, say.SCORE_SKIPPED))
        return result

    @_off_loop
    def validate_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            # No reason given: nps.flow asks no "why?" about nothing.
            return skip(tracker, "reason")
        return self._reason(msg.text, msg, tracker, tracker.get_slot("nps_group"))

    @_off_loop
    def validate_why_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Judge the answer (nps/why_chain.py): store it and probe again, or end the chain.

        An answer without content ("tak", an emoji) is not stored: the next
        question asks for a few words (clarify_count counts them in a row).
        The chain ends with ``why_stop`` and ``why_depth`` set together.
        """
        msg = message.latest(tracker)
        res = resources.get()
        settings = res.settings
        max_whys = flow.max_whys(settings, res.survey_paths)
        chain = list(tracker.get_slot("why_chain") or [])
        tags = self._tags(msg, drivers.NEGATIVE)
        classified = self._classify(msg.text, tags, tracker)
        answer_probed = "predicted_complaint" if flow.is_employee(tracker.slots) else "reason"
        verdict = why_chain.judge(
            msg.text,
            tags,
            earlier=[tracker.get_slot(answer_probed) or "", *chain],
            known_issue="known_issue" in classified,
            nlu_says_done=msg.intent == "done",
        )
        step = why_chain.step(
            verdict,
            stored=len(chain),
            max_whys=max_whys,
            empty_in_a_row=int(tracker.get_slot("clarify_count") or 0),
            max_clarifications=settings.max_clarifications,
        )
        # why_answer goes back to empty so the form can ask the next "why?".
        result: dict[str, Any] = {"why_answer": None}
        if step.clarify:
            result["clarify_count"] = int(tracker.get_slot("clarify_count") or 0) + 1
            return result
        result["clarify_count"] = 0
        if step.store:
            # At most max_whys answers, whatever the slot held before.
            chain = (chain + [msg.text])[:max_whys]
            probed = drivers.main_negative(tags) or flow.why_driver(tracker.slots)
            result.update({"why_chain": chain, "why_driver": probed, **classified})
        if step.stop:
            result.update({"why_stop": step.stop, "why_depth": len(chain)})
        return result

    @_off_loop
    def validate_issue_resolved(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _yes_no(message.latest(tracker))
        if answer is None:
            return clarify(dispatcher, tracker, "issue_resolved", say.CLARIFY_YES_NO)
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
            return skip(tracker, "nps_score_after")  # keeps the first score
        return clarify(dispatcher, tracker, "nps_score_after", say.SCORE_UNCLEAR)

    def _open_answer(self, slot: str, polarity: str, tracker: Tracker) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            return skip(tracker, slot)
        return {slot: msg.text, **self._classify(msg.text, self._tags(msg, polarity), tracker)}

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

    # --- the employees' path (data/survey_paths.yml "employee") ---------------

    @_off_loop
    def validate_predicted_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        parsed = parse_score(message.latest(tracker).text)
        if parsed.status == "ok":
            return {"predicted_score": parsed.score, "clarify_count": 0}
        ask_again = say.SCORE_ASK_AGAIN.get(parsed.status, say.SCORE_UNCLEAR)
        return clarify(dispatcher, tracker, "predicted_score", ask_again)

    @_off_loop
    def validate_predicted_praise(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._open_answer("predicted_praise", drivers.POSITIVE, tracker)

    @_off_loop
    def validate_predicted_complaint(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Skipped ("nic", "nie wiem"): nps.flow asks no "why?" about nothing.
        return self._open_answer("predicted_complaint", drivers.NEGATIVE, tracker)

    @_off_loop
    def validate_proposed_fix(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        msg = message.latest(tracker)
        if msg.is_nothing_to_add:
            return skip(tracker, "proposed_fix")
        return {"proposed_fix": msg.text, "clarify_count": 0}

    # --- the trainers' own questions (data/survey_paths.yml "questions") -------

    @_off_loop
    def validate_survey_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to the trainers' question that ``survey_answer`` stood
        for, checked by the kind of answer it takes, kept under its id."""
        res = resources.get()
        qid = flow.own_question(tracker.slots, res.settings, res.survey_paths)
        question = res.survey_paths.questions.get(qid or "")
        if question is None:  # the file changed mid-conversation: nothing to keep
            return {"survey_answer": None}
        msg = message.latest(tracker)
        answers = dict(tracker.get_slot("survey_answers") or {})
        result: dict[str, Any] = {"survey_answer": None, "clarify_count": 0}
        if question.answer == "score":
            parsed = parse_score(msg.text)
            if parsed.status != "ok":
                ask_again = say.SCORE_ASK_AGAIN.get(parsed.status, say.SCORE_UNCLEAR)
                return _own_unclear(dispatcher, tracker, qid, ask_again)
            answers[qid] = parsed.score
        elif question.answer == "yes_no":
            answer = _yes_no(msg)
            if answer is None:
                return _own_unclear(dispatcher, tracker, qid, say.CLARIFY_YES_NO)
            answers[qid] = answer
        elif msg.is_nothing_to_add:
            return {**skip(tracker, qid), "survey_answer": None}
        else:
            answers[qid] = msg.text
            result.update(self._classify(msg.text, self._tags(msg, question.polarity), tracker))
        result["survey_answers"] = answers
        return result

    @_off_loop
    def validate_contact_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        answer = _yes_no(message.latest(tracker))
        if answer is None:
            return clarify(dispatcher, tracker, "contact_consent", say.CLARIFY_YES_NO)
        return {"contact_consent": answer, "clarify_count": 0}


def _own_unclear(
    dispatcher: CollectingDispatcher, tracker: Tracker, qid: str, ask_again: str
) -> dict[str, Any]:
    """An unclear answer to a trainer's own question: asked again, or after
    too many tries given up on (kept in skipped_slots under its id)."""
    count = int(tracker.get_slot("clarify_count") or 0) + 1
    if count >= resources.get().settings.max_clarifications:
        return {**skip(tracker, qid), "survey_answer": None}
    dispatcher.utter_message(response=ask_again)
    return {"survey_answer": None, "clarify_count": count}


# --- asking ------------------------------------------------------------------
# What a question says that depends on the answers so far is said by
# validate_survey_form itself, right after it has decided which slot comes
# next, so it costs no second round trip to the action server (each call
# ships the whole tracker both ways and has its answer checked against a
# schema). The reason and the whys are asked here entirely: the domain has no
# utter_ask_ or action_ask_ for them, so Rasa's form then says nothing more.
# The known fix is offered here, and the form asks utter_ask_issue_resolved
# after it, as it asks every other question with the domain's utter_ask_<slot>.

Said = list[dict[str, Any]]


def _ask_reason(slots: Mapping[str, Any], res: resources.Resources) -> Said:
    """Praise, doubt or complaint: the reason question fits the group."""
    return [{"response": say.ASK_REASON.get(slots.get("nps_group"), say.ASK_REASON_NO_SCORE)}]


def _ask_why(slots: Mapping[str, Any], res: resources.Resources) -> Said:
    """The next "why?": the next kind of question, about the driver the last
    answer named; after an answer without content, a request for a few words."""
    if int(slots.get("clarify_count") or 0) > 0:
        return [{"response": say.WHY_CLARIFY}]
    if flow.is_employee(slots):
        return [{"response": say.EMPLOYEE_WHY}]
    round_ = len(slots.get("why_chain") or [])
    return [{"text": res.why_questions.question(flow.why_driver(slots), round_)}]


def _offer_fix(slots: Mapping[str, Any], res: resources.Resources) -> Said:
    """The known issue's fix, said before the form asks whether it helped."""
    issue = next((i for i in res.known_issues if i.id == slots.get("known_issue")), None)
    if issue is None:  # e.g. removed from the trainers' file mid-conversation
        return []
    fix = f"{issue.fix}\n{issue.link}" if issue.link else issue.fix
    return [{"response": say.FIX_INTRO}, {"text": fix}]


def _ask_own(slots: Mapping[str, Any], res: resources.Resources) -> Said:
    """A trainer's own question: its wording is utter_ask_<id> (nps.check checks it exists)."""
    qid = flow.own_question(slots, res.settings, res.survey_paths)
    return [{"response": f"utter_ask_{qid}"}] if qid else []


# Questions asked here entirely (the domain must not ask them too).
ASKED_IN_CODE = {"reason": _ask_reason, "why_answer": _ask_why, flow.OWN_QUESTION_SLOT: _ask_own}
# Said here before the domain's question.
BEFORE_THE_QUESTION = {"issue_resolved": _offer_fix}


def question(slot: str | None, slots: Mapping[str, Any]) -> Said:
    """What this action says to ask ``slot`` (``utter_message`` keyword
    arguments, in order) before Rasa's form asks with the domain's response."""
    said = ASKED_IN_CODE.get(slot or "") or BEFORE_THE_QUESTION.get(slot or "")
    return said(slots, resources.get()) if said else []


def requested(events: list[dict]) -> str | None:
    """The slot the form will ask next, as the validation's events set it."""
    for event in reversed(events):
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            return event.get("value")
    return None

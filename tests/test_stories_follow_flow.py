"""The stories show the path nps/flow.py decides: each question a story says
the survey form asks next (`requested_slot`) is the one `required_slots`
would ask, given the slots the story has set so far.

`rasa test core` cannot check this: it never runs the custom actions and
takes the story's own slot events as given, so a promoter story that asks
`improvement` would pass there. This test makes such a story fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nps import flow
from nps.settings import Settings

REPO = Path(__file__).resolve().parent.parent
STORY_FILES = [
    *sorted((REPO / "data" / "stories").glob("*.yml")),
    *sorted((REPO / "tests" / "stories").glob("*.yml")),
]


def _stories():
    for path in STORY_FILES:
        for story in yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]:
            yield pytest.param(story["steps"], id=f"{path.name}: {story['story']}")


def _next_question(slots: dict) -> str | None:
    """The question the survey form asks next: the first open required slot."""
    for name in flow.required_slots(slots, Settings()):
        if slots.get(name) is None:
            return name
    return None


def asked(steps: list[dict]) -> list[tuple[str | None, str | None]]:
    """For each turn of the survey form in a story: (the question the story
    says it asks next, the question nps/flow.py asks for the same slots).
    A turn of the form that shows no question gives ("(not shown)", ...)."""
    slots: dict = {}
    found = []
    form_turn = False  # inside the events of one `action: survey_form`
    for step in steps:
        if "action" in step or "intent" in step:
            if form_turn:  # the form's turn ended without saying what it asks
                found.append(("(not shown)", _next_question(slots)))
            form_turn = step.get("action") == "survey_form"
        for event in step.get("slot_was_set") or []:
            name, value = next(iter(event.items()))
            if name != "requested_slot":
                slots[name] = value
            elif form_turn:
                found.append((value, _next_question(slots)))
                form_turn = False
    if form_turn:
        found.append(("(not shown)", _next_question(slots)))
    return found


@pytest.mark.parametrize("steps", _stories())
def test_each_question_a_story_shows_is_the_one_the_flow_asks(steps):
    for said, decided in asked(steps):
        assert said == decided


def test_a_promoter_asked_what_would_make_it_a_10_is_caught():
    steps = [
        {"action": "survey_form"},
        {"active_loop": "survey_form"},
        {"slot_was_set": [{"requested_slot": "nps_score"}]},
        {"intent": "give_score"},
        {"action": "survey_form"},
        {"slot_was_set": [{"nps_score": 10}, {"nps_group": "promoter"}]},
        {"slot_was_set": [{"requested_slot": "reason"}]},
        {"intent": "feedback"},
        {"action": "survey_form"},
        {"slot_was_set": [{"reason": "miła obsługa"}, {"requested_slot": "improvement"}]},
    ]
    assert asked(steps) == [
        ("nps_score", "nps_score"),
        ("reason", "reason"),
        ("improvement", "valued_most"),
    ]


def test_a_form_turn_that_does_not_show_its_question_is_caught():
    steps = [
        {"action": "survey_form"},
        {"active_loop": "survey_form"},
        {"slot_was_set": [{"requested_slot": "nps_score"}]},
        {"intent": "give_score"},
        {"action": "survey_form"},
        {"intent": "feedback"},
    ]
    assert asked(steps)[-1] == ("(not shown)", "nps_score")

"""The judge of why-answers (nps/why_chain.py) on a table of answers, and its steps."""

from __future__ import annotations

import pytest

from nps import why_stops
from nps.why_chain import (
    DONE,
    EMPTY,
    KNOWN_ISSUE,
    REPEAT,
    SPECIFIC,
    VAGUE,
    Step,
    content_words,
    judge,
    step,
)

DELIVERY = ["delivery:neg"]
SUPPORT = ["customer_support:neg"]


@pytest.mark.parametrize(
    "text, tags, verdict",
    [
        # without content: yes/no words, filler, an answer to a question not asked
        ("tak", [], EMPTY),
        ("Tak!", [], EMPTY),
        ("no", [], EMPTY),
        ("ok", [], EMPTY),
        ("okej, no", [], EMPTY),
        ("🙂", [], EMPTY),
        ("👍", [], EMPTY),
        ("", [], EMPTY),
        ("tak, można dzwonić", [], EMPTY),
        ("jasne, możecie dzwonić", [], EMPTY),
        ("no chyba tak", [], EMPTY),
        # a tag the NLU put on a word without content does not make content
        ("tak", DELIVERY, EMPTY),
        # nothing more: doubt, a refusal, the end, a bare no
        ("nie wiem", [], DONE),
        ("Nie wiem...", [], DONE),
        ("sam nie wiem", [], DONE),
        ("nie mam pojęcia", [], DONE),
        ("trudno powiedzieć", [], DONE),
        ("to wszystko", [], DONE),
        ("nic więcej", [], DONE),
        ("nie chcę mówić", [], DONE),
        ("nie chce o tym mowic", [], DONE),
        ("nie powiem", [], DONE),
        ("wolę nie mówić", [], DONE),
        ("bez komentarza", [], DONE),
        ("nie", [], DONE),
        ("nie, dzięki", [], DONE),
        ("nic", [], DONE),
        ("niestety nie", [], DONE),
        # doubt followed by content is judged by the content
        ("nie wiem, chyba mają za mało ludzi", [], VAGUE),
        ("nie wiem, chyba mają za mało ludzi", ["staff:neg"], VAGUE),
        # specific: a driver and something concrete
        ("kurier zgubił paczkę", DELIVERY, SPECIFIC),
        ("paczka przyszła tydzień po terminie", DELIVERY, SPECIFIC),
        ("czekałem 40 minut na infolinii", SUPPORT, SPECIFIC),
        ("dzwoniłem dwa razy", SUPPORT, SPECIFIC),
        ("kurier przyjechał wczoraj", DELIVERY, SPECIFIC),
        ("kasjerka krzyczała na mnie przy kasie", ["staff:neg"], SPECIFIC),
        # a driver, but nothing concrete: vague
        ("kurier był niemiły", DELIVERY, VAGUE),
        ("za drogo", ["price:neg"], VAGUE),
        ("nikt nie odbierał infolinii", SUPPORT, VAGUE),
        ("obsługa była bardzo niemiła", ["staff:neg"], VAGUE),
        # something concrete, but no driver named: vague
        ("bo czynsze w galeriach ciągle rosną", [], VAGUE),
        ("czekałem 40 minut", [], VAGUE),
    ],
)
def test_the_judge(text, tags, verdict):
    assert judge(text, tags) == verdict


def test_nlu_done_ends_only_an_answer_without_content():
    assert judge("wystarczy już", [], nlu_says_done=True) == DONE
    assert judge("🙂", [], nlu_says_done=True) == DONE
    assert judge("kurier był niemiły", DELIVERY, nlu_says_done=True) == VAGUE


@pytest.mark.parametrize(
    "text, earlier",
    [
        ("kurier był niemiły", ["kurier był niemiły"]),
        ("Kurier był NIEMIŁY!", ["kurier byl niemily"]),  # folded
        ("był niemiły kurier", ["paczka szła długo", "kurier był niemiły"]),  # any order
        ("no kurier był niemiły", ["kurier był niemiły"]),  # filler aside
    ],
)
def test_a_repeat_of_an_earlier_answer(text, earlier):
    assert judge(text, DELIVERY, earlier=earlier) == REPEAT


def test_a_new_answer_is_not_a_repeat():
    assert judge("kurier był niemiły", DELIVERY, earlier=["kurier był spóźniony", ""]) == VAGUE


def test_a_known_issue_wins_over_specific_and_vague():
    assert judge("nie wiem gdzie jest moja paczka", DELIVERY, known_issue=True) == KNOWN_ISSUE
    assert judge("kurier zgubił paczkę", DELIVERY, known_issue=True) == KNOWN_ISSUE
    # ...but not over an answer without content
    assert judge("tak", DELIVERY, known_issue=True) == EMPTY


def test_content_words():
    assert content_words("Nie wiem, chyba mają za mało ludzi") == ["malo", "ludzi"]
    assert content_words("tak, można dzwonić 🙂") == []


@pytest.mark.parametrize(
    "verdict, stored, empty_before, expected",
    [
        (SPECIFIC, 0, 0, Step(store=True, stop=why_stops.SPECIFIC)),
        (KNOWN_ISSUE, 2, 0, Step(store=True, stop=why_stops.KNOWN_ISSUE)),
        (DONE, 1, 0, Step(store=False, stop=why_stops.DONE)),
        (REPEAT, 1, 1, Step(store=False, stop=why_stops.DONE)),
        (VAGUE, 0, 0, Step(store=True, stop=None)),
        (VAGUE, 3, 1, Step(store=True, stop=None)),
        (VAGUE, 4, 0, Step(store=True, stop=why_stops.LIMIT)),  # the 5th answer
        (SPECIFIC, 4, 0, Step(store=True, stop=why_stops.SPECIFIC)),
        (EMPTY, 2, 0, Step(store=False, stop=None, clarify=True)),
        (EMPTY, 2, 1, Step(store=False, stop=why_stops.VAGUE_LIMIT)),
    ],
)
def test_the_step_after_a_verdict(verdict, stored, empty_before, expected):
    assert step(verdict, stored, 5, empty_before, max_clarifications=2) == expected


def test_the_limit_and_the_clarifications_are_settings():
    assert step(VAGUE, 1, 2, 0, 2).stop == why_stops.LIMIT
    assert step(VAGUE, 1, 3, 0, 2).stop is None
    assert step(EMPTY, 0, 5, 0, 1).stop == why_stops.VAGUE_LIMIT  # no clarification at all
    assert step(EMPTY, 0, 5, 1, 3).clarify

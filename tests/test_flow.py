"""The survey's branching (nps/flow.py), walked path by path."""

from __future__ import annotations

import pytest

from nps.flow import (
    clean_touchpoint,
    max_whys,
    own_question,
    recently_surveyed,
    required_slots,
    why_driver,
)
from nps.settings import Settings
from nps.survey_paths import Question, SurveyPaths
from nps.why_stops import WHY_STOPS

S = Settings()


@pytest.mark.parametrize(
    "slots, expected",
    [
        ({}, ["nps_score"]),
        ({"skipped_slots": ["nps_score"]}, ["reason"]),
        # promoter: reason, then what they value most; never probed
        ({"nps_score": 10, "nps_group": "promoter"}, ["nps_score", "reason"]),
        (
            {"nps_score": 10, "nps_group": "promoter", "reason": "x", "drivers": ["price:neg"]},
            ["nps_score", "reason", "valued_most"],
        ),
        # passive: probed only when something negative was named
        (
            {"nps_score": 8, "nps_group": "passive", "reason": "ok", "drivers": ["staff:pos"]},
            ["nps_score", "reason", "improvement"],
        ),
        (
            {"nps_score": 8, "nps_group": "passive", "reason": "x", "drivers": ["price:neg"]},
            ["nps_score", "reason", "why_answer", "improvement"],
        ),
        # ...named before "what would make it a 10?": a wish named in that
        # answer is not probed after the last question
        (
            {
                "nps_score": 8,
                "nps_group": "passive",
                "reason": "ok",
                "improvement": "więcej promocji",
                "drivers": ["promotions:neg"],
            },
            ["nps_score", "reason", "improvement"],
        ),
        # ...while a chain begun on the reason is still the chain
        (
            {
                "nps_score": 8,
                "nps_group": "passive",
                "reason": "drogo",
                "why_chain": ["a"],
                "drivers": ["price:neg"],
            },
            ["nps_score", "reason", "why_answer", "improvement"],
        ),
        # detractor: always probed, then asked for consent
        (
            {"nps_score": 2, "nps_group": "detractor", "reason": "x"},
            ["nps_score", "reason", "why_answer", "contact_consent"],
        ),
        (
            {"nps_score": 2, "nps_group": "detractor", "reason": "x", "why_chain": list("abcde")},
            ["nps_score", "reason", "contact_consent"],
        ),
        # the chain ended: every why_stop value stops it, and the older whys_done
        *[
            (
                {"nps_score": 2, "nps_group": "detractor", "reason": "x", "why_stop": stop},
                ["nps_score", "reason", "contact_consent"],
            )
            for stop in WHY_STOPS
        ],
        (
            {"nps_score": 2, "nps_group": "detractor", "reason": "x", "whys_done": True},
            ["nps_score", "reason", "contact_consent"],
        ),
        (
            {
                "nps_score": 8,
                "nps_group": "passive",
                "reason": "x",
                "drivers": ["price:neg"],
                "why_chain": ["a"],
                "why_stop": "specific",
            },
            ["nps_score", "reason", "improvement"],
        ),
        # no reason given: no "why?" about nothing
        (
            {"nps_score": 2, "nps_group": "detractor", "skipped_slots": ["reason"]},
            ["nps_score", "contact_consent"],
        ),
        # a known issue stops the whys and asks whether the fix helped
        (
            {"nps_score": 2, "nps_group": "detractor", "reason": "x", "known_issue": "k"},
            ["nps_score", "reason", "issue_resolved", "contact_consent"],
        ),
        (
            {
                "nps_score": 2,
                "nps_group": "detractor",
                "reason": "x",
                "known_issue": "k",
                "issue_resolved": True,
            },
            ["nps_score", "reason", "issue_resolved", "nps_score_after", "contact_consent"],
        ),
        (
            {
                "nps_score": 2,
                "nps_group": "detractor",
                "reason": "x",
                "known_issue": "k",
                "issue_resolved": False,
            },
            ["nps_score", "reason", "issue_resolved", "contact_consent"],
        ),
        # skipped questions are not asked again
        (
            {
                "nps_score": 2,
                "nps_group": "detractor",
                "skipped_slots": ["reason"],
                "whys_done": True,
            },
            ["nps_score", "contact_consent"],
        ),
        # no score: a neutral reason question, probed only on a complaint
        (
            {"skipped_slots": ["nps_score"], "reason": "x", "drivers": ["delivery:neg"]},
            ["reason", "why_answer"],
        ),
        ({"skipped_slots": ["nps_score"], "reason": "x"}, ["reason"]),
    ],
)
def test_required_slots(slots, expected):
    assert required_slots(slots, S) == expected


def test_max_whys_is_one_setting():
    slots = {"nps_score": 2, "nps_group": "detractor", "reason": "x", "why_chain": ["a", "b"]}
    assert "why_answer" not in required_slots(slots, Settings(max_whys=2))
    assert "why_answer" in required_slots(slots, Settings(max_whys=3))


def test_the_why_limit_is_the_trainers_unless_an_operator_sets_it():
    paths = _paths(why_limit=2)
    assert max_whys(Settings(), paths) == 2
    assert max_whys(Settings(max_whys=4), paths) == 4
    slots = {"nps_score": 2, "nps_group": "detractor", "reason": "x", "why_chain": ["a", "b"]}
    assert "why_answer" not in required_slots(slots, S, paths)
    assert "why_answer" in required_slots(slots, S, _paths(why_limit=3))


EMPLOYEE = {"role": "employee", "touchpoint": "warszawa-1"}


@pytest.mark.parametrize(
    "slots, expected",
    [
        # no customer score: the employees' own path, predicted score first
        (EMPLOYEE, ["predicted_score"]),
        (
            {**EMPLOYEE, "predicted_score": 8},
            ["predicted_score", "predicted_praise", "predicted_complaint"],
        ),
        # always probed about the complaint they predicted, even naming no driver
        (
            {**EMPLOYEE, "predicted_score": 8, "predicted_praise": "x", "predicted_complaint": "y"},
            [
                "predicted_score",
                "predicted_praise",
                "predicted_complaint",
                "why_answer",
                "proposed_fix",
            ],
        ),
        (
            {
                **EMPLOYEE,
                "predicted_score": 8,
                "predicted_praise": "x",
                "predicted_complaint": "y",
                "why_stop": "specific",
            },
            ["predicted_score", "predicted_praise", "predicted_complaint", "proposed_fix"],
        ),
        # no complaint: no "why?" about nothing
        (
            {
                **EMPLOYEE,
                "predicted_score": 8,
                "skipped_slots": ["predicted_praise", "predicted_complaint"],
            },
            ["predicted_score", "proposed_fix"],
        ),
        # a known issue is never offered to an employee
        (
            {
                **EMPLOYEE,
                "predicted_score": 8,
                "predicted_praise": "x",
                "predicted_complaint": "y",
                "known_issue": "k",
            },
            ["predicted_score", "predicted_praise", "predicted_complaint", "proposed_fix"],
        ),
    ],
)
def test_the_employee_path(slots, expected):
    assert required_slots(slots, S) == expected
    assert "nps_score" not in required_slots(slots, S)


def _paths(why_limit: int = 5, promoter=("reason", "valued_most"), questions=()) -> SurveyPaths:
    return SurveyPaths(
        why_limit=why_limit,
        paths={
            "promoter": tuple(promoter),
            "passive": ("reason", "whys", "improvement"),
            "detractor": ("reason", "whys", "contact_consent"),
            "no_score": ("reason", "whys"),
            "employee": ("predicted_score", "predicted_praise", "predicted_complaint", "whys"),
        },
        questions={q.id: q for q in questions},
    )


def test_a_trainers_own_question_is_asked_in_its_place_once():
    paths = _paths(
        promoter=("reason", "whom", "valued_most", "again"),
        questions=(Question("whom", "text"), Question("again", "yes_no")),
    )
    promoter = {"nps_score": 10, "nps_group": "promoter", "reason": "x"}
    # survey_answer stands for the first open own question, in the path's order
    assert required_slots(promoter, S, paths) == [
        "nps_score",
        "reason",
        "survey_answer",
        "valued_most",
    ]
    assert own_question(promoter, S, paths) == "whom"
    answered = {**promoter, "survey_answers": {"whom": "siostrze"}}
    assert required_slots(answered, S, paths) == [
        "nps_score",
        "reason",
        "valued_most",
        "survey_answer",
    ]
    assert own_question(answered, S, paths) == "again"
    # given up on (skipped) is not asked again either
    done = {**answered, "valued_most": "y", "skipped_slots": ["again"]}
    assert required_slots(done, S, paths) == ["nps_score", "reason", "valued_most"]
    assert own_question(done, S, paths) is None
    # other groups do not get it
    passive = {"nps_score": 8, "nps_group": "passive", "reason": "x"}
    assert own_question(passive, S, paths) is None


def test_whys_on_a_promoters_path_probe_only_a_complaint():
    paths = _paths(promoter=("reason", "whys", "valued_most"))
    praise = {"nps_score": 10, "nps_group": "promoter", "reason": "x", "drivers": ["staff:pos"]}
    assert "why_answer" not in required_slots(praise, S, paths)
    complaint = {**praise, "drivers": ["staff:pos", "price:neg"]}
    assert required_slots(complaint, S, paths) == [
        "nps_score",
        "reason",
        "why_answer",
        "valued_most",
    ]
    # the shipped promoter path has no whys at all
    assert "why_answer" not in required_slots(complaint, S)


@pytest.mark.parametrize(
    "slots, driver",
    [
        ({"drivers": ["staff:pos", "delivery:neg"]}, "delivery"),
        # the driver the last answer named wins over the first complaint
        (
            {"drivers": ["delivery:neg", "customer_support:neg"], "why_driver": "customer_support"},
            "customer_support",
        ),
        ({"drivers": ["delivery:pos"]}, None),
        ({}, None),
    ],
)
def test_the_driver_the_next_why_probes(slots, driver):
    assert why_driver(slots) == driver


def test_cool_down():
    day = 24 * 3600
    assert recently_surveyed(1000.0, 1000.0 + 29 * day, 30)
    assert not recently_surveyed(1000.0, 1000.0 + 30 * day, 30)
    assert not recently_surveyed(None, 1000.0, 30)


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("delivery", "delivery"),
        (" Store ", "store"),
        ("app-ios_2", "app-ios_2"),
        ("summer.sale", "summer.sale"),  # m.me refs use dots
        ("x" * 64, "x" * 64),
        ("", None),
        (None, None),
        (5, None),
        ("a b", None),
        ("x" * 65, None),
        ("<b>", None),
        ("sklép", None),
    ],
)
def test_clean_touchpoint(raw, clean):
    assert clean_touchpoint(raw) == clean

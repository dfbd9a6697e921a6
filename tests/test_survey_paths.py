"""The trainers' survey paths (data/survey_paths.yml): the file as shipped,
and the messages a typo gets (file and line, never a traceback)."""

from __future__ import annotations

import os
import textwrap

import pytest

from nps import survey_paths
from nps.domain import load_domain
from nps.settings import load_settings
from nps.trainer_yaml import TrainerFileError

SHIPPED = load_settings().survey_paths_file

GOOD = """\
why_limit: 3
paths:
  promoter: [reason, valued_most]
  passive: [reason, whys, improvement]
  detractor: [reason, whys, contact_consent]
  no_score: [reason, whys]
  employee: [predicted_score, predicted_praise, predicted_complaint, whys, proposed_fix]
questions: []
"""


def _write(tmp_path, text: str):
    path = tmp_path / "survey_paths.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_file_is_the_survey_as_designed():
    paths = survey_paths.parse(SHIPPED)
    assert paths.path("promoter") == ("reason", "valued_most")
    assert paths.path("detractor") == ("reason", "whys", "contact_consent")
    assert paths.path("employee")[0] == "predicted_score"
    assert 1 <= paths.why_limit <= survey_paths.MAX_WHY_LIMIT
    # Every trainer's question has its wording in the domain.
    responses = set(load_domain(load_settings().domain_path)["responses"])
    assert survey_paths.check_wording(paths, responses, SHIPPED) == []


def test_an_own_question_is_read_with_its_kind(tmp_path):
    text = GOOD.replace("promoter: [reason, valued_most]", "promoter: [reason, whom, valued_most]")
    text = text.replace("questions: []", "questions:\n  - id: whom\n    answer: text\n")
    paths = survey_paths.parse(_write(tmp_path, text))
    assert paths.path("promoter") == ("reason", "whom", "valued_most")
    assert paths.questions["whom"] == survey_paths.Question("whom", "text", None)
    assert survey_paths.check_wording(paths, {"utter_ask_other"}, "f.yml") == [
        "f.yml: question 'whom' has no response utter_ask_whom in the domain"
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("promoter: [reason, valued_most]", "promoter: [reason, valud_most]"),
            ":3: paths: 'promoter': unknown question 'valud_most' (declare it under questions:)",
        ),
        (
            ("promoter: [reason, valued_most]", "promoter: [reason, proposed_fix]"),
            "unknown question 'proposed_fix' ('proposed_fix' belongs to the employee paths)",
        ),
        (
            ("passive: [reason, whys, improvement]", "passive: [whys, reason, improvement]"),
            "paths: 'passive': 'whys' probe 'reason', which must come before them",
        ),
        (
            ("employee: [predicted_score, ", "employee: ["),
            "paths: 'employee' must start with 'predicted_score'",
        ),
        (
            ("no_score: [reason, whys]", "no_score: [reason, whys, reason]"),
            "paths: 'no_score' asks ['reason'] twice",
        ),
        (("why_limit: 3", "why_limit: lots"), ":1: why_limit must be a whole number"),
        (("why_limit: 3", "why_limit: 11"), "why_limit must be 0-10"),
        (("  no_score: [reason, whys]\n", ""), "paths: ['no_score'] missing"),
        (
            ("questions: []", "questions:\n  - id: reason\n"),
            ":9: question id 'reason' is a built-in name",
        ),
        (("questions: []", "questions:\n  - id: Whom!\n"), "question id 'Whom!'"),
        (
            ("questions: []", "questions:\n  - id: whom\n    answer: essay\n"),
            "question 'whom': answer must be one of text, yes_no, score",
        ),
        (
            ("questions: []", "questions:\n  - id: whom\n"),
            "question(s) ['whom'] declared but on no",
        ),
        (("why_limit: 3\n", "why_limit: 3\n  bad: [\n"), "YAML syntax error"),
    ],
)
def test_a_typo_names_the_file_and_line(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TrainerFileError) as error:
        survey_paths.parse(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_load_file_sees_an_edit(tmp_path):
    path = _write(tmp_path, GOOD)
    assert survey_paths.load_file(path).why_limit == 3
    path.write_text(GOOD.replace("why_limit: 3", "why_limit: 4"), encoding="utf-8")
    os.utime(path, ns=(1, 10**18))  # a new mtime even within the clock's resolution
    assert survey_paths.load_file(path).why_limit == 4

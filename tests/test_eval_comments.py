"""The honest evaluation file data/eval/comments.yml stays sound and keeps its coverage.

`make eval` scores the drivers on it, and its figures are only worth something if every
label names a real driver with a real polarity, if no comment is counted twice, and if the
file still covers what issue 10 asks for: every driver in both polarities, comments that
name several drivers, typos and missing diacritics, review-style comments, negation. A
trainer who edits the file (or renames a driver) learns here when that breaks.

The file is read where the settings put the trainers' data (NPS_DATA_DIR), like the other
trainer files, and the driver ids come from the catalogue beside it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from nps import drivers
from nps.settings import load_settings

DATA = load_settings().data_dir
EVAL_FILE = DATA / "eval" / "comments.yml"
CONTEXTS = {"promoter", "passive", "detractor"}
TAGS = {"multi", "typos", "no_diacritics", "review", "negation", "short"}
KEYS = {"text", "drivers", "context", "tags"}

# Issue 10 part 3 and its brief: the minimums a trainer's edit must not fall below.
MIN_PER_DRIVER_POLARITY = 12
MIN_MULTI = 90
MIN_TYPOS_OR_NO_DIACRITICS = 50
MIN_REVIEW = 60
MIN_NEGATION = 30
MIN_NO_DRIVER = 10
MIN_TOTAL = 300
MIN_PER_CONTEXT = 50
SHORT_WORDS = 4

_DIACRITICS = set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
_NEGATION = re.compile(
    r"\b(nie|nikt\w*|nikomu|nic|niczego|nigdy|nigdzie|bez|ani|[żz]adn\w*)\b", re.IGNORECASE
)
_TWO_SENTENCES = re.compile(r"[.!?]\s+\S")


def _load(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("comments"), list), path
    return data["comments"]


COMMENTS = _load(EVAL_FILE)
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")


def _ids(comment: dict) -> set[str]:
    return {drivers.split_tag(value)[0] for value in comment["drivers"]}


def _tagged(tag: str) -> list[dict]:
    return [c for c in COMMENTS if tag in c["tags"]]


def _normal(text: str) -> str:
    # Case, punctuation and spacing do not make two comments different.
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def test_every_comment_has_the_four_fields_with_the_right_types():
    wrong = [
        c
        for c in COMMENTS
        if not isinstance(c, dict)
        or set(c) != KEYS
        or not isinstance(c["text"], str)
        or not c["text"].strip()
        or not isinstance(c["drivers"], list)
        or not isinstance(c["tags"], list)
    ]
    assert wrong == []


def test_labels_name_catalogue_drivers_with_a_valid_polarity_once_each():
    problems = []
    for c in COMMENTS:
        for value in c["drivers"]:
            driver_id, polarity = drivers.split_tag(str(value))
            if driver_id not in CATALOGUE or polarity not in drivers.POLARITIES:
                problems.append((c["text"], value))
        if len(set(c["drivers"])) != len(c["drivers"]):
            problems.append((c["text"], "listed twice"))
    assert problems == []


def test_contexts_and_tags_are_known_values():
    assert [c["text"] for c in COMMENTS if c["context"] not in CONTEXTS] == []
    assert [(c["text"], c["tags"]) for c in COMMENTS if not set(c["tags"]) <= TAGS] == []


def test_no_comment_appears_twice():
    counts = Counter(_normal(c["text"]) for c in COMMENTS)
    assert [text for text, n in counts.items() if n > 1] == []


def test_the_multi_tag_marks_exactly_the_comments_with_two_or_more_drivers():
    # The multi-driver goal (>= 0.80) is scored on these, so the tag must agree with the labels.
    mismatched = [c["text"] for c in COMMENTS if ("multi" in c["tags"]) != (len(_ids(c)) >= 2)]
    assert mismatched == []


@pytest.mark.parametrize(
    ("tag", "holds"),
    [
        ("no_diacritics", lambda text: not set(text) & _DIACRITICS),
        ("short", lambda text: len(text.split()) <= SHORT_WORDS),
        ("review", lambda text: bool(_TWO_SENTENCES.search(text))),
        ("negation", lambda text: bool(_NEGATION.search(text))),
    ],
)
def test_a_tag_is_true_of_its_text(tag, holds):
    assert [c["text"] for c in _tagged(tag) if not holds(c["text"])] == []


def test_every_driver_has_both_polarities_often_enough():
    counts = Counter(value for c in COMMENTS for value in c["drivers"])
    thin = {
        drivers.tag(driver_id, polarity): counts[drivers.tag(driver_id, polarity)]
        for driver_id in CATALOGUE
        for polarity in drivers.POLARITIES
        if counts[drivers.tag(driver_id, polarity)] < MIN_PER_DRIVER_POLARITY
    }
    assert thin == {}


def test_the_file_keeps_its_coverage_minimums():
    figures = {
        "total": len(COMMENTS),
        "multi": len(_tagged("multi")),
        "typos or no_diacritics": sum(
            1 for c in COMMENTS if {"typos", "no_diacritics"} & set(c["tags"])
        ),
        "review": len(_tagged("review")),
        "negation": len(_tagged("negation")),
        "no driver": sum(1 for c in COMMENTS if not c["drivers"]),
    }
    minimums = {
        "total": MIN_TOTAL,
        "multi": MIN_MULTI,
        "typos or no_diacritics": MIN_TYPOS_OR_NO_DIACRITICS,
        "review": MIN_REVIEW,
        "negation": MIN_NEGATION,
        "no driver": MIN_NO_DRIVER,
    }
    assert {k: v for k, v in figures.items() if v < minimums[k]} == {}


def test_every_group_writes_enough_comments():
    counts = Counter(c["context"] for c in COMMENTS)
    assert {g: counts[g] for g in CONTEXTS if counts[g] < MIN_PER_CONTEXT} == {}

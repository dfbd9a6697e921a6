"""Driver tags from entities, and recognising known issues.

The trainers' examples of known issues are in data/eval/known_issue_examples.yml
(under NPS_DATA_DIR), so trainers add cases without touching Python.
"""

from __future__ import annotations

import pytest

from nps import drivers, known_issues, trainer_yaml
from nps.groups import nps_group
from nps.settings import load_settings
from tests.test_score import operations

DATA = load_settings().data_dir
CATALOGUE = drivers.load_catalogue(DATA / "drivers.yml")
ISSUES = known_issues.load(DATA / "known_issues.yml", CATALOGUE)
EXAMPLES = DATA / "eval" / "known_issue_examples.yml"
# What an example writes as `issue:` when the comment must match no known issue.
NO_ISSUE = "none"


@pytest.mark.parametrize(
    "score, group",
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
        (None, None),
    ],
)
def test_nps_group(score, group):
    assert nps_group(score) == group


def test_nps_group_rejects_out_of_range():
    with pytest.raises(ValueError):
        nps_group(11)


def test_entities_become_tags_in_order_without_repeats():
    entities = [
        {"entity": "staff", "role": "pos"},
        {"entity": "price", "role": "neg"},
        {"entity": "staff", "role": "pos"},
        {"entity": "touchpoint", "value": "store"},  # not a driver
        {"entity": "unknown_driver", "role": "neg"},  # not in the catalogue
        {"entity": "delivery"},  # no role: the question decides
    ]
    assert drivers.drivers_from_entities(entities, CATALOGUE, "neg") == [
        "staff:pos",
        "price:neg",
        "delivery:neg",
    ]


def test_merge_and_main_negative():
    merged = drivers.merge(["staff:pos"], ["price:neg", "staff:pos", "delivery:neg"])
    assert merged == ["staff:pos", "price:neg", "delivery:neg"]
    assert drivers.main_negative(merged) == "price"
    assert drivers.main_negative(["staff:pos"]) is None
    assert drivers.main_negative(None) is None


def _examples() -> list:
    entries = trainer_yaml.require_list(EXAMPLES, trainer_yaml.load(EXAMPLES), "examples")
    return [
        pytest.param(entry, id=f"line {trainer_yaml.line_of(entry)}")
        for entry in entries
        if isinstance(entry, dict)
    ]


@pytest.mark.parametrize("entry", _examples())
def test_known_issue_example(entry):
    where = f"{EXAMPLES}:{trainer_yaml.line_of(entry)}"
    text = trainer_yaml.require_text(EXAMPLES, entry, "text", "example")
    expected = trainer_yaml.require_text(EXAMPLES, entry, "issue", f"example {text!r}")
    tags = entry.get("drivers") or []
    ids = {issue.id for issue in ISSUES}
    assert expected == NO_ISSUE or expected in ids, (
        f"{where}: {expected!r} is not an id in {DATA / 'known_issues.yml'} (nor {NO_ISSUE!r})"
    )
    for value in tags:
        driver_id, polarity = drivers.split_tag(str(value))
        assert driver_id in CATALOGUE and polarity in drivers.POLARITIES, (
            f"{where}: {value!r} is not driver:pos or driver:neg of a driver in drivers.yml"
        )
    found = known_issues.match(text, tags, ISSUES)
    actual = found.id if found else NO_ISSUE
    assert actual == expected, f"{where}: {text!r} should match {expected}, matched {actual}"


def test_an_empty_comment_matches_no_known_issue():
    assert known_issues.match("", [], ISSUES) is None
    assert known_issues.match(" ?! ", [], ISSUES) is None


@pytest.mark.parametrize(
    "word, stem",
    [
        ("paczka", "pacz"),
        ("zwrot", "zwro"),
        ("hasla", "hasl"),  # five letters lose one
        ("przesylki", "przesyl"),  # six or more lose two
        ("gdzie", "gdzi"),
        ("jak", "jak"),
        ("zalog*", "zalog"),
    ],
)
def test_stems(word, stem):
    assert known_issues.stem(word) == stem


@pytest.mark.parametrize("pattern", ["kurier zgubił paczkę ", "(", "a b c d e f "])
def test_known_issue_matching_is_linear(pattern):
    def run(text):
        return known_issues.match(text, [], ISSUES)

    small = operations(run, pattern * 50)
    large = operations(run, pattern * 500)
    assert large <= 13 * small, (small, large)

"""Driver tags from entities, and recognising known issues."""

from __future__ import annotations

import pytest

from nps import drivers, known_issues
from nps.groups import nps_group
from nps.settings import REPO_ROOT

CATALOGUE = drivers.load_catalogue(REPO_ROOT / "data" / "drivers.yml")
ISSUES = known_issues.load(REPO_ROOT / "data" / "known_issues.yml", CATALOGUE)


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


@pytest.mark.parametrize(
    "text, tags, issue",
    [
        ("Nie wiem gdzie jest moja paczka", ["delivery:neg"], "parcel_tracking"),
        ("gdzie jest przesylka?? czekam tydzien", [], "parcel_tracking"),
        ("jak zwrócić buty, które nie pasują", ["returns_complaints:neg"], "how_to_return"),
        ("reklamacja od miesiąca bez odpowiedzi", [], "complaint_status"),
        ("nie naliczyły mi się punkty za zakupy", [], "loyalty_points_missing"),
        ("nie mogę się zalogować do aplikacji", [], "password_reset"),
        ("o której otwieracie w sobotę?", [], "store_opening_hours"),
        # praise of the same driver is not a complaint
        ("śledzenie przesyłki działa świetnie", ["delivery:pos"], None),
        ("ceny za wysokie", ["price:neg"], None),
        ("", [], None),
    ],
)
def test_known_issue_matching(text, tags, issue):
    found = known_issues.match(text, tags, ISSUES)
    assert (found.id if found else None) == issue


@pytest.mark.parametrize(
    "word, stem",
    [
        ("paczka", "pacz"),
        ("zwrot", "zwro"),
        ("hasla", "hasla"[:-1]),
        ("gdzie", "gdzi"),
        ("jak", "jak"),
        ("zalog*", "zalog"),
    ],
)
def test_stems(word, stem):
    assert known_issues.stem(word) == stem

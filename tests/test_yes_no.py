"""parse_yes_no: what a person reading the answer would decide."""

from __future__ import annotations

import pytest

from nps.yes_no import parse_yes_no

CASES = [
    # --- yes -----------------------------------------------------------------
    ("tak", True),
    ("Tak.", True),
    ("TAK!", True),
    ("taaak", True),
    ("jasne", True),
    ("pewnie", True),
    ("oczywiście", True),
    ("oczywiscie", True),
    ("ok", True),
    ("okej", True),
    ("chętnie", True),
    ("chetnie", True),
    ("pomogło", True),
    ("pomoglo, dzięki", True),
    ("zgoda", True),
    ("może być", True),
    ("moze byc", True),
    ("👍", True),
    ("tak, dziękuję", True),
    ("pewnie, że tak", True),
    ("raczej tak", True),
    ("czemu nie", True),  # contains "nie", means yes
    ("nie ma sprawy", True),
    ("na pewno", True),
    ("proszę o kontakt", True),
    # --- no ------------------------------------------------------------------
    ("nie", False),
    ("Nie.", False),
    ("niee", False),
    ("raczej nie", False),
    ("nie pomogło", False),
    ("nie pomoglo", False),
    ("nic nie pomogło", False),
    ("nie trzeba", False),
    ("nie chcę", False),
    ("nie chce", False),
    ("nie dzwońcie", False),
    ("nie dzwoncie", False),
    ("👎", False),
    ("nie, dziękuję", False),
    ("jasne, że nie", False),  # a yes-word as an intensifier of no
    ("oczywiście że nie", False),
    ("niestety nie", False),
    ("nie bardzo", False),
    ("nie chcę, żeby ktoś dzwonił", False),
    ("nie wiem, raczej nie", False),  # a decisive word wins over a doubt
    # --- unclear or mixed ----------------------------------------------------
    ("nie wiem", None),
    ("nie wiem czy pomogło", None),
    ("może", None),
    ("to zależy", None),
    ("tak i nie", None),
    ("tak, ale nie do końca", None),
    ("tak 👎", None),
    ("dziękuję", None),
    ("", None),
    ("kiedy dostanę zwrot?", None),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_enough_cases():
    assert len(CASES) >= 25


def test_none_input():
    assert parse_yes_no(None) is None  # type: ignore[arg-type]

"""parse_yes_no: what a person reading the answer would decide."""

from __future__ import annotations

import pytest

from nps import yes_no
from nps.text import fold, squeeze
from nps.yes_no import parse_yes_no
from tests.test_score import operations

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
    # --- folded like every parser (nps.text.fold_char) -----------------------
    ("ta\u200bk", True),  # a zero-width space pasted from a web page
    ("nie – pomogło", None),  # a typographic dash ends a clause like "-" does
]


@pytest.mark.parametrize("text,expected", CASES)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


@pytest.mark.parametrize(
    "table",
    [yes_no._PHRASES, yes_no._YES_WORDS, yes_no._NO_WORDS, yes_no._INTENSIFIERS],
    ids=["phrases", "yes words", "no words", "intensifiers"],
)
def test_tables_are_written_folded_and_squeezed(table):
    # Answers are folded and squeezed before lookup: an entry written with
    # diacritics or a doubled letter ("proszę", "wcalee") would never match.
    unreachable = [e for e in table if " ".join(squeeze(w) for w in fold(e).split()) != e]
    assert unreachable == []


def test_none_input():
    assert parse_yes_no(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern", ["nie wiem, ", "(", "tak ", "jasne że nie ", "👍 czemu by nie ", "9 "]
)
def test_parse_yes_no_is_linear(pattern):
    small = operations(parse_yes_no, pattern * 50)
    large = operations(parse_yes_no, pattern * 500)
    assert large <= 13 * small, (small, large)  # 10x input; quadratic gives ~100x


@pytest.mark.parametrize(
    "text",
    ["8\ufe0f\u20e3" * 400, "\u202etak\u202c", "\x00\x1b[31m", "<b>tak</b>", "=1+1", "(" * 80_000],
)
def test_hostile_yes_no_answers_do_not_crash(text):
    assert parse_yes_no(text) in (True, False, None)

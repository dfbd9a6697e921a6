"""The trainers' lexicon: loading with errors that name file and line, and matching by lemmas.

The matching tests use a small lexicon written here (the tests own its
words); the trainers' own data/drivers.yml is only checked to load and to
be consistent, never for its wording.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nps import lexicon
from nps.settings import load_settings
from nps.trainer_yaml import TrainerFileError
from tests.conftest import FIXTURE_DATA

LEXICON = """\
polarity:
  pos: [dobry, polecać, szybki]
  neg: [problem, fatalny, niemiły]
drivers:
  - id: delivery
    label: d
    lexicon:
      words: [paczka, kurier]
      pos: [szybka dostawa]
      neg: [zgubić paczkę, paczka nie dotarła, spóźnić się]
  - id: product_quality
    label: q
    lexicon:
      words: [bateria]
      neg: [zepsuć się]
  - id: staff
    label: s
    lexicon:
      words: [obsługa]
  - id: customer_support
    label: c
    lexicon:
      words: [obsługa klienta]
  - id: price
    label: p
    lexicon:
      words: [cena]
      pos: [taniej, tanio, niska cena]
  - id: promotions
    label: r
    lexicon:
      words: [gazetka, kod]
"""


def write(tmp_path: Path, text: str, name: str = "drivers.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def lex(tmp_path: Path) -> lexicon.Lexicon:
    return lexicon.load(write(tmp_path, LEXICON))


def found(lex: lexicon.Lexicon, text: str) -> list[tuple]:
    return [(h.driver, h.polarity, text[h.start : h.end]) for h in lex.find(text)]


# --- matching ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["kurier zgubił paczkę", "zgubili mi paczki", "Kurier ZGUBIL paczke!"],
)
def test_a_phrase_finds_its_inflected_forms_with_and_without_diacritics(lex, text):
    assert ("delivery", "neg") in [(d, p) for d, p, _ in found(lex, text)]


def test_the_words_of_a_phrase_come_with_at_most_two_words_between(lex):
    assert ("delivery", "neg") in [h[:2] for h in found(lex, "zgubili chyba znowu paczkę")]
    assert ("delivery", "neg") not in [h[:2] for h in found(lex, "zgubili chyba znowu tę paczkę")]


def test_a_two_word_phrase_matches_in_either_order_a_longer_one_in_its_own(lex):
    assert ("delivery", "neg") in [h[:2] for h in found(lex, "paczkę zgubili")]
    assert ("delivery", "pos") in [h[:2] for h in found(lex, "dostawa była szybka")]
    negated = [h for h in lex.find("nie dotarła paczka") if h.driver]
    assert [(h.driver, h.polarity) for h in negated] == [("delivery", None)]


@pytest.mark.parametrize("text", ["zgubili. Paczkę mam", "zgubili, paczkę", "zgubili ale paczkę"])
def test_a_phrase_does_not_reach_across_a_clause(lex, text):
    assert ("delivery", "neg") not in [h[:2] for h in found(lex, text)]


@pytest.mark.parametrize("text", ["bateria się zepsuła", "bateria zepsuła się po tygodniu"])
def test_sie_may_stand_before_or_after_the_verb(lex, text):
    assert ("product_quality", "neg") in [h[:2] for h in found(lex, text)]


def test_a_negated_phrase_turns_around(lex):
    assert found(lex, "nie polecam") == [(None, "neg", "polecam")]
    hits = lex.find("nie było problemu")
    assert [(h.polarity, h.negated) for h in hits] == [("pos", True)]
    assert ("product_quality", "pos") in [h[:2] for h in found(lex, "nic się nie zepsuło")]


def test_bez_negates_the_noun_after_it_not_the_rest(lex):
    assert [h.polarity for h in lex.find("bez problemu")] == ["pos"]
    # "bez kuriera" negates the courier, not the complaint after it.
    assert [h.polarity for h in lex.find("bez kuriera fatalny") if h.driver is None] == ["neg"]


@pytest.mark.parametrize("text", ["zgubili paczkę", "zgubili i paczkę"])
def test_a_phrase_does_not_reach_across_a_list(lex, text):
    hits = [h[:2] for h in found(lex, text)]
    assert (("delivery", "neg") in hits) == (" i " not in text)


def test_a_phrase_that_holds_its_own_negation_is_taken_as_written(lex):
    hits = [h for h in lex.find("paczka nie dotarła") if h.polarity]
    assert [(h.driver, h.polarity, h.negated) for h in hits] == [("delivery", "neg", False)]


def test_the_longer_hit_wins_where_hits_overlap(lex):
    assert found(lex, "obsługa klienta") == [("customer_support", None, "obsługa klienta")]
    # The driver's phrase, not also its general word "szybki" inside it.
    assert found(lex, "szybka dostawa") == [("delivery", "pos", "szybka dostawa")]


def test_a_general_word_never_hides_a_drivers_word(lex):
    assert found(lex, "kurier niemiły") == [
        ("delivery", None, "kurier"),
        (None, "neg", "niemiły"),
    ]


def test_hits_carry_offsets_into_the_text_in_text_order(lex):
    text = "Paczka przyszła, ale obsługa fatalna."
    hits = lex.find(text)
    assert [text[h.start : h.end] for h in hits] == ["Paczka", "obsługa", "fatalna"]
    assert [h.first_word for h in hits] == [0, 3, 4]


def test_no_hits_in_an_empty_or_unrelated_text(lex):
    assert lex.find("") == []
    assert lex.find("🙂 123") == []


# --- loading and checking ------------------------------------------------------------


def test_the_lexicon_is_built_once_per_version_of_the_file(tmp_path):
    path = write(tmp_path, LEXICON)
    first = lexicon.load(path)
    assert lexicon.load(path) is first
    write(tmp_path, LEXICON.replace("[bateria]", "[bateria, ekran]"))
    assert lexicon.load(path) is not first


@pytest.mark.parametrize(
    "original, changed, line, says",
    [
        # One phrase under two drivers with the same polarity, in other forms.
        ("words: [bateria]", "words: [bateria, paczki]", 14, "under driver 'delivery' too"),
        ("neg: [zepsuć się]", "neg: [zepsuć się, zgubili paczki]", 15, "driver 'delivery' too"),
        # One phrase under both pos and neg of one driver, or of `polarity:`.
        ("neg: [zgubić", "neg: [szybkiej dostawy, zgubić", 10, "under both pos and neg"),
        ("neg: [problem,", "neg: [dobre, problem,", 3, "under both pos and neg"),
        ("words: [bateria]", "word: [bateria]", 14, "unknown key 'word'"),
        ("words: [bateria]", "words: [bateria, '  ']", 14, "empty entry"),
        ("words: [bateria]", "words: bateria", 14, "'words' must be a list"),
    ],
)
def test_a_mistake_names_file_and_line(tmp_path, original, changed, line, says):
    path = write(tmp_path, LEXICON.replace(original, changed, 1))
    with pytest.raises(TrainerFileError) as error:
        lexicon.load(path)
    assert (error.value.path, error.value.line) == (str(path), line)
    assert says in str(error.value)


def test_allowed_repeats_same_phrase_twice_in_a_list_or_with_opposite_polarity(tmp_path):
    text = LEXICON.replace("words: [bateria]", "words: [bateria, bateria]").replace(
        "neg: [zepsuć się]", "neg: [zepsuć się, szybka dostawa]"
    )
    lex = lexicon.load(write(tmp_path, text))
    assert {(h.driver, h.polarity) for h in lex.find("szybka dostawa")} == {
        ("delivery", "pos"),
        ("product_quality", "neg"),
    }
    assert len([e for e in lex.entries if e.phrase.startswith("bateri")]) == 1


def test_a_negated_verb_of_telling_about_a_complaint_does_not_deny_it(lex):
    assert found(lex, "nikt nie informował o problemie") == [(None, "neg", "problemie")]
    assert found(lex, "nie było problemu") == [(None, "pos", "problemu")]


def test_praise_after_a_word_of_doubt_says_no_polarity(lex):
    assert found(lex, "niby szybka dostawa") == [("delivery", None, "szybka dostawa")]
    assert found(lex, "niby dobry, ale fatalny") == [(None, "neg", "fatalny")]
    # Not across a clause end, and not further than two words.
    assert found(lex, "niby tak, dobry") == [(None, "pos", "dobry")]
    assert found(lex, "niby to w sumie dobry") == [(None, "pos", "dobry")]


def test_two_forms_of_one_lemma_are_both_kept_each_matches_as_written(tmp_path):
    # The lemma tables do not know "lamia" (no diacritics): the form written
    # as customers type it still finds it, and a text gives one hit, not two.
    text = LEXICON.replace("neg: [zepsuć się]", "neg: [zepsuć się, łamać się, łamią się]")
    lex = lexicon.load(write(tmp_path, text))
    assert found(lex, "kredki sie nie lamia sie") == [("product_quality", "pos", "lamia")]
    assert found(lex, "kredki łamią się") == [("product_quality", "neg", "łamią")]


def test_a_catalogue_without_lexicon_loads_empty(tmp_path):
    lex = lexicon.load(write(tmp_path, "drivers:\n  - id: price\n    label: p\n"))
    assert lex.entries == () and lex.find("drogo") == []
    assert lexicon.load(FIXTURE_DATA / "drivers.yml").drivers <= {
        "price",
        "delivery",
        "staff",
        "returns_complaints",
    }


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TrainerFileError, match="file not found"):
        lexicon.load(tmp_path / "nope.yml")


def test_every_entry_of_the_trainers_lexicon_finds_itself():
    # A phrase the matcher cannot find in its own words would be dead weight:
    # the trainers' file loads, and each entry is found (with its driver and
    # polarity) in the text the trainer wrote.
    lex = lexicon.load(load_settings().data_dir / "drivers.yml")
    assert lex.entries
    missed = [
        (e.driver, e.polarity, e.phrase)
        for e in lex.entries
        if (e.driver, e.polarity) not in {(h.driver, h.polarity) for h in lex.find(e.phrase)}
    ]
    assert missed == []

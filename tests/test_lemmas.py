"""nps.lemmas: Polish lemmas (with and without diacritics) and negation scope."""

from __future__ import annotations

import pytest

from nps import lemmas
from nps.lemmas import analyse, lemma


@pytest.mark.parametrize(
    ("forms", "expected"),
    [
        (["paczka", "paczki", "paczkę", "paczce", "paczke", "paczką", "PACZKĘ"], "paczka"),
        (["dostarczyli", "dostarczono", "dostarczył", "dostarczyl"], "dostarczyc"),
        (["dostawa", "dostawy", "dostawą", "dostawa"], "dostawa"),
        (["miła", "mila", "miły", "miłe", "mile"], "mily"),
        (["obsługa", "obsługi", "obslugi", "obsługą"], "obsluga"),
        (["kurier", "kuriera", "kurierzy", "kurierem"], "kurier"),
        (["cena", "ceny", "cen", "cenami"], "cena"),
        (["było", "była", "byla", "jest", "są"], "byc"),
        (["polecam", "polecała", "polecam"], "polecac"),
    ],
)
def test_inflected_forms_share_a_folded_lemma(forms, expected):
    assert {lemma(f) for f in forms} == {expected}


def test_common_words_keep_their_own_reading():
    # Readings a frequency-blind table would pick: "mama", "alo", "taka".
    assert lemma("mam") == "miec"
    assert lemma("ale") == "ale"
    assert lemma("tak") == "tak"
    assert lemma("działa") == "dzialac"


def test_lexical_negation_is_a_lemma_of_its_own():
    assert lemma("niemiła") == lemma("niemiły") == lemma("niemila") == "niemily"
    assert lemma("nieuprzejma") == "nieuprzejmy"
    assert lemma("niemiła") != lemma("miła")


def test_unknown_words_come_back_folded_and_squeezed():
    assert lemma("Xyzzqłę") == "xyzzqle"  # squeezed only when that makes a known word
    assert lemma("suuuper") == "super"
    assert lemma("") == ""


def _negated(text: str) -> list[str]:
    return [w.folded for w in analyse(text) if w.negated]


def test_words_keep_offsets_into_the_text():
    text = "Kurier  spóźnił się, paczkę dostałem!"
    words = analyse(text)
    assert [w.text for w in words] == ["Kurier", "spóźnił", "się", "paczkę", "dostałem"]
    assert all(text[w.start : w.end] == w.text for w in words)
    assert words[3].lemma == "paczka"
    assert words[3].folded == "paczke"


def test_scope_covers_the_words_after_nie():
    assert _negated("nie było problemu z dostawą") == ["bylo", "problemu", "z", "dostawa"]
    assert _negated("Nie polecam obsługi") == ["polecam", "obslugi"]


def test_scope_ends_at_a_contrast_word():
    assert _negated("obsługa miła, ale nie polecam cen") == ["polecam", "cen"]
    assert _negated("nie polecam ale obsługa miła") == ["polecam"]


def test_scope_ends_at_punctuation():
    assert _negated("nie polecam. Obsługa miła") == ["polecam"]
    assert _negated("nie dostałem paczki, kurier miły") == ["dostalem", "paczki"]


def test_scope_ends_after_a_few_words():
    negated = _negated("nie było problemu z dostawą kurier był bardzo miły")
    assert negated == ["bylo", "problemu", "z", "dostawa"]
    assert len(negated) == lemmas.SCOPE_WORDS


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("brak kontaktu z infolinią", ["kontaktu", "z", "infolinia"]),
        ("bez problemu", ["problemu"]),
        ("żadnych problemów z zamówieniem", ["problemow", "z", "zamowieniem"]),
        ("ani kuriera ani paczki", ["kuriera", "paczki"]),
    ],
)
def test_other_negators_open_a_scope(text, negated):
    assert _negated(text) == negated


def test_lexical_negation_opens_no_scope():
    assert _negated("niemiła obsługa") == []
    assert [w.lemma for w in analyse("niemiła obsługa")] == ["niemily", "obsluga"]


def test_the_negator_itself_is_not_negated():
    words = analyse("nie polecam")
    assert (words[0].folded, words[0].negated) == ("nie", False)


def test_typed_diacritics_pick_the_words_own_lemma():
    # Folded, "lubie" is also the rare noun "łubie"; typed with "ę" it is the verb.
    assert lemma("lubię") == "lubic"
    assert lemma("wygląda") == "wygladac"


def test_neuter_past_tense_is_the_verb():
    assert {lemma(w) for w in ("przestało", "przestalo", "przestał")} == {"przestac"}
    assert lemma("rozpadło") == lemma("rozpadł") == "rozpasc"


def test_the_compact_index_round_trips():
    index = lemmas._Index.from_dict({"paczke": "paczka", "paczka": "paczka", "ąb": "x"})
    loaded, end = lemmas._Index.from_bytes(b"xx" + index.to_bytes(), 2)
    assert end == 2 + len(index.to_bytes())
    assert [loaded.get(w) for w in ("paczke", "paczka", "ąb", "paczk", "")] == [
        "paczka",
        "paczka",
        "x",
        None,
        None,
    ]

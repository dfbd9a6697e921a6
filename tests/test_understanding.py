"""find_drivers: the model's entities and the trainers' lexicon, one polarity per phrase.

The entities are hand-made as DIET gives them (type = driver, role =
polarity, character offsets, confidences), including its faults: a phrase
split in two with opposite roles, a sure but wrong role, an unsure driver.
The lexicon is written here (the tests own its words).
"""

from __future__ import annotations

import pytest

from nps import drivers, lexicon
from nps import understanding as un
from nps.settings import load_settings
from tests.test_lexicon import LEXICON


@pytest.fixture
def u(tmp_path) -> un.Understanding:
    path = tmp_path / "drivers.yml"
    path.write_text(LEXICON, encoding="utf-8")
    return un.Understanding(catalogue=drivers.load_catalogue(path), lexicon=lexicon.load(path))


def entity(text: str, part: str, driver: str, role: str | None = None, ce=0.99, cr=0.99) -> dict:
    """An entity over the first occurrence of `part`, as DIET reports it."""
    start = text.index(part)
    found = {
        "entity": driver,
        "start": start,
        "end": start + len(part),
        "value": part,
        "confidence_entity": ce,
        "extractor": "DIETClassifier",
    }
    if role:
        found.update(role=role, confidence_role=cr)
    return found


def tags(u, text, entities=(), context=None) -> list[str]:
    return un.tags(un.find_drivers(text, list(entities), u, context))


def test_a_phrase_split_in_two_with_opposite_roles_gets_one_polarity_from_its_words(u):
    text = "paczka była szybka"
    split = [
        entity(text, "paczka była", "delivery", "neg", cr=0.55),
        entity(text, "szybka", "delivery", "pos", cr=0.9),
    ]
    findings = un.find_drivers(text, split, u, "neg")
    assert [(f.driver, f.polarity, f.start, f.end) for f in findings] == [
        ("delivery", "pos", 0, len(text))
    ]
    assert findings[0].polarity_from == "words"


def test_a_split_phrase_with_neutral_words_takes_the_surer_role(u):
    text = "przesyłka od nich przyszła"
    split = [
        entity(text, "przesyłka od", "delivery", "neg", cr=0.95),
        entity(text, "nich przyszła", "delivery", "pos", cr=0.7),
    ]
    assert tags(u, text, split, context="pos") == ["delivery:neg"]


def test_clear_words_beat_a_sure_but_wrong_role(u):
    text = "polecam, obsługa dobra"
    wrong = [entity(text, "obsługa dobra", "staff", "neg", cr=0.97)]
    findings = un.find_drivers(text, wrong, u, "neg")
    assert [(f.driver, f.polarity, f.source, f.polarity_from) for f in findings] == [
        ("staff", "pos", "model+lexicon", "words")
    ]


def test_the_drivers_own_phrase_beats_general_words_and_the_model(u):
    text = "szybko zgubili paczkę"
    found = un.find_drivers(text, [entity(text, text, "delivery", "pos")], u, "pos")
    assert [(f.polarity, f.polarity_from) for f in found] == [("neg", "lexicon")]


def test_negation_turns_praise_into_a_complaint_and_back(u):
    text = "nie polecam obsługi"
    assert tags(u, text, [entity(text, "obsługi", "staff", "pos")]) == ["staff:neg"]
    assert tags(u, "nie było problemu z paczką", context="neg") == ["delivery:pos"]


def test_the_lexicon_finds_what_the_model_missed(u):
    text = "bateria zepsuła się po tygodniu"
    findings = un.find_drivers(text, [], u, "pos")
    assert [(f.driver, f.polarity, f.source) for f in findings] == [
        ("product_quality", "neg", "lexicon")
    ]


def test_an_unsure_entity_yields_to_the_lexicon_a_sure_one_keeps_its_span(u):
    text = "bateria się zepsuła"
    unsure = [entity(text, text, "staff", "neg", ce=0.4)]
    assert tags(u, text, unsure) == ["product_quality:neg"]
    sure = [entity(text, text, "staff", "neg", ce=0.95)]
    assert tags(u, text, sure) == ["staff:neg"]


def test_a_neutral_word_overrules_an_unsure_entity_only_when_it_covers_half_of_it(u):
    text = "bateria"
    assert tags(u, text, [entity(text, text, "staff", "pos", ce=0.6)], "neg") == [
        "product_quality:pos"
    ]
    text = "pani przy wejściu szybko sprawdziła baterie w pilocie"
    long = [entity(text, text, "staff", "neg", ce=0.6)]
    assert tags(u, text, long, "neg") == ["staff:pos"]


def test_a_confirmed_entity_is_not_overruled_and_pieces_of_one_go_together(u):
    # "paczka" confirms delivery: the product word beside it does not take over.
    text = "paczka z baterią"
    assert tags(u, text, [entity(text, text, "delivery", "pos", ce=0.5)], "neg") == ["delivery:pos"]
    # DIET tagged both halves of "bateria się zepsuła" as staff: both yield.
    text = "ta bateria się zepsuła"
    pieces = [
        entity(text, "ta bateria", "staff", "pos", ce=0.7),
        entity(text, "się zepsuła", "staff", "neg", ce=0.6),
    ]
    assert tags(u, text, pieces, "neg") == ["product_quality:neg"]


def test_neighbours_with_their_own_opinions_stay_two_phrases(u):
    text = "paczka szybka i kurier niemiły"
    entities = [
        entity(text, "paczka szybka", "delivery", "pos"),
        entity(text, "kurier niemiły", "delivery", "neg"),
    ]
    findings = un.find_drivers(text, entities, u, None)
    assert [(f.polarity, text[f.start : f.end]) for f in findings] == [
        ("pos", "paczka szybka"),
        ("neg", "kurier niemiły"),
    ]


def test_an_unsure_entity_the_lexicon_does_not_contradict_is_kept_a_bare_guess_is_not(u):
    text = "ktoś zgubił coś"
    assert tags(u, text, [entity(text, "zgubił", "staff", "neg", ce=0.95)]) == ["staff:neg"]
    # Not very sure, and no word decides the polarity: only the model says so.
    assert tags(u, text, [entity(text, "zgubił", "staff", "neg", ce=0.5)]) == []
    assert tags(u, text, [entity(text, "zgubił", "staff", "neg", ce=0.5)], "neg") == []
    # Under the doubt threshold: kept only when praise/complaint words back it.
    assert tags(u, text, [entity(text, "zgubił", "staff", "neg", ce=0.3)]) == []
    text = "ktoś fatalny"
    assert tags(u, text, [entity(text, text, "staff", "pos", ce=0.3)]) == ["staff:neg"]


def test_an_entity_of_function_words_only_is_ignored(u):
    text = "nie wiem, po prostu"
    entities = [entity(text, "nie", "staff", "neg"), entity(text, "po", "promotions", "pos")]
    assert tags(u, text, entities, "neg") == []


def test_an_unsure_entity_of_opinion_words_only_names_no_driver(u):
    text = "paczka dotarła, szybko"
    guess = [entity(text, "szybko", "staff", "neg", ce=0.6)]
    assert tags(u, text, guess, "neg") == ["delivery:pos"]
    sure = [entity(text, "szybko", "staff", "neg", ce=0.9)]
    assert tags(u, text, sure, "neg") == ["staff:pos"]


def test_a_saving_in_a_sentence_about_a_promotion_praises_the_promotion(u):
    assert tags(u, "w gazetce był 30% taniej") == ["promotions:pos"]
    text = "z kodem z newslettera bluza wyszła o połowę taniej"
    model = [entity(text, "kodem", "promotions", "neg", ce=0.95)]
    assert tags(u, text, model, "neg") == ["promotions:pos"]
    # The price phrase took the promotion word in: the promotion still gets it.
    text = "w gazetce tanio"
    assert tags(u, text, [entity(text, text, "price", "pos", ce=0.95)]) == ["promotions:pos"]
    # Not across a sentence end; a saving with no promotion is the prices'.
    assert tags(u, "kod dostałem. wszystko taniej") == ["price:pos"]
    assert tags(u, "wszystko taniej") == ["price:pos"]
    # The price itself praised beside a promotion stays the price's praise.
    assert tags(u, "niska cena, był w gazetce") == ["price:pos"]


def test_the_question_decides_only_when_the_words_say_nothing(u):
    text = "kurier"
    assert tags(u, text, [entity(text, text, "delivery")], context="pos") == ["delivery:pos"]
    text = "kurier fatalny"
    assert tags(u, text, [entity(text, text, "delivery")], context="pos") == ["delivery:neg"]
    # Neutral words, no sure role: the question before the unsure role.
    text = "kurier"
    assert tags(u, text, [entity(text, text, "delivery", "neg", cr=0.3)], "pos") == ["delivery:pos"]
    findings = un.find_drivers(text, [entity(text, text, "delivery", "neg", cr=0.3)], u, None)
    assert [(f.polarity, f.polarity_from) for f in findings] == [("neg", "model")]


def test_a_phrase_whose_polarity_nothing_decides_is_dropped(u):
    text = "kurier"
    assert un.find_drivers(text, [entity(text, text, "delivery")], u, None) == []
    assert un.find_drivers(text, [], u, None) == []


def test_one_driver_twice_with_opposite_words_keeps_both_when_separate(u):
    text = "dostawa szybka, ale kurier niemiły"
    entities = [
        entity(text, "dostawa szybka", "delivery", "pos"),
        entity(text, "kurier niemiły", "delivery", "pos", cr=0.8),
    ]
    assert tags(u, text, entities, "neg") == ["delivery:pos", "delivery:neg"]
    assert tags(u, "paczka szybka, ale kurier niemiły", [], "neg") == [
        "delivery:pos",
        "delivery:neg",
    ]


def test_praise_words_qualify_the_nearest_phrase_not_across_a_contrast(u):
    assert tags(u, "paczka szybko, ale obsługa fatalna", context="neg") == [
        "delivery:pos",
        "staff:neg",
    ]


def test_a_bare_mention_beside_an_opinion_is_not_an_opinion(u):
    text = "kurier przyniósł paczkę, ale bateria się zepsuła"
    assert tags(u, text, [], "neg") == ["product_quality:neg"]
    assert tags(u, "kurier przyniósł paczkę", [], "neg") == ["delivery:neg"]


def test_a_lexicon_hit_inside_the_models_phrase_confirms_it(u):
    text = "kurier zgubił paczkę"
    findings = un.find_drivers(text, [entity(text, text, "delivery", "neg")], u, "neg")
    assert [(f.driver, f.source) for f in findings] == [("delivery", "model+lexicon")]
    text = "zamówienie zniknęło"
    findings = un.find_drivers(text, [entity(text, text, "delivery", "neg")], u, "neg")
    assert [(f.driver, f.source, f.polarity_from) for f in findings] == [
        ("delivery", "model", "model")
    ]


def test_other_entities_and_broken_offsets_are_handled(u):
    text = "sklep na rogu, obsługa miła"
    entities = [
        {"entity": "touchpoint", "value": "sklep", "start": 0, "end": 5},
        {"entity": "weather", "role": "neg", "start": 0, "end": 5},
        {"entity": "staff", "role": "pos", "value": "obsługa miła"},  # no offsets
        {"entity": "staff", "role": "pos", "start": 90, "end": 99},  # outside the text
    ]
    findings = un.find_drivers(text, entities, u, None)
    assert [(f.driver, f.polarity, text[f.start : f.end]) for f in findings] == [
        ("staff", "pos", "obsługa miła")
    ]


def test_tags_keep_text_order_and_each_tag_once(u):
    text = "obsługa fatalna, kurier fatalny, obsługa fatalna"
    assert tags(u, text, [], None) == ["staff:neg", "delivery:neg"]
    assert un.tags([]) == []


def test_empty_input():
    u = un.load(load_settings().data_dir)
    assert un.find_drivers("", [], u, "neg") == []
    assert un.find_drivers(None, None, u, None) == []


def test_the_trainers_files_give_an_understanding():
    u = un.load(load_settings().data_dir)
    assert set(u.lexicon.drivers) <= set(u.catalogue)
    assert 0 < u.entity_confidence < 1 and 0 < u.role_confidence < 1

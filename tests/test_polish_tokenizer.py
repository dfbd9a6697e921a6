"""nps_nlu.PolishTokenizer on Rasa messages: WhitespaceTokenizer's tokens,
with Polish lemmas and negation marks."""

from __future__ import annotations

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nps_nlu.polish_tokenizer import PolishTokenizer


def _tokenizer(**config) -> PolishTokenizer:
    return PolishTokenizer({**PolishTokenizer.get_default_config(), **config})


def _tokens(text: str, **config):
    message = Message.build(text=text)
    _tokenizer(**config).process([message])
    return message.get(TOKENS_NAMES[TEXT])


@pytest.mark.parametrize(
    "text",
    [
        "Kurier spóźnił się 2 dni, paczkę dostałem uszkodzoną :(",
        "nie było problemu z dostawą!!! 👍 e-mail: jan@example.com",
        "  obsługa   miła,ale nie polecam cen...  ",
    ],
)
def test_tokens_keep_whitespace_tokenizers_text_and_offsets(text):
    plain = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    expected = plain.tokenize(Message.build(text=text), TEXT)
    tokens = _tokens(text)
    assert [(t.text, t.start, t.end) for t in tokens] == [
        (t.text, t.start, t.end) for t in expected
    ]
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_inflected_forms_share_a_lemma():
    lemmas = {t.lemma for t in _tokens("paczka paczki paczkę paczce paczke")}
    assert lemmas == {"paczka"}
    assert {t.lemma for t in _tokens("dostarczyli dostarczono")} == {"dostarczyc"}


def test_words_in_a_negation_scope_are_marked():
    tokens = _tokens("Obsługa miła, ale nie polecam cen")
    assert [t.lemma for t in tokens] == ["obsluga", "mily", "ale", "nie", "nie_polecac", "nie_cena"]
    tokens = _tokens("nie było problemu z dostawą")
    assert [t.lemma for t in tokens] == ["nie", "nie_byc", "nie_problem", "nie_z", "nie_dostawa"]


def test_the_mark_can_be_turned_off():
    tokens = _tokens("nie polecam", negation_prefix="")
    assert [t.lemma for t in tokens] == ["nie", "polecac"]


def test_a_token_without_words_keeps_its_text():
    tokens = _tokens("👍")
    assert [(t.text, t.lemma) for t in tokens] == [("👍", "👍")]


def test_training_data_gets_lemmas_and_intents_stay_labels():
    example = Message.build(text="Paczkę dostarczono", intent="inform_reason")
    _tokenizer().process_training_data(TrainingData([example]))
    assert [t.lemma for t in example.get(TOKENS_NAMES[TEXT])] == ["paczka", "dostarczyc"]
    assert [t.text for t in example.get(TOKENS_NAMES[INTENT])] == ["inform_reason"]


def test_create_loads_the_lemma_index_and_keeps_the_defaults():
    # Rasa calls create() when it builds the graph; it gets nothing else from us.
    tokenizer = PolishTokenizer.create(PolishTokenizer.get_default_config(), None, None, None)
    assert tokenizer.negation_prefix == "nie_"
    assert PolishTokenizer.get_default_config()["intent_tokenization_flag"] is False

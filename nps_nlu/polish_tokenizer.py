"""A whitespace tokenizer that gives DIET Polish lemmas.

Rasa's CountVectorsFeaturizer counts ``token.lemma`` (``use_lemma: True`` by
default), so setting it here makes "paczka / paczki / paczkę / paczce" one
word feature and "dostarczyli / dostarczono" another. Lemmas come from
nps.lemmas (spacy-lookups-data's tables, folded: "paczke" typed without
diacritics is "paczka" too).

Words inside a negation's scope get a marked lemma, "nie_polecac" for
"nie polecam", so a phrase's polarity is in its features: "nie było problemu z
dostawą" does not look like "problem z dostawą". The marker is the
``negation_prefix`` option ("" turns it off).

Tokens, their text and offsets are exactly WhitespaceTokenizer's: entities
are spans of the text, and only the lemma changes.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nps import lemmas

# Only what people write is lemmatised; intent and action names are labels.
LEMMATISED_ATTRIBUTES = (TEXT, ACTION_TEXT)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class PolishTokenizer(WhitespaceTokenizer):
    """WhitespaceTokenizer's tokens with Polish lemmas and negation marks."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **WhitespaceTokenizer.get_default_config(),
            # Put before the lemma of a word in a negation's scope.
            "negation_prefix": "nie_",
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["pl"]

    @staticmethod
    def not_supported_languages() -> list[str] | None:
        return None

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.negation_prefix = config.get("negation_prefix") or ""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PolishTokenizer:
        # Load the lemma index now, not on the first customer's message.
        lemmas.warm()
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute in LEMMATISED_ATTRIBUTES:
            set_lemmas(tokens, message.get(attribute) or "", self.negation_prefix)
        return tokens


def set_lemmas(tokens: list[Token], text: str, negation_prefix: str) -> None:
    """Each token's lemma from the words nps.lemmas finds inside it.

    A token holding one word takes its lemma; one holding several ("e-mail"
    is one word, "10:30" two) joins theirs with "_"; one holding none (an
    emoji, a lone symbol) keeps its text. A token is negated when any of its
    words is."""
    words = lemmas.analyse(text)
    at = 0
    for token in tokens:
        while at < len(words) and words[at].end <= token.start:
            at += 1
        inside = []
        k = at
        while k < len(words) and words[k].start < token.end:
            inside.append(words[k])
            k += 1
        if not inside:
            continue
        lemma = "_".join(w.lemma for w in inside)
        if negation_prefix and any(w.negated for w in inside):
            lemma = negation_prefix + lemma
        token.lemma = lemma

"""A polarity classifier that re-decides the role DIET gives each driver entity.

DIET finds the driver well but its pos/neg role is often wrong: it learns the
role from the same few hundred spans as the driver, and a negation before the
span ("nie polecam obsługi") weighs little among its features. This component
runs after DIETClassifier and gives every entity with a pos/neg role the label
of a small logistic regression over

- the lemmas of the span's words, marked ``nie_`` inside a negation's scope
  (nps.lemmas.analyse: "nie było problemu z dostawą" is not "problem z dostawą"),
- the same for up to ``window`` words on each side, stopping at a contrast
  word ("szybka dostawa, ale obsługa fatalna": the other clause is another
  opinion),
- character n-grams of the span's words as typed, for typos and words the
  lemma tables lack,
- the entity type, for each driver's prior.

It is trained on the annotated entity spans of the NLU examples (label = their
role) in well under a second, and stored as JSON weights (no pickle in the
model archive; no scikit-learn needed to predict). Entities are never added or
removed; DIET's role and confidence stay in ``role_diet`` and
``confidence_role_diet`` for debugging.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_ROLE,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nps import lemmas
from nps.text import fold

logger = logging.getLogger(__name__)

POLARITIES = ("neg", "pos")
CONFIDENCE_ROLE = "confidence_role"
ROLE_DIET = "role_diet"
CONFIDENCE_ROLE_DIET = "confidence_role_diet"
WEIGHTS_FILE = "polarity.json"
NEGATION_MARK = "nie_"


# --- features ----------------------------------------------------------------------


def _char_ngrams(word: str, low: int, high: int) -> list[str]:
    """Character n-grams of one word padded with spaces, as scikit-learn's char_wb."""
    padded = f" {word} "
    return [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]


def _marked(word: lemmas.Word) -> str:
    return (NEGATION_MARK if word.negated else "") + word.lemma


def span_features(
    words: list[lemmas.Word],
    start: int,
    end: int,
    entity: str | None,
    window: int,
    ngrams: tuple[int, int] = (2, 4),
) -> dict[str, float]:
    """Features of the entity at ``start:end`` of the text ``words`` were analysed from."""
    inside = [i for i, w in enumerate(words) if w.start < end and w.end > start]
    feats: dict[str, float] = {"bias": 1.0}
    if entity:
        feats[f"ent={entity}"] = 1.0
    for i in inside:
        w = words[i]
        feats[f"w={_marked(w)}"] = 1.0
        if w.negated:
            feats["negated"] = 1.0
        if w.lemma in lemmas.NEGATORS or w.folded in lemmas.NEGATORS:
            feats["negator"] = 1.0
        for gram in _char_ngrams(fold(w.text), *ngrams):
            feats[f"c={gram}"] = feats.get(f"c={gram}", 0.0) + 1.0
    if not inside:
        return feats
    first, last = inside[0], inside[-1]
    for side, indices in (
        ("l", range(first - 1, max(first - 1 - window, -1), -1)),
        ("r", range(last + 1, min(last + 1 + window, len(words)))),
    ):
        for i in indices:
            w = words[i]
            # A contrast word starts another claim: on the left it is the
            # boundary (kept as a feature), on the right the window stops.
            if w.folded in lemmas.SCOPE_BREAKERS:
                feats[f"{side}:contrast"] = 1.0
                break
            feats[f"{side}={_marked(w)}"] = 1.0
    return feats


# --- the classifier as weights -----------------------------------------------------


def fit(
    examples: list[dict[str, float]], labels: list[str], random_seed: int, c: float
) -> dict[str, Any] | None:
    """Logistic regression weights, or None when the labels hold fewer than two roles."""
    if len(set(labels)) < 2:
        return None
    from sklearn.feature_extraction import DictVectorizer  # training only
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(examples)
    model = LogisticRegression(C=c, solver="liblinear", random_state=random_seed)
    model.fit(x, labels)
    names = vectorizer.get_feature_names_out()
    coef = model.coef_[0]
    weights = {str(n): float(w) for n, w in zip(names, coef, strict=True) if w != 0.0}
    return {
        "classes": [str(k) for k in model.classes_],
        "intercept": float(model.intercept_[0]),
        "weights": dict(sorted(weights.items())),
    }


def predict(model: dict[str, Any], feats: dict[str, float]) -> tuple[str, float]:
    """(label, its probability) for one entity's features."""
    weights = model["weights"]
    score = model["intercept"] + sum(v * weights.get(k, 0.0) for k, v in feats.items())
    p_second = 1.0 / (1.0 + math.exp(-max(min(score, 50.0), -50.0)))
    first, second = model["classes"]
    return (second, p_second) if p_second >= 0.5 else (first, 1.0 - p_second)


# --- the Rasa component ------------------------------------------------------------


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class PolarityClassifier(GraphComponent):
    """Re-decides the pos/neg role of every driver entity found before it."""

    @classmethod
    def required_components(cls) -> list[type]:
        # It reads the text and the entities, not tokens or features: the
        # words and their negation scope come from nps.lemmas.
        return []

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Words on each side of the span that count as its context.
            "window": 3,
            "random_seed": 2024,
            # Inverse regularisation strength of the logistic regression.
            "C": 1.0,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return ["pl"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: dict[str, Any] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PolarityClassifier:
        lemmas.warm()
        return cls(config, model_storage, resource)

    def _features(self, words: list[lemmas.Word], entity: dict[str, Any]) -> dict[str, float]:
        return span_features(
            words,
            int(entity[ENTITY_ATTRIBUTE_START]),
            int(entity[ENTITY_ATTRIBUTE_END]),
            entity.get(ENTITY_ATTRIBUTE_TYPE),
            int(self._config["window"]),
        )

    def train(self, training_data: TrainingData) -> Resource:
        examples, labels = [], []
        for message in training_data.nlu_examples:
            entities = [
                e for e in message.get(ENTITIES) or [] if e.get(ENTITY_ATTRIBUTE_ROLE) in POLARITIES
            ]
            if not entities:
                continue
            words = lemmas.analyse(message.get(TEXT) or "")
            for entity in entities:
                examples.append(self._features(words, entity))
                labels.append(entity[ENTITY_ATTRIBUTE_ROLE])
        self.model = fit(
            examples, labels, int(self._config["random_seed"]), float(self._config["C"])
        )
        if self.model is None:
            logger.warning(
                "PolarityClassifier: the training data has entities of fewer than two "
                "roles; DIET's roles are kept."
            )
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as path:
            (path / WEIGHTS_FILE).write_text(json.dumps(self.model), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PolarityClassifier:
        lemmas.warm()
        try:
            with model_storage.read_from(resource) as path:
                model = json.loads((path / WEIGHTS_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning("PolarityClassifier: no trained weights; DIET's roles are kept.")
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        for message in messages:
            entities = message.get(ENTITIES) or []
            if not any(e.get(ENTITY_ATTRIBUTE_ROLE) in POLARITIES for e in entities):
                continue
            words = lemmas.analyse(message.get(TEXT) or "")
            for entity in entities:
                if entity.get(ENTITY_ATTRIBUTE_ROLE) not in POLARITIES:
                    continue
                role, confidence = predict(self.model, self._features(words, entity))
                entity[ROLE_DIET] = entity[ENTITY_ATTRIBUTE_ROLE]
                entity[CONFIDENCE_ROLE_DIET] = entity.get(CONFIDENCE_ROLE)
                entity[ENTITY_ATTRIBUTE_ROLE] = role
                entity[CONFIDENCE_ROLE] = confidence
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

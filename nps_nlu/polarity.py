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
- the words of the rest of its clause (up to a contrast word) and of its
  sentence, also ``nie_`` marked,
- character n-grams of the span's words as typed, for typos and words the
  lemma tables lack,
- the entity type, for each driver's prior.

It is trained on the annotated entity spans of the NLU examples and on each
word of them alone (label = their role) in a few seconds, and stored as JSON weights (no pickle in the
model archive; no scikit-learn needed to predict). Entities are never added or
removed; DIET's role and confidence stay in ``role_diet`` and
``confidence_role_diet`` for debugging.
"""

from __future__ import annotations

import json
import logging
import math
import re
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


# Punctuation that ends a sentence: the context features stop there.
_SENTENCE_END = re.compile(r"[.;!?()\[\]\n\u2026\"«»]|\s-\s")


def _context(
    text: str, words: list[lemmas.Word], first: int, last: int, step: int, contrast_ends: bool
):
    """Indices of the words from the span's edge outwards (``step`` -1 or 1) to the
    end of its sentence, or to a contrast word when ``contrast_ends``."""
    i = first - 1 if step < 0 else last + 1
    while 0 <= i < len(words):
        left, right = (words[i], words[i + 1]) if step < 0 else (words[i - 1], words[i])
        if _SENTENCE_END.search(text, left.end, right.start):
            return
        if contrast_ends and words[i].folded in lemmas.SCOPE_BREAKERS:
            return
        yield i
        i += step


def span_features(
    text: str,
    words: list[lemmas.Word],
    start: int,
    end: int,
    entity: str | None,
    window: int,
    ngrams: tuple[int, int] = (2, 4),
) -> dict[str, float]:
    """Features of the entity at ``start:end`` of ``text`` (``words`` = analyse(text)).

    DIET's spans at prediction time are often shorter than the annotated ones
    ("Ekspres do kawy" for a complaint about it): the opinion words are then in
    the rest of the clause or sentence, hence the ``k=`` and ``z=`` features."""
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
    for step in (-1, 1):
        for i in _context(text, words, first, last, step, contrast_ends=True):
            feats[f"k={_marked(words[i])}"] = 1.0
        for i in _context(text, words, first, last, step, contrast_ends=False):
            feats[f"z={_marked(words[i])}"] = 1.0
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


def _blend(
    role: str, confidence: float, diet_role: str, diet_confidence: float | None, diet_weight: float
) -> tuple[str, float]:
    """The classifier's role, or a weighted mean with DIET's when ``diet_weight`` > 0."""
    if diet_weight <= 0.0 or diet_confidence is None:
        return role, confidence
    pos = confidence if role == "pos" else 1.0 - confidence
    diet_pos = diet_confidence if diet_role == "pos" else 1.0 - diet_confidence
    mixed = (1.0 - diet_weight) * pos + diet_weight * diet_pos
    return ("pos", mixed) if mixed >= 0.5 else ("neg", 1.0 - mixed)


def _training_spans(words: list[lemmas.Word], entity: dict[str, Any]) -> list[tuple[int, int]]:
    """The annotated span, and each of its words alone when it has several.

    Trainers annotate whole opinion phrases ("[kurier był bardzo miły]"), but
    DIET often finds only a part of one ("kurier"): the single words teach the
    classifier to read the polarity from the context too. On the development
    comments this raised the role's accuracy more than any other feature."""
    start, end = int(entity[ENTITY_ATTRIBUTE_START]), int(entity[ENTITY_ATTRIBUTE_END])
    inside = [(w.start, w.end) for w in words if w.start < end and w.end > start]
    return [(start, end)] + (inside if len(inside) > 1 else [])


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
            # Share of DIET's probability in the decision (0: the classifier
            # alone decides; 0.3 scored about the same on the development file).
            "diet_weight": 0.0,
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

    def _features(
        self, text: str, words: list[lemmas.Word], start: int, end: int, entity: str | None
    ) -> dict[str, float]:
        return span_features(text, words, start, end, entity, int(self._config["window"]))

    def train(self, training_data: TrainingData) -> Resource:
        examples, labels = [], []
        for message in training_data.nlu_examples:
            entities = [
                e for e in message.get(ENTITIES) or [] if e.get(ENTITY_ATTRIBUTE_ROLE) in POLARITIES
            ]
            if not entities:
                continue
            text = message.get(TEXT) or ""
            words = lemmas.analyse(text)
            for entity in entities:
                for start, end in _training_spans(words, entity):
                    examples.append(
                        self._features(text, words, start, end, entity.get(ENTITY_ATTRIBUTE_TYPE))
                    )
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
            text = message.get(TEXT) or ""
            words = lemmas.analyse(text)
            for entity in entities:
                if entity.get(ENTITY_ATTRIBUTE_ROLE) not in POLARITIES:
                    continue
                feats = self._features(
                    text,
                    words,
                    int(entity[ENTITY_ATTRIBUTE_START]),
                    int(entity[ENTITY_ATTRIBUTE_END]),
                    entity.get(ENTITY_ATTRIBUTE_TYPE),
                )
                role, confidence = predict(self.model, feats)
                role, confidence = _blend(
                    role,
                    confidence,
                    entity[ENTITY_ATTRIBUTE_ROLE],
                    entity.get(CONFIDENCE_ROLE),
                    float(self._config["diet_weight"]),
                )
                entity[ROLE_DIET] = entity[ENTITY_ATTRIBUTE_ROLE]
                entity[CONFIDENCE_ROLE_DIET] = entity.get(CONFIDENCE_ROLE)
                entity[ENTITY_ATTRIBUTE_ROLE] = role
                entity[CONFIDENCE_ROLE] = confidence
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

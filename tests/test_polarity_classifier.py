"""nps_nlu.PolarityClassifier: trained on entity spans, stored in Rasa's model
storage, loaded back, and re-deciding the role of driver entities."""

from __future__ import annotations

import json

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nps_nlu.polarity import WEIGHTS_FILE, PolarityClassifier

# (text, the entity's words, driver, role)
TRAINING = [
    ("polecam obsługę", "obsługę", "staff", "pos"),
    ("nie polecam obsługi", "obsługi", "staff", "neg"),
    ("polecam ten sklep", "sklep", "store_experience", "pos"),
    ("nie polecam tego sklepu", "sklepu", "store_experience", "neg"),
    ("szczerze polecam dostawę kurierem", "dostawę", "delivery", "pos"),
    ("szczerze nie polecam dostawy kurierem", "dostawy", "delivery", "neg"),
    ("ceny super, polecam", "ceny", "price", "pos"),
    ("ceny wysokie, nie polecam", "ceny", "price", "neg"),
]


def _entity(text: str, words: str, driver: str, role: str | None, **extra) -> dict:
    start = text.index(words)
    entity = {
        "entity": driver,
        "start": start,
        "end": start + len(words),
        "value": words,
        **extra,
    }
    if role is not None:
        entity["role"] = role
    return entity


def _training_data() -> TrainingData:
    return TrainingData(
        [
            Message.build(text=t, intent="feedback", entities=[_entity(t, w, d, r)])
            for t, w, d, r in TRAINING
        ]
    )


def _trained(tmp_path, name: str = "polarity", **config) -> tuple[LocalModelStorage, Resource]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path)
    resource = Resource(name)
    full = {**PolarityClassifier.get_default_config(), **config}
    PolarityClassifier.create(full, storage, resource, None).train(_training_data())
    return storage, resource


def _loaded(tmp_path, **config) -> PolarityClassifier:
    storage, resource = _trained(tmp_path, **config)
    full = {**PolarityClassifier.get_default_config(), **config}
    return PolarityClassifier.load(full, storage, resource, None)


def _diet_message(text: str, *entities: dict) -> Message:
    """A message as DIET leaves it: entities with a role and its confidence."""
    message = Message.build(text=text)
    message.set(ENTITIES, [dict(e) for e in entities], add_to_output=True)
    return message


def _roles(classifier: PolarityClassifier, text: str, words: str, driver: str, diet_role: str):
    entity = _entity(text, words, driver, diet_role, confidence_role=0.99)
    (message,) = classifier.process([_diet_message(text, entity)])
    return message.get(ENTITIES)[0]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> PolarityClassifier:
    return _loaded(tmp_path_factory.mktemp("polarity"))


@pytest.mark.parametrize(
    ("text", "words", "driver", "diet_role", "expected"),
    [
        # DIET's role is the wrong one each time: the words decide.
        ("nie polecam obsługi", "obsługi", "staff", "pos", "neg"),
        ("polecam obsługę", "obsługę", "staff", "neg", "pos"),
        # Forms never trained on: another person of the verb, other cases.
        ("Nie polecamy obsługi w tym sklepie", "obsługi", "staff", "pos", "neg"),
        ("Polecamy obsługę", "obsługę", "staff", "neg", "pos"),
        ("nie polecam kuriera", "kuriera", "delivery", "pos", "neg"),
        ("polecam kuriera", "kuriera", "delivery", "neg", "pos"),
        # Typed without diacritics.
        ("nie polecam obslugi", "obslugi", "staff", "pos", "neg"),
    ],
)
def test_the_role_follows_the_words_and_their_negation(
    classifier, text, words, driver, diet_role, expected
):
    entity = _roles(classifier, text, words, driver, diet_role)
    assert entity["role"] == expected
    assert 0.5 <= entity["confidence_role"] <= 1.0
    # DIET's decision stays beside it, for debugging.
    assert entity["role_diet"] == diet_role
    assert entity["confidence_role_diet"] == 0.99


def test_entities_are_otherwise_unchanged(classifier):
    text = "Nie polecam obsługi, zamawiałem przez aplikację"
    driver = _entity(
        text,
        "obsługi",
        "staff",
        "pos",
        confidence_entity=0.8,
        confidence_role=0.7,
        extractor="DIETClassifier",
    )
    # An entity without a pos/neg role (not a driver's) is left alone.
    other = _entity(text, "aplikację", "touchpoint", None, extractor="DIETClassifier")
    (message,) = classifier.process([_diet_message(text, driver, other)])
    first, second = message.get(ENTITIES)
    assert len(message.get(ENTITIES)) == 2
    changed = {"role", "confidence_role", "role_diet", "confidence_role_diet"}
    assert {k: v for k, v in first.items() if k not in changed} == {
        k: v for k, v in driver.items() if k not in changed
    }
    assert first["role"] == "neg"
    assert second == other


def test_a_message_without_entities_passes_through(classifier):
    (message,) = classifier.process([Message.build(text="nie wiem")])
    assert not message.get(ENTITIES)


def test_training_is_deterministic_with_the_seed(tmp_path):
    def weights(folder) -> dict:
        storage, resource = _trained(folder, random_seed=7)
        with storage.read_from(resource) as path:
            return json.loads((path / WEIGHTS_FILE).read_text(encoding="utf-8"))

    first, second = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert first == second
    assert first["classes"] == ["neg", "pos"]
    assert first["weights"]


def test_the_window_is_configurable(tmp_path):
    # With no words around the span only its own words count ("nie_obsluga"
    # still carries the negation); with them "nie_polecac" adds its weight.
    narrow = _loaded(tmp_path / "narrow", window=0)
    wide = _loaded(tmp_path / "wide", window=3)
    text = "nie polecam obsługi"
    assert _roles(wide, text, "obsługi", "staff", "pos")["role"] == "neg"
    narrow_entity = _roles(narrow, text, "obsługi", "staff", "pos")
    wide_entity = _roles(wide, text, "obsługi", "staff", "pos")
    assert narrow_entity["confidence_role"] != wide_entity["confidence_role"]


def test_one_role_in_the_training_data_keeps_diets_roles(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("polarity")
    config = PolarityClassifier.get_default_config()
    only_pos = TrainingData(
        [
            Message.build(text=t, intent="feedback", entities=[_entity(t, w, d, r)])
            for t, w, d, r in TRAINING
            if r == "pos"
        ]
    )
    PolarityClassifier.create(config, storage, resource, None).train(only_pos)
    loaded = PolarityClassifier.load(config, storage, resource, None)
    entity = _roles(loaded, "nie polecam obsługi", "obsługi", "staff", "pos")
    assert entity["role"] == "pos"
    assert "role_diet" not in entity


def test_the_opinion_can_lie_outside_a_short_span(classifier):
    # DIET often finds only the noun; the rest of the sentence decides.
    assert _roles(classifier, "nie polecam, obsługa", "obsługa", "staff", "pos")["role"] == "neg"
    assert _roles(classifier, "polecam, obsługa", "obsługa", "staff", "neg")["role"] == "pos"


def test_diets_probability_can_be_given_a_weight(tmp_path):
    only_diet = _loaded(tmp_path / "diet", diet_weight=1.0)
    entity = _roles(only_diet, "nie polecam obsługi", "obsługi", "staff", "pos")
    assert (entity["role"], entity["confidence_role"]) == ("pos", pytest.approx(0.99))
    assert entity["role_diet"] == "pos"

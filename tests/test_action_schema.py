"""The action-server answer check with a validator built once agrees with Rasa's."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from storage import action_schema

GOOD = {
    "events": [{"event": "slot", "name": "nps_score", "value": 7}],
    "responses": [{"response": "utter_ask_reason_passive"}],
}
BAD = [
    {"events": "not a list"},
    {"events": [{"name": "nps_score"}]},  # an event without its type
    {"responses": {"text": "x"}},
]


@pytest.fixture
def installed():
    was_installed = bool(action_schema._original)
    action_schema.install()
    yield
    if not was_installed:
        action_schema.uninstall()


def rasa_says(result: dict) -> bool:
    original = action_schema._original.get("validate", RemoteAction._validate_action_result)
    try:
        return original(RemoteAction("x", None), result)
    except ValidationError:
        return False


def ours_says(result: dict) -> bool:
    try:
        return RemoteAction("x", None)._validate_action_result(result)
    except ValidationError as error:
        assert "Failed to validate Action server response" in error.message
        return False


@pytest.mark.parametrize("result", [GOOD, {}, *BAD])
def test_the_same_answers_pass_and_fail_as_with_rasa(installed, result):
    assert ours_says(result) == rasa_says(result)
    assert ours_says(result) is (result in (GOOD, {}))


def test_install_is_idempotent_and_uninstall_restores():
    before = RemoteAction._validate_action_result
    action_schema.install()
    action_schema.install()
    assert RemoteAction._validate_action_result is not before
    action_schema.uninstall()
    assert RemoteAction._validate_action_result is before

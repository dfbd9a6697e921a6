"""Rasa's check of each action-server answer, with its validator built once.

Rasa 3.6 checks every answer of the action server against a JSON schema with
``jsonschema.validate(result, spec)``, which first checks the *schema itself*
and builds a new validator on every call: about 10 ms of Rasa's CPU per
message on this survey (bench/profile_turn.py, docs/benchmarks.md). The
schema never changes, so it is checked once here and the same validator is
reused; an invalid answer still raises the same ``ValidationError`` with
Rasa's wording, and Rasa handles it as before.
"""

from __future__ import annotations

from typing import Any

_original: dict[str, Any] = {}


def install() -> None:
    """Replace RemoteAction._validate_action_result (idempotent)."""
    if _original:
        return
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    spec = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(spec)
    validator_class.check_schema(spec)  # once, instead of on every answer
    validator = validator_class(spec)

    def validate(self: Any, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your "
                "response from the Action endpoint is valid. For more information about "
                f"the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    _original["validate"] = RemoteAction._validate_action_result
    RemoteAction._validate_action_result = validate


def uninstall() -> None:
    """Rasa as it was (tests)."""
    if not _original:
        return
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _original.pop("validate")

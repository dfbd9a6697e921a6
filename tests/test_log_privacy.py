"""No conversation in the logs: an action that raises sends no tracker back
to Rasa and logs no message text or id; Rasa's own log of such a failure
(ClientResponseError with the body) and phone numbers are redacted by
storage/log_privacy.py, installed in both processes."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from storage import log_privacy

PHONE = "+48600100200"
PRIVATE_TEXT = "mój-sekretny-powód"


@pytest.fixture
def redacting(monkeypatch):
    """The record factory installed for this test only."""
    monkeypatch.setattr(log_privacy, "_installed", False)
    previous = logging.getLogRecordFactory()
    log_privacy.install()
    yield
    logging.setLogRecordFactory(previous)


def _formatted(caplog) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


def _tracker_body() -> str:
    return json.dumps(
        {
            "error": f"invalid literal for int(): '{PRIVATE_TEXT}'",
            "request_body": {
                "next_action": "survey_form",
                "tracker": {
                    "sender_id": f"whatsapp:{PHONE}",
                    "events": [{"event": "user", "text": PRIVATE_TEXT}],
                },
            },
        },
        ensure_ascii=False,
    )


def test_rasas_log_of_a_failed_action_keeps_no_conversation(redacting, caplog):
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import ClientResponseError

    logger = logging.getLogger("rasa.core.processor")
    try:
        try:
            raise ClientResponseError(500, "Internal Server Error", _tracker_body())
        except ClientResponseError as error:
            raise RasaException("Failed to execute custom action 'survey_form'") from error
    except RasaException:
        with caplog.at_level(logging.ERROR):
            logger.exception("Encountered an exception while running action 'survey_form'.")
    text = _formatted(caplog)
    assert "ClientResponseError" in text and "RasaException" in text
    assert "survey_form" in text  # what failed is still said
    assert PRIVATE_TEXT not in text and PHONE not in text and "48600100200" not in text


def test_phone_numbers_in_messages_are_masked(redacting, caplog):
    logger = logging.getLogger("channels.test")
    with caplog.at_level(logging.INFO):
        logger.info("sent to %s and 48 600 100 200", PHONE)
        logger.info("event 123456 at 1700000000.25 from 127.0.0.1:5005")
    first, second = (r.getMessage() for r in caplog.records)
    assert "600" not in first and first.count(log_privacy.PHONE_MARK) == 2
    # Ids, ports and timestamps are not phone numbers.
    assert second == "event 123456 at 1700000000.25 from 127.0.0.1:5005"


class _App:
    """Just enough of Sanic's app to collect what privacy.install registers."""

    def __init__(self):
        self.handlers, self.listeners = {}, {}

    def exception(self, kind):
        def register(function):
            self.handlers[kind] = function
            return function

        return register

    def listener(self, event):
        def register(function):
            self.listeners[event] = function
            return function

        return register


class _Request:
    def __init__(self, body):
        self.json = body


def test_an_action_exception_answers_without_the_tracker(redacting, caplog):
    from actions import privacy

    app = _App()
    privacy.install(app)
    request = _Request(json.loads(_tracker_body())["request_body"])
    try:
        int(PRIVATE_TEXT + PHONE)
    except ValueError as error:
        with caplog.at_level(logging.ERROR):
            answer = asyncio.run(app.handlers[Exception](request, error))
    assert answer.status == 500
    body = answer.body.decode()
    assert json.loads(body) == {"error": "action survey_form failed"}
    logged = _formatted(caplog)
    assert "survey_form failed: ValueError" in logged and "int(PRIVATE_TEXT + PHONE)" in logged
    assert PRIVATE_TEXT not in logged.replace("int(PRIVATE_TEXT + PHONE)", "")
    assert "48600100200" not in logged and "after_server_start" in app.listeners


def test_rasa_installs_it_when_it_loads_our_lock_store():
    # Rasa imports `storage` (endpoints.yml's lock store); other programs
    # importing it keep their logging as it is.
    import subprocess
    import sys

    probe = (
        "import sys; sys.argv[0] = {!r}; import logging, storage;"
        "print(logging.getLogRecordFactory().__module__)"
    )
    for program, expected in (("/srv/.venv/bin/rasa", "storage.log_privacy"), ("tool", "logging")):
        out = subprocess.run(
            [sys.executable, "-c", probe.format(program)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert out == expected


def test_a_log_id_of_decimal_digits_only_is_kept():
    from storage.log_privacy import redact_text

    assert redact_text("send failed for messenger:#304518820912") == (
        "send failed for messenger:#304518820912"
    )
    assert redact_text("from 48600100200 and +48 600 100 200") == "from [numer] and [numer]"

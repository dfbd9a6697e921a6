"""No conversation in the logs: a log record factory that redacts, in every
process that installs it (Rasa through `storage/__init__.py`, the action
server in `actions/__main__.py`).

Where conversations used to leak:
- an action that raises makes rasa-sdk answer 500 with the whole tracker in
  the body; Rasa wraps the body in `ClientResponseError("500, …, body='…'")`
  and logs it with `logger.exception`, so every message and the phone number
  went to rasa.log. (The action server no longer sends the tracker back, see
  actions/privacy.py; this is the second line of defence, in Rasa itself.)
- exception messages that quote what the customer typed.
- phone numbers in any message (WhatsApp and SMS senders are phone numbers).

A record factory rather than a handler filter: it sees every record of every
logger, whatever handlers Rasa or Sanic configure later.
"""

from __future__ import annotations

import logging
import re
import traceback

# A phone number: 9 to 15 digits, optional plus, spaces or dashes between;
# not part of a longer number or a decimal (timestamps keep their digits),
# nor a conversation's log id ("messenger:#304518820912": a keyed hash whose
# hex digits are now and then all decimal).
_PHONE = re.compile(r"(?<![\w.+#])\+?\d(?:[ \-]?\d){8,14}(?![\w.])")
# Rasa's ClientResponseError text: "500, Internal Server Error, body='…'".
_BODY = re.compile(r"body='.*'", re.DOTALL)
# Signs of a serialised tracker or message in a text.
_DUMP_MARKERS = ('"events"', '"sender_id"', '"latest_message"', '"request_body"', '"text":')
# An exception message longer than this is not shown: it is data, not a diagnosis.
MAX_EXCEPTION_MESSAGE = 300
PHONE_MARK = "[numer]"
WITHHELD = "[treść rozmowy pominięta]"

_installed = False


def redact_text(text: str) -> str:
    """The text without conversation dumps or phone numbers."""
    text = _BODY.sub(f"body='{WITHHELD}'", text)
    if any(marker in text for marker in _DUMP_MARKERS):
        return WITHHELD
    return _PHONE.sub(PHONE_MARK, text)


def _exception_lines(exc: BaseException) -> list[str]:
    """The exception chain as a traceback, each exception's message redacted
    (code lines and frames kept: they say where, not what the customer said)."""
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    for position, item in enumerate(reversed(chain)):
        if position:
            lines.append("\nThe above exception led to the following one:\n\n")
        lines.extend(traceback.format_tb(item.__traceback__))
        message = str(item)
        if len(message) > MAX_EXCEPTION_MESSAGE:
            message = f"{WITHHELD} ({len(message)} characters)"
        lines.append(f"{type(item).__module__}.{type(item).__qualname__}: {redact_text(message)}\n")
    return ["Traceback (most recent call last):\n", *lines]


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact the record in place: its message and its exception."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logged as its bare format
        message = str(record.msg)
    record.msg, record.args = redact_text(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = "".join(_exception_lines(record.exc_info[1])).rstrip("\n")
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    return record


def install() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True

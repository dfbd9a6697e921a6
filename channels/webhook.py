"""What the three webhook connectors share: credentials, request checks,
handing messages to Rasa one by one."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

# The bot has an intent `non_text` that answers images, stickers, voice notes
# kindly and re-asks the pending question.
NON_TEXT = "/non_text"

DEFAULT_META_MAX_BODY = 2 * 1024 * 1024  # a batch of ~1000 events fits easily
DEFAULT_TWILIO_MAX_BODY = 256 * 1024

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def credential(credentials: dict[str, Any] | None, key: str, default: str = "") -> str:
    """A credentials.yml value as a string, with ``${VAR}`` expanded here.

    Why here and not by Rasa: Rasa expands an unquoted ``${VAR}`` itself but
    refuses to start when VAR is unset (RasaException), so one channel without
    its secrets would take every channel down. credentials.yml therefore
    quotes these references ("${FB_APP_SECRET}"), which Rasa leaves as they
    are, and they are expanded here, an unset variable becoming "" (the
    channel then answers 503 "not configured").
    """
    value = (credentials or {}).get(key)
    if value is None:
        return default
    value = _ENV_REF.sub(lambda m: os.environ.get(m.group(1), ""), str(value)).strip()
    return value or default


def flag(credentials: dict[str, Any] | None, key: str, default: bool) -> bool:
    raw = credential(credentials, key)
    if not raw:
        return default
    return raw.lower() in ("1", "true", "yes", "on")


def number(credentials: dict[str, Any] | None, key: str, default: float) -> float:
    raw = credential(credentials, key)
    try:
        return float(raw) if raw else default
    except ValueError:
        logger.warning("credentials: %s=%r is not a number; using %s", key, raw, default)
        return default


@dataclass
class Incoming:
    """One user message found in a webhook, ready for Rasa."""

    sender_id: str
    text: str
    message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def not_configured(channel: str) -> HTTPResponse:
    return response.json(
        {
            "error": f"channel '{channel}' not configured",
            "hint": "set its environment variables, see docs/channels.md",
        },
        status=503,
    )


def read_json_body(request: Request, max_bytes: int) -> tuple[Any, HTTPResponse | None]:
    """(payload, None) for a JSON object body, else (None, error response)."""
    body = request.body or b""
    if len(body) > max_bytes:
        return None, response.json({"error": "body too large"}, status=413)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, response.json({"error": "malformed JSON"}, status=400)
    if not isinstance(payload, dict):
        return None, response.json({"error": "expected a JSON object"}, status=400)
    return payload, None


def verify_subscription(request: Request, verify_token: str) -> HTTPResponse:
    """Meta's webhook verification handshake (GET with hub.* parameters)."""
    import hmac

    mode = request.args.get("hub.mode", "")
    token = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge", "")
    if (
        verify_token
        and mode == "subscribe"
        and challenge
        and hmac.compare_digest(token.encode(), verify_token.encode())
    ):
        return response.text(challenge)
    logger.warning("webhook verification refused: wrong mode or verify token")
    return response.text("forbidden", status=403)


async def deliver(
    messages: Iterable[Incoming],
    on_new_message: Callable[[Any], Awaitable[Any]],
    make_user_message: Callable[[Incoming], Any],
    first_time: Callable[[str | None], Awaitable[bool]],
    channel: str,
) -> int:
    """Hand each new message to Rasa in order; returns how many were handled.

    One failing message must not lose the others of the same batch, and must
    not turn the webhook into a 500 (Meta would redeliver the whole batch).
    """
    handled = 0
    for incoming in messages:
        if not await first_time(incoming.message_id):
            logger.info(
                "%s: message %s already handled, skipping redelivery", channel, incoming.message_id
            )
            continue
        try:
            await on_new_message(make_user_message(incoming))
            handled += 1
        except Exception:
            logger.exception(
                "%s: handling a message of conversation %s failed", channel, incoming.sender_id
            )
    return handled

"""Rasa's REST channel, for local use and tests: conversations ``rest:<sender>``.

Registered in credentials.yml as ``channels.rest.RestInput`` under Rasa's own
name and URL (``rest``, ``POST /webhooks/rest/webhook``,
``{"sender", "message"}``), so scripts and the dashboard's "Try the bot" keep
working. What differs from Rasa 3.6's ``RestInput``:

* the conversation is always ``rest:<sender>``: whatever the sender says
  ("whatsapp:+48600100200", "messenger:123"), it cannot name another
  channel's conversation;
* the client's ``input_channel`` is ignored: every message is ``rest``, so a
  script cannot count its answers as WhatsApp ones;
* the text is capped (``NPS_MAX_MESSAGE_CHARS``), a cut one marked
  ``shortened``; a sender longer than the tracker store's column, or not a
  string, is refused with 400;
* the text is never written to the log (Rasa logs it on any failure);
* optionally a shared secret: with ``token: "${NPS_REST_TOKEN}"`` in the
  credentials and the variable set, a request without
  ``Authorization: Bearer <token>`` gets 401;
* a turn that failed (database, lock, action server, time bound) answers 503
  with a JSON error, never 200 with no messages: the client knows its message
  was not stored and may send it again. The turn runs as a task of its own, so
  a client that hangs up does not cut it short (``channels.turn``);
* ``?stream=true`` sends the replies as lines once the turn is stored (Rasa
  streams them while the turn runs, and hangs when it fails).

REST messages carry no client message id: a client that resends after a
timeout may store its message twice (see docs/channels.md).

Production turns the channel off (credentials.production.yml has none); an
installation that needs it there (the dashboard's "Try the bot") adds it
with a token.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.ingress import capped, client_metadata, limit_request_size
from channels.turn import Turns
from channels.webhook_input import credential
from nps.identity import IdentityError, conversation_id, log_id
from nps.settings import load_settings

logger = logging.getLogger(__name__)

# Rasa's events.sender_id is VARCHAR(255); "rest:" takes 5.
MAX_SENDER_CHARS = 200


class RestInput(RasaRestInput):
    def __init__(self, token: str = "", max_message_chars: int | None = None) -> None:
        self.token = token
        self.max_message_chars = max_message_chars or load_settings().max_message_chars
        self.turns = Turns()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        return cls(token=credential(credentials, "token"))

    def authorised(self, request: Request) -> bool:
        if not self.token:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def parse(self, request: Request) -> tuple[str, str, dict[str, Any]] | HTTPResponse:
        """(conversation, text, metadata) of a request, or a 400 answer."""
        try:
            payload = request.json
        except InvalidUsage:
            payload = None
        if not isinstance(payload, dict):
            return response.json({"error": "expected a JSON object"}, status=400)
        sender, message = payload.get("sender"), payload.get("message")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
            return response.json(
                {"error": f"sender: a string of 1-{MAX_SENDER_CHARS} characters"}, status=400
            )
        if not isinstance(message, str):
            return response.json({"error": "message: a string"}, status=400)
        try:
            conversation = conversation_id("rest", sender)
        except IdentityError as error:
            return response.json({"error": f"sender: {error}"}, status=400)
        text, metadata = capped(message, self.max_message_chars)
        return conversation, text, {**client_metadata(payload.get("metadata")), **metadata}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("custom_webhook_RestInput", __name__)
        limit_request_size(hook)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            if not self.authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            parsed = self.parse(request)
            if isinstance(parsed, HTTPResponse):
                return parsed
            conversation, text, metadata = parsed
            collector = CollectingOutputChannel()
            message = UserMessage(
                text,
                collector,
                conversation,
                input_channel=self.name(),  # never the client's input_channel
                metadata=metadata or None,
            )
            # A task of its own: a client hanging up stops our waiting only.
            _, error = await self.turns.settle(on_new_message(message))
            if error is not None:
                logger.error(
                    "rest: the turn of %s failed (%s); answered 503",
                    log_id(conversation),
                    error.__class__.__name__,
                    exc_info=error,
                )
                return failed_turn()
            if bool_arg(request, "stream", default=False):
                lines = "".join(json.dumps(m) + "\n" for m in collector.messages)
                return response.text(lines, content_type="text/event-stream")
            return response.json(collector.messages)

        return hook


def failed_turn() -> HTTPResponse:
    return response.json(
        {"error": "the message could not be stored; send it again"},
        status=503,
        headers={"Retry-After": "1"},
    )

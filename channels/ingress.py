"""What every ingress does to a customer's message before Rasa sees it.

Every channel (our three connectors, the REST channel, the web chat socket)
cuts a message to ``NPS_MAX_MESSAGE_CHARS`` with ``nps.text.cap`` and marks
a cut one with ``metadata={"shortened": True}``, so an action can tell the
customer (the bot answers a shortened message with ``utter_message_shortened``).
A client can never set that mark itself: it is removed from what it sent.

And every request body is bounded: Sanic buffers up to its
``REQUEST_MAX_SIZE`` (100 MB by default, Rasa does not change it) before any
handler runs, so each channel lowers the app's limit when the server starts
(unless the operator set ``SANIC_REQUEST_MAX_SIZE``, which Sanic reads itself).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sanic import Blueprint, Sanic

from nps.text import cap

logger = logging.getLogger(__name__)

SHORTENED = "shortened"

# The largest body a channel takes: a batch of Meta webhook events (2 MB)
# with room to spare. Socket.IO frames have their own, smaller limit.
MAX_REQUEST_BYTES = 2_200_000


def capped(text: str, limit: int) -> tuple[str, dict[str, Any]]:
    """The text cut to `limit` characters and the metadata that says so."""
    text, cut = cap(text, limit)
    return text, ({SHORTENED: True} if cut else {})


# Marks only the server may set: ours, and Rasa's own for a triggered intent
# (an agent's reply from a case page, actions/closed_loop.py, checks it).
SERVER_MARKS = frozenset({SHORTENED, "is_external"})


def client_metadata(value: Any) -> dict[str, Any]:
    """Metadata a client sent, as a dict without the server's own marks."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k not in SERVER_MARKS}


def limit_request_size(hook: Blueprint, limit: int = MAX_REQUEST_BYTES) -> None:
    """Lower the app's request body limit when the server starts.

    Sanic 21.12 copies ``app.config.REQUEST_MAX_SIZE`` into each connection's
    protocol when the connection opens, so a value set before the server
    accepts connections applies to every route, Rasa's own included."""

    @hook.listener("before_server_start")
    async def lower_limit(app: Sanic, _: Any) -> None:
        if os.environ.get("SANIC_REQUEST_MAX_SIZE"):
            return  # the operator chose
        if app.config.REQUEST_MAX_SIZE > limit:
            app.config.REQUEST_MAX_SIZE = limit
            logger.debug("request bodies limited to %d bytes", limit)

"""The web chat's socket: Rasa's socketio channel with ids the server issues.

Registered in credentials.yml as ``channels.webchat_socket.WebChatInput``
in place of Rasa's ``socketio`` (same name, ``/socket.io`` path and events,
so the page and analytics see no difference). What it fixes in Rasa 3.6's
``SocketIOInput``:

* **Origin.** Rasa builds its engine.io server with
  ``cors_allowed_origins=[]``, which python-engineio reads as "check
  nothing": any website could open a socket to the bot. Here only the pages
  in ``NPS_WEBCHAT_ORIGINS`` may (a browser always sends its Origin; a
  request with another one gets 400 before any Socket.IO event).
* **Who a socket talks as.** Rasa takes the conversation id from the client
  (``session_request`` and every ``user_uttered`` carry a ``session_id``), so
  a page could name any conversation, a WhatsApp customer's included, and
  receive its replies. Here the server issues the conversation: a new socket
  gets ``web:<uuid>`` and the token ``<uuid>.<signature>`` (HMAC-SHA256 with
  the web chat key, ``nps.keys``) in ``session_confirm``; the page sends the
  token back in ``session_request`` to resume after a reload. A token that
  does not verify, or an id the client made up, gets a fresh conversation,
  never its own. Each message goes to the conversation of its socket; the
  ``session_id`` in ``user_uttered`` is ignored.
* **Size.** Text is capped (``NPS_MAX_MESSAGE_CHARS``, marked ``shortened``)
  and a Socket.IO message may be at most 64 KB (engine.io's default is 1 MB).
* **Custom payloads** (``{"survey_end": true}``) reach the page as
  ``bot_uttered`` ``{"custom": {...}}``; Rasa's output passes the dict as
  keyword arguments to ``emit``, which fails for any key but ``data``.
* **A failed turn is said.** Socket.IO gives at most once from the browser:
  a message whose turn failed (database, lock, action server) is not stored
  and nobody redelivers it. The bot's replies are held until the turn is
  stored (``channels.turn``), so a failed turn shows nothing half-way; the
  socket that sent the message gets ``turn_failed`` instead, and the page
  asks the customer to send it again.

It also makes Rasa's room join work with python-socketio >= 5.10 (the room
is entered here, awaited; see ``socketio_compat`` for the history).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from channels.ingress import capped, client_metadata, limit_request_size
from channels.turn import Turns, run_turn
from nps.identity import conversation_id, log_id, presence_proof
from nps.keys import key
from nps.settings import load_settings

logger = logging.getLogger(__name__)

# One Socket.IO message: a chat message of NPS_MAX_MESSAGE_CHARS (at most
# 4 bytes a character in UTF-8) fits many times over.
MAX_SOCKET_MESSAGE_BYTES = 64 * 1024
# Emitted to the socket whose message was not stored (the page shows it).
TURN_FAILED_EVT = "turn_failed"
# The header of a presence question (nps.identity.presence_proof).
PRESENCE_HEADER = "X-NPS-Presence"


def sign(secret: bytes, conversation: str) -> str:
    return hmac.new(secret, conversation.encode("utf-8"), hashlib.sha256).hexdigest()


def issue(secret: bytes) -> tuple[str, str]:
    """A new conversation and the token that resumes it: (``web:<uuid>``,
    ``<uuid>.<signature>``)."""
    web_id = uuid.uuid4().hex
    conversation = conversation_id("web", web_id)
    return conversation, f"{web_id}.{sign(secret, conversation)}"


def verify(secret: bytes, token: Any) -> str | None:
    """The conversation a token resumes, or None if it is not one we issued."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    web_id, dot, signature = token.partition(".")
    try:
        if not dot or uuid.UUID(hex=web_id).hex != web_id:
            return None
    except ValueError:
        return None
    conversation = conversation_id("web", web_id)
    if hmac.compare_digest(
        signature.encode("ascii", "replace"), sign(secret, conversation).encode()
    ):
        return conversation
    return None


async def settled(result: Any) -> None:
    # enter_room / leave_room are coroutines from python-socketio 5.10 on,
    # plain calls before (and with socketio_compat's patch, a done future).
    if inspect.isawaitable(result):
        await result


class WebChatOutput(SocketIOOutput):
    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class WebChatInput(SocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            True,  # each conversation is a room the bot's answers go to
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = load_settings()
        self.origins: list[str] = list(settings.webchat_origins)
        self.max_message_chars = settings.max_message_chars
        self.secret = key("webchat", settings.webchat_secret)
        self.turns = Turns()

    def get_output_channel(self) -> WebChatOutput | None:
        if self.sio is None:
            return super().get_output_channel()  # Rasa's warning, then None
        return WebChatOutput(self.sio, self.bot_message_evt)

    def make_server(self, origins: Iterable[str]) -> AsyncServer:
        return AsyncServer(
            async_mode="sanic",
            # Never []: python-engineio reads an empty list as "no check".
            cors_allowed_origins=list(origins) or None,
            max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = self.make_server(self.origins)
        hook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        limit_request_size(hook)
        self.sio = sio
        namespace = self.namespace

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/presence", methods=["GET"])
        async def presence(request: Request) -> HTTPResponse:
            """Is a page of this conversation connected to this process? For
            the case pages (an agent's reply reaches the web chat only while
            it is open). Only a caller holding the web chat's key can ask."""
            conversation = request.args.get("conversation") or ""
            proof = request.headers.get(PRESENCE_HEADER) or ""
            if (
                not conversation
                or len(conversation) > 255
                or not hmac.compare_digest(
                    proof.encode("ascii", "replace"),
                    presence_proof(self.secret, conversation).encode(),
                )
            ):
                return response.json({"error": "forbidden"}, status=403)
            room = sio.manager.get_participants(namespace or "/", conversation)
            return response.json({"connected": next(iter(room), None) is not None})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None) -> bool:
            if not self.jwt_key:
                return True
            token = (auth or {}).get("token") if isinstance(auth, dict) else None
            return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any) -> None:
            token = data.get("session_id") if isinstance(data, dict) else None
            conversation = verify(self.secret, token)
            if conversation is None:
                if token:
                    logger.info("web chat: an unknown session id was replaced by a new one")
                conversation, token = issue(self.secret)
            previous = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if previous and previous != conversation:
                await settled(sio.leave_room(sid, previous, namespace=namespace))
            await sio.save_session(sid, {"conversation": conversation}, namespace=namespace)
            await settled(sio.enter_room(sid, conversation, namespace=namespace))
            await sio.emit("session_confirm", token, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            conversation = (await sio.get_session(sid, namespace=namespace)).get("conversation")
            if conversation is None:
                logger.info("web chat: a message before session_request ignored")
                return
            data = data if isinstance(data, dict) else {}
            message = data.get("message")
            if not isinstance(message, str):
                return
            text, shortened = capped(message, self.max_message_chars)
            metadata = {**client_metadata(data.get(self.metadata_key)), **shortened}
            logger.debug("web chat: message in %s", log_id(conversation))
            output = WebChatOutput(sio, self.bot_message_evt)
            user_message = UserMessage(
                text,
                output,
                conversation,
                input_channel=self.name(),
                metadata=metadata or None,
            )
            replies, error = await self.turns.settle(run_turn(on_new_message, user_message))
            if error is not None:
                logger.error(
                    "web chat: the turn of %s failed (%s); the page is asked to resend",
                    log_id(conversation),
                    error.__class__.__name__,
                    exc_info=error,
                )
                await sio.emit(TURN_FAILED_EVT, {"resend": True}, room=sid, namespace=namespace)
                return
            for reply in replies:
                await output.send_response(conversation, reply)

        return hook

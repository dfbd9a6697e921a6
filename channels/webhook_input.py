"""What the three webhook connectors share: credentials, the request pipeline,
handing messages to Rasa so that each is stored exactly once.

Messenger, WhatsApp and Twilio answer a webhook the same way, and the order
matters: 503 when the channel has no secrets (so `rasa run` still starts),
413 before touching a large body, 403 before parsing anything the signature
does not vouch for, then each message not done yet to Rasa as a turn of its
own (``deliver``, ``channels.turn``): the platform's acknowledgement (200)
only when every turn of the webhook was stored, else 503 so it redelivers.
Only "how is it signed" and "where are the messages in it" differ; a
connector supplies those and nothing else.

Log lines of the pipeline go to the connector's own logger
(``channels.messenger``, ...), so an operator filters one channel by its
module name.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import outbox, render
from channels.dedup import ChoiceMemory, DoneIds, RedisDoneIds, done_ids_from_url
from channels.ingress import capped, limit_request_size
from channels.outbound import HttpSender, RetryPolicy, SendResult, send_in_order
from channels.signatures import META_SIGNATURE_HEADER, verify_meta_signature
from channels.turn import FAILED, Outcome, Result, Turns, run_turn
from nps.identity import IdentityError, conversation_id, log_id
from nps.settings import load_settings

logger = logging.getLogger(__name__)

# The bot has an intent `non_text` that answers images, stickers, voice notes
# kindly and re-asks the pending question.
NON_TEXT = "/non_text"

DEFAULT_META_MAX_BODY = 2 * 1024 * 1024  # a batch of ~1000 events fits easily
DEFAULT_TWILIO_MAX_BODY = 256 * 1024

# How long a webhook's answer waits for the stored turns' replies to be handed
# over before it answers anyway (the sends carry on): well inside the
# platforms' patience (Meta's is a few seconds, Twilio's 15 s).
REPLY_WAIT_SECONDS = 2.0
# What a 503 asks the platform to wait before redelivering (Meta and Twilio
# use their own schedules; a proxy or a load tester may honour it).
RETRY_AFTER_SECONDS = 5

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
    """One user message found in a webhook, ready for Rasa.

    ``sender_id`` is the conversation id (``nps.identity``: "messenger:<psid>",
    "whatsapp:+48…", "sms:+48…"), never the bare platform id."""

    sender_id: str
    text: str
    message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def conversation_or_none(channel: str, platform_id: str) -> str | None:
    """The conversation id of a platform's sender, or None (logged) when the
    id cannot key one (not a phone number on a phone channel, say)."""
    try:
        return conversation_id(channel, platform_id)
    except IdentityError as error:
        logger.warning("%s: message from an unusable sender id ignored: %s", channel, error)
        return None


def not_configured(channel: str) -> HTTPResponse:
    return response.json(
        {
            "error": f"channel '{channel}' not configured",
            "hint": "set its environment variables, see docs/channels.md",
        },
        status=503,
    )


def read_json_body(request: Request) -> tuple[Any, HTTPResponse | None]:
    """(payload, None) for a JSON object body, else (None, error response).

    The body size was checked before the signature (``WebhookInput``)."""
    try:
        payload = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return None, response.json({"error": "malformed JSON"}, status=400)
    if not isinstance(payload, dict):
        return None, response.json({"error": "expected a JSON object"}, status=400)
    return payload, None


def verify_subscription(request: Request, verify_token: str) -> HTTPResponse:
    """Meta's webhook verification handshake (GET with hub.* parameters)."""
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


@dataclass
class Delivery:
    """What became of the messages of one webhook."""

    stored: int = 0
    skipped: int = 0  # redeliveries of messages already done
    failed: int = 0
    deferred: int = 0  # not run: an earlier message of the same sender failed

    @property
    def complete(self) -> bool:
        """Every message stored or already done: the platform may forget it."""
        return not (self.failed or self.deferred)

    def count(self, result: Result) -> None:
        name = result.value
        setattr(self, name, getattr(self, name) + 1)


Dispatch = Callable[[OutputChannel, str, list[dict[str, Any]], str], Awaitable[Any]]


async def deliver(
    messages: Iterable[Incoming],
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    make_user_message: Callable[[Incoming], UserMessage],
    done: DoneIds | RedisDoneIds,
    channel: str,
    turns: Turns,
    dispatch: Dispatch | None = None,
    reply_wait: float = REPLY_WAIT_SECONDS,
) -> Delivery:
    """Run the turn of each message not done yet; what became of them.

    Each sender's messages run in order, different senders' at once. When a
    turn fails, the later messages of that sender wait for the redelivery
    (stored after it, never before). The whole batch is a task of its own
    (``Turns``): if the platform hangs up, what was started still finishes.
    A stored turn is marked done and its replies handed to ``dispatch``
    (``channels.outbox.dispatch`` unless given); the answer waits up to
    ``reply_wait`` s for that hand-over, then the sends carry on without it.
    """
    hand_over = dispatch or outbox.dispatch
    by_sender: dict[str, list[Incoming]] = {}
    for incoming in messages:
        by_sender.setdefault(incoming.sender_id, []).append(incoming)

    async def turn(incoming: Incoming) -> Outcome:
        if await done.is_done(incoming.message_id):
            logger.info(
                "%s: message %s of %s already stored, skipping redelivery",
                channel,
                incoming.message_id,
                log_id(incoming.sender_id),
            )
            return Outcome(Result.SKIPPED)
        try:
            message = make_user_message(incoming)
            output = message.output_channel
            replies = await run_turn(on_new_message, message)
        except Exception as error:
            logger.error(
                "%s: turn of %s failed (%s); not marked done, the platform redelivers it",
                channel,
                log_id(incoming.sender_id),
                error.__class__.__name__,
                exc_info=error,
            )
            return FAILED
        await done.mark_done(incoming.message_id)
        if not replies:
            return Outcome(Result.STORED)
        turn_key = incoming.message_id or f"{channel}:{uuid.uuid4().hex}"
        return Outcome(
            Result.STORED,
            turns.after_earlier_replies(
                incoming.sender_id,
                lambda: hand_over(output, incoming.sender_id, replies, turn_key),
            ),
        )

    async def in_order(queue: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for incoming in queue:
            if outcomes and outcomes[-1].result in (Result.FAILED, Result.DEFERRED):
                outcomes.append(Outcome(Result.DEFERRED))
                continue
            outcomes.append(
                await turns.once(incoming.message_id, lambda incoming=incoming: turn(incoming))
            )
        return outcomes

    async def batch() -> Delivery:
        delivery = Delivery()
        handing_over = set()
        for outcomes in await asyncio.gather(*(in_order(q) for q in by_sender.values())):
            for outcome in outcomes:
                delivery.count(outcome.result)
                if outcome.replies is not None:
                    handing_over.add(outcome.replies)
        if handing_over:
            await asyncio.wait(handing_over, timeout=reply_wait)
        return delivery

    # shield: the handler's cancellation stops its waiting, not the batch.
    return await asyncio.shield(turns.spawn(batch()))


def failed_delivery(delivery: Delivery) -> HTTPResponse:
    """503 with Retry-After: Meta redelivers a webhook that did not get a 2xx
    (Twilio only when told to, see docs/channels.md); the turns that were
    stored are marked done and skipped then."""
    return response.json(
        {
            "error": "a message could not be stored, deliver it again",
            "stored": delivery.stored + delivery.skipped,
            "not_stored": delivery.failed + delivery.deferred,
        },
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# ---------------------------------------------------------------------------
# The connectors' base classes
# ---------------------------------------------------------------------------


def shared_options(credentials: dict[str, Any] | None, sep: str, max_body: int) -> dict[str, Any]:
    """Constructor arguments every connector reads the same way.

    ``sep`` is the key style: the Meta connectors keep Rasa's dashed keys
    (``max-body-bytes``), Twilio Rasa's underscored ones (``max_body_bytes``).
    """
    return {
        "max_body_bytes": int(number(credentials, f"max{sep}body{sep}bytes", max_body)),
        "dedup_url": credential(credentials, f"dedup{sep}url"),
        "policy": RetryPolicy(
            timeout=number(credentials, "timeout", 10.0),
            attempts=int(number(credentials, "retries", 2)) + 1,
        ),
        "texts": render.Texts.from_credentials(credentials),
    }


class RenderedOutput(OutputChannel):
    """Rasa calls one ``send_*`` per kind of content; our ``send_response``
    renders a whole bot message at once (text, buttons, image together), so
    the per-kind entry points go back to it.

    A connector supplies ``parts`` (a bot message rendered as the platform's
    payloads), ``send_part`` (one bounded try) and ``route`` (what the outbox
    needs to rebuild it); the outbox (channels.outbox) sends parts one by one.
    """

    def route(self) -> dict[str, Any]:
        raise NotImplementedError

    def parts(self, recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def send_part(self, recipient_id: str, part: dict[str, Any]) -> SendResult:
        raise NotImplementedError

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> list[SendResult]:
        """Send one bot message without the outbox; the result of each part
        tried. A part that did not go stops the later ones (they would not
        make sense alone): the outbox keeps and retries them."""
        return await send_in_order(self, recipient_id, self.parts(recipient_id, message))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"custom": json_message})

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})


class WebhookInput(InputChannel):
    """Health route, checked POST /webhook, sender shutdown."""

    blueprint_name = ""
    env_names = ""  # for the "not configured" warning, e.g. "FB_APP_SECRET / ..."
    choices: ChoiceMemory | None = None  # set by channels that number options

    def _setup(
        self, max_body_bytes: int, dedup_url: str, policy: RetryPolicy, texts: render.Texts
    ) -> None:
        """The state every connector keeps; call at the end of ``__init__``
        (``configured`` needs the connector's own fields)."""
        self.max_body_bytes = max_body_bytes
        self.max_message_chars = load_settings().max_message_chars
        self.done = done_ids_from_url(dedup_url)
        self.turns = Turns()
        self.sender = HttpSender(policy)
        self.texts = texts
        if not self.configured:
            self.log.warning(
                "%s channel not configured (%s unset): its webhook answers 503",
                self.name(),
                self.env_names,
            )

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(type(self).__module__)

    @property
    def configured(self) -> bool:
        raise NotImplementedError

    # ---- what each connector supplies

    def signature_ok(self, request: Request) -> bool:
        raise NotImplementedError

    def signature_refused(self) -> None:
        """Log a refused signature (the wording names what to check)."""
        raise NotImplementedError

    def incoming(self, request: Request) -> list[Incoming] | HTTPResponse:
        """The messages of an authentic webhook, or an error response."""
        raise NotImplementedError

    def accepted(self) -> HTTPResponse:
        raise NotImplementedError

    def reply_channel(self, incoming: Incoming) -> OutputChannel:
        return self.get_output_channel()

    def add_routes(self, hook: Blueprint) -> None:
        """Routes besides health and POST /webhook (Meta's verification)."""

    # ---- shared

    def user_message(self, incoming: Incoming) -> UserMessage:
        text, metadata = capped(incoming.text, self.max_message_chars)
        if self.choices is not None:
            # "2" after a numbered list of options means option 2.
            text = self.choices.resolve(incoming.sender_id, text) or text
        return UserMessage(
            text,
            self.reply_channel(incoming),
            incoming.sender_id,
            input_channel=self.name(),
            message_id=incoming.message_id,
            metadata=metadata or None,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Sanic names a blueprint's routes after its import name: the module.
        hook = Blueprint(self.blueprint_name, type(self).__module__)
        limit_request_size(hook)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured})

        self.add_routes(hook)

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return not_configured(self.name())
            if len(request.body or b"") > self.max_body_bytes:
                return response.json({"error": "body too large"}, status=413)
            if not self.signature_ok(request):
                self.signature_refused()
                return response.json({"error": "invalid signature"}, status=403)
            found = self.incoming(request)
            if isinstance(found, HTTPResponse):
                return found
            delivery = await deliver(
                found, on_new_message, self.user_message, self.done, self.name(), self.turns
            )
            return self.accepted() if delivery.complete else failed_delivery(delivery)

        outbox.attach(self, hook)

        @hook.listener("after_server_stop")
        async def close_sender(*_: Any) -> None:
            # Turns already running finish (stored or failed) and hand their
            # replies over before the HTTP sender closes.
            settings = load_settings()
            await self.turns.drain(settings.turn_timeout + settings.send_timeout)
            await self.sender.close()

        return hook


class MetaWebhookInput(WebhookInput):
    """Messenger and WhatsApp Cloud: same handshake, signature and JSON body."""

    verify = ""
    secret = ""

    def add_routes(self, hook: Blueprint) -> None:
        @hook.route("/webhook", methods=["GET"])
        async def verification(request: Request) -> HTTPResponse:
            if not self.verify:
                return not_configured(self.name())
            return verify_subscription(request, self.verify)

    def signature_ok(self, request: Request) -> bool:
        # The signature covers the raw bytes: checked before parsing.
        return verify_meta_signature(
            self.secret, request.body or b"", request.headers.get(META_SIGNATURE_HEADER)
        )

    def signature_refused(self) -> None:
        self.log.warning(
            "%s: webhook with missing or bad %s refused", self.name(), META_SIGNATURE_HEADER
        )

    def events(self, payload: dict[str, Any]) -> list[Incoming]:
        raise NotImplementedError

    def incoming(self, request: Request) -> list[Incoming] | HTTPResponse:
        payload, error = read_json_body(request)
        return error if error is not None else self.events(payload)

    def accepted(self) -> HTTPResponse:
        # 200 for every authentic delivery, even if nothing in it was for
        # us: anything else makes Meta redeliver it.
        return response.text("EVENT_RECEIVED")

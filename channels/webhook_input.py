"""The request pipeline the three webhook connectors share.

Messenger, WhatsApp and Twilio answer a webhook the same way, and the order
matters: 503 when the channel has no secrets (so `rasa run` still starts),
413 before touching a large body, 403 before parsing anything the signature
does not vouch for, then each new message to Rasa on its own (channels/
webhook.py ``deliver``). Only "how is it signed" and "where are the messages
in it" differ; a connector supplies those and nothing else.

Log lines go to the connector's own logger (``channels.messenger``, ...), as
they did when each connector had its own copy of this code.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import render
from channels.dedup import ChoiceMemory, seen_ids_from_url
from channels.outbound import HttpSender, RetryPolicy
from channels.signatures import META_SIGNATURE_HEADER, verify_meta_signature
from channels.webhook import (
    Incoming,
    credential,
    deliver,
    not_configured,
    number,
    read_json_body,
    verify_subscription,
)


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
    the per-kind entry points go back to it."""

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
        self.seen = seen_ids_from_url(dedup_url)
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
        text = incoming.text
        if self.choices is not None:
            # "2" after a numbered list of options means option 2.
            text = self.choices.resolve(incoming.sender_id, text) or text
        return UserMessage(
            text,
            self.reply_channel(incoming),
            incoming.sender_id,
            input_channel=self.name(),
            message_id=incoming.message_id,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Second argument as the connectors always passed it (their __name__).
        hook = Blueprint(self.blueprint_name, type(self).__module__)

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
            await deliver(
                found, on_new_message, self.user_message, self.seen.first_time, self.name()
            )
            return self.accepted()

        @hook.listener("after_server_stop")
        async def close_sender(*_: Any) -> None:
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
        payload, error = read_json_body(request, self.max_body_bytes)
        return error if error is not None else self.events(payload)

    def accepted(self) -> HTTPResponse:
        # 200 for every authentic delivery, even if nothing in it was for
        # us: anything else makes Meta redeliver it.
        return response.text("EVENT_RECEIVED")

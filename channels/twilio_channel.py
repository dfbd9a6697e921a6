"""Twilio connector for SMS and WhatsApp-via-Twilio (channel name ``twilio``).

Fixes over Rasa 3.6's ``TwilioInput``: the ``X-Twilio-Signature`` is checked
(Rasa does not check it at all), a webhook without ``Body`` is answered
cleanly instead of crashing on ``None.replace`` (Rasa's ``debug_mode`` then
re-raises into a 500), and replies go through aiohttp with timeouts and the
durable outbox (channels/outbox.py) instead of the blocking Twilio client.

A webhook without ``Body`` and without media gets 200 with an empty TwiML
``<Response/>``: Twilio treats it as "nothing to say" and does not retry.
Media (picture, voice note) and locations become ``/non_text``.

Replies are sent with the Messages REST API from the number the customer wrote
to (the webhook's ``To``), so SMS replies come from the SMS number and
WhatsApp replies from the ``whatsapp:+...`` sender.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import render
from channels.dedup import ChoiceMemory
from channels.outbound import DEFAULT_POLICY, HttpSender, RetryPolicy, SendResult
from channels.signatures import TWILIO_SIGNATURE_HEADER, verify_twilio_signature
from channels.webhook_input import (
    DEFAULT_TWILIO_MAX_BODY,
    NON_TEXT,
    Incoming,
    RenderedOutput,
    WebhookInput,
    conversation_or_none,
    credential,
    shared_options,
)
from nps.identity import log_id, split

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.twilio.com"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twiml_ok() -> HTTPResponse:
    return response.text(EMPTY_TWIML, content_type="text/xml")


def form_params(body: bytes) -> dict[str, list[str]]:
    """All POST parameters, repeated ones included (the signature covers them)."""
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def conversation_of(sender: str) -> str | None:
    """Twilio's ``From`` as a conversation: "whatsapp:+48…" stays a WhatsApp
    conversation (the same one as on the Cloud API), "+48…" is SMS."""
    if sender.startswith("whatsapp:"):
        return conversation_or_none("whatsapp", sender)
    return conversation_or_none("sms", sender)


def address_of(conversation: str) -> str:
    """The ``To`` for a conversation: "+48…" for SMS, "whatsapp:+48…"."""
    channel, number = split(conversation)
    return f"whatsapp:{number}" if channel == "whatsapp" else number


def incoming_from_form(params: dict[str, list[str]]) -> Incoming | None:
    """The user message in a Twilio messaging webhook, or None."""

    def first(name: str) -> str:
        return (params.get(name) or [""])[0]

    sender = conversation_of(first("From")) if first("From") else None
    if sender is None:
        return None
    body = first("Body")
    try:
        media = int(first("NumMedia") or 0)
    except ValueError:
        media = 0
    if body.strip():
        # Some carriers turn "@" into "¡" in SMS (as Rasa's connector notes).
        text = body.replace("¡", "@")
    elif media > 0 or (first("Latitude") and first("Longitude")):
        text = NON_TEXT
    else:
        return None
    return Incoming(
        sender_id=sender,
        text=text,
        message_id=first("MessageSid") or None,
        metadata={"to": first("To")},
    )


def signed_url(public_url: str, request: Request) -> str:
    """The URL Twilio signed: the configured public URL (behind a proxy or a
    tunnel the URL Sanic sees differs), plus the query string, if any."""
    if not public_url:
        return request.url
    query = request.query_string
    return f"{public_url}?{query}" if query else public_url


class TwilioOutput(RenderedOutput):
    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        send_url: str,
        sender: HttpSender,
        choices: ChoiceMemory,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.send_url = send_url
        self.sender = sender
        self.choices = choices
        self.texts = texts

    def _from_for(self, to: str) -> str:
        sender = self.from_number
        if to.startswith("whatsapp:") and not sender.startswith("whatsapp:"):
            sender = "whatsapp:" + sender
        return sender

    def route(self) -> dict[str, Any]:
        # The number the customer wrote to: replies come from it.
        return {"from": self.from_number}

    def parts(self, recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The Messages API form fields (without To/From) of one bot message."""
        parts, choices = render.sms_messages(dict(message), self.texts)
        if parts:
            self.choices.remember(recipient_id, choices)
        return parts

    async def send_part(self, recipient_id: str, part: dict[str, Any]) -> SendResult:
        to = address_of(recipient_id)  # recipient_id is the conversation id
        return await self.sender.send_once(
            self.send_url,
            data={"To": to, "From": self._from_for(to), **part},
            auth=(self.account_sid, self.auth_token),
            conversation_id=log_id(recipient_id),
            what="twilio send",
            platform="twilio",
        )


class TwilioInput(WebhookInput):
    blueprint_name = "twilio_webhook"
    env_names = "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN"

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(
            account_sid=credential(credentials, "account_sid"),
            auth_token=credential(credentials, "auth_token"),
            twilio_number=credential(credentials, "twilio_number"),
            public_url=credential(credentials, "public_url"),
            api_url=credential(credentials, "api_url", DEFAULT_API_URL),
            **shared_options(credentials, "_", DEFAULT_TWILIO_MAX_BODY),
        )

    def __init__(
        self,
        account_sid: str = "",
        auth_token: str = "",
        twilio_number: str = "",
        public_url: str = "",
        api_url: str = DEFAULT_API_URL,
        max_body_bytes: int = DEFAULT_TWILIO_MAX_BODY,
        dedup_url: str = "",
        policy: RetryPolicy = DEFAULT_POLICY,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.twilio_number = twilio_number
        self.public_url = public_url
        self.send_url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.choices = ChoiceMemory()
        self._setup(max_body_bytes, dedup_url, policy, texts)

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token)

    def output_for(self, from_number: str) -> TwilioOutput:
        return TwilioOutput(
            self.account_sid,
            self.auth_token,
            from_number or self.twilio_number,
            self.send_url,
            self.sender,
            self.choices,
            self.texts,
        )

    def get_output_channel(self) -> OutputChannel:
        return self.output_for(self.twilio_number)

    def outbox_output(self, route: dict[str, Any]) -> TwilioOutput:
        """The output channel for a stored reply (channels.outbox): from the
        number the customer wrote to, kept in the row."""
        return self.output_for(str(route.get("from") or ""))

    def reply_channel(self, incoming: Incoming) -> OutputChannel:
        # From the number the customer wrote to (SMS or whatsapp: sender).
        return self.output_for(incoming.metadata.get("to", ""))

    def signature_ok(self, request: Request) -> bool:
        # Twilio signs the URL plus the form parameters, not the raw body.
        return verify_twilio_signature(
            self.auth_token,
            signed_url(self.public_url, request),
            form_params(request.body or b""),
            request.headers.get(TWILIO_SIGNATURE_HEADER),
        )

    def signature_refused(self) -> None:
        logger.warning(
            "twilio: webhook with missing or bad %s refused (is public_url "
            "the exact webhook URL set in Twilio?)",
            TWILIO_SIGNATURE_HEADER,
        )

    def incoming(self, request: Request) -> list[Incoming]:
        incoming = incoming_from_form(form_params(request.body or b""))
        if incoming is None:
            logger.info("twilio: webhook without Body or media ignored")
            return []  # still answered with an empty <Response/>: no retry
        return [incoming]

    def accepted(self) -> HTTPResponse:
        return twiml_ok()

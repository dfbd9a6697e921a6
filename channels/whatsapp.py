"""WhatsApp Cloud API connector (channel name ``whatsapp``); Rasa has none.

In: Meta's webhook (GET verification handshake, POST signed with
``X-Hub-Signature-256``). Text, interactive ``button_reply`` / ``list_reply``
and template quick-reply ``button`` messages become user messages; media,
stickers, locations become ``/non_text``; status callbacks (sent, delivered,
read, failed) and reactions are ignored. Meta redelivers a webhook it thinks
failed, so each message id is handled once (channels/dedup.py).

Out: ``POST /{phone-number-id}/messages`` with text, reply buttons, list
messages or numbered text, within WhatsApp's limits (channels/render.py).
A business-started conversation outside the 24-hour window needs an approved
template: see channels/whatsapp_template.py.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import render
from channels.dedup import ChoiceMemory, seen_ids_from_url
from channels.outbound import DEFAULT_POLICY, HttpSender, RetryPolicy
from channels.signatures import META_SIGNATURE_HEADER, verify_meta_signature
from channels.webhook import (DEFAULT_META_MAX_BODY, NON_TEXT, Incoming, credential,
                              deliver, not_configured, number, read_json_body,
                              verify_subscription)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
NON_TEXT_TYPES = {"image", "audio", "video", "document", "sticker", "location",
                  "contacts", "unsupported"}
IGNORED_TYPES = {"reaction", "system", "ephemeral", "request_welcome", "order"}


def message_text(message: Dict[str, Any]) -> Optional[str]:
    """The user message in one ``messages[]`` item, or None to ignore it."""
    kind = message.get("type")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return body if isinstance(body, str) and body.strip() else None
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        # The id is the Rasa payload we put on the button or row.
        return str(reply["id"]) if reply.get("id") else (reply.get("title") or None)
    if kind == "button":
        # A quick-reply button of a template message (survey invitation).
        button = message.get("button") or {}
        return button.get("payload") or button.get("text") or None
    if kind in NON_TEXT_TYPES:
        return NON_TEXT
    return None  # reactions, system notices, anything new and unknown


def whatsapp_events(payload: Dict[str, Any], phone_number_id: str = "") -> List[Incoming]:
    """Every user message of a webhook, in order; statuses are not messages."""
    if payload.get("object") != "whatsapp_business_account":
        return []
    found: List[Incoming] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value") or {}
            target = str((value.get("metadata") or {}).get("phone_number_id") or "")
            if phone_number_id and target and target != phone_number_id:
                # Another number of the same business account: replying from
                # ours would confuse the customer.
                continue
            # value["statuses"] (sent/delivered/read/failed) is ignored.
            for message in value.get("messages") or []:
                if not isinstance(message, dict) or not message.get("from"):
                    continue
                text = message_text(message)
                if text is None:
                    continue
                found.append(Incoming(sender_id=str(message["from"]), text=text,
                                      message_id=message.get("id")))
    return found


class WhatsAppOutput(OutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    def __init__(self, access_token: str, send_url: str, sender: HttpSender,
                 choices: ChoiceMemory, texts: render.Texts = render.DEFAULT_TEXTS) -> None:
        self.access_token = access_token
        self.send_url = send_url
        self.sender = sender
        self.choices = choices
        self.texts = texts

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        parts, choices = render.whatsapp_messages(dict(message), self.texts)
        if parts:
            self.choices.remember(recipient_id, choices)
        for part in parts:
            body = {"messaging_product": "whatsapp", "recipient_type": "individual",
                    "to": recipient_id, **part}
            result = await self.sender.post(
                self.send_url, json=body,
                headers={"Authorization": f"Bearer {self.access_token}"},
                conversation_id=recipient_id, what="whatsapp send")
            if not result.ok:
                break

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"image": image})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message})


def messages_url(api_url: str, api_version: str, phone_number_id: str) -> str:
    return f"{api_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"


class WhatsAppInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(
            verify=credential(credentials, "verify"),
            secret=credential(credentials, "secret"),
            access_token=credential(credentials, "access-token"),
            phone_number_id=credential(credentials, "phone-number-id"),
            api_url=credential(credentials, "api-url", DEFAULT_API_URL),
            api_version=credential(credentials, "api-version", DEFAULT_API_VERSION),
            max_body_bytes=int(number(credentials, "max-body-bytes", DEFAULT_META_MAX_BODY)),
            dedup_url=credential(credentials, "dedup-url"),
            policy=RetryPolicy(timeout=number(credentials, "timeout", 10.0),
                               attempts=int(number(credentials, "retries", 2)) + 1),
            texts=render.Texts.from_credentials(credentials),
        )

    def __init__(self, verify: str = "", secret: str = "", access_token: str = "",
                 phone_number_id: str = "", api_url: str = DEFAULT_API_URL,
                 api_version: str = DEFAULT_API_VERSION,
                 max_body_bytes: int = DEFAULT_META_MAX_BODY, dedup_url: str = "",
                 policy: RetryPolicy = DEFAULT_POLICY,
                 texts: render.Texts = render.DEFAULT_TEXTS) -> None:
        self.verify = verify
        self.secret = secret
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.send_url = messages_url(api_url, api_version, phone_number_id)
        self.max_body_bytes = max_body_bytes
        self.seen = seen_ids_from_url(dedup_url)
        self.choices = ChoiceMemory()
        self.sender = HttpSender(policy)
        self.texts = texts
        if not self.configured:
            logger.warning("whatsapp channel not configured (WHATSAPP_APP_SECRET / "
                           "WHATSAPP_ACCESS_TOKEN / WHATSAPP_PHONE_NUMBER_ID unset): "
                           "its webhook answers 503")

    @property
    def configured(self) -> bool:
        return bool(self.secret and self.access_token and self.phone_number_id)

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.access_token, self.send_url, self.sender, self.choices,
                              self.texts)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("whatsapp_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.configured})

        @hook.route("/webhook", methods=["GET"])
        async def verification(request: Request) -> HTTPResponse:
            if not self.verify:
                return not_configured(self.name())
            return verify_subscription(request, self.verify)

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return not_configured(self.name())
            if len(request.body or b"") > self.max_body_bytes:
                return response.json({"error": "body too large"}, status=413)
            if not verify_meta_signature(self.secret, request.body or b"",
                                         request.headers.get(META_SIGNATURE_HEADER)):
                logger.warning("whatsapp: webhook with missing or bad %s refused",
                               META_SIGNATURE_HEADER)
                return response.json({"error": "invalid signature"}, status=403)
            payload, error = read_json_body(request, self.max_body_bytes)
            if error is not None:
                return error
            out = self.get_output_channel()

            def user_message(incoming: Incoming) -> UserMessage:
                # "2" after a numbered list of options means option 2.
                text = self.choices.resolve(incoming.sender_id, incoming.text) or incoming.text
                return UserMessage(text, out, incoming.sender_id,
                                   input_channel=self.name(), message_id=incoming.message_id)

            await deliver(whatsapp_events(payload, self.phone_number_id), on_new_message,
                          user_message, self.seen.first_time, self.name())
            return response.text("EVENT_RECEIVED")

        @hook.listener("after_server_stop")
        async def close_sender(*_: Any) -> None:
            await self.sender.close()

        return hook

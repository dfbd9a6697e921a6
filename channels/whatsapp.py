"""WhatsApp Cloud API connector (channel name ``whatsapp``); Rasa has none.

In: Meta's webhook (GET verification handshake, POST signed with
``X-Hub-Signature-256``). Text, interactive ``button_reply`` / ``list_reply``
and template quick-reply ``button`` messages become user messages; media,
stickers, locations become ``/non_text``; reactions and the sent, delivered
and read statuses are ignored; a ``failed`` status is recorded against the
outbox row of the message it is about (``failed_statuses``). Meta redelivers a webhook it thinks
failed, so each message id is handled once (channels/dedup.py).

Out: ``POST /{phone-number-id}/messages`` with text, reply buttons, list
messages or numbered text, within WhatsApp's limits (channels/render.py),
part by part through the durable outbox (channels/outbox.py).
A business-started conversation outside the 24-hour window needs an approved
template: see channels/whatsapp_template.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel

from channels import outbox as outbox_module
from channels import render
from channels.dedup import ChoiceMemory
from channels.outbound import (
    DEFAULT_POLICY,
    HttpSender,
    RetryPolicy,
    SendResult,
    redact_ids,
)
from channels.webhook_input import (
    DEFAULT_META_MAX_BODY,
    NON_TEXT,
    Incoming,
    MetaWebhookInput,
    RenderedOutput,
    conversation_or_none,
    credential,
    shared_options,
)
from nps.identity import log_id, platform_id
from nps.settings import load_settings

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
NON_TEXT_TYPES = {
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "unsupported",
}
IGNORED_TYPES = {"reaction", "system", "ephemeral", "request_welcome", "order"}


def message_text(message: dict[str, Any]) -> str | None:
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


def message_values(payload: dict[str, Any], phone_number_id: str = "") -> Iterator[dict[str, Any]]:
    """The ``value`` of every "messages" change of a webhook addressed to our
    number, in order (messages and delivery statuses are both in there)."""
    if payload.get("object") != "whatsapp_business_account":
        return
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value") or {}
            if not isinstance(value, dict):
                continue
            target = str((value.get("metadata") or {}).get("phone_number_id") or "")
            if phone_number_id and target and target != phone_number_id:
                # Another number of the same business account: replying from
                # ours would confuse the customer.
                continue
            yield value


def whatsapp_events(payload: dict[str, Any], phone_number_id: str = "") -> list[Incoming]:
    """Every user message of a webhook, in order; statuses are not messages."""
    found: list[Incoming] = []
    for value in message_values(payload, phone_number_id):
        # value["statuses"]: not messages (failed ones: failed_statuses).
        for message in value.get("messages") or []:
            if not isinstance(message, dict) or not message.get("from"):
                continue
            text = message_text(message)
            if text is None:
                continue
            # "48600100200" (wa_id) -> "whatsapp:+48600100200"
            conversation = conversation_or_none("whatsapp", str(message["from"]))
            if conversation is None:
                continue
            found.append(Incoming(sender_id=conversation, text=text, message_id=message.get("id")))
    return found


# The language of the reply template when NPS_WHATSAPP_REPLY_TEMPLATE names none.
DEFAULT_TEMPLATE_LANGUAGE = "pl"
# WhatsApp's limit for one body parameter of a template.
TEMPLATE_PARAMETER_MAX = 1024


def reply_template_part(text: str, setting: str) -> dict[str, Any] | None:
    """The template message (without the recipient) that carries an agent's
    reply outside the 24-hour window: ``setting`` is "name" or "name:language"
    (NPS_WHATSAPP_REPLY_TEMPLATE), the text its one body parameter. None when
    no template is configured (pure)."""
    name, _, language = (setting or "").strip().partition(":")
    if not name.strip():
        return None
    # A parameter may not contain new lines or more than 4 spaces in a row.
    flat = " ".join(text.split())
    return {
        "type": "template",
        "template": {
            "name": name.strip(),
            "language": {"code": language.strip() or DEFAULT_TEMPLATE_LANGUAGE},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": render.truncate(flat, TEMPLATE_PARAMETER_MAX)}
                    ],
                }
            ],
        },
    }


class WhatsAppOutput(RenderedOutput):
    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(
        self,
        access_token: str,
        send_url: str,
        sender: HttpSender,
        choices: ChoiceMemory,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.access_token = access_token
        self.send_url = send_url
        self.sender = sender
        self.choices = choices
        self.texts = texts

    def route(self) -> dict[str, Any]:
        return {}  # the connector alone rebuilds this output channel

    def parts(self, recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The Cloud API message bodies (without the recipient) of one bot message.

        An agent's reply outside the 24-hour window (metadata ``delivery``
        "template", decided by cases/reply.py) goes as the approved template
        NPS_WHATSAPP_REPLY_TEMPLATE with the agent's words as its parameter.
        """
        if message.get("agent_reply") is True and message.get("delivery") == "template":
            part = reply_template_part(
                str(message.get("text") or ""), load_settings().whatsapp_reply_template
            )
            if part is None:
                logger.error(
                    "whatsapp: an agent's reply to %s needs a template and none is "
                    "configured (NPS_WHATSAPP_REPLY_TEMPLATE): not sent",
                    log_id(recipient_id),
                )
                return []
            return [part]
        parts, choices = render.whatsapp_messages(dict(message), self.texts)
        if parts:
            self.choices.remember(recipient_id, choices)
        return parts

    async def send_part(self, recipient_id: str, part: dict[str, Any]) -> SendResult:
        # The conversation is "whatsapp:+48600100200"; the Cloud API is sent
        # the wa_id it gave us ("48600100200"): digits only, as Meta writes it.
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": platform_id(recipient_id).removeprefix("+"),
            **part,
        }
        return await self.sender.send_once(
            self.send_url,
            json=body,
            headers={"Authorization": f"Bearer {self.access_token}"},
            conversation_id=log_id(recipient_id),
            what="whatsapp send",
            platform="meta",
        )


@dataclass(frozen=True)
class DeliveryFailure:
    """A ``statuses[]`` item with status "failed": one of our messages that
    WhatsApp could not deliver (outside the 24-hour window, not a WhatsApp
    user, throttled...), reported after it accepted it."""

    message_id: str  # the wamid it returned when we sent the message
    conversation_id: str | None
    codes: tuple[int | None, ...]
    titles: tuple[str, ...]

    def error(self) -> str:
        # Codes are numbers of Meta's, kept; titles are redacted like any text.
        listed = ", ".join(
            f"code {code}: {redact_ids(title)}".strip()
            for code, title in zip(self.codes, self.titles, strict=True)
        )
        return f"whatsapp status failed: {listed or 'no error given'}"


def failed_statuses(payload: dict[str, Any], phone_number_id: str = "") -> list[DeliveryFailure]:
    """Every "failed" delivery status of a webhook (pure)."""
    found: list[DeliveryFailure] = []
    for value in message_values(payload, phone_number_id):
        for status in value.get("statuses") or []:
            if not isinstance(status, dict) or status.get("status") != "failed":
                continue
            if not status.get("id"):
                continue
            errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
            recipient = status.get("recipient_id")
            found.append(
                DeliveryFailure(
                    message_id=str(status["id"]),
                    conversation_id=(
                        conversation_or_none("whatsapp", str(recipient)) if recipient else None
                    ),
                    codes=tuple(_int_or_none(e.get("code")) for e in errors),
                    titles=tuple(str(e.get("title") or "")[:100] for e in errors),
                )
            )
    return found


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def record_failures(
    failures: list[DeliveryFailure], outbox: outbox_module.Outbox | None = None
) -> None:
    """Record failed delivery statuses in the outbox; logged, never raised."""
    box = outbox or outbox_module.default_outbox()
    for failure in failures:
        try:
            matched = await asyncio.to_thread(
                box.record_delivery_failure,
                "whatsapp",
                failure.message_id,
                failure.conversation_id,
                failure.error(),
            )
        except Exception as error:  # noqa: BLE001 - a status must not break the webhook
            logger.error(
                "whatsapp: a failed delivery status could not be recorded (%s)",
                error.__class__.__name__,
            )
            continue
        logger.warning(
            "whatsapp: message to %s not delivered (codes %s)%s",
            log_id(failure.conversation_id) if failure.conversation_id else "an unknown recipient",
            ",".join(str(c) for c in failure.codes) or "none",
            "" if matched else "; not one of the outbox's, recorded on its own",
        )


def messages_url(api_url: str, api_version: str, phone_number_id: str) -> str:
    return f"{api_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"


class WhatsAppInput(MetaWebhookInput):
    blueprint_name = "whatsapp_webhook"
    env_names = "WHATSAPP_APP_SECRET / WHATSAPP_ACCESS_TOKEN / WHATSAPP_PHONE_NUMBER_ID"

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(
            verify=credential(credentials, "verify"),
            secret=credential(credentials, "secret"),
            access_token=credential(credentials, "access-token"),
            phone_number_id=credential(credentials, "phone-number-id"),
            api_url=credential(credentials, "api-url", DEFAULT_API_URL),
            api_version=credential(credentials, "api-version", DEFAULT_API_VERSION),
            **shared_options(credentials, "-", DEFAULT_META_MAX_BODY),
        )

    def __init__(
        self,
        verify: str = "",
        secret: str = "",
        access_token: str = "",
        phone_number_id: str = "",
        api_url: str = DEFAULT_API_URL,
        api_version: str = DEFAULT_API_VERSION,
        max_body_bytes: int = DEFAULT_META_MAX_BODY,
        dedup_url: str = "",
        policy: RetryPolicy = DEFAULT_POLICY,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.verify = verify
        self.secret = secret
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.send_url = messages_url(api_url, api_version, phone_number_id)
        self.choices = ChoiceMemory()
        self._status_tasks: set[asyncio.Task] = set()
        self._setup(max_body_bytes, dedup_url, policy, texts)

    @property
    def configured(self) -> bool:
        return bool(self.secret and self.access_token and self.phone_number_id)

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(
            self.access_token, self.send_url, self.sender, self.choices, self.texts
        )

    def outbox_output(self, route: dict[str, Any]) -> WhatsAppOutput:
        """The output channel for a stored reply (channels.outbox)."""
        return self.get_output_channel()

    def events(self, payload: dict[str, Any]) -> list[Incoming]:
        failures = failed_statuses(payload, self.phone_number_id)
        if failures:
            # Recorded in the background: the webhook's answer must not wait
            # for the database (Meta redelivers slow webhooks).
            task = asyncio.get_running_loop().create_task(record_failures(failures))
            self._status_tasks.add(task)
            task.add_done_callback(self._status_tasks.discard)
        return whatsapp_events(payload, self.phone_number_id)

"""Facebook Messenger connector (channel name ``facebook``).

Configured like Rasa's own (``verify``, ``secret``, ``page-access-token``) but
fixes what Rasa 3.6's ``FacebookInput`` gets wrong (BRIEF section 6):

* verifies ``X-Hub-Signature-256`` in constant time and answers 403 to a
  missing or bad signature (Rasa: SHA-1 with ``==``, 200 "not validated");
* handles every event of every entry of a batched webhook (Rasa: the first);
* ignores echoes, deliveries, reads, reactions and standby entries (Rasa
  raises on an entry without ``messaging`` and treats echoed attachments as
  user messages);
* attachments (image, sticker, audio, video, file) become ``/non_text``;
* sends with aiohttp, timeouts and retries (Rasa: blocking ``fbmessenger``
  calls without timeout inside the event loop), buttons as up to 13 quick
  replies (``fbmessenger`` refuses more than 11; the 0-10 question has 11).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import render
from channels.dedup import seen_ids_from_url
from channels.outbound import DEFAULT_POLICY, HttpSender, RetryPolicy
from channels.signatures import META_SIGNATURE_HEADER, verify_meta_signature
from channels.webhook import (DEFAULT_META_MAX_BODY, NON_TEXT, Incoming, credential,
                              deliver, not_configured, number, read_json_body,
                              verify_subscription)

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
NON_TEXT_ATTACHMENTS = {"image", "audio", "video", "file", "sticker", "location", "fallback"}
_REF_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def start_payload(ref: str) -> str:
    """``/start{"touchpoint": ...}`` from an m.me link's ``ref`` parameter.

    The ref comes from a URL anyone can craft: keep only safe characters and
    JSON-encode, so it can never break out of the entity JSON.
    """
    touchpoint = _REF_SAFE.sub("", ref)[:64]
    if not touchpoint:
        return "/start"
    return "/start" + json.dumps({"touchpoint": touchpoint})


def event_text(event: Dict[str, Any]) -> Optional[str]:
    """The user message carried by one ``messaging`` event, or None to ignore."""
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # our own page's message, echoed back
        quick_reply = message.get("quick_reply") or {}
        if quick_reply.get("payload"):
            # Checked before `text`: a quick reply has both, the payload is
            # what the button means ("7"), the text is its title.
            return str(quick_reply["payload"])
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            return text
        attachments = message.get("attachments") or []
        if any(isinstance(a, dict) and a.get("type") in NON_TEXT_ATTACHMENTS
               for a in attachments):
            return NON_TEXT
        return None
    postback = event.get("postback")
    if isinstance(postback, dict):
        ref = (postback.get("referral") or {}).get("ref")
        if ref:
            return start_payload(str(ref))  # "Get Started" from an m.me/...?ref= link
        payload = postback.get("payload")
        return str(payload) if payload else None
    referral = event.get("referral")
    if isinstance(referral, dict) and referral.get("ref"):
        return start_payload(str(referral["ref"]))  # existing thread opened via m.me link
    # delivery, read, reaction, optin, account_linking, ...: not a user message
    return None


def messenger_events(payload: Dict[str, Any]) -> List[Incoming]:
    """Every user message of a (possibly batched) webhook, in order."""
    if payload.get("object") != "page":
        return []
    found: List[Incoming] = []
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        # Standby entries (another app owns the thread) have `standby`
        # instead of `messaging`: not ours to answer.
        for event in entry.get("messaging") or []:
            if not isinstance(event, dict):
                continue
            sender = (event.get("sender") or {}).get("id")
            text = event_text(event)
            if not sender or text is None:
                continue
            mid = ((event.get("message") or {}).get("mid")
                   or (event.get("postback") or {}).get("mid"))
            found.append(Incoming(sender_id=str(sender), text=text, message_id=mid))
    return found


class MessengerOutput(OutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "facebook"

    def __init__(self, page_access_token: str, send_url: str, sender: HttpSender,
                 texts: render.Texts = render.DEFAULT_TEXTS) -> None:
        self.page_access_token = page_access_token
        self.send_url = send_url
        self.sender = sender
        self.texts = texts

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        for part in render.messenger_messages(dict(message), self.texts):
            result = await self.sender.post(
                self.send_url,
                json={"recipient": {"id": recipient_id}, "messaging_type": "RESPONSE",
                      "message": part},
                # Header, not ?access_token=: tokens in URLs end up in logs.
                headers={"Authorization": f"Bearer {self.page_access_token}"},
                conversation_id=recipient_id, what="messenger send")
            if not result.ok:
                break  # later parts without the earlier ones would not make sense

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


class MessengerInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Tolerates missing values: an unconfigured channel answers 503
        # instead of stopping `rasa run` for every other channel.
        graph = credential(credentials, "graph-url", DEFAULT_GRAPH_URL)
        return cls(
            verify=credential(credentials, "verify"),
            secret=credential(credentials, "secret"),
            page_access_token=credential(credentials, "page-access-token"),
            graph_url=graph,
            api_version=credential(credentials, "api-version", DEFAULT_API_VERSION),
            max_body_bytes=int(number(credentials, "max-body-bytes", DEFAULT_META_MAX_BODY)),
            dedup_url=credential(credentials, "dedup-url"),
            policy=RetryPolicy(timeout=number(credentials, "timeout", 10.0),
                               attempts=int(number(credentials, "retries", 2)) + 1),
            texts=render.Texts.from_credentials(credentials),
        )

    def __init__(self, verify: str = "", secret: str = "", page_access_token: str = "",
                 graph_url: str = DEFAULT_GRAPH_URL, api_version: str = DEFAULT_API_VERSION,
                 max_body_bytes: int = DEFAULT_META_MAX_BODY, dedup_url: str = "",
                 policy: RetryPolicy = DEFAULT_POLICY,
                 texts: render.Texts = render.DEFAULT_TEXTS) -> None:
        self.verify = verify
        self.secret = secret
        self.page_access_token = page_access_token
        self.send_url = f"{graph_url.rstrip('/')}/{api_version}/me/messages"
        self.max_body_bytes = max_body_bytes
        self.seen = seen_ids_from_url(dedup_url)
        self.sender = HttpSender(policy)
        self.texts = texts
        if not self.configured:
            logger.warning("facebook channel not configured (FB_APP_SECRET / "
                           "FB_PAGE_ACCESS_TOKEN unset): its webhook answers 503")

    @property
    def configured(self) -> bool:
        return bool(self.secret and self.page_access_token)

    def get_output_channel(self) -> OutputChannel:
        return MessengerOutput(self.page_access_token, self.send_url, self.sender, self.texts)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("messenger_webhook", __name__)

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
            # The signature covers the raw bytes: check it before parsing.
            if not verify_meta_signature(self.secret, request.body or b"",
                                         request.headers.get(META_SIGNATURE_HEADER)):
                logger.warning("facebook: webhook with missing or bad %s refused",
                               META_SIGNATURE_HEADER)
                return response.json({"error": "invalid signature"}, status=403)
            payload, error = read_json_body(request, self.max_body_bytes)
            if error is not None:
                return error
            out = self.get_output_channel()

            def user_message(incoming: Incoming) -> UserMessage:
                return UserMessage(incoming.text, out, incoming.sender_id,
                                   input_channel=self.name(), message_id=incoming.message_id)

            await deliver(messenger_events(payload), on_new_message, user_message,
                          self.seen.first_time, self.name())
            # 200 for every authentic delivery, even if nothing in it was for
            # us: anything else makes Meta redeliver it.
            return response.text("EVENT_RECEIVED")

        @hook.listener("after_server_stop")
        async def close_sender(*_: Any) -> None:
            await self.sender.close()

        return hook

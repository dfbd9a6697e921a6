"""Facebook Messenger connector (channel name ``facebook``).

Configured like Rasa's own (``verify``, ``secret``, ``page-access-token``) but
fixes what Rasa 3.6's ``FacebookInput`` gets wrong:

* verifies ``X-Hub-Signature-256`` in constant time and answers 403 to a
  missing or bad signature (Rasa: SHA-1 with ``==``, 200 "not validated");
* handles every event of every entry of a batched webhook (Rasa: the first);
* ignores echoes, deliveries, reads, reactions and standby entries (Rasa
  raises on an entry without ``messaging`` and treats echoed attachments as
  user messages);
* attachments (image, sticker, audio, video, file) become ``/non_text``;
* sends with aiohttp and timeouts (Rasa: blocking ``fbmessenger`` calls
  without timeout inside the event loop) through the durable outbox, part by
  part (channels/outbox.py), buttons as up to 13 quick replies
  (``fbmessenger`` refuses more than 11; the 0-10 question has 11).
"""

from __future__ import annotations

import json
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel

from channels import render
from channels.outbound import DEFAULT_POLICY, HttpSender, RetryPolicy, SendResult
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
from nps.flow import clean_touchpoint
from nps.identity import log_id, platform_id

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
NON_TEXT_ATTACHMENTS = {"image", "audio", "video", "file", "sticker", "location", "fallback"}


def start_payload(ref: str) -> str:
    """``/start{"touchpoint": ...}`` from an m.me link's ``ref`` parameter.

    The ref comes from a URL anyone can craft. It is kept only when it passes
    the touchpoint rule the start action applies too (``nps.flow.clean_touchpoint``),
    otherwise the survey starts without a touchpoint; JSON-encoded either way,
    so it can never break out of the entity JSON.
    """
    touchpoint = clean_touchpoint(ref)
    if touchpoint is None:
        return "/start"
    return "/start" + json.dumps({"touchpoint": touchpoint})


def event_text(event: dict[str, Any]) -> str | None:
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
        if any(isinstance(a, dict) and a.get("type") in NON_TEXT_ATTACHMENTS for a in attachments):
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


def messenger_events(payload: dict[str, Any]) -> list[Incoming]:
    """Every user message of a (possibly batched) webhook, in order."""
    if payload.get("object") != "page":
        return []
    found: list[Incoming] = []
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
            conversation = conversation_or_none("messenger", str(sender))
            if conversation is None:
                continue
            mid = (event.get("message") or {}).get("mid") or (event.get("postback") or {}).get(
                "mid"
            )
            found.append(Incoming(sender_id=conversation, text=text, message_id=mid))
    return found


# A human agent's reply up to 7 days after the customer's last message
# (Messenger's "HUMAN_AGENT" tag); within 24 hours a normal RESPONSE.
HUMAN_AGENT_TAG = "HUMAN_AGENT"
MESSAGE_TAGS = frozenset({HUMAN_AGENT_TAG})
# Where a rendered part keeps its tag until it is sent (not a Send API field).
TAG_KEY = "_nps_tag"


def message_tag(message: dict[str, Any]) -> str | None:
    """The message tag a bot message must be sent with, or None (RESPONSE).

    Only an agent's reply (bot message metadata ``agent_reply``, see
    actions/closed_loop.py) that cases/reply.py found outside the 24-hour
    window is tagged."""
    if message.get("agent_reply") is True and message.get("delivery") == "human_agent":
        return HUMAN_AGENT_TAG
    return None


class MessengerOutput(RenderedOutput):
    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(
        self,
        page_access_token: str,
        send_url: str,
        sender: HttpSender,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.page_access_token = page_access_token
        self.send_url = send_url
        self.sender = sender
        self.texts = texts

    def route(self) -> dict[str, Any]:
        return {}  # the connector alone rebuilds this output channel

    def parts(self, recipient_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The Send API ``message`` objects of one bot message, in order.

        An agent's reply outside the 24-hour window (metadata ``delivery``
        "human_agent", decided by cases/reply.py) carries the HUMAN_AGENT
        tag on each part (``TAG_KEY``, taken off again when sent), so the
        outbox keeps it with the part.
        """
        parts = render.messenger_messages(dict(message), self.texts)
        tag = message_tag(message)
        return [{**part, TAG_KEY: tag} for part in parts] if tag else parts

    async def send_part(self, recipient_id: str, part: dict[str, Any]) -> SendResult:
        # recipient_id is the conversation ("messenger:<psid>"); Meta knows the PSID.
        part = dict(part)
        tag = part.pop(TAG_KEY, None)
        kind = {"messaging_type": "MESSAGE_TAG", "tag": tag} if tag in MESSAGE_TAGS else {}
        return await self.sender.send_once(
            self.send_url,
            json={
                "recipient": {"id": platform_id(recipient_id)},
                "messaging_type": "RESPONSE",
                **kind,
                "message": part,
            },
            # Header, not ?access_token=: tokens in URLs end up in logs.
            headers={"Authorization": f"Bearer {self.page_access_token}"},
            conversation_id=log_id(recipient_id),
            what="messenger send",
            platform="meta",
        )


class MessengerInput(MetaWebhookInput):
    blueprint_name = "messenger_webhook"
    env_names = "FB_APP_SECRET / FB_PAGE_ACCESS_TOKEN"

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # Tolerates missing values: an unconfigured channel answers 503
        # instead of stopping `rasa run` for every other channel.
        return cls(
            verify=credential(credentials, "verify"),
            secret=credential(credentials, "secret"),
            page_access_token=credential(credentials, "page-access-token"),
            graph_url=credential(credentials, "graph-url", DEFAULT_GRAPH_URL),
            api_version=credential(credentials, "api-version", DEFAULT_API_VERSION),
            **shared_options(credentials, "-", DEFAULT_META_MAX_BODY),
        )

    def __init__(
        self,
        verify: str = "",
        secret: str = "",
        page_access_token: str = "",
        graph_url: str = DEFAULT_GRAPH_URL,
        api_version: str = DEFAULT_API_VERSION,
        max_body_bytes: int = DEFAULT_META_MAX_BODY,
        dedup_url: str = "",
        policy: RetryPolicy = DEFAULT_POLICY,
        texts: render.Texts = render.DEFAULT_TEXTS,
    ) -> None:
        self.verify = verify
        self.secret = secret
        self.page_access_token = page_access_token
        self.send_url = f"{graph_url.rstrip('/')}/{api_version}/me/messages"
        self._setup(max_body_bytes, dedup_url, policy, texts)

    @property
    def configured(self) -> bool:
        return bool(self.secret and self.page_access_token)

    def get_output_channel(self) -> OutputChannel:
        return MessengerOutput(self.page_access_token, self.send_url, self.sender, self.texts)

    def outbox_output(self, route: dict[str, Any]) -> MessengerOutput:
        """The output channel for a stored reply (channels.outbox)."""
        return MessengerOutput(self.page_access_token, self.send_url, self.sender, self.texts)

    def events(self, payload: dict[str, Any]) -> list[Incoming]:
        return messenger_events(payload)

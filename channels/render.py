"""Turn Rasa bot messages into platform payloads, within each platform's limits.

Pure functions (no I/O), table-tested in tests/channels/test_render.py.

A Rasa bot message is the dict an OutputChannel receives in ``send_response``:
``text``, ``buttons`` / ``quick_replies`` (``title`` + ``payload``),
``image``, ``attachment``, ``custom``, ``elements``. Like Rasa's own channels,
text is split into separate bubbles at blank lines ("\\n\\n"), and buttons go
with the last bubble.

The NPS question has 11 buttons (payloads "0".."10"). Each platform gets what
works best on it:

* Messenger: 11 quick replies (Meta allows 13).
* WhatsApp: reply buttons take 3 and lists 10 rows, so a 0-10 scale is asked
  as a typed number with a clear hint (the bot's score parser reads digits and
  Polish number words); 2-3 short options are reply buttons, up to 10 a list,
  more a numbered text.
* SMS (Twilio): the scale is a typed number, other options numbered text
  ("1. Tak / 2. Nie") whose numbers the connector maps back to payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Messenger Send API limits (developers.facebook.com/docs/messenger-platform).
MESSENGER_TEXT_MAX = 2000
MESSENGER_MAX_QUICK_REPLIES = 13
MESSENGER_QUICK_REPLY_TITLE_MAX = 20
MESSENGER_QUICK_REPLY_PAYLOAD_MAX = 1000

# WhatsApp Cloud API limits (developers.facebook.com/docs/whatsapp/cloud-api).
WHATSAPP_TEXT_MAX = 4096
WHATSAPP_INTERACTIVE_BODY_MAX = 1024
WHATSAPP_MAX_REPLY_BUTTONS = 3
WHATSAPP_BUTTON_TITLE_MAX = 20
WHATSAPP_BUTTON_ID_MAX = 256
WHATSAPP_MAX_LIST_ROWS = 10
WHATSAPP_ROW_TITLE_MAX = 24
WHATSAPP_ROW_DESCRIPTION_MAX = 72
WHATSAPP_ROW_ID_MAX = 200
WHATSAPP_LIST_BUTTON_MAX = 20

# Twilio Programmable Messaging: one Body is at most 1600 characters.
SMS_BODY_MAX = 1600

# A run of at least this many consecutive integer payloads is a rating scale.
SCALE_MIN_OPTIONS = 4

# Keys of a custom payload that are signals to the web chat, not messages
# (the finish and stop actions send {"survey_end": true} so the page clears
# its history). Messaging platforms get no message for them.
WEB_CHAT_SIGNALS = frozenset({"survey_end"})


def platform_custom(message: dict[str, Any]) -> dict[str, Any] | None:
    """The message's ``custom`` payload without web chat signals, or None."""
    custom = message.get("custom")
    if not isinstance(custom, dict):
        return None
    custom = {k: v for k, v in custom.items() if k not in WEB_CHAT_SIGNALS}
    return custom or None


@dataclass(frozen=True)
class Texts:
    """Words the renderers add. Polish by default, like the bot; overridable
    from credentials.yml for a bot in another language."""

    scale_hint: str = "Odpowiedz, wpisując liczbę od {lo} do {hi}."
    numbered_hint: str = "Odpowiedz numerem lub własnymi słowami."
    list_button: str = "Wybierz"
    choose: str = "Wybierz odpowiedź:"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> Texts:
        credentials = credentials or {}
        defaults = cls()
        return cls(
            scale_hint=credentials.get("scale-hint") or defaults.scale_hint,
            numbered_hint=credentials.get("numbered-hint") or defaults.numbered_hint,
            list_button=credentials.get("list-button") or defaults.list_button,
            choose=credentials.get("choose-text") or defaults.choose,
        )


DEFAULT_TEXTS = Texts()


# ---------------------------------------------------------------- helpers


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with an ellipsis."""
    text = text or ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def chunk_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, preferring
    line breaks, then spaces, so no word is cut unless it alone is too long."""
    text = (text or "").strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n"), window.rfind(" "))
        if cut <= limit // 2:
            cut = limit  # no good break point: hard cut
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def paragraphs(text: str | None) -> list[str]:
    """Rasa's convention: a blank line separates two chat bubbles."""
    return [part.strip() for part in (text or "").strip().split("\n\n") if part.strip()]


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return list(message.get("quick_replies") or message.get("buttons") or [])


def button_title(button: dict[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def button_payload(button: dict[str, Any]) -> str:
    return str(
        button.get("payload") if button.get("payload") is not None else button.get("title") or ""
    )


def numeric_scale(buttons: Sequence[dict[str, Any]]) -> tuple[int, int] | None:
    """(lo, hi) when the buttons are a rating scale: consecutive integers.

    The payloads decide, not the titles ("0 - wcale", "10 - na pewno" are
    still a scale).
    """
    if len(buttons) < SCALE_MIN_OPTIONS:
        return None
    values: list[int] = []
    for button in buttons:
        payload = button_payload(button).strip()
        if not payload.lstrip("-").isdigit():
            return None
        values.append(int(payload))
    ordered = sorted(values)
    if ordered != list(range(ordered[0], ordered[0] + len(ordered))):
        return None
    return ordered[0], ordered[-1]


def link_buttons(buttons: Sequence[dict[str, Any]]) -> list[str]:
    """Buttons that open a URL cannot be replies: they become text lines."""
    return [f"{button_title(b)}: {b['url']}" for b in buttons if b.get("url")]


def reply_buttons(buttons: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in buttons if not b.get("url")]


def numbered_options(
    buttons: Sequence[dict[str, Any]], texts: Texts = DEFAULT_TEXTS
) -> tuple[str, dict[str, str]]:
    """Text listing the options as "1. Tak" lines, and {"1": payload, ...}."""
    lines = [f"{i}. {button_title(b)}" for i, b in enumerate(buttons, start=1)]
    choices = {str(i): button_payload(b) for i, b in enumerate(buttons, start=1)}
    return "\n".join(lines + [texts.numbered_hint]), choices


def _with_last(parts: list[str], suffix: str) -> list[str]:
    if not parts:
        return [suffix]
    return parts[:-1] + [parts[-1] + "\n\n" + suffix]


def text_and_replies(message: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The paragraphs to send and the reply buttons, for every platform alike.

    Link buttons cannot be buttons on any of them, so their URLs go under the
    last paragraph; what stays is for each platform to render its own way.
    """
    parts = paragraphs(message.get("text"))
    buttons = buttons_of(message)
    links = link_buttons(buttons)
    if links:
        parts = _with_last(parts, "\n".join(links))
    return parts, reply_buttons(buttons)


# -------------------------------------------------------------- Messenger


def messenger_messages(
    message: dict[str, Any], texts: Texts = DEFAULT_TEXTS
) -> list[dict[str, Any]]:
    """Send API ``message`` objects for one Rasa bot message, in order."""
    out: list[dict[str, Any]] = []
    parts, replies = text_and_replies(message)
    bubbles = [piece for part in parts for piece in chunk_text(part, MESSENGER_TEXT_MAX)]

    quick_replies: list[dict[str, Any]] = []
    if replies and len(replies) <= MESSENGER_MAX_QUICK_REPLIES:
        quick_replies = [
            {
                "content_type": "text",
                "title": truncate(button_title(b), MESSENGER_QUICK_REPLY_TITLE_MAX),
                "payload": button_payload(b)[:MESSENGER_QUICK_REPLY_PAYLOAD_MAX],
            }
            for b in replies
        ]
        if not bubbles:
            bubbles = [texts.choose]  # quick replies need a text to hang on
    elif replies:
        # More than Meta allows: list them; the reply text goes through NLU.
        listing = "\n".join(f"• {button_title(b)}" for b in replies)
        bubbles = [
            p for part in _with_last(bubbles, listing) for p in chunk_text(part, MESSENGER_TEXT_MAX)
        ]

    for i, bubble in enumerate(bubbles):
        msg: dict[str, Any] = {"text": bubble}
        if quick_replies and i == len(bubbles) - 1:
            msg["quick_replies"] = quick_replies
        out.append(msg)

    if message.get("image"):
        out.append(
            {
                "attachment": {
                    "type": "image",
                    "payload": {"url": message["image"], "is_reusable": True},
                }
            }
        )
    attachment = message.get("attachment")
    if isinstance(attachment, dict):
        out.append({"attachment": attachment})
    elif attachment:
        out.append({"text": truncate(str(attachment), MESSENGER_TEXT_MAX)})
    if message.get("elements"):
        out.append(
            {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "generic", "elements": list(message["elements"])},
                }
            }
        )
    custom = platform_custom(message)
    if custom:
        # A `custom` response for Messenger is a ready Send API message object.
        out.append(custom)
    return out


# --------------------------------------------------------------- WhatsApp


def _wa_text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def whatsapp_messages(
    message: dict[str, Any], texts: Texts = DEFAULT_TEXTS
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """WhatsApp Cloud API message bodies (without ``to``/``messaging_product``)
    for one Rasa bot message, and the numbered choices offered ({} if none)."""
    out: list[dict[str, Any]] = []
    choices: dict[str, str] = {}
    parts, replies = text_and_replies(message)

    interactive: dict[str, Any] | None = None
    if replies:
        scale = numeric_scale(replies)
        titles = [button_title(b) for b in replies]
        ids = [button_payload(b) for b in replies]
        ids_fit = len(set(ids)) == len(ids) and all(0 < len(i) <= WHATSAPP_ROW_ID_MAX for i in ids)
        if scale:
            parts = _with_last(parts, texts.scale_hint.format(lo=scale[0], hi=scale[1]))
        elif (
            len(replies) <= WHATSAPP_MAX_REPLY_BUTTONS
            and ids_fit
            and all(len(t) <= WHATSAPP_BUTTON_TITLE_MAX for t in titles)
        ):
            buttons = [
                {"type": "reply", "reply": {"id": i, "title": t}}
                for i, t in zip(ids, titles, strict=True)
            ]
            interactive = {"type": "button", "action": {"buttons": buttons}}
        elif len(replies) <= WHATSAPP_MAX_LIST_ROWS and ids_fit:
            rows = []
            for i, t in zip(ids, titles, strict=True):
                row: dict[str, Any] = {"id": i, "title": truncate(t, WHATSAPP_ROW_TITLE_MAX)}
                if len(t) > WHATSAPP_ROW_TITLE_MAX:
                    # The full wording survives in the row's description.
                    row["description"] = truncate(t, WHATSAPP_ROW_DESCRIPTION_MAX)
                rows.append(row)
            interactive = {
                "type": "list",
                "action": {
                    "button": truncate(texts.list_button, WHATSAPP_LIST_BUTTON_MAX),
                    "sections": [{"rows": rows}],
                },
            }
        else:
            listing, choices = numbered_options(replies, texts)
            parts = _with_last(parts, listing)

    if interactive is not None:
        # The interactive body is limited to 1024 characters: earlier
        # bubbles go as plain text, the last one carries the buttons.
        pieces = [p for part in parts for p in chunk_text(part, WHATSAPP_TEXT_MAX)]
        last = pieces.pop() if pieces else texts.choose
        if len(last) > WHATSAPP_INTERACTIVE_BODY_MAX:
            more = chunk_text(last, WHATSAPP_INTERACTIVE_BODY_MAX)
            pieces.extend(more[:-1])
            last = more[-1]
        out.extend(_wa_text(p) for p in pieces)
        interactive["body"] = {"text": last}
        out.append({"type": "interactive", "interactive": interactive})
    else:
        out.extend(_wa_text(p) for part in parts for p in chunk_text(part, WHATSAPP_TEXT_MAX))

    if message.get("image"):
        out.append({"type": "image", "image": {"link": message["image"]}})
    attachment = message.get("attachment")
    if attachment and not isinstance(attachment, dict):
        out.append(_wa_text(truncate(str(attachment), WHATSAPP_TEXT_MAX)))
    custom = platform_custom(message)
    if custom:
        # A `custom` response for WhatsApp is a ready Cloud API message body
        # (e.g. {"type": "location", "location": {...}}).
        out.append(custom)
    return out, choices


# ------------------------------------------------------------ SMS (Twilio)


def sms_messages(
    message: dict[str, Any], texts: Texts = DEFAULT_TEXTS
) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Twilio Messages API parameters (``Body`` or ``MediaUrl``) for one Rasa
    bot message, and the numbered choices offered ({} if none)."""
    parts, replies = text_and_replies(message)
    choices: dict[str, str] = {}
    if replies:
        scale = numeric_scale(replies)
        if scale:
            parts = _with_last(parts, texts.scale_hint.format(lo=scale[0], hi=scale[1]))
        else:
            listing, choices = numbered_options(replies, texts)
            parts = _with_last(parts, listing)
    out: list[dict[str, str]] = [
        {"Body": piece} for part in parts for piece in chunk_text(part, SMS_BODY_MAX)
    ]
    if message.get("image"):
        out.append({"MediaUrl": str(message["image"])})
    if message.get("attachment") and not isinstance(message["attachment"], dict):
        out.append({"Body": truncate(str(message["attachment"]), SMS_BODY_MAX)})
    custom = platform_custom(message) or {}
    twilio = {k: str(v) for k, v in custom.items() if k in ("Body", "MediaUrl")}
    if twilio:
        out.append(twilio)
    return out, choices

"""Who a conversation belongs to: one id per channel and platform id.

Every channel keys its conversations (Rasa's sender_id) as
``<channel>:<platform id>``, so ids from different channels can never meet:
a web chat or REST client cannot name a WhatsApp customer's conversation,
because only the WhatsApp connector makes ids that start with "whatsapp:".

    whatsapp:+48600100200   WhatsApp (Cloud API's "48600100200" and Twilio's
                            "whatsapp:+48600100200" are the same person)
    sms:+48600100200        SMS through Twilio
    messenger:<psid>        Facebook Messenger's page-scoped id
    web:<uuid>              the web chat, an id issued and signed by the server
    rest:<sender>           Rasa's REST channel (local use and tests)

Phone numbers are kept in E.164 form with a plus. Standard library only:
the bot, the channels, analytics and the erasure tool all use it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

CHANNELS = ("whatsapp", "sms", "messenger", "web", "rest")
PHONE_CHANNELS = ("whatsapp", "sms")

_NOT_DIGITS = re.compile(r"\D")
# A phone number as people write it: "+48 600-100-200", "(48) 600100200".
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]{6,}$")


class IdentityError(ValueError):
    """A channel or platform id that cannot key a conversation."""


def e164(number: str) -> str:
    """'48 600 100 200', '+48600100200', '0048…' -> '+48600100200'."""
    digits = _NOT_DIGITS.sub("", number)
    if number.strip().startswith("00") and not number.strip().startswith("+"):
        digits = digits[2:]
    if not 6 <= len(digits) <= 15:
        raise IdentityError(f"not a phone number: {len(digits)} digits")
    return "+" + digits


def conversation_id(channel: str, platform_id: str) -> str:
    """The conversation's id for a channel's own id of the customer."""
    if channel not in CHANNELS:
        raise IdentityError(f"unknown channel {channel!r}")
    platform_id = str(platform_id).strip()
    if channel in PHONE_CHANNELS:
        platform_id = e164(platform_id.removeprefix("whatsapp:"))
    if not platform_id or any(ord(c) < 32 or c.isspace() for c in platform_id):
        raise IdentityError(f"empty or unprintable {channel} id")
    return f"{channel}:{platform_id}"


def split(conversation: str) -> tuple[str, str]:
    """('whatsapp', '+48600100200') for 'whatsapp:+48600100200'; ('', id) for
    an id from before channel prefixes."""
    channel, sep, platform_id = conversation.partition(":")
    if sep and channel in CHANNELS:
        return channel, platform_id
    return "", conversation


def platform_id(conversation: str) -> str:
    """The id to send to on the customer's platform ('+48600100200')."""
    return split(conversation)[1]


def person_ids(person: str) -> set[str]:
    """Every sender_id under which this person's conversations may be stored:
    the current prefixed ids and the raw ids used before channel prefixes.

    A phone number, in any common notation or with a channel prefix, gives
    the WhatsApp and SMS forms (with and without plus, Twilio's
    ``whatsapp:+…``); any other id gives itself, with and without each
    other channel's prefix. A bare run of digits may be either (a Messenger
    id or a phone number), so it gives both: erasing too widely only ever
    finds ids that are this same string."""
    person = person.strip()
    if not person:
        raise IdentityError("empty id")
    channel, bare = split(person)
    found: set[str] = set()
    if channel in ("", *PHONE_CHANNELS):
        number = bare.removeprefix("whatsapp:")
        if _PHONE_LIKE.match(number):
            try:
                e = e164(number)
            except IdentityError:
                e = ""
            if e:
                found |= {conversation_id(c, e) for c in PHONE_CHANNELS}
                found |= {e, e[1:], f"whatsapp:{e}"}
        if channel in PHONE_CHANNELS:
            return found or {person}
    found |= {bare, person}
    found |= {f"{c}:{bare}" for c in CHANNELS if c not in PHONE_CHANNELS}
    return found


def log_id(conversation: str) -> str:
    """How logs name a conversation: its channel and a short keyed hash
    ('whatsapp:#3f9a0c1b7d2e'), never the phone number or platform id.

    The key is the pseudonym key (``nps.keys``), so an operator who has it
    can find a given customer's lines (hash the id the same way), and nobody
    who reads only the log can."""
    channel, _ = split(conversation)
    # surrogatepass: an id is untrusted text; a lone surrogate must still
    # hash (to its own value) instead of failing the caller's log line.
    raw = conversation.encode("utf-8", "surrogatepass")
    digest = hmac.new(_log_key(), b"log:" + raw, hashlib.sha256)
    return f"{channel or 'id'}:#{digest.hexdigest()[:12]}"


@functools.lru_cache(maxsize=1)
def _log_key() -> bytes:
    # Imported here: identity stays importable without the settings (the
    # analytics environment uses its pure functions).
    from nps.keys import key
    from nps.settings import load_settings

    return key("pseudonym", load_settings().pseudonym_key)


def presence_proof(secret: bytes, conversation: str) -> str:
    """What a server-side caller shows to ask whether a web chat conversation
    has a page connected (channels/webchat_socket.py): an HMAC of the
    conversation id under the web chat's key, apart from the session tokens'
    signatures (its own prefix), so a customer's token proves nothing here."""
    message = f"presence:{conversation}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()

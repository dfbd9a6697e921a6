"""Pseudonyms for sender ids. On WhatsApp and SMS the sender id is the
customer's phone number, so analytics never stores or shows raw ids: the
projection keeps a keyed hash (HMAC-SHA256) in their place, which cannot be
reversed or recomputed without the key.

The key is `nps.keys.key("pseudonym", NPS_PSEUDONYM_KEY)`: configured in
production (at least 32 bytes, nps.settings checks), otherwise made once in
var/pseudonym.key, so the bot's erasure tool and analytics compute the same
pseudonyms. Standard library and nps only: the erasure tool imports this in
the bot's environment."""

from __future__ import annotations

import hashlib
import hmac

from nps import keys

PREFIX = "klient-"
# 64 bits: collisions stay unlikely (about 3e-8 at a million people) and the
# column stays short. The key, not the length, is what stops brute force of
# the ~1e9 Polish mobile numbers.
HEX_CHARS = 16
LENGTH = len(PREFIX) + HEX_CHARS


def configured_key(configured: str | None = None) -> bytes:
    """The installation's pseudonym key; `configured` is NPS_PSEUDONYM_KEY
    (read from the environment when not given)."""
    if configured is None:
        from nps.settings import load_settings

        configured = load_settings().pseudonym_key
    return keys.key("pseudonym", configured or "")


def pseudonym(sender_id: str, key: bytes | str) -> str:
    secret = key.encode("utf-8") if isinstance(key, str) else key
    if not secret:
        raise ValueError("an empty pseudonym key")
    digest = hmac.new(secret, str(sender_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_CHARS]


def key_id(key: bytes) -> str:
    """A short fingerprint of the key itself (not reversible): a projection
    made with another key is rebuilt, since its pseudonyms no longer match."""
    return hmac.new(key, b"nps-pseudonym-key-id", hashlib.sha256).hexdigest()[:16]

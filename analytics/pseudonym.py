"""Pseudonyms for sender ids. On WhatsApp and SMS the sender id is the
customer's phone number, so the dashboard never shows raw ids: it shows a
keyed hash (HMAC-SHA256), which cannot be reversed or recomputed without
the key from NPS_PSEUDONYM_KEY."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache


@lru_cache(maxsize=1)
def _process_key() -> bytes:
    # No key configured: a random one for this process. Pseudonyms are then
    # stable until restart, and still never reveal the id.
    return secrets.token_bytes(32)


def pseudonym(sender_id: str, key: str | None) -> str:
    secret = key.encode("utf-8") if key else _process_key()
    digest = hmac.new(secret, str(sender_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return "klient-" + digest[:10]

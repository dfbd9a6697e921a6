"""Talking to the bot over Rasa's REST channel."""

from __future__ import annotations

import requests

TIMEOUT_SECONDS = 30


class BotError(Exception):
    pass


def send(bot_url: str, sender: str, text: str, token: str = "") -> list[dict]:
    """POST /webhooks/rest/webhook; returns the bot's replies
    ([{"text": ..., "buttons": [...]}, ...]). `token`: the REST channel's
    bearer token (NPS_REST_TOKEN), when it requires one."""
    url = bot_url.rstrip("/") + "/webhooks/rest/webhook"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.post(
            url,
            json={"sender": sender, "message": text},
            headers=headers,
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise BotError(
            f"Bot nie odpowiada pod {bot_url} ({exc.__class__.__name__}). Czy działa (make run)?"
        ) from None
    if response.status_code != 200:
        raise BotError(f"Bot odpowiedział błędem HTTP {response.status_code}.")
    try:
        replies = response.json()
    except ValueError:
        raise BotError("Bot odpowiedział czymś, co nie jest JSON-em.") from None
    return [r for r in replies if isinstance(r, dict)] if isinstance(replies, list) else []

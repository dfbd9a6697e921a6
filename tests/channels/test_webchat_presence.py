"""An agent's reply reaches the web chat only while the customer's page is
connected: the socket answers a presence question, against a real `rasa
run` (the fixture bot), only to a caller holding the web chat's key."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
import socketio

from cases import reply
from nps.identity import presence_proof
from nps.keys import key
from nps.settings import load_settings
from tests.channels.channel_helpers import hang_up, http

pytestmark = pytest.mark.rasa

SECRET = key("webchat", load_settings().webchat_secret)


async def _while_connected(url: str, origin: str) -> tuple[str, bool, bool]:
    """(conversation, present while its page is connected, present after)."""
    client = socketio.AsyncClient(reconnection=False)
    confirmed = asyncio.Event()
    got: dict = {}

    @client.on("session_confirm")
    async def on_confirm(token: str) -> None:
        got["token"] = token
        confirmed.set()

    await client.connect(url, transports=["polling"], headers={"Origin": origin})
    try:
        await client.emit("session_request", {"session_id": None})
        await asyncio.wait_for(confirmed.wait(), 20)
        conversation = "web:" + got["token"].split(".")[0]
        during = await asyncio.to_thread(reply.web_presence, url, conversation, SECRET)
    finally:
        await hang_up(client)
    for _ in range(50):  # the server notices the disconnect shortly
        after = await asyncio.to_thread(reply.web_presence, url, conversation, SECRET)
        if not after:
            break
        await asyncio.sleep(0.1)
    return conversation, during, after


def test_presence_while_the_page_is_connected_and_not_after(rasa, webchat_url):
    conversation, during, after = asyncio.run(_while_connected(rasa.url, webchat_url))
    assert during is True
    assert after is False
    # Nobody else's conversation is present.
    assert reply.web_presence(rasa.url, "web:" + "0" * 32, SECRET) is False


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-NPS-Presence": "0" * 64}, {"X-NPS-Presence": presence_proof(b"another key", "web:x")}],
    ids=["no proof", "made up", "another key"],
)
def test_presence_is_refused_without_the_key(rasa, headers):
    query = urllib.parse.urlencode({"conversation": "web:x"})
    answer = http("GET", f"{rasa.url}{reply.PRESENCE_PATH}?{query}", headers=headers)
    assert answer.status == 403
    assert b"connected" not in answer.body

"""One identity per conversation, against a real `rasa run` (the fixture bot):
no web page or REST client can name, write into or read another channel's
conversation, and every ingress caps the text and the body.

The web chat is driven with python-socketio's client over long polling, as a
script on another website would (a browser sends its page's Origin)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import socketio

from channels.webchat_socket import verify
from nps.identity import conversation_id
from nps.keys import key
from nps.settings import load_settings
from tests.channels.channel_helpers import (
    FB_SECRET,
    TW_TOKEN,
    WA_PHONE_ID,
    WA_SECRET,
    hang_up,
    http,
    load_payload,
    new_id,
    new_phone,
    post_meta,
    post_twilio,
    twilio_form,
    user_events,
    wait_until,
)

pytestmark = pytest.mark.rasa

LONG = "słowo " * 2000  # 12 000 characters, over NPS_MAX_MESSAGE_CHARS
LIMIT = load_settings().max_message_chars


def rest(rasa, body: dict[str, Any], headers: dict[str, str] | None = None):
    return http(
        "POST",
        rasa.url + "/webhooks/rest/webhook",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


async def web_session(
    url: str, origin: str, session_id: Any, message: str | None = None
) -> dict[str, Any]:
    """Connect over polling from `origin`, ask for `session_id`, optionally
    say `message` (naming `session_id` again); what the server confirmed and said."""
    client = socketio.AsyncClient(reconnection=False)
    got: dict[str, Any] = {"bot": []}
    confirmed = asyncio.Event()
    answered = asyncio.Event()

    @client.on("session_confirm")
    async def on_confirm(token: str) -> None:
        got["token"] = token
        confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data: Any) -> None:
        got["bot"].append(data)
        answered.set()

    await client.connect(url, transports=["polling"], headers={"Origin": origin})
    try:
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 20)
        if message is not None:
            await client.emit("user_uttered", {"message": message, "session_id": session_id})
            await asyncio.wait_for(answered.wait(), 30)
    finally:
        await hang_up(client)
    return got


def web(rasa, webchat_url, session_id, message=None, origin=None):
    return asyncio.run(web_session(rasa.url, origin or webchat_url, session_id, message))


def web_conversation(token: str) -> str:
    return "web:" + token.split(".")[0]


# ------------------------------------------------------------------ web chat


def test_socket_from_a_foreign_origin_is_refused(rasa, webchat_url):
    handshake = rasa.url + "/socket.io/?EIO=4&transport=polling"
    refused = http("GET", handshake, headers={"Origin": "https://evil.example"})
    assert refused.status == 400
    assert http("GET", handshake, headers={"Origin": webchat_url}).status == 200
    with pytest.raises(socketio.exceptions.ConnectionError):
        web(rasa, webchat_url, None, origin="https://evil.example")


def test_client_chosen_session_id_is_replaced(rasa, webchat_url, outbox):
    # A real WhatsApp customer and a Messenger customer in mid-survey.
    phone, psid = new_phone(), new_id("psid")
    body = load_payload(
        "whatsapp_text.json", SENDER=phone, PHONE_ID=WA_PHONE_ID, MID=new_id("wamid."), TEXT="hej"
    )
    assert post_meta(rasa.url + "/webhooks/whatsapp/webhook", body, WA_SECRET).status == 200
    body = load_payload("messenger_text.json", SENDER=psid, MID=new_id("m_"), TEXT="hej")
    assert post_meta(rasa.url + "/webhooks/facebook/webhook", body, FB_SECRET).status == 200
    victims = [conversation_id("whatsapp", phone), conversation_id("messenger", psid)]
    before = {v: rasa.events(v) for v in victims}
    assert all(before.values())

    for chosen in (*victims, phone, psid, "web:" + "0" * 32):
        got = web(rasa, webchat_url, chosen, "7")
        assert got["token"] != chosen
        conversation = web_conversation(got["token"])
        assert conversation not in (*victims, chosen)
        # the message went to the issued conversation, as a web chat message
        users = user_events(wait_until(lambda c=conversation: rasa.events(c)))
        assert [(u["text"], u["input_channel"]) for u in users] == [("7", "socketio")]
        # and the bot's answer came back to this socket only
        assert got["bot"]
    assert {v: rasa.events(v) for v in victims} == before  # untouched


def test_issued_token_resumes_and_a_forged_one_does_not(rasa, webchat_url):
    first = web(rasa, webchat_url, None, "hej")
    token = first["token"]
    assert verify(key("webchat", load_settings().webchat_secret), token)
    conversation = web_conversation(token)
    # a reload: the page sends its token back and keeps its conversation
    again = web(rasa, webchat_url, token, "7")
    assert again["token"] == token
    assert [u["text"] for u in user_events(rasa.events(conversation))] == ["hej", "7"]
    # a token with another id under the same signature is refused
    other = "0" * 32 + "." + token.split(".")[1]
    forged = web(rasa, webchat_url, other, "7")
    assert forged["token"] not in (other, token)
    assert rasa.events("web:" + "0" * 32) == []
    assert len(user_events(rasa.events(conversation))) == 2


# ---------------------------------------------------------------------- REST


def test_rest_cannot_write_into_a_messenger_or_whatsapp_conversation(rasa, outbox):
    phone, psid = new_phone(), new_id("psid")
    body = load_payload(
        "whatsapp_text.json", SENDER=phone, PHONE_ID=WA_PHONE_ID, MID=new_id("wamid."), TEXT="hej"
    )
    assert post_meta(rasa.url + "/webhooks/whatsapp/webhook", body, WA_SECRET).status == 200
    body = load_payload("messenger_text.json", SENDER=psid, MID=new_id("m_"), TEXT="hej")
    assert post_meta(rasa.url + "/webhooks/facebook/webhook", body, FB_SECRET).status == 200
    whatsapp, messenger = f"whatsapp:+{phone}", f"messenger:{psid}"
    before = {c: rasa.events(c) for c in (whatsapp, messenger)}

    for sender in (whatsapp, messenger, "+" + phone, phone, psid):
        reply = rest(rasa, {"sender": sender, "message": "7", "input_channel": "whatsapp"})
        assert reply.status == 200 and reply.json()  # answered, in its own conversation
        users = user_events(rasa.events(f"rest:{sender}"))
        assert [(u["text"], u["input_channel"]) for u in users] == [("7", "rest")]
    assert {c: rasa.events(c) for c in before} == before
    for raw in (phone, "+" + phone, psid):  # nor under the ids used before prefixes
        assert rasa.events(raw) == []


@pytest.mark.parametrize(
    "body",
    [
        {"message": "hej"},
        {"sender": "", "message": "hej"},
        {"sender": 48600100200, "message": "hej"},
        {"sender": "x" * 300, "message": "hej"},
        {"sender": "a b", "message": "hej"},
        {"sender": "ok", "message": None},
        ["not", "an", "object"],
    ],
)
def test_rest_refuses_unusable_requests(rasa, body):
    assert rest(rasa, body).status == 400


# --------------------------------------------------------- caps at each ingress


def shortened(events) -> tuple[int, bool]:
    (user,) = user_events(events)
    return len(user["text"]), bool((user.get("metadata") or {}).get("shortened"))


def test_every_ingress_caps_the_text(rasa, webchat_url, outbox):
    psid, phone, sms = new_id("psid"), new_phone(), new_phone("+48")
    body = load_payload("messenger_text.json", SENDER=psid, MID=new_id("m_"), TEXT=LONG)
    assert post_meta(rasa.url + "/webhooks/facebook/webhook", body, FB_SECRET).status == 200
    body = load_payload(
        "whatsapp_text.json", SENDER=phone, PHONE_ID=WA_PHONE_ID, MID=new_id("wamid."), TEXT=LONG
    )
    assert post_meta(rasa.url + "/webhooks/whatsapp/webhook", body, WA_SECRET).status == 200
    params = twilio_form("twilio_sms.txt", SENDER=sms, MID=new_id("SM"), TEXT=LONG[:1500] * 3)
    assert post_twilio(rasa.url + "/webhooks/twilio/webhook", params, TW_TOKEN).status == 200
    sender = new_id("long")
    assert rest(rasa, {"sender": sender, "message": LONG}).status == 200
    token = web(rasa, webchat_url, None, LONG)["token"]

    for conversation in (
        f"messenger:{psid}",
        f"whatsapp:+{phone}",
        f"sms:{sms}",
        f"rest:{sender}",
        web_conversation(token),
    ):
        length, cut = shortened(wait_until(lambda c=conversation: rasa.events(c)))
        assert (cut, 0 < length <= LIMIT) == (True, True), conversation

    # a short message is not marked, and a client cannot mark one itself
    sender = new_id("short")
    rest(rasa, {"sender": sender, "message": "hej", "metadata": {"shortened": True}})
    assert shortened(rasa.events(f"rest:{sender}")) == (3, False)


def test_request_bodies_are_limited_below_sanics_default(rasa):
    """A body over the cap is refused from its Content-Length, before it is read.

    The request is the headers of a 3 MB body and its first bytes: Sanic
    answers 413 and closes at once, so a client still sending the whole body
    may see the connection reset instead of the answer (this test did, once).
    """
    host, port = rasa.url.removeprefix("http://").split(":")
    body = json.dumps({"sender": "big", "message": "x" * (3 * 1024 * 1024)}).encode()
    head = (
        f"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head + body[:1024])
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"413"
    assert rasa.events("rest:big") == []

"""At-least-once in, exactly-once stored, against a real `rasa run` (issue 8).

The fixture bot with the project's tracker store (SQLite file, read directly)
and conversation lock store on Redis reached through a TCP proxy the test can
cut (tests/tcp_proxy.py). Cutting the proxy is the fault: the turn cannot take
its lock, so it fails before anything is stored, as a Redis restart would.
Outgoing messages land on the stand-in Graph API.

What the audit (F2) reproduced, and what must hold now:
* a turn that fails answers 503, and the platform's redelivery of the same
  body is stored (before: 200, the id claimed, the redelivery dropped);
* a platform that hangs up mid-turn does not cut the turn short: it is
  stored and answered without any redelivery;
* the same body delivered twice at once, or again later, is stored once and
  answered once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import socketio

from channels.signatures import meta_signature
from nps.identity import conversation_id
from tests.channels.channel_helpers import (
    FB_SECRET,
    RasaProcess,
    StandIn,
    channel_env,
    hang_up,
    http,
    load_payload,
    new_id,
    post_meta,
    user_events,
    wait_until,
)
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.rasa

REDIS = ("127.0.0.1", 6379)
REDIS_DB = 13  # conversations here are fresh ids; the db keeps them off others' keys
QUESTION_BUBBLES = 2  # the fixture bot's answer to "hej" is two Messenger messages


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def bot(
    fixture_model: Path,
    stand_in: StandIn,
    webchat_url: str,
    tmp_path_factory: pytest.TempPathFactory,
):
    if not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379 (scripts/services.sh starts one)")
    proxy = TcpProxy(*REDIS).start()
    workdir = tmp_path_factory.mktemp("delivery")
    db_url = f"sqlite:///{workdir / 'tracker.db'}"
    locks_url = f"redis://127.0.0.1:{proxy.port}/{REDIS_DB}"
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n"
        "  type: storage.tracker_store.NpsSQLTrackerStore\n"
        f"  url: {db_url}\n"
        "lock_store:\n"
        "  type: storage.lock_store.NpsLockStore\n"
        f"  url: {locks_url}\n"
    )
    # NPS_DB_URL: the outbox keeps its rows next to this test's tracker.
    env = {
        **channel_env(stand_in.url),
        "NPS_DB_URL": db_url,
        "NPS_LOCK_STORE_URL": locks_url,
        "NPS_WEBCHAT_ORIGINS": webchat_url,
    }
    process = RasaProcess(fixture_model, workdir, env, endpoints=endpoints)
    try:
        process.start()
        yield process, proxy
    finally:
        process.stop()
        proxy.stop()


def webhook(rasa: RasaProcess) -> str:
    return rasa.url + "/webhooks/facebook/webhook"


def sends_to(outbox: StandIn, psid: str) -> list:
    return outbox.sent_to(
        lambda r: r.path.endswith("/me/messages") and r.json()["recipient"]["id"] == psid
    )


def stored_ids(rasa: RasaProcess, psid: str) -> list[str]:
    events = rasa.events(conversation_id("messenger", psid))
    return [u.get("message_id") for u in user_events(events)]


def test_a_failed_turn_answers_503_and_its_redelivery_is_stored_once(bot, outbox):
    rasa, proxy = bot
    psid, mid = new_id("psid"), new_id("m_")
    body = load_payload("messenger_text.json", SENDER=psid, MID=mid, TEXT="hej")

    proxy.cut()  # Redis gone: the turn cannot take its conversation lock
    try:
        failed = post_meta(webhook(rasa), body, FB_SECRET)
    finally:
        proxy.restore()
    assert failed.status == 503, rasa.log_tail()
    assert int(failed.headers["retry-after"]) > 0
    assert stored_ids(rasa, psid) == [] and sends_to(outbox, psid) == []

    redelivered = post_meta(webhook(rasa), body, FB_SECRET)
    assert redelivered.status == 200, rasa.log_tail()
    assert stored_ids(rasa, psid) == [mid]
    # Every bubble, not the first one: they reach the platform one by one.
    wait_until(lambda: len(sends_to(outbox, psid)) >= QUESTION_BUBBLES)
    assert len(sends_to(outbox, psid)) == QUESTION_BUBBLES

    again = post_meta(webhook(rasa), body, FB_SECRET)
    assert again.status == 200
    assert stored_ids(rasa, psid) == [mid]
    assert len(sends_to(outbox, psid)) == QUESTION_BUBBLES


def test_the_same_body_twice_at_once_is_stored_and_answered_once(bot, outbox):
    rasa, _ = bot
    psid, mid = new_id("psid"), new_id("m_")
    body = load_payload("messenger_text.json", SENDER=psid, MID=mid, TEXT="hej")
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: post_meta(webhook(rasa), body, FB_SECRET), range(2)))
    assert [r.status for r in replies] == [200, 200], rasa.log_tail()
    assert stored_ids(rasa, psid) == [mid]
    # Every bubble, not the first one: they reach the platform one by one.
    wait_until(lambda: len(sends_to(outbox, psid)) >= QUESTION_BUBBLES)
    assert len(sends_to(outbox, psid)) == QUESTION_BUBBLES


def test_a_platform_hanging_up_mid_turn_does_not_lose_the_answer(bot, outbox):
    """The turn waits for its conversation's lock, which this test holds
    (as a slow earlier turn would); the platform gives up after 1 s. Released,
    the turn completes, is stored and answered with no redelivery at all."""
    from storage.lock_store import NpsLockStore

    rasa, _ = bot
    psid, mid = new_id("psid"), new_id("m_")
    body = load_payload("messenger_text.json", SENDER=psid, MID=mid, TEXT="hej")
    locks = NpsLockStore(url=f"redis://{REDIS[0]}:{REDIS[1]}/{REDIS_DB}")

    def hang_up_after_a_second() -> str:
        try:
            signature = {"X-Hub-Signature-256": meta_signature(FB_SECRET, body)}
            http("POST", webhook(rasa), body, signature, timeout=1)
        except (TimeoutError, urllib.error.URLError):
            return "hung up"
        return "answered"

    async def hold_the_lock_meanwhile() -> str:
        async with locks.lock(conversation_id("messenger", psid)):
            return await asyncio.to_thread(hang_up_after_a_second)

    assert asyncio.run(hold_the_lock_meanwhile()) == "hung up"
    assert wait_until(lambda: stored_ids(rasa, psid)) == [mid], rasa.log_tail()
    # Every bubble, not the first one: they reach the platform one by one.
    wait_until(lambda: len(sends_to(outbox, psid)) >= QUESTION_BUBBLES)
    assert len(sends_to(outbox, psid)) == QUESTION_BUBBLES

    redelivered = post_meta(webhook(rasa), body, FB_SECRET)
    assert redelivered.status == 200
    assert stored_ids(rasa, psid) == [mid]
    assert len(sends_to(outbox, psid)) == QUESTION_BUBBLES


def test_rest_answers_503_for_a_failed_turn_and_the_replies_once_stored(bot):
    rasa, proxy = bot
    sender = new_id("rest")
    body = json.dumps({"sender": sender, "message": "hej"}).encode()
    headers = {"Content-Type": "application/json"}
    proxy.cut()
    try:
        failed = http("POST", rasa.url + "/webhooks/rest/webhook", body, headers)
    finally:
        proxy.restore()
    assert failed.status == 503 and "error" in failed.json()
    assert user_events(rasa.events(f"rest:{sender}")) == []
    stored = http("POST", rasa.url + "/webhooks/rest/webhook", body, headers)
    assert stored.status == 200
    assert [len(m.get("buttons", [])) for m in stored.json()] == [11]  # the 0-10 question
    assert len(user_events(rasa.events(f"rest:{sender}"))) == 1


async def web_chat_turns(url: str, origin: str, proxy: TcpProxy) -> dict[str, Any]:
    """One socket: a message while Redis is cut, then the same again."""
    client = socketio.AsyncClient(reconnection=False)
    got: dict[str, Any] = {"bot": [], "failed": []}
    confirmed, failed, answered = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @client.on("session_confirm")
    async def on_confirm(token: str) -> None:
        got["conversation"] = "web:" + token.split(".")[0]
        confirmed.set()

    @client.on("turn_failed")
    async def on_failed(data: Any) -> None:
        got["failed"].append(data)
        got["bot_before_failure"] = list(got["bot"])
        failed.set()

    @client.on("bot_uttered")
    async def on_bot(data: Any) -> None:
        got["bot"].append(data)
        answered.set()

    await client.connect(url, transports=["polling"], headers={"Origin": origin})
    try:
        await client.emit("session_request", {"session_id": None})
        await asyncio.wait_for(confirmed.wait(), 20)
        proxy.cut()
        try:
            await client.emit("user_uttered", {"message": "hej"})
            await asyncio.wait_for(failed.wait(), 20)
        finally:
            proxy.restore()
        await client.emit("user_uttered", {"message": "hej"})
        await asyncio.wait_for(answered.wait(), 20)
    finally:
        await hang_up(client)
    return got


def test_web_chat_is_told_when_a_message_was_not_stored(bot, webchat_url):
    rasa, proxy = bot
    got = asyncio.run(web_chat_turns(rasa.url, webchat_url, proxy))
    assert got["failed"] == [{"resend": True}] and got["bot_before_failure"] == []
    assert got["bot"]  # the message sent again was answered
    assert len(user_events(rasa.events(got["conversation"]))) == 1

"""At-least-once in, exactly-once stored: the webhook side, without Rasa.

``deliver`` and the Messenger connector's webhook handler are driven with a
stand-in for Rasa's turn (``on_new_message``) that records what it stored,
can be told to fail or to wait, and sends its replies the way Rasa does
(``output_channel.send_response``). The outbox is a recorder.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic.request import RequestParameters

from channels import outbox
from channels.dedup import DoneIds
from channels.messenger import MessengerInput
from channels.rest import RestInput
from channels.signatures import META_SIGNATURE_HEADER, meta_signature
from channels.turn import BufferedOutput, Turns
from channels.webchat_socket import WebChatInput
from channels.webhook_input import Incoming, deliver

GUARD = 10  # s: a test that waits longer than this is broken, not slow


class Output(OutputChannel):
    """The real channel: anything that reaches it was sent to the customer."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "facebook"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent.append(message)


@dataclass
class Bot:
    """Rasa's turn, played: replies go out during the turn, the turn is
    stored at its end (as Rasa saves the tracker last)."""

    fail: set[str] = field(default_factory=set)  # message ids (or texts) whose turn raises
    hold: dict[str, asyncio.Event] = field(default_factory=dict)  # id or text: wait, then store
    stored: list[tuple[str, str]] = field(default_factory=list)  # (sender, text)
    started: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # turn and hand-over steps in order

    async def __call__(self, message: UserMessage) -> None:
        self.started.append(message.message_id)
        await message.output_channel.send_response(
            message.sender_id, {"text": f"reply to {message.text}"}
        )
        self.log.append(f"replied {message.text}")
        for key in (message.message_id, message.text):
            if key in self.hold:
                await self.hold[key].wait()
        if self.fail & {message.message_id, message.text}:
            raise RuntimeError("the turn failed")
        self.stored.append((message.sender_id, message.text))
        self.log.append(f"stored {message.text}")


@dataclass
class Outbox:
    dispatched: list[tuple[str, list[dict[str, Any]], str]] = field(default_factory=list)
    log: list[str] | None = None
    hold: asyncio.Event | None = None
    send: bool = True  # through the output channel it was given, as the outbox does

    async def __call__(self, output, recipient_id, messages, turn_key) -> None:
        if self.hold is not None:
            await self.hold.wait()
        for message in messages if self.send else ():
            await output.send_response(recipient_id, message)
        self.dispatched.append((recipient_id, messages, turn_key))
        if self.log is not None:
            self.log.append(f"dispatched {turn_key}")


def incoming(sender: str, mid: str, text: str | None = None) -> Incoming:
    return Incoming(sender_id=f"messenger:{sender}", text=text or mid, message_id=mid)


class Harness:
    def __init__(self) -> None:
        self.bot = Bot()
        self.outbox = Outbox(log=self.bot.log)
        self.done = DoneIds()
        self.turns = Turns()
        self.output = Output()

    def user_message(self, item: Incoming) -> UserMessage:
        return UserMessage(item.text, self.output, item.sender_id, message_id=item.message_id)

    async def deliver(self, *items: Incoming):
        return await deliver(
            items, self.bot, self.user_message, self.done, "facebook", self.turns, self.outbox
        )


def run(scenario):
    async def guarded():
        return await asyncio.wait_for(scenario(), GUARD)

    return asyncio.run(guarded())


def test_a_failed_turn_is_not_done_and_its_redelivery_is_stored_once():
    h = Harness()
    h.bot.fail.add("m1")

    async def scenario():
        first = await h.deliver(incoming("a", "m1"))
        assert (first.failed, first.complete) == (1, False)
        assert not await h.done.is_done("m1")
        h.bot.fail.clear()  # the database is back
        second = await h.deliver(incoming("a", "m1"))
        third = await h.deliver(incoming("a", "m1"))
        return second, third

    second, third = run(scenario)
    assert (second.stored, second.complete) == (1, True)
    assert (third.skipped, third.stored, third.complete) == (1, 0, True)
    assert h.bot.started == ["m1", "m1"]  # the skipped one never reached Rasa
    assert h.bot.stored == [("messenger:a", "m1")]
    assert [d[2] for d in h.outbox.dispatched] == ["m1"]


def test_replies_leave_only_after_the_turn_was_stored_and_never_after_a_failure():
    h = Harness()
    h.bot.fail.add("m2")

    async def scenario():
        await h.deliver(incoming("a", "m1", "7"))
        await h.deliver(incoming("a", "m2", "kurier"))

    run(scenario)
    assert h.bot.log == ["replied 7", "stored 7", "dispatched m1", "replied kurier"]
    assert h.output.sent == [{"text": "reply to 7"}]  # nothing of the failed turn
    assert h.outbox.dispatched == [("messenger:a", [{"text": "reply to 7"}], "m1")]


def test_the_platform_hanging_up_does_not_cancel_the_turn_nor_the_rest_of_its_batch():
    h = Harness()
    h.bot.hold["m1"] = asyncio.Event()

    async def scenario():
        request = asyncio.ensure_future(h.deliver(incoming("a", "m1"), incoming("a", "m2")))
        while not h.bot.started:  # the turn is under way
            await asyncio.sleep(0)
        request.cancel()  # what Sanic does when the caller disconnects
        with pytest.raises(asyncio.CancelledError):
            await request
        assert h.bot.stored == []
        h.bot.hold["m1"].set()
        assert await h.turns.drain(GUARD) == 0
        return [await h.done.is_done(mid) for mid in ("m1", "m2")]

    assert run(scenario) == [True, True]
    assert h.bot.stored == [("messenger:a", "m1"), ("messenger:a", "m2")]
    assert h.output.sent == [{"text": "reply to m1"}, {"text": "reply to m2"}]


def test_one_failing_sender_does_not_hold_back_the_others_but_the_answer_is_503():
    h = Harness()
    h.bot.fail.add("a1")

    async def scenario():
        return await h.deliver(
            incoming("a", "a1"), incoming("b", "b1"), incoming("a", "a2"), incoming("c", "c1")
        )

    delivery = run(scenario)
    assert (delivery.stored, delivery.failed, delivery.deferred) == (2, 1, 1)
    assert not delivery.complete
    assert sorted(h.bot.stored) == [("messenger:b", "b1"), ("messenger:c", "c1")]
    assert "a2" not in h.bot.started  # would be stored before a1 otherwise
    assert sorted(d[2] for d in h.outbox.dispatched) == ["b1", "c1"]


def test_one_senders_messages_stay_in_order_while_other_senders_run_meanwhile():
    h = Harness()
    first = h.bot.hold["a1"] = asyncio.Event()

    async def release_when_b_is_stored():
        while ("messenger:b", "b1") not in h.bot.stored:
            await asyncio.sleep(0)
        first.set()

    async def scenario():
        releaser = asyncio.ensure_future(release_when_b_is_stored())
        delivery = await h.deliver(
            incoming("a", "a1"), incoming("a", "a2"), incoming("b", "b1"), incoming("a", "a3")
        )
        await releaser
        return delivery

    assert run(scenario).stored == 4
    # b1 was stored while a1 waited (else this test would have hung), and
    # a's messages kept their order.
    assert h.bot.stored == [
        ("messenger:b", "b1"),
        ("messenger:a", "a1"),
        ("messenger:a", "a2"),
        ("messenger:a", "a3"),
    ]


def test_the_same_message_delivered_twice_at_once_runs_one_turn():
    h = Harness()
    h.bot.hold["m1"] = asyncio.Event()

    async def scenario():
        both = asyncio.gather(h.deliver(incoming("a", "m1")), h.deliver(incoming("a", "m1")))
        while not h.bot.started:
            await asyncio.sleep(0)
        h.bot.hold["m1"].set()
        return await both

    one, other = run(scenario)
    assert one.complete and other.complete
    assert h.bot.started == ["m1"] and h.bot.stored == [("messenger:a", "m1")]
    assert len(h.outbox.dispatched) == 1


def test_a_slow_hand_over_keeps_the_order_of_replies_and_does_not_hold_the_answer():
    h = Harness()
    h.outbox.hold = asyncio.Event()

    async def scenario():
        first = await deliver(
            [incoming("a", "m1")],
            h.bot,
            h.user_message,
            h.done,
            "facebook",
            h.turns,
            h.outbox,
            reply_wait=0.01,
        )
        second = await deliver(
            [incoming("a", "m2")],
            h.bot,
            h.user_message,
            h.done,
            "facebook",
            h.turns,
            h.outbox,
            reply_wait=0.01,
        )
        assert h.outbox.dispatched == []  # both answered while the sends wait
        h.outbox.hold.set()
        await h.turns.drain(GUARD)
        return first, second

    first, second = run(scenario)
    assert first.complete and second.complete
    assert [d[2] for d in h.outbox.dispatched] == ["m1", "m2"]


def test_messages_without_an_id_always_run_and_get_a_turn_key_of_their_own():
    h = Harness()

    async def scenario():
        item = Incoming(sender_id="messenger:a", text="/start", message_id=None)
        await h.deliver(item)
        await h.deliver(item)

    run(scenario)
    assert len(h.bot.stored) == 2
    keys = [d[2] for d in h.outbox.dispatched]
    assert len(set(keys)) == 2 and all(k.startswith("facebook:") for k in keys)


def test_buffered_output_keeps_the_real_channels_name_and_every_message():
    real = Output()
    buffered = BufferedOutput(real)

    async def scenario():
        message = {"text": "Jak oceniasz?", "buttons": [{"title": "1", "payload": "1"}]}
        await buffered.send_response("messenger:a", message)
        await buffered.send_text_message("messenger:a", "Dzięki")
        return message

    original = run(scenario)
    assert buffered.name() == "facebook"
    assert buffered.messages == [original, {"text": "Dzięki"}]
    assert buffered.messages[0] is not original and real.sent == []


# ------------------------------------------------ the connector's handler

SECRET = "test-secret"  # pragma: allowlist secret


def messenger(monkeypatch) -> tuple[MessengerInput, Bot, Outbox, Any]:
    """A configured Messenger connector, its POST /webhook handler bound to
    the stand-in bot, and the outbox recorder in place of the real one."""
    connector = MessengerInput(secret=SECRET, page_access_token="token")
    bot = Bot()
    recorder = Outbox(send=False)  # the output is the real Messenger sender
    monkeypatch.setattr(outbox, "dispatch", recorder)
    hook = connector.blueprint(bot)
    (handler,) = [
        route.handler
        for route in hook._future_routes
        if route.uri == "/webhook" and "POST" in route.methods
    ]
    return connector, bot, recorder, handler


def webhook_request(sender: str, mid: str, text: str = "hej") -> SimpleNamespace:
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": "1",
                    "messaging": [
                        {"sender": {"id": sender}, "message": {"mid": mid, "text": text}}
                    ],
                }
            ],
        }
    ).encode()
    return SimpleNamespace(
        body=body, headers={META_SIGNATURE_HEADER: meta_signature(SECRET, body)}, args={}
    )


def test_the_webhook_answers_503_with_retry_after_then_200_on_redelivery(monkeypatch):
    connector, bot, recorder, handler = messenger(monkeypatch)
    bot.fail.add("m1")
    request = webhook_request("psid1", "m1")

    async def scenario():
        failed = await handler(request)
        bot.fail.clear()
        stored = await handler(request)
        again = await handler(request)
        return failed, stored, again

    failed, stored, again = run(scenario)
    assert failed.status == 503 and int(failed.headers["Retry-After"]) > 0
    assert (stored.status, stored.body) == (200, b"EVENT_RECEIVED")
    assert again.status == 200
    assert bot.stored == [("messenger:psid1", "hej")]
    assert [(d[0], d[2]) for d in recorder.dispatched] == [("messenger:psid1", "m1")]


def test_the_webhook_handler_cancelled_mid_turn_still_stores_and_replies(monkeypatch):
    connector, bot, recorder, handler = messenger(monkeypatch)
    bot.hold["m1"] = asyncio.Event()

    async def scenario():
        request = asyncio.ensure_future(handler(webhook_request("psid1", "m1")))
        while not bot.started:
            await asyncio.sleep(0)
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
        bot.hold["m1"].set()
        await connector.turns.drain(GUARD)
        redelivered = await handler(webhook_request("psid1", "m1"))
        return redelivered

    redelivered = run(scenario)
    assert redelivered.status == 200
    assert bot.started == ["m1"] and bot.stored == [("messenger:psid1", "hej")]
    assert len(recorder.dispatched) == 1


# ------------------------------------------------------- REST and web chat


def handler_of(hook, uri: str = "/webhook"):
    (handler,) = [r.handler for r in hook._future_routes if r.uri == uri and "POST" in r.methods]
    return handler


def rest_request(sender: str, text: str, stream: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        json={"sender": sender, "message": text},
        headers={},
        args=RequestParameters({"stream": ["true"]} if stream else {}),
    )


def test_rest_answers_503_for_a_failed_turn_and_the_replies_of_a_stored_one():
    bot = Bot()
    bot.fail.add("boom")
    handler = handler_of(RestInput().blueprint(bot))

    async def scenario():
        failed = await handler(rest_request("ania", "boom"))
        ok = await handler(rest_request("ania", "7"))
        streamed = await handler(rest_request("ania", "8", stream=True))
        return failed, ok, streamed

    failed, ok, streamed = run(scenario)
    assert failed.status == 503 and "error" in json.loads(failed.body)
    assert failed.headers["Retry-After"]
    assert (ok.status, json.loads(ok.body)) == (
        200,
        [{"recipient_id": "rest:ania", "text": "reply to 7"}],
    )
    assert [json.loads(line) for line in streamed.body.decode().splitlines()] == [
        {"recipient_id": "rest:ania", "text": "reply to 8"}
    ]
    assert bot.stored == [("rest:ania", "7"), ("rest:ania", "8")]


def test_rest_client_hanging_up_does_not_cut_the_turn_short():
    bot = Bot()
    bot.hold["7"] = asyncio.Event()
    rest = RestInput()
    handler = handler_of(rest.blueprint(bot))

    async def scenario():
        request = asyncio.ensure_future(handler(rest_request("ania", "7")))
        while not bot.started:
            await asyncio.sleep(0)
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
        assert bot.stored == []
        bot.hold["7"].set()
        await rest.turns.drain(GUARD)

    run(scenario)
    assert bot.stored == [("rest:ania", "7")]


class SocketRecorder:
    """What the web chat's handler asks of python-socketio's server: the
    socket's conversation, and emitting (recorded)."""

    def __init__(self, conversation: str) -> None:
        self.conversation = conversation
        self.emitted: list[tuple[str, Any, str]] = []

    async def get_session(self, sid, namespace=None):
        return {"conversation": self.conversation}

    async def emit(self, event, data=None, room=None, namespace=None, **kwargs):
        self.emitted.append((event, data, room))


def web_chat(monkeypatch, bot: Bot) -> tuple[SocketRecorder, Any]:
    chat = WebChatInput.from_credentials({})
    chat.blueprint(bot)
    recorder = SocketRecorder("web:" + "a" * 32)
    monkeypatch.setattr(chat.sio, "get_session", recorder.get_session)
    monkeypatch.setattr(chat.sio, "emit", recorder.emit)
    return recorder, chat.sio.handlers["/"]["user_uttered"]


def test_web_chat_a_failed_turn_says_turn_failed_to_the_socket_and_nothing_else(monkeypatch):
    bot = Bot(fail={"8"})
    sio, handler = web_chat(monkeypatch, bot)

    async def scenario():
        await handler("sid-1", {"message": "8"})

    run(scenario)
    assert sio.emitted == [("turn_failed", {"resend": True}, "sid-1")]
    assert bot.stored == []


def test_web_chat_replies_are_emitted_after_the_turn_was_stored(monkeypatch):
    bot = Bot()
    sio, handler = web_chat(monkeypatch, bot)

    async def scenario():
        await handler("sid-1", {"message": "8"})

    run(scenario)
    assert bot.stored == [(sio.conversation, "8")]
    assert [(event, data.get("text"), room) for event, data, room in sio.emitted] == [
        ("bot_uttered", "reply to 8", sio.conversation)
    ]

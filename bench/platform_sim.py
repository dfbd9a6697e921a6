"""The platform side of the load test: customers on Messenger and WhatsApp,
and Meta's webhook delivery, as bench/loadtest.py drives them.

Each customer runs one whole survey (the shapes of bench/corpus.py) and
sends its next answer only after the bot's reply reached the stand-in Graph
API (bench/standin_graph.py), then pauses a short, bounded think time.

Delivery is Meta's: every webhook is signed with the app secret
(``X-Hub-Signature-256``, channels/signatures.py), each POST waits at most
``webhook_timeout`` (5 s, Meta's), and anything but a 2xx, a timeout
included, is redelivered with back-off until acknowledged, a bounded number
of times. On top of that **every event is delivered twice**: the second copy
goes at the same moment as the first or some seconds later (as Meta does
after a slow acknowledgement), with its own redeliveries.

The webhook bodies are the recorded payloads of the channel tests
(tests/channels/payloads), filled in by their own builder.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from bench.corpus import conversation
from bench.standin_graph import StandInGraph
from channels.signatures import META_SIGNATURE_HEADER, meta_signature
from nps.identity import conversation_id
from tests.channels.channel_helpers import load_payload

CHANNELS = ("messenger", "whatsapp")
WEBHOOK_PATHS = {
    "messenger": "/webhooks/facebook/webhook",
    "whatsapp": "/webhooks/whatsapp/webhook",
}


@dataclass
class Message:
    """One customer message and what became of its deliveries."""

    conversation: str
    index: int  # position in the customer's send order
    message_id: str
    sent_at: float = 0.0  # monotonic: first copy posted
    acknowledged_at: float | None = None  # first 2xx to any copy
    reply_at: float | None = None  # first send to the customer after sent_at
    attempts: int = 0  # webhook POSTs, both copies, redeliveries included
    failures: dict[str, int] = field(default_factory=dict)  # "timeout", "HTTP 503", ...

    @property
    def latency_ms(self) -> float | None:
        return None if self.reply_at is None else (self.reply_at - self.sent_at) * 1000


@dataclass
class Customer:
    channel: str
    platform_id: str  # PSID, or WhatsApp's wa_id (digits)
    script: list[str]
    messages: list[Message] = field(default_factory=list)
    finished: bool = False  # sent its whole script before the time limit

    @property
    def conversation(self) -> str:
        return conversation_id(self.channel, self.platform_id)


def make_customers(count: int, seed: int) -> list[Customer]:
    """``count`` customers, half Messenger half WhatsApp, each a corpus survey.

    Ids are random per run (uuid), so two runs on one database never share a
    conversation; the scripts depend on ``seed`` only.
    """
    rng = random.Random(seed)
    customers = []
    for i in range(count):
        channel = CHANNELS[i % 2]
        digits = str(uuid.uuid4().int)
        platform_id = digits[:16] if channel == "messenger" else "48" + digits[:9]
        customers.append(Customer(channel, platform_id, conversation(i, rng)))
    return customers


def webhook_body(customer: Customer, message_id: str, text: str, phone_number_id: str) -> bytes:
    """The webhook Meta would POST for one text message, as raw bytes."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]  # safe inside the JSON string
    if customer.channel == "messenger":
        return load_payload(
            "messenger_text.json", SENDER=customer.platform_id, MID=message_id, TEXT=escaped
        )
    return load_payload(
        "whatsapp_text.json",
        SENDER=customer.platform_id,
        MID=message_id,
        TEXT=escaped,
        PHONE_ID=phone_number_id,
    )


def redelivery_pause(attempt: int, cap: float) -> float:
    """Seconds before redelivery number ``attempt`` (1-based): 1, 2, 4, ... capped."""
    return min(cap, 2.0 ** (attempt - 1))


@dataclass
class DeliveryPolicy:
    webhook_timeout: float = 5.0  # Meta waits this long for the 200
    # POSTs per copy, the first included: ~13 min of back-off, so the time
    # limit (``Platform.give_up_at``) is what ends redelivery, as Meta goes on
    # for hours; a fixed count would give up during a long restart.
    max_attempts: int = 30
    max_pause: float = 30.0
    later_copy: tuple[float, float] = (0.5, 8.0)  # seconds after the first, when not at once
    concurrent_share: float = 0.5  # share of second copies sent at the same moment


class Platform:
    """Meta's side: signs and delivers webhooks, redelivers, counts."""

    def __init__(
        self,
        bot_url: str,
        standin: StandInGraph,
        secrets: dict[str, str],
        phone_number_id: str,
        policy: DeliveryPolicy | None = None,
        seed: int = 0,
    ) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.standin = standin
        self.secrets = secrets
        self.phone_number_id = phone_number_id
        self.policy = policy or DeliveryPolicy()
        self.rng = random.Random(seed)
        self.give_up_at = float("inf")  # no redelivery starts after this (monotonic)
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Platform:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=2000),
            timeout=aiohttp.ClientTimeout(total=self.policy.webhook_timeout),
        )
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # --- delivery --------------------------------------------------------------------

    async def _post(self, channel: str, body: bytes) -> str:
        """POST one signed webhook: "ok", or what went wrong."""
        headers = {
            "Content-Type": "application/json",
            META_SIGNATURE_HEADER: meta_signature(self.secrets[channel], body),
        }
        try:
            async with self._session.post(
                self.bot_url + WEBHOOK_PATHS[channel], data=body, headers=headers
            ) as response:
                await response.read()
                return "ok" if 200 <= response.status < 300 else f"HTTP {response.status}"
        except asyncio.TimeoutError:
            return "timeout"
        except aiohttp.ClientError as error:
            return type(error).__name__

    async def _deliver_copy(self, channel: str, body: bytes, message: Message, delay: float):
        if delay:
            await asyncio.sleep(delay)
        for attempt in range(1, self.policy.max_attempts + 1):
            message.attempts += 1
            outcome = await self._post(channel, body)
            if outcome == "ok":
                if message.acknowledged_at is None:
                    message.acknowledged_at = time.monotonic()
                return
            message.failures[outcome] = message.failures.get(outcome, 0) + 1
            pause = redelivery_pause(attempt, self.policy.max_pause)
            if time.monotonic() + pause > self.give_up_at:
                return
            await asyncio.sleep(pause)

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, customer: Customer, text: str) -> Message:
        """Deliver one customer message twice (with redeliveries), in the background."""
        prefix = "m_" if customer.channel == "messenger" else "wamid.lt"
        message = Message(customer.conversation, len(customer.messages), prefix + uuid.uuid4().hex)
        customer.messages.append(message)
        body = webhook_body(customer, message.message_id, text, self.phone_number_id)
        message.sent_at = time.monotonic()
        self._spawn(self._deliver_copy(customer.channel, body, message, 0.0))
        if self.rng.random() < self.policy.concurrent_share:
            second = 0.0
        else:
            second = self.rng.uniform(*self.policy.later_copy)
        self._spawn(self._deliver_copy(customer.channel, body, message, second))
        return message

    async def drain(self, timeout: float) -> int:
        """Wait for the deliveries still running (at most ``timeout`` s); how many were left."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        return len(self._tasks)

    # --- customers -------------------------------------------------------------------

    async def run_customer(
        self,
        customer: Customer,
        start_delay: float,
        think: tuple[float, float],
        reply_timeout: float,
        stop_at: float,
    ) -> None:
        """One customer's survey: each answer after the bot's reply arrived.

        A customer who got no reply within ``reply_timeout`` writes the next
        answer anyway (people do); none starts after ``stop_at`` (monotonic).
        """
        await asyncio.sleep(start_delay)
        rng = random.Random(customer.platform_id)
        conversation_key = customer.conversation
        for text in customer.script:
            if time.monotonic() > stop_at:
                return
            seen = self.standin.count(conversation_key)
            message = self.send(customer, text)
            reply = await self.standin.wait_beyond(conversation_key, seen, reply_timeout)
            if reply is not None:
                message.reply_at = reply.at
                # the rest of this turn's bubbles, then a person's pause
                await self.standin.wait_quiet(conversation_key, quiet=0.4, limit=5.0)
            await asyncio.sleep(rng.uniform(*think))
        customer.finished = True

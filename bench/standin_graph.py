"""A stand-in Graph API on loopback for the load test (bench/loadtest.py).

It plays the two endpoints the bot sends to, Messenger's
``POST /{version}/me/messages`` and WhatsApp Cloud's
``POST /{version}/{phone-number-id}/messages``, records every send under the
conversation it is for ("messenger:<psid>", "whatsapp:+48…", as
``nps.identity`` writes them) and answers like Meta, with a fresh
``message_id`` / ``wamid``. The simulated customers (bench/platform_sim.py)
read their replies here, in the same event loop, so "the customer answers
after the bot's reply arrived" needs no polling.

``slow_for(window, delay)`` makes every send arriving in the next ``window``
seconds wait ``delay`` seconds before the answer (the "platform answers in
12 s" fault). The send is recorded on arrival: the customer's phone shows the
message when Meta accepted it, and the bot's own timeout is its business.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from nps.identity import IdentityError, conversation_id


@dataclass
class Send:
    """One message the bot sent, as the stand-in received it."""

    conversation: str
    at: float  # time.monotonic() on arrival
    body: dict


@dataclass
class StandInGraph:
    host: str = "127.0.0.1"
    sends: dict[str, list[Send]] = field(default_factory=lambda: defaultdict(list))
    unknown: int = 0  # sends whose recipient could not be read
    slow_until: float = 0.0
    slow_delay: float = 0.0
    slow_answers: int = 0

    def __post_init__(self) -> None:
        self._arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- server ------------------------------------------------------------------

    async def start(self) -> StandInGraph:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/{version}/me/messages", self._messenger)
        app.router.add_post("/{version}/{phone_id}/messages", self._whatsapp)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # aiohttp: no public getter
        self.url = f"http://{self.host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def slow_for(self, window: float, delay: float) -> None:
        """Answer every send arriving in the next ``window`` seconds after ``delay`` s."""
        self.slow_delay = delay
        self.slow_until = time.monotonic() + window

    async def _answer_after_delay(self) -> None:
        if time.monotonic() < self.slow_until:
            self.slow_answers += 1
            await asyncio.sleep(self.slow_delay)

    def _record(self, conversation: str | None, body: dict) -> None:
        if conversation is None:
            self.unknown += 1
            return
        self.sends[conversation].append(Send(conversation, time.monotonic(), body))
        self._arrived[conversation].set()

    async def _messenger(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            return web.json_response({"error": {"message": "unreadable body"}}, status=400)
        psid = str((body.get("recipient") or {}).get("id") or "")
        self._record(_conversation("messenger", psid), body)
        await self._answer_after_delay()
        return web.json_response({"recipient_id": psid, "message_id": f"m_{uuid.uuid4().hex}"})

    async def _whatsapp(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            return web.json_response({"error": {"message": "unreadable body"}}, status=400)
        to = str(body.get("to") or "")
        self._record(_conversation("whatsapp", to), body)
        await self._answer_after_delay()
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
            }
        )

    # --- what the customers read ----------------------------------------------------

    def count(self, conversation: str) -> int:
        return len(self.sends.get(conversation, ()))

    def total(self) -> int:
        return sum(len(s) for s in self.sends.values())

    async def wait_beyond(self, conversation: str, seen: int, timeout: float) -> Send | None:
        """The first send to ``conversation`` after its first ``seen`` ones, or
        None when none arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.count(conversation) <= seen:
            event = self._arrived[conversation]
            event.clear()
            if self.count(conversation) > seen:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(event.wait(), left)
            except asyncio.TimeoutError:
                return None
        return self.sends[conversation][seen]

    async def wait_quiet(self, conversation: str, quiet: float, limit: float) -> None:
        """Wait until no send to ``conversation`` arrived for ``quiet`` seconds
        (at most ``limit`` s): a turn's replies may be several bubbles."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            sends = self.sends.get(conversation) or []
            last = sends[-1].at if sends else 0.0
            left = last + quiet - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, max(0.0, deadline - time.monotonic())))


async def _body(request: web.Request) -> dict | None:
    """The JSON body, or None: a Rasa process killed mid-send leaves half a request."""
    try:
        body = await request.json()
    except (ConnectionResetError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _conversation(channel: str, platform_id: str) -> str | None:
    try:
        return conversation_id(channel, platform_id)
    except IdentityError:
        return None

"""An aiohttp stand-in for Meta's Graph API and Twilio's Messages API, run in
the test's own event loop: records every POST (with the time it arrived) and
answers what the test scripted, else 200 with a fresh message id."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # None: a success body with fresh ids
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow platform)


@dataclass
class Received:
    at: float
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


def graph_error(code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": "(stand-in)", "type": "OAuthException", "code": code, **extra}}


class PlatformStandIn:
    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None
        self._connectors: list[Any] = []
        self.url = ""

    def track(self, connector: Any) -> Any:
        """A connector whose sender is closed with the stand-in."""
        self._connectors.append(connector)
        return connector

    async def __aenter__(self) -> PlatformStandIn:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # bound by the OS: port 0
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: Any) -> None:
        for connector in self._connectors:
            await connector.sender.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def then(self, *answers: Answer) -> PlatformStandIn:
        self.script.extend(answers)
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(time.time(), request.path, body))
        n = len(self.received)
        answer = self.script.pop(0) if self.script else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        payload = answer.body
        if payload is None:
            payload = accepted(request.path, n)
        return web.json_response(payload, status=answer.status, headers=answer.headers)


def accepted(path: str, n: int) -> dict[str, Any]:
    """What each API answers when it takes message number ``n``."""
    if path.endswith("/me/messages"):
        return {"recipient_id": "x", "message_id": f"mid.{n}"}
    if path.endswith("Messages.json"):
        return {"sid": f"SM{n}", "status": "queued"}
    return {"messaging_product": "whatsapp", "messages": [{"id": f"wamid.{n}"}]}


def closed_port() -> int:
    """A loopback port nobody listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FullBacklog:
    """A loopback port whose accept queue is full: connecting hangs until the
    client's connect timeout (the request never leaves)."""

    def __enter__(self) -> int:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        port = self.server.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.fillers.append(filler)
        time.sleep(0.05)
        return port

    def __exit__(self, *_: Any) -> None:
        for filler in self.fillers:
            filler.close()
        self.server.close()

"""The "Try the bot" page's REST client: replies, errors, and the bearer
token when the REST channel requires one (NPS_REST_TOKEN)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from analytics.dashboard.bot_client import BotError, send


@pytest.fixture
def rest_channel():
    """A stand-in REST channel on loopback that requires the token 'sekret'."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"auth": self.headers.get("Authorization"), "body": body})
            ok = self.headers.get("Authorization") == "Bearer sekret"
            payload = json.dumps([{"text": "cześć"}] if ok else {"error": "no"}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_the_token_is_sent_as_a_bearer_token(rest_channel):
    url, seen = rest_channel
    assert send(url, "try-1", "hej", token="sekret") == [{"text": "cześć"}]
    assert seen[-1] == {"auth": "Bearer sekret", "body": {"sender": "try-1", "message": "hej"}}


def test_without_the_token_the_page_gets_a_clear_error(rest_channel):
    url, seen = rest_channel
    with pytest.raises(BotError, match="401"):
        send(url, "try-1", "hej")
    assert seen[-1]["auth"] is None

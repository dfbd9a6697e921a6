"""A turn either completes or fails, and a message is stored once
(storage/turn_guard.py; issue 8, audit F3's "the actions events are lost").

The classification of action-server errors is tested on its own; the rest
with Rasa's real `Agent` in this process (the trained model, our tracker
store on SQLite, the guard installed as `rasa run` installs it) and the real
action server behind a TCP proxy (tests/tcp_proxy.py) that the tests cut.
Messages come as the webhook connectors hand them over: a platform message
id on each.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import aiohttp
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from storage import turn_guard
from storage.turn_guard import (
    ActionServerUnavailable,
    TurnTimeout,
    holds_message,
    is_unavailability,
)
from tests.bot_process import DEFAULT_MODEL, REPO, VENV_BIN, free_port
from tests.databases import stored_events
from tests.tcp_proxy import TcpProxy


def needs_model(test):
    """A test of the real agent: the trained model, marked like the `rasa run` tests."""
    test = pytest.mark.skipif(
        not DEFAULT_MODEL.exists(), reason="no trained model: run `make train`"
    )(test)
    return pytest.mark.rasa(test)


# --- which errors fail a turn -----------------------------------------------------


def _raised_by_rasa(cause: BaseException) -> RasaException:
    """The error as RemoteAction.run raises it: a RasaException caused by it."""
    try:
        try:
            raise cause
        except Exception as error:
            raise RasaException("Failed to execute custom action") from error
    except RasaException as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (aiohttp.ClientConnectionError("refused"), True),
        (aiohttp.ServerDisconnectedError(), True),
        (asyncio.TimeoutError(), True),
        (ClientResponseError(500, "Internal Server Error", "{}"), True),
        (ClientResponseError(503, "Service Unavailable", ""), True),
        (
            ClientResponseError(404, "Not Found", ""),
            False,
        ),  # a missing action: a bug, not an outage
        (ValueError("bad json"), False),
    ],
)
def test_an_action_server_outage_is_told_from_other_errors(error, unavailable):
    assert is_unavailability(error) is unavailable
    assert is_unavailability(_raised_by_rasa(error)) is unavailable


def test_a_message_is_held_when_a_user_event_has_its_id():
    events = [UserUttered("cześć", message_id="mid.1"), UserUttered("10", message_id="mid.2")]
    assert holds_message(events, "mid.2")
    assert not holds_message(events, "mid.3")
    assert not holds_message(events, None)
    assert not holds_message([], "mid.1")


# --- the real agent ---------------------------------------------------------------


def _wait_healthy(port: int, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the action server exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the action server did not start")


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    from rasa.core.agent import Agent
    from rasa.core.lock_store import InMemoryLockStore

    from storage.tracker_store import NpsSQLTrackerStore

    tmp = tmp_path_factory.mktemp("turn_guard")
    db_url = f"sqlite:///{tmp / 'tracker.db'}"
    port = free_port()
    log = tmp / "actions.log"
    env = dict(os.environ, NPS_DB_URL=db_url, PYTHONPATH=str(REPO))
    with open(log, "wb") as out:
        actions = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "actions", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    was_installed = turn_guard.installed()
    turn_guard.install()
    try:
        with TcpProxy("127.0.0.1", port) as proxy:
            store = NpsSQLTrackerStore(host=db_url)
            agent = Agent.load(
                str(DEFAULT_MODEL),
                tracker_store=store,
                lock_store=InMemoryLockStore(),
                action_endpoint=EndpointConfig(url=f"http://127.0.0.1:{proxy.port}/webhook"),
            )
            _wait_healthy(port, actions, log)
            yield SimpleNamespace(agent=agent, store=store, proxy=proxy, db_url=db_url)
    finally:
        if not was_installed:
            turn_guard.uninstall()
        actions.terminate()
        actions.wait(timeout=20)


def message(sender: str, text: str, mid: str) -> UserMessage:
    return UserMessage(
        text, CollectingOutputChannel(), sender, input_channel="messenger", message_id=mid
    )


def handle(bot, *messages: UserMessage) -> list:
    """Hand the messages to the agent at once (each under the conversation
    lock, as a connector does); what each turn returned, or its error."""

    async def all_of_them():
        return await asyncio.gather(
            *(bot.agent.handle_message(m) for m in messages), return_exceptions=True
        )

    return asyncio.run(all_of_them())


def handle_one(bot, sender: str, text: str, mid: str):
    (result,) = handle(bot, message(sender, text, mid))
    if isinstance(result, BaseException):
        raise result
    return result


def rows(bot, sender: str) -> list[dict]:
    return stored_events(bot.db_url, sender)


def user_ids(bot, sender: str) -> list[str]:
    return [r["message_id"] for r in rows(bot, sender) if r["event"] == "user"]


def said_last(bot, sender: str) -> list[str]:
    """The responses stored after the conversation's last user message."""
    stored = rows(bot, sender)
    last = max(i for i, r in enumerate(stored) if r["event"] == "user")
    return [
        (r.get("metadata") or {}).get("utter_action")
        for r in stored[last + 1 :]
        if r["event"] == "bot" and r.get("text")
    ]


@needs_model
def test_the_same_message_handed_twice_is_stored_once(bot):
    sender = "messenger:twice"
    assert handle_one(bot, sender, "cześć", "mid.t1")  # the intro and the question
    stored = rows(bot, sender)
    assert handle_one(bot, sender, "cześć", "mid.t1") == []
    assert rows(bot, sender) == stored
    assert user_ids(bot, sender) == ["mid.t1"]


@needs_model
def test_the_same_message_delivered_twice_at_once_is_stored_once(bot):
    sender = "messenger:atonce"
    first, second = handle(
        bot, message(sender, "cześć", "mid.a1"), message(sender, "cześć", "mid.a1")
    )
    assert sorted([bool(first), bool(second)]) == [False, True]  # one turn answered
    assert user_ids(bot, sender) == ["mid.a1"]
    assert said_last(bot, sender) == ["utter_intro", "utter_ask_nps_score"]


@needs_model
def test_action_server_down_mid_turn_fails_the_turn_then_redelivery_stores_it(bot):
    """A new conversation's first turn runs several custom actions (the
    session start, then the survey's): the first gets through, the next
    finds the action server gone."""
    sender = "messenger:down"
    forwarded = bot.proxy.connections
    bot.proxy.cut_after(1)
    try:
        with pytest.raises(ActionServerUnavailable):
            handle_one(bot, sender, "cześć", "mid.d1")
        assert bot.proxy.connections == forwarded + 1 and bot.proxy.is_cut
        assert rows(bot, sender) == []  # nothing of the turn saved
    finally:
        bot.proxy.restore()

    assert handle_one(bot, sender, "cześć", "mid.d1")  # the platform redelivers
    assert user_ids(bot, sender) == ["mid.d1"]
    assert said_last(bot, sender) == ["utter_intro", "utter_ask_nps_score"]
    assert [r["event"] for r in rows(bot, sender)].count("session_started") == 1
    assert bot.agent.tracker_store is bot.store


class _Answers500(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "boom"}')

    def log_message(self, *args):
        pass


@needs_model
def test_an_action_server_answering_500_fails_the_turn(bot):
    sender = "messenger:five"
    handle_one(bot, sender, "cześć", "mid.f1")
    before = rows(bot, sender)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    processor = bot.agent.processor
    endpoint = processor.action_endpoint
    processor.action_endpoint = EndpointConfig(url=f"http://127.0.0.1:{server.server_port}/webhook")
    try:
        with pytest.raises(ActionServerUnavailable):
            handle_one(bot, sender, "10", "mid.f2")
    finally:
        processor.action_endpoint = endpoint
        server.shutdown()
        server.server_close()
    assert rows(bot, sender) == before
    handle_one(bot, sender, "10", "mid.f2")
    assert user_ids(bot, sender) == ["mid.f1", "mid.f2"]


@needs_model
def test_a_turn_over_its_bound_is_stopped_and_saves_nothing(bot, monkeypatch):
    sender = "messenger:slow"
    handle_one(bot, sender, "cześć", "mid.s1")
    before = rows(bot, sender)
    monkeypatch.setenv("NPS_TURN_TIMEOUT", "1")
    bot.proxy.cut("hang")  # the action server accepts and never answers
    try:
        with pytest.raises(TurnTimeout):
            handle_one(bot, sender, "10", "mid.s2")
    finally:
        bot.proxy.restore()
    assert rows(bot, sender) == before
    monkeypatch.delenv("NPS_TURN_TIMEOUT")
    handle_one(bot, sender, "10", "mid.s2")
    assert user_ids(bot, sender) == ["mid.s1", "mid.s2"]

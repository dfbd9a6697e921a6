"""Test helpers for the channel tests: a stand-in HTTP server that plays
Meta's and Twilio's APIs on loopback, a `rasa run` process, signing and
recorded webhook payloads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from channels.signatures import meta_signature, twilio_signature

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PAYLOADS = HERE / "payloads"
FIXTURE_BOT = HERE / "fixture_bot"

# Test secrets: fake, only ever sent to loopback.
FB_SECRET = "test-fb-app-secret"
FB_TOKEN = "test-fb-page-token"
FB_VERIFY = "test-fb-verify"
WA_SECRET = "test-wa-app-secret"
WA_TOKEN = "test-wa-access-token"
WA_VERIFY = "test-wa-verify"
WA_PHONE_ID = "106540352242922"
TW_SID = "ACtest0000000000000000000000000000"
TW_TOKEN = "test-twilio-auth-token"
TW_NUMBER = "+15005550006"
TW_PUBLIC_URL = "https://nps.example.com/webhooks/twilio/webhook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def new_phone(prefix: str = "48") -> str:
    """A fresh phone number as WhatsApp's wa_id ("48…") or, with prefix
    "+48", as Twilio's From: digits only, so it keys a conversation."""
    return prefix + str(uuid.uuid4().int)[:9]


# ------------------------------------------------------------ payloads


def load_payload(name: str, **values: str) -> bytes:
    """A recorded webhook with {{KEY}} placeholders filled in, as raw bytes."""
    text = (PAYLOADS / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"unfilled placeholder in {name}"
    return text.encode("utf-8")


def twilio_form(name: str, **values: str) -> dict[str, str]:
    """A recorded Twilio webhook (form-encoded) as a dict; values are encoded here."""
    encoded = {k: urllib.parse.quote(v, safe="") for k, v in values.items()}
    return dict(
        urllib.parse.parse_qsl(
            load_payload(name, **encoded).decode().strip(), keep_blank_values=True
        )
    )


# --------------------------------------------------------------- HTTP


@dataclass
class Reply:
    """An HTTP answer; header names lower-cased."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Reply:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()})
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.read(), {k.lower(): v for k, v in err.headers.items()})


def post_meta(url: str, body: bytes, secret: str | None, signature: str | None = None) -> Reply:
    headers = {"Content-Type": "application/json"}
    if signature is None and secret is not None:
        signature = meta_signature(secret, body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return http("POST", url, body, headers)


def post_twilio(
    url: str,
    params: dict[str, str],
    token: str | None,
    signed_url: str = TW_PUBLIC_URL,
    signature: str | None = None,
) -> Reply:
    body = urllib.parse.urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is None and token is not None:
        signature = twilio_signature(token, signed_url, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return http("POST", url, body, headers)


# ---------------------------------------------------- stand-in server


@dataclass
class Captured:
    """One request the stand-in received; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


class StandIn:
    """Plays Graph API and Twilio API on 127.0.0.1: records every request and
    answers 200 with a plausible body, or what a test scripted (failures,
    delays) to exercise retries and timeouts."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self._script: list[tuple[int, float]] = []  # (status, delay) for the next requests
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                captured = Captured(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with stand_in._lock:
                    stand_in.requests.append(captured)
                    status, delay = stand_in._script.pop(0) if stand_in._script else (200, 0.0)
                if delay:
                    time.sleep(delay)
                answer = json.dumps(
                    {
                        "recipient_id": "x",
                        "message_id": "mid.stand-in",
                        "messages": [{"id": "wamid.stand-in"}],
                        "sid": "SMstandin",
                    }
                    if status < 400
                    else {"error": {"message": "scripted failure"}}
                ).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def script(self, *responses: tuple[int, float]) -> None:
        with self._lock:
            self._script.extend(responses)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def sent_to(self, predicate: Callable[[Captured], bool]) -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -------------------------------------------------------- rasa process


def train_fixture_model(out_dir: Path) -> Path:
    """Train the tiny keyword + rules bot (a few seconds)."""
    cmd = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--config",
        str(FIXTURE_BOT / "config.yml"),
        "--domain",
        str(FIXTURE_BOT / "domain.yml"),
        "--data",
        str(FIXTURE_BOT / "data"),
        "--out",
        str(out_dir),
        "--fixed-model-name",
        "fixture",
    ]
    log = out_dir / "train.log"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        code = subprocess.call(
            cmd,
            cwd=str(out_dir),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=600,
        )
    model = out_dir / "fixture.tar.gz"
    if code != 0 or not model.exists():
        raise RuntimeError("training the fixture bot failed:\n" + log.read_text()[-3000:])
    return model


def channel_env(stand_in_url: str) -> dict[str, str]:
    """Environment that configures every channel against the stand-in."""
    return {
        "FB_VERIFY_TOKEN": FB_VERIFY,
        "FB_APP_SECRET": FB_SECRET,
        "FB_PAGE_ACCESS_TOKEN": FB_TOKEN,
        "META_GRAPH_URL": stand_in_url,
        "WHATSAPP_VERIFY_TOKEN": WA_VERIFY,
        "WHATSAPP_APP_SECRET": WA_SECRET,
        "WHATSAPP_ACCESS_TOKEN": WA_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": WA_PHONE_ID,
        "WHATSAPP_API_URL": stand_in_url,
        "TWILIO_ACCOUNT_SID": TW_SID,
        "TWILIO_AUTH_TOKEN": TW_TOKEN,
        "TWILIO_NUMBER": TW_NUMBER,
        "TWILIO_PUBLIC_URL": TW_PUBLIC_URL,
        "TWILIO_API_URL": stand_in_url,
    }


CHANNEL_ENV_NAMES = tuple(channel_env("").keys()) + ("NPS_DEDUP_REDIS_URL",)


class RasaProcess:
    """`rasa run` with our credentials.yml, on a free loopback port."""

    def __init__(
        self,
        model: Path,
        workdir: Path,
        env: dict[str, str],
        credentials: Path = REPO / "credentials.yml",
        endpoints: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "tracker.db"
        if endpoints is None:
            endpoints = workdir / "endpoints.yml"
            # The project's own tracker store, on a private SQLite file.
            endpoints.write_text(
                "tracker_store:\n  type: storage.tracker_store.NpsSQLTrackerStore\n"
                f"  url: sqlite:///{self.db_path}\n"
            )
        self.log_path = workdir / "rasa.log"
        base_env = {k: v for k, v in os.environ.items() if k not in CHANNEL_ENV_NAMES}
        # NPS_DB_URL: the outbox lives in the tracker's database, not the
        # repository's var/tracker.db.
        self.env = {
            **base_env,
            "NPS_DB_URL": f"sqlite:///{self.db_path}",
            **env,
            "PYTHONPATH": str(REPO),
        }
        self.cmd = [
            sys.executable,
            "-m",
            "rasa",
            "run",
            "-m",
            str(model),
            "--credentials",
            str(credentials),
            "--endpoints",
            str(endpoints),
            "-i",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> RasaProcess:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=str(self.workdir),
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rasa run exited:\n" + self.log_tail())
            try:
                # The model is loaded before the server accepts requests.
                if http("GET", self.url + "/webhooks/rest/", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("rasa run did not start in time:\n" + self.log_tail())

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def events(self, sender_id: str) -> list[dict[str, Any]]:
        return tracker_events(self.db_path, sender_id)


def tracker_events(db_path: Path, sender_id: str) -> list[dict[str, Any]]:
    """The events of one conversation, straight from the SQL tracker store."""
    with sqlite3.connect(str(db_path)) as conn:
        rows = conn.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,)
        ).fetchall()
    return [json.loads(row[0]) for row in rows]


def user_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "user"]


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Last value of each slot (a restart or session start resets them)."""
    values: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            values[event["name"]] = event.get("value")
        elif event.get("event") in ("restart", "session_started"):
            values.clear()
    return values


def wait_until(predicate: Callable[[], Any], timeout: float = 60, step: float = 0.2) -> Any:
    """The predicate's first truthy value, or its last value after `timeout`
    seconds (generous: it only costs time when the test fails anyway)."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(step)


async def hang_up(client: Any, wait: float = 3.0) -> None:
    """A socket.io client's disconnect, without its 30 s wait.

    Over long-polling the client sends its disconnect and close packets at
    once, then waits for its pending poll to end; the server (engineio on
    Sanic) leaves that poll open until it times out, about 30 s later, unless
    the bot happens to say something else. The server has had both packets
    long before: waiting for the poll only made each web chat test slower."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(client.disconnect(), wait)


# ------------------------------------------------------------- browser


def texts(driver: Any, css: str) -> list[str]:
    return [e.text for e in driver.find_elements("css selector", css)]


def wait_for(driver: Any, predicate: Callable[[Any], Any], timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: predicate(d))


def web_state(driver: Any, server: str) -> dict[str, Any] | None:
    """What the web chat keeps in this tab's sessionStorage (None: nothing)."""
    raw = driver.execute_script(f"return sessionStorage.getItem('nps-chat:{server}')")
    return json.loads(raw) if raw else None


def web_conversation(driver: Any, server: str) -> str:
    """The conversation the server issued to the page: "web:" and the token's
    id part (the token is "<uuid>.<signature>")."""
    state = web_state(driver, server)
    assert state and state.get("token"), state
    return "web:" + state["token"].split(".")[0]

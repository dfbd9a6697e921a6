"""Start the real bot (action server + ``rasa run``) on loopback, for tests and benchmarks.

    with BotProcess(db_url="sqlite:////tmp/x.db") as bot:
        replies = bot.send("alice", "cześć")
        assert bot.slots("alice")["nps_score"] is None

``send`` talks as a REST sender ("alice"); the bot keeps that conversation
as "rest:alice" (channels/rest.py), and ``tracker``/``slots`` take either the
bare REST sender or any full conversation id ("messenger:<psid>").

Both processes get free ports, the tracker store named by ``db_url`` and a
token for Rasa's HTTP API. Their logs go to ``log_dir``; when a start fails
the error carries the tail of the log, so a red test says why.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from nps.identity import split

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
DEFAULT_MODEL = REPO / "models" / "nps-bot.tar.gz"
START_TIMEOUT = float(os.environ.get("NPS_TEST_START_TIMEOUT", "180"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class BotProcess:
    def __init__(
        self,
        db_url: str,
        model: Path | str = DEFAULT_MODEL,
        credentials: Path | str | None = None,
        endpoints: Path | str | None = None,
        env: dict | None = None,
        token: str = "test-token",
        log_dir: Path | str | None = None,
        with_actions: bool = True,
    ):
        self.db_url = db_url
        self.model = Path(model)
        self.credentials = Path(credentials) if credentials else REPO / "credentials.yml"
        self.endpoints = Path(endpoints) if endpoints else REPO / "endpoints.yml"
        self.extra_env = dict(env or {})
        self.token = token
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="nps-bot-"))
        self.with_actions = with_actions
        self.rasa_port = free_port()
        self.actions_port = free_port()
        self.url = f"http://127.0.0.1:{self.rasa_port}"
        self.processes: dict[str, subprocess.Popen] = {}

    # --- life cycle ----------------------------------------------------------

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(REPO),
            NPS_DB_URL=self.db_url,
            NPS_ACTIONS_URL=f"http://127.0.0.1:{self.actions_port}/webhook",
            RASA_TELEMETRY_ENABLED="false",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        env.setdefault("NPS_LOCK_STORE_URL", "")  # in-memory locks: one Rasa process
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(
            args, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    def start(self) -> BotProcess:
        if not self.model.exists():
            raise RuntimeError(f"no trained model at {self.model}: run `make train` first")
        if self.with_actions:
            self._spawn(
                "actions",
                [str(VENV_BIN / "python"), "-m", "actions", "--port", str(self.actions_port)],
            )
        self._spawn(
            "rasa",
            [
                str(VENV_BIN / "rasa"),
                "run",
                "--model",
                str(self.model),
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.rasa_port),
                "--enable-api",
                "--auth-token",
                self.token,
                "--credentials",
                str(self.credentials),
                "--endpoints",
                str(self.endpoints),
            ],
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        checks = [("rasa", f"{self.url}/status?token={self.token}")]
        if self.with_actions:
            checks.append(("actions", f"http://127.0.0.1:{self.actions_port}/health"))
        pending = dict(checks)
        while pending:
            for name, url in list(pending.items()):
                process = self.processes[name]
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(
                        f"{name} exited with {process.returncode} while starting:\n"
                        + _tail(self.log_dir / f"{name}.log")
                    )
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        body = json.loads(response.read() or b"{}")
                    # Rasa answers /status before the model is loaded.
                    if name == "actions" or body.get("model_file"):
                        del pending[name]
                except (urllib.error.URLError, OSError, ValueError):
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the bot did not start in {START_TIMEOUT:.0f} s:\n"
                    + "\n".join(_tail(self.log_dir / f"{n}.log") for n in pending)
                )
            time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self, name: str = "rasa") -> str:
        return _tail(self.log_dir / f"{name}.log", 200)

    # --- talking to it ---------------------------------------------------------

    def _request(self, method: str, path: str, payload=None, timeout: float = 30):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def send(self, sender: str, text: str) -> list[dict]:
        """Send one message over the REST channel; returns the bot's replies."""
        return self._request("POST", "/webhooks/rest/webhook", {"sender": sender, "message": text})

    def say(self, sender: str, text: str) -> str:
        """Send one message; the bot's replies as one text, for assertions."""
        return "\n".join(r.get("text", "") for r in self.send(sender, text))

    def said(self, sender: str) -> list[list[str]]:
        """What the bot said after each message: the response's name, or the
        text an action wrote (rewording a response changes nothing here)."""
        turns: list[list[str]] = []
        for event in self.tracker(sender, include_events="ALL")["events"]:
            if event["event"] == "user":
                turns.append([])
            elif event["event"] == "bot" and turns and event.get("text"):
                name = (event.get("metadata") or {}).get("utter_action")
                turns[-1].append(name or event["text"])
        return turns

    @staticmethod
    def conversation(sender: str) -> str:
        """The conversation id of a bare REST sender; a full id as it is."""
        return sender if split(sender)[0] else f"rest:{sender}"

    def tracker(self, sender: str, include_events: str = "AFTER_RESTART") -> dict:
        """Rasa's tracker; ``include_events="ALL"`` keeps what came before a /restart."""
        # ":" and "+" as they are: Rasa does not unquote the path (Sanic's
        # unquote=False), so "%2B48…" would name another conversation.
        conversation = urllib.parse.quote(self.conversation(sender), safe=":+")
        return self._request(
            "GET",
            f"/conversations/{conversation}/tracker?token={self.token}"
            f"&include_events={include_events}",
        )

    def slots(self, sender: str) -> dict:
        return self.tracker(sender)["slots"]


if __name__ == "__main__":  # a quick manual check: python tests/bot_process.py
    with BotProcess(db_url=f"sqlite:///{tempfile.mkdtemp()}/t.db") as bot:
        for line in sys.argv[1:] or ["cześć", "8", "szybka dostawa"]:
            print(">", line)
            print(bot.say("manual", line))
        print(json.dumps(bot.slots("manual"), ensure_ascii=False, indent=1))

"""scripts/rasa_serve.py starts `rasa run` with the API token from the
environment or its file, never on the command line (which `ps` shows)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import rasa
import rasa.__main__ as rasa_main

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "launcher-test-token-0123456789"  # pragma: allowlist secret (a test value)


def _launcher():
    spec = importlib.util.spec_from_file_location("rasa_serve", ROOT / "scripts" / "rasa_serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Runs the launcher up to the point where Rasa would serve; returns
    what Rasa was given and what the process's command line was then."""
    seen = {}

    def run(**kwargs):
        seen["kwargs"] = kwargs
        seen["argv"] = list(sys.argv)

    monkeypatch.setattr(rasa, "run", run)
    # Restored afterwards: the launcher wraps Rasa's parser and sets sys.argv.
    monkeypatch.setattr(rasa_main, "create_argument_parser", rasa_main.create_argument_parser)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    for name in ("endpoints.yml", "credentials.yml"):
        (tmp_path / name).write_text("{}\n")
    argv = [
        "--model",
        str(model),
        "--enable-api",
        "--interface",
        "127.0.0.1",
        "--port",
        "5999",
        "--endpoints",
        str(tmp_path / "endpoints.yml"),
        "--credentials",
        str(tmp_path / "credentials.yml"),
    ]

    def start(env):
        return _launcher().main(argv, env), seen

    return start


def test_token_from_the_environment_reaches_rasa_but_not_the_command_line(started):
    code, seen = started({"RASA_TOKEN": TOKEN})
    assert code == 0
    assert seen["kwargs"]["auth_token"] == TOKEN
    assert seen["kwargs"]["enable_api"] is True and seen["kwargs"]["interface"] == "127.0.0.1"
    assert not any(TOKEN in a for a in seen["argv"]) and "--auth-token" not in seen["argv"]


def test_token_from_its_file(started, tmp_path):
    path = tmp_path / "rasa_token"
    path.write_text(TOKEN + "\n")
    code, seen = started({"NPS_RASA_TOKEN_FILE": str(path)})
    assert code == 0 and seen["kwargs"]["auth_token"] == TOKEN


def test_no_token_no_start(started, tmp_path, capsys):
    code, seen = started({"NPS_RASA_TOKEN_FILE": str(tmp_path / "missing")})
    assert code == 2 and "kwargs" not in seen
    assert "RASA_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--auth-token", TOKEN], [f"--auth-token={TOKEN}"]])
def test_a_token_on_the_command_line_is_refused(flag, capsys):
    assert _launcher().main(["--enable-api", *flag], {"RASA_TOKEN": TOKEN}) == 2
    assert "refused" in capsys.readouterr().err

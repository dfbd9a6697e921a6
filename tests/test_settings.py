"""Every setting is read in one place (nps/settings.py), with one-line errors."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nps.settings import (
    DEFAULT_DB_URL,
    REPO_ROOT,
    SettingError,
    Settings,
    env_float,
    env_int,
    load_settings,
)


def test_defaults_need_no_environment():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.db_url == DEFAULT_DB_URL
    assert settings.data_dir == REPO_ROOT / "data"
    assert settings.domain_path == REPO_ROOT / "domain"
    assert settings.actions_url == "http://127.0.0.1:5055/webhook"
    assert settings.bot_url == "http://127.0.0.1:5005"


def test_urls_follow_host_and_ports_unless_set_explicitly():
    env = {"NPS_HOST": "10.0.0.5", "NPS_ACTIONS_PORT": "6000", "NPS_RASA_PORT": "6001"}
    settings = load_settings(env)
    assert settings.actions_url == "http://10.0.0.5:6000/webhook"
    assert settings.bot_url == "http://10.0.0.5:6001"
    explicit = load_settings({**env, "NPS_ACTIONS_URL": "http://actions:5055/webhook"})
    assert explicit.actions_url == "http://actions:5055/webhook"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NPS_MAX_WHYS": "five"}, "NPS_MAX_WHYS must be a whole number, got 'five'"),
        ({"NPS_MAX_WHYS": "-1"}, "NPS_MAX_WHYS must be at least 0, got -1"),
        ({"NPS_MAX_CLARIFICATIONS": "0"}, "NPS_MAX_CLARIFICATIONS must be at least 1, got 0"),
        ({"NPS_RASA_PORT": "70000"}, "NPS_RASA_PORT must be at most 65535, got 70000"),
        ({"NPS_WEBCHAT_PORT": "8080.5"}, "NPS_WEBCHAT_PORT must be a whole number"),
    ],
)
def test_a_bad_value_names_its_variable(env, message):
    with pytest.raises(SettingError, match=message):
        load_settings(env)


def test_blank_means_default():
    assert load_settings({"NPS_MAX_WHYS": "  ", "NPS_DB_URL": ""}) == Settings()


def test_float_helper_refuses_what_is_not_a_finite_number():
    assert env_float({"X": "2.5"}, "X", 1.0) == 2.5
    for raw in ("nan", "inf", "abc"):
        with pytest.raises(SettingError, match="^X must be a"):
            env_float({"X": raw}, "X", 1.0)
    assert env_int({}, "X", 7) == 7


def _settings_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nps.settings", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=REPO_ROOT,
    )


def test_the_makefile_and_scripts_ask_the_module_for_values_in_force():
    done = _settings_cli("NPS_DB_URL", "NPS_WEBCHAT_PORT", env={"NPS_WEBCHAT_PORT": "9090"})
    assert done.returncode == 0
    assert done.stdout.splitlines() == [DEFAULT_DB_URL, "9090"]


def test_shell_output_is_safely_quoted(tmp_path: Path):
    odd = tmp_path / "it's here; rm -rf x"
    done = _settings_cli("--shell", env={"NPS_DATA_DIR": str(odd)})
    assert done.returncode == 0
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert shlex.split(lines["NPS_DATA_DIR"]) == [str(odd)]
    assert shlex.split(lines["NPS_ACTIONS_URL"]) == ["http://127.0.0.1:5055/webhook"]


def test_a_bad_value_stops_the_cli_with_one_line():
    done = _settings_cli("NPS_DB_URL", env={"NPS_RESURVEY_DAYS": "soon"})
    assert done.returncode == 1
    assert done.stderr.strip() == "NPS_RESURVEY_DAYS must be a whole number, got 'soon'"
    assert _settings_cli("NPS_NOT_A_SETTING").returncode == 2


def test_production_requires_strong_secrets():
    with pytest.raises(SettingError, match="NPS_PSEUDONYM_KEY must be set to at least 32 bytes"):
        load_settings({"NPS_ENV": "production", "NPS_WEBCHAT_SECRET": "s" * 32})
    with pytest.raises(SettingError, match="NPS_WEBCHAT_SECRET must be set"):
        load_settings({"NPS_ENV": "production", "NPS_PSEUDONYM_KEY": "k" * 32})
    with pytest.raises(SettingError, match="NPS_EMPLOYEE_LINK_KEY must be set"):
        load_settings(
            {"NPS_ENV": "production", "NPS_PSEUDONYM_KEY": "k" * 32, "NPS_WEBCHAT_SECRET": "s" * 32}
        )
    with pytest.raises(SettingError, match="NPS_ENV must be one of"):
        load_settings({"NPS_ENV": "prod"})
    strong = {
        "NPS_ENV": "production",
        "NPS_PSEUDONYM_KEY": "k" * 32,
        "NPS_WEBCHAT_SECRET": "s" * 32,
        "NPS_EMPLOYEE_LINK_KEY": "e" * 32,
    }
    assert load_settings(strong).environment == "production"


def test_web_chat_origins_default_to_the_local_page():
    assert load_settings({}).webchat_origins == ("http://127.0.0.1:8080", "http://localhost:8080")
    env = {"NPS_WEBCHAT_ORIGINS": " https://sklep.pl/ ,https://www.sklep.pl"}
    assert load_settings(env).webchat_origins == ("https://sklep.pl", "https://www.sklep.pl")


def test_a_local_key_is_made_once_private_and_kept(tmp_path: Path):
    from nps.keys import key

    assert key("pseudonym", "configured") == b"configured"
    first = key("pseudonym", "", tmp_path / "var")
    assert len(first) >= 32 and key("pseudonym", "", tmp_path / "var") == first
    assert (tmp_path / "var" / "pseudonym.key").stat().st_mode & 0o777 == 0o600


def test_a_lock_must_outlive_the_longest_turn():
    settings = load_settings({})
    assert settings.lock_lifetime > settings.turn_timeout
    env = {"NPS_TURN_TIMEOUT": "30", "NPS_LOCK_LIFETIME": "45"}
    assert (load_settings(env).turn_timeout, load_settings(env).lock_lifetime) == (30.0, 45.0)
    with pytest.raises(SettingError, match=r"NPS_LOCK_LIFETIME \(30\) must be longer than"):
        load_settings({"NPS_TURN_TIMEOUT": "30", "NPS_LOCK_LIFETIME": "30"})
    with pytest.raises(SettingError, match="NPS_SEND_TIMEOUT must be a number"):
        load_settings({"NPS_SEND_TIMEOUT": "fast"})

"""Every environment variable analytics reads, with its default.

What analytics shares with the bot (the tracker store, the trainers' files)
comes from `nps.settings`, so both always read the same data; numbers are
read with its `env_int` / `env_float`, which name the variable in a
one-line `SettingError`. Nothing here connects to anything: engines are made
later, when first needed (see `analytics.db`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nps import settings as bot_settings
from nps.settings import env_float, env_int, env_text

# The projection is analytics' own database, next to the bot's default store.
DEFAULT_ANALYTICS_DB_URL = f"sqlite:///{bot_settings.REPO_ROOT / 'var' / 'analytics.db'}"
DEFAULT_MODEL_PATH = bot_settings.REPO_ROOT / "models" / "nps-bot.tar.gz"


@dataclass(frozen=True)
class Settings:
    # Rasa's SQL tracker store: read only, never written by analytics.
    db_url: str
    # The projection's own database; on PostgreSQL it lives in its own schema.
    analytics_db_url: str
    analytics_schema: str
    # The running bot, for the dashboard's "Try the bot" page.
    bot_url: str
    # The REST channel's bearer token, when it requires one ("Try the bot").
    rest_token: str
    # Key of the keyed hash that turns sender ids (phone numbers on WhatsApp
    # and SMS) into pseudonyms (NPS_PSEUDONYM_KEY, checked by nps.settings).
    # Empty: the local key in var/pseudonym.key (analytics.pseudonym).
    pseudonym_key: str
    # The trainers' YAML files (NPS_DATA_DIR), the same ones the bot reads.
    data_dir: Path
    # A survey without an outcome whose last event is older than this is
    # counted as abandoned rather than in progress.
    abandon_after_hours: float
    live_refresh_seconds: int
    # The trained model (its metadata.json says when it was trained) and the
    # retrain advice's thresholds: answers since then, share not understood.
    model_path: Path = DEFAULT_MODEL_PATH
    retrain_answers: int = 5000
    retrain_not_understood: float = 0.10

    # --- the closed loop (cases/, docs/closed-loop.md) ---
    # The cases' tables: by default the tracker store's own database (one URL
    # to back up); another database when set.
    cases_db_url: str = ""
    # The dashboard's address as people reach it, for links in alerts.
    dashboard_url: str = ""
    # Alerts. Each channel is off while its address is empty.
    alert_webhook_url: str = ""  # generic webhook, body signed with the secret below
    alert_webhook_secret: str = ""
    alert_slack_url: str = ""  # Slack-compatible incoming webhook
    alert_teams_url: str = ""  # Teams-compatible incoming webhook
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    alert_email_from: str = ""
    alert_email_to: tuple[str, ...] = ()
    # An unacknowledged immediate alert is sent again after this many minutes.
    alert_repeat_minutes: int = 60
    # The daily digest of the other new cases, at this hour (store-local time).
    alert_digest_hour: int = 8
    # Rasa's HTTP API token (RASA_TOKEN; `make run` keeps one in
    # var/rasa_token): the case pages send replies through it.
    rasa_token: str = ""

    def rasa_api_token(self) -> str:
        """RASA_TOKEN, else the one `make run` made (read now, not at import)."""
        if self.rasa_token:
            return self.rasa_token
        try:
            return (bot_settings.REPO_ROOT / "var" / "rasa_token").read_text().strip()
        except OSError:
            return ""

    @property
    def drivers_file(self) -> Path:
        return self.data_dir / "drivers.yml"

    @property
    def known_issues_file(self) -> Path:
        return self.data_dir / "known_issues.yml"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; a bad value raises nps.settings.SettingError."""
    env = os.environ if env is None else env
    shared = bot_settings.load_settings(env)
    return Settings(
        db_url=shared.db_url,
        analytics_db_url=env_text(env, "NPS_ANALYTICS_DB_URL", DEFAULT_ANALYTICS_DB_URL),
        analytics_schema=env_text(env, "NPS_ANALYTICS_SCHEMA", "nps_analytics"),
        bot_url=shared.bot_url,
        rest_token=shared.rest_token,
        pseudonym_key=shared.pseudonym_key,
        data_dir=shared.data_dir,
        abandon_after_hours=env_float(env, "NPS_ABANDON_AFTER_HOURS", 24.0, minimum=0),
        live_refresh_seconds=env_int(env, "NPS_LIVE_REFRESH_SECONDS", 5, minimum=1),
        model_path=Path(env_text(env, "NPS_MODEL_PATH", str(DEFAULT_MODEL_PATH))),
        retrain_answers=env_int(env, "NPS_RETRAIN_ANSWERS", 5000, minimum=1),
        retrain_not_understood=env_float(env, "NPS_RETRAIN_NOT_UNDERSTOOD", 0.10, minimum=0),
        cases_db_url=env_text(env, "NPS_CASES_DB_URL", "") or shared.db_url,
        dashboard_url=(
            env_text(env, "NPS_DASHBOARD_URL", "")
            or f"http://{shared.host}:{shared.dashboard_port}"
        ).rstrip("/"),
        alert_webhook_url=env_text(env, "NPS_ALERT_WEBHOOK_URL", ""),
        alert_webhook_secret=env_text(env, "NPS_ALERT_WEBHOOK_SECRET", ""),
        alert_slack_url=env_text(env, "NPS_ALERT_SLACK_URL", ""),
        alert_teams_url=env_text(env, "NPS_ALERT_TEAMS_URL", ""),
        smtp_host=env_text(env, "NPS_SMTP_HOST", ""),
        smtp_port=env_int(env, "NPS_SMTP_PORT", 25, 1, 65535),
        smtp_user=env_text(env, "NPS_SMTP_USER", ""),
        smtp_password=env_text(env, "NPS_SMTP_PASSWORD", ""),
        smtp_starttls=env_text(env, "NPS_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
        alert_email_from=env_text(env, "NPS_ALERT_EMAIL_FROM", ""),
        alert_email_to=tuple(
            a.strip() for a in env_text(env, "NPS_ALERT_EMAIL_TO", "").split(",") if a.strip()
        ),
        alert_repeat_minutes=env_int(env, "NPS_ALERT_REPEAT_MINUTES", 60, 1, 7 * 24 * 60),
        alert_digest_hour=env_int(env, "NPS_ALERT_DIGEST_HOUR", 8, 0, 23),
        rasa_token=env_text(env, "RASA_TOKEN", ""),
    )

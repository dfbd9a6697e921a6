"""Every environment variable analytics reads, with its default, in one place.

Nothing here connects to anything: engines are made later, when first
needed (see `analytics.db`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # Rasa's SQL tracker store: read only, never written by analytics.
    db_url: str
    # The projection's own database; on PostgreSQL it lives in its own schema.
    analytics_db_url: str
    analytics_schema: str
    # The running bot, for the dashboard's "Try the bot" page.
    bot_url: str
    # Key of the keyed hash that turns sender ids (phone numbers on WhatsApp
    # and SMS) into pseudonyms. None: a random key per process is used, so
    # pseudonyms are stable only until the dashboard restarts.
    pseudonym_key: str | None
    drivers_file: Path
    known_issues_file: Path
    # A survey without an outcome whose last event is older than this is
    # counted as abandoned rather than in progress.
    abandon_after_hours: float
    live_refresh_seconds: int


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        # Absolute defaults, so the dashboard finds var/ from any directory.
        db_url=env.get("NPS_DB_URL", f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"),
        analytics_db_url=env.get(
            "NPS_ANALYTICS_DB_URL", f"sqlite:///{REPO_ROOT / 'var' / 'analytics.db'}"
        ),
        analytics_schema=env.get("NPS_ANALYTICS_SCHEMA", "nps_analytics"),
        bot_url=env.get("NPS_BOT_URL", "http://127.0.0.1:5005").rstrip("/"),
        pseudonym_key=env.get("NPS_PSEUDONYM_KEY") or None,
        drivers_file=Path(env.get("NPS_DRIVERS_FILE", str(REPO_ROOT / "data" / "drivers.yml"))),
        known_issues_file=Path(
            env.get("NPS_KNOWN_ISSUES_FILE", str(REPO_ROOT / "data" / "known_issues.yml"))
        ),
        abandon_after_hours=float(env.get("NPS_ABANDON_AFTER_HOURS", "24")),
        live_refresh_seconds=int(env.get("NPS_LIVE_REFRESH_SECONDS", "5")),
    )

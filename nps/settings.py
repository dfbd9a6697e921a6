"""Every setting of the bot, read from the environment in one place.

Defaults make a local run work with no configuration at all. Operators
change behaviour with environment variables; trainers change words in the
YAML files under data/.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # How many "why?" questions at most, on the main negative driver.
    max_whys: int = 5
    # Nobody who finished a survey less than this many days ago is asked again.
    resurvey_days: int = 30
    # How many unclear answers to one question before the bot moves on.
    max_clarifications: int = 2
    # Where promoters are invited to leave a review; empty: no link shown.
    review_url: str = ""
    # The tracker store (SQLAlchemy URL). SQLite file by default.
    db_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
    # The trainers' YAML files (drivers, known issues, why-questions, tips).
    data_dir: Path = REPO_ROOT / "data"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; a bad value raises ValueError naming the variable."""
    env = os.environ if env is None else env
    defaults = Settings()
    return Settings(
        max_whys=_int(env, "NPS_MAX_WHYS", defaults.max_whys, 0),
        resurvey_days=_int(env, "NPS_RESURVEY_DAYS", defaults.resurvey_days, 0),
        max_clarifications=_int(
            env, "NPS_MAX_CLARIFICATIONS", defaults.max_clarifications, 1
        ),
        review_url=env.get("NPS_REVIEW_URL", defaults.review_url).strip(),
        db_url=env.get("NPS_DB_URL", "").strip() or defaults.db_url,
        data_dir=Path(env.get("NPS_DATA_DIR", "").strip() or defaults.data_dir),
    )

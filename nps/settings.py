"""Every setting of the project, read from the environment in one place.

Defaults make a local run work with no configuration at all: each default is
stated here and only here (the Makefile and scripts ask this module, see
`python -m nps.settings NPS_DB_URL`). Operators change behaviour with
environment variables; trainers change words in the YAML files under data/.

`env_int`, `env_float` and `env_text` are the one way any part of the project
(bot, analytics, scripts) reads a value: a bad one raises `SettingError`
with one line that names the variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The tracker store (SQLAlchemy URL): a SQLite file, no server to start.
DEFAULT_DB_URL = f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
# The trainers' YAML files (drivers, known issues, why-questions, tips).
DEFAULT_DATA_DIR = REPO_ROOT / "data"
# Rasa's domain: a folder of YAML files (responses, survey, drivers).
DEFAULT_DOMAIN_PATH = REPO_ROOT / "domain"


class SettingError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


def env_text(env: Mapping[str, str], name: str, default: str) -> str:
    """The stripped value of `name`, or `default` when unset or blank."""
    return env.get(name, "").strip() or default


def env_int(
    env: Mapping[str, str],
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, got {raw!r}") from None
    _check_range(name, value, minimum, maximum)
    return value


def env_float(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingError(f"{name} must be a finite number, got {raw!r}")
    _check_range(name, value, minimum, maximum)
    return value


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingError(f"{name} must be at most {maximum}, got {value}")


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
    # The tracker store (SQLAlchemy URL), for Rasa (endpoints.yml), the
    # start-up check and analytics alike.
    db_url: str = DEFAULT_DB_URL
    # The trainers' YAML files, for the action server, the checks and analytics.
    data_dir: Path = DEFAULT_DATA_DIR
    # Rasa's domain (a file or a folder of files).
    domain_path: Path = DEFAULT_DOMAIN_PATH


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; a bad value raises SettingError naming the variable."""
    env = os.environ if env is None else env
    defaults = Settings()
    return Settings(
        max_whys=env_int(env, "NPS_MAX_WHYS", defaults.max_whys, minimum=0),
        resurvey_days=env_int(env, "NPS_RESURVEY_DAYS", defaults.resurvey_days, minimum=0),
        max_clarifications=env_int(
            env, "NPS_MAX_CLARIFICATIONS", defaults.max_clarifications, minimum=1
        ),
        review_url=env_text(env, "NPS_REVIEW_URL", defaults.review_url),
        db_url=env_text(env, "NPS_DB_URL", defaults.db_url),
        data_dir=Path(env_text(env, "NPS_DATA_DIR", str(defaults.data_dir))),
        domain_path=Path(env_text(env, "NPS_DOMAIN", str(defaults.domain_path))),
    )


# Variables whose resolved value shell scripts and the Makefile may ask for.
_PRINTABLE = {
    "NPS_DB_URL": lambda s: s.db_url,
    "NPS_DATA_DIR": lambda s: str(s.data_dir),
    "NPS_DOMAIN": lambda s: str(s.domain_path),
}


def main(argv: list[str]) -> int:
    """`python -m nps.settings NPS_DB_URL`: the value in force, default included."""
    if len(argv) != 1 or argv[0] not in _PRINTABLE:
        print(f"usage: python -m nps.settings {{{','.join(sorted(_PRINTABLE))}}}", file=sys.stderr)
        return 2
    try:
        print(_PRINTABLE[argv[0]](load_settings()))
    except SettingError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

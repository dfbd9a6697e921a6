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
import shlex
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
# Where the local services listen. Loopback unless an operator says otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORTS = {
    "NPS_RASA_PORT": 5005,
    "NPS_ACTIONS_PORT": 5055,
    "NPS_SHELL_PORT": 5006,
    "NPS_DASHBOARD_PORT": 8501,
    "NPS_WEBCHAT_PORT": 8080,
}


# What an operator says about this installation: "development" (the
# default: local secrets are made on first use and kept in var/) or
# "production" (every secret must come from the environment, strong enough).
ENVIRONMENTS = ("development", "production")
# A pseudonym key or a web chat signing secret shorter than this (in bytes)
# is refused in production: a phone number's keyed hash must not be
# brute-forceable.
MIN_SECRET_BYTES = 32


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
    # How many "why?" questions at most: None leaves it to the trainers'
    # why_limit in data/survey_paths.yml (nps.flow.max_whys); an operator's
    # NPS_MAX_WHYS wins.
    max_whys: int | None = None
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
    # The address every local service binds to, and the port of each.
    host: str = DEFAULT_HOST
    rasa_port: int = DEFAULT_PORTS["NPS_RASA_PORT"]
    actions_port: int = DEFAULT_PORTS["NPS_ACTIONS_PORT"]
    shell_port: int = DEFAULT_PORTS["NPS_SHELL_PORT"]
    dashboard_port: int = DEFAULT_PORTS["NPS_DASHBOARD_PORT"]
    webchat_port: int = DEFAULT_PORTS["NPS_WEBCHAT_PORT"]
    # "development" or "production" (see ENVIRONMENTS).
    environment: str = "development"
    # The longest customer message kept, in characters: a longer one is cut
    # (and the customer told so) at every ingress.
    max_message_chars: int = 2000
    # Conversations whose last event is older than this many days are deleted
    # from the tracker store and every projection; 0 keeps them forever.
    retention_days: int = 0
    # Keyed hash of sender ids (pseudonyms) and the web chat's id signatures.
    # Empty in development: a local key is made once and kept in var/
    # (nps.secrets); production requires them, at least MIN_SECRET_BYTES long.
    pseudonym_key: str = ""
    webchat_secret: str = ""
    # Web pages allowed to open the web chat's socket (their Origin header);
    # empty: the local chat page of `make run`.
    # A bearer token the REST channel requires when set (channels/rest.py, via
    # credentials), and that the dashboard's "Try the bot" page then sends.
    rest_token: str = ""
    webchat_origins: tuple[str, ...] = (
        f"http://{DEFAULT_HOST}:{DEFAULT_PORTS['NPS_WEBCHAT_PORT']}",
        f"http://localhost:{DEFAULT_PORTS['NPS_WEBCHAT_PORT']}",
    )

    # The action server's webhook as Rasa calls it (endpoints.yml), and Rasa's
    # HTTP address as the dashboard calls it; by default the local services,
    # set explicitly when they run elsewhere.
    actions_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORTS['NPS_ACTIONS_PORT']}/webhook"
    bot_url: str = f"http://{DEFAULT_HOST}:{DEFAULT_PORTS['NPS_RASA_PORT']}"
    # An agent's reply to a WhatsApp customer whose last message is older
    # than 24 hours must be an approved template: its name, optionally
    # ":<language>" (default pl), with one body parameter that carries the
    # agent's words (cases/reply.py). Empty: such replies are refused.
    whatsapp_reply_template: str = ""

    # Employees' signed survey links (nps/links.py): the signing key (empty
    # in development: a local one in var/) and how long a link stays valid.
    employee_link_key: str = ""
    employee_link_days: int = 30

    @property
    def survey_paths_file(self) -> Path:
        """The trainers' survey paths (nps/survey_paths.py)."""
        return self.data_dir / "survey_paths.yml"

    # --- Nothing lost (docs/deployment.md) ---
    # The shared conversation-lock store of several Rasa processes
    # (redis://host:6379/1); empty: locks in memory, one Rasa process only.
    lock_store_url: str = ""
    # The longest one customer turn may run, in seconds (NLU, actions, the
    # tracker save; sends happen after the turn, outside the lock). A turn
    # that runs longer fails and the platform redelivers its message.
    turn_timeout: float = 60.0
    # How long a conversation's lock outlives its last heartbeat, in seconds:
    # longer than a turn, so a slow turn never overlaps the next one.
    lock_lifetime: float = 120.0
    # How long the tracker store retries a lost database connection before
    # the turn fails (and the platform redelivers), in seconds.
    db_retry_seconds: float = 3.0
    # Outgoing messages: one try's timeout, and how long a message that could
    # not be sent stays in the outbox being retried before it counts as failed.
    send_timeout: float = 10.0
    outbox_max_age_hours: float = 24.0


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; a bad value raises SettingError naming the variable."""
    env = os.environ if env is None else env
    defaults = Settings()
    host = env_text(env, "NPS_HOST", defaults.host)
    ports = {
        _port_field(name): env_int(env, name, default, 1, 65535)
        for name, default in DEFAULT_PORTS.items()
    }
    environment = env_text(env, "NPS_ENV", defaults.environment).lower()
    if environment not in ENVIRONMENTS:
        raise SettingError(f"NPS_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    secrets_ = {
        name: env_text(env, name, "")
        for name in ("NPS_PSEUDONYM_KEY", "NPS_WEBCHAT_SECRET", "NPS_EMPLOYEE_LINK_KEY")
    }
    if environment == "production":
        for name, value in secrets_.items():
            if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
                raise SettingError(
                    f"{name} must be set to at least {MIN_SECRET_BYTES} bytes when "
                    f"NPS_ENV=production (e.g. python -c 'import secrets; "
                    f"print(secrets.token_urlsafe(32))')"
                )
    origins = tuple(
        origin.strip().rstrip("/")
        for origin in env.get("NPS_WEBCHAT_ORIGINS", "").split(",")
        if origin.strip()
    )
    if not origins:
        origins = tuple(
            f"http://{name}:{ports['webchat_port']}" for name in dict.fromkeys([host, "localhost"])
        )
    return Settings(
        environment=environment,
        max_message_chars=env_int(
            env, "NPS_MAX_MESSAGE_CHARS", defaults.max_message_chars, 100, 100_000
        ),
        retention_days=env_int(env, "NPS_RETENTION_DAYS", defaults.retention_days, minimum=0),
        pseudonym_key=secrets_["NPS_PSEUDONYM_KEY"],
        webchat_secret=secrets_["NPS_WEBCHAT_SECRET"],
        employee_link_key=secrets_["NPS_EMPLOYEE_LINK_KEY"],
        employee_link_days=env_int(
            env, "NPS_EMPLOYEE_LINK_DAYS", defaults.employee_link_days, 1, 366
        ),
        webchat_origins=origins,
        rest_token=env_text(env, "NPS_REST_TOKEN", ""),
        max_whys=env_int(env, "NPS_MAX_WHYS", defaults.max_whys, minimum=0, maximum=100),
        resurvey_days=env_int(env, "NPS_RESURVEY_DAYS", defaults.resurvey_days, minimum=0),
        max_clarifications=env_int(
            env, "NPS_MAX_CLARIFICATIONS", defaults.max_clarifications, minimum=1
        ),
        review_url=env_text(env, "NPS_REVIEW_URL", defaults.review_url),
        db_url=env_text(env, "NPS_DB_URL", defaults.db_url),
        data_dir=Path(env_text(env, "NPS_DATA_DIR", str(defaults.data_dir))),
        domain_path=Path(env_text(env, "NPS_DOMAIN", str(defaults.domain_path))),
        host=host,
        **ports,
        actions_url=env_text(
            env, "NPS_ACTIONS_URL", f"http://{host}:{ports['actions_port']}/webhook"
        ),
        bot_url=env_text(env, "NPS_BOT_URL", f"http://{host}:{ports['rasa_port']}").rstrip("/"),
        whatsapp_reply_template=env_text(env, "NPS_WHATSAPP_REPLY_TEMPLATE", ""),
        **_reliability(env, defaults),
    )


def _reliability(env: Mapping[str, str], defaults: Settings) -> dict[str, object]:
    """The settings of the nothing-lost machinery, checked against each other."""
    turn_timeout = env_float(env, "NPS_TURN_TIMEOUT", defaults.turn_timeout, 1, 3600)
    lock_lifetime = env_float(env, "NPS_LOCK_LIFETIME", defaults.lock_lifetime, 2, 7200)
    if lock_lifetime <= turn_timeout:
        # A lock that expires while its turn still runs lets the next message
        # of the same customer run alongside it: events would be lost.
        raise SettingError(
            f"NPS_LOCK_LIFETIME ({lock_lifetime:g}) must be longer than "
            f"NPS_TURN_TIMEOUT ({turn_timeout:g})"
        )
    return {
        "lock_store_url": env_text(env, "NPS_LOCK_STORE_URL", defaults.lock_store_url),
        "turn_timeout": turn_timeout,
        "lock_lifetime": lock_lifetime,
        "db_retry_seconds": env_float(
            env, "NPS_DB_RETRY_SECONDS", defaults.db_retry_seconds, 0, 600
        ),
        "send_timeout": env_float(env, "NPS_SEND_TIMEOUT", defaults.send_timeout, 0.1, 300),
        "outbox_max_age_hours": env_float(
            env, "NPS_OUTBOX_MAX_AGE_HOURS", defaults.outbox_max_age_hours, 0.01, 24 * 30
        ),
    }


# What shell scripts and the Makefile may ask for: the value in force of each
# variable, default included (NPS_ACTIONS_URL is derived from host and port).
_PRINTABLE = {
    "NPS_DB_URL": lambda s: s.db_url,
    "NPS_DATA_DIR": lambda s: str(s.data_dir),
    "NPS_DOMAIN": lambda s: str(s.domain_path),
    "NPS_HOST": lambda s: s.host,
    "NPS_ACTIONS_URL": lambda s: s.actions_url,
    "NPS_BOT_URL": lambda s: s.bot_url,
    "NPS_LOCK_STORE_URL": lambda s: s.lock_store_url,
}
_NAMES = sorted([*_PRINTABLE, *DEFAULT_PORTS])


def _port_field(name: str) -> str:
    """NPS_RASA_PORT -> rasa_port, the Settings field of a port variable."""
    return name.removeprefix("NPS_").lower()


def value_of(settings: Settings, name: str) -> str:
    if name in DEFAULT_PORTS:
        return str(getattr(settings, _port_field(name)))
    return _PRINTABLE[name](settings)


def main(argv: list[str]) -> int:
    """`python -m nps.settings NAME...`: each value on a line of its own;
    `python -m nps.settings --shell`: every value as `NAME=value` lines that a
    shell script can `eval`."""
    shell = argv == ["--shell"]
    names = _NAMES if shell else argv
    if not names or any(name not in _NAMES for name in names):
        choices = " | ".join(_NAMES)
        print(f"usage: python -m nps.settings --shell | NAME... ({choices})", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingError as error:
        print(error, file=sys.stderr)
        return 1
    for name in names:
        value = value_of(settings, name)
        print(f"{name}={shlex.quote(value)}" if shell else value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

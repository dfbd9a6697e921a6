"""Running Rasa's command line from a benchmark: the same executable and the
same environment for every script that trains or tests a model."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from tests.bot_process import REPO, VENV_BIN

RASA = VENV_BIN / "rasa"


def rasa_env(cache_dir: Path) -> dict[str, str]:
    """The environment of a benchmark's ``rasa`` command.

    ``cache_dir`` is its own training cache (RASA_CACHE_DIRECTORY, read by
    rasa/engine/caching.py in Rasa 3.6): a benchmark never reads or fills the
    project's .rasa/cache, so it neither profits from nor spoils `make train`.
    """
    return dict(
        os.environ,
        PYTHONPATH=str(REPO),
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_CACHE_DIRECTORY=str(cache_dir),
    )


def rasa_version() -> str:
    return version("rasa")

"""Running Rasa's command line from a benchmark: the same executable and the
same environment for every script that trains or tests a model."""

from __future__ import annotations

import os
import subprocess
import time
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


def train_nlu(
    config: Path, out: Path, timeout: float, name: str = "nlu"
) -> tuple[Path, str, float]:
    """``rasa train nlu`` with ``config`` on data/nlu into ``out`` (its own cache
    there too); the model's path, Rasa's whole log and the seconds it took.
    A failed training exits with the log's last lines."""
    command = [str(RASA), "train", "nlu", "--config", str(config)]
    command += ["--nlu", str(REPO / "data" / "nlu"), "--out", str(out)]
    command += ["--fixed-model-name", name]
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=rasa_env(out / "cache"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    log = completed.stdout + completed.stderr
    model = out / f"{name}.tar.gz"
    if completed.returncode != 0 or not model.exists():
        raise SystemExit("rasa train nlu failed:\n" + "\n".join(log.splitlines()[-30:]))
    return model, log, seconds

"""Training time: from scratch, after one NLU example is added, and with nothing changed.

    make bench-train
    .venv/bin/python -m bench.train_time

Works on a fresh temporary copy of config.yml, the domain/ folder and data/
(the files `make train` trains on) with an empty Rasa training cache of its
own (RASA_CACHE_DIRECTORY, read by rasa/engine/caching.py in Rasa 3.6), so
neither the project's models/ nor its .rasa/cache is read or written:

  1. from scratch   `rasa train` with the empty cache: every component trains
  2. one NLU change  one example appended to the copy of a driver file, same
                     cache: Rasa retrains what depends on the NLU data
  3. nothing changed the same again: every component restored from the cache

The exact command of `make train` is used. Per run the script prints the
wall-clock time and which components Rasa trained and which it restored
from the cache (from Rasa's own log lines).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.procstats import loadavg
from bench.rasa_cli import RASA, rasa_env
from bench.tables import markdown_table
from tests.bot_process import REPO

DRIVER_FILE = Path("data/nlu/drivers/delivery.yml")
# A new example a trainer might add; unlike any line already in the file.
NEW_EXAMPLE = '[kurier przywiózł paczkę w sobotę rano]{"entity": "delivery", "role": "pos"}'
_TRAINED = re.compile(r"Starting to train component '([^']+)'")
_RESTORED = re.compile(r"Restored component '([^']+)' from cache")


def count_examples(path: Path) -> int:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return sum(
        len([line for line in (item.get("examples") or "").splitlines() if line.strip()])
        for item in data.get("nlu") or []
    )


def add_one_example(path: Path) -> None:
    """Append one example to the last examples block of a driver file."""
    before = count_examples(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + f"\n    - {NEW_EXAMPLE}\n", encoding="utf-8")
    # The files end with their examples block today; if one day it does not,
    # say so instead of timing a retrain of a broken file.
    if count_examples(path) != before + 1:
        raise SystemExit(f"{path}: could not append an example to its last examples block")


def train(
    project: Path, cache: Path, name: str, timeout: float
) -> tuple[float, list[str], list[str]]:
    """One `rasa train` in ``project``; returns seconds, trained and restored components."""
    env = rasa_env(cache)
    command = [
        str(RASA),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain",
        "--data",
        "data/nlu",
        "data/stories",
        "data/rules.yml",
        "--out",
        "models",
        "--fixed-model-name",
        name,
    ]
    log_path = project / f"{name}.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        completed = subprocess.run(
            command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout
        )
    seconds = time.monotonic() - started
    log_text = log_path.read_text(errors="replace")
    if completed.returncode != 0 or not (project / "models" / f"{name}.tar.gz").exists():
        raise SystemExit(f"rasa train ({name}) failed:\n" + "\n".join(log_text.splitlines()[-40:]))
    return seconds, _TRAINED.findall(log_text), _RESTORED.findall(log_text)


def short(components: list[str]) -> str:
    return ", ".join(sorted(set(components))) or "none"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train_time", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800,
        help="give up on one training after this many seconds",
    )
    parser.add_argument(
        "--skip-unchanged", action="store_true", help="skip the third run (nothing changed)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary project (to read Rasa's logs)"
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="nps-train-time-"))
    try:
        project = tmp / "project"
        project.mkdir()
        shutil.copy(REPO / "config.yml", project / "config.yml")
        shutil.copytree(REPO / "domain", project / "domain")
        (project / "data").mkdir()
        shutil.copytree(REPO / "data" / "nlu", project / "data" / "nlu")
        shutil.copytree(REPO / "data" / "stories", project / "data" / "stories")
        shutil.copy(REPO / "data" / "rules.yml", project / "data" / "rules.yml")
        cache = tmp / "cache"  # empty: Rasa creates it

        print(
            f"training time, Rasa cache in {cache} (empty at start); "
            f"{os.cpu_count()} CPUs, load avg {loadavg()}",
            flush=True,
        )
        runs = []
        seconds, trained, restored = train(project, cache, "scratch", args.timeout)
        runs.append(("from scratch (empty cache)", seconds, trained, restored))
        print(f"  from scratch:     {seconds:7.1f} s", flush=True)

        add_one_example(project / DRIVER_FILE)
        seconds, trained, restored = train(project, cache, "one-change", args.timeout)
        runs.append((f"one example added to {DRIVER_FILE}", seconds, trained, restored))
        print(f"  one NLU change:   {seconds:7.1f} s", flush=True)

        if not args.skip_unchanged:
            seconds, trained, restored = train(project, cache, "unchanged", args.timeout)
            runs.append(("nothing changed", seconds, trained, restored))
            print(f"  nothing changed:  {seconds:7.1f} s", flush=True)

        print()
        rows = [
            [label, f"{seconds:.1f} s", short(trained), f"{len(set(restored))} components"]
            for label, seconds, trained, restored in runs
        ]
        header = ["run", "wall time", "components trained", "restored from cache"]
        print(markdown_table(header, rows, align="lrll"))
        if args.keep:
            print(f"\nlogs and models kept in {project}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

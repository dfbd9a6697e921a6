"""How long the bot takes to start: the model loaded both ways, and a whole `rasa run`.

    make bench-start
    .venv/bin/python -m bench.start_time [--model models/nps-bot.tar.gz] [--runs 3]

1. the model loaded in this process (``Agent.load``) with nps_nlu/diet.py's
   loader, then with Rasa's own (its one build step traced in graph mode);
2. the real bot (action server + ``rasa run`` on SQLite) from launch until
   it answers /status with the model loaded, then until its first reply.

Each figure is the median of ``--runs`` runs (the first load of a process
also imports TensorFlow; that import is timed on its own line).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.tables import markdown_table
from tests.bot_process import DEFAULT_MODEL, BotProcess


def _agent_seconds(model: Path, rasas_own: bool) -> float:
    from rasa.core.agent import Agent

    from nps_nlu.diet import FastLoadDIETClassifier

    FastLoadDIETClassifier.build_eagerly = not rasas_own
    try:
        start = time.monotonic()
        Agent.load(str(model))
        return time.monotonic() - start
    finally:
        FastLoadDIETClassifier.build_eagerly = True


def _bot_seconds(model: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="nps-start-") as tmp:
        start = time.monotonic()
        with BotProcess(db_url=f"sqlite:///{tmp}/tracker.db", model=model, log_dir=tmp) as bot:
            ready = time.monotonic() - start
            bot.send("bench", "cześć")
            first_reply = time.monotonic() - start
    return ready, first_reply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    if not args.model.exists():
        raise SystemExit(f"no model at {args.model}: run `make train`")

    start = time.monotonic()
    import rasa.core.agent  # noqa: F401  (TensorFlow and Rasa, once per process)

    imported = time.monotonic() - start
    quick = [_agent_seconds(args.model, rasas_own=False) for _ in range(args.runs)]
    rasas = [_agent_seconds(args.model, rasas_own=True) for _ in range(args.runs)]
    bots = [_bot_seconds(args.model) for _ in range(args.runs)]
    rows = [
        ["import Rasa and TensorFlow", f"{imported:.1f}"],
        ["load the model, nps_nlu/diet.py's loader", f"{statistics.median(quick):.1f}"],
        ["load the model, Rasa's own loader", f"{statistics.median(rasas):.1f}"],
        [
            "`rasa run` + action server: model loaded",
            f"{statistics.median(b[0] for b in bots):.1f}",
        ],
        ["`rasa run` + action server: first reply", f"{statistics.median(b[1] for b in bots):.1f}"],
    ]
    print(f"Bot start, median of {args.runs} runs ({args.model})\n")
    print(markdown_table(["what", "seconds"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where one Rasa turn spends its CPU: a cProfile of the full bot, in process.

    .venv/bin/python -m bench.profile_turn --conversations 35
    .venv/bin/python -m bench.profile_turn --sqlite --top 30

Loads ``models/nps-bot.tar.gz`` into an ``Agent`` in this process, starts the
action server (``python -m actions``) on a free loopback port, and sends the
conversations of bench/corpus.py one after another (no concurrency: the
profile is of the work, not of the waiting). The profiler's clock is this
process's CPU time, so time spent waiting for the action server is not
counted, only what Rasa does around each call.

Printed: CPU ms per message in total and in a few buckets (NLU, dialogue
policies, calls to the action server with their JSON and schema check, the
tracker store), the custom action calls per message by name with the mean
request size, and the top functions by cumulative CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.corpus import conversations
from tests.bot_process import DEFAULT_MODEL, REPO, VENV_BIN, free_port

# Buckets of the report: (label, module path suffix, function name). A bucket's
# figure is that function's cumulative CPU time; they can nest (the schema
# check is inside the action call), so they do not add up to the total.
BUCKETS = [
    ("NLU (parse_message)", "rasa/core/processor.py", "parse_message"),
    (
        "policies (predict_next_with_tracker)",
        "rasa/core/processor.py",
        "_predict_next_with_tracker_if_should",
    ),
    ("custom action calls (RemoteAction.run)", "rasa/core/actions/action.py", "run@RemoteAction"),
    ("  request JSON (_action_call_format)", "rasa/core/actions/action.py", "_action_call_format"),
    (
        "  schema check (_validate_action_result)",
        "rasa/core/actions/action.py",
        "_validate_action_result",
    ),
    ("tracker store: retrieve", "rasa/core/tracker_store.py", "retrieve"),
    ("tracker store: save", "rasa/core/tracker_store.py", "save"),
]


def _wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the action server did not answer {url} in {timeout:.0f} s")


def _count_remote_calls(counts: dict, sizes: dict) -> None:
    """Wrap RemoteAction.run to count calls per action and their request size."""
    from rasa.core.actions.action import RemoteAction

    original_run = RemoteAction.run
    original_format = RemoteAction._action_call_format

    async def run(self, *args, **kwargs):
        counts[self.name()] += 1
        return await original_run(self, *args, **kwargs)

    def call_format(self, tracker, domain):
        body = original_format(self, tracker, domain)
        sizes[self.name()].append(len(json.dumps(body)))
        return body

    run.__qualname__ = "RemoteAction.run"
    RemoteAction.run = run
    RemoteAction._action_call_format = call_format


def _bucket_ms(stats: pstats.Stats, suffix: str, function: str) -> float:
    name, _, owner = function.partition("@")
    total = 0.0
    for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if func == name and path.endswith(suffix):
            # the wrapper above (bench/profile_turn.py) stands for RemoteAction.run
            total = max(total, ct)
    if owner:
        for (path, _line, func), row in stats.stats.items():
            if func == "run" and path.endswith("bench/profile_turn.py"):
                total = max(total, row[3])
    return total * 1000


async def _talk(agent, scripts: list[list[str]], prefix: str) -> int:
    sent = 0
    for number, script in enumerate(scripts):
        sender = f"{prefix}-{number}"
        for text in script:
            await agent.handle_text(text, sender_id=sender)
            sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_turn", description=__doc__)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--conversations", type=int, default=35)
    parser.add_argument("--warmup", type=int, default=7)
    parser.add_argument("--sqlite", action="store_true", help="SQL tracker store in a temp file")
    parser.add_argument(
        "--selective-domain",
        action="store_true",
        help="what-if: the action endpoint with enable_selective_domain (the domain "
        "goes only to the actions that need it: the forms' validation)",
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--dump", type=Path, help="also write the raw profile here")
    args = parser.parse_args(argv)

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="nps-profile-"))
    log = open(tmp / "actions.log", "wb")
    actions = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "actions", "--port", str(port)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health")
        return asyncio.run(_profile(args, port, tmp))
    finally:
        actions.terminate()
        actions.wait(timeout=20)


async def _profile(args, port: int, tmp: Path) -> int:
    from rasa.core.agent import load_agent
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
    from rasa.utils.endpoints import EndpointConfig

    counts: dict[str, int] = collections.Counter()
    sizes: dict[str, list[int]] = collections.defaultdict(list)
    agent = await load_agent(
        model_path=str(args.model),
        action_endpoint=EndpointConfig(
            f"http://127.0.0.1:{port}/webhook", enable_selective_domain=args.selective_domain
        ),
    )
    if args.sqlite:
        store = SQLTrackerStore(agent.domain, dialect="sqlite", db=str(tmp / "tracker.db"))
    else:
        store = InMemoryTrackerStore(agent.domain)
    agent.tracker_store = store
    agent.processor.tracker_store = store

    await _talk(agent, conversations(args.warmup, args.seed + 1), "warm")
    _count_remote_calls(counts, sizes)
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    messages = await _talk(agent, conversations(args.conversations, args.seed), "measured")
    profiler.disable()
    cpu_ms = (time.process_time() - started) * 1000

    stats = pstats.Stats(profiler)
    print(
        f"{messages} messages, {args.conversations} conversations, one at a time, "
        f"{'SQLite' if args.sqlite else 'in-memory'} tracker store"
    )
    print(f"Rasa CPU per message: {cpu_ms / messages:.1f} ms (profiler overhead included)")
    for label, suffix, function in BUCKETS:
        print(f"  {label:44} {_bucket_ms(stats, suffix, function) / messages:6.1f} ms/msg")
    calls = sum(counts.values())
    print(f"custom action calls: {calls} = {calls / messages:.2f} per message")
    for name, count in counts.most_common():
        mean = sum(sizes[name]) / len(sizes[name]) if sizes[name] else 0
        print(f"  {name:28} {count:5}  request {mean / 1024:5.1f} KB on average")
    if args.dump:
        stats.dump_stats(args.dump)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where one Rasa turn spends its CPU: a cProfile of the full bot, in process.

    .venv/bin/python -m bench.profile_turn --conversations 35
    .venv/bin/python -m bench.profile_turn --sqlite --top 30

Loads ``models/nps-bot.tar.gz`` into an ``Agent`` in this process, starts the
action server (``python -m actions``) on a free loopback port, and sends the
conversations of bench/corpus.py one after another (no concurrency: the
profile is of the work, not of the waiting). The clock is this process's CPU time,
so time spent waiting for the action server is not counted, only what Rasa
does around each call.

Printed: CPU ms per message in total and in a few parts (NLU, dialogue
policies, calls to the action server with their JSON and schema check, the
tracker store), timed around each call, and the custom action calls per
message by name with the mean request size; with ``--cprofile N`` also the
top N functions of a cProfile (whose overhead inflates call-heavy code).
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

# What the report times, as (label, module, owner, function). Each is timed in
# CPU time of this process around every call, awaits included (nothing else
# runs in this process meanwhile: one conversation at a time), so an action
# call's figure is Rasa's own work around it, not the action server's. They
# nest (the schema check is part of an action call), so they do not add up.
TIMED = [
    ("NLU (parse_message)", "rasa.core.processor", "MessageProcessor", "parse_message"),
    (
        "policies (_predict_next_with_tracker)",
        "rasa.core.processor",
        "MessageProcessor",
        "_predict_next_with_tracker",
    ),
    ("custom action calls (RemoteAction.run)", "rasa.core.actions.action", "RemoteAction", "run"),
    (
        "  request JSON (_action_call_format)",
        "rasa.core.actions.action",
        "RemoteAction",
        "_action_call_format",
    ),
    (
        "  schema check (_validate_action_result)",
        "rasa.core.actions.action",
        "RemoteAction",
        "_validate_action_result",
    ),
    (
        "tracker store: fetch (get_tracker)",
        "rasa.core.processor",
        "MessageProcessor",
        "get_tracker",
    ),
    (
        "tracker store: save (save_tracker)",
        "rasa.core.processor",
        "MessageProcessor",
        "save_tracker",
    ),
]


def _timed(spent: dict[str, float], label: str, function):
    """``function`` (sync or async) adding its CPU time to ``spent[label]``."""
    if asyncio.iscoroutinefunction(function):

        async def timed_async(*args, **kwargs):
            started = time.process_time()
            try:
                return await function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - started

        return timed_async

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


def _install_timers(spent: dict[str, float]) -> None:
    import importlib

    for label, module, owner, name in TIMED:
        cls = getattr(importlib.import_module(module), owner)
        setattr(cls, name, _timed(spent, label, getattr(cls, name)))


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


def _cache_schema_check() -> None:
    """What-if: the same check of an answer, with the validator built once."""
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction

    spec = RemoteAction.action_response_format_spec()
    validator = validators.validator_for(spec)(spec)

    def validate(self, result) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += ". Failed to validate Action server response from API."
            raise error
        return True

    RemoteAction._validate_action_result = validate


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
    parser.add_argument(
        "--cached-schema-check",
        action="store_true",
        help="what-if: Rasa checks each action server answer with a JSON schema "
        "validator built once, instead of jsonschema.validate (which first checks "
        "the schema itself, on every call)",
    )
    parser.add_argument(
        "--cprofile",
        type=int,
        default=0,
        metavar="N",
        help="also run cProfile and print its top N functions (its overhead per "
        "call inflates call-heavy code such as jsonschema several times)",
    )
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
    import logging

    from rasa.core.agent import load_agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # as `rasa run` logs by default: no debug records (they cost CPU of their own)
    configure_logging_and_warnings(logging.INFO)
    configure_structlog(logging.INFO)
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    counts: dict[str, int] = collections.Counter()
    sizes: dict[str, list[int]] = collections.defaultdict(list)
    agent = await load_agent(
        model_path=str(args.model),
        endpoints=AvailableEndpoints(
            action=EndpointConfig(
                f"http://127.0.0.1:{port}/webhook", enable_selective_domain=args.selective_domain
            )
        ),
    )
    if args.sqlite:
        # the bot's own SQL store (endpoints.yml), on a SQLite file of this run
        from storage.tracker_store import NpsSQLTrackerStore

        store = NpsSQLTrackerStore(agent.domain, dialect="sqlite", db=str(tmp / "tracker.db"))
    else:
        store = InMemoryTrackerStore(agent.domain)
    agent.tracker_store = store
    agent.processor.tracker_store = store

    if args.cached_schema_check:
        _cache_schema_check()
    await _talk(agent, conversations(args.warmup, args.seed + 1), "warm")
    _count_remote_calls(counts, sizes)
    spent: dict[str, float] = collections.defaultdict(float)
    _install_timers(spent)
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    messages = await _talk(agent, conversations(args.conversations, args.seed), "measured")
    if profiler:
        profiler.disable()
    cpu_ms = (time.process_time() - started) * 1000

    store = "the bot's SQL store on SQLite" if args.sqlite else "in-memory tracker store"
    print(f"{messages} messages, {args.conversations} conversations, one at a time, {store}")
    print(f"Rasa CPU per message: {cpu_ms / messages:.1f} ms")
    for label, *_ in TIMED:
        print(f"  {label:44} {spent[label] * 1000 / messages:6.1f} ms/msg")
    calls = sum(counts.values())
    print(f"custom action calls: {calls} = {calls / messages:.2f} per message")
    for name, count in counts.most_common():
        mean = sum(sizes[name]) / len(sizes[name]) if sizes[name] else 0
        print(f"  {name:28} {count:5}  request {mean / 1024:5.1f} KB on average")
    if profiler:
        stats = pstats.Stats(profiler)
        if args.dump:
            stats.dump_stats(args.dump)
        stats.sort_stats("cumulative").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())

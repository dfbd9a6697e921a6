"""Load test with faults: several hundred customers over signed Messenger and
WhatsApp webhooks, then a count of every message in the tracker store.

    make loadtest                                   # one process, then the cluster
    .venv/bin/python -m bench.loadtest --single-only --customers 100
    .venv/bin/python -m bench.loadtest --no-faults --customers 50 --arrival-window 30

WARNING: this is a benchmark, not a test. Its faults SIGKILL a Rasa process,
SIGSTOP the action server and RESTART PostgreSQL and Redis. By default it
starts its own PostgreSQL and Redis on free loopback ports and restarts only
those; with --db-url / --redis-url it restarts the servers named there (the
machine's, through pg_ctlcluster), and it refuses any that is not on loopback.

A phase ("one process": the load test's own `rasa run` and action server;
"cluster": `scripts/cluster.sh start`, nginx on 127.0.0.1:8000) runs:

1. a stand-in Graph API (bench/standin_graph.py) that records every send;
2. ``--customers`` customers, half Messenger half WhatsApp, arriving over
   ``--arrival-window`` seconds, each a whole survey of bench/corpus.py,
   answering after the bot's reply and a short think time; every event
   delivered twice, redelivered on non-2xx or after Meta's 5 s
   (bench/platform_sim.py);
3. meanwhile the faults of bench/faults.py, one after another;
4. afterwards every conversation read from the events table and counted
   (``count_messages``, tested in tests/test_loadtest_count.py).

Exit status 1 when any message was lost, duplicated, stored out of order,
or dropped (never acknowledged and not stored), or a conversation restarted;
2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tests.bot_process
from bench.faults import (
    LOOPBACK,
    FaultPlan,
    FaultRecord,
    PrivatePostgres,
    PrivateRedis,
    SystemPostgres,
    SystemRedis,
    Target,
    inject,
    run,
    stamp,
)
from bench.platform_sim import Customer, DeliveryPolicy, Platform, make_customers
from bench.procstats import loadavg
from bench.standin_graph import StandInGraph
from bench.tables import markdown_table
from nps.identity import log_id
from tests.bot_process import DEFAULT_MODEL, REPO, BotProcess, free_port
from tests.channels.channel_helpers import FB_SECRET, WA_PHONE_ID, WA_SECRET, channel_env

INTRO = "utter_intro"  # the response that opens a survey: twice means it restarted

# --- the count (pure) -----------------------------------------------------------------


@dataclass
class Count:
    """What became of the customers' messages, read back from the tracker store."""

    conversations: int = 0
    sent: int = 0  # distinct customer messages (each delivered at least twice)
    acknowledged: int = 0  # got a 2xx on some delivery
    unacknowledged: int = 0  # never got a 2xx within the bound (the platform gave up)
    dropped: int = 0  # never acknowledged and not stored either: gone for good
    stored: int = 0  # distinct message ids with a user event
    lost: int = 0  # acknowledged, yet no user event carries the id
    duplicated: int = 0  # ids with more than one user event
    out_of_order: int = 0  # stored after a later message, though acknowledged before it was sent
    platform_reordered: int = 0  # stored after a later message the platform delivered first
    restarted: int = 0  # conversations with two session starts, two intros or a restart
    foreign: int = 0  # user events whose id the customers never sent
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> conversations

    @property
    def failures(self) -> int:
        return self.lost + self.duplicated + self.out_of_order + self.restarted + self.dropped

    def note(self, kind: str, conversation: str) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < 3 and conversation not in found:
            found.append(conversation)


def count_messages(
    sent: dict[str, list[str]],
    acknowledged: dict[str, float],
    events: Iterable[tuple[str, dict]],
    posted: dict[str, float] | None = None,
    intro: str = INTRO,
) -> Count:
    """Count a run from the customers' side and the store's.

    ``sent``: conversation id -> the message ids its customer sent, in order.
    ``acknowledged``: id -> when it first got a 2xx; ``posted``: id -> when its
    first copy was posted (one clock for both). ``events``: (sender_id, event
    dict) rows of the events table, each conversation's in id order (the
    order Rasa stored them).

    A message stored after one its customer sent later is the bot's fault
    (``out_of_order``) when the bot had acknowledged it before that later one
    was even posted; when both were in flight and the later one got through
    first (the earlier one waiting for a redelivery), the platform delivered
    them out of order (``platform_reordered``, reported, not a failure: Meta
    does not promise order either).
    """
    posted = posted or {}
    by_conversation: dict[str, list[dict]] = {c: [] for c in sent}
    for sender, event in events:
        if sender in by_conversation:
            by_conversation[sender].append(event)
    result = Count(conversations=len(sent))
    for conversation, ids in sent.items():
        position = {message_id: i for i, message_id in enumerate(ids)}
        stored = Counter()
        latest = -1
        starts = intros = restarts = 0
        for event in by_conversation[conversation]:
            kind = event.get("event")
            if kind == "session_started":
                starts += 1
            elif kind == "restart":
                restarts += 1
            elif kind == "bot" and (event.get("metadata") or {}).get("utter_action") == intro:
                intros += 1
            elif kind == "user":
                message_id = event.get("message_id")
                if message_id not in position:
                    result.foreign += 1
                    result.note("foreign", conversation)
                    continue
                stored[message_id] += 1
                if stored[message_id] > 1:
                    continue  # a copy: counted as duplicated, not as reordered
                if position[message_id] < latest:
                    overtaken_by = ids[latest]
                    acked = acknowledged.get(message_id)
                    if acked is not None and acked <= posted.get(overtaken_by, float("inf")):
                        result.out_of_order += 1
                        result.note("out of order", conversation)
                    else:
                        result.platform_reordered += 1
                        result.note("reordered by the platform", conversation)
                latest = max(latest, position[message_id])
        result.sent += len(ids)
        for message_id in ids:
            acked = message_id in acknowledged
            result.acknowledged += acked
            if not acked:
                result.unacknowledged += 1
                if not stored[message_id]:
                    result.dropped += 1
                    result.note("dropped", conversation)
            if stored[message_id]:
                result.stored += 1
            elif acked:
                result.lost += 1
                result.note("lost", conversation)
            if stored[message_id] > 1:
                result.duplicated += 1
                result.note("duplicated", conversation)
        if starts > 1 or intros > 1 or restarts:
            result.restarted += 1
            result.note("restarted", conversation)
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (a value really observed); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# --- one phase ------------------------------------------------------------------------


@dataclass
class PhaseReport:
    name: str
    count: Count
    replies: int = 0  # sends the stand-in received
    answered: int = 0  # customer messages followed by a reply
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    finished_customers: int = 0
    failures_seen: Counter = field(default_factory=Counter)  # delivery outcomes but 2xx
    deliveries: int = 0  # webhook POSTs
    faults: list[FaultRecord] = field(default_factory=list)
    load: str = ""
    note: str = ""

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


class SupervisedBot(BotProcess):
    """tests/bot_process.py's bot, with a way to start Rasa again after a kill
    (``make cluster`` has a supervisor; one process has the load test)."""

    def _spawn(self, name: str, args: list[str]) -> None:
        self.__dict__.setdefault("args", {})[name] = args
        log = open(self.log_dir / f"{name}.log", "ab")  # a restart appends
        self.processes[name] = subprocess.Popen(
            args, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    def respawn_rasa(self, timeout: float) -> bool:
        self.processes["rasa"].wait()
        self._spawn("rasa", self.args["rasa"])
        return wait_ready(f"{self.url}/status?token={self.token}", timeout, model=True)


def wait_ready(url: str, timeout: float, model: bool = False) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = json.loads(response.read() or b"{}")
            if not model or body.get("model_file"):
                return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    return False


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_events(db_url: str, conversations: list[str]) -> list[tuple[str, dict]]:
    """Every event of these conversations, each conversation's in the order
    Rasa stored them (the chunks hold disjoint conversations)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    rows: list[tuple[str, dict]] = []
    try:
        with engine.connect() as connection:
            query = sa.text(
                "SELECT sender_id, data FROM events WHERE sender_id IN :ids ORDER BY id"
            ).bindparams(sa.bindparam("ids", expanding=True))
            for start in range(0, len(conversations), 500):
                chunk = conversations[start : start + 500]
                rows.extend(
                    (s, json.loads(d)) for s, d in connection.execute(query, {"ids": chunk})
                )
    finally:
        engine.dispose()
    return rows


async def drive(
    name: str,
    bot_url: str,
    standin: StandInGraph,
    target: Target,
    plan: FaultPlan,
    args: argparse.Namespace,
) -> tuple[list[Customer], Platform, float, list[FaultRecord]]:
    customers = make_customers(args.customers, args.seed)
    rng = random.Random(args.seed)
    t0 = time.monotonic()
    stop_at = t0 + args.duration_limit
    secrets = {"messenger": FB_SECRET, "whatsapp": WA_SECRET}
    policy = DeliveryPolicy(webhook_timeout=args.webhook_timeout)
    async with Platform(bot_url, standin, secrets, WA_PHONE_ID, policy, args.seed) as platform:
        platform.give_up_at = stop_at + args.grace
        print(
            f"[{stamp(t0)}] {name}: {len(customers)} customers over {args.arrival_window:g} s, "
            f"faults: {', '.join(plan.names()) or 'none'}",
            flush=True,
        )
        faults = asyncio.ensure_future(inject(plan, target, t0))
        await asyncio.gather(
            *(
                platform.run_customer(
                    c,
                    rng.uniform(0, args.arrival_window),
                    (args.think_min, args.think_max),
                    args.reply_timeout,
                    stop_at,
                )
                for c in customers
            )
        )
        print(f"[{stamp(t0)}] {name}: customers done; waiting for faults and redeliveries")
        records = await faults
        left = await platform.drain(max(0.0, platform.give_up_at - time.monotonic()) + 10)
        if left:
            print(f"[{stamp(t0)}] {name}: {left} deliveries still retrying at the limit")
        # A redelivery acknowledged at the very end may still have its turn running.
        await asyncio.sleep(args.settle)
        seconds = time.monotonic() - t0
    return customers, platform, seconds, records


def report(
    name: str,
    customers: list[Customer],
    platform: Platform,
    standin: StandInGraph,
    seconds: float,
    records: list[FaultRecord],
    db_url: str,
) -> PhaseReport:
    sent = {c.conversation: [m.message_id for m in c.messages] for c in customers}
    messages = [m for c in customers for m in c.messages]
    acknowledged = {m.message_id: m.acknowledged_at for m in messages if m.acknowledged_at}
    posted = {m.message_id: m.sent_at for m in messages}
    events = read_events(db_url, list(sent))
    result = PhaseReport(name, count_messages(sent, acknowledged, events, posted))
    result.replies = sum(standin.count(c.conversation) for c in customers)
    result.latencies_ms = [m.latency_ms for m in messages if m.latency_ms is not None]
    result.answered = len(result.latencies_ms)
    replied = [m.reply_at for m in messages if m.reply_at is not None]
    first = min((m.sent_at for m in messages), default=0.0)
    result.seconds = (max(replied) - first) if replied else seconds
    result.finished_customers = sum(c.finished for c in customers)
    result.deliveries = sum(m.attempts for m in messages)
    for m in messages:
        result.failures_seen.update(m.failures)
    result.faults = records
    return result


async def single_phase(args, plan: FaultPlan, services, tmp: Path) -> PhaseReport:
    standin = await StandInGraph().start()
    postgres, redis = services
    db_url = await asyncio.to_thread(create_database, postgres.url, "single")
    env = {
        **channel_env(standin.url),
        "NPS_LOCK_STORE_URL": f"{redis.url}/1",
        "NPS_DEDUP_REDIS_URL": f"{redis.url}/2",
    }
    log_dir = tmp / "single"
    log_dir.mkdir()
    print(f"one process: starting rasa run + action server (logs in {log_dir})", flush=True)
    bot = SupervisedBot(db_url=db_url, model=args.model, env=env, log_dir=log_dir)
    await asyncio.to_thread(bot.start)
    try:

        async def after_kill(pid: int) -> str:
            ok = await asyncio.to_thread(bot.respawn_rasa, args.restart_timeout)
            return "restarted by the load test, serving" if ok else "NOT serving again"

        target = Target(
            rasa_pids=lambda: [bot.processes["rasa"].pid],
            action_pids=lambda: [bot.processes["actions"].pid],
            after_rasa_kill=after_kill,
            postgres=postgres,
            redis=redis,
            slow_platform=standin.slow_for,
        )
        load = loadavg()
        customers, platform, seconds, records = await drive(
            "one process", bot.url, standin, target, plan, args
        )
        result = report("one process", customers, platform, standin, seconds, records, db_url)
        result.load = load
        return result
    finally:
        await asyncio.to_thread(bot.stop)
        await standin.stop()


async def cluster_phase(args, plan: FaultPlan, services, tmp: Path) -> PhaseReport | None:
    root = args.cluster_root
    script, cluster_dir = root / "scripts" / "cluster.sh", root / "var" / "cluster"
    if not script.exists():
        print(f"cluster: skipped, {script} does not exist")
        return None
    standin = await StandInGraph().start()
    postgres, redis = services
    db_url = await asyncio.to_thread(create_database, postgres.url, "cluster")
    env = {
        **os.environ,
        **channel_env(standin.url),
        "CLUSTER_DB_URL": db_url,
        "NPS_LOCK_STORE_URL": f"{redis.url}/1",
        "NPS_DEDUP_REDIS_URL": f"{redis.url}/2",
        "NPS_CLUSTER_PORT": str(args.cluster_port),
    }
    cluster_url = f"http://127.0.0.1:{args.cluster_port}"
    print(f"cluster: scripts/cluster.sh start ({cluster_url})", flush=True)
    started = await asyncio.create_subprocess_exec(str(script), "start", env=env)
    if await started.wait():
        await standin.stop()
        raise RuntimeError("scripts/cluster.sh start failed")
    try:

        def pids(kind: str) -> list[int]:
            # rasa-1.pid, not rasa-1.supervisor.pid: the process, not its supervisor
            files = sorted(cluster_dir.glob(f"{kind}-*.pid"))
            found = (read_pid(p) for p in files if re.fullmatch(rf"{kind}-\d+\.pid", p.name))
            return [pid for pid in found if pid]

        async def after_kill(pid: int) -> str:
            deadline = time.monotonic() + args.restart_timeout
            while time.monotonic() < deadline:
                if pids("rasa") and pid not in pids("rasa"):
                    return "supervisor started a new process"
                await asyncio.sleep(1)
            return "NOT restarted by the supervisor in time"

        target = Target(
            rasa_pids=lambda: pids("rasa"),
            action_pids=lambda: pids("actions"),
            after_rasa_kill=after_kill,
            postgres=postgres,
            redis=redis,
            slow_platform=standin.slow_for,
        )
        load = loadavg()
        customers, platform, seconds, records = await drive(
            "cluster", cluster_url, standin, target, plan, args
        )
        result = report("cluster", customers, platform, standin, seconds, records, db_url)
        result.load = load
        return result
    finally:
        await run(str(script), "stop", check=False)
        await standin.stop()


def create_database(admin_url: str, label: str) -> str:
    """A fresh database on the server of ``admin_url``; its URL."""
    import sqlalchemy as sa

    name = f"nps_loadtest_{label}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))  # our name, not input
    finally:
        admin.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


# --- printing -------------------------------------------------------------------------


def _fmt(value: float, spec: str = ".0f") -> str:
    return "-" if value != value else format(value, spec)


ROWS = [
    ("conversations", lambda r: r.count.conversations),
    ("  finished their survey in time", lambda r: r.finished_customers),
    ("messages sent (each delivered twice)", lambda r: r.count.sent),
    ("webhook POSTs, redeliveries included", lambda r: r.deliveries),
    ("acknowledged (2xx to the platform)", lambda r: r.count.acknowledged),
    ("never acknowledged (in the bound)", lambda r: r.count.unacknowledged),
    ("DROPPED (never acknowledged, not stored)", lambda r: r.count.dropped),
    ("stored (a user event with the id)", lambda r: r.count.stored),
    ("LOST (acknowledged, not stored)", lambda r: r.count.lost),
    ("DUPLICATED (stored twice or more)", lambda r: r.count.duplicated),
    ("OUT OF ORDER (bot)", lambda r: r.count.out_of_order),
    ("reordered by redelivery (platform)", lambda r: r.count.platform_reordered),
    ("conversations RESTARTED", lambda r: r.count.restarted),
    ("replies received at the stand-in", lambda r: r.replies),
    ("messages answered", lambda r: r.answered),
    ("msg/s (answered / time)", lambda r: _fmt(r.throughput, ".1f")),
    ("p50 ms webhook to reply", lambda r: _fmt(percentile(r.latencies_ms, 50))),
    ("p95 ms", lambda r: _fmt(percentile(r.latencies_ms, 95))),
    ("p99 ms", lambda r: _fmt(percentile(r.latencies_ms, 99))),
    ("seconds", lambda r: _fmt(r.seconds)),
    ("load avg before", lambda r: r.load),
]


def print_reports(reports: list[PhaseReport]) -> None:
    print()
    header = ["", *(r.name for r in reports)]
    print(markdown_table(header, [[label, *(get(r) for r in reports)] for label, get in ROWS]))
    by_name = {r.name: r for r in reports}
    if "one process" in by_name and "cluster" in by_name:
        single, cluster = by_name["one process"], by_name["cluster"]
        if single.throughput:
            print(
                f"\nscaling ratio (cluster msg/s / one process msg/s): "
                f"{cluster.throughput / single.throughput:.2f} (a capacity figure only "
                "when the customers saturate both, e.g. --no-faults --arrival-window 20)"
            )
    for r in reports:
        print(f"\n{r.name}: delivery failures seen by the platform: {dict(r.failures_seen) or 0}")
        for fault in r.faults:
            print(
                f"  fault {fault.name:17} {fault.started:6.1f}-{fault.ended:6.1f} s  {fault.note}"
            )
        for kind, conversations in r.count.examples.items():
            print(f"  {kind}: e.g. {', '.join(log_id(c) for c in conversations)}")


# --- main -----------------------------------------------------------------------------


def git_head() -> str:
    """The commit measured (the figures belong to it), or "?" outside git."""
    try:
        return (
            subprocess.run(
                ["git", "log", "-1", "--format=%h %s"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()[:72]
            or "?"
        )
    except OSError:
        return "?"


def loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in LOOPBACK


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest",
        description=__doc__.split("\n\n")[0],
        epilog="WARNING: the faults restart PostgreSQL and Redis (by default private "
        "instances the load test starts on free loopback ports; with --db-url/--redis-url "
        "the servers named there, which must be on loopback). Never run it against "
        "production.",
    )
    parser.add_argument("--customers", type=int, default=300, help="default 300")
    parser.add_argument(
        "--duration-limit",
        type=float,
        default=300,
        help="seconds: no customer sends after this (default 300)",
    )
    parser.add_argument(
        "--arrival-window",
        type=float,
        default=150,
        help="customers start at random within this many seconds (default 150)",
    )
    parser.add_argument("--think-min", type=float, default=0.5)
    parser.add_argument("--think-max", type=float, default=2.0)
    parser.add_argument(
        "--reply-timeout",
        type=float,
        default=30,
        help="a customer with no reply after this many seconds writes the next answer anyway",
    )
    parser.add_argument("--webhook-timeout", type=float, default=5.0, help="Meta's: 5 s")
    parser.add_argument(
        "--grace",
        type=float,
        default=150,
        help="seconds after the duration limit that redeliveries may still start",
    )
    parser.add_argument("--settle", type=float, default=10, help="seconds before the count")
    parser.add_argument(
        "--restart-timeout",
        type=float,
        default=300,
        help="seconds a Rasa process may take to serve again after the kill",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=600,
        help="seconds the one-process bot may take to start (a loaded machine is slow)",
    )
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument(
        "--skip-fault",
        action="append",
        default=[],
        choices=FaultPlan().names(),
        help="leave out one fault (repeatable)",
    )
    parser.add_argument("--single-only", action="store_true")
    parser.add_argument("--cluster-only", action="store_true")
    parser.add_argument(
        "--db-url",
        default="",
        help="PostgreSQL admin URL to create the phase databases on; its server is "
        "RESTARTED by pg_ctlcluster (default: a private server on a free port)",
    )
    parser.add_argument(
        "--redis-url",
        default="",
        help="Redis to use and RESTART (default: a private one on a free port)",
    )
    parser.add_argument(
        "--cluster-port",
        type=int,
        default=int(os.environ.get("NPS_CLUSTER_PORT") or 8000),
        help="nginx's port of the cluster phase (default NPS_CLUSTER_PORT or 8000)",
    )
    parser.add_argument(
        "--cluster-root",
        type=Path,
        default=REPO,
        help="checkout whose scripts/cluster.sh runs the cluster (its pid files in "
        "var/cluster/); another directory (a copy, or symbolic links to everything "
        "but var/) runs one beside a cluster already started here",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    for url in (args.db_url, args.redis_url):
        if url and not loopback(url):
            parser.error(f"refusing {url.split('@')[-1]}: not on loopback")
    if args.single_only and args.cluster_only:
        parser.error("--single-only and --cluster-only exclude each other")
    if args.customers < 1 or args.think_max < args.think_min:
        parser.error("--customers >= 1 and --think-max >= --think-min")
    return args


async def amain(args: argparse.Namespace) -> int:
    plan = FaultPlan().none() if args.no_faults else FaultPlan()
    for name in args.skip_fault:
        setattr(plan, name, False)
    print(
        f"load test on {git_head()}: {args.customers} customers per phase, "
        f"{os.cpu_count()} CPUs, load avg {loadavg()}"
    )
    reports: list[PhaseReport] = []
    could_not_run: list[str] = []
    # tests/bot_process.py's start timeout, 180 s, is a test's; a loaded machine needs more.
    tests.bot_process.START_TIMEOUT = args.start_timeout
    with tempfile.TemporaryDirectory(prefix="nps-loadtest-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)  # the private PostgreSQL runs as user postgres
        private = []
        if args.db_url:
            postgres = SystemPostgres(args.db_url)
        else:
            postgres = PrivatePostgres(tmp_path / "pg", free_port())
            private.append(postgres)
        if args.redis_url:
            from urllib.parse import urlsplit

            redis = SystemRedis(port=urlsplit(args.redis_url).port or 6379)
        else:
            redis = PrivateRedis(tmp_path / "redis", free_port())
            private.append(redis)
        try:
            for service in private:
                print(f"starting a private {type(service).__name__} on port {service.port}")
                await service.start()
            phases = []
            if not args.cluster_only:
                phases.append(("one process", single_phase))
            if not args.single_only:
                phases.append(("cluster", cluster_phase))
            for name, phase in phases:
                try:
                    result = await phase(args, plan, (postgres, redis), tmp_path)
                except RuntimeError as error:
                    print(f"{name}: could not run: {error}", file=sys.stderr)
                    could_not_run.append(name)
                    continue
                if result is not None:
                    reports.append(result)
        finally:
            for service in private:
                await service.stop()
    print_reports(reports)
    failures = sum(r.count.failures for r in reports)
    print(f"\n{'FAILED' if failures else 'OK'}: {failures} message or conversation failures")
    if could_not_run:
        print(f"NOT RUN: {', '.join(could_not_run)}")
    return 1 if failures else 2 if could_not_run or not reports else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 2
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())

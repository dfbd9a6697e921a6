"""Faults injected during the load test (bench/loadtest.py), one after another.

    platform slow    the stand-in Graph API answers every send in 12 s for a window
    actions stopped  the action server(s) SIGSTOPped for 10 s, then SIGCONT
    postgres restart PostgreSQL restarted (the tracker store)
    redis restart    Redis shut down (nosave) and started again (locks, dedup)
    rasa killed      one Rasa process SIGKILLed (from its pid file); its
                     supervisor (make cluster's, or the load test's own for one
                     process) starts it again

Each is switchable and printed with a wall-clock timestamp and the seconds
since the phase began. This is a benchmark, not a test: the service faults
really restart PostgreSQL and Redis. By default the load test runs them on
**private** instances it starts itself on free loopback ports
(``PrivatePostgres``, ``PrivateRedis``), so nobody else's work on the machine
is disturbed; ``SystemPostgres`` / ``SystemRedis`` restart the machine's own
(what ``make cluster`` uses) and are taken only when asked for.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def stamp(t0: float) -> str:
    """ "16:58:02 +41.3s": wall clock (UTC) and seconds since ``t0`` (monotonic)."""
    wall = datetime.now(timezone.utc).strftime("%H:%M:%S")
    return f"{wall} +{time.monotonic() - t0:6.1f}s"


async def run(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run a command without blocking the event loop; its output."""
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    text = out.decode(errors="replace").strip()
    if check and process.returncode:
        raise RuntimeError(f"{' '.join(args)} exited {process.returncode}: {text[-500:]}")
    return text


def pg_version() -> str:
    versions = sorted((p.name for p in PG_BIN.iterdir() if p.name.isdigit()), key=int)
    if not versions:
        raise RuntimeError(f"no PostgreSQL under {PG_BIN}")
    return versions[-1]


async def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


async def wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await port_open(port):
            return True
        await asyncio.sleep(0.3)
    return False


# --- services ----------------------------------------------------------------------


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster (trust auth, loopback only) under ``root``."""

    root: Path
    port: int
    user: str = "postgres"  # initdb refuses to run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", self.user, "--", *args]
        return list(args)

    def _pg_ctl(self, action: str) -> list[str]:
        binary = str(PG_BIN / pg_version() / "bin" / "pg_ctl")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        return self._as_owner(
            binary, "-D", str(self.root / "data"), "-o", options, "-l", str(self.root / "pg.log"),
            "-w", "-m", "fast", action,
        )  # fmt: skip

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, self.user, self.user)
        initdb = str(PG_BIN / pg_version() / "bin" / "initdb")
        await run(
            *self._as_owner(initdb, "-D", str(self.root / "data"), "-U", "postgres", "-A", "trust")
        )
        await run(*self._pg_ctl("start"))

    async def restart(self) -> None:
        await run(*self._pg_ctl("restart"))

    async def stop(self) -> None:
        await run(*self._pg_ctl("stop"), check=False)


@dataclass
class SystemPostgres:
    """The machine's PostgreSQL (Debian's cluster ``<version> main``, port 5432)."""

    url: str = "postgresql://postgres@127.0.0.1:5432/postgres"

    async def restart(self) -> None:
        await run("pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", "restart")


@dataclass
class PrivateRedis:
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # The options of scripts/services.sh: no persistence, loopback only.
        await run(
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
            "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--dir", str(self.root), "--logfile", str(self.root / "redis.log"),
            "--pidfile", str(self.root / "redis.pid"),
        )  # fmt: skip
        if not await wait_port(self.port, 10):
            raise RuntimeError(f"redis-server did not listen on {self.port}")

    async def stop(self) -> None:
        await run("redis-cli", "-p", str(self.port), "shutdown", "nosave", check=False)
        for _ in range(50):
            if not await port_open(self.port):
                return
            await asyncio.sleep(0.1)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@dataclass
class SystemRedis(PrivateRedis):
    """The machine's Redis on 6379, restarted the way scripts/services.sh starts it."""

    root: Path = Path("/var/lib/redis")
    port: int = 6379


# --- the faults --------------------------------------------------------------------


@dataclass
class FaultPlan:
    slow_platform: bool = True
    stop_actions: bool = True
    restart_postgres: bool = True
    restart_redis: bool = True
    kill_rasa: bool = True
    first_after: float = 15.0  # seconds into the phase
    gap: float = 12.0  # seconds between the end of one fault and the next
    slow_window: float = 20.0
    slow_delay: float = 12.0
    actions_stopped: float = 10.0

    def names(self) -> list[str]:
        order = ["slow_platform", "stop_actions", "restart_postgres", "restart_redis", "kill_rasa"]
        return [name for name in order if getattr(self, name)]

    def none(self) -> FaultPlan:
        return FaultPlan(False, False, False, False, False)


@dataclass
class FaultRecord:
    name: str
    started: float
    ended: float = 0.0
    note: str = ""


@dataclass
class Target:
    """What the faults act on, for one phase (one process, or the cluster)."""

    rasa_pids: Callable[[], list[int]]
    action_pids: Callable[[], list[int]]
    # after a Rasa process was killed: returns once one serves again (a note)
    after_rasa_kill: Callable[[int], Awaitable[str]]
    postgres: object  # PrivatePostgres or SystemPostgres
    redis: object | None  # PrivateRedis, SystemRedis, or None (not used)
    slow_platform: Callable[[float, float], None]
    records: list[FaultRecord] = field(default_factory=list)


async def inject(plan: FaultPlan, target: Target, t0: float) -> list[FaultRecord]:
    """Run the plan's faults one after another; print each with its time."""
    await asyncio.sleep(plan.first_after)
    for name in plan.names():
        record = FaultRecord(name, time.monotonic() - t0)
        print(f"[{stamp(t0)}] FAULT {name}: begins", flush=True)
        try:
            record.note = await _FAULTS[name](plan, target)
        except Exception as error:  # noqa: BLE001 - a failed fault is reported, the run goes on
            record.note = f"FAILED to inject: {error}"
        record.ended = time.monotonic() - t0
        target.records.append(record)
        print(f"[{stamp(t0)}] FAULT {name}: ends. {record.note}", flush=True)
        await asyncio.sleep(plan.gap)
    return target.records


async def _slow_platform(plan: FaultPlan, target: Target) -> str:
    target.slow_platform(plan.slow_window, plan.slow_delay)
    await asyncio.sleep(plan.slow_window + plan.slow_delay)
    return f"every send for {plan.slow_window:g} s answered after {plan.slow_delay:g} s"


async def _stop_actions(plan: FaultPlan, target: Target) -> str:
    pids = target.action_pids()
    stopped = []
    try:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            except ProcessLookupError:
                pass
        await asyncio.sleep(plan.actions_stopped)
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    return f"{len(stopped)} action server(s) SIGSTOP for {plan.actions_stopped:g} s, then SIGCONT"


async def _restart_postgres(plan: FaultPlan, target: Target) -> str:
    started = time.monotonic()
    await target.postgres.restart()
    return f"restarted in {time.monotonic() - started:.1f} s ({type(target.postgres).__name__})"


async def _restart_redis(plan: FaultPlan, target: Target) -> str:
    if target.redis is None:
        return "skipped: this phase uses no Redis"
    started = time.monotonic()
    await target.redis.restart()
    return f"restarted in {time.monotonic() - started:.1f} s ({type(target.redis).__name__})"


async def _kill_rasa(plan: FaultPlan, target: Target) -> str:
    pids = target.rasa_pids()
    if not pids:
        return "skipped: no Rasa pid found"
    pid = pids[0]
    os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    note = await target.after_rasa_kill(pid)
    return f"pid {pid} SIGKILLed; {note} after {time.monotonic() - started:.1f} s"


_FAULTS = {
    "slow_platform": _slow_platform,
    "stop_actions": _stop_actions,
    "restart_postgres": _restart_postgres,
    "restart_redis": _restart_redis,
    "kill_rasa": _kill_rasa,
}

"""What a running process has used, read from Linux's /proc (no psutil).

The REST benchmark reads these for the Rasa process and the action server
before and after a phase: peak memory, and CPU time, which on a shared
machine is steadier than latencies (it does not count time spent waiting for
the CPU).
"""

from __future__ import annotations

import os
from pathlib import Path


def vm_hwm_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used so far (all its threads)."""
    try:
        # the command name (field 2) may hold spaces: split after its ')'
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def cpu_ms_per_message(cpu_s: float | None, messages: int) -> float | None:
    return cpu_s * 1000 / messages if cpu_s is not None and messages else None


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as Linux prints them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"

"""CPU and memory (RSS) of each process, sampled while a scenario runs."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass
class Series:
    name: str
    pid: int
    # (seconds since start, cpu percent of one core, rss bytes, cpu seconds used so far)
    samples: list[tuple[float, float, int, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"name": self.name, "pid": self.pid, "samples": 0}
        cpu = [s[1] for s in self.samples[1:]] or [0.0]  # the first cpu reading has no interval
        rss = [s[2] for s in self.samples]
        mib = 1024 * 1024
        return {
            "name": self.name,
            "pid": self.pid,
            "samples": len(self.samples),
            "cpu_mean_pct": sum(cpu) / len(cpu),
            "cpu_peak_pct": max(cpu),
            "rss_start_mib": rss[0] / mib,
            "rss_peak_mib": max(rss) / mib,
            "rss_end_mib": rss[-1] / mib,
            # RSS at 0, 25, 50, 75 and 100 % of the run: a leak climbs, a flat line does not.
            "rss_quarters_mib": [round(rss[min(len(rss) - 1, len(rss) * q // 4)] / mib, 1) for q in range(5)],
            # CPU time used while measured: unlike cpu%, it does not shrink when other
            # work on the machine takes the cores.
            "cpu_seconds": self.samples[-1][3] - self.samples[0][3],
        }


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


class ResourceMonitor:
    """Samples each named process and its children (summed) every `interval` seconds.

    Summing RSS over a process tree counts shared pages once per process: for
    PostgreSQL (a backend per connection sharing its buffers) that overstates.
    """

    def __init__(
        self, pids: dict[str, int], interval: float = 1.0, alone: tuple[str, ...] = ("bench",)
    ) -> None:
        self.interval = interval
        # Processes measured without their children (the bench process is every component's parent).
        self.alone = alone
        self.series = {name: Series(name, pid) for name, pid in pids.items()}
        self._procs = {name: psutil.Process(pid) for name, pid in pids.items() if psutil.pid_exists(pid)}
        self._known: dict[int, psutil.Process] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    def _cpu(self, proc: psutil.Process) -> float:
        # cpu_percent needs the same Process object between calls to measure an interval.
        known = self._known.setdefault(proc.pid, proc)
        return float(known.cpu_percent(None))

    def sample(self) -> None:
        at = time.monotonic() - self._started
        for name, proc in self._procs.items():
            cpu, rss, used = 0.0, 0, 0.0
            for member in [proc] if name in self.alone else _tree(proc):
                try:
                    cpu += self._cpu(member)
                    rss += member.memory_info().rss
                    times = member.cpu_times()
                    used += times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            if rss:
                self.series[name].samples.append((at, cpu, rss, used))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._started = time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> list[dict[str, Any]]:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.sample()
        return [s.summary() for s in self.series.values()]


# Not Fluxo's own cost: the load generator and the stand-in for the outside world.
HARNESS = ("bench", "sink")


def cpu_ms_per_item(resources: list[dict[str, Any]], items: int) -> float:
    """CPU milliseconds Fluxo (components, Kafka, PostgreSQL) spent per item."""
    if items <= 0:
        return float("nan")
    used = float(sum(r.get("cpu_seconds", 0.0) for r in resources if r["name"] not in HARNESS))
    return used * 1000 / items


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model, cores, RAM, load averages."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

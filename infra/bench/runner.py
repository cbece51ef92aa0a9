"""`fluxo bench`: runs the chosen scenarios, prints a table, writes JSON."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from infra.bench.e2e import run_e2e
from infra.bench.harness import Harness, local_settings
from infra.bench.ingest import run_ingest
from infra.bench.monitor import machine
from infra.bench.query import run_query
from infra.bench.rebuild import run_replay
from infra.bench.stats import table, verdict
from infra.settings import Settings

SCENARIOS = ("e2e", "ingest", "query", "replay")

# The targets.
E2E_THROUGHPUT = 2000.0
# Records one execution of the 3-node bench workflow may write, changelogs included (DESIGN.md).
E2E_RECORDS = 8.0
E2E_P99_MS, E2E_P99_RATE = 100.0, 500.0
INGEST_P99_MS, INGEST_RATE = 10.0, 1000.0
QUERY_P99_MS = 50.0
REPLAY_RATE = 50000.0


@dataclass
class Options:
    scenario: str = "all"
    events: int = 5000
    rate: float | None = None  # None: 500/s for the latency run, 1,000/s for ingest
    duration: float | None = None  # soak: run e2e at --rate for this many seconds
    executions: int = 20000
    seed: str = "kafka"  # query scenario: "clone" grows the read model inside PostgreSQL past 5,000
    requests: int = 200
    concurrency: int = 64
    timeout: float = 900.0
    json_out: str | None = None
    profile_dir: str | None = None  # py-spy collapsed stacks of every component

    def scenarios(self) -> tuple[str, ...]:
        # In the order they run best: replay rebuilds what the others wrote.
        chosen = set(self.scenario.split(","))
        return SCENARIOS if self.scenario == "all" else tuple(s for s in SCENARIOS if s in chosen)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def run_scenarios(h: Harness, opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    chosen = opts.scenarios()
    if "e2e" in chosen:
        # Warm-up, not reported: connections, consumer fetch sessions, first-call caches.
        say("e2e warm-up (20 events, not reported)")
        await run_e2e(h, n=20, target_rate=None, via="kafka", timeout=opts.timeout)
        if opts.duration:
            soak_rate = opts.rate or E2E_P99_RATE
            n = int(soak_rate * opts.duration)
            say(f"e2e soak: {n} events at {soak_rate:g}/s")
            results["e2e_soak"] = await run_e2e(h, n=n, target_rate=soak_rate, via="kafka", timeout=opts.timeout)
        else:
            say(f"e2e flat out: {opts.events} events to the topic, then at {opts.rate or E2E_P99_RATE:g}/s, then via the API")
            results["e2e_flat_out"] = await run_e2e(h, n=opts.events, target_rate=None, via="kafka", timeout=opts.timeout)
            results["e2e_paced"] = await run_e2e(
                h, n=opts.events, target_rate=opts.rate or E2E_P99_RATE, via="kafka", timeout=opts.timeout
            )
            results["e2e_api"] = await run_e2e(
                h, n=opts.events, target_rate=opts.rate or E2E_P99_RATE, via="api",
                concurrency=opts.concurrency, timeout=opts.timeout,
            )
    if "ingest" in chosen:
        say(f"ingest: {opts.events} requests at {opts.rate or INGEST_RATE:g}/s")
        results["ingest"] = await run_ingest(
            h, n=opts.events, target_rate=opts.rate or INGEST_RATE, concurrency=opts.concurrency
        )
    if "query" in chosen:
        say(f"query: seeding {opts.executions} executions ({opts.seed}), then {opts.requests} requests per endpoint")
        results["query"] = await run_query(
            h, executions=opts.executions, requests=opts.requests, timeout=opts.timeout, seed_mode=opts.seed
        )
    if "replay" in chosen:
        say("replay: full rebuild of the read models")
        results["replay"] = await run_replay(h)
    return results


def summary_rows(results: dict[str, Any]) -> list[list[Any]]:
    """scenario, measure, value, target, verdict."""
    rows: list[list[Any]] = []
    nan = math.nan
    for key in ("e2e_flat_out", "e2e_paced", "e2e_api", "e2e_soak"):
        r = results.get(key)
        if not r:
            continue
        where = f"{key} ({r['via']}, {'flat out' if not r['target_rate'] else str(int(r['target_rate'])) + '/s'})"
        eps = r["executions_per_second"]
        lat = r["event_to_completion_ms"]
        rows.append([where, "completed / events", f"{r['completed']}/{r['produced']}", "all",
                     "met" if r["all_finished"] and not r["failed"] else "missed"])
        target_tp = E2E_THROUGHPUT if not r["target_rate"] else nan
        rows.append([where, "executions/s", eps, target_tp,
                     verdict(eps, target_tp, higher_is_better=True) if not r["target_rate"] else "-"])
        for p in ("p50", "p95", "p99"):
            target = E2E_P99_MS if p == "p99" and r["target_rate"] and r["target_rate"] >= E2E_P99_RATE else nan
            rows.append([where, f"event->completed {p} ms", lat[p], target,
                         verdict(lat[p], target, higher_is_better=False) if not math.isnan(target) else "-"])
        stages = r.get("stages_ms", {})
        if stages:
            rows.append([where, "stage p50 ms: matcher / to worker / http / to completed",
                         " / ".join(f"{stages[k]['p50']:.0f}" for k in ("matcher", "to_worker", "http_call", "to_completed")),
                         "", ""])
        records = r.get("records")
        if records:
            rows.append([where, "Kafka records / execution (changelogs incl.)", records["records_per_execution"],
                         E2E_RECORDS, verdict(records["records_per_execution"], E2E_RECORDS, higher_is_better=False)])
            rows.append([where, "  of which changelog records", records["changelog_records_per_execution"], nan, "-"])
            rows.append([where, "  + transaction markers / aborted", records["markers_or_aborted_per_execution"], nan, "-"])
            rows.append([where, "Kafka bytes / execution (key + value)", records["bytes_per_execution"], nan, "-"])
            for name, row in records["topics"].items():
                per = f"{row['records_per_execution']:.2f} + {row['markers_or_aborted_per_execution']:.2f}"
                rows.append([where, f"  {name}", f"{per}, {row['bytes_per_execution']:.0f} B", "", ""])
        cpu = r.get("cpu_ms_per_execution", nan)
        rows.append([where, "Fluxo CPU ms / execution", cpu, nan, "-"])
        rows.append([where, "=> executions/s if 2 cores were Fluxo's alone", 2000 / cpu if cpu else nan, nan, "-"])
        for res in r["resources"]:
            if res.get("samples"):
                rows.append([where, f"{res['name']} cpu% mean/peak, rss MiB peak/end",
                             (f"{res['cpu_mean_pct']:.0f}/{res['cpu_peak_pct']:.0f}, "
                              f"{res['rss_peak_mib']:.0f}/{res['rss_end_mib']:.0f}"), "", ""])
    if "ingest" in results:
        r = results["ingest"]
        where = f"ingest ({int(r['target_rate'] or 0)}/s target, c={r['concurrency']})"
        rows.append([where, "requests/s", r["requests_per_second"], nan, "-"])
        for p in ("p50", "p95", "p99"):
            target = INGEST_P99_MS if p == "p99" else nan
            rows.append([where, f"{p} ms", r["latency_ms"][p], target,
                         verdict(r["latency_ms"][p], target, higher_is_better=False) if p == "p99" else "-"])
        rows.append([where, "statuses", str(r["statuses"]), "", ""])
        rows.append([where, "Fluxo CPU ms / request", r.get("cpu_ms_per_request", nan), nan, "-"])
    if "query" in results:
        r = results["query"]
        where = f"query ({r['executions_in_read_model']:,} executions)"
        rows.append([where, "live projection records/s", r["live_projection_records_per_second"], nan, "-"])
        for name, e in r["endpoints"].items():
            for p in ("p50", "p99"):
                target = QUERY_P99_MS if p == "p99" else nan
                rows.append([where, f"{name} {p} ms", e["latency_ms"][p], target,
                             verdict(e["latency_ms"][p], target, higher_is_better=False) if p == "p99" else "-"])
    if "replay" in results:
        r = results["replay"]
        rows.append(["replay", "records/s", r["records_per_second"], REPLAY_RATE,
                     verdict(r["records_per_second"], REPLAY_RATE, higher_is_better=True)])
        rows.append(["replay", "records", r["records"], "", ""])
        for res in r.get("resources", []):
            if res.get("name") in ("bench", "postgres") and res.get("samples"):
                rows.append(["replay", f"{res['name']} cpu% mean/peak", f"{res['cpu_mean_pct']:.0f}/{res['cpu_peak_pct']:.0f}", "", ""])
    return rows


def render(results: dict[str, Any]) -> str:
    return table(["scenario", "measure", "value", "target", "verdict"], summary_rows(results))


async def bench(settings: Settings, opts: Options, *, provision: bool = True) -> dict[str, Any]:
    """Run with services provisioned here (a temp state dir) unless `settings` point at running ones."""
    before = machine()
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fluxo-bench-") as tmp:
        own = local_settings(settings, Path(tmp)) if provision else settings
        profile = Path(opts.profile_dir) if opts.profile_dir else None
        async with Harness(own, provision=provision, profile_dir=profile) as h:
            results = await run_scenarios(h, opts)
    report = {
        "started_at": started.isoformat(),
        "seconds": time.perf_counter() - t0,
        "command": " ".join(["fluxo", *sys.argv[1:]]) if sys.argv and "bench" in sys.argv else "fluxo bench",
        "commit": _commit(),
        "machine": before,
        "load_average_after": machine()["load_average"],
        "options": asdict(opts),
        "results": results,
    }
    if opts.json_out:
        Path(opts.json_out).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report

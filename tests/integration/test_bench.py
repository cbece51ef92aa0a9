"""`fluxo bench` keeps working: its e2e scenario, small, against the test broker and database.

The harness starts every component as a real process with a database and topics of its
own; 50 events go straight to the events topic and all 50 executions must be timed.
"""

from __future__ import annotations

import math

from infra.bench.harness import Harness
from infra.bench.runner import Options, render, run_scenarios
from infra.settings import Settings


async def test_e2e_scenario_times_every_execution(services: Settings) -> None:
    async with Harness(services, provision=False) as h:
        results = await run_scenarios(h, Options(scenario="e2e", events=50, rate=200, timeout=60))
        pids = h.pids()
    for key in ("e2e_flat_out", "e2e_paced", "e2e_api"):
        r = results[key]
        assert r["produced"] == 50 and r["completed"] == 50 and r["failed"] == 0, (key, r)
        latency = r["event_to_completion_ms"]
        assert latency["count"] == 50 and 0 < latency["p50"] <= latency["p99"], latency
        assert not math.isnan(r["executions_per_second"])
        names = {res["name"] for res in r["resources"] if res.get("samples")}
        assert {"matcher", "executor", "worker", "projection", "api", "sink"} <= names
        # Records per execution, counted from the broker: at least the event, the start and the
        # end of each execution on their topics, and the executor's changelog.
        records = r["records"]
        assert records["executions"] == 50
        topics = records["topics"]
        assert topics["fluxo.events.v1"]["records"] >= 50, topics
        # Issue 17: started, one steps record (the trigger's and the condition's results and the
        # HTTP node's scheduling), the HTTP node's result, add_tag's result, completed (7 before).
        assert topics["fluxo.executions.v1"]["records"] == 5 * 50, topics
        assert topics["fluxo.executor-state.v1"]["changelog"] is True, topics
        assert records["changelog_records_per_execution"] > 0
        assert records["markers_or_aborted_per_execution"] > 0  # every transaction commits a marker
        assert records["records_per_execution"] >= 3
        assert records["bytes_per_execution"] >= topics["fluxo.executions.v1"]["bytes_per_execution"] > 0, records
        # The executor's state names its pinned workflow (the 3-node workflow's snapshot is ~1.5 kB
        # of JSON): its changelog writes carry no copy of it, only once per partition its own entry.
        state = topics["fluxo.executor-state.v1"]
        assert state["bytes"] / state["records"] < 1200, state
    assert "e2e_paced (kafka, 200/s)" in render(results)
    assert "Kafka records / execution" in render(results)
    assert "Kafka bytes / execution" in render(results)
    # Everything the harness started is gone.
    import psutil

    assert not [name for name, pid in pids.items() if name != "bench" and psutil.pid_exists(pid)
                and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]

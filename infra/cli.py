"""The `fluxo` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from infra.logs import configure as configure_logs
from infra.settings import get_settings


def cmd_up(_: argparse.Namespace) -> int:
    import uvloop

    from infra.supervisor import Supervisor

    return uvloop.run(Supervisor(get_settings()).run())


def cmd_prepare(_: argparse.Namespace) -> int:
    """Fetch jars, start services once, create topics, migrate, stop: a warm cache for `up`."""
    from infra.supervisor import Services

    services = Services(get_settings())

    async def main() -> None:
        try:
            await services.start()
        finally:
            services.stop()

    asyncio.run(main())
    print("fluxo: prepared")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = get_settings()
    name = args.component
    from schemas.envelope import set_clock_offset

    set_clock_offset(settings.clock_offset_seconds)
    if name == "api":
        import uvicorn

        from api.app import create_app

        if settings.api_workers > 1:
            # Worker processes import the app themselves; they read the same FLUXO_* environment.
            uvicorn.run("api.app:create_app", factory=True, workers=settings.api_workers,
                        host=settings.api_host, port=settings.api_port,
                        log_level=settings.log_level.lower(), loop="uvloop", access_log=False)
            return 0
        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                    log_level=settings.log_level.lower(), loop="uvloop", access_log=False)
        return 0
    if name == "projection":
        from projections.runner import run_projection

        run_projection(settings)
        return 0
    from processors.services.executor import Executor
    from processors.services.matcher import TriggerMatcher
    from processors.services.timers import TimerService
    from processors.services.worker import NodeWorker
    from processors.streams.launch import run_processor
    from processors.streams.runner import Processor

    processors: dict[str, type[Processor]] = {
        "matcher": TriggerMatcher, "executor": Executor, "worker": NodeWorker, "timers": TimerService,
    }
    run_processor(settings, processors[name]())
    return 0


def _json_bytes(value: object, *, sort_keys: bool = True) -> bytes:
    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(value, option=option) + b"\n"


def cmd_schemas_export(args: argparse.Namespace) -> int:
    """Write the JSON Schemas and the AsyncAPI document; refuse a breaking change to what is there."""
    from schemas.asyncapi import asyncapi_document
    from schemas.compat import breaking, compare, snapshot_of
    from schemas.export import json_schemas

    out = Path(args.out)
    files = json_schemas()
    present = sorted(out.glob("*.json")) if out.is_dir() else []
    if present and not args.allow_breaking:
        try:
            published = {p.name: orjson.loads(p.read_bytes()) for p in present}
        except orjson.JSONDecodeError as exc:
            print(f"cannot read the schemas in {out} ({exc}); pass --allow-breaking to overwrite them")
            return 1
        refused = breaking(compare(snapshot_of(published), snapshot_of(files)))
        if refused:
            print(f"refusing to overwrite {out}: these changes break consumers of the published streams:")
            for change in refused:
                print(f"  {change}")
            print("Make a new record type (….v2: a new model plus an upcaster) instead, "
                  "or pass --allow-breaking if consumers have been told.")
            return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in files.items():
        (out / name).write_bytes(_json_bytes(schema))
    # A schema that is no longer generated must disappear from the snapshot too.
    for path in present:
        if path.name not in files:
            path.unlink()
    asyncapi = Path(args.asyncapi)
    asyncapi.parent.mkdir(parents=True, exist_ok=True)
    asyncapi.write_bytes(_json_bytes(asyncapi_document(), sort_keys=False))
    print(f"wrote {len(files)} schemas to {out} and the AsyncAPI document to {asyncapi}")
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from infra.migrations import migrate

    applied = asyncio.run(migrate(get_settings().dsn))
    print("applied:", ", ".join(applied) or "nothing")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Rebuild the read models from Kafka (stop the projection first), or --check them."""
    from projections.replay import replay, replay_check

    settings = get_settings()
    if not args.check:
        applied = asyncio.run(replay(settings))
        print(f"replayed {applied} records into the read models")
        return 0
    report = asyncio.run(replay_check(settings))
    print(f"replayed {report.records} records into a scratch schema")
    for table in report.tables:
        mark = "same" if table.same else "DIFFERENT"
        print(f"  {table.table:<24} live {table.live_rows:>8}  replayed {table.replayed_rows:>8}  {mark}")
        for row in table.only_live:
            print(f"      only live:     {row[:200]}")
        for row in table.only_replayed:
            print(f"      only replayed: {row[:200]}")
    if report.live_moved:
        print("the live projection applied records during the check; run it again when the system is idle")
        return 2
    print("no difference" if report.same else "read models differ from a replay of the log")
    return 0 if report.same else 1


def _scenarios(text: str) -> str:
    from infra.bench.runner import SCENARIOS

    chosen = [part.strip() for part in text.split(",") if part.strip()]
    if text != "all" and (not chosen or any(part not in SCENARIOS for part in chosen)):
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(SCENARIOS)}, a comma-separated list, or all")
    return text if text == "all" else ",".join(chosen)


def cmd_bench(args: argparse.Namespace) -> int:
    """Throughput and latency figures; services of its own unless FLUXO_* points at running ones."""
    import uvloop

    from infra.bench.runner import Options, bench, render

    settings = get_settings()
    opts = Options(
        scenario=args.scenario, events=args.events, rate=args.rate, duration=args.duration,
        executions=args.executions, seed=args.seed, requests=args.requests, concurrency=args.concurrency,
        timeout=args.timeout, json_out=args.json, profile_dir=args.profile,
    )
    provision = settings.provisions_kafka or settings.provisions_postgres
    report = uvloop.run(bench(settings, opts, provision=provision))
    m = report["machine"]
    print(f"\nfluxo bench @ {report['commit']}: {m['cpus']} cpus ({m['cpu_model']}), {m['ram_gib']} GiB; "
          f"load average before {m['load_average']}, after {report['load_average_after']}")
    print(render(report["results"]))
    if args.json:
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fluxo", description="Event-sourced workflow automation")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run everything (local Kafka and PostgreSQL unless configured)").set_defaults(func=cmd_up)
    sub.add_parser("prepare", help="fetch and initialise local services, topics, migrations").set_defaults(func=cmd_prepare)
    run = sub.add_parser("run", help="run one component against running services")
    run.add_argument("component", choices=["api", "projection", "matcher", "executor", "worker", "timers"])
    run.set_defaults(func=cmd_run)
    schemas = sub.add_parser("schemas", help="record schemas")
    schemas_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    export = schemas_sub.add_parser(
        "export", help="write the JSON Schemas of every record type and the AsyncAPI document of the topics"
    )
    export.add_argument("--out", default="schemas/json")
    export.add_argument("--asyncapi", default="docs/streams/asyncapi.json")
    export.add_argument("--allow-breaking", action="store_true", help="overwrite even if consumers would break")
    export.set_defaults(func=cmd_schemas_export)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    replay_parser = sub.add_parser("replay", help="rebuild the read models from the Kafka history (running services)")
    replay_parser.add_argument("--check", action="store_true", help="replay into a scratch schema and compare, change nothing")
    replay_parser.set_defaults(func=cmd_replay)
    bench = sub.add_parser("bench", help="measure throughput and latency (docs/benchmarks.md)")
    bench.add_argument("--scenario", type=_scenarios, default="all",
                       help="e2e, ingest, query, replay, a comma-separated list of them (query,replay), or all")
    bench.add_argument("--events", type=int, default=5000, help="events per e2e run and ingest requests")
    bench.add_argument("--rate", type=float, default=None,
                       help="events (requests) per second; default 500/s for e2e latency, 1000/s for ingest")
    bench.add_argument("--duration", type=float, default=None,
                       help="soak: run e2e at --rate for this many seconds (memory flatness)")
    bench.add_argument("--executions", type=int, default=20000, help="executions seeded for the query scenario")
    bench.add_argument("--seed", choices=["kafka", "clone"], default="kafka",
                       help="query: all executions through Kafka and the projection, or 5,000 so and the rest "
                            "cloned inside PostgreSQL (for --executions 1000000)")
    bench.add_argument("--requests", type=int, default=200, help="requests per query endpoint")
    bench.add_argument("--concurrency", type=int, default=64, help="HTTP load generator concurrency")
    bench.add_argument("--timeout", type=float, default=900, help="seconds to wait for a phase to finish")
    bench.add_argument("--json", default=None, help="write the full results to this file")
    bench.add_argument("--profile", default=None, metavar="DIR",
                       help="sample every component with py-spy (pip install py-spy) into DIR/<component>.txt")
    bench.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logs(settings.log_level, "json" if settings.mode == "production" else "text")
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

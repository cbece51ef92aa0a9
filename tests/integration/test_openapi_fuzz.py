"""Schemathesis over the published OpenAPI document, against the running API over HTTP (the
real pipeline behind it), authenticated as a workspace owner: every operation, boundary cases
of valid data (coverage phase) then valid and invalid data (fuzzing phase), a bounded and
deterministic number of examples (deterministic generation, no example database). It fails
on any 5xx, any answer that does not match its documented schema, any answer whose content
type is not the documented one, and any status the document does not list for the operation.

Path parameters are drawn, most of the time, from the ids of a seeded workspace, so that the
generated bodies reach the handlers behind the id lookups instead of stopping at a 404.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest_asyncio
from conftest import Processes
from pipeline import isolated_settings, running_pipeline
from routes import FIXED, PARAMS, Ids, seed_workspace, settled

from infra.settings import Settings

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"
# Fuzzing: examples per operation, valid and invalid data alike. `make test` keeps the run
# to a couple of minutes on two cores; FLUXO_FUZZ_EXAMPLES=50 digs deeper.
MAX_EXAMPLES = int(os.environ.get("FLUXO_FUZZ_EXAMPLES", "5"))
# The coverage phase's boundary cases, valid data only: its invalid cases (some 6,000 wrong
# types and missing fields, all stopped by request validation) would triple the run; the
# fuzzing phase still sends invalid data to every operation.
COVERAGE = ["[phases.coverage.generation]", 'mode = "positive"', ""]
RUN_TIMEOUT = 600


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    return await isolated_settings(services)


@pytest_asyncio.fixture(scope="module")
async def seeded(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Ids, Ids]]:
    processes = Processes(settings)
    try:
        async with running_pipeline(settings, processes) as (owner, _):
            yield owner, await seed_workspace(owner, settings), await seed_workspace(owner, settings)
    finally:
        processes.stop_all()


def _toml(value: object) -> str:
    return orjson.dumps(value).decode()  # JSON strings and numbers are TOML too


def config_file(path: Path, ids: Ids, doomed: Ids) -> Path:
    """A schemathesis.toml: each path parameter drawn from the seeded ids (or the catalog value
    tests/routes.py names) 80 % of the time, generated the rest of the time. DELETE operations
    draw from a second seeded set, so that the first one lives through the whole run."""
    lines: list[str] = list(COVERAGE)
    bindings: dict[str, list[str]] = {"live": [], "doomed": []}
    for name, (kind, source) in sorted(PARAMS.items()):
        for which, values in (("live", ids), ("doomed", doomed)):
            value = source if kind == FIXED else values[source]
            lines += [f"[dictionaries.{which}_{name}]", f"values = [{_toml(value)}]", ""]
            bindings[which].append(f'"path.{name}" = {{ dictionary = "{which}_{name}", probability = 0.8 }}')
    lines += ["[parameters]", *bindings["live"], ""]
    lines += ["[[operations]]", 'include-method = "DELETE"', "[operations.parameters]", *bindings["doomed"], ""]
    target = path / "schemathesis.toml"
    target.write_text("\n".join(lines))
    return target


def command(base: str, authorization: str, config: Path, reports: Path) -> list[str]:
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{base}/openapi.json", "--url", base,
        "--checks", CHECKS, "--mode", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        "--workers", "1", "--header", f"Authorization: {authorization}",
        "--request-timeout", "30", "--suppress-health-check", "all",
        "--report", "junit", "--report-junit-path", str(reports / "junit.xml"),
    ]


async def test_no_server_error_and_every_answer_as_documented(
    seeded: tuple[httpx.AsyncClient, Ids, Ids], settings: Settings, tmp_path: Path
) -> None:
    owner, ids, doomed = seeded
    base = str(owner.base_url).rstrip("/")
    run = command(base, owner.headers["Authorization"], config_file(tmp_path, ids, doomed), tmp_path)
    process = await asyncio.create_subprocess_exec(
        *run, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
    text = output.decode(errors="replace")
    print(text)  # the whole report, shown with the failure (or with -s)
    assert process.returncode == 0, text[-20000:]
    # Nothing it sent wedged the pipeline behind the API: every processor is alive and the
    # projection reads on (executions it started may wait on timers: not waited for).
    await settled(owner, settings, timeout=120, runs=False)

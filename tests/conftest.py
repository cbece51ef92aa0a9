"""Test set-up: a real Kafka broker and a real PostgreSQL, started once per session.

With FLUXO_KAFKA_BOOTSTRAP_SERVERS / FLUXO_DATABASE_URL set, those are used
instead. Each test module gets its own topic prefix, so its topics, consumer
groups and projection offsets never meet another module's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from infra.settings import Settings
from infra.supervisor import COMPONENTS, Services, child_env, spawn
from infra.topic_admin import ensure_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = tmp_path_factory.mktemp("fluxo-state")
    return Settings(
        state_dir=state,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        postgres_port=free_port(),
        api_port=free_port(),
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        partitions=3,
        admin_email="owner@fluxo.test",
        admin_password="a-test-password",
        read_your_writes_timeout_seconds=15,
        # The suite makes thousands of quick requests with one token, and polls the login
        # until the owner is projected; the rate-limit and lockout tests set low limits of their own.
        rate_limit_default="1000000/minute",
        rate_limit_ingest="1000000/minute",
        login_max_failures=1000,
    )


@pytest_asyncio.fixture(scope="session")
async def services(base_settings: Settings) -> AsyncIterator[Settings]:
    svc = Services(base_settings)
    try:
        await svc.start()
        yield base_settings
    finally:
        svc.stop()


@pytest_asyncio.fixture(scope="module")
async def settings(services: Settings) -> Settings:
    """Settings for one test module: its own topics on the shared broker."""
    mine = services.model_copy(
        update={"topic_prefix": f"{services.topic_prefix}{uuid.uuid4().hex[:6]}.", "api_port": free_port()}
    )
    await ensure_topics(mine)
    return mine


class Processes:
    """Fluxo components as real OS processes, the way `fluxo up` runs them."""

    def __init__(self, settings: Settings, log_dir: Path | None = None) -> None:
        # With a log_dir, each process writes its output to a file there (tests grep them).
        self.log_dir = log_dir
        self.logs: list[Path] = []
        self.env = child_env(settings)
        self.env["FLUXO_ADMIN_EMAIL"] = settings.admin_email
        self.env["FLUXO_ADMIN_PASSWORD"] = settings.admin_password
        self.env["FLUXO_READ_YOUR_WRITES_TIMEOUT_SECONDS"] = str(settings.read_your_writes_timeout_seconds)
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        env = dict(self.env, **extra_env)
        log = None
        if self.log_dir is not None:
            path = self.log_dir / f"{name}-{len(self.logs)}.log"
            self.logs.append(path)
            log = path.open("ab")
        proc = spawn(name, env, log)
        if log is not None:
            log.close()  # the child holds its own descriptor
        self.running[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.running.pop(name)
        proc.kill()
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.running.values():
            proc.terminate()
        for proc in self.running.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.running.clear()


def shares_pipeline(request: pytest.FixtureRequest) -> bool:
    """A module whose tests each make their own workflows sets `SHARE_PIPELINE = True` and
    its tests share one running pipeline: starting the six processes costs ~7 s a test."""
    return bool(getattr(request.module, "SHARE_PIPELINE", False))


@pytest.fixture(scope="module")
def shared_processes(settings: Settings, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """The processes of a module's shared pipeline (`pipeline.shared_client` starts them)."""
    logged = any(m.name == "process_logs" for m in request.node.iter_markers())
    procs = Processes(settings, log_dir=tmp_path_factory.mktemp("logs") if logged else None)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def processes(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    """Tests marked `process_logs` get every process's output in files (`processes.logs`)."""
    if shares_pipeline(request):
        yield request.getfixturevalue("shared_processes")
        return
    logged = request.node.get_closest_marker("process_logs") is not None
    procs = Processes(settings, log_dir=tmp_path if logged else None)
    try:
        yield procs
    finally:
        procs.stop_all()


# The pipeline behind pipeline.api: the test's own, or its module's shared one.
@pytest_asyncio.fixture
async def own_api(settings: Settings, processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    from pipeline import running_pipeline

    async with running_pipeline(settings, processes) as (client, _):
        yield client


@pytest_asyncio.fixture(scope="module")
async def shared_client(settings: Settings, shared_processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    from pipeline import running_pipeline

    async with running_pipeline(settings, shared_processes) as (client, _):
        yield client


@pytest_asyncio.fixture
async def shared_api(shared_processes: Processes, shared_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The module's pipeline, with whatever an earlier test stopped or killed started again."""
    missing = [n for n in COMPONENTS if n not in shared_processes.running or shared_processes.running[n].poll() is not None]
    for name in missing:
        shared_processes.running.pop(name, None)
        shared_processes.start(name)
    if missing:
        await wait_healthy(shared_client)
    return shared_client


async def wait_healthy(client: httpx.AsyncClient) -> None:
    """Until the API answers /health (its processes were just started)."""

    async def healthy() -> bool:
        try:
            return (await client.get("/health")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_for(healthy, timeout=90, interval=0.3, what="/health ready")


async def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


__all__ = ["Path", "Processes", "free_port", "os", "shares_pipeline", "wait_for", "wait_healthy"]


# -- the fault suite's table (tests/faults/harness.py appends one row per case) ---------------
def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    os.environ.setdefault(
        "FLUXO_FAULTS_RESULTS", str(Path(tempfile.gettempdir()) / f"fluxo-faults-{os.getpid()}.jsonl")
    )


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    import json

    path = Path(os.environ["FLUXO_FAULTS_RESULTS"])
    if not path.exists():
        return
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    path.unlink()
    if not rows:
        return
    columns = ["case", "accepted", "completed", "duplicated", "lost", "redelivered", "retried", "failed_path", "seconds", "note"]
    cells = [[("-" if r.get(c) is None else f"{r[c]:.0f}" if c == "seconds" else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    terminalreporter.section("fault suite: accepted / completed / duplicated / lost per case")
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        terminalreporter.write_line("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    for r in rows:
        for line in r.get("detail") or []:
            terminalreporter.write_line(f"{r['case']}: {line}")

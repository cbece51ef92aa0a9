"""Everything a benchmark run needs: services, a database and topics of its own, every
component as a real process (the way `fluxo up` runs them), a logged-in client, the sink.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import asyncpg

from infra.bootstrap import bootstrap_admin
from infra.migrations import migrate
from infra.settings import Settings
from infra.supervisor import COMPONENTS, Services, child_env, spawn
from infra.topic_admin import ensure_topics

EVENT_TYPE = "BENCH_SIGNUP"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_settings(base: Settings, state_dir: Path) -> Settings:
    """Provisioned services on free ports in a state dir of their own (unless configured)."""
    update: dict[str, Any] = {"state_dir": state_dir, "api_port": free_port()}
    if base.provisions_kafka:
        update |= {"kafka_port": free_port(), "kafka_controller_port": free_port()}
    if base.provisions_postgres:
        update["postgres_port"] = free_port()
    return base.model_copy(update=update)


def workflow_body(sink_url: str) -> dict[str, Any]:
    """condition -> HTTP call to the sink -> add_tag, started by BENCH_SIGNUP events."""
    return {
        "name": "bench: condition, http, tag",
        "trigger_type": "event",
        "trigger_config": {"event_type": EVENT_TYPE},
        "nodes": [
            {"id": "trigger", "name": "Signed up", "node_type": "trigger"},
            {"id": "check", "name": "Is example.com", "node_type": "condition",
             "config": {"condition": "user.email.endsWith('@example.com')"}},
            {"id": "call", "name": "Call sink", "node_type": "http_request",
             "config": {"url": sink_url, "method": "POST", "body": {"user": "{{user.id}}"}}},
            {"id": "tag", "name": "Tag", "node_type": "action",
             "config": {"action_type": "add_tag", "tag_name": "bench"}},
        ],
        "edges": [
            {"source_node": "trigger", "target_node": "check"},
            {"source_node": "check", "target_node": "call", "label": "true"},
            {"source_node": "call", "target_node": "tag"},
        ],
    }


class Harness:
    """Async context manager. `provision=False` expects Kafka and PostgreSQL to be running
    at `settings` already (tests); either way the run gets its own database, topic prefix,
    component processes and API port, and removes what it started.
    """

    def __init__(
        self, settings: Settings, *, provision: bool = True, log_dir: Path | None = None, profile_dir: Path | None = None
    ) -> None:
        self.base = settings
        self.provision = provision
        self.services: Services | None = None
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.settings = settings
        self.log_dir = log_dir or settings.state_dir / f"bench-{tag}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.sink: subprocess.Popen[bytes] | None = None
        self.sink_url = ""
        self.session: aiohttp.ClientSession | None = None
        self.workspace_id = ""
        self.workflow_id = ""
        self.env: dict[str, str] = {}
        # With a profile dir, py-spy samples every component for the whole run (collapsed stacks).
        self.profile_dir = profile_dir
        self.profilers: list[subprocess.Popen[bytes]] = []

    # -- set-up ---------------------------------------------------------
    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _start(self) -> None:
        if self.provision:
            self.services = Services(self.base)
            await self.services.start()
        # A database of its own: the replay scenario empties the read models it projects into.
        name = f"fluxo_bench_{self.tag}"
        admin = await asyncpg.connect(self.base.dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self.settings = self.base.model_copy(update={
            "database_url": f"{self.base.dsn.rsplit('/', 1)[0]}/{name}",
            "kafka_bootstrap_servers": self.base.bootstrap_servers,
            "topic_prefix": f"{self.base.topic_prefix}bench{self.tag}.",
            "api_port": free_port(),
        })
        await ensure_topics(self.settings)
        await migrate(self.settings.dsn)
        self.workspace_id, _ = await bootstrap_admin(self.settings)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = child_env(self.settings)
        self.env |= {
            "FLUXO_ADMIN_EMAIL": self.settings.admin_email,
            "FLUXO_ADMIN_PASSWORD": self.settings.admin_password,
            "FLUXO_LOG_LEVEL": os.environ.get("FLUXO_BENCH_LOG_LEVEL", "WARNING"),
            # The load generator is one caller sending far more than a person would.
            "FLUXO_RATE_LIMIT_DEFAULT": "100000000/minute",
            "FLUXO_RATE_LIMIT_INGEST": "100000000/minute",
            # It polls the login until the owner is projected in its fresh database.
            "FLUXO_LOGIN_MAX_FAILURES": "1000000",
        }
        for component in COMPONENTS:
            self.start_component(component)
        port = free_port()
        self.sink = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant
            [sys.executable, "-m", "infra.bench.sink", "--port", str(port)], start_new_session=True
        )
        self.sink_url = f"http://127.0.0.1:{port}/hook"
        self.session = aiohttp.ClientSession(
            base_url=self.api_url, connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
        )
        await self._wait_ready(port)
        if self.profile_dir is not None:
            self._profile()
        await self._login()
        self.workflow_id = await self.create_workflow(workflow_body(self.sink_url))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    def start_component(self, name: str) -> None:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.procs[name] = spawn(name, self.env, log)

    def stop_component(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    async def _wait_ready(self, sink_port: int) -> None:
        assert self.session is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                async with self.session.get("/health") as r:
                    if r.status == 200:
                        with socket.create_connection(("127.0.0.1", sink_port), timeout=1):
                            return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.3)
        raise RuntimeError("the API did not become healthy within 120 s")

    async def _login(self) -> None:
        assert self.session is not None
        body = {"email": self.settings.admin_email, "password": self.settings.admin_password}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with self.session.post("/api/v1/auth/login", json=body) as r:
                if r.status == 200:
                    token = (await r.json())["access_token"]
                    self.session.headers["Authorization"] = f"Bearer {token}"
                    return
            await asyncio.sleep(0.2)
        raise RuntimeError("could not log in as the bench admin")

    async def create_workflow(self, body: dict[str, Any]) -> str:
        assert self.session is not None
        async with self.session.post("/api/v1/workflows", json=body) as r:
            if r.status != 201:
                raise RuntimeError(f"creating the bench workflow: {r.status} {await r.text()}")
            workflow_id: str = (await r.json())["id"]
        async with self.session.post(f"/api/v1/workflows/{workflow_id}/activate") as r:
            if r.status != 200:
                raise RuntimeError(f"activating the bench workflow: {r.status} {await r.text()}")
        return workflow_id

    def _profile(self) -> None:
        """Attach py-spy (a dev tool: `pip install py-spy`) to each component; stopped in close()."""
        assert self.profile_dir is not None
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        for name, proc in self.procs.items():
            self.profilers.append(subprocess.Popen(
                [spy, "record", "--pid", str(proc.pid), "--rate", "100", "--nonblocking", "--format", "raw",
                 "--output", str(self.profile_dir / f"{name}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))

    def pids(self) -> dict[str, int]:
        """Every process the figures should cover."""
        pids = {name: proc.pid for name, proc in self.procs.items()}
        if self.sink is not None:
            pids["sink"] = self.sink.pid
        pids["bench"] = os.getpid()
        if self.services is not None:
            if self.services.kafka is not None and self.services.kafka.process is not None:
                pids["kafka"] = self.services.kafka.process.pid
            if self.services.postgres is not None and self.services.postgres.process is not None:
                pids["postgres"] = self.services.postgres.process.pid
        return pids

    # -- tear-down ------------------------------------------------------
    async def close(self) -> None:
        for spy in self.profilers:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in self.profilers:
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        self.profilers = []
        if self.session is not None:
            await self.session.close()
            self.session = None
        for name in ["api", *[n for n in list(self.procs) if n not in ("api", "projection")], "projection"]:
            self.stop_component(name)
        if self.sink is not None:
            self.sink.terminate()
            try:
                self.sink.wait(10)
            except subprocess.TimeoutExpired:
                self.sink.kill()
                self.sink.wait()
            self.sink = None
        if self.services is not None:
            self.services.stop()
            self.services = None

"""`fluxo up`: the broker, the database, every processor, the projection and the API, as one."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

import httpx
import orjson

from infra.bootstrap import bootstrap_admin
from infra.kafka_local import LocalKafka, wait_for_kafka
from infra.migrations import migrate
from infra.postgres_local import LocalPostgres
from infra.settings import Settings
from infra.topic_admin import ensure_topics

log = logging.getLogger("fluxo.supervisor")

COMPONENTS = ("projection", "matcher", "executor", "worker", "timers", "api")
_RESTART_BACKOFF = (0.5, 1, 2, 5, 10)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


class Services:
    """Starts (or, with external services configured, only checks) Kafka and PostgreSQL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kafka = LocalKafka(settings) if settings.provisions_kafka else None
        self.postgres = LocalPostgres(settings) if settings.provisions_postgres else None

    async def start(self) -> None:
        if self.postgres is not None:
            self.postgres.start()
        if self.kafka is not None:
            self.kafka.start()
            await self.kafka.wait_ready()
        else:
            await wait_for_kafka(self.settings.bootstrap_servers, 60)
        if self.postgres is not None:
            await self.postgres.wait_ready()
        await ensure_topics(self.settings)
        await migrate(self.settings.dsn)

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    # Children use the services the supervisor provides; they never provision.
    env["FLUXO_KAFKA_BOOTSTRAP_SERVERS"] = settings.bootstrap_servers
    env["FLUXO_DATABASE_URL"] = settings.dsn
    env["FLUXO_STATE_DIR"] = str(settings.state_dir)
    env["FLUXO_TOPIC_PREFIX"] = settings.topic_prefix
    env["FLUXO_API_PORT"] = str(settings.api_port)
    env["FLUXO_API_HOST"] = settings.api_host
    env["FLUXO_PARTITIONS"] = str(settings.partitions)
    # Limits chosen in code (tests, benchmarks) reach the API process too.
    env["FLUXO_LOGIN_MAX_FAILURES"] = str(settings.login_max_failures)
    env["FLUXO_LOGIN_FAILURE_WINDOW_SECONDS"] = str(settings.login_failure_window_seconds)
    env["FLUXO_LOGIN_LOCKOUT_SECONDS"] = str(settings.login_lockout_seconds)
    env["FLUXO_RATE_LIMIT_DEFAULT"] = settings.rate_limit_default
    env["FLUXO_RATE_LIMIT_INGEST"] = settings.rate_limit_ingest
    env["FLUXO_RATE_LIMIT_ROUTES"] = orjson.dumps(settings.rate_limit_routes).decode()
    # Create local secrets once, here, so no two children race to generate different ones.
    settings.resolved_jwt_secret()
    settings.resolved_api_key_secret()
    settings.secret_box()
    return env


def spawn(name: str, env: dict[str, str], log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "run", name],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        # Own session: Ctrl-C reaches only the supervisor, which stops children in order.
        start_new_session=True,
    )


class Supervisor:
    def __init__(self, settings: Settings, components: tuple[str, ...] = COMPONENTS) -> None:
        self.settings = settings
        self.children = [Child(name) for name in components]
        self._stopping = asyncio.Event()

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        services = Services(self.settings)
        started = time.monotonic()
        try:
            await services.start()
            await bootstrap_admin(self.settings)
            env = child_env(self.settings)
            for child in self.children:
                child.process = spawn(child.name, env)
                child.started_at = time.monotonic()
            banner = asyncio.create_task(self._announce_when_ready(started))
            while not self._stopping.is_set():
                self._restart_dead(env)
                try:
                    await asyncio.wait_for(self._stopping.wait(), 0.5)
                except TimeoutError:
                    pass
            banner.cancel()
        finally:
            print("\nfluxo: stopping…", flush=True)
            self._stop_children()
            services.stop()
            print("fluxo: stopped.", flush=True)
        return 0

    def _restart_dead(self, env: dict[str, str]) -> None:
        for child in self.children:
            proc = child.process
            if proc is None or proc.poll() is None:
                continue
            delay = _RESTART_BACKOFF[min(child.restarts, len(_RESTART_BACKOFF) - 1)]
            if time.monotonic() - child.started_at < delay:
                continue
            log.warning("%s exited with %s; restarting", child.name, proc.returncode)
            child.restarts += 1
            child.process = spawn(child.name, env)
            child.started_at = time.monotonic()

    def _stop_children(self) -> None:
        # API first (stop taking writes), projection last (apply what is there).
        for child in sorted(self.children, key=lambda c: 0 if c.name == "api" else 2 if c.name == "projection" else 1):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    async def _announce_when_ready(self, started: float) -> None:
        url = f"{self.settings.api_url}/health"
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                try:
                    response = await client.get(url)
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        s = self.settings
        print(
            "\n"
            f"  Fluxo is ready ({time.monotonic() - started:.1f}s)\n"
            f"  API:      {s.api_url}/api/v1\n"
            f"  Docs:     {s.api_url}/docs\n"
            f"  Console:  {s.api_url}/console\n"
            f"  Health:   {s.api_url}/health\n"
            f"  Admin:    {s.admin_email} / {s.admin_password}\n"
            f"  Kafka:    {s.bootstrap_servers}   PostgreSQL: {s.dsn}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )

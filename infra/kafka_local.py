"""A single-node Apache Kafka broker (KRaft, combined roles) for the local default."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka_jars import ensure_kafka_jars
from infra.settings import Settings
from schemas.errors import InfrastructureError

_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


def _server_properties(settings: Settings, data_dir: Path) -> str:
    host = "127.0.0.1"  # not "localhost": it may resolve to ::1 where nothing listens
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{host}:{settings.kafka_controller_port}",
            (
                f"listeners=PLAINTEXT://{host}:{settings.kafka_port},"
                f"CONTROLLER://{host}:{settings.kafka_controller_port}"
            ),
            f"advertised.listeners=PLAINTEXT://{host}:{settings.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data_dir}",
            f"num.partitions={settings.partitions}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # The default 128 MiB dedupe buffer is allocated on the heap.
            "log.cleaner.dedupe.buffer.size=1048577",
            "auto.create.topics.enable=false",
            "message.max.bytes=2097152",
            # Short transaction timeouts let a killed processor's open
            # transaction abort quickly so read_committed consumers move on.
            "transaction.max.timeout.ms=900000",
            "",
        ]
    )


class LocalKafka:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.log_file = self.home / "broker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _java(self, libs: Path, heap: str, *args: str) -> list[str]:
        log4j = Path(__file__).parent / "kafka" / "log4j2.properties"
        return [
            "java",
            *heap.split(),
            f"-Dlog4j2.configurationFile={log4j}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def _format(self, libs: Path, props: Path) -> None:
        cluster_file = self.home / "cluster_id"
        if not cluster_file.exists():
            out = subprocess.run(
                self._java(libs, "-Xmx128m", _STORAGE_TOOL, "random-uuid"),
                capture_output=True,
                text=True,
                check=True,
            )
            cluster_file.write_text(out.stdout.strip().splitlines()[-1])
        result = subprocess.run(
            self._java(
                libs,
                "-Xmx128m",
                _STORAGE_TOOL,
                "format",
                "-t",
                cluster_file.read_text().strip(),
                "-c",
                str(props),
                "--ignore-formatted",
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfrastructureError(f"kafka storage format failed: {result.stderr[-2000:]}")

    def start(self) -> None:
        libs = ensure_kafka_jars(self.settings.cache_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(_server_properties(self.settings, self.data_dir))
        self._format(libs, props)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            self._java(libs, self.settings.kafka_heap, _MAIN, str(props)),
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C in the terminal reaches the supervisor,
            # which then stops the broker in order instead of it dying mid-write.
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 90.0) -> None:
        await wait_for_kafka(self.settings.bootstrap_servers, timeout, process=self.process)

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def wait_for_kafka(
    bootstrap: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Ready means the broker answers a metadata request, not merely that the port is open."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise InfrastructureError(f"Kafka broker exited with code {process.returncode}")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            if cluster.get("brokers"):
                return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
        finally:
            try:
                await admin.close()
            except Exception:  # noqa: BLE001, S110 - closing a client of a broker not up yet
                pass
        await asyncio.sleep(0.5)
    raise InfrastructureError(f"Kafka at {bootstrap} not ready after {timeout}s: {last_error}")

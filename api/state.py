"""What the API process holds for its lifetime: the pool, the producer, Kafka lookups."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from infra.db_errors import DATABASE_DOWN
from infra.kafka_io import Output, make_consumer, make_producer
from infra.settings import Settings
from projections.runner import PROJECTION
from schemas.errors import PayloadTooLarge, Unavailable

_POLL_SECONDS = 0.01


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    admin: AIOKafkaAdminClient
    offsets: AIOKafkaConsumer  # group-less consumer, used for end offsets only

    @classmethod
    async def open(cls, settings: Settings) -> AppState:
        pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=10, command_timeout=10)
        producer = make_producer(settings)
        await producer.start()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
        await admin.start()
        offsets = make_consumer(settings)
        await offsets.start()
        return cls(settings, pool, producer, admin, offsets)

    async def close(self) -> None:
        await self.offsets.stop()
        await self.admin.close()
        await self.producer.stop()
        await self.pool.close()

    async def publish(self, out: Output) -> tuple[str, int, int]:
        """Write one record; returns (topic, partition, offset) once the broker has it."""
        topic = self.settings.topic(out.topic)
        if out.value is not None and len(out.value) > self.settings.max_record_bytes:
            raise PayloadTooLarge(
                f"the record would be {len(out.value)} bytes, over {self.settings.max_record_bytes}",
                fields={"body": "too large once combined with the workflow definition"},
            )
        try:
            meta = await self.producer.send_and_wait(
                topic, value=out.value, key=out.key.encode(), headers=out.headers
            )
        except Exception as exc:  # noqa: BLE001 - any Kafka failure means "not accepted"
            raise Unavailable(f"could not write to Kafka: {type(exc).__name__}") from None
        return topic, meta.partition, meta.offset

    async def wait_projected(self, topic: str, partition: int, offset: int) -> bool:
        """Read-your-writes: wait (bounded) until the projection has applied `offset`."""
        deadline = time.monotonic() + self.settings.read_your_writes_timeout_seconds
        while time.monotonic() < deadline:
            try:
                applied = await self.pool.fetchval(
                    "SELECT next_offset FROM projection_offsets"
                    " WHERE projection = $1 AND topic = $2 AND partition = $3",
                    PROJECTION, topic, partition, timeout=max(0.1, deadline - time.monotonic()),
                )
            except DATABASE_DOWN:
                # The write is in Kafka already: answering 503 now would make the
                # caller send it again. Answer without read-your-writes instead.
                return False
            if applied is not None and applied > offset:
                return True
            await asyncio.sleep(_POLL_SECONDS)
        return False

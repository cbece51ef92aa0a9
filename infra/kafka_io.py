"""Kafka clients configured the one way Fluxo uses them."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.settings import Settings
from schemas.outputs import Output
from schemas.topics import TopicSpec


def make_producer(settings: Settings, transactional_id: str | None = None) -> AIOKafkaProducer:
    # acks=all + idempotence everywhere: a retried send never duplicates or reorders.
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        transactional_id=transactional_id,
        linger_ms=2,
        max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        request_timeout_ms=30000,
    )


def make_consumer(
    settings: Settings, *topics: str, group_id: str | None = None, **overrides: object
) -> AIOKafkaConsumer:
    options: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # Never read what an aborted transaction wrote.
        "isolation_level": "read_committed",
        "max_partition_fetch_bytes": 2 * 1024 * 1024,
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def send_output(producer: AIOKafkaProducer, settings: Settings, out: Output) -> None:
    await producer.send(
        settings.topic(out.topic),
        value=out.value,
        key=out.key.encode(),
        headers=out.headers,
        partition=out.partition,
    )


async def topic_partitions(consumer: AIOKafkaConsumer, settings: Settings, specs: Iterable[TopicSpec]) -> list[TopicPartition]:
    """Every partition of these topics, refreshing metadata once if the consumer has none yet."""
    tps: list[TopicPartition] = []
    for spec in specs:
        topic = settings.topic(spec)
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps.extend(TopicPartition(topic, p) for p in sorted(partitions))
    return tps

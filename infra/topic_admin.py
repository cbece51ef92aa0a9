"""Creates the registry's topics and verifies existing ones against it."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from infra.settings import Settings
from schemas.errors import InfrastructureError
from schemas.topics import ALL_TOPICS, TopicSpec


def _configs(spec: TopicSpec) -> dict[str, str]:
    configs: dict[str, str] = {"cleanup.policy": spec.cleanup}
    if spec.retention_ms is not None and spec.cleanup == "delete":
        configs["retention.ms"] = str(spec.retention_ms)
    if spec.cleanup == "compact":
        # Compact soon after a segment rolls so restores read little.
        configs["segment.ms"] = str(6 * 3600 * 1000)
        configs["min.cleanable.dirty.ratio"] = "0.1"
    return configs


async def ensure_topics(settings: Settings, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> list[str]:
    """Create what is missing; raise if an existing topic disagrees with the registry.

    Returns the names of the topics created.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {settings.topic(spec): spec for spec in specs}
        missing = [
            NewTopic(
                name=name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs=_configs(spec),
            )
            for name, spec in wanted.items()
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process won the race; verification below still runs
        # A just-created topic takes a moment to show in metadata everywhere.
        for attempt in range(40):
            try:
                await _verify(admin, settings, wanted)
                break
            except InfrastructureError:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.25)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def _verify(
    admin: AIOKafkaAdminClient, settings: Settings, wanted: dict[str, TopicSpec]
) -> None:
    described = await admin.describe_topics(list(wanted))
    problems: list[str] = []
    for topic in described:
        name = topic["topic"]
        if topic.get("error_code"):
            problems.append(f"{name}: error code {topic['error_code']}")
            continue
        # Changelog topics are co-partitioned with their inputs, so a count
        # mismatch would silently send state to the wrong processor.
        count = len(topic["partitions"])
        if count != settings.partitions:
            problems.append(f"{name}: {count} partitions, expected {settings.partitions}")
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
    for response in await admin.describe_configs(resources):
        for resource in response.resources:
            _, _, _, name, entries = resource[:5]
            values = {entry[0]: entry[1] for entry in entries}
            expected = wanted[name].cleanup
            if values.get("cleanup.policy") != expected:
                problems.append(
                    f"{name}: cleanup.policy={values.get('cleanup.policy')}, expected {expected}"
                )
    if problems:
        raise InfrastructureError("topics disagree with the registry: " + "; ".join(problems))

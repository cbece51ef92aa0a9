"""A processor with two inputs (the matcher: events and the trigger log) keeps its state by
partition number, so each member must get partition p of every input: the range assignor."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from infra.settings import Settings
from processors.services.matcher import TriggerMatcher
from processors.streams.clients import KafkaClients


class _Cluster:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.partitions))


@pytest.mark.parametrize("members", [1, 2, 3, 4])
@pytest.mark.parametrize("partitions", [1, 3, 6])
def test_each_member_gets_the_same_partitions_of_every_input(members: int, partitions: int) -> None:
    topics = ["fluxo.events.v1", "fluxo.trigger-log.v1"]
    meta = {f"m{i}": ConsumerProtocolMemberMetadata(0, topics, b"") for i in range(members)}
    assignment = RangePartitionAssignor.assign(_Cluster(partitions), meta)  # type: ignore[arg-type]
    for member in meta:
        per_topic: dict[str, Any] = dict(assignment[member].assignment)
        assert sorted(per_topic.get(topics[0], [])) == sorted(per_topic.get(topics[1], [])), (member, per_topic)


async def test_processor_consumers_use_the_range_assignor_first() -> None:
    assert len(TriggerMatcher.inputs) == 2
    consumer: Any = KafkaClients(Settings(kafka_bootstrap_servers="127.0.0.1:1")).consumer(group_id="g", max_poll_records=10)
    assert consumer._partition_assignment_strategy[0] is RangePartitionAssignor

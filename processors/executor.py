"""Executor: folds the executions topic through `advance`, one execution per key."""

from __future__ import annotations

from infra.kafka_io import Output
from infra.settings import Settings
from processors.machine import advance, finished_marker
from processors.runtime import Incoming, StateStore, per_record
from schemas.envelope import now
from schemas.topics import EXECUTIONS, EXECUTOR_STATE, TopicSpec


class Executor:
    name = "executor"
    inputs: tuple[TopicSpec, ...] = (EXECUTIONS,)
    state_topic: TopicSpec | None = EXECUTOR_STATE

    async def start(self, settings: Settings) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def handle(self, batch: list[Incoming], store: StateStore) -> list[Output]:
        return per_record(batch, store, self.name, self._one)

    def _one(self, item: Incoming, store: StateStore) -> list[Output]:
        execution_id = item.envelope.executionid
        if not execution_id:
            raise ValueError("record on the executions topic without an execution id")
        partition = item.record.partition
        state = store.get(partition, execution_id)
        new_state, outputs = advance(state, item.envelope, item.data, now())
        if new_state is not state or outputs:
            if new_state is not None and new_state.get("status") != "running":
                new_state = finished_marker(new_state)
            store.put(partition, execution_id, new_state)
        return outputs

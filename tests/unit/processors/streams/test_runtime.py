"""processors.streams.runner.bounded_transaction: the deadline on a processor's transaction.

The producer here is a stand-in whose transaction can be told to hang, the way aiokafka's
did once after a broker restart (tests/faults/test_broker_restart.py runs the real thing):
what is tested is our deadline, not Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka.errors import KafkaError, KafkaTimeoutError

from processors.streams.runner import bounded_transaction


class StandInProducer:
    def __init__(self, *, hang_on_exit: bool = False) -> None:
        self.hang_on_exit = hang_on_exit
        self.entered = self.committed = self.aborted = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.entered += 1
        try:
            yield
        except BaseException:
            self.aborted += 1
            if self.hang_on_exit:
                await asyncio.Event().wait()  # an abort that never returns
            raise
        self.committed += 1


async def test_a_transaction_that_finishes_in_time_commits() -> None:
    producer = StandInProducer()
    written: list[int] = []

    async def write() -> None:
        written.append(1)

    await bounded_transaction(producer, write, 1.0)  # type: ignore[arg-type]
    assert written == [1] and producer.committed == 1 and producer.aborted == 0


async def test_a_hanging_transaction_is_a_kafka_timeout_even_if_its_abort_hangs() -> None:
    producer = StandInProducer(hang_on_exit=True)

    async def write() -> None:
        await asyncio.Event().wait()

    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(KafkaTimeoutError) as caught:
        await bounded_transaction(producer, write, 0.2)  # type: ignore[arg-type]
    assert isinstance(caught.value, KafkaError), "the runner reconnects on KafkaError"
    assert loop.time() - began < 5
    assert producer.committed == 0


async def test_an_error_inside_is_raised_as_it_is_and_aborts() -> None:
    producer = StandInProducer()

    async def write() -> None:
        raise KafkaError("broker gone")

    with pytest.raises(KafkaError, match="broker gone"):
        await bounded_transaction(producer, write, 1.0)  # type: ignore[arg-type]
    assert producer.aborted == 1 and producer.committed == 0


async def test_cancelling_the_caller_cancels_the_transaction() -> None:
    producer = StandInProducer()
    started = asyncio.Event()
    outcome: dict[str, Any] = {}

    async def write() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome["cancelled"] = True
            raise

    caller = asyncio.create_task(bounded_transaction(producer, write, 60.0))  # type: ignore[arg-type]
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0)
    assert outcome == {"cancelled": True} and producer.aborted == 1

"""Where each record's rows go in an execution's order of steps. Pure: no I/O.

`execution_steps.seq` orders an execution's steps (`ORDER BY seq, attempt`). It was the
record's offset; an ExecutionSteps record holds several steps at one offset, so each
record now takes a block of SLOTS positions from its offset on, and the steps inside
one take the block's first positions in their order. Offsets grow along a partition, so
steps keep their log order, also next to rows written as offset alone before blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas.envelope import Envelope, RecordData
from schemas.records import ExecutionSteps

# Positions per offset; the executor writes at most MAX_STEPS (5,000) node steps in one
# execution, a few records each, so one record never holds this many.
SLOTS = 1 << 16


def expand(envelope: Envelope, data: RecordData, offset: int) -> list[tuple[Envelope, RecordData, int]]:
    """A record as the records it stands for, each with its position (`seq`): an
    ExecutionSteps as its steps, in order, under its own envelope; any other as itself."""
    if type(data) is ExecutionSteps:
        return [(envelope, step, offset * SLOTS + i) for i, step in enumerate(data.records())]
    return [(envelope, data, offset * SLOTS)]


def expand_all(items: Iterable[tuple[Envelope, RecordData, int]]) -> Iterator[tuple[Envelope, RecordData, int]]:
    for envelope, data, offset in items:
        yield from expand(envelope, data, offset)

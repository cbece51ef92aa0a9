"""The pipelined runner's commit rule: never past a record still running."""

from __future__ import annotations

from aiokafka import TopicPartition

from processors.streams.pipelined import watermarks

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_a_partition_commits_up_to_its_oldest_unfinished_record() -> None:
    # Offsets 10..19 fetched on p0, 12 and 15 still running: everything from 12 on may run again.
    assert watermarks({P0: 20}, {P0: [15, 12]}, {}) == {P0: 12}


def test_with_nothing_running_a_partition_commits_past_its_last_fetched_record() -> None:
    assert watermarks({P0: 20, P1: 7}, {P0: [], P1: [5]}, {}) == {P0: 20, P1: 5}


def test_a_partition_whose_watermark_did_not_move_is_left_out() -> None:
    assert watermarks({P0: 20, P1: 7}, {P0: [12], P1: []}, {P0: 12, P1: 3}) == {P1: 7}


def test_a_slow_record_holds_its_own_partition_only() -> None:
    # p0's record 3 hangs; p1 keeps committing behind it.
    assert watermarks({P0: 50, P1: 90}, {P0: [3], P1: []}, {P0: 3, P1: 40}) == {P1: 90}

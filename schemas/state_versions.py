"""Versions of the processors' changelog state. Pure: JSON values in and out.

The processors keep their state (executions, finished markers, contact
profiles, timers, cron schedules) in compacted changelog topics, read back
whole on every restart and rebalance. A state shape changes like a record
does: its kind's version goes up by one and an upcaster from the old version
takes the stored values to the new one, so a restored value is always of the
current shape and the processors' code knows only that shape.

A value is written as `{"k": kind, "v": version, "s": state}` rather than with
a `"v"` field inside the state, because the state is then left as it is: the
executor writes its state on every step, and an envelope costs one small
dict and 28 bytes a value (`{"k":"execution","v":1,"s":` and `}`) where a
field inside would cost a copy of the state dict on every write and a strip
on every read, could collide with a state field, and would only fit states
that are JSON objects. The kind is written too because a topic holds several
kinds (the executor's running executions and finished markers, the timer
service's timers and cron schedules), and a value's kind must not be guessed
from a shape a later version may change.

A value without the envelope was written before state had versions: it is
version 1 of the kind `kind_of` finds for it from its key and today's shapes.
No value of today's shapes is a dict of exactly the keys k, v and s.

Each state topic names its codec (schemas/topics.py, `TopicSpec.state`), the
way a record topic names its record types; the StateStore encodes with it and
restore_state decodes with it (processors/streams/state.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.errors import StateVersionError

# State of version N in, state of version N+1 out. Pure and total over what
# version N held.
StateUpcaster = Callable[[Any], Any]

_ENVELOPE_KEYS = frozenset({"k", "v", "s"})


@dataclass(frozen=True, eq=False)
class StateKind:
    """One shape of processor state: its current version and the upcasters up to it.

    `upcasters[n]` takes a value of version n to version n + 1, for every n
    from 1 below `version`.
    """

    name: str
    version: int = 1
    upcasters: Mapping[int, StateUpcaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.version < 1 or set(self.upcasters) != set(range(1, self.version)):
            raise ValueError(
                f"state kind {self.name!r} at version {self.version} needs one upcaster from each of "
                f"versions {list(range(1, self.version))}, has {sorted(self.upcasters)}"
            )

    def upcast(self, version: int, state: Any, key: str) -> Any:
        if version > self.version:
            # Written by a newer Fluxo (a rollback?): running on it would lose what it knows.
            raise StateVersionError(
                f"{self.name} state {key!r} is version {version}, newer than this process's {self.version}"
            )
        while version < self.version:
            state = self.upcasters[version](state)
            version += 1
        return state


class StateCodec:
    """The state kinds of one changelog topic, and how to tell them apart.

    `kind_of(key, state)` names the kind of a current state (to write it) and
    of an unversioned value (version 1, written before versions) read back.
    A topic of a single kind needs none.
    """

    def __init__(self, *kinds: StateKind, kind_of: Callable[[str, Any], str] | None = None) -> None:
        if not kinds:
            raise ValueError("a state codec needs at least one kind")
        if kind_of is None:
            if len(kinds) > 1:
                raise ValueError("a codec of several kinds needs kind_of")
            only = kinds[0].name

            def kind_of(key: str, state: Any) -> str:
                return only

        self.kinds: dict[str, StateKind] = {kind.name: kind for kind in kinds}
        self.kind_of = kind_of

    def encode(self, key: str, state: Any) -> bytes:
        name = self.kind_of(key, state)
        kind = self.kinds.get(name)
        if kind is None:
            raise ValueError(f"state {key!r}: kind {name!r} is not one of {sorted(self.kinds)}")
        return orjson.dumps({"k": name, "v": kind.version, "s": state})

    def decode(self, key: str, raw: bytes) -> Any:
        """The current state for a stored value, of any version this process knows."""
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StateVersionError(f"state {key!r} is not JSON: {exc}") from None
        if isinstance(value, dict) and value.keys() == _ENVELOPE_KEYS:
            name, version, state = value["k"], value["v"], value["s"]
            if not isinstance(name, str) or not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise StateVersionError(f"state {key!r} has a malformed version envelope: k={name!r} v={version!r}")
        else:
            name, version, state = self.kind_of(key, value), 1, value
        kind = self.kinds.get(name)
        if kind is None:
            raise StateVersionError(f"state {key!r} is of kind {name!r}, not one of {sorted(self.kinds)}")
        return kind.upcast(version, state, key)


# -- the processors' state ------------------------------------------------------------
# The executor: a running execution (processors.engine.machine's State dict),
# the marker a finished one leaves (`finished_marker`: status, finished_at), and
# the workflow snapshots its running executions are pinned to, one entry per
# snapshot and partition under `workflow:<reference>` (processors/engine/pinned.py).


def workflow_reference(snapshot: Mapping[str, Any]) -> str:
    """The name of one pinned workflow snapshot (its JSON form): `<id>:<version>:<digest>`.

    The digest of the content is part of it so that correctness never rests on a
    version number never being reused (a draft run, an import): two snapshots
    share a reference only if they are the same snapshot.
    """
    digest = hashlib.blake2b(orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()
    return f"{snapshot['id']}:{snapshot['version']}:{digest}"


WORKFLOW_KEY_PREFIX = "workflow:"


def _execution_v1_v2(state: Any) -> Any:
    """v1 carried the pinned snapshot in every write; v2 names it (`workflow_ref`).

    The snapshot stays in the upcast value (`workflow`) because a pure upcaster of
    one value cannot write the shared entry the reference points to: the executor
    moves it there the first time it writes the execution again
    (processors/services/executor.py), and the engine reads an inline snapshot
    until then (processors/engine/transition.py `workflow_of`).
    """
    workflow = state["workflow"]
    return {
        **state,
        "workflow_id": workflow["id"],
        "workflow_version": workflow["version"],
        "workflow_ref": workflow_reference(workflow),
    }


EXECUTION = StateKind("execution", version=2, upcasters={1: _execution_v1_v2})
FINISHED = StateKind("finished")
# A pinned snapshot: `WorkflowSnapshot.model_dump(mode="json")` of what the execution runs.
WORKFLOW = StateKind("workflow")


def _executor_kind(key: str, state: Any) -> str:
    if key.startswith(WORKFLOW_KEY_PREFIX):
        return WORKFLOW.name
    # The executor's own test of the two (processors/services/executor.py): anything not running is a marker.
    return EXECUTION.name if isinstance(state, dict) and state.get("status") == "running" else FINISHED.name


EXECUTOR_STATE_CODEC = StateCodec(EXECUTION, FINISHED, WORKFLOW, kind_of=_executor_kind)

# The matcher: one contact's profile and per-workflow run history
# (processors.matching.triggers.SubjectState.to_json).
SUBJECT = StateKind("subject")
# Under `watches:<workspace>:<subject>` (or `:*`): the executions watching that subject's
# events and its recent events of watched types (processors.matching.awaiting).
WATCHES = StateKind("watches")
WATCHES_PREFIX = "watches:"
# Under `flow:<workspace>:<workflow>:<flow key>`: flow control's starts, running executions
# and waiting starts of one key (processors.matching.flow).
FLOW = StateKind("flow")
FLOW_PREFIX = "flow:"


def _matcher_kind(key: str, state: Any) -> str:
    # A workspace id is a UUID, never "watches" or "flow": a subject key cannot start with a prefix.
    if key.startswith(WATCHES_PREFIX):
        return WATCHES.name
    return FLOW.name if key.startswith(FLOW_PREFIX) else SUBJECT.name


MATCHER_STATE_CODEC = StateCodec(SUBJECT, WATCHES, FLOW, kind_of=_matcher_kind)

# The timer service: a pending timer under `timer:<id>`, a cron schedule's
# last fire under `cron:<workflow>[:<trigger>]` (processors/services/timers.py).
TIMER = StateKind("timer")
CRON = StateKind("cron")


def _timer_kind(key: str, state: Any) -> str:
    return key.partition(":")[0]


TIMER_STATE_CODEC = StateCodec(TIMER, CRON, kind_of=_timer_kind)

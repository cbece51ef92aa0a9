"""The workflow snapshots executions are pinned to, by reference. Pure: a dictionary in memory.

An execution runs the workflow snapshot its `execution.started` record carries,
to its end, whatever is published meanwhile. The execution state used to carry
that snapshot, so every changelog write of every step re-wrote the whole
workflow; it now names it (`state["workflow_ref"]`,
`schemas.state_versions.workflow_reference`: id, version and a digest of the
content) and the snapshot is kept once, here, parsed.

Who fills it: `advance` pins the snapshot of each start record it runs (so a
start never waits for anything), and the executor adds the entries it restores
from its changelog, where it keeps each referenced snapshot once per partition
(processors/services/executor.py). The definitions topic is not the source of
record for this: it is compacted to the newest version of each workflow, and
deleted workflows are tombstoned, while an execution pinned to an older or
deleted version must still find it after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from processors.engine import graph
from schemas.errors import UnknownWorkflowSnapshot as UnknownWorkflow
from schemas.state_versions import workflow_reference
from schemas.workflow import WorkflowSnapshot

__all__ = ["SHARED", "UnknownWorkflow", "Workflows"]


class Workflows:
    """Pinned snapshots by reference: the parsed model, and the JSON form the changelog stores.

    `max_entries`: a bound for callers that never forget (the shared default used by
    the dry run and tests); the executor passes None and forgets what no running
    execution references (`retain`).
    """

    def __init__(self, max_entries: int | None = None) -> None:
        self.max_entries = max_entries
        self._json: dict[str, dict[str, Any]] = {}
        self._parsed: dict[str, WorkflowSnapshot] = {}

    def __len__(self) -> int:
        return len(self._json)

    def __contains__(self, ref: object) -> bool:
        return ref in self._json

    def pin(self, snapshot: WorkflowSnapshot) -> tuple[str, WorkflowSnapshot]:
        """The reference of a start record's snapshot as the engine runs it (linear edges filled in)."""
        if not snapshot.edges:
            snapshot = snapshot.model_copy(update={"edges": graph.linear_edges(snapshot)})
        raw = snapshot.model_dump(mode="json")
        ref = workflow_reference(raw)
        self._make_room()
        self._json.setdefault(ref, raw)
        self._parsed.setdefault(ref, snapshot)
        return ref, self._parsed[ref]

    def add(self, ref: str, raw: Mapping[str, Any]) -> None:
        """A snapshot in its JSON form under its reference (a restored changelog entry, an upcast state's
        inline copy); parsed when first used."""
        if ref not in self._json:
            self._make_room()
            self._json[ref] = dict(raw)

    def get(self, ref: str) -> WorkflowSnapshot:
        parsed = self._parsed.get(ref)
        if parsed is None:
            raw = self._json.get(ref)
            if raw is None:
                raise UnknownWorkflow(f"workflow snapshot {ref} is not known to this executor")
            parsed = self._parsed[ref] = WorkflowSnapshot.model_validate(raw)
        return parsed

    def json_of(self, ref: str) -> dict[str, Any]:
        raw = self._json.get(ref)
        if raw is None:
            raise UnknownWorkflow(f"workflow snapshot {ref} is not known to this executor")
        return raw

    def retain(self, refs: Iterable[str]) -> int:
        """Forget every snapshot not in `refs`. Returns how many were forgotten."""
        keep = set(refs)
        gone = [ref for ref in self._json if ref not in keep]
        for ref in gone:
            self._json.pop(ref, None)
            self._parsed.pop(ref, None)
        return len(gone)

    def _make_room(self) -> None:
        if self.max_entries is not None and len(self._json) >= self.max_entries:
            self._json.clear()
            self._parsed.clear()


# What `advance` uses when its caller passes no catalogue: the dry run's and the tests' executions
# run start to end in one process, so the snapshot pinned at the start is here for every later step.
# Bounded: cleared when full (a later step of an execution started before the clear would then miss
# its snapshot; the executor, which runs executions for days, passes its own unbounded catalogue).
SHARED = Workflows(max_entries=4096)

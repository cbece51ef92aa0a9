"""The workflow answers' seed fields, decided without I/O: seed 004's project and run
counters, seed 003's attached triggers and actions (api/routers/workflows.py,
api/services/links.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api.routers.workflows import apply_update, project_fields, project_of, run_counters, to_view
from api.services.links import link_fields
from schemas.answers.workflows import Workflow, WorkflowSummary
from schemas.api import ProjectIn, WorkflowPatch
from schemas.errors import InvalidInput
from schemas.records import ActionDefined, TriggerDefined
from schemas.workflow import ActionRef, TriggerRef, WorkflowSnapshot

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def workflow(**kw: Any) -> WorkflowSnapshot:
    return WorkflowSnapshot(id="wf", workspace_id="ws", version=1, name="n", created_at=T0, updated_at=T0, **kw)


def trigger(trigger_id: str, *, active: bool = True) -> TriggerDefined:
    return TriggerDefined(id=trigger_id, workspace_id="ws", version=1, name=f"name {trigger_id}", trigger_type="USER_CREATED",
                          is_active=active, created_at=T0, updated_at=T0)


def action(action_id: str, *, order: int = 3, required: bool = True) -> ActionDefined:
    return ActionDefined(id=action_id, workspace_id="ws", version=1, name=f"name {action_id}", action_type="send_message",
                         order=order, is_required=required, created_at=T0, updated_at=T0)


# -- project ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("project", "name", "expected"), [
    (None, None, None),
    ("p-1", None, "p-1"),  # only an id: answered as given, as before
    ("p-1", "Gestion Client", {"tracking_id": "p-1", "name": "Gestion Client"}),
])
def test_project_of(project: str | None, name: str | None, expected: Any) -> None:
    assert project_of(workflow(project=project, project_name=name)) == expected


@pytest.mark.parametrize(("project", "name", "expected"), [
    (None, None, (None, None)),
    ("p-1", None, ("p-1", None)),
    ("p-1", "N", ("p-1", "N")),
    (ProjectIn(tracking_id="p-1"), None, ("p-1", None)),
    (ProjectIn(tracking_id="p-1", name="N"), None, ("p-1", "N")),
    (ProjectIn(tracking_id="p-1"), "N", ("p-1", "N")),
    (ProjectIn(tracking_id="p-1", name="N"), "N", ("p-1", "N")),
])
def test_project_fields(project: Any, name: str | None, expected: tuple[str | None, str | None]) -> None:
    assert project_fields(project, name) == expected


@pytest.mark.parametrize(("project", "name", "field"), [
    (None, "N", "project_name"),  # a name needs a project
    (ProjectIn(tracking_id="p-1", name="A"), "B", "project_name"),  # two different names
])
def test_project_fields_refused(project: Any, name: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        project_fields(project, name)
    assert field in caught.value.fields


@pytest.mark.parametrize(("current", "patch", "expected"), [
    (("p-1", None), {"project_name": "N"}, ("p-1", "N")),
    (("p-1", "N"), {"project": "p-2"}, ("p-2", None)),  # another project: the old name is not its name
    (("p-1", "N"), {"project": {"tracking_id": "p-2", "name": "M"}}, ("p-2", "M")),
    (("p-1", "N"), {"project": "p-2", "project_name": "M"}, ("p-2", "M")),
    (("p-1", "N"), {"project_name": None}, ("p-1", None)),
    (("p-1", "N"), {"project": None}, (None, None)),
    (("p-1", "N"), {"name": "renamed"}, ("p-1", "N")),  # untouched
])
def test_an_edit_of_the_project(current: tuple[str, str | None], patch: dict[str, Any], expected: tuple[str | None, str | None]) -> None:
    before = workflow(project=current[0], project_name=current[1])
    after = apply_update(before, WorkflowPatch.model_validate(patch), partial=True, stamp=T1)
    assert (after.project, after.project_name) == expected


def test_an_edit_naming_no_project_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        apply_update(workflow(), WorkflowPatch(project_name="N"), partial=True, stamp=T1)
    assert "project_name" in caught.value.fields


def test_no_project_name_is_written_as_no_key() -> None:
    assert "project_name" not in workflow(project="p-1").model_dump(mode="json")
    assert workflow(project="p-1", project_name="N").model_dump(mode="json")["project_name"] == "N"


# -- run counters ----------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "successes", "last", "expected"), [
    (None, None, None, {"executions_count": 0, "success_rate": 0.0, "last_executed": None}),
    (0, 0, None, {"executions_count": 0, "success_rate": 0.0, "last_executed": None}),
    (4, 3, T1, {"executions_count": 4, "success_rate": 0.75, "last_executed": T1}),
    (2, None, T1, {"executions_count": 2, "success_rate": 0.0, "last_executed": T1}),
])
def test_run_counters(total: int | None, successes: int | None, last: datetime | None, expected: dict[str, Any]) -> None:
    assert run_counters(total, successes, last) == expected


# -- attached triggers and actions -------------------------------------------------------------


def test_link_fields_show_each_reference_with_what_seed_003_shows() -> None:
    w = workflow(
        triggers=(TriggerRef(trigger_id="t-1", priority=100), TriggerRef(trigger_id="t-2", priority=5, specific_conditions={"x": 1}),
                  TriggerRef(trigger_id="t-gone")),
        actions=(ActionRef(action_id="a-1"), ActionRef(action_id="a-2", order=9), ActionRef(action_id="a-gone", order=2),
                 ActionRef(action_id="a-gone-2")),
    )
    found = ({"t-1": trigger("t-1"), "t-2": trigger("t-2", active=False)},
             {"a-1": action("a-1", order=3), "a-2": action("a-2", order=1, required=False)})
    fields = link_fields(w, found)
    assert fields["triggers"] == [
        {"trigger_id": "t-1", "priority": 100, "specific_conditions": None, "id": "t-1", "trigger_name": "name t-1", "is_active": True},
        {"trigger_id": "t-2", "priority": 5, "specific_conditions": {"x": 1}, "id": "t-2", "trigger_name": "name t-2", "is_active": False},
        # Deleted since it was attached: still referenced, matches nothing.
        {"trigger_id": "t-gone", "priority": 100, "specific_conditions": None, "id": "t-gone", "trigger_name": None, "is_active": False},
    ]
    assert fields["actions"] == [
        # No order of its own in the workflow: the action's.
        {"action_id": "a-1", "order": 3, "id": "a-1", "action_name": "name a-1", "action_type": "send_message", "is_required": True},
        {"action_id": "a-2", "order": 9, "id": "a-2", "action_name": "name a-2", "action_type": "send_message", "is_required": False},
        {"action_id": "a-gone", "order": 2, "id": "a-gone", "action_name": None, "action_type": None, "is_required": False},
        {"action_id": "a-gone-2", "order": None, "id": "a-gone-2", "action_name": None, "action_type": None, "is_required": False},
    ]
    assert (fields["triggers_count"], fields["actions_count"]) == (3, 4)


def test_a_workflow_with_no_links() -> None:
    assert link_fields(workflow(), ({}, {})) == {"triggers": [], "actions": [], "triggers_count": 0, "actions_count": 0}


# -- the views validate as the answers ---------------------------------------------------------


def test_the_views_are_valid_answers() -> None:
    w = workflow(project="p-1", project_name="N", triggers=(TriggerRef(trigger_id="t-1"),), actions=(ActionRef(action_id="a-1"),))
    view = to_view(w, "http://x", links=({"t-1": trigger("t-1")}, {"a-1": action("a-1")}))
    assert "project_name" not in view
    detail = Workflow.model_validate({**view, **run_counters(2, 1, T1)})
    assert detail.model_dump(mode="json")["project"] == {"tracking_id": "p-1", "name": "N"}
    assert (detail.executions_count, detail.success_rate, detail.last_executed) == (2, 0.5, T1)
    summary = {k: v for k, v in view.items() if k not in ("nodes", "edges")}
    row = WorkflowSummary.model_validate({**summary, **run_counters(0, 0, None)})
    assert (row.triggers_count, row.actions_count) == (1, 1)
    assert row.actions[0].action_name == "name a-1" and row.triggers[0].trigger_name == "name t-1"
    plain = Workflow.model_validate(to_view(workflow(project="p-1"), "http://x"))
    assert plain.model_dump(mode="json")["project"] == "p-1"

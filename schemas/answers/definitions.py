"""Answers of seed 003's reusable definitions: triggers, actions, conditions, and their
tests (api/routers/triggers.py, actions.py, conditions.py).

Each view is the definition's snapshot as pydantic dumps it (timestamps with `Z`), less
the workspace and deletion flag, plus seed 003's `tracking_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject


class Definition(Answer):
    id: str
    tracking_id: str = Field(description="seed 003's name for the id")
    version: int
    name: str
    description: str
    is_active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class Trigger(Definition):
    trigger_type: str
    event_type: str | None
    filters: JsonObject
    schedule: str | None
    timezone: str | None
    configuration: JsonObject
    listens_to: str | None = Field(description="the event code it fires on; null for kinds that do not fire on events")


class Action(Definition):
    action_type: str
    action_name: str = Field(description="seed 003's name for the name")
    configuration: JsonObject
    order: int
    delay: float
    is_required: bool
    workflow: str | None = Field(description="the workflow it was created for, if any")


class Condition(Definition):
    operator: str
    conditions: list[JsonObject]
    use_custom_code: bool
    custom_code: str | None
    language: str


class TriggerWorkflow(Answer):
    """A workflow that a trigger starts, with the association's own settings."""

    id: str
    name: str
    status: str
    version: int
    priority: int
    specific_conditions: JsonObject | None
    webhook_id: str | None = Field(default=None, description="a webhook trigger: the inbound webhook it gives this workflow")
    webhook_url: str | None = Field(default=None, description="a webhook trigger: the URL that starts this workflow")


class Explanation(Answer):
    summary: str
    reasons: list[str]
    failed_conditions: list[JsonObject]
    trace: JsonObject | None


class TriggerTest(Answer):
    trigger_id: str
    matches: bool
    event_type: str | None
    event_type_matches: bool
    is_active: bool
    filters_match: bool
    explanation: Explanation


class ConditionTest(Answer):
    """A tree's test has failed_conditions and trace; custom code's has value (when it ran)
    and error."""

    condition_id: str
    use_custom_code: bool
    result: bool
    failed_conditions: list[JsonObject] | None = None
    trace: JsonObject | None = None
    value: Any = None
    error: JsonObject | None = None


class ActionTest(Answer):
    action_id: str
    action_type: str
    dry_run: bool
    execution_id: str | None = Field(default=None, description="live runs: the execution that ran the action")
    success: bool
    status: str
    rendered_configuration: JsonObject | None
    output: JsonObject | None
    error: JsonObject | None
    events: list[JsonObject] = Field(description="the events the action would emit")
    simulated_delay_seconds: float


class ActionTypeOption(Answer):
    value: str
    label: str


class ActionParameter(Answer):
    name: str
    type: str
    required: bool
    default: Any
    description: str


class ParameterTemplate(Answer):
    action_type: str
    label: str
    parameters: list[ActionParameter]
    json_schema: JsonObject
    example: JsonObject


class ParameterTemplates(Answer):
    results: list[ParameterTemplate]

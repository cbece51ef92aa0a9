"""Request bodies of seed 003's reusable definitions: /triggers, /actions, /conditions,
and the workflow associations. Strict: unknown fields are refused, not dropped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from schemas.api import Strict

MAX_NAME = 200
MAX_DESCRIPTION = 5000


class TriggerIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Incoming message", "trigger_type": "MESSAGE_RECEIVED",
                                 "filters": {"operator": "and", "conditions": [
                                     {"field": "event.data.content", "operator": "contains", "value": "price"}]}}]})

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    trigger_type: str = Field(min_length=1, max_length=100)
    # For trigger_type "event": the event code it fires on.
    event_type: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    filters: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=100)
    configuration: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True


class TriggerPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    trigger_type: str | None = Field(default=None, min_length=1, max_length=100)
    event_type: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
    filters: dict[str, Any] | None = None
    schedule: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=100)
    configuration: dict[str, Any] | None = None
    is_active: bool | None = None


class ActionIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Tag as lead", "action_type": "add_tag", "configuration": {"tag_name": "lead"}, "order": 1}]})

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    action_type: str = Field(min_length=1, max_length=100)
    configuration: dict[str, Any] = Field(default_factory=dict)
    order: int = Field(default=0, ge=0, le=1_000_000)
    delay: float = Field(default=0, ge=0, le=366 * 86400)
    is_active: bool = True
    is_required: bool = True
    workflow: str | None = Field(default=None, max_length=100, validation_alias=AliasChoices("workflow", "workflow_id"))


class ActionPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    action_type: str | None = Field(default=None, min_length=1, max_length=100)
    configuration: dict[str, Any] | None = None
    order: int | None = Field(default=None, ge=0, le=1_000_000)
    delay: float | None = Field(default=None, ge=0, le=366 * 86400)
    is_active: bool | None = None
    is_required: bool | None = None
    workflow: str | None = Field(default=None, max_length=100, validation_alias=AliasChoices("workflow", "workflow_id"))


class ConditionIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Premium", "operator": "and", "conditions": [
                                   {"field": "user.plan", "operator": "equals", "value": "premium"}]}]})

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    operator: str = Field(default="and", max_length=10)
    conditions: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    use_custom_code: bool = False
    custom_code: str | None = Field(default=None, max_length=100_000)
    language: Literal["python", "javascript"] = "python"
    is_active: bool = True


class ConditionPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    operator: str | None = Field(default=None, max_length=10)
    conditions: list[dict[str, Any]] | None = Field(default=None, max_length=200)
    use_custom_code: bool | None = None
    custom_code: str | None = Field(default=None, max_length=100_000)
    language: Literal["python", "javascript"] | None = None
    is_active: bool | None = None


class TestContext(Strict):
    """A context to test against: seed 003's `context`, or `event_data` (+ `user`) for short."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"event_type": "MESSAGE_RECEIVED", "event_data": {"content": "what is the price?"}, "user": {"plan": "premium"}}]})

    event_type: str | None = Field(default=None, max_length=100)
    context: dict[str, Any] | None = None
    event_data: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    live: bool = False


class AddTrigger(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"trigger_id": "4f1c2e0a-0000-4000-8000-000000000000", "priority": 10}]})

    trigger_id: str = Field(min_length=1, max_length=100)
    priority: int = Field(default=100, ge=0, le=1_000_000)
    specific_conditions: dict[str, Any] | None = None


class RemoveTrigger(Strict):
    trigger_id: str = Field(min_length=1, max_length=100)


class AddAction(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"action_id": "4f1c2e0a-0000-4000-8000-000000000000", "order": 1}]})

    action_id: str = Field(min_length=1, max_length=100)
    order: int | None = Field(default=None, ge=0, le=1_000_000)


class RemoveAction(Strict):
    action_id: str = Field(min_length=1, max_length=100)

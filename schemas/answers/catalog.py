"""Answers of the catalogs (api/routers/catalog.py): node templates, categories, trigger
kinds, action templates, event types, a node's config schema, one node checked or dry-run."""

from __future__ import annotations

from pydantic import Field

from schemas.answers.common import Answer, JsonObject
from schemas.workflow import Port


class NodeTemplate(Answer):
    id: str
    name: str
    category: str
    node_type: str
    action_type: str | None
    description: str
    default_config: JsonObject
    inputs: list[Port]
    outputs: list[Port]
    config_schema: str = Field(description="the URL of this node type's config schema")


class NodeCategory(Answer):
    id: str
    name: str
    description: str
    templates_count: int


class TriggerKind(Answer):
    id: str
    name: str
    trigger_type: str
    description: str
    config: JsonObject


class ActionTemplate(Answer):
    id: int
    name: str
    category: str
    description: str
    node_type: str
    config_template: JsonObject
    required_inputs: list[Port]
    outputs: list[Port]


class EventType(Answer):
    id: str
    name: str
    code: str
    category: str
    description: str
    available_fields: JsonObject
    context_fields: JsonObject


class ConfigSchema(Answer):
    node_type: str
    kind: str = Field(description="node_type or action_type")
    schema_: JsonObject = Field(alias="schema", description="the JSON Schema of the node's config")


class FieldProblem(Answer):
    field: str
    message: str


class NodeValidation(Answer):
    node_type: str
    is_valid: bool
    errors: list[FieldProblem]


class NodeTestResult(Answer):
    """A dry run of one node on the real state machine: `output` is what the node gave."""

    success: bool
    status: str
    dry_run: bool
    node_type: str
    input_data: JsonObject | None
    output: JsonObject | None
    error: JsonObject | None
    simulated_duration_seconds: float
    execution_time_seconds: float

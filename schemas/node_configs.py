"""Config models of every node type and action type: one model both validates a
node's `config` and publishes its JSON Schema (`GET /nodes/config-schema/{type}`).

Configs are open (`extra="allow"`): templates, seed-specific keys (`true_path`,
`variables`) and UI hints travel with a node, and the engine ignores what it
does not use. What the engine needs is typed and, when required, required.
Values that are commonly templates (`{{input_data.x}}`) are typed as strings
or left open. Requirements that span fields ("one of a, b or c") are listed in
`ONE_OF` so validators and the schema say the same thing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.workflow import NodeType

Number = int | float


class Config(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ActionCommon(Config):
    action_type: str = Field(min_length=1, max_length=50, description="what the action does")
    delay: Number | None = Field(default=None, ge=0, description="seconds to wait (durably) before the action runs")
    timeout_seconds: Number | None = Field(default=None, gt=0, le=3600)
    integration: str | None = Field(default=None, max_length=200, description="integration id or name")
    integration_id: str | None = Field(default=None, max_length=200)
    order: Number | None = Field(default=None, description="position in a linear (edge-less) workflow")


# -- node types ------------------------------------------------------------------------------
class TriggerConfig(Config):
    trigger_type: str | None = Field(default=None, max_length=50)
    event: str | None = Field(default=None, max_length=100)
    event_type: str | None = Field(default=None, max_length=100)


class ConditionConfig(Config):
    condition: str | dict[str, Any] | None = Field(default=None, description="CEL expression or filter tree")
    filters: dict[str, Any] | None = None
    conditions: list[Any] | None = None
    operator: Literal["and", "or", "AND", "OR"] | None = None
    use_custom_code: bool = False
    custom_code: str | None = None
    code: str | None = None
    true_path: str | None = None
    false_path: str | None = None
    condition_id: str | None = Field(default=None, max_length=100, description="a reusable condition (/conditions), pinned when the workflow is saved")


class TransformConfig(Config):
    mapping: dict[str, Any] | None = Field(default=None, description="output field -> template")
    fields: dict[str, Any] | None = None


DurationUnit = Literal[
    "ms", "millisecond", "milliseconds", "s", "sec", "second", "seconds", "m", "min", "minute", "minutes",
    "h", "hour", "hours", "d", "day", "days", "w", "week", "weeks",
]


class DelayConfig(Config):
    delay_seconds: Number | str | None = None
    wait_seconds: Number | str | None = None
    seconds: Number | str | None = None
    duration: Number | str | None = None
    unit: DurationUnit | None = None
    delay: Number | dict[str, Any] | str | None = None
    minutes: Number | None = Field(default=None, ge=0)
    hours: Number | None = Field(default=None, ge=0)
    days: Number | None = Field(default=None, ge=0)
    weeks: Number | None = Field(default=None, ge=0)
    until: str | None = Field(default=None, description="ISO datetime with a timezone, or a template")


class WaitForEventConfig(Config):
    """Waits for the contact's next matching event, or times out (README "Journeys")."""

    event_type: str = Field(min_length=1, max_length=100, description="the awaited event type")
    match: str | None = Field(
        default=None, max_length=4000,
        description="CEL over `event` (the awaited one) and the execution's context,"
        " e.g. event.data.order_id == input_data.order_id; absent: any event of the type",
    )
    timeout_seconds: Number | None = Field(default=None, gt=0, description="how long to wait before `timeout`")
    duration: Number | None = Field(default=None, gt=0)
    unit: DurationUnit | None = None
    lookback_seconds: Number = Field(default=0, ge=0, le=86400, description="an event this long before the wait began counts")
    any_subject: bool = Field(default=False, description="match any contact's events, not only the execution's own")


class LoopConfig(Config):
    items: str | list[Any] | None = Field(default=None, description="CEL expression or list to iterate over")
    collection: str | list[Any] | None = None
    list_: str | list[Any] | None = Field(default=None, alias="list")
    max_items: int | None = Field(default=None, ge=1, le=1000)


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", "post", "put", "patch", "delete", "head", "options"]


class HttpRequestConfig(Config):
    url: str = Field(min_length=1, max_length=4000)
    method: HttpMethod = "POST"
    headers: dict[str, str] | None = None
    body: Any = None
    payload: Any = None
    body_type: Literal["json", "form", "raw"] = "json"
    timeout_seconds: Number | None = Field(default=None, gt=0, le=3600)


class DatabaseQueryConfig(Config):
    table: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,100}$")
    where: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    order: Literal["asc", "desc", "ASC", "DESC"] = "desc"


class ActionConfig(ActionCommon):
    """Any action: the action type picks the specific model below."""


# -- action types ----------------------------------------------------------------------------
class SendEmailConfig(ActionCommon):
    recipient: str | list[str] | None = Field(default=None, description="defaults to {{user.email}}")
    to: str | list[str] | None = None
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = None
    html: str | None = None
    template: str | None = Field(default=None, description="a named template kept in the integration")
    variables: dict[str, Any] | None = None


class WebhookConfig(ActionCommon, HttpRequestConfig):
    pass


class WhatsAppConfig(ActionCommon):
    to: str | None = Field(default=None, description="defaults to {{user.phone}}")
    phone: str | None = None
    recipient: str | None = None
    message: str | None = None
    text: str | None = None
    body: str | None = None
    template: dict[str, Any] | None = None


class SlackConfig(ActionCommon):
    text: str | None = None
    message: str | None = None
    blocks: list[Any] | None = None
    channel: str | None = None


class GoogleSheetsConfig(ActionCommon):
    spreadsheet_id: str = Field(min_length=1)
    range: str | None = None
    values: list[Any] | dict[str, Any] | None = None
    row: list[Any] | dict[str, Any] | None = None


class CustomCodeConfig(ActionCommon):
    code: str | None = None
    custom_code: str | None = None
    language: Literal["python", "javascript", "js"] = "python"
    cpu_seconds: Number | None = Field(default=None, gt=0, le=30)
    memory_mb: int | None = Field(default=None, ge=16, le=512)


class QueryRecordsConfig(ActionCommon):
    table: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,100}$")
    where: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    # Here `order` is the sort order (asc / desc), not the position in a linear workflow.
    order: Literal["asc", "desc", "ASC", "DESC"] | Number | None = "desc"  # type: ignore[assignment]


class TagConfig(ActionCommon):
    tag_name: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=200)


class UpdateUserConfig(ActionCommon):
    fields: dict[str, Any] | None = None
    updates: dict[str, Any] | None = None


class ConversationStatusConfig(ActionCommon):
    status: str = Field(min_length=1, max_length=50)


class NoteConfig(ActionCommon):
    note: str | None = None
    content: str | None = None
    text: str | None = None


class CreateRecordConfig(ActionCommon):
    table: str = Field(min_length=1, max_length=100)
    data: dict[str, Any]


class WaitConfig(ActionCommon, DelayConfig):
    delay: Number | dict[str, Any] | str | None = None  # type: ignore[assignment]  # a wait's own length


NODE_CONFIGS: dict[NodeType, type[Config]] = {
    NodeType.TRIGGER: TriggerConfig,
    NodeType.ACTION: ActionConfig,
    NodeType.CONDITION: ConditionConfig,
    NodeType.TRANSFORM: TransformConfig,
    NodeType.DELAY: DelayConfig,
    NodeType.LOOP: LoopConfig,
    NodeType.HTTP_REQUEST: HttpRequestConfig,
    NodeType.DATABASE_QUERY: DatabaseQueryConfig,
    NodeType.WAIT_FOR_EVENT: WaitForEventConfig,
}

# Action type -> (config model, category, integration type it uses or None).
ACTION_CONFIGS: dict[str, tuple[type[Config], str, str | None]] = {
    "send_email": (SendEmailConfig, "communication", "email"),
    "email": (SendEmailConfig, "communication", "email"),
    "webhook": (WebhookConfig, "integration", None),
    "http_request": (WebhookConfig, "integration", None),
    "http": (WebhookConfig, "integration", None),
    "send_message": (WhatsAppConfig, "communication", "whatsapp"),
    "whatsapp": (WhatsAppConfig, "communication", "whatsapp"),
    "send_whatsapp": (WhatsAppConfig, "communication", "whatsapp"),
    "whatsapp_message": (WhatsAppConfig, "communication", "whatsapp"),
    "slack": (SlackConfig, "communication", "slack"),
    "send_slack": (SlackConfig, "communication", "slack"),
    "slack_message": (SlackConfig, "communication", "slack"),
    "google_sheets": (GoogleSheetsConfig, "data", "google"),
    "sheets_append": (GoogleSheetsConfig, "data", "google"),
    "append_row": (GoogleSheetsConfig, "data", "google"),
    "google_sheets_append": (GoogleSheetsConfig, "data", "google"),
    "custom_code": (CustomCodeConfig, "code", None),
    "code": (CustomCodeConfig, "code", None),
    "run_code": (CustomCodeConfig, "code", None),
    "javascript": (CustomCodeConfig, "code", None),
    "python": (CustomCodeConfig, "code", None),
    "database_query": (QueryRecordsConfig, "data", None),
    "query_records": (QueryRecordsConfig, "data", None),
    "find_records": (QueryRecordsConfig, "data", None),
    "create_record": (CreateRecordConfig, "data", None),
    "add_tag": (TagConfig, "contact", None),
    "remove_tag": (TagConfig, "contact", None),
    "update_user": (UpdateUserConfig, "contact", None),
    "set_conversation_status": (ConversationStatusConfig, "contact", None),
    "add_note": (NoteConfig, "contact", None),
    "wait": (WaitConfig, "flow", None),
    "delay": (WaitConfig, "flow", None),
    "sleep": (WaitConfig, "flow", None),
}

# Requirements across fields: (model, the field named in errors, the alternatives, message).
ONE_OF: dict[type[Config], list[tuple[str, tuple[str, ...], str]]] = {
    ConditionConfig: [("condition", ("condition", "filters", "conditions", "custom_code", "code", "condition_id"),
                       "is required: a CEL expression, a filter tree, conditions, use_custom_code with custom_code, or condition_id")],
    DelayConfig: [("delay_seconds", ("delay_seconds", "wait_seconds", "seconds", "duration", "delay", "wait", "minutes", "hours", "days", "weeks", "until"),
                   "is required: delay_seconds, duration and unit, or until")],
    WaitConfig: [("delay_seconds", ("delay_seconds", "wait_seconds", "seconds", "duration", "delay", "wait", "minutes", "hours", "days", "weeks", "until"),
                  "is required: delay_seconds, duration and unit, or until")],
    WaitForEventConfig: [("timeout_seconds", ("timeout_seconds", "duration"), "is required: timeout_seconds, or duration and unit")],
    LoopConfig: [("items", ("items", "list", "collection"), "is required: the list (or CEL expression) to iterate over")],
    TagConfig: [("tag_name", ("tag_name", "tag"), "is required")],
    UpdateUserConfig: [("fields", ("fields", "updates"), "is required: the contact fields to set")],
    NoteConfig: [("note", ("note", "content", "text"), "is required")],
    CustomCodeConfig: [("code", ("code", "custom_code"), "is required")],
    SlackConfig: [("text", ("text", "message", "blocks"), "is required (or blocks)")],
    GoogleSheetsConfig: [("values", ("values", "row"), "is required: a row, a list of rows, or an object of columns")],
}


def config_model(name: str) -> type[Config] | None:
    """The model for a node type (`delay`) or an action type (`send_email`)."""
    try:
        return NODE_CONFIGS[NodeType(name)]
    except ValueError:
        found = ACTION_CONFIGS.get(name)
        return found[0] if found else None


def config_schema(name: str) -> dict[str, Any] | None:
    model = config_model(name)
    if model is None:
        return None
    schema = model.model_json_schema()
    alternatives = ONE_OF.get(model, [])
    if alternatives:
        schema["anyOf"] = [{"required": [a]} for _, names, _ in alternatives for a in names][: max(1, len(alternatives[0][1]))]
    if name in ACTION_CONFIGS:
        schema.setdefault("properties", {}).setdefault("action_type", {})["const"] = name
    return schema

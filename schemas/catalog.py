"""Catalogs the builder UI reads: node categories and templates, trigger kinds, event
types, action templates (seeds 002, 003, 004). Static data, derived where possible
from what the engine actually runs (`schemas.node_configs`)."""

from __future__ import annotations

from typing import Any

from schemas.workflow import NodeType

CATEGORIES: tuple[dict[str, str], ...] = (
    {"id": "ai", "name": "AI", "description": "Code and model-driven steps (custom Python / JavaScript in a sandbox)"},
    {"id": "action", "name": "Action", "description": "Side effects: email, WhatsApp, Slack, webhooks, HTTP calls"},
    {"id": "data", "name": "Data", "description": "Transform data, query and create records, spreadsheets"},
    {"id": "flow", "name": "Flow", "description": "Conditions, loops, waits"},
    {"id": "core", "name": "Core", "description": "Triggers: where a workflow starts"},
    {"id": "human", "name": "Human", "description": "Steps on the contact: tags, profile fields, notes, conversation status"},
)


def _port(name: str, type_: str = "any", required: bool = False, description: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "required": required, "description": description}


# id, name, category, node type, action type (None: the node type itself), description, default config, outputs
_TEMPLATES: tuple[tuple[str, str, str, NodeType, str | None, str, dict[str, Any], list[dict[str, Any]]], ...] = (
    ("trigger", "Trigger", "Core", NodeType.TRIGGER, None, "Where the workflow starts; its output is the trigger's data", {}, [_port("input_data", "object")]),
    ("condition", "Condition", "Flow", NodeType.CONDITION, None, "Branch on a CEL expression or a filter tree (edges labelled true / false)",
     {"condition": "input_data.amount > 100"}, [_port("result", "boolean")]),
    ("loop", "Loop", "Flow", NodeType.LOOP, None, "Run the body (edges labelled body) once per item", {"items": "input_data.items"}, [_port("results", "array")]),
    ("delay", "Delay", "Flow", NodeType.DELAY, None, "Wait durably (seconds to months)", {"duration": 1, "unit": "hours"}, [_port("waited_seconds", "number")]),
    ("wait_for_event", "Wait for event", "Flow", NodeType.WAIT_FOR_EVENT, None,
     "Wait for the contact's matching event (edge received) or a timeout (edge timeout)",
     {"event_type": "ORDER_PAID", "match": "event.data.order_id == input_data.order_id", "timeout_seconds": 86400},
     [_port("received", "boolean"), _port("event", "object")]),
    ("transform", "Transform", "Data", NodeType.TRANSFORM, None, "Build an object from templates", {"mapping": {"email": "{{input_data.email}}"}}, [_port("output", "object")]),
    ("database_query", "Query records", "Data", NodeType.DATABASE_QUERY, None, "Read rows of a workspace data table", {"table": "orders", "where": {}, "limit": 10}, [_port("rows", "array")]),
    ("http_request", "HTTP request", "Action", NodeType.HTTP_REQUEST, None, "Call an HTTP API", {"url": "https://api.example.com/hook", "method": "POST"}, [_port("status_code", "integer"), _port("body", "any")]),
    ("send_email", "Send email", "Action", NodeType.ACTION, "send_email", "Email over the workspace's SMTP integration",
     {"action_type": "send_email", "recipient": "{{user.email}}", "subject": "Hello {{user.first_name}}", "body": "..."}, [_port("email_sent", "boolean")]),
    ("send_message", "Send WhatsApp message", "Action", NodeType.ACTION, "send_message", "WhatsApp Cloud API message or template",
     {"action_type": "send_message", "to": "{{user.phone}}", "message": "Hello"}, [_port("message_id", "string")]),
    ("slack", "Slack message", "Action", NodeType.ACTION, "slack", "Post to Slack", {"action_type": "slack", "text": "New lead {{user.email}}"}, [_port("ok", "boolean")]),
    ("webhook", "Webhook", "Action", NodeType.ACTION, "webhook", "POST the data to a URL", {"action_type": "webhook", "url": "https://example.com/hook", "method": "POST"}, [_port("status_code", "integer")]),
    ("google_sheets", "Google Sheets row", "Data", NodeType.ACTION, "google_sheets", "Append a row to a spreadsheet",
     {"action_type": "google_sheets", "spreadsheet_id": "", "values": ["{{user.email}}"]}, [_port("updated_range", "string")]),
    ("create_record", "Create record", "Data", NodeType.ACTION, "create_record", "Add a row to a workspace data table",
     {"action_type": "create_record", "table": "tasks", "data": {"title": "Follow up {{user.email}}"}}, [_port("record_id", "string")]),
    ("query_records", "Find records", "Data", NodeType.ACTION, "query_records", "Read rows of a workspace data table",
     {"action_type": "query_records", "table": "orders", "where": {}}, [_port("rows", "array")]),
    ("custom_code", "Custom code", "AI", NodeType.ACTION, "custom_code", "Python or JavaScript in a sandbox with CPU and memory limits",
     {"action_type": "custom_code", "language": "python", "code": "result = {'ok': True}"}, [_port("result", "any")]),
    ("add_tag", "Add tag", "Human", NodeType.ACTION, "add_tag", "Tag the contact (emits TAG_ADDED)", {"action_type": "add_tag", "tag_name": "lead"}, [_port("tags", "array")]),
    ("remove_tag", "Remove tag", "Human", NodeType.ACTION, "remove_tag", "Untag the contact (emits TAG_REMOVED)", {"action_type": "remove_tag", "tag_name": "lead"}, [_port("tags", "array")]),
    ("update_user", "Update contact", "Human", NodeType.ACTION, "update_user", "Set contact profile fields", {"action_type": "update_user", "fields": {"plan": "trial"}}, [_port("user", "object")]),
    ("set_conversation_status", "Conversation status", "Human", NodeType.ACTION, "set_conversation_status", "Open or close the conversation",
     {"action_type": "set_conversation_status", "status": "closed"}, [_port("status", "string")]),
    ("add_note", "Add note", "Human", NodeType.ACTION, "add_note", "Add a note to the contact", {"action_type": "add_note", "note": "Called back"}, [_port("note", "string")]),
    ("wait", "Wait", "Flow", NodeType.ACTION, "wait", "Seed 003's wait action: a durable wait", {"action_type": "wait", "delay_seconds": 3600}, [_port("waited_seconds", "number")]),
)


def node_templates() -> list[dict[str, Any]]:
    return [
        {
            "id": tid, "name": name, "category": category, "node_type": node_type.value, "action_type": action_type,
            "description": description, "default_config": config, "inputs": [], "outputs": outputs,
            "config_schema": f"/api/v1/nodes/config-schema/{action_type or node_type.value}",
        }
        for tid, name, category, node_type, action_type, description, config, outputs in _TEMPLATES
    ]


TRIGGERS: tuple[dict[str, Any], ...] = (
    {"id": "manual", "name": "Manual", "trigger_type": "manual", "description": "Started by POST /workflows/{id}/execute", "config": {}},
    {"id": "schedule", "name": "Schedule (cron)", "trigger_type": "cron", "description": "Fires on a cron expression, in a timezone",
     "config": {"schedule": "0 9 * * 1-5", "timezone": "Europe/Paris"}},
    {"id": "webhook", "name": "Webhook", "trigger_type": "webhook", "description": "Started by a POST to the workflow's secret URL", "config": {}},
    {"id": "form", "name": "Form submission", "trigger_type": "webhook", "description": "A form posting to the workflow's webhook URL", "config": {}},
    {"id": "event", "name": "Business event", "trigger_type": "event", "description": "Started by an ingested event (see /event-types), with filters",
     "config": {"event_type": "ORDER_CREATED", "filters": {"operator": "and", "conditions": []}}},
    {"id": "api_call", "name": "API call", "trigger_type": "api_call", "description": "Started by an API client: POST /triggers/process_event for its event_type, else POST /workflows/{id}/execute", "config": {}},
)

# Every event's context (processors.matching.triggers.event_context): what conditions and templates can read.
CONTEXT_FIELDS = {
    "event.id": "string", "event.type": "string", "event.timestamp": "datetime", "event.data": "object",
    "input_data": "object (= event.data)", "user": "object (the contact's profile: email, phone, tags, custom_fields...)",
    "conversation.id": "string", "conversation.status": "string",
}

_EVENT_TYPES: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    ("MESSAGE_RECEIVED", "Message Received", "message", "A customer sent a message",
     {"message_id": "string", "conversation_id": "string", "user_id": "string", "content": "string", "source": "string", "timestamp": "datetime"}),
    ("MESSAGE_SENT", "Message Sent", "message", "A message was sent to the customer",
     {"message_id": "string", "conversation_id": "string", "user_id": "string", "content": "string"}),
    ("USER_CREATED", "User Created", "user", "A new customer registered", {"user_id": "string", "email": "string", "phone": "string", "name": "string"}),
    ("CONVERSATION_CREATED", "Conversation Created", "conversation", "A conversation started", {"conversation_id": "string", "user_id": "string", "channel": "string"}),
    ("CONVERSATION_CLOSED", "Conversation Closed", "conversation", "A conversation ended", {"conversation_id": "string", "user_id": "string", "status": "string"}),
    ("TAG_ADDED", "Tag Added", "tag", "A tag was added to the customer (also emitted by add_tag actions)", {"tag_name": "string", "user_id": "string", "tags": "array"}),
    ("TAG_REMOVED", "Tag Removed", "tag", "A tag was removed from the customer", {"tag_name": "string", "user_id": "string", "tags": "array"}),
    ("ORDER_CREATED", "Order Created", "commerce", "An order was placed", {"order_id": "string", "user_id": "string", "amount": "number", "currency": "string", "items": "array"}),
    ("SCHEDULED", "Scheduled", "system", "A cron trigger fired", {"schedule": "string", "fire_time": "datetime"}),
)


def event_types() -> list[dict[str, Any]]:
    return [
        {"id": code, "name": name, "code": code, "category": category, "description": description,
         "available_fields": fields, "context_fields": CONTEXT_FIELDS}
        for code, name, category, description, fields in _EVENT_TYPES
    ]


ACTION_TEMPLATES: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "Send Email Template", "category": "communication", "description": "Send an email from a template",
     "node_type": "action",
     "config_template": {"action_type": "send_email", "integration": "{{integration}}", "template": "{{template_name}}",
                         "recipient": "{{recipient_email}}", "subject": "{{email_subject}}", "variables": {}},
     "required_inputs": [_port("recipient_email", "string", True, "Recipient's email"), _port("template_name", "string", True, "Template to use")],
     "outputs": [_port("email_sent", "boolean", description="Email sent")]},
    {"id": 2, "name": "Create Database Record", "category": "data", "description": "Create a row in a table", "node_type": "action",
     "config_template": {"action_type": "create_record", "table": "{{table_name}}", "data": {}},
     "required_inputs": [_port("table_name", "string", True, "Table name")], "outputs": [_port("record_id", "string", description="Created row id")]},
    {"id": 3, "name": "WhatsApp Message", "category": "communication", "description": "Send a WhatsApp message to the contact",
     "node_type": "action", "config_template": {"action_type": "send_message", "to": "{{user.phone}}", "message": "{{message}}"},
     "required_inputs": [_port("message", "string", True, "Message text")], "outputs": [_port("message_id", "string")]},
    {"id": 4, "name": "Slack Notification", "category": "communication", "description": "Post a message to Slack", "node_type": "action",
     "config_template": {"action_type": "slack", "text": "{{text}}"}, "required_inputs": [_port("text", "string", True)], "outputs": [_port("ok", "boolean")]},
    {"id": 5, "name": "Call a Webhook", "category": "integration", "description": "POST data to a URL", "node_type": "action",
     "config_template": {"action_type": "webhook", "url": "{{url}}", "method": "POST", "payload": {}},
     "required_inputs": [_port("url", "string", True)], "outputs": [_port("status_code", "integer")]},
    {"id": 6, "name": "HTTP Request", "category": "integration", "description": "Call an HTTP API", "node_type": "http_request",
     "config_template": {"url": "{{url}}", "method": "GET"}, "required_inputs": [_port("url", "string", True)], "outputs": [_port("body", "any")]},
    {"id": 7, "name": "Append to Google Sheet", "category": "data", "description": "Append a row to a spreadsheet", "node_type": "action",
     "config_template": {"action_type": "google_sheets", "spreadsheet_id": "{{spreadsheet_id}}", "values": []},
     "required_inputs": [_port("spreadsheet_id", "string", True)], "outputs": [_port("updated_range", "string")]},
    {"id": 8, "name": "Tag Contact", "category": "contact", "description": "Add a tag to the contact", "node_type": "action",
     "config_template": {"action_type": "add_tag", "tag_name": "{{tag_name}}"}, "required_inputs": [_port("tag_name", "string", True)], "outputs": [_port("tags", "array")]},
    {"id": 9, "name": "Wait", "category": "flow", "description": "Wait before the next step", "node_type": "delay",
     "config_template": {"duration": "{{duration}}", "unit": "minutes"}, "required_inputs": [_port("duration", "number", True)], "outputs": []},
)

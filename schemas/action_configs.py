"""The `configuration` of each seed-003 action type: validated on write, published as JSON Schema.

Values may be templates (``"{{user.email}}"``), so most fields are strings; the connectors
check the rendered values again when they run. Unknown keys are kept (connectors accept
more options than listed here), known keys are type-checked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_TEXT = 10_000


class _Config(BaseModel):
    model_config = ConfigDict(extra="allow")


class SendMessageConfig(_Config):
    """A reply in the event's conversation (MESSAGE_SENT); delivered by WhatsApp when configured."""

    message: str | None = Field(default=None, max_length=MAX_TEXT, description="The text; templates such as {{user.first_name}}")
    template: dict[str, Any] | None = Field(default=None, description="A WhatsApp template message: {name, language, components}")
    to: str | None = Field(default=None, max_length=200, description="Phone number; defaults to {{user.phone}}")
    conversation_id: str | None = Field(default=None, max_length=200, description="Defaults to the event's conversation")
    integration_id: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _needs_text(self) -> SendMessageConfig:
        extra = self.model_extra or {}
        if not (self.message or self.template or extra.get("text") or extra.get("body")):
            raise ValueError("message is required (or a template)")
        return self


class SendEmailConfig(_Config):
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)
    recipient: str | None = Field(default=None, max_length=2000, description="Defaults to {{user.email}}")
    is_html: bool = False
    template: str | None = Field(default=None, max_length=200, description="A template kept in the SMTP integration")
    integration_id: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _needs_content(self) -> SendEmailConfig:
        extra = self.model_extra or {}
        if not self.template and not self.subject:
            raise ValueError("subject is required (or a template)")
        if not self.template and not (self.body or extra.get("html")):
            raise ValueError("body is required (or html, or a template)")
        return self


class TagConfig(_Config):
    tag_name: str = Field(min_length=1, max_length=100)


class UpdateUserConfig(_Config):
    fields: dict[str, Any] | None = Field(default=None, description="Profile fields (email, first_name, ...) or custom fields to set")

    @model_validator(mode="after")
    def _needs_fields(self) -> UpdateUserConfig:
        if not (self.fields or self.model_extra):
            raise ValueError("fields is required: the profile or custom fields to set")
        return self


class AddNoteConfig(_Config):
    note: str = Field(min_length=1, max_length=MAX_TEXT)


class WebhookConfig(_Config):
    url: str = Field(min_length=1, max_length=4000, pattern=r"^(https?://|\{\{)")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    payload: Any = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=300)


class WaitConfig(_Config):
    duration: float | str | None = Field(default=None, description="With unit")
    unit: Literal["seconds", "minutes", "hours", "days", "weeks"] = "seconds"
    delay_seconds: float | None = Field(default=None, ge=0)
    until: str | None = Field(default=None, description="An ISO datetime with a timezone, or a template")

    @model_validator(mode="after")
    def _needs_duration(self) -> WaitConfig:
        if self.duration is None and self.delay_seconds is None and self.until is None:
            raise ValueError("duration (with unit), delay_seconds or until is required")
        if isinstance(self.duration, float) and self.duration < 0:
            raise ValueError("duration must be zero or positive")
        return self


class ConversationStatusConfig(_Config):
    status: Literal["open", "pending", "snoozed", "resolved", "closed"]


class CustomCodeConfig(_Config):
    code: str = Field(min_length=1, max_length=100_000)
    language: Literal["python", "javascript"] = "python"


class SlackConfig(_Config):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    channel: str | None = Field(default=None, max_length=200)
    integration_id: str | None = Field(default=None, max_length=100)


class WhatsAppConfig(_Config):
    to: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=MAX_TEXT)
    template: dict[str, Any] | None = None


class GoogleSheetsConfig(_Config):
    spreadsheet_id: str = Field(min_length=1, max_length=200)
    values: list[Any] | dict[str, Any]


class CreateRecordConfig(_Config):
    table: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")
    data: dict[str, Any]


# value -> (label, configuration model, an example configuration)
ACTION_TYPES: dict[str, tuple[str, type[_Config], dict[str, Any]]] = {
    "send_message": ("Send Message", SendMessageConfig, {"message": "Hi {{user.first_name}}! How can we help?"}),
    "send_email": ("Send Email", SendEmailConfig, {"subject": "Welcome {{user.first_name}}!", "body": "Thank you for joining us!", "recipient": "{{user.email}}", "is_html": False}),
    "add_tag": ("Add Tag", TagConfig, {"tag_name": "interested"}),
    "remove_tag": ("Remove Tag", TagConfig, {"tag_name": "interested"}),
    "update_user": ("Update User", UpdateUserConfig, {"fields": {"first_name": "{{event.data.name}}", "plan": "trial"}}),
    "add_note": ("Add Note", AddNoteConfig, {"note": "Asked for a discount on {{event.timestamp}}"}),
    "webhook": ("Webhook", WebhookConfig, {"url": "https://your-system.com/webhook", "method": "POST", "payload": {"user_id": "{{user.id}}"}}),
    "wait": ("Wait", WaitConfig, {"duration": 10, "unit": "minutes"}),
    "set_conversation_status": ("Set Conversation Status", ConversationStatusConfig, {"status": "resolved"}),
    "custom_code": ("Custom Code", CustomCodeConfig, {"language": "python", "code": "result = context['user'].get('score', 0) > 100"}),
    "http_request": ("HTTP Request", WebhookConfig, {"url": "https://api.example.com/items", "method": "GET"}),
    "slack": ("Slack Message", SlackConfig, {"text": "New lead: {{user.email}}"}),
    "whatsapp": ("WhatsApp Message", WhatsAppConfig, {"to": "{{user.phone}}", "message": "Hello!"}),
    "google_sheets": ("Google Sheets Row", GoogleSheetsConfig, {"spreadsheet_id": "1AbC", "values": {"email": "{{user.email}}"}}),
    "create_record": ("Create Record", CreateRecordConfig, {"table": "leads", "data": {"email": "{{user.email}}"}}),
}


def parameter_template(action_type: str) -> dict[str, Any]:
    """What the UI needs to build an action's configuration form."""
    label, model, example = ACTION_TYPES[action_type]
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    parameters = [
        {
            "name": name,
            "type": field.annotation.__name__ if isinstance(field.annotation, type) else str(field.annotation),
            "required": name in required,
            "default": None if field.is_required() else field.get_default(call_default_factory=True),
            "description": field.description or "",
        }
        for name, field in model.model_fields.items()
    ]
    return {"action_type": action_type, "label": label, "parameters": parameters, "json_schema": schema, "example": example}

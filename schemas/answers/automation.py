"""Answers of seed 001's connector endpoints and seed 000's website automations
(api/routers/automation.py, websites.py). Both seeds spell some fields in camelCase:
the answers keep their spelling."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.answers.common import Answer, JsonObject, Timestamp


class ConnectorQueued(Answer):
    success: bool
    execution_id: str
    executionId: str = Field(description="seed 001's spelling of execution_id")
    status: str
    connector: str = Field(description="the action type the connector node runs")


class ConnectorStatus(Answer):
    execution_id: str
    executionId: str
    status: str
    started_at: Timestamp
    completed_at: Timestamp | None
    result: Any = Field(description="the connector node's output")
    error: JsonObject | None
    attempts: int
    # Seed 001's execution_logs fields, for the run as a whole and its connector step.
    connector_type: str | None = Field(description="email, whatsapp, google_sheets, custom_code, or the action type")
    action_type: str | None = Field(description="the action type the connector node ran (send_email, ...)")
    retry_count: int = Field(description="retries of the connector step so far (its attempt - 1)")
    max_retries: int = Field(description="retries the step may make (its config, else its workflow's settings)")
    start_time: Timestamp
    end_time: Timestamp | None
    duration_ms: float | None
    error_details: JsonObject | None = Field(description="the connector step's error ({code, message, ...})")
    output_data: Any = Field(description="the connector step's output")


class ConnectorLog(Answer):
    """One run of a node (its last attempt), with seed 001's execution_logs fields."""

    execution_id: str
    workflow_id: str
    lead_id: str | None
    node_id: str
    connector_type: str = Field(description="email, whatsapp, google_sheets, custom_code, or the action type")
    action_type: str = Field(description="the action type the node ran (send_email, ...)")
    status: str
    attempt: int
    retry_count: int = Field(description="retries made (attempt - 1)")
    max_retries: int = Field(description="retries the node may make (its config, else its workflow's settings)")
    started_at: Timestamp | None
    completed_at: Timestamp | None
    start_time: Timestamp | None
    end_time: Timestamp | None
    duration_ms: float | None
    error: JsonObject | None
    error_details: JsonObject | None
    output_data: Any


class AutomationStats(Answer):
    totalExecutions: int
    successfulExecutions: int
    failedExecutions: int
    successRate: float
    last30Days: int


class AutomationTrigger(Answer):
    """`schedule` and `timezone` only when the automation has them."""

    eventType: str | None
    conditions: JsonObject
    schedule: str | None = None
    timezone: str | None = None


class AutomationStep(Answer):
    id: str
    actionType: str
    actionConfig: JsonObject
    order: int | None
    delay: int | float


class Automation(Answer):
    id: str
    websiteId: str
    name: str
    description: str
    triggerType: str
    triggerConfig: AutomationTrigger
    actions: list[AutomationStep]
    isActive: bool
    status: str
    version: int
    stats: AutomationStats
    createdAt: Timestamp
    updatedAt: Timestamp

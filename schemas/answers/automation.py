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


class ConnectorLog(Answer):
    execution_id: str
    workflow_id: str
    lead_id: str | None
    node_id: str
    connector_type: str
    status: str
    attempt: int
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: float | None
    error: JsonObject | None


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

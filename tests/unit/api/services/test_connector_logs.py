"""Seed 001's log fields from a step: the connector's seed name and the engine's retry rule."""

from __future__ import annotations

from datetime import UTC, datetime

from api.services.connector_logs import connector_type, log_fields, max_retries


def test_seed_001_names_its_four_connectors_and_others_keep_their_action_type() -> None:
    assert [connector_type(t) for t in ("send_email", "email", "whatsapp", "send_whatsapp")] == ["email", "email", "whatsapp", "whatsapp"]
    assert [connector_type(t) for t in ("google_sheets", "append_row", "custom_code", "python")] == [
        "google_sheets", "google_sheets", "custom_code", "custom_code"]
    assert [connector_type(t) for t in ("webhook", "send_message", "add_tag")] == ["webhook", "send_message", "add_tag"]


def test_max_retries_is_the_node_config_else_the_workflow_settings() -> None:
    assert max_retries({}, None) == 0
    assert max_retries({}, {"retry_on_failure": True, "max_retries": 3}) == 3
    assert max_retries({}, {"retry_on_failure": False, "max_retries": 3}) == 0
    assert max_retries({"max_retries": 1}, {"retry_on_failure": True, "max_retries": 3}) == 1
    assert max_retries({"retry": {"max_retries": 2}, "max_retries": 0}, None) == 2


def test_a_step_becomes_seed_001_fields() -> None:
    start, end = datetime(2026, 12, 3, 10, tzinfo=UTC), datetime(2026, 12, 3, 10, 0, 1, tzinfo=UTC)
    step = {"node_type": "action", "attempt": 2, "input_data": '{"action_type": "send_email", "max_retries": 2}',
            "output_data": None, "error": '{"code": "AUTO_004", "message": "no integration"}', "started_at": start, "completed_at": end}
    assert log_fields(step, None) == {
        "connector_type": "email", "action_type": "send_email", "retry_count": 1, "max_retries": 2,
        "start_time": start, "end_time": end, "error_details": {"code": "AUTO_004", "message": "no integration"}, "output_data": None,
    }

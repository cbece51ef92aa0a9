"""Contact actions: the event each one emits and the profile the execution sees next."""

from __future__ import annotations

from typing import Any

import pytest

from processors.engine.contacts import ContactError, contact_change


def test_add_tag_appends_once_and_says_whether_it_changed() -> None:
    first = contact_change("add_tag", {"tag_name": "vip"}, {"tags": ["lead"]})
    assert (first.event_type, first.data) == ("TAG_ADDED", {"tag_name": "vip"})
    assert first.user["tags"] == ["lead", "vip"] and first.output["changed"] is True
    again = contact_change("add_tag", {"tag": " vip "}, first.user)
    assert again.user["tags"] == ["lead", "vip"] and again.output["changed"] is False


def test_remove_tag() -> None:
    change = contact_change("remove_tag", {"tag_name": "lead"}, {"tags": ["lead", "vip"]})
    assert change.event_type == "TAG_REMOVED" and change.user["tags"] == ["vip"]
    missing = contact_change("remove_tag", {"tag_name": "ghost"}, {"tags": ["vip"]})
    assert missing.output["changed"] is False and missing.user["tags"] == ["vip"]


def test_the_input_profile_is_not_mutated() -> None:
    user: dict[str, Any] = {"tags": ["a"], "email": "x@y.z"}
    contact_change("add_tag", {"tag_name": "b"}, user)
    contact_change("update_user", {"fields": {"email": "new@y.z"}}, user)
    assert user == {"tags": ["a"], "email": "x@y.z"}


def test_update_user_splits_profile_and_custom_fields() -> None:
    change = contact_change("update_user", {"fields": {"first_name": "Ada", "plan": "pro"}}, {"custom_fields": {"seats": 3}})
    assert change.event_type == "USER_UPDATED"
    assert change.data == {"first_name": "Ada", "custom_fields": {"seats": 3, "plan": "pro"}}
    assert change.user["first_name"] == "Ada" and change.user["custom_fields"] == {"seats": 3, "plan": "pro"}
    flat = contact_change("update_user", {"action_type": "update_user", "language": "fr"}, {})
    assert flat.data == {"language": "fr"}


@pytest.mark.parametrize("status", ["open", "Resolved", "closed", "pending", "snoozed"])
def test_set_conversation_status(status: str) -> None:
    change = contact_change("set_conversation_status", {"status": status}, {})
    assert change.event_type == "CONVERSATION_STATUS_CHANGED"
    assert change.user["conversation_status"] == status.lower()


@pytest.mark.parametrize(
    "action,config",
    [
        ("add_tag", {}),
        ("add_tag", {"tag_name": ""}),
        ("add_tag", {"tag_name": 5}),
        ("add_tag", {"tag_name": "x" * 101}),
        ("remove_tag", {"tag": "   "}),
        ("update_user", {"fields": {}}),
        ("update_user", {"fields": "email"}),
        ("set_conversation_status", {"status": "maybe"}),
        ("set_conversation_status", {}),
        ("send_email", {"to": "x"}),
    ],
)
def test_bad_configurations_are_refused(action: str, config: dict[str, Any]) -> None:
    with pytest.raises(ContactError):
        contact_change(action, config, {})


def test_add_note_keeps_the_latest_notes() -> None:
    user: dict[str, Any] = {"notes": [f"n{i}" for i in range(20)]}
    change = contact_change("add_note", {"note": " called back "}, user)
    assert (change.event_type, change.data) == ("NOTE_ADDED", {"note": "called back"})
    assert change.user["notes"][-1] == "called back" and len(change.user["notes"]) == 20
    with pytest.raises(ContactError):
        contact_change("add_note", {"note": "  "}, {})

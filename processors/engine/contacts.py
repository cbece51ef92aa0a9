"""Contact actions: tag, untag, update the user, set the conversation status. Pure.

A contact's profile is state built from events. An action that changes it
does not write the profile itself: it emits the event (`TAG_ADDED`, ...),
which the trigger matcher folds into the profile and which may in turn
trigger workflows, like any event. Here we only compute that event and the
profile as the rest of the execution should see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.errors import InvalidInput

CONTACT_ACTIONS = frozenset({"add_tag", "remove_tag", "update_user", "set_conversation_status", "add_note"})
# The profile keeps the latest notes only; the events keep them all.
MAX_NOTES = 20
CONVERSATION_STATUSES = frozenset({"open", "pending", "snoozed", "resolved", "closed"})
# Profile fields an update_user action may set; anything else goes to custom_fields.
PROFILE_FIELDS = frozenset({"email", "first_name", "last_name", "name", "username", "phone", "language"})
MAX_TAG_LENGTH = 100


class ContactError(InvalidInput, ValueError):
    """A contact action (tag, profile update) whose configuration cannot be applied."""


@dataclass(frozen=True)
class ContactChange:
    event_type: str
    data: dict[str, Any]
    user: dict[str, Any]
    output: dict[str, Any]


def contact_change(action_type: str, config: Mapping[str, Any], user: Mapping[str, Any]) -> ContactChange:
    profile = dict(user)
    tags = [t for t in profile.get("tags", []) if isinstance(t, str)]
    if action_type in ("add_tag", "remove_tag"):
        tag = config.get("tag_name", config.get("tag"))
        if not isinstance(tag, str) or not tag.strip():
            raise ContactError("config.tag_name must be a non-empty string")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise ContactError(f"config.tag_name is longer than {MAX_TAG_LENGTH} characters")
        adding = action_type == "add_tag"
        changed = (tag not in tags) if adding else (tag in tags)
        if adding and changed:
            tags.append(tag)
        elif not adding and changed:
            tags.remove(tag)
        profile["tags"] = tags
        return ContactChange(
            "TAG_ADDED" if adding else "TAG_REMOVED",
            {"tag_name": tag},
            profile,
            {"tag_name": tag, "tags": tags, "changed": changed},
        )
    if action_type == "update_user":
        fields = config.get("fields", config.get("updates"))
        if fields is None:
            fields = {k: v for k, v in config.items() if k not in ("action_type", "timeout_seconds", "delay")}
        if not isinstance(fields, Mapping) or not fields:
            raise ContactError("config.fields must be an object of the fields to set")
        data: dict[str, Any] = {}
        custom = dict(profile.get("custom_fields") or {})
        for name, value in fields.items():
            if name in PROFILE_FIELDS:
                data[name] = value
                profile[name] = value
            else:
                custom[str(name)] = value
        if custom != (profile.get("custom_fields") or {}):
            data["custom_fields"] = custom
            profile["custom_fields"] = custom
        return ContactChange("USER_UPDATED", data, profile, {"updated": sorted(fields)})
    if action_type == "set_conversation_status":
        status = config.get("status")
        if not isinstance(status, str) or status.lower() not in CONVERSATION_STATUSES:
            raise ContactError(f"config.status must be one of {sorted(CONVERSATION_STATUSES)}")
        profile["conversation_status"] = status.lower()
        return ContactChange("CONVERSATION_STATUS_CHANGED", {"status": status.lower()}, profile, {"status": status.lower()})
    if action_type == "add_note":
        note = config.get("note", config.get("content", config.get("text")))
        if not isinstance(note, str) or not note.strip():
            raise ContactError("config.note must be a non-empty string")
        notes = [n for n in profile.get("notes", []) if isinstance(n, str)] + [note.strip()]
        profile["notes"] = notes[-MAX_NOTES:]
        return ContactChange("NOTE_ADDED", {"note": note.strip()}, profile, {"note": note.strip(), "notes_count": len(notes)})
    raise ContactError(f"{action_type} is not a contact action")

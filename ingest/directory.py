"""Who may call, and what an ingest call needs to know, folded from the definitions topic. Pure.

The API process keeps this in memory (api/directory_feed.py reads the compacted topic
from the beginning, then tails it), so authenticating a call and finding a webhook's
token asks no database. `apply` is the one way the directory changes: deterministic,
no I/O, and it follows the read models' own rules (projections/people.py,
projections/webhooks.py), so memory and PostgreSQL agree on every record:

* a user's snapshot replaces the previous one (memberships with it);
* an API key's first snapshot fixes its workspace, prefix, digest, role and creator;
  later ones change only its name, expiry and revocation, and a revoked key stays revoked;
* a webhook's snapshot wins when its version is not older; a deleted one holds no token;
* a workflow's snapshot wins when its version is not older; a deleted one is gone.

Records are applied at most once per key and never out of order: the API folds its own
writes in as soon as Kafka acknowledges them (read-your-writes), and the tail then meets
the same record again at the same offset and skips it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from ingest.webhooks import token_digest
from schemas.envelope import RecordData
from schemas.errors import Unauthenticated
from schemas.records import ApiKeyDefined, UserDefined, WebhookDefined, WorkflowDefined
from schemas.workflow import WorkflowStatus


@dataclass(frozen=True)
class Person:
    email: str
    is_active: bool
    roles: dict[str, str]  # workspace id -> role


@dataclass(frozen=True)
class Key:
    id: str
    workspace_id: str
    prefix: str
    digest: str
    role: str
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Flow:
    """What an ingest call needs to know of a workflow: whose it is and whether it takes calls."""

    id: str
    workspace_id: str
    version: int
    status: WorkflowStatus


@dataclass(frozen=True)
class KeyHolder:
    """An API key that may act, with its creator's current standing in the key's workspace."""

    key: Key
    creator_role: str
    creator_email: str


@dataclass
class Directory:
    people: dict[str, Person] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)  # by lookup prefix
    _key_prefix: dict[str, str] = field(default_factory=dict)  # key id -> prefix
    hooks: dict[str, WebhookDefined] = field(default_factory=dict)  # by id, tombstones included
    _by_token: dict[str, str] = field(default_factory=dict)  # token digest -> webhook id
    flows: dict[str, Flow] = field(default_factory=dict)
    # Topic key -> (partition, offset) of the last record applied under it.
    _applied: dict[str, tuple[int, int]] = field(default_factory=dict)


def apply(directory: Directory, data: RecordData, *, key: str, partition: int, offset: int) -> bool:
    """Fold one definitions record in; False when it was already applied (or is older)."""
    seen = directory._applied.get(key)
    if seen is not None and seen[0] == partition and seen[1] >= offset:
        return False
    directory._applied[key] = (partition, offset)
    if isinstance(data, UserDefined):
        _user(directory, data)
    elif isinstance(data, ApiKeyDefined):
        _api_key(directory, data)
    elif isinstance(data, WebhookDefined):
        _webhook(directory, data)
    elif isinstance(data, WorkflowDefined):
        _workflow(directory, data)
    return True


def _user(directory: Directory, d: UserDefined) -> None:
    directory.people[d.id] = Person(
        email=d.email.lower(), is_active=d.is_active, roles={m.workspace_id: m.role for m in d.memberships}
    )


def _api_key(directory: Directory, d: ApiKeyDefined) -> None:
    prefix = directory._key_prefix.get(d.id)
    current = directory.keys.get(prefix) if prefix is not None else None
    if current is None:
        if d.prefix in directory.keys:
            return  # another key holds this prefix (the table's unique index refuses it too)
        directory._key_prefix[d.id] = d.prefix
        directory.keys[d.prefix] = Key(
            id=d.id, workspace_id=d.workspace_id, prefix=d.prefix, digest=d.digest, role=d.role,
            created_by=d.created_by, expires_at=d.expires_at, revoked_at=d.revoked_at,
        )
        return
    if current.workspace_id != d.workspace_id or current.revoked_at is not None:
        return  # a key never moves to another workspace, and a revoked key stays revoked
    directory.keys[current.prefix] = Key(
        id=current.id, workspace_id=current.workspace_id, prefix=current.prefix, digest=current.digest,
        role=current.role, created_by=current.created_by, expires_at=d.expires_at, revoked_at=d.revoked_at,
    )


def _webhook(directory: Directory, d: WebhookDefined) -> None:
    current = directory.hooks.get(d.id)
    if current is not None and (current.version > d.version or current.workspace_id != d.workspace_id):
        return
    if current is not None:
        directory._by_token.pop(current.token_digest, None)
    directory.hooks[d.id] = d
    if not d.deleted:
        directory._by_token[d.token_digest] = d.id


def _workflow(directory: Directory, d: WorkflowDefined) -> None:
    workflow = d.workflow
    current = directory.flows.get(workflow.id)
    if current is not None and current.version > workflow.version:
        return
    if workflow.deleted:
        directory.flows.pop(workflow.id, None)
        return
    directory.flows[workflow.id] = Flow(workflow.id, workflow.workspace_id, workflow.version, workflow.status)


# -- lookups ----------------------------------------------------------------------
def member_role(directory: Directory, user_id: str, workspace_id: str) -> tuple[str, str]:
    """(role, email) of an active member of the workspace; Unauthenticated otherwise."""
    person = directory.people.get(user_id)
    role = person.roles.get(workspace_id) if person is not None and person.is_active else None
    if person is None or role is None:
        raise Unauthenticated("this account is no longer a member of that workspace")
    return role, person.email


def key_holder(directory: Directory, prefix: str | None, presented_digest: str, moment: datetime) -> KeyHolder:
    """The key of `prefix` if it may act at `moment`; Unauthenticated with the reason otherwise.

    `presented_digest` is the HMAC of the presented key under the server key (api/keys.py:
    the server key stays in the shell); it is compared with the stored one in constant time.
    """
    key = directory.keys.get(prefix) if prefix is not None else None
    if key is None or not hmac.compare_digest(presented_digest, key.digest):
        raise Unauthenticated("invalid API key")
    if key.revoked_at is not None:
        raise Unauthenticated("this API key was revoked")
    if key.expires_at is not None and key.expires_at <= moment:
        raise Unauthenticated("this API key has expired")
    creator = directory.people.get(key.created_by)
    role = creator.roles.get(key.workspace_id) if creator is not None and creator.is_active else None
    if creator is None or role is None:
        raise Unauthenticated("the person who created this API key is no longer a member of its workspace")
    return KeyHolder(key, role, creator.email)


def hook_by_token(directory: Directory, token: str) -> WebhookDefined | None:
    """The live webhook whose token this is (found by the token's digest), or None."""
    hook_id = directory._by_token.get(token_digest(token))
    return directory.hooks.get(hook_id) if hook_id is not None else None

"""The in-memory directory's fold and lookups (ingest/directory.py): every rule the read models keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.directory import Directory, apply, hook_by_token, key_holder, member_role
from ingest.webhooks import token_digest
from schemas.errors import Unauthenticated
from schemas.records import (
    ApiKeyDefined,
    Membership,
    TriggerDefined,
    UserDefined,
    WebhookDefined,
    WorkflowDefined,
)
from schemas.workflow import WorkflowSnapshot, WorkflowStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIGEST = "d" * 64
OTHER_DIGEST = "e" * 64


def user(uid: str = "u1", *memberships: tuple[str, str], active: bool = True, email: str = "Ann@Example.com") -> UserDefined:
    return UserDefined(
        id=uid, email=email, username=uid, password_hash="x",
        memberships=tuple(Membership(workspace_id=w, role=r) for w, r in memberships),  # type: ignore[arg-type]
        is_active=active, created_at=T0,
    )


def api_key(**kw: Any) -> ApiKeyDefined:
    base: dict[str, Any] = {
        "id": "k1", "workspace_id": "ws", "name": "ci", "prefix": "abcdefgh", "digest": DIGEST, "role": "editor",
        "created_by": "u1", "created_at": T0,
    }
    return ApiKeyDefined(**(base | kw))


def webhook(token: str = "t" * 43, **kw: Any) -> WebhookDefined:
    # The record keeps only the token's digest and prefix (v2); the tests speak of tokens.
    base: dict[str, Any] = {
        "id": "h1", "workspace_id": "ws", "version": 1, "name": "hook", "workflow_id": "wf",
        "token_digest": token_digest(token), "token_prefix": token[:8], "created_at": T0, "updated_at": T0,
    }
    return WebhookDefined(**(base | kw))


def workflow(**kw: Any) -> WorkflowDefined:
    base: dict[str, Any] = {"id": "wf", "workspace_id": "ws", "version": 1, "name": "w", "created_at": T0, "updated_at": T0}
    return WorkflowDefined(workflow=WorkflowSnapshot(**(base | kw)))


class Fold:
    """Feeds records as the topic would: each under its key, at increasing offsets."""

    def __init__(self) -> None:
        self.d = Directory()
        self.offset = 0

    def __call__(self, record: Any, key: str | None = None, partition: int = 0) -> bool:
        self.offset += 1
        return apply(self.d, record, key=key or f"{type(record).__name__}:{getattr(record, 'id', 'x')}",
                     partition=partition, offset=self.offset)


# -- people -------------------------------------------------------------------------
def test_a_member_has_the_role_of_their_latest_snapshot() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "editor")))
    assert member_role(fold.d, "u1", "ws") == ("editor", "ann@example.com")
    fold(user("u1", ("ws", "viewer")))
    assert member_role(fold.d, "u1", "ws") == ("viewer", "ann@example.com")


@pytest.mark.parametrize("change", ["removed", "inactive", "other-workspace", "unknown"])
def test_a_removed_inactive_or_unknown_member_is_refused(change: str) -> None:
    fold = Fold()
    fold(user("u1", ("ws", "owner"), ("ws2", "viewer")))
    if change == "removed":
        fold(user("u1", ("ws2", "viewer")))
    elif change == "inactive":
        fold(user("u1", ("ws", "owner"), active=False))
    with pytest.raises(Unauthenticated, match="no longer a member"):
        member_role(fold.d, "nobody" if change == "unknown" else "u1", "ws3" if change == "other-workspace" else "ws")


# -- API keys -----------------------------------------------------------------------
def _holder(d: Directory, prefix: str = "abcdefgh", digest: str = DIGEST, moment: datetime = T0) -> Any:
    return key_holder(d, prefix, digest, moment)


def test_a_key_acts_with_its_creators_current_standing() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key())
    holder = _holder(fold.d)
    assert (holder.key.id, holder.key.role, holder.creator_role, holder.creator_email) == ("k1", "editor", "admin", "ann@example.com")
    fold(user("u1", ("ws", "viewer")))
    assert _holder(fold.d).creator_role == "viewer"


@pytest.mark.parametrize(
    ("prefix", "digest", "message"),
    [("zzzzzzzz", DIGEST, "invalid API key"), (None, DIGEST, "invalid API key"), ("abcdefgh", OTHER_DIGEST, "invalid API key")],
)
def test_an_unknown_prefix_or_a_wrong_secret_is_an_invalid_key(prefix: str | None, digest: str, message: str) -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key())
    with pytest.raises(Unauthenticated, match=message):
        key_holder(fold.d, prefix, digest, T0)


def test_a_revoked_key_is_refused_and_stays_revoked() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key())
    fold(api_key(revoked_at=T0, revoked_by="u1"))
    with pytest.raises(Unauthenticated, match="revoked"):
        _holder(fold.d)
    fold(api_key(revoked_at=None, name="renamed"))  # a later snapshot cannot bring it back
    with pytest.raises(Unauthenticated, match="revoked"):
        _holder(fold.d)


def test_an_expired_key_is_refused_from_its_expiry_on() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key(expires_at=T0 + timedelta(hours=1)))
    assert _holder(fold.d, moment=T0 + timedelta(minutes=59)).key.id == "k1"
    with pytest.raises(Unauthenticated, match="expired"):
        _holder(fold.d, moment=T0 + timedelta(hours=1))


def test_a_key_whose_creator_left_the_workspace_is_refused() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key())
    fold(user("u1", ("other", "admin")))
    with pytest.raises(Unauthenticated, match="no longer a member"):
        _holder(fold.d)
    fold(user("u1", ("ws", "admin"), active=False))
    with pytest.raises(Unauthenticated, match="no longer a member"):
        _holder(fold.d)


def test_a_keys_identity_is_fixed_by_its_first_snapshot() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin"), ("ws2", "admin")))
    fold(api_key())
    fold(api_key(workspace_id="ws2", role="admin", digest=OTHER_DIGEST))  # moves nothing
    holder = _holder(fold.d)
    assert (holder.key.workspace_id, holder.key.role) == ("ws", "editor")
    with pytest.raises(Unauthenticated):
        _holder(fold.d, digest=OTHER_DIGEST)


def test_an_expiry_change_applies_to_a_live_key() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key(expires_at=T0))
    fold(api_key(expires_at=None))
    assert _holder(fold.d, moment=T0 + timedelta(days=1)).key.id == "k1"


def test_a_second_key_on_a_taken_prefix_is_ignored() -> None:
    fold = Fold()
    fold(user("u1", ("ws", "admin")))
    fold(api_key())
    fold(api_key(id="k2", digest=OTHER_DIGEST))
    assert _holder(fold.d).key.id == "k1"
    with pytest.raises(Unauthenticated):
        _holder(fold.d, digest=OTHER_DIGEST)


# -- webhooks -----------------------------------------------------------------------
def test_a_webhook_is_found_by_its_token_and_a_regenerated_token_retires_the_old() -> None:
    fold = Fold()
    fold(webhook())
    found = hook_by_token(fold.d, "t" * 43)
    assert found is not None and found.id == "h1"
    fold(webhook(version=2, token="n" * 43))
    assert hook_by_token(fold.d, "t" * 43) is None
    renewed = hook_by_token(fold.d, "n" * 43)
    assert renewed is not None and renewed.version == 2


def test_an_older_webhook_snapshot_never_wins() -> None:
    fold = Fold()
    fold(webhook(version=3, token="n" * 43))
    fold(webhook(version=2, token="t" * 43), key="late")
    assert hook_by_token(fold.d, "t" * 43) is None
    assert hook_by_token(fold.d, "n" * 43) is not None


def test_a_deleted_webhook_holds_no_token() -> None:
    fold = Fold()
    fold(webhook())
    fold(webhook(version=2, deleted=True, is_active=False))
    assert hook_by_token(fold.d, "t" * 43) is None


def test_a_webhook_never_moves_to_another_workspace() -> None:
    fold = Fold()
    fold(webhook())
    fold(webhook(version=2, workspace_id="ws2", token="n" * 43))
    found = hook_by_token(fold.d, "t" * 43)
    assert found is not None and found.workspace_id == "ws"


def test_the_token_is_looked_up_by_its_sha256_digest() -> None:
    import hashlib

    assert token_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    fold = Fold()
    fold(webhook())
    assert token_digest("t" * 43) in fold.d._by_token


# -- workflows ----------------------------------------------------------------------
def test_workflows_keep_what_an_ingest_call_needs_newest_version_first() -> None:
    fold = Fold()
    fold(workflow(status=WorkflowStatus.ACTIVE, version=2))
    fold(workflow(status=WorkflowStatus.DRAFT, version=1), key="late")
    flow = fold.d.flows["wf"]
    assert (flow.workspace_id, flow.version, flow.status) == ("ws", 2, WorkflowStatus.ACTIVE)
    fold(workflow(version=3, deleted=True))
    assert "wf" not in fold.d.flows


# -- applying at most once ------------------------------------------------------------
def test_a_record_applied_by_its_writer_is_skipped_when_the_tail_meets_it() -> None:
    d = Directory()
    assert apply(d, user("u1", ("ws", "admin")), key="ws:user:u1", partition=1, offset=7) is True
    # The tail then reads the older snapshot and the same one: neither changes anything.
    assert apply(d, user("u1", ("ws", "viewer")), key="ws:user:u1", partition=1, offset=6) is False
    assert apply(d, user("u1", ("ws", "admin")), key="ws:user:u1", partition=1, offset=7) is False
    assert member_role(d, "u1", "ws")[0] == "admin"
    assert apply(d, user("u1", ("ws", "viewer")), key="ws:user:u1", partition=1, offset=8) is True
    assert member_role(d, "u1", "ws")[0] == "viewer"


def test_records_the_directory_does_not_keep_change_nothing() -> None:
    d = Directory()
    trigger = TriggerDefined(id="t", workspace_id="ws", version=1, name="t", trigger_type="event", created_at=T0, updated_at=T0)
    apply(d, trigger, key="ws:trigger:t", partition=0, offset=1)
    assert (d.people, d.keys, d.hooks, d.flows) == ({}, {}, {}, {})


ROLES = st.sampled_from(["owner", "admin", "editor", "viewer"])


@given(st.lists(st.tuples(st.booleans(), st.dictionaries(st.sampled_from(["ws", "ws2", "ws3"]), ROLES)), min_size=1, max_size=8))
def test_the_latest_user_snapshot_alone_decides(snapshots: list[tuple[bool, dict[str, str]]]) -> None:
    fold = Fold()
    for active, roles in snapshots:
        fold(user("u1", *roles.items(), active=active), key="ws:user:u1")
    active, roles = snapshots[-1]
    for ws in ("ws", "ws2", "ws3"):
        if active and ws in roles:
            assert member_role(fold.d, "u1", ws)[0] == roles[ws]
        else:
            with pytest.raises(Unauthenticated):
                member_role(fold.d, "u1", ws)

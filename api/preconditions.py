"""Optimistic concurrency on definition edits: a strong `ETag` on reads, `If-Match` on writes.

Every definition (workflow, trigger, action, condition, integration, webhook) is a versioned
snapshot, so its version is its ETag (`"v3"`); a workflow's nodes and edges are versioned
with the workflow and carry its ETag. A write that sends `If-Match` is checked against the
current version under a PostgreSQL advisory lock per definition, held until the handler has
written and the projection has applied the new version (every save waits for that:
read-your-writes). So of two writers sending the same ETag exactly one succeeds and the other
gets 412 naming the current ETag, across API processes too, and the ETag a write answers (or
a GET right after it) is the current one. A write without `If-Match` behaves as before: it
takes no lock and the last writer wins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from api.deps import StateDep, WriterDep
from api.people import locked
from schemas.errors import PreconditionFailed

# The path parameter naming the edited definition -> (its projected table, what it is called).
# Node and edge routes name workflow_id too, which comes first: they edit the workflow.
RESOURCES: tuple[tuple[str, str, str], ...] = (
    ("workflow_id", "workflows", "workflow"),
    ("trigger_id", "triggers", "trigger"),
    ("action_id", "actions", "action"),
    ("condition_id", "conditions", "condition"),
    ("integration_id", "integrations", "integration"),
    ("webhook_id", "webhooks", "webhook"),
)
HEADER = "If-Match"


def etag(version: int) -> str:
    """The strong entity tag of a definition's version (quoted, as HTTP spells it)."""
    return f'"v{version}"'


def matches(if_match: str, version: int) -> bool:
    """RFC 9110 If-Match, strong comparison: `*`, or a list of entity tags naming the current
    version. A weak tag (`W/"v3"`) never matches, nor does anything that is not an entity tag."""
    current = etag(version)
    return any(item.strip() in ("*", current) for item in if_match.split(","))


def tag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def tagged(response: Response, answer: dict[str, Any]) -> dict[str, Any]:
    """A definition's answer (which shows its `version`), its ETag set on the response."""
    tag(response, int(answer["version"]))
    return answer


def _resource(request: Request) -> tuple[str, str, str]:
    for param, table, what in RESOURCES:
        if param in request.path_params:
            return table, what, str(request.path_params[param])
    # A programming error: the guard is only put on routes of a definition.
    raise LookupError(f"{request.url.path} names no definition")


async def _guard(
    request: Request,
    state: StateDep,
    principal: WriterDep,
    if_match: Annotated[
        str | None,
        Header(
            alias=HEADER,
            max_length=1000,
            description='Only change the definition if it is still at this version (its ETag, e.g. "v3"); 412 otherwise',
        ),
    ] = None,
) -> AsyncIterator[None]:
    if if_match is None:
        yield  # not conditional: today's behaviour, no lock
        return
    table, what, resource_id = _resource(request)
    async with state.edit_slots, locked(state, f"fluxo:edit:{table}:{resource_id}") as conn:
        version = await conn.fetchval(
            f"SELECT version FROM {table} WHERE id = $1 AND workspace_id = $2", resource_id, principal.workspace_id
        )
        # Not found (or another workspace's): the handler answers its 404.
        if version is not None and not matches(if_match, version):
            current = etag(version)
            raise PreconditionFailed(
                f"{what} {resource_id} has changed: it is at version {version} (ETag {current}), not {if_match}",
                current_etag=current,
                fields={HEADER: f"stale: the current ETag is {current} (version {version})"},
            )
        # Held while the handler writes and waits for the projection: the next conditional
        # writer reads the version this one wrote.
        yield


IfMatchDep = Annotated[None, Depends(_guard)]

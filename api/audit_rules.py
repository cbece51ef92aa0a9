"""What an audit record says about an API call. Pure: no I/O, unit-tested.

The audit log must name calls in a stable way (`workflows.update`) and must
never carry a secret. So it keeps the route *template*, never the path that
was called (`/api/v1/hooks/{token}` holds a credential in the path), no query
string, no header but the user agent, and of the request body only the names
of its top-level fields. From the response it reads nothing but the status
and, for a creation, the new resource's `id`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, cast

import orjson

from schemas.records import MAX_KEY, ApiCallAudited, AuditActor, AuditOutcome

API_PREFIX = "/api/v1"
AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AuditMethod = Literal["POST", "PUT", "PATCH", "DELETE"]
METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}

# What a handler may tell the audit log through request.state, when the
# middleware cannot know it: the workspace of an anonymous call (a public
# webhook), the identifier a login tried, the resource a token stood for.
STATE_WORKSPACE = "audit_workspace_id"
STATE_ACTOR_EMAIL = "audit_actor_email"
STATE_RESOURCE = "audit_resource"  # (resource_type, resource_id)

# Seed aliases of one operation share its action name.
ALIASES = {f"{API_PREFIX}/webhooks/execute/{{token}}": "hooks.call"}

MAX_FIELDS = 100
MAX_FIELD_NAME = 100
MAX_USER_AGENT = 500

_PARAM = re.compile(r"^\{([^{}:]+)(?::[^{}]*)?\}$")
_VERB_VALUE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# Ingest calls write no audit record: the record they write (the event, the webhook call)
# already says who (the key, the person, the webhook), what and when, and one broker write
# per call is the ingest budget. Management calls keep theirs.
INGEST_PATHS = frozenset({f"{API_PREFIX}/triggers/process_event", f"{API_PREFIX}/triggers/process_events"})
INGEST_PREFIXES = (f"{API_PREFIX}/hooks/", f"{API_PREFIX}/webhooks/execute/")


def is_ingest(path: str) -> bool:
    return path in INGEST_PATHS or path.startswith(INGEST_PREFIXES)


def _under_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def is_audited(method: str, path: str) -> bool:
    return method in AUDITED_METHODS and _under_api(path) and not is_ingest(path)


def _param(segment: str) -> str | None:
    match = _PARAM.match(segment)
    return match.group(1) if match else None


def _is_credential(name: str) -> bool:
    # {token}, {invitation_token}, ...: the path segment is a secret, never a resource id.
    return "token" in name or "secret" in name


def _is_id(name: str) -> bool:
    return (name == "id" or name.endswith("_id")) and not _is_credential(name)


def full_template(path: str, route_format: str | None, path_params: Mapping[str, Any]) -> str | None:
    """The route template of the call, prefixes of the routers it was included in too.

    A route knows its template relative to where it was included
    (`/workflows/{workflow_id}` under `/api/v1`): rendering it with the call's
    parameters gives the tail of the path, and what precedes it is the static
    prefix. None when the two do not line up (never the raw path instead).
    """
    if not route_format:
        return None
    parts = []
    for segment in route_format.split("/"):
        name = _param(segment)
        if name is not None and name not in path_params:
            return None
        parts.append(segment if name is None else str(path_params[name]))
    rendered = "/".join(parts)
    if not path.endswith(rendered):
        return None
    template = path[: len(path) - len(rendered)] + route_format
    if "{" in template[: len(template) - len(route_format)] or not _under_api(template):
        return None
    return template


def collections(templates: Iterable[str]) -> frozenset[str]:
    """Templates that name a collection: some other template continues them with an id.

    `/api/v1/workflows` is one (`/api/v1/workflows/{workflow_id}` exists), so a
    POST to it creates; `/api/v1/auth/login` is not, so a POST to it is the verb `login`.
    """
    found: set[str] = set()
    for template in templates:
        segments = template.split("/")
        for i in range(1, len(segments)):
            name = _param(segments[i])
            if name is not None and _is_id(name) and _param(segments[i - 1]) is None:
                found.add("/".join(segments[:i]))
    return frozenset(found)


def action_name(method: str, template: str | None, path_params: Mapping[str, Any], known: frozenset[str]) -> str:
    """A stable dotted name from the method and the route template (`workflows.update`)."""
    if template is None:
        return "unmatched"
    if template in ALIASES:
        return ALIASES[template]
    segments = [s for s in template.removeprefix(API_PREFIX).split("/") if s]
    names: list[str] = []
    for segment in segments:
        name = _param(segment)
        if name is None:
            names.append(segment.replace("-", "_"))
        elif not _is_id(name) and not _is_credential(name):
            # A verb carried in the path (/workflows/{workflow_id}/{action} -> workflows.activate).
            value = str(path_params.get(name, ""))
            names.append(value if _VERB_VALUE.match(value) else name)
    verb = METHOD_VERBS[method]
    last = _param(segments[-1]) if segments else None
    if last is not None:
        if _is_credential(last):
            names.append("call")
        elif _is_id(last):
            names.append(verb)
    elif template in known or method != "POST" or len(names) < 2:
        # A collection (or a single resource such as /users/profile) changed by its method;
        # otherwise a POST to a trailing word is that word: auth.login, workflows.test.
        names.append(verb)
    return ".".join(names) or verb


def _singular(name: str) -> str:
    name = name.replace("-", "_")
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def resource_of(
    method: str, template: str | None, path_params: Mapping[str, Any], known: frozenset[str]
) -> tuple[str | None, str | None, bool]:
    """(resource type, resource id, whether the id is the created one in the response).

    A POST to a collection creates one whose id only the response knows;
    otherwise the id is the last id parameter of the path (never a token).
    """
    if template is None:
        return None, None, False
    segments = template.split("/")
    if method == "POST" and template in known:
        return _singular(segments[-1]), None, True
    for i in range(len(segments) - 1, 0, -1):
        name = _param(segments[i])
        if name is not None and _is_id(name) and name in path_params:
            owner = segments[i - 1]
            kind = _singular(owner) if _param(owner) is None else None
            return kind, _bounded(str(path_params[name]), MAX_KEY), False
    return None, None, False


def outcome_of(status: int) -> AuditOutcome:
    if status < 400:
        return "success"
    if status in (401, 403, 429):
        return "denied"
    if status in (404, 410):
        return "not_found"
    if status < 500:
        return "invalid"
    return "error"


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def field_names(body: bytes, complete: bool) -> tuple[str, ...]:
    """The top-level field names of a JSON object body, never a value."""
    if not complete or not body:
        return ()
    parsed = _json_object(body)
    if parsed is None:
        return ()
    names = (_bounded(str(k), MAX_FIELD_NAME) for k in list(parsed)[:MAX_FIELDS])
    return tuple(n for n in names if n)


def created_id(body: bytes) -> str | None:
    """The `id` of what a creation answered with (nothing else of the response is read)."""
    parsed = _json_object(body) if body else None
    value = parsed.get("id") if parsed else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return _bounded(str(value), MAX_KEY)
    return None


def _bounded(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = _CONTROL.sub("", value)[:limit]
    return cleaned or None


def request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token, else a fresh one."""
    if header and _REQUEST_ID.match(header):
        return header
    return str(uuid.uuid4())


def user_agent(header: str | None) -> str | None:
    return _bounded(header, MAX_USER_AGENT)


def actor_of(principal: Any, attempted_email: str | None) -> AuditActor:
    """The authenticated principal (api/security.Principal), or anonymous with the identifier tried."""
    if principal is None:
        return AuditActor(type="anonymous", email=_bounded(attempted_email, 320))
    via_key = getattr(principal, "via", "jwt") == "api_key"
    return AuditActor(
        type="api_key" if via_key else "user",
        user_id=_bounded(str(principal.user_id), MAX_KEY),
        email=_bounded(str(principal.email), 320),
        api_key_id=_bounded(getattr(principal, "api_key_id", None), MAX_KEY) if via_key else None,
    )


def audit_record(
    *,
    record_id: str,
    workspace_id: str,
    occurred_at: datetime,
    actor: AuditActor,
    method: str,
    template: str | None,
    path_params: Mapping[str, Any],
    known: frozenset[str],
    status: int,
    resource: tuple[str | None, str | None],
    client_ip: str | None,
    agent: str | None,
    req_id: str,
    duration_ms: float,
    fields: tuple[str, ...],
) -> ApiCallAudited:
    return ApiCallAudited(
        id=record_id,
        workspace_id=_bounded(workspace_id, MAX_KEY) or "",
        occurred_at=occurred_at,
        actor=actor,
        action=action_name(method, template, path_params, known)[:200],
        method=cast(AuditMethod, method),  # is_audited() let only these through
        route=(template or "")[:500],
        resource_type=_bounded(resource[0], 100),
        resource_id=_bounded(resource[1], MAX_KEY),
        status_code=status,
        outcome=outcome_of(status),
        client_ip=_bounded(client_ip, 100),
        user_agent=user_agent(agent),
        request_id=req_id,
        duration_ms=max(0.0, duration_ms),
        changed_fields=fields,
    )

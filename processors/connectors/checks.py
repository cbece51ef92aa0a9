"""What each connector needs in its config, checked without I/O. Pure.

The node worker runs these before a call (a config it cannot use fails the node for
good), and the workflow checks (`processors.checks`) run the same ones when a workflow
is saved or validated, which is why they live apart from the connectors' network code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from processors.connectors.base import require
from processors.sandbox.pool import LANGUAGES

Validate = Callable[[Mapping[str, Any]], dict[str, str]]


def validate_code(config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    code = config.get("code", config.get("custom_code"))
    if not isinstance(code, str) or not code.strip():
        problems["config.code"] = "is required"
    language = str(config.get("language", "python")).lower()
    if language not in LANGUAGES:
        problems["config.language"] = f"one of {sorted(LANGUAGES)}"
    return problems


def validate_email(config: Mapping[str, Any]) -> dict[str, str]:
    problems = {} if config.get("template") else require(config, "subject")
    if not (config.get("recipient") or config.get("to")):
        problems["config.recipient"] = "is required"
    if config.get("body") in (None, "") and config.get("html") in (None, "") and not config.get("template"):
        problems["config.body"] = "is required (or html, or a named template)"
    return problems


def validate_sheets(config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not config.get("spreadsheet_id"):
        problems["config.spreadsheet_id"] = "is required"
    values = config.get("values", config.get("row"))
    if not isinstance(values, list | Mapping) or not values:
        problems["config.values"] = "is required: a row (list of cells), a list of rows, or an object of columns"
    return problems


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def validate_http(config: Mapping[str, Any]) -> dict[str, str]:
    problems = require(config, "url")
    url = config.get("url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        problems["config.url"] = "must be an http(s) URL"
    method = str(config.get("method", "POST")).upper()
    if method not in _METHODS:
        problems["config.method"] = f"one of {sorted(_METHODS)}"
    if config.get("body_type", "json") not in ("json", "form", "raw"):
        problems["config.body_type"] = "one of json, form, raw"
    return problems


def validate_whatsapp(config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not (config.get("to") or config.get("phone") or config.get("recipient")):
        problems["config.to"] = "is required (the contact's phone number, e.g. {{user.phone}})"
    template = config.get("template")
    if template is not None:
        if not isinstance(template, Mapping) or not template.get("name"):
            problems["config.template.name"] = "is required for a template message"
    elif not (config.get("message") or config.get("text") or config.get("body")):
        problems["config.message"] = "is required (or a template)"
    return problems


def validate_message(config: Mapping[str, Any]) -> dict[str, str]:
    if not (config.get("message") or config.get("text") or config.get("body") or config.get("template")):
        return {"config.message": "is required (or a template)"}
    return {}


def validate_slack(config: Mapping[str, Any]) -> dict[str, str]:
    if not (config.get("text") or config.get("message") or config.get("blocks")):
        return {"config.text": "is required (or blocks)"}
    return {}


_TABLE = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")


MAX_ROWS = 1000


def validate_query(config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not isinstance(config.get("table"), str) or not _TABLE.match(str(config.get("table"))):
        problems["config.table"] = "is required: letters, digits, _ or -"
    where = config.get("where", config.get("filters", {}))
    if not isinstance(where, Mapping):
        problems["config.where"] = "must be an object of field: value"
    limit = config.get("limit", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS:
        problems["config.limit"] = f"an integer from 1 to {MAX_ROWS}"
    if str(config.get("order", "desc")).lower() not in ("asc", "desc"):
        problems["config.order"] = "asc or desc (by creation time)"
    if "query" in config or "sql" in config:
        problems["config.query"] = "raw SQL is not accepted; use table, where, limit, order"
    return problems


# The action types each connector serves (one name, several spellings the seeds use).
ACTION_TYPES: dict[str, tuple[str, ...]] = {
    "http": ("webhook", "http_request", "http"),
    "email": ("send_email", "email"),
    "whatsapp": ("whatsapp", "send_whatsapp", "whatsapp_message"),
    "message": ("send_message",),
    "slack": ("slack", "send_slack", "slack_message"),
    "sheets": ("google_sheets", "sheets_append", "append_row", "google_sheets_append"),
    "code": ("custom_code", "code", "run_code", "javascript", "python"),
    "query": ("database_query", "query_records", "find_records"),
}

_BY_CONNECTOR: dict[str, Validate] = {
    "http": validate_http,
    "email": validate_email,
    "whatsapp": validate_whatsapp,
    "message": validate_message,
    "slack": validate_slack,
    "sheets": validate_sheets,
    "code": validate_code,
    "query": validate_query,
}

# Action type -> its connector's config check.
VALIDATORS: dict[str, Validate] = {
    action_type: _BY_CONNECTOR[name] for name, types in ACTION_TYPES.items() for action_type in types
}

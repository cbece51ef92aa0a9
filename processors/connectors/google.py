"""Google Sheets rows (values:append) with a BigQuery streaming-insert fallback.

Auth is a service account: a JWT signed with its key is exchanged at its
token_uri for an access token, cached until shortly before it expires.
When Sheets fails (quota, outage, permission), the row goes to the configured
BigQuery table instead, with the idempotency key as insertId (BigQuery drops
repeats), and the output says which path was used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import jwt
import orjson

from processors.connectors.base import (
    INTEGRATION_MISSING,
    Connector,
    ConnectorContext,
    ConnectorError,
    Integration,
)
from processors.connectors.checks import ACTION_TYPES, validate_sheets
from processors.connectors.http import request
from schemas.records import NodeWorkOrdered

SHEETS_URL = "https://sheets.googleapis.com"
BIGQUERY_URL = "https://bigquery.googleapis.com/bigquery/v2"
SCOPES = "https://www.googleapis.com/auth/spreadsheets https://www.googleapis.com/auth/bigquery.insertdata"
_tokens: dict[tuple[str, str], tuple[str, float]] = {}


def _rows(config: Mapping[str, Any]) -> tuple[list[list[Any]], list[str] | None]:
    values = config.get("values", config.get("row"))
    if isinstance(values, Mapping):
        return [list(values.values())], [str(k) for k in values]
    assert isinstance(values, list)
    rows = values if values and all(isinstance(v, list) for v in values) else [values]
    columns = config.get("columns")
    return [list(r) for r in rows], [str(c) for c in columns] if isinstance(columns, list) else None


def _service_account(integration: Integration) -> dict[str, Any]:
    raw = integration.value("service_account")
    info = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(info, Mapping) or not info.get("private_key") or not info.get("client_email"):
        raise ConnectorError(INTEGRATION_MISSING, "the Google integration needs a service_account key (JSON)", retryable=False)
    return dict(info)


async def access_token(ctx: ConnectorContext, integration: Integration, timeout: float) -> str:
    info = _service_account(integration)
    token_uri = str(info.get("token_uri") or "https://oauth2.googleapis.com/token")
    cache_key = (integration.id, str(info["client_email"]))
    cached = _tokens.get(cache_key)
    if cached is not None and cached[1] > time.time() + 60:
        return cached[0]
    now = int(time.time())
    claims = {"iss": info["client_email"], "scope": SCOPES, "aud": token_uri, "iat": now, "exp": now + 3600}
    try:
        assertion = jwt.encode(claims, info["private_key"], algorithm="RS256", headers={"kid": info.get("private_key_id")})
    except (ValueError, TypeError, jwt.PyJWTError):
        raise ConnectorError(INTEGRATION_MISSING, "the service account private key is not a valid RSA key", retryable=False) from None
    body = f"grant_type={quote('urn:ietf:params:oauth:grant-type:jwt-bearer')}&assertion={assertion}".encode()
    status, _, answer = await request(
        ctx, "POST", token_uri, headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=body, params=None, timeout=timeout,
    )
    if status >= 400 or not isinstance(answer, Mapping) or "access_token" not in answer:
        reason = answer.get("error", status) if isinstance(answer, Mapping) else status
        raise ConnectorError("GOOGLE_AUTH", f"Google token exchange failed: {reason}", retryable=status >= 500)
    token = str(answer["access_token"])
    _tokens[cache_key] = (token, time.time() + float(answer.get("expires_in", 3600)))
    return token


async def _append(ctx: ConnectorContext, integration: Integration, order: NodeWorkOrdered, rows: list[list[Any]]) -> dict[str, Any]:
    config = order.config
    token = await access_token(ctx, integration, order.timeout_seconds)
    base = str(integration.value("sheets_base_url") or SHEETS_URL).rstrip("/")
    spreadsheet, range_ = str(config["spreadsheet_id"]), str(config.get("range") or config.get("sheet") or "Sheet1")
    url = f"{base}/v4/spreadsheets/{quote(spreadsheet, safe='')}/values/{quote(range_, safe='')}:append"
    option = str(config.get("value_input_option", "USER_ENTERED"))
    status, _, body = await request(
        ctx, "POST", url,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=orjson.dumps({"range": range_, "majorDimension": "ROWS", "values": rows}),
        params={"valueInputOption": option, "insertDataOption": "INSERT_ROWS"}, timeout=order.timeout_seconds,
    )
    if status >= 400 or not isinstance(body, Mapping):
        error = body.get("error", {}) if isinstance(body, Mapping) else {}
        reason = error.get("status", status) if isinstance(error, Mapping) else status
        raise ConnectorError(f"SHEETS_{reason}", f"Google Sheets answered {status} {reason}", retryable=status >= 500 or status == 429)
    updates = body.get("updates", {})
    return {"path": "sheets", "updated_range": updates.get("updatedRange"), "updated_rows": updates.get("updatedRows"), "spreadsheet_id": spreadsheet}


async def _insert(ctx: ConnectorContext, integration: Integration, order: NodeWorkOrdered, rows: list[list[Any]], columns: list[str] | None) -> dict[str, Any]:
    config = order.config
    target: Mapping[str, Any] = config["bigquery"] if isinstance(config.get("bigquery"), Mapping) else {}
    project = target.get("project_id") or integration.value("bigquery_project") or _service_account(integration).get("project_id")
    dataset = target.get("dataset") or integration.value("bigquery_dataset")
    table = target.get("table") or integration.value("bigquery_table")
    if not (project and dataset and table):
        raise ConnectorError(INTEGRATION_MISSING, "no BigQuery fallback table configured (project_id, dataset, table)", retryable=False)
    names = columns or [f"col_{i + 1}" for i in range(max(len(r) for r in rows))]
    token = await access_token(ctx, integration, order.timeout_seconds)
    base = str(integration.value("bigquery_base_url") or BIGQUERY_URL).rstrip("/")
    payload = {
        "kind": "bigquery#tableDataInsertAllRequest",
        "skipInvalidRows": False,
        "ignoreUnknownValues": False,
        # The idempotency key as insertId: BigQuery drops a repeated delivery.
        "rows": [{"insertId": f"{order.idempotency_key}:{i}", "json": dict(zip(names, row, strict=False))} for i, row in enumerate(rows)],
    }
    status, _, body = await request(
        ctx, "POST", f"{base}/projects/{project}/datasets/{dataset}/tables/{table}/insertAll",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=orjson.dumps(payload), params=None, timeout=order.timeout_seconds,
    )
    if status >= 400 or not isinstance(body, Mapping):
        raise ConnectorError(f"BIGQUERY_HTTP_{status}", f"BigQuery answered {status}", retryable=status >= 500 or status == 429)
    if body.get("insertErrors"):
        raise ConnectorError("BIGQUERY_INSERT_ERRORS", f"BigQuery refused rows: {orjson.dumps(body['insertErrors'])[:300].decode()}", retryable=False)
    return {"path": "bigquery", "table": f"{project}.{dataset}.{table}", "inserted_rows": len(rows)}


async def run_sheets(order: NodeWorkOrdered, ctx: ConnectorContext) -> dict[str, Any]:
    integration = ctx.integration(order.config, "google")
    assert integration is not None
    rows, columns = _rows(order.config)
    try:
        return await _append(ctx, integration, order, rows)
    except ConnectorError as sheets_error:
        if sheets_error.code in (INTEGRATION_MISSING, "AUTO_007", "SSRF_BLOCKED"):
            raise
        try:
            result = await _insert(ctx, integration, order, rows, columns)
        except ConnectorError as bq_error:
            if bq_error.code == INTEGRATION_MISSING:
                raise sheets_error from None  # no fallback configured: the Sheets error stands
            raise ConnectorError(bq_error.code, f"{sheets_error.message}; fallback: {bq_error.message}", retryable=bq_error.retryable) from None
        return {**result, "fallback_reason": f"{sheets_error.code}: {sheets_error.message}"}


SHEETS = Connector(action_types=ACTION_TYPES["sheets"], run=run_sheets, validate=validate_sheets, integration_type="google")

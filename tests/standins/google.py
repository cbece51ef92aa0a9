"""Google stand-in: OAuth token endpoint, Sheets v4 ``values:append``, BigQuery ``insertAll``.

One server plays three Google hosts, by path:

* ``POST /token`` — ``https://oauth2.googleapis.com/token``. Service-account flow:
  form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>``;
  the JWT (RS256, ``kid`` = ``private_key_id``) must be signed by a registered
  service account's key, with ``iss`` = client email, ``aud`` = the token URI,
  ``scope``, and ``iat``/``exp`` at most an hour apart. Answers
  ``{"access_token", "expires_in": 3599, "token_type": "Bearer"}``; errors are
  OAuth-shaped: 400 ``{"error": "invalid_grant", "error_description": ...}``
  (also ``invalid_request``, ``unsupported_grant_type``, ``invalid_scope``).
* ``POST /v4/spreadsheets/{id}/values/{range}:append`` — ``https://sheets.googleapis.com``.
* ``POST /bigquery/v2/projects/{p}/datasets/{d}/tables/{t}/insertAll`` —
  ``https://bigquery.googleapis.com``.

The two APIs accept only ``Authorization: Bearer <token>`` issued by ``/token``
(or by ``issue_token``), not expired, carrying a scope the API accepts. API
errors use Google's JSON error shape ``{"error": {"code", "message", "status"}}``
(BigQuery adds the legacy ``"errors": [{"message", "domain", "reason"}]`` list).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from standins.base import FailRule, StandIn, bearer_token, json_response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URIS = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
)
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"
BIGQUERY_INSERTDATA_SCOPE = "https://www.googleapis.com/auth/bigquery.insertdata"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SHEETS_SCOPES = frozenset(
    {
        SHEETS_SCOPE,
        "https://www.googleapis.com/auth/drive",
        "https://www.googleapis.com/auth/drive.file",
    }
)
BIGQUERY_SCOPES = frozenset({BIGQUERY_SCOPE, BIGQUERY_INSERTDATA_SCOPE, CLOUD_PLATFORM_SCOPE})

# Query parameters every Google API accepts ("system parameters").
_SYSTEM_PARAMS = frozenset(
    {
        "alt",
        "fields",
        "key",
        "prettyPrint",
        "quotaUser",
        "upload_protocol",
        "uploadType",
        "callback",
        "$.xgafv",
        "access_token",
        "oauth_token",
        "userIp",
    }
)
_SHEETS_APPEND_PARAMS = frozenset(
    {
        "valueInputOption",
        "insertDataOption",
        "includeValuesInResponse",
        "responseValueRenderOption",
        "responseDateTimeRenderOption",
    }
)

_MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_BQ_REASONS = {
    400: "invalid",
    401: "authError",
    403: "accessDenied",
    404: "notFound",
    409: "duplicate",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
    504: "timeout",
}
_DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: _INVALID_CREDENTIALS,
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute "
    "per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}


# -- keys and service accounts ---------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _shared_private_key() -> rsa.RSAPrivateKey:
    # RSA generation costs ~50 ms; one key is enough for every fixture in a session.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_service_account(
    token_uri: str,
    *,
    project_id: str = "fluxo-test",
    client_email: str | None = None,
    private_key: rsa.RSAPrivateKey | None = None,
) -> dict[str, str]:
    """A service-account key file (the JSON Google's console downloads), as a dict.

    ``private_key`` defaults to a key shared by the test session. Register it with a
    stand-in (``GoogleStandIn.register_service_account``) so its token endpoint trusts it.
    """
    key = private_key or _shared_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = client_email or f"fluxo-connector@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21 - 10**20) + 10**20),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }


def sign_assertion(
    service_account: dict[str, str],
    scopes: str | list[str],
    *,
    audience: str | None = None,
    issued_at: int | None = None,
    lifetime: int = 3600,
    **extra_claims: Any,
) -> str:
    """The JWT a Google client library sends to the token endpoint for this service account."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {
        "iss": service_account["client_email"],
        "scope": scopes if isinstance(scopes, str) else " ".join(scopes),
        "aud": audience or service_account["token_uri"],
        "iat": now,
        "exp": now + lifetime,
        **extra_claims,
    }
    return jwt.encode(
        claims,
        service_account["private_key"],
        algorithm="RS256",
        headers={"kid": service_account["private_key_id"]},
    )


# -- A1 notation -----------------------------------------------------------------------------


def col_to_num(col: str) -> int:
    n = 0
    for ch in col.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def num_to_col(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def quote_sheet(name: str) -> str:
    """Sheet names the way the API writes them in ranges (quoted when not a plain word)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", name
    ):
        return name
    return "'" + name.replace("'", "''") + "'"


_CELLS = re.compile(r"^(?P<c1>[A-Za-z]{0,3})(?P<r1>\d*)(?::(?P<c2>[A-Za-z]{0,3})(?P<r2>\d*))?$")


def parse_a1(rng: str, sheets: list[str]) -> tuple[str, int, int]:
    """(sheet, first column, first row) of an A1 range; ValueError if it doesn't parse."""
    sheet: str | None
    if rng.startswith("'"):
        name, i = [], 1
        while i < len(rng):
            if rng[i] == "'":
                if rng[i + 1 : i + 2] == "'":
                    name.append("'")
                    i += 2
                    continue
                break
            name.append(rng[i])
            i += 1
        else:
            raise ValueError(rng)
        sheet, rest = "".join(name), rng[i + 1 :]
        if rest and not rest.startswith("!"):
            raise ValueError(rng)
        cells = rest[1:]
    elif "!" in rng:
        sheet, cells = rng.split("!", 1)
    elif rng in sheets:
        sheet, cells = rng, ""
    else:
        sheet, cells = (sheets[0] if sheets else None), rng
        if not cells:
            raise ValueError(rng)
    if sheet is None or sheet not in sheets:
        raise ValueError(rng)
    m = _CELLS.match(cells)
    if m is None or (cells and not (m["c1"] or m["r1"])):
        raise ValueError(rng)
    col = col_to_num(m["c1"]) if m["c1"] else 1
    row = int(m["r1"]) if m["r1"] else 1
    return sheet, col, row


# -- state -------------------------------------------------------------------------------------


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    sheets: dict[str, list[list[Any]]]  # sheet name -> rows (row 1 first, column A first)
    shared_with: set[str] | None = None  # service-account emails; None: everyone
    appends: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BigQueryTable:
    project_id: str
    dataset_id: str
    table_id: str
    schema: list[dict[str, Any]] | None  # BigQuery TableFieldSchema list; None: accept anything
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"insertId", "json"}
    insert_ids: set[str] = field(default_factory=set)
    duplicates: int = 0  # rows dropped by insertId de-duplication

    @property
    def json_rows(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.rows]


@dataclass
class IssuedToken:
    token: str
    client_email: str | None
    scopes: frozenset[str]
    expires_at: float


# -- errors ------------------------------------------------------------------------------------


def google_error(
    status: int,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Google's JSON error; ``reason`` adds the legacy ``errors`` list (BigQuery style)."""
    err: dict[str, Any] = {"code": status, "message": message}
    if reason is not None:
        err["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    err["status"] = _STATUS_NAMES.get(status, "UNKNOWN")
    if details:
        err["details"] = details
    if status == 401:
        headers = {
            **(headers or {}),
            "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
        }
    return json_response({"error": err}, status, headers=headers)


def oauth_error(error: str, description: str, status: int = 400) -> web.Response:
    return json_response(
        {"error": error, "error_description": description},
        status,
        headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"},
    )


def _error_info(reason: str, service: str, **metadata: str) -> list[dict[str, Any]]:
    return [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": service, **metadata},
        }
    ]


# -- BigQuery row validation -------------------------------------------------------------------

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Infinity|NaN)$")


def _parse_ts(value: str) -> bool:
    v = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    try:
        dt.datetime.fromisoformat(v.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d ", v) else v)
        return True
    except ValueError:
        return False


def _check_scalar(value: Any, ftype: str) -> str | None:
    """An error message when ``value`` can't go in a column of ``ftype``."""
    t = ftype.upper()
    if t in ("STRING", "GEOGRAPHY"):
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        return None if ok else f"This field is not a {t.lower()}."
    if t in ("INTEGER", "INT64"):
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_INT.match(value))
        )
        return None if ok else f"Cannot convert value to integer (bad value): {value}"
    if t in ("FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL"):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_FLOAT.match(value))
        )
        return None if ok else f"Cannot convert value to floating point (bad value): {value}"
    if t in ("BOOLEAN", "BOOL"):
        ok = isinstance(value, bool) or (
            isinstance(value, str) and value.lower() in ("true", "false", "1", "0")
        )
        return None if ok else f"Cannot convert value to boolean: {value}"
    if t == "TIMESTAMP":
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            isinstance(value, str) and _parse_ts(value)
        )
        return None if ok else f"Cannot convert value to timestamp: {value}"
    if t == "DATE":
        try:
            dt.date.fromisoformat(value)
            return None
        except (TypeError, ValueError):
            return f"Invalid date: {value}"
    if t == "DATETIME":
        ok = (
            isinstance(value, str)
            and _parse_ts(value)
            and not re.search(r"([+-]\d\d:\d\d|Z| UTC)$", value)
        )
        return None if ok else f'Invalid datetime string "{value}"'
    if t == "TIME":
        try:
            dt.time.fromisoformat(value)
            return None
        except (TypeError, ValueError):
            return f'Invalid time string "{value}"'
    if t == "BYTES":
        try:
            base64.b64decode(value, validate=True)
            return None
        except (TypeError, ValueError, binascii.Error):
            return "Could not decode base64 string to bytes."
    return None  # JSON, RANGE, anything newer: accept


def _validate_record(
    record: Any, fields: list[dict[str, Any]], ignore_unknown: bool, prefix: str = ""
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []

    def err(location: str, message: str) -> None:
        errors.append(
            {"reason": "invalid", "location": location, "debugInfo": "", "message": message}
        )

    by_name = {f["name"].lower(): f for f in fields}
    present = {k.lower(): v for k, v in record.items()}
    for key in record:
        if key.lower() not in by_name and not ignore_unknown:
            err(prefix + key, f"no such field: {prefix + key}.")
    for name, f in by_name.items():
        loc = prefix + f["name"]
        mode = str(f.get("mode", "NULLABLE")).upper()
        ftype = str(f.get("type", "STRING")).upper()
        value = present.get(name)
        if value is None:
            if mode == "REQUIRED":
                err(loc, f"Missing required field: {loc}.")
            continue
        if mode == "REPEATED":
            if not isinstance(value, list):
                err(loc, f"Array specified for repeated field: {loc} is not an array.")
                continue
            items = value
        else:
            if isinstance(value, list):
                err(loc, f"Array specified for non-repeated field: {loc}.")
                continue
            items = [value]
        for item in items:
            if ftype in ("RECORD", "STRUCT"):
                if not isinstance(item, dict):
                    err(loc, f"This field: {loc} is not a record.")
                else:
                    errors.extend(
                        _validate_record(item, f.get("fields", []), ignore_unknown, loc + ".")
                    )
            elif item is not None:
                problem = _check_scalar(item, ftype)
                if problem:
                    err(loc, problem)
    return errors


# -- the stand-in ------------------------------------------------------------------------------


class GoogleStandIn(StandIn):
    """OAuth token endpoint + Sheets values:append + BigQuery insertAll.

    After ``start()``: ``service_account`` (dict, registered, ``token_uri`` pointing
    here), ``token_uri``, ``sheets_base_url`` and ``bigquery_base_url``.
    """

    default_fail_path = r"^/(v4|bigquery)/"

    def __init__(self, *, project_id: str = "fluxo-test") -> None:
        super().__init__()
        self.project_id = project_id
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.tables: dict[tuple[str, str, str], BigQueryTable] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.accounts: dict[str, tuple[str, Any]] = {}  # email -> (key id, public key)
        self.service_account: dict[str, str] = {}
        self.token_lifetime = 3599
        self.spreadsheet_id: str | None = None  # the fixture's pre-created spreadsheet

    async def start(self) -> Self:
        await super().start()
        if not self.service_account:
            self.service_account = self.new_service_account()
        else:  # restarted on a new port
            self.service_account["token_uri"] = self.token_uri
        return self

    # -- URLs ----------------------------------------------------------------------------

    @property
    def token_uri(self) -> str:
        """Stands for ``https://oauth2.googleapis.com/token``."""
        return f"{self.base_url}/token"

    @property
    def sheets_base_url(self) -> str:
        """Stands for ``https://sheets.googleapis.com`` (append: ``{this}/v4/spreadsheets/...``)."""
        return self.base_url

    @property
    def bigquery_base_url(self) -> str:
        """Stands for ``https://bigquery.googleapis.com/bigquery/v2``."""
        return f"{self.base_url}/bigquery/v2"

    def append_url(self, spreadsheet_id: str, range_: str) -> str:
        from urllib.parse import quote

        return f"{self.base_url}/v4/spreadsheets/{spreadsheet_id}/values/{quote(range_, safe='')}:append"

    def insert_all_url(self, project_id: str, dataset_id: str, table_id: str) -> str:
        return (
            f"{self.bigquery_base_url}/projects/{project_id}/datasets/{dataset_id}"
            f"/tables/{table_id}/insertAll"
        )

    # -- service accounts and tokens -----------------------------------------------------

    def register_service_account(self, info: dict[str, str]) -> None:
        """Trust JWTs signed with this service account's key (its public half)."""
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        self.accounts[info["client_email"]] = (info["private_key_id"], key.public_key())

    def register_public_key(
        self, client_email: str, private_key_id: str, public_key_pem: bytes
    ) -> None:
        self.accounts[client_email] = (
            private_key_id,
            serialization.load_pem_public_key(public_key_pem),
        )

    def new_service_account(
        self, *, client_email: str | None = None, fresh_key: bool = False, register: bool = True
    ) -> dict[str, str]:
        """A service-account JSON dict whose ``token_uri`` is this stand-in; registered by default."""
        info = make_service_account(
            self.token_uri,
            project_id=self.project_id,
            client_email=client_email,
            private_key=generate_private_key() if fresh_key else None,
        )
        if register:
            self.register_service_account(info)
        return info

    @property
    def service_account_json(self) -> str:
        return json.dumps(self.service_account)

    def sign_assertion(
        self, scopes: str | list[str], service_account: dict[str, str] | None = None, **kwargs: Any
    ) -> str:
        return sign_assertion(service_account or self.service_account, scopes, **kwargs)

    def issue_token(
        self,
        scopes: str | list[str] | None = None,
        *,
        client_email: str | None = None,
        expires_in: int | None = None,
    ) -> str:
        """Mint an access token directly (bypassing /token); default scopes: Sheets + BigQuery."""
        if scopes is None:
            scope_set = frozenset({SHEETS_SCOPE, BIGQUERY_SCOPE})
        else:
            scope_set = frozenset(scopes.split() if isinstance(scopes, str) else scopes)
        token = "ya29.c." + secrets.token_urlsafe(48)
        lifetime = self.token_lifetime if expires_in is None else expires_in
        self.tokens[token] = IssuedToken(
            token,
            client_email or self.service_account.get("client_email"),
            scope_set,
            time.time() + lifetime,
        )
        return token

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (401 UNAUTHENTICATED on use)."""
        for t in self.tokens.values():
            t.expires_at = 0.0

    def fail_token_next(
        self, status: int = 400, body: Any = None, times: int = 1, **kw: Any
    ) -> FailRule:
        """Scripted failure for the token endpoint (``fail_next`` leaves /token alone by default)."""
        return self.fail_next(status, body, times, path=r"^/token$", **kw)

    @property
    def token_requests(self) -> list[Any]:
        return self.requests_to(r"^/token$")

    # -- Sheets state --------------------------------------------------------------------

    def add_spreadsheet(
        self,
        spreadsheet_id: str | None = None,
        sheets: list[str] | dict[str, list[list[Any]]] | None = None,
        *,
        shared_with: set[str] | None = None,
    ) -> str:
        """Create a spreadsheet (default one sheet ``Sheet1``); returns its id.

        ``sheets`` as a dict pre-fills rows (e.g. a header row). ``shared_with``: the
        service-account emails allowed to write (None: any authenticated caller).
        """
        sid = (
            spreadsheet_id
            or "1" + secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")[:43]
        )
        if sheets is None:
            sheets = ["Sheet1"]
        grid = (
            {name: [] for name in sheets}
            if isinstance(sheets, list)
            else {name: [list(r) for r in rows] for name, rows in sheets.items()}
        )
        self.spreadsheets[sid] = Spreadsheet(sid, grid, shared_with)
        return sid

    def sheet_rows(self, spreadsheet_id: str, sheet: str = "Sheet1") -> list[list[Any]]:
        """Every row of the sheet (row 1 first), values as sent."""
        return self.spreadsheets[spreadsheet_id].sheets[sheet]

    # -- BigQuery state ------------------------------------------------------------------

    def add_table(
        self,
        dataset_id: str,
        table_id: str,
        schema: list[dict[str, Any]] | None = None,
        *,
        project_id: str | None = None,
    ) -> BigQueryTable:
        """Create a table; ``schema`` like BigQuery's ``[{"name", "type", "mode"}]`` (None: any row)."""
        table = BigQueryTable(project_id or self.project_id, dataset_id, table_id, schema)
        self.tables[(table.project_id, dataset_id, table_id)] = table
        return table

    def table(
        self, dataset_id: str, table_id: str, *, project_id: str | None = None
    ) -> BigQueryTable:
        return self.tables[(project_id or self.project_id, dataset_id, table_id)]

    def table_rows(
        self, dataset_id: str, table_id: str, *, project_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The ``json`` of every stored row (after insertId de-duplication)."""
        return self.table(dataset_id, table_id, project_id=project_id).json_rows

    # -- server --------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/token", self._token)
        app.router.add_post(
            "/v4/spreadsheets/{spreadsheet_id}/values/{tail:.+}", self._sheets_append
        )
        app.router.add_post(
            "/bigquery/v2/projects/{project_id}/datasets/{dataset_id}/tables/{table_id}/insertAll",
            self._insert_all,
        )
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def default_error(self, status: int, request: web.Request) -> web.Response:
        path = request.path
        if path == "/token":
            error = {400: "invalid_grant", 401: "invalid_client", 429: "rate_limit_exceeded"}.get(
                status, "internal_failure"
            )
            return oauth_error(error, "Scripted failure", status)
        message = _DEFAULT_MESSAGES.get(status, "Unknown error.")
        if path.startswith("/bigquery/"):
            if status == 429:
                message = "Exceeded rate limits: too many api requests per user per method for this user_method."
            return google_error(status, message, reason=_BQ_REASONS.get(status, "backendError"))
        details = None
        if status == 429:
            details = _error_info(
                "RATE_LIMIT_EXCEEDED",
                "sheets.googleapis.com",
                quota_metric="sheets.googleapis.com/write_requests",
                quota_limit="WriteRequestsPerMinutePerUser",
            )
        return google_error(status, message, details=details)

    async def _unknown(self, request: web.Request) -> web.Response:
        return google_error(404, f"The requested URL {request.path} was not found on this server.")

    # /token

    async def _token(self, request: web.Request) -> web.Response:
        raw = await request.read()
        params: dict[str, Any]
        if request.content_type == "application/json":
            try:
                params = json.loads(raw)
                assert isinstance(params, dict)
            except (ValueError, AssertionError):
                return oauth_error("invalid_request", "Invalid JSON payload")
        else:
            params = dict(await request.post())
        grant_type = params.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request", "Missing required parameter: grant_type")
        if grant_type != JWT_BEARER:
            return oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        assertion = params.get("assertion")
        if not assertion:
            return oauth_error("invalid_request", "Missing required parameter: assertion")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return oauth_error("invalid_grant", "Invalid JWT Signature.")
        if header.get("alg") != "RS256":
            return oauth_error("invalid_grant", "Invalid JWT Signature.")
        account = self.accounts.get(str(claims.get("iss")))
        if account is None:
            return oauth_error("invalid_grant", "Invalid grant: account not found")
        key_id, public_key = account
        if header.get("kid") not in (None, key_id):
            return oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            jwt.decode(
                assertion,
                public_key,
                algorithms=["RS256"],
                options={
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            return oauth_error("invalid_grant", "Invalid JWT Signature.")
        aud = claims.get("aud")
        if aud not in (self.token_uri, *GOOGLE_TOKEN_URIS):
            return oauth_error(
                "invalid_grant",
                f"Invalid JWT: Failed audience check. The right audience is {self.token_uri}",
            )
        iat, exp, now = claims.get("iat"), claims.get("exp"), time.time()
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
            return oauth_error("invalid_grant", _SHORT_LIVED)
        if exp - iat > 3600 or exp <= now or iat > now + 300 or exp < iat:
            return oauth_error("invalid_grant", _SHORT_LIVED)
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.split():
            return oauth_error(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        token = self.issue_token(scope, client_email=str(claims["iss"]))
        return json_response(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"},
            headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"},
        )

    # common API checks

    def _authorize(
        self,
        request: web.Request,
        accepted: frozenset[str],
        *,
        bigquery: bool,
        service: str,
        method: str,
    ) -> tuple[IssuedToken | None, web.Response | None]:
        reason = (lambda r: r) if bigquery else (lambda r: None)
        token = (
            bearer_token(request)
            or request.query.get("access_token")
            or request.query.get("oauth_token")
        )
        if not token:
            return None, google_error(
                401,
                _MISSING_CREDENTIALS,
                reason=reason("required"),
                details=_error_info("CREDENTIALS_MISSING", service, method=method),
            )
        issued = self.tokens.get(token)
        if issued is None or issued.expires_at <= time.time():
            return None, google_error(
                401,
                _INVALID_CREDENTIALS,
                reason=reason("authError"),
                details=_error_info(
                    "ACCESS_TOKEN_EXPIRED" if issued else "ACCESS_TOKEN_INVALID",
                    service,
                    method=method,
                ),
            )
        if not issued.scopes & accepted:
            return None, google_error(
                403,
                "Request had insufficient authentication scopes.",
                reason=reason("insufficientPermissions"),
                details=_error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", service, method=method),
            )
        return issued, None

    @staticmethod
    def _unknown_query_param(
        request: web.Request, allowed: frozenset[str], bigquery: bool
    ) -> web.Response | None:
        for name in request.query:
            if name not in allowed and name not in _SYSTEM_PARAMS:
                msg = (
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                    f"parameter. Field '{name}' could not be found in request message."
                )
                return google_error(
                    400,
                    msg,
                    reason="invalid" if bigquery else None,
                    details=[
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"description": msg}],
                        }
                    ],
                )
        return None

    @staticmethod
    async def _json_body(request: web.Request, bigquery: bool) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        if not raw:
            return {}, None
        try:
            return json.loads(raw), None
        except ValueError as exc:
            return None, google_error(
                400,
                f"Invalid JSON payload received. {exc}.",
                reason="parseError" if bigquery else None,
            )

    # Sheets

    async def _sheets_append(self, request: web.Request) -> web.Response:
        sid = request.match_info["spreadsheet_id"]
        tail = request.match_info["tail"]
        if not tail.endswith(":append"):
            return await self._unknown(request)
        url_range = tail[: -len(":append")]
        method = "google.apps.sheets.v4.SpreadsheetsService.AppendValues"
        issued, problem = self._authorize(
            request, SHEETS_SCOPES, bigquery=False, service="sheets.googleapis.com", method=method
        )
        if problem is not None:
            return problem
        assert issued is not None
        problem = self._unknown_query_param(request, _SHEETS_APPEND_PARAMS, False)
        if problem is not None:
            return problem
        q = request.query
        vio = q.get("valueInputOption")
        if vio is None:
            return google_error(400, "'valueInputOption' is required but not specified")
        if vio not in ("RAW", "USER_ENTERED"):
            return google_error(
                400,
                f"Invalid value at 'value_input_option' (type.googleapis.com/google.apps.sheets.v4."
                f'ValueInputOption), "{vio}"',
            )
        ido = q.get("insertDataOption", "OVERWRITE")
        if ido not in ("OVERWRITE", "INSERT_ROWS"):
            return google_error(
                400,
                f"Invalid value at 'insert_data_option' (type.googleapis.com/google.apps.sheets.v4."
                f'InsertDataOption), "{ido}"',
            )
        include_values = q.get("includeValuesInResponse", "false").lower() == "true"

        sheet_doc = self.spreadsheets.get(sid)
        if sheet_doc is None:
            return google_error(404, "Requested entity was not found.")
        if sheet_doc.shared_with is not None and issued.client_email not in sheet_doc.shared_with:
            return google_error(403, "The caller does not have permission")

        body, problem = await self._json_body(request, False)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return google_error(400, "Invalid JSON payload received. Expected an object.")
        for key in body:
            if key not in ("range", "majorDimension", "values"):
                return google_error(
                    400, f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
                )
        body_range = body.get("range")
        if body_range is not None and body_range != url_range:
            return google_error(
                400,
                f"Requested writing within range [{url_range}], but tried writing to [{body_range}]",
            )
        dim = body.get("majorDimension", "ROWS")
        if dim not in ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"):
            return google_error(
                400,
                f"Invalid value at 'data.major_dimension' (type.googleapis.com/google.apps.sheets.v4."
                f'Dimension), "{dim}"',
            )
        values = body.get("values", [])
        if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
            return google_error(
                400,
                "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), "
                + json.dumps(values)[:200],
            )
        for i, row in enumerate(values):
            for j, cell in enumerate(row):
                if cell is not None and not isinstance(cell, (str, int, float, bool)):
                    kind = "struct_value" if isinstance(cell, dict) else "list_value"
                    return google_error(400, f"Invalid values[{i}][{j}]: {kind} {json.dumps(cell)}")
        try:
            sheet, col0, _row0 = parse_a1(url_range, list(sheet_doc.sheets))
        except ValueError:
            return google_error(400, f"Unable to parse range: {url_range}")

        rows = (
            values
            if dim != "COLUMNS"
            else [list(r) for r in itertools.zip_longest(*values, fillvalue=None)]
        )
        grid = sheet_doc.sheets[sheet]
        result: dict[str, Any] = {"spreadsheetId": sid}
        filled = [i for i, r in enumerate(grid) if any(c not in (None, "") for c in r)]
        if filled:
            first_col = min(
                next(j for j, c in enumerate(grid[i]) if c not in (None, "")) for i in filled
            )
            last_col = max(len(grid[i]) for i in filled)
            result["tableRange"] = (
                f"{quote_sheet(sheet)}!{num_to_col(first_col + 1)}{filled[0] + 1}:"
                f"{num_to_col(last_col)}{filled[-1] + 1}"
            )
        updates: dict[str, Any] = {"spreadsheetId": sid}
        if rows:
            start = (filled[-1] + 1) if filled else 0  # 0-based index of the first new row
            width = max((len(r) for r in rows), default=0)
            del grid[start:]
            for r in rows:
                grid.append([None] * (col0 - 1) + list(r))
            updated_range = (
                f"{quote_sheet(sheet)}!{num_to_col(col0)}{start + 1}:"
                f"{num_to_col(col0 + max(width, 1) - 1)}{start + len(rows)}"
            )
            updates.update(
                {
                    "updatedRange": updated_range,
                    "updatedRows": len(rows),
                    "updatedColumns": width,
                    "updatedCells": sum(len(r) for r in rows),
                }
            )
            if include_values:
                updates["updatedData"] = {
                    "range": updated_range,
                    "majorDimension": "ROWS",
                    "values": rows,
                }
        elif include_values:
            updates["updatedData"] = {"range": f"{quote_sheet(sheet)}!{num_to_col(col0)}1"}
        result["updates"] = updates
        sheet_doc.appends.append(
            {
                "sheet": sheet,
                "range": url_range,
                "valueInputOption": vio,
                "insertDataOption": ido,
                "values": rows,
                "client_email": issued.client_email,
            }
        )
        return json_response(result)

    # BigQuery

    async def _insert_all(self, request: web.Request) -> web.Response:
        p, d, t = (request.match_info[k] for k in ("project_id", "dataset_id", "table_id"))
        method = "google.cloud.bigquery.v2.TableDataService.InsertAll"
        _issued, problem = self._authorize(
            request,
            BIGQUERY_SCOPES,
            bigquery=True,
            service="bigquery.googleapis.com",
            method=method,
        )
        if problem is not None:
            return problem
        problem = self._unknown_query_param(request, frozenset(), True)
        if problem is not None:
            return problem
        table = self.tables.get((p, d, t))
        if table is None:
            if not any(k[0] == p and k[1] == d for k in self.tables):
                return google_error(404, f"Not found: Dataset {p}:{d}", reason="notFound")
            return google_error(404, f"Not found: Table {p}:{d}.{t}", reason="notFound")

        body, problem = await self._json_body(request, True)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return google_error(
                400, "Invalid JSON payload received. Expected an object.", reason="invalid"
            )
        for key in body:
            if key not in (
                "kind",
                "rows",
                "skipInvalidRows",
                "ignoreUnknownValues",
                "templateSuffix",
                "traceId",
            ):
                return google_error(
                    400,
                    f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.',
                    reason="invalid",
                )
        for flag in ("skipInvalidRows", "ignoreUnknownValues"):
            if flag in body and not isinstance(body[flag], bool):
                return google_error(
                    400,
                    f"Invalid value at '{flag}' (TYPE_BOOL), {json.dumps(body[flag])}",
                    reason="invalid",
                )
        rows = body.get("rows")
        if rows is None or rows == []:
            return google_error(400, "No rows present in the request.", reason="invalid")
        if not isinstance(rows, list):
            return google_error(400, "Invalid value at 'rows': expected a list.", reason="invalid")
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                return google_error(
                    400, f"Invalid value at 'rows[{i}]': expected an object.", reason="invalid"
                )
            for key in row:
                if key not in ("insertId", "json"):
                    return google_error(
                        400,
                        f"Invalid JSON payload received. Unknown name \"{key}\" at 'rows[{i}]': "
                        "Cannot find field.",
                        reason="invalid",
                    )
            if not isinstance(row.get("json"), dict):
                return google_error(
                    400, f"Invalid value at 'rows[{i}].json': expected an object.", reason="invalid"
                )
            if "insertId" in row and not isinstance(row["insertId"], str):
                return google_error(
                    400,
                    f"Invalid value at 'rows[{i}].insert_id' (TYPE_STRING), "
                    f"{json.dumps(row['insertId'])}",
                    reason="invalid",
                )

        skip_invalid = bool(body.get("skipInvalidRows", False))
        ignore_unknown = bool(body.get("ignoreUnknownValues", False))
        errors: dict[int, list[dict[str, str]]] = {}
        if table.schema is not None:
            for i, row in enumerate(rows):
                errs = _validate_record(row["json"], table.schema, ignore_unknown)
                if errs:
                    errors[i] = errs

        response: dict[str, Any] = {"kind": "bigquery#tableDataInsertAllResponse"}
        if errors and not skip_invalid:
            stopped = [{"reason": "stopped", "location": "", "debugInfo": "", "message": ""}]
            response["insertErrors"] = [
                {"index": i, "errors": errors.get(i, stopped)} for i in range(len(rows))
            ]
            return json_response(response)
        known = {f["name"].lower(): f["name"] for f in table.schema or []}
        for i, row in enumerate(rows):
            if i in errors:
                continue
            insert_id = row.get("insertId")
            if insert_id and insert_id in table.insert_ids:
                table.duplicates += 1
                continue
            data = row["json"]
            if table.schema is not None and ignore_unknown:
                data = {k: v for k, v in data.items() if k.lower() in known}
            table.rows.append({"insertId": insert_id, "json": data})
            if insert_id:
                table.insert_ids.add(insert_id)
        if errors:
            response["insertErrors"] = [
                {"index": i, "errors": e} for i, e in sorted(errors.items())
            ]
        return json_response(response)

"""WhatsApp Business Cloud API stand-in (Graph API ``POST /{version}/{phone-number-id}/messages``).

Wire format (Meta's Cloud API reference):

* auth: ``Authorization: Bearer <access token>`` (Graph also accepts an
  ``access_token`` query parameter; so does the stand-in);
* body: ``{"messaging_product": "whatsapp", "recipient_type": "individual",
  "to": "<phone>", "type": "text", "text": {"body": ..., "preview_url": false}}``
  or ``"type": "template", "template": {"name", "language": {"code"}, "components"}``;
* 200: ``{"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": digits}],
  "messages": [{"id": "wamid...."}]}``;
* errors: the Graph error object ``{"error": {"message", "type", "code",
  "error_subcode"?, "error_data"?: {"messaging_product", "details"}, "fbtrace_id"}}``.

Errors the stand-in produces by itself:

=====  =========  ======================================================================
HTTP   code       when
=====  =========  ======================================================================
401    190        no token / wrong token (``error_subcode`` 463 after ``expire_token()``)
400    100        missing/invalid parameter (messaging_product, to, type, text.body, ...)
400    100/33     unknown phone number id ("Unsupported post request ...")
400    131030     ``allowed_recipients`` set and ``to`` not in it (test-number sandbox)
404    132001     ``templates`` set and the template name/language is not approved
400    2500       unknown path ("Unknown path components")
=====  =========  ======================================================================

``fail_next(status)`` with ``body=None`` answers: 400 -> code 100, 401 -> 190,
403 -> 10 (permission), 429 -> 130429 "Rate limit hit", 500 -> 1 (unknown,
``is_transient``), 503 -> 2 (service unavailable, ``is_transient``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from typing import Any

from aiohttp import web

from standins.base import StandIn, bearer_token, json_response

MESSAGE_TYPES = (
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
)
MAX_TEXT_BODY = 4096


def _fbtrace_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(9)).decode().rstrip("=")


def graph_error(
    status: int,
    message: str,
    code: int,
    *,
    subcode: int | None = None,
    details: str | None = None,
    error_type: str = "OAuthException",
    transient: bool | None = None,
) -> web.Response:
    err: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    if transient is not None:
        err["is_transient"] = transient
    if details is not None:
        err["error_data"] = {"messaging_product": "whatsapp", "details": details}
    err["fbtrace_id"] = _fbtrace_id()
    return json_response(
        {"error": err},
        status,
        headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'}
        if status == 401
        else None,
    )


def _invalid(message: str, details: str | None = None, subcode: int | None = None) -> web.Response:
    return graph_error(400, message, 100, details=details or message, subcode=subcode)


class WhatsAppStandIn(StandIn):
    """The Cloud API messages endpoint.

    ``access_token``/``phone_number_id``: what requests must carry.
    ``templates``: None accepts any template; else ``{name: {language codes}}``
    (an empty set accepts every language) of approved templates.
    ``allowed_recipients``: None accepts any number; else the digits-only numbers a
    test WABA may message (others get 131030).
    """

    default_fail_path = r"/messages$"

    def __init__(
        self,
        *,
        access_token: str | None = None,
        phone_number_id: str = "106540352242922",
        api_version: str = "v21.0",
        templates: dict[str, set[str]] | None = None,
        allowed_recipients: set[str] | None = None,
    ) -> None:
        super().__init__()
        self.access_token = access_token or "EAAG" + secrets.token_urlsafe(32).replace(
            "-", ""
        ).replace("_", "")
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.templates = templates
        self.allowed_recipients = allowed_recipients
        self.expired_tokens: set[str] = set()
        #: accepted messages: {"id", "phone_number_id", "to", "wa_id", "type", "payload"}
        self.messages: list[dict[str, Any]] = []

    @property
    def messages_url(self) -> str:
        """Full URL of the send endpoint for the configured phone number id and version."""
        return f"{self.base_url}/{self.api_version}/{self.phone_number_id}/messages"

    def expire_token(self) -> None:
        """From now on the configured token is rejected as expired (190 / subcode 463)."""
        self.expired_tokens.add(self.access_token)

    def reset(self) -> None:
        super().reset()
        self.messages.clear()

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post(r"/{version:v\d+\.\d+}/{phone_number_id}/messages", self._send)
        app.router.add_get(r"/{version:v\d+\.\d+}/{phone_number_id}", self._phone_number)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def default_error(self, status: int, request: web.Request) -> web.Response:
        if status == 400:
            return _invalid("(#100) Invalid parameter")
        if status == 401:
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        if status == 403:
            return graph_error(
                403,
                "(#10) Application does not have permission for this action",
                10,
                details="Application does not have permission for this action",
            )
        if status == 429:
            return graph_error(
                429,
                "(#130429) Rate limit hit",
                130429,
                details="Cloud API message throughput has been reached.",
            )
        if status == 503:
            return graph_error(503, "(#2) Service temporarily unavailable", 2, transient=True)
        return graph_error(status, "An unknown error occurred", 1, transient=True)

    async def _unknown(self, request: web.Request) -> web.Response:
        return graph_error(400, "Unknown path components: " + request.path, 2500)

    async def _phone_number(self, request: web.Request) -> web.Response:
        """GET /{version}/{phone-number-id}: the business phone number (used to check a connection)."""
        token = bearer_token(request) or request.query.get("access_token")
        if not token or token != self.access_token or token in self.expired_tokens:
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return graph_error(400, "Unsupported get request.", 100, subcode=33, error_type="GraphMethodException")
        return json_response({
            "verified_name": "Fluxo Test", "display_phone_number": "+1 555-010-0000",
            "id": self.phone_number_id, "quality_rating": "GREEN",
        })

    async def _send(self, request: web.Request) -> web.Response:
        token = bearer_token(request) or request.query.get("access_token")
        if not token:
            return graph_error(401, "An access token is required to request this resource.", 190)
        if token in self.expired_tokens:
            return graph_error(
                401, "Error validating access token: Session has expired.", 190, subcode=463
            )
        if token != self.access_token:
            return graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)

        phone_number_id = request.match_info["phone_number_id"]
        if phone_number_id != self.phone_number_id:
            return graph_error(
                400,
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation. "
                "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                100,
                subcode=33,
                error_type="GraphMethodException",
            )

        body: Any
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _invalid("(#100) Invalid parameter", "Request body is not valid JSON")
        if not isinstance(body, dict):
            return _invalid("(#100) Invalid parameter", "Request body must be a JSON object")

        problem = self._validate(body)
        if problem is not None:
            return problem

        to = body["to"]
        wa_id = re.sub(r"\D", "", to)
        if self.allowed_recipients is not None and wa_id not in self.allowed_recipients:
            return graph_error(
                400,
                "(#131030) Recipient phone number not in allowed list",
                131030,
                details="Recipient phone number not in allowed list: Add recipient phone number "
                "to recipient list and try again.",
            )
        mtype = body.get("type", "text")
        if mtype == "template" and self.templates is not None:
            tpl = body["template"]
            langs = self.templates.get(tpl["name"])
            lang = tpl["language"]["code"]
            if langs is None or (langs and lang not in langs):
                return graph_error(
                    404,
                    "(#132001) Template name does not exist in the translation",
                    132001,
                    details=f"template name ({tpl['name']}) does not exist in {lang}",
                )

        wamid = (
            "wamid."
            + base64.b64encode(
                b"\x15\x02\x00\x11\x18\x12" + wa_id.encode()[:15] + uuid.uuid4().bytes
            ).decode()
        )
        self.messages.append(
            {
                "id": wamid,
                "phone_number_id": phone_number_id,
                "version": request.match_info["version"],
                "to": to,
                "wa_id": wa_id,
                "type": mtype,
                "payload": body,
            }
        )
        return json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": wamid}],
            }
        )

    def _validate(self, body: dict[str, Any]) -> web.Response | None:
        mp = body.get("messaging_product")
        if mp is None:
            return _invalid("(#100) The parameter messaging_product is required.")
        if mp != "whatsapp":
            return _invalid(
                f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{mp}".'
            )
        rt = body.get("recipient_type", "individual")
        if rt not in ("individual", "group"):
            return _invalid(
                f'(#100) Param recipient_type must be one of {{INDIVIDUAL, GROUP}} - got "{rt}".'
            )
        to = body.get("to")
        if to is None:
            return _invalid("(#100) The parameter to is required.")
        if not isinstance(to, str):
            return _invalid("(#100) Param to must be a string.")
        digits = re.sub(r"\D", "", to)
        if not re.fullmatch(r"\+?[\d\s().-]+", to) or not 7 <= len(digits) <= 15:
            return graph_error(
                400,
                "(#131009) Parameter value is not valid",
                131009,
                details=f"Invalid value for 'to': {to!r} is not a valid phone number",
            )
        mtype = body.get("type", "text")
        if not isinstance(mtype, str) or mtype not in MESSAGE_TYPES:
            allowed = ", ".join(t.upper() for t in MESSAGE_TYPES)
            return _invalid(f'(#100) Param type must be one of {{{allowed}}} - got "{mtype}".')
        obj = body.get(mtype)
        if obj is None:
            return _invalid(f"(#100) The parameter {mtype} is required.")
        if not isinstance(obj, dict):
            return _invalid(f"(#100) Param {mtype} must be a JSON object.")
        if mtype == "text":
            text = obj.get("body")
            if text is None:
                return _invalid("(#100) The parameter text['body'] is required.")
            if not isinstance(text, str) or not text.strip():
                return _invalid("(#100) Param text['body'] must be a non-empty string.")
            if len(text) > MAX_TEXT_BODY:
                return _invalid(
                    f"(#100) Param text['body'] must be at most {MAX_TEXT_BODY} characters long."
                )
            if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
                return _invalid("(#100) Param text['preview_url'] must be a boolean.")
        elif mtype == "template":
            name = obj.get("name")
            if name is None:
                return _invalid("(#100) The parameter template['name'] is required.")
            if not isinstance(name, str) or not name:
                return _invalid("(#100) Param template['name'] must be a non-empty string.")
            lang = obj.get("language")
            if lang is None:
                return _invalid("(#100) The parameter template['language'] is required.")
            if (
                not isinstance(lang, dict)
                or not isinstance(lang.get("code"), str)
                or not lang["code"]
            ):
                return _invalid("(#100) The parameter template['language']['code'] is required.")
            comps = obj.get("components", [])
            if not isinstance(comps, list):
                return _invalid("(#100) Param template['components'] must be an array.")
            for i, comp in enumerate(comps):
                if not isinstance(comp, dict) or comp.get("type") not in (
                    "header",
                    "body",
                    "button",
                    "footer",
                ):
                    return _invalid(
                        f"(#100) Param template['components'][{i}]['type'] must be one of "
                        "{HEADER, BODY, BUTTON, FOOTER}."
                    )
                params = comp.get("parameters", [])
                if not isinstance(params, list) or not all(
                    isinstance(p, dict) and isinstance(p.get("type"), str) for p in params
                ):
                    return _invalid(
                        f"(#100) Param template['components'][{i}]['parameters'] must be an array "
                        "of objects with a type."
                    )
        return None

"""Slack stand-in: incoming webhooks and the Web API's ``chat.postMessage``.

Incoming webhooks (``POST /services/T.../B.../<secret>``, JSON ``{"text", "blocks"}``
or form ``payload=<json>``): 200 with the plain-text body ``ok``; errors are
plain-text bodies with an HTTP status (Slack's documented webhook errors):

* 400 ``invalid_payload`` (not JSON / not an object), 400 ``no_text`` (no text,
  blocks or attachments), 400 ``invalid_blocks``;
* 404 ``channel_not_found`` (a legacy ``channel`` override naming an unknown
  channel), 410 ``channel_is_archived``, 404 ``no_service`` (unknown webhook URL);
* 429 ``rate_limited`` with ``Retry-After`` (via ``rate_limit_next``).

Web API (``POST /api/chat.postMessage``, ``Authorization: Bearer xoxb-...``, JSON
or form body): HTTP 200 ``{"ok": true, "channel", "ts", "message": {...}}``;
errors are HTTP 200 ``{"ok": false, "error": "..."}``: ``not_authed``,
``invalid_auth``, ``channel_not_found``, ``is_archived``, ``no_text``,
``invalid_blocks``, ``msg_too_long``, ``invalid_json``; a JSON body sent without
``charset=utf-8`` gets ``"warning": "missing_charset"`` like Slack does. Rate
limits: HTTP 429 ``{"ok": false, "error": "ratelimited"}`` + ``Retry-After``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from standins.base import FailRule, StandIn, bearer_token, json_response, text_response

MAX_TEXT = 40000


def _webhook_error(text: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return text_response(text, status, headers=headers, content_type="text/html")


class SlackStandIn(StandIn):
    """Webhooks and chat.postMessage for one workspace.

    ``channels``: ``{name: id}`` of the workspace's channels (names without ``#``).
    ``webhooks``: ``{path: channel name}``; the first is ``webhook_url``.
    """

    default_fail_path = r"^/(services|api)/"

    def __init__(
        self,
        *,
        bot_token: str | None = None,
        channels: dict[str, str] | None = None,
        team_id: str = "T0001",
        bot_id: str = "B0001",
    ) -> None:
        super().__init__()
        self.bot_token = bot_token or "xoxb-1-2-" + secrets.token_hex(12)
        self.team_id = team_id
        self.bot_id = bot_id
        self.channels: dict[str, str] = dict(
            channels or {"general": "C0000000001", "alerts": "C0000000002"}
        )
        self.archived: set[str] = set()  # channel ids
        self.webhooks: dict[str, str] = {}
        #: accepted messages: {"via": "webhook"|"api", "channel", "channel_name", "ts", "text", "blocks", "payload"}
        self.messages: list[dict[str, Any]] = []
        self._ts_seq = 0
        self.add_webhook("general", path=f"/services/{team_id}/{bot_id}/" + secrets.token_hex(12))

    # -- configuration -----------------------------------------------------------------

    def add_webhook(self, channel: str, *, path: str | None = None) -> str:
        """Register an incoming webhook posting to ``channel`` (name); returns its path."""
        path = (
            path
            or f"/services/{self.team_id}/B{secrets.token_hex(4).upper()}/{secrets.token_hex(12)}"
        )
        self.webhooks[path] = channel.lstrip("#")
        return path

    def webhook_url_for(self, channel: str) -> str:
        for path, ch in self.webhooks.items():
            if ch == channel.lstrip("#"):
                return self.base_url + path
        return self.base_url + self.add_webhook(channel)

    @property
    def webhook_url(self) -> str:
        """URL of the default webhook (posts to #general)."""
        return self.base_url + next(iter(self.webhooks))

    @property
    def api_url(self) -> str:
        """Base of the Web API, like ``https://slack.com/api``."""
        return self.base_url + "/api"

    def archive_channel(self, name: str) -> None:
        self.archived.add(self.channels[name.lstrip("#")])

    def rate_limit_next(
        self, retry_after: int = 1, times: int = 1, *, path: str | None = None
    ) -> FailRule:
        """Answer the next request(s) with 429 + ``Retry-After`` (Slack's rate-limit answer)."""
        return self.fail_next(
            429, None, times, headers={"Retry-After": str(retry_after)}, path=path
        )

    def reset(self) -> None:
        super().reset()
        self.messages.clear()

    # -- server ------------------------------------------------------------------------

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/services/{tail:.+}", self._webhook)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_route("*", "/{tail:.*}", self._unknown)

    def default_error(self, status: int, request: web.Request) -> web.Response:
        headers = {"Retry-After": "1"} if status == 429 else None
        if request.path.startswith("/api/"):
            error = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}.get(
                status, "fatal_error"
            )
            return json_response({"ok": False, "error": error}, status, headers=headers)
        text = {
            400: "invalid_payload",
            403: "action_prohibited",
            404: "channel_not_found",
            410: "channel_is_archived",
            429: "rate_limited",
            500: "internal_error",
            503: "service_unavailable",
        }.get(status, "internal_error")
        return _webhook_error(text, status, headers)

    def _next_ts(self) -> str:
        self._ts_seq += 1
        return f"{int(time.time())}.{self._ts_seq:06d}"

    def _resolve(self, channel: str) -> str | None:
        """A channel id from an id, ``name`` or ``#name``; None if unknown."""
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.lstrip("#"))

    def _name(self, channel_id: str) -> str:
        return next((n for n, i in self.channels.items() if i == channel_id), channel_id)

    @staticmethod
    def _blocks_ok(blocks: Any) -> bool:
        return (
            isinstance(blocks, list)
            and len(blocks) <= 50
            and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        return text_response("Not Found", 404)

    async def _webhook(self, request: web.Request) -> web.Response:
        path = request.path
        if path not in self.webhooks:
            return _webhook_error("no_service", 404)
        raw = await request.read()
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                payload = json.loads(dict(parse_qsl(raw.decode())).get("payload", ""))
            else:
                payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _webhook_error("invalid_payload", 400)
        if not isinstance(payload, dict):
            return _webhook_error("invalid_payload", 400)
        text, blocks = payload.get("text"), payload.get("blocks")
        if text is not None and not isinstance(text, str):
            return _webhook_error("invalid_payload", 400)
        if blocks is not None and not self._blocks_ok(blocks):
            return _webhook_error("invalid_blocks", 400)
        if not text and not blocks and not payload.get("attachments"):
            return _webhook_error("no_text", 400)
        channel_name = self.webhooks[path]
        override = payload.get("channel")
        if isinstance(override, str) and override:
            if self._resolve(override) is None:
                return _webhook_error("channel_not_found", 404)
            channel_id = self._resolve(override)
        else:
            channel_id = self.channels.get(channel_name)
            if channel_id is None:
                return _webhook_error("channel_not_found", 404)
        assert channel_id is not None
        if channel_id in self.archived:
            return _webhook_error("channel_is_archived", 410)
        self.messages.append(
            {
                "via": "webhook",
                "channel": channel_id,
                "channel_name": self._name(channel_id),
                "ts": self._next_ts(),
                "text": text,
                "blocks": blocks,
                "payload": payload,
            }
        )
        return _webhook_error("ok", 200)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not token:
                return self._api_error("not_authed")
            if token != self.bot_token:
                return self._api_error("invalid_auth")
            return json_response({"ok": True, "url": "https://fluxo-test.slack.com/", "team": "Fluxo Test",
                                  "user": "fluxobot", "team_id": "T0000000001", "user_id": "U0000000001", "bot_id": "B0000000001"})
        if method != "chat.postMessage":
            return self._api_error("unknown_method")
        raw = await request.read()
        warning: str | None = None
        args: dict[str, Any]
        if request.content_type == "application/json":
            if request.charset is None:
                warning = "missing_charset"
            try:
                args = json.loads(raw) if raw else {}
            except ValueError:
                return self._api_error("invalid_json")
            if not isinstance(args, dict):
                return self._api_error("invalid_json")
        else:
            args = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            args.update({k: v for k, v in request.query.items() if k not in args})
            if isinstance(args.get("blocks"), str):
                try:
                    args["blocks"] = json.loads(args["blocks"])
                except ValueError:
                    return self._api_error("invalid_blocks_format")
        # JSON bodies must carry the token in the header; form bodies may carry it as a field.
        token = bearer_token(request)
        if token is None and request.content_type != "application/json":
            token = args.pop("token", None)
        if not token:
            return self._api_error("not_authed")
        if token != self.bot_token:
            return self._api_error("invalid_auth")

        channel = args.get("channel")
        if not isinstance(channel, str) or not channel:
            return self._api_error("channel_not_found")
        channel_id = self._resolve(channel)
        if channel_id is None:
            return self._api_error("channel_not_found")
        if channel_id in self.archived:
            return self._api_error("is_archived")
        text, blocks = args.get("text"), args.get("blocks")
        if text is not None and not isinstance(text, str):
            return self._api_error("invalid_arguments")
        if blocks is not None and not self._blocks_ok(blocks):
            return self._api_error("invalid_blocks")
        if not text and not blocks and not args.get("attachments"):
            return self._api_error("no_text")
        if text and len(text) > MAX_TEXT:
            return self._api_error("msg_too_long")

        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": text or "",
            "ts": ts,
            "bot_id": self.bot_id,
            "team": self.team_id,
        }
        if blocks:
            message["blocks"] = blocks
        if isinstance(args.get("thread_ts"), str):
            message["thread_ts"] = args["thread_ts"]
        self.messages.append(
            {
                "via": "api",
                "channel": channel_id,
                "channel_name": self._name(channel_id),
                "ts": ts,
                "text": text,
                "blocks": blocks,
                "payload": args,
            }
        )
        body: dict[str, Any] = {"ok": True, "channel": channel_id, "ts": ts, "message": message}
        if warning:
            body["warning"] = warning
            body["response_metadata"] = {"warnings": [warning]}
        return json_response(body)

    @staticmethod
    def _api_error(error: str) -> web.Response:
        return json_response({"ok": False, "error": error})

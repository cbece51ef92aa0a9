"""Request bounds, before any handler reads the request: the body's size, then its content.

Whatever an endpoint accepts ends up in a Kafka record; a body larger than a
record can be must be refused up front with a clear 413, not fail later as a
broker error. Bodies without Content-Length are counted as they stream in.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import orjson

from schemas.json_limits import MAX_DEPTH, json_problems, text_problems

Scope = dict[str, Any]


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        too_large = False

        async def counted() -> Any:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    # Stop the handler from reading further; it sees a disconnect.
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if too_large and not started:
                started = True
                await self._refuse(send)
                return
            if not too_large:
                started = started or message["type"] == "http.response.start"
                await send(message)

        await self.app(scope, counted, guarded_send)
        if too_large and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps({"error": {"code": "AUTO_007", "message": f"request body over {self.max_bytes} bytes",
                                       "fields": {"body": "too large"}}})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _refusal(fields: dict[str, str], message: str) -> tuple[dict[str, Any], bytes]:
    body = orjson.dumps({"error": {"code": "AUTO_007", "message": message, "fields": fields}})
    start = {"type": "http.response.start", "status": 422,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, body


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(name)


def parse_problems(raw: bytes) -> dict[str, str] | None:
    """Problems of a JSON request body (see schemas.json_limits), or None when it is not JSON
    at all: then the route answers as it would (a validation error, or its own reading)."""
    # The parser FastAPI reads bodies with (Starlette's request.json()), so that what is checked
    # is what the handler gets: orjson would read a 30-digit integer as a float, say.
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except _NotFinite as exc:
        return {"body": f"{exc} is not a JSON number; numbers must be finite"}
    except RecursionError:
        return {"body": f"nested deeper than {MAX_DEPTH} levels"}
    except (ValueError, UnicodeDecodeError):
        return None
    return json_problems(value)


def _json_media(headers: dict[bytes, bytes]) -> bool:
    media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    # FastAPI reads a body without a content type as JSON too.
    return not media or media == b"application/json" or media.endswith(b"+json")


class InputGuard:
    """Refuses (422, with the field at fault) input the models cannot bound by themselves: NUL
    characters in the path or the query, and JSON bodies that are too deep, too large in values,
    or carry numbers or characters a record or a row cannot hold (schemas.json_limits).

    Sits inside BodyLimit, so the body it reads whole is already bounded in bytes.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        problems = text_problems({"path": scope.get("path", "")}) | text_problems(query)
        if problems:
            await self._refuse(send, problems, "invalid characters in the request")
            return
        headers = dict(scope.get("headers") or [])
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") or not _json_media(headers):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left, or BodyLimit cut the body (it answers 413 itself)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        found = parse_problems(raw) if raw.strip() else None
        if found:
            await self._refuse(send, found, "invalid JSON body")
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, fields: dict[str, str], message: str) -> None:
        start, body = _refusal(fields, message)
        await send(start)
        await send({"type": "http.response.body", "body": body})

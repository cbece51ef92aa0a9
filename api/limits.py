"""Request body bound, before any handler reads it.

Whatever an endpoint accepts ends up in a Kafka record; a body larger than a
record can be must be refused up front with a clear 413, not fail later as a
broker error. Bodies without Content-Length are counted as they stream in.
"""

from __future__ import annotations

from typing import Any

import orjson

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

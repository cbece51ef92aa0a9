"""Security headers on every answer (seed 001's checklist: XSS protection, no sniffing, no framing).

The API answers JSON only, so its policy forbids everything; the console (/console) may
load its own bundle and call this origin; the interactive docs
(/docs, /redoc) load Swagger UI / ReDoc from their CDN and run one inline script,
so they get a policy that allows exactly that. API answers under /api/ are never
stored by caches: they are per caller, and login answers carry tokens.
"""

from __future__ import annotations

from typing import Any

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net;"
    " style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com;"
    " font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly;"
    " worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")
# The console (api/console/) is one bundle of our own: scripts and calls to this origin only.
# Inline styles are allowed: the graph library positions nodes with style attributes.
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HSTS = b"max-age=31536000; includeSubDomains"

Scope = dict[str, Any]


class SecurityHeaders:
    def __init__(self, app: Any, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        docs = path.startswith(DOCS_PATHS)
        console = path == "/console" or path.startswith("/console/")
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", (DOCS_POLICY if docs else CONSOLE_POLICY if console else API_POLICY).encode()),
        ]
        if self.hsts:
            extra.append((b"strict-transport-security", HSTS))
        no_store = path.startswith("/api/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

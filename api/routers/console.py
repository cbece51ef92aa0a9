"""The web console (issue 21): its files at /console, and the live executions stream it
watches, `GET /api/v1/console/executions/stream` (server-sent events, api/services/live.py).

The console is a single page on the public REST API only; these two are all it needs of the
server. Its files are public (they hold no data: everything shown comes from the API with the
signed-in person's token) and stay out of the OpenAPI document, like /docs.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)

from api.deps import PrincipalDep, StateDep
from api.services.live import MAX_FOLLOW_SECONDS, frames, open_tail
from api.services.live_frames import MAX_CURSOR_CHARS, parse_cursor
from schemas.answers.live import LiveEvent

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# What `make install` builds (npm ci + esbuild): git-ignored, never served from elsewhere.
BUILD_DIR = CONSOLE_DIR / "dist"
INDEX = CONSOLE_DIR / "index.html"

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/console", tags=["console"])



class EventStream(StreamingResponse):
    media_type = "text/event-stream"


class _OneEvent(JSONResponse):
    """For the OpenAPI document only: FastAPI describes a non-JSON response class as a string;
    with this one it describes the answer's events by the response model, one event at a time,
    as SSE clients (and schemathesis) read a stream. The route returns an EventStream."""

    media_type = "text/event-stream"


@pages.get("/console")
async def console_index() -> Response:
    return FileResponse(INDEX, media_type="text/html")


@pages.get("/console/{path:path}")
async def console_file(path: str) -> Response:
    """A built asset, or the page itself for any other path (the console routes in the browser)."""
    candidate = (BUILD_DIR / path).resolve()
    if candidate.is_relative_to(BUILD_DIR) and candidate.is_file():
        media_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        return FileResponse(candidate, media_type=media_type)
    if path.startswith("console.") and not BUILD_DIR.is_dir():
        return PlainTextResponse("the console is not built: run `make install` (npm ci and esbuild, once)", status_code=404)
    return FileResponse(INDEX, media_type="text/html")


@router.get("/executions/stream", response_class=_OneEvent, response_model=LiveEvent,
            response_description="`ready`, one `execution` per change (its data an ExecutionChange), then `end`")
async def executions_stream(
    state: StateDep,
    principal: PrincipalDep,
    after: str | None = Query(default=None, max_length=MAX_CURSOR_CHARS,
                              description="the `id` of the last event received: resume just after it"),
    workflow: str | None = Query(default=None, max_length=100, description="only this workflow's executions"),
    follow_seconds: int = Query(default=0, ge=0, le=MAX_FOLLOW_SECONDS,
                                description="keep the answer open this long for new changes (0: what is there now)"),
) -> Response:
    """Changes to the caller's workspace's executions, read from the execution records as they
    are written (before the projection has them): started, node steps, completed / failed /
    cancelled. Without `after`, from now on."""
    cursor = parse_cursor(after) if after is not None else None
    tail = await open_tail(state, cursor)
    return EventStream(
        frames(state, tail, principal.workspace_id, workflow, float(follow_seconds)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

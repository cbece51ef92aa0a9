"""InputGuard and BodyLimit in front of a small app: what reaches a handler, what is refused."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request

from api.limits import BodyLimit, InputGuard, parse_problems


def app() -> FastAPI:
    served = FastAPI()

    @served.post("/echo")
    async def echo(request: Request) -> Any:
        return {"raw": (await request.body()).decode(errors="replace")}

    @served.get("/search")
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    served.add_middleware(InputGuard)
    served.add_middleware(BodyLimit, max_bytes=2000)
    return served


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://test")


async def test_a_clean_body_reaches_the_handler_unchanged() -> None:
    async with client() as c:
        raw = b'{"a": [1, 2, {"b": "c"}], "n": 1.5}'
        r = await c.post("/echo", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json() == {"raw": raw.decode()}


async def test_refusals_name_the_field_at_fault() -> None:
    deep = "[" * 40 + "]" * 40
    async with client() as c:
        nul = await c.post("/echo", json={"data": {"name": "a\u0000b"}})
        nested = await c.post("/echo", content=f'{{"filters": {deep}}}', headers={"content-type": "application/json"})
        huge = await c.post("/echo", content=b'{"n": 123456789012345678901234567890}')
        nan = await c.post("/echo", content=b'{"x": NaN}', headers={"content-type": "application/json"})
        query = await c.get("/search", params={"q": "a\x00"})
    assert nul.status_code == 422 and nul.json()["error"]["fields"] == {"data.name": "contains a NUL character"}
    assert nested.status_code == 422 and list(nested.json()["error"]["fields"]) == ["filters" + ".0" * 31]
    assert huge.status_code == 422 and huge.json()["error"]["fields"] == {"n": "integer out of range (64 bits)"}
    assert nan.status_code == 422 and "NaN" in nan.json()["error"]["fields"]["body"]
    assert query.status_code == 422 and query.json()["error"] == {
        "code": "AUTO_007", "message": "invalid characters in the request", "fields": {"q": "contains a NUL character"}}


async def test_what_is_not_json_is_left_to_the_route() -> None:
    async with client() as c:
        form = await c.post("/echo", content=b"a=1&b=2", headers={"content-type": "application/x-www-form-urlencoded"})
        broken = await c.post("/echo", content=b'{"a": ', headers={"content-type": "application/json"})
    assert form.json() == {"raw": "a=1&b=2"} and broken.json() == {"raw": '{"a": '}


async def test_an_oversized_body_is_still_413() -> None:
    async with client() as c:
        r = await c.post("/echo", json={"blob": "x" * 5000})
    assert r.status_code == 413


def test_parse_problems_survives_any_depth() -> None:
    assert parse_problems(b"[" * 100_000 + b"]" * 100_000) == {"body": "nested deeper than 32 levels"}
    assert parse_problems(b'{"ok": true}') == {}
    assert parse_problems(b"not json") is None

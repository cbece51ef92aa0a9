"""infra.logs: JSON lines in production, text for a person, for every library's logger."""

from __future__ import annotations

import io
import logging

import orjson

from infra.logs import configure


def test_production_logs_are_one_json_object_per_line() -> None:
    stream = io.StringIO()
    configure("INFO", "json", stream)
    try:
        raise ValueError("bad record")
    except ValueError:
        logging.getLogger("fluxo.executor").exception("failed on %s@%d", "fluxo.executions.v1", 7)
    logging.getLogger("uvicorn.error").info("started")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (orjson.loads(line) for line in lines)
    assert first["event"] == "failed on fluxo.executions.v1@7"
    assert first["level"] == "error" and first["logger"] == "fluxo.executor"
    assert first["exception"][0]["exc_type"] == "ValueError"
    assert second["logger"] == "uvicorn.error" and "timestamp" in second


def test_local_logs_are_text_and_respect_the_level() -> None:
    stream = io.StringIO()
    configure("WARNING", "text", stream)
    logging.getLogger("fluxo.api").info("not shown")
    logging.getLogger("fluxo.api").warning("shown %d", 1)
    out = stream.getvalue()
    assert "not shown" not in out
    assert "shown 1" in out and "fluxo.api" in out
    assert not out.lstrip().startswith("{")

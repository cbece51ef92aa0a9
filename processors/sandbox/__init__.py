"""Custom code in a sandbox: JavaScript (V8, via mini-racer) and a Python subset (Monty, via
pydantic-monty), each run in a pool of worker processes with CPU-time, memory and wall-clock
limits, no network and no filesystem: ``context`` in, a JSON-able ``result`` out.

Used by code nodes, custom-code conditions and ``POST /automation/code/execute``::

    pool = CodePool(size=2, limits=Limits(cpu_seconds=2.0, memory_mb=128, wall_seconds=5.0))
    await pool.start()
    try:
        value = await pool.run("python", "result = context['a'] + 1", {"a": 1})
    except CodeError as error:
        ...  # error.code: CODE_TIMEOUT, CODE_MEMORY, CODE_SECURITY, CODE_SYNTAX, CODE_ERROR,
             # CODE_RESULT or CODE_UNAVAILABLE; error.message: for people
    finally:
        await pool.stop()
"""

from __future__ import annotations

from processors.sandbox.pool import ERROR_CODES, LANGUAGES, CodeError, CodePool, Limits

__all__ = ["ERROR_CODES", "LANGUAGES", "CodeError", "CodePool", "Limits"]

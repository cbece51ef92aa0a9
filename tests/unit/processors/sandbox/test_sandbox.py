"""Unit tests for processors.sandbox: custom JavaScript and Python code in a worker pool.

The pool is real: worker processes running V8 (mini-racer) and Monty (pydantic-monty).
Limits are small (0.5 s of CPU, 64 MB, 2 s wall clock) so the runaway cases stay fast.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from processors.sandbox import CodeError, CodePool, Limits

LIMITS = Limits(cpu_seconds=0.5, memory_mb=64, wall_seconds=2.0)
SECRET_NAME = "FLUXO_SANDBOX_TEST_SECRET"

SEED = (
    "# Check complex business rules\n"
    "user_score = context.get('user', {}).get('score', 0)\n"
    "message_length = len(context.get('event', {}).get('data', {}).get('content', ''))\n"
    "\n"
    "# Set result to True or False\n"
    "result = user_score > 100 and message_length > 10"
)


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[CodePool]:
    os.environ[SECRET_NAME] = "hunter2"  # must not reach the workers
    code_pool = CodePool(size=2, limits=LIMITS)
    try:
        await code_pool.start()
    finally:
        del os.environ[SECRET_NAME]
    yield code_pool
    await code_pool.stop()


async def failure(pool: CodePool, language: str, code: str, **kwargs: Any) -> CodeError:
    with pytest.raises(CodeError) as caught:
        await pool.run(language, code, kwargs.pop("context", {}), **kwargs)
    return caught.value


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) for every process visible in /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), fields[0].decode())
    return table


def descendants(root: int) -> set[int]:
    table = processes()
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _state) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


# --- results --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "context", "expected"),
    [
        ("1 + 2", {}, 3),
        ("context['a'] * 2.5", {"a": 2}, 5.0),
        (
            "result = {'n': context['n'], 'items': [1, 2, None, True]}",
            {"n": 7},
            {"n": 7, "items": [1, 2, None, True]},
        ),
        ("result = [x * x for x in range(4)]", {}, [0, 1, 4, 9]),
        ("result = (1, 'two')", {}, [1, "two"]),
        ("result = 'مرحبا ' + context['name']", {"name": "عالم"}, "مرحبا عالم"),
        ("result = 1\n2", {}, 1),  # `result` wins over the last expression
        ("x = 5", {}, None),
        ("print('noise')\nresult = 3", {}, 3),
        ("import json\nresult = json.loads(context['raw'])['k']", {"raw": '{"k": "v"}'}, "v"),
    ],
)
async def test_python_results(
    pool: CodePool, code: str, context: dict[str, Any], expected: Any
) -> None:
    assert await pool.run("python", code, context) == expected


@pytest.mark.parametrize(
    ("code", "context", "expected"),
    [
        ("return 1 + 2", {}, 3),
        ("return context.a * 2.5", {"a": 2}, 5.0),
        (
            "return {n: context.n, items: [1, 2, null, true]}",
            {"n": 7},
            {"n": 7, "items": [1, 2, None, True]},
        ),
        ("return [0, 1, 2, 3].map(x => x * x)", {}, [0, 1, 4, 9]),
        ("return 'مرحبا ' + context.name", {"name": "عالم"}, "مرحبا عالم"),
        ("return globalThis.context.name.length", {"name": "عالم"}, 4),
        ("const result = {ok: context.flag}", {"flag": True}, {"ok": True}),
        ("var result = 42; return 7", {}, 7),  # `return` wins over `result`
        ("let x = 1", {}, None),
        ("console.log('noise'); return 'quiet'", {}, "quiet"),
    ],
)
async def test_javascript_results(
    pool: CodePool, code: str, context: dict[str, Any], expected: Any
) -> None:
    assert await pool.run("javascript", code, context) == expected


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"user": {"score": 150}, "event": {"data": {"content": "a long enough message"}}}, True),
        ({"user": {"score": 150}, "event": {"data": {"content": "short"}}}, False),
        ({"user": {"score": 50}, "event": {"data": {"content": "a long enough message"}}}, False),
        ({}, False),
    ],
)
async def test_seed_condition(pool: CodePool, context: dict[str, Any], expected: bool) -> None:
    assert await pool.run("python", SEED, context) is expected


async def test_language_aliases(pool: CodePool) -> None:
    assert await pool.run("py", "1", {}) == 1
    assert await pool.run("js", "return 1", {}) == 1
    assert await pool.run("JavaScript", "return 2", {}) == 2


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "line"),
    [
        ("python", "x = 1\ny = (\n", None),
        ("python", "def f(:\n    pass", 1),
        ("javascript", "let x = 1;\nlet y = (;", 2),
        ("javascript", "return {", None),
    ],
)
async def test_syntax_errors(pool: CodePool, language: str, code: str, line: int | None) -> None:
    error = await failure(pool, language, code)
    assert error.code == "CODE_SYNTAX"
    assert "SyntaxError" in error.message
    if line is not None:
        assert f"(line {line})" in error.message
    assert "Traceback" not in error.message and "_worker" not in error.message


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("python", "x = 1\nraise ValueError('bad input')", "ValueError: bad input (line 2)"),
        ("python", "1 / 0", "ZeroDivisionError: division by zero"),
        ("python", "context['missing']", "KeyError"),
        ("javascript", "let x = 1;\nthrow new Error('bad input')", "Error: bad input (line 2)"),
        (
            "javascript",
            "return context.user.name",
            "TypeError: Cannot read properties of undefined",
        ),
        ("javascript", "throw 'plain'", "plain"),
    ],
)
async def test_runtime_errors(pool: CodePool, language: str, code: str, expected: str) -> None:
    error = await failure(pool, language, code)
    assert error.code == "CODE_ERROR"
    assert expected in error.message
    assert "Traceback" not in error.message and "_worker" not in error.message


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "{1, 2}"),
        ("python", "len"),
        ("python", "float('nan')"),
        ("python", "result = {1: 'a'}"),
        ("python", "class A:\n    pass\nresult = A()"),
        ("javascript", "return () => 1"),
        ("javascript", "return {f: function () {}}"),
        ("javascript", "return 10n"),
        ("javascript", "return NaN"),
        ("javascript", "const a = []; a.push(a); return a"),
        ("javascript", "return Promise.resolve(1)"),
        ("python", "10 ** 5000"),  # beyond what Python will print as a JSON number
        ("python", "result = 'x' * (17 * 1024 * 1024)"),  # larger than a result may be
    ],
)
async def test_non_json_results_are_refused(pool: CodePool, language: str, code: str) -> None:
    error = await failure(pool, language, code, limits=Limits(2.0, 128, 4.0))
    assert error.code == "CODE_RESULT", error


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import os\nresult = os.getcwd()"),
        ("python", "from os import path"),
        ("python", "open('/etc/passwd').read()"),
        ("python", "from pathlib import Path\nPath('/etc/passwd').read_text()"),
        ("python", "import socket"),
        ("python", "import subprocess"),
        ("python", "__import__('os')"),
        ("python", "exec('import socket')"),  # past the static check: Monty itself refuses
        ("python", "exec('import os\\nos.environ')"),
        ("javascript", "return require('fs').readFileSync('/etc/passwd', 'utf8')"),
        ("javascript", "return fetch('http://127.0.0.1:9/')"),
        ("javascript", "const r = new XMLHttpRequest(); r.open('GET', 'http://127.0.0.1:9/')"),
        ("javascript", "return process.env"),
        ("javascript", "import fs from 'fs'"),
    ],
)
async def test_security(pool: CodePool, language: str, code: str) -> None:
    error = await failure(pool, language, code)
    assert error.code == "CODE_SECURITY", error


async def test_no_escape_to_the_host(pool: CodePool) -> None:
    # Things that exist but lead nowhere: JS has no timers; dynamic import() has no modules.
    assert await pool.run("javascript", "return typeof setTimeout", {}) == "undefined"
    assert (await failure(pool, "javascript", "return import('fs')")).code == "CODE_RESULT"
    for name in ("require", "process", "fetch", "XMLHttpRequest", "WebSocket", "Deno"):
        assert await pool.run("javascript", f"return typeof {name}", {}) == "undefined"


def environment_of(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


async def test_workers_do_not_inherit_secrets(pool: CodePool) -> None:
    workers = descendants(os.getpid())
    assert workers
    for pid in workers:
        environ = environment_of(pid)
        assert SECRET_NAME.encode() not in environ
        assert b"hunter2" not in environ


async def test_bad_requests(pool: CodePool) -> None:
    assert (await failure(pool, "ruby", "1")).code == "CODE_ERROR"
    with pytest.raises(CodeError) as caught:
        await pool.run("python", "1", {"x": object()})
    assert caught.value.code == "CODE_ERROR"
    with pytest.raises(CodeError) as caught:
        await CodePool(size=1).run("python", "1", {})
    assert caught.value.code == "CODE_UNAVAILABLE"


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "while True:\n    pass"),
        ("python", "try:\n    while True:\n        pass\nexcept TimeoutError:\n    result = 1"),
        ("python", "import time\nwhile True:\n    time.sleep(0.1)"),  # sleeping counts too
        ("javascript", "while (true) {}"),
        ("javascript", "try { while (true) {} } catch (e) { return 1 }"),
        ("javascript", "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)"),
    ],
)
async def test_runaway_code_times_out(pool: CodePool, language: str, code: str) -> None:
    started = time.monotonic()
    error = await failure(pool, language, code)
    assert error.code == "CODE_TIMEOUT", error
    assert time.monotonic() - started < LIMITS.wall_seconds + 1.0
    assert (
        await pool.run(language, "result = 'next'" if language == "python" else "return 'next'", {})
        == "next"
    )


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_wall_clock_bound_kills_the_worker(pool: CodePool, language: str) -> None:
    # CPU budget above the wall clock: only the parent's wall-clock kill can stop this.
    limits = Limits(cpu_seconds=30.0, memory_mb=64, wall_seconds=1.0)
    code = "while True:\n    pass" if language == "python" else "while (true) {}"
    trivial = "1" if language == "python" else "return 1"
    # Both workers up first (earlier tests recycle some): the clock covers only the run.
    assert await asyncio.gather(
        pool.run(language, trivial, {}), pool.run(language, trivial, {})
    ) == [1, 1]
    started = time.monotonic()
    with pytest.raises(CodeError) as caught:
        await pool.run(language, code, {}, limits)
    assert caught.value.code == "CODE_TIMEOUT"
    assert time.monotonic() - started < 2.0
    results = await asyncio.gather(*(pool.run(language, trivial, {}) for _ in range(3)))
    assert results == [1, 1, 1]


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "a = []\nwhile True:\n    a.append('x' * 1000000)"),
        ("python", "s = 'x'\nwhile True:\n    s = s + s"),
        ("javascript", "const a = []; while (true) a.push(new Array(1e6).fill(1.5))"),
        ("javascript", "const a = []; while (true) a.push(new Float64Array(1 << 20))"),
        ("javascript", "return new ArrayBuffer(1024 * 1024 * 1024).byteLength"),
    ],
)
async def test_memory_bomb_is_stopped(pool: CodePool, language: str, code: str) -> None:
    # Enough CPU time for the memory limit, not the time limit, to be what stops it.
    error = await failure(pool, language, code, limits=Limits(2.0, 64, 4.0))
    assert error.code == "CODE_MEMORY", error
    assert (
        await pool.run(language, "result = 'next'" if language == "python" else "return 'next'", {})
        == "next"
    )


# --- pool -----------------------------------------------------------------------------------


async def test_runs_beyond_the_pool_size_wait_their_turn(pool: CodePool) -> None:
    js = "let s = 0; for (let i = 0; i < 200000; i++) s += i; return s + context.k"
    py = "result = sum(range(20000)) + context['k']"
    runs = [
        pool.run("javascript" if k % 2 else "python", js if k % 2 else py, {"k": k})
        for k in range(6)
    ]
    results = await asyncio.gather(*runs)
    assert results == [(19999900000 if k % 2 else 199990000) + k for k in range(6)]


async def test_stop_leaves_no_child_processes() -> None:
    before = descendants(os.getpid())
    own = CodePool(size=2, limits=LIMITS)
    await own.start()
    assert await asyncio.gather(
        own.run("python", "1", {}), own.run("javascript", "return 2", {})
    ) == [1, 2]
    started = descendants(os.getpid()) - before
    assert len(started) >= 2  # two workers, and their monty interpreter processes
    running = asyncio.ensure_future(
        own.run("python", "while True:\n    pass", {}, Limits(30, 64, 30))
    )
    await asyncio.sleep(0.2)
    await own.stop()
    with pytest.raises(CodeError) as caught:
        await running
    assert caught.value.code == "CODE_UNAVAILABLE"
    left = {pid for pid in started if os.path.exists(f"/proc/{pid}")}
    assert not left, processes()
    assert not (descendants(os.getpid()) - before)
    with pytest.raises(CodeError) as caught:
        await own.run("python", "1", {})
    assert caught.value.code == "CODE_UNAVAILABLE"

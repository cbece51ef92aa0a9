"""The custom-code sandbox: a pool of worker processes running JavaScript and a Python subset.

JavaScript runs in V8 (``mini-racer``): ``context`` is a global and also the one parameter of
the function whose body is the code; ``return`` gives the result, else a ``result`` variable.
Python runs in Monty (``pydantic-monty``), an interpreter for a Python subset with no
filesystem, network or host access: the code sees ``context``; the result is the ``result``
variable if the code sets one, else the value of the last expression.

Each run goes to one worker process of the pool (at most ``size`` runs at once; the others
wait). Workers start with a scrubbed environment, in a session of their own, and limit their
own CPU time and memory (see ``_worker.py``); this side enforces the wall-clock bound by
killing the worker, and replaces any worker that timed out, ran out of memory or died.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import struct
import sys
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from schemas.errors import InvalidInput

__all__ = ["ERROR_CODES", "LANGUAGES", "CodeError", "CodePool", "Limits"]

ERROR_CODES: Final = frozenset(
    {
        "CODE_TIMEOUT",
        "CODE_MEMORY",
        "CODE_SECURITY",
        "CODE_SYNTAX",
        "CODE_ERROR",
        "CODE_RESULT",
        "CODE_UNAVAILABLE",
    }
)
LANGUAGES: Final = {
    "javascript": "javascript",
    "js": "javascript",
    "python": "python",
    "py": "python",
}

MAX_CODE_BYTES: Final = 1024 * 1024
STARTUP_TIMEOUT_SECONDS: Final = 30.0
TERMINATE_GRACE_SECONDS: Final = 1.0
RUNS_PER_WORKER: Final = 1000  # recycle workers now and then, so nothing accumulates
_WORKER_SCRIPT: Final = Path(__file__).with_name("_worker.py")
# The worker's whole environment: no secret of ours reaches it.
_WORKER_ENV: Final = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}
# Deaths by these signals (or an abnormal exit) under a memory limit mean it was exhausted:
# allocation failures abort, V8's out-of-memory handler traps, the kernel's OOM killer kills.
_MEMORY_DEATHS: Final = frozenset(
    {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGTRAP, signal.SIGILL, signal.SIGKILL}
)


class CodeError(InvalidInput):
    """A run that did not produce a result; ``code`` says why, ``message`` says it for people."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.args = (code, message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0  # CPU time per run
    memory_mb: int = 128  # memory for the run
    wall_seconds: float = 5.0  # hard wall-clock bound per run

    def __post_init__(self) -> None:
        if not self.cpu_seconds > 0 or not self.wall_seconds > 0 or not self.memory_mb > 0:
            raise ValueError(f"sandbox limits must be positive: {self!r}")


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.runs = 0
        self.languages: frozenset[str] = frozenset()

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def send(self, body: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(struct.pack(">I", len(body)) + body)
        await stdin.drain()

    async def receive(self) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        (size,) = struct.unpack(">I", await stdout.readexactly(4))
        message = json.loads(await stdout.readexactly(size))
        if not isinstance(message, dict):
            raise TypeError("malformed message from a sandbox worker")
        return message

    async def exchange(self, body: bytes) -> dict[str, Any]:
        await self.send(body)
        return await self.receive()


class CodePool:
    """A pool of ``size`` sandbox worker processes; ``start()`` it before ``run()``."""

    def __init__(self, size: int = 2, limits: Limits = Limits()) -> None:
        if size < 1:
            raise ValueError("a code pool needs at least one worker")
        self._size = size
        self._limits = limits
        self._running = False
        self._slots = asyncio.Semaphore(size)
        # Workers ready to take a run, or being started for that: each entry is a future.
        self._idle: collections.deque[asyncio.Future[_Worker]] = collections.deque()
        self._workers: set[_Worker] = set()  # every live process, idle or busy
        self._chores: set[asyncio.Task[None]] = set()  # kills in the background

    @property
    def size(self) -> int:
        return self._size

    @property
    def limits(self) -> Limits:
        return self._limits

    async def start(self) -> None:
        """Start the workers; fails with CODE_UNAVAILABLE if none of them can start."""
        if self._running:
            return
        self._running = True
        started = [asyncio.ensure_future(self._spawn()) for _ in range(self._size)]
        await asyncio.wait(started)
        failures = [task.exception() for task in started if task.exception() is not None]
        if len(failures) == len(started):
            await self.stop()
            error = failures[0]
            assert error is not None
            raise error
        self._idle.extend(started)

    async def stop(self) -> None:
        """Stop every worker (runs in progress fail with CODE_UNAVAILABLE); idempotent."""
        self._running = False
        pending = list(self._idle)
        self._idle.clear()
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*(self._kill(worker) for worker in list(self._workers)))
        while self._chores:
            await asyncio.gather(*list(self._chores), return_exceptions=True)

    async def run(
        self,
        language: str,
        code: str,
        context: dict[str, Any],
        limits: Limits | None = None,
    ) -> Any:
        """Run ``code`` on ``context`` and return its JSON-able result, or raise CodeError."""
        limits = limits or self._limits
        request = _encode_request(language, code, context, limits)
        if not self._running:
            raise CodeError("CODE_UNAVAILABLE", "the code sandbox is not running")
        async with self._slots:
            if not self._running:
                raise CodeError("CODE_UNAVAILABLE", "the code sandbox is not running")
            worker = await self._acquire()
            healthy = False
            try:
                if _language_of(language) not in worker.languages:
                    healthy = True
                    raise CodeError(
                        "CODE_UNAVAILABLE", f"{_language_of(language)} is not available here"
                    )
                reply = await self._exchange(worker, request, limits)
                worker.runs += 1
                healthy = not reply.get("recycle") and worker.runs < RUNS_PER_WORKER
            finally:
                self._release(worker, healthy)
        if reply.get("ok"):
            return reply.get("value")
        code_name = reply.get("code")
        message = str(reply.get("message") or "the code failed")
        raise CodeError(code_name if code_name in ERROR_CODES else "CODE_ERROR", message)

    # --- workers ----------------------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",  # isolated: no PYTHON* variables, no user site, no script dir on the path
                "-B",
                str(_WORKER_SCRIPT),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=dict(_WORKER_ENV),
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            raise CodeError("CODE_UNAVAILABLE", f"cannot start a sandbox worker: {exc}") from None
        worker = _Worker(process)
        self._workers.add(worker)
        try:
            hello = await asyncio.wait_for(worker.receive(), STARTUP_TIMEOUT_SECONDS)
            if not hello.get("ready"):
                reason = str(hello.get("fatal") or "no engine could start")
                raise CodeError("CODE_UNAVAILABLE", f"the sandbox worker did not start: {reason}")
            worker.languages = frozenset(str(name) for name in hello.get("languages", []))
            if not self._running:
                raise CodeError("CODE_UNAVAILABLE", "the code sandbox is not running")
        except BaseException as exc:
            await asyncio.shield(self._kill(worker))
            if isinstance(
                exc, (TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, TypeError)
            ):
                raise CodeError("CODE_UNAVAILABLE", "a sandbox worker failed to start") from None
            raise
        return worker

    async def _acquire(self) -> _Worker:
        while self._idle:
            if not self._running:
                raise CodeError("CODE_UNAVAILABLE", "the code sandbox is not running")
            future = self._idle.popleft()
            try:
                worker = await asyncio.shield(future)
            except CodeError:
                continue  # a replacement that failed to start: start one now instead
            except asyncio.CancelledError:
                if future.cancelled():
                    continue
                self._idle.appendleft(future)  # we were cancelled: leave it for the next run
                raise
            if worker.alive:
                return worker
            self._discard(worker)
        if not self._running:
            raise CodeError("CODE_UNAVAILABLE", "the code sandbox is not running")
        return await self._spawn()

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and self._running and worker.alive:
            future: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
            future.set_result(worker)
            self._idle.append(future)
            return
        self._discard(worker)
        if self._running:
            replacement = asyncio.ensure_future(self._spawn())
            replacement.add_done_callback(_consume_exception)
            self._idle.append(replacement)

    def _discard(self, worker: _Worker) -> None:
        chore = asyncio.ensure_future(self._kill(worker))
        self._chores.add(chore)
        chore.add_done_callback(self._chores.discard)

    async def _exchange(self, worker: _Worker, request: bytes, limits: Limits) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(worker.exchange(request), limits.wall_seconds)
        except TimeoutError:
            raise CodeError(
                "CODE_TIMEOUT", f"the code did not finish within {limits.wall_seconds:g} s"
            ) from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, TypeError):
            pass
        if not self._running:
            raise CodeError("CODE_UNAVAILABLE", "the code sandbox was stopped")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.process.wait(), TERMINATE_GRACE_SECONDS)
        raise _death_error(worker.process.returncode)

    async def _kill(self, worker: _Worker) -> None:
        """Stop a worker and its children: SIGTERM (it kills and reaps its children), then
        SIGKILL to its whole process group for whatever is left."""
        process = worker.process
        try:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), TERMINATE_GRACE_SECONDS)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        finally:
            self._workers.discard(worker)
            if process.stdin is not None:
                process.stdin.close()


def _consume_exception(future: asyncio.Future[_Worker]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved here; the run that takes it handles it


def _language_of(language: str) -> str:
    name = LANGUAGES.get(language.strip().lower()) if isinstance(language, str) else None
    if name is None:
        raise CodeError(
            "CODE_ERROR", f"unsupported language {language!r}: use 'javascript' or 'python'"
        )
    return name


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"a value of type {type(value).__name__} is not JSON-serializable")


def _encode_request(language: str, code: str, context: dict[str, Any], limits: Limits) -> bytes:
    name = _language_of(language)
    if not isinstance(code, str):
        raise CodeError("CODE_ERROR", "the code must be a string")
    if len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        raise CodeError("CODE_ERROR", f"the code is larger than {MAX_CODE_BYTES} bytes")
    if not isinstance(context, dict):
        raise CodeError("CODE_ERROR", "the context must be a dict")
    request = {
        "language": name,
        "code": code,
        "context": context,
        "limits": {"cpu_seconds": limits.cpu_seconds, "memory_mb": limits.memory_mb},
    }
    try:
        text = json.dumps(request, ensure_ascii=False, allow_nan=False, default=_json_default)
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise CodeError("CODE_ERROR", f"the context is not JSON-serializable: {exc}") from None


def _death_error(returncode: int | None) -> CodeError:
    if returncode is not None and returncode < 0:
        number = -returncode
        if number == signal.SIGXCPU:
            return CodeError("CODE_TIMEOUT", "the code exceeded its CPU time limit")
        if number in _MEMORY_DEATHS:
            return CodeError("CODE_MEMORY", "the code exhausted its memory and was stopped")
    return CodeError(
        "CODE_ERROR", f"the sandbox process ended unexpectedly (exit status {returncode})"
    )

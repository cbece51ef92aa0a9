"""The sandbox worker: one process of a ``CodePool``, running one user script at a time.

The pool starts this file as a plain script (``python -I -B _worker.py``) with an almost
empty environment, in a session of its own, so that it imports nothing from the project and
inherits no secret. It needs only the standard library, ``py_mini_racer`` (JavaScript in V8)
and ``pydantic_monty`` (a Python subset; its interpreter runs in ``monty`` child processes
of this worker, one fresh child per run).

Protocol, over stdin/stdout: every message is a 4-byte big-endian length followed by that
many bytes of UTF-8 JSON. The worker first sends ``{"ready": true, "languages": [...]}`` (or
``{"fatal": "..."}`` and exits), then answers each request
``{"language", "code", "context", "limits": {"cpu_seconds", "memory_mb"}}`` with
``{"ok": true, "value": ...}`` or ``{"ok": false, "code": "CODE_...", "message": "..."}``.
A reply carrying ``"recycle": true`` means the worker exits after it and must be replaced.

Limits, layered (the parent adds the last one, the wall clock):

* in the engine: V8's execution timeout and hard heap limit, Monty's feed duration and heap
  limits (these fail cleanly, with a precise error);
* in the kernel: ``RLIMIT_CPU`` (SIGXCPU) and ``RLIMIT_DATA`` on this process while it runs
  JavaScript, ``RLIMIT_CPU`` and ``RLIMIT_AS``/``RLIMIT_DATA`` on the ``monty`` child while it
  runs Python. V8 reserves over a terabyte of address space for its sandbox, so this process
  cannot use ``RLIMIT_AS``; ``RLIMIT_DATA`` bounds the writable memory it really commits.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import resource
import signal
import struct
import sys
import threading
import time
from typing import IO, Any, Final, NoReturn

MB: Final = 1024 * 1024
ENV_KEEP: Final = frozenset({"PATH", "LANG", "LC_ALL"})
MAX_RESULT_BYTES: Final = 16 * MB
MAX_RESULT_DEPTH: Final = 200
MAX_PRINT_BYTES: Final = 64 * 1024
# Kernel limits sit a little above the engines' own limits, so that the engines, which fail
# cleanly, normally trip first; the kernel is the backstop for what they miss.
CPU_GRACE_SECONDS: Final = 1.0
MEMORY_SLACK_MB: Final = 64

# Modules whose import is refused up front: the filesystem, processes, the network and the
# interpreter's own machinery. Monty has no real implementation of any of them (its `os` and
# `pathlib` are virtual, without a host to call), so this is a clear error, not the fence.
# fmt: off
PY_FORBIDDEN_MODULES: Final = frozenset({
    "_thread", "aiohttp", "builtins", "code", "codeop", "ctypes", "dbm", "fcntl",
    "fileinput", "ftplib", "gc", "glob", "grp", "http", "httpx", "imaplib", "importlib",
    "inspect", "io", "marshal", "mmap", "multiprocessing", "nt", "os", "pathlib", "pickle",
    "pkgutil", "platform", "poplib", "posix", "pty", "pwd", "requests", "resource", "runpy",
    "select", "selectors", "shelve", "shutil", "signal", "smtplib", "socket",
    "socketserver", "sqlite3", "ssl", "subprocess", "telnetlib", "tempfile", "termios",
    "threading", "tty", "urllib", "urllib3", "webbrowser", "xmlrpc", "zipimport",
})
PY_FORBIDDEN_NAMES: Final = frozenset({
    "__builtins__", "__import__", "breakpoint", "compile", "globals", "input", "locals",
    "open", "vars",
})
JS_FORBIDDEN_NAMES: Final = frozenset({
    "Buffer", "Bun", "Deno", "EventSource", "WebSocket", "Worker", "XMLHttpRequest",
    "__dirname", "__filename", "document", "exports", "fetch", "importScripts", "module",
    "navigator", "process", "require", "window",
})
# fmt: on

# Compiled once per run, in a fresh V8 context, before any user code: it captures the
# builtins it relies on, so user code that replaces JSON.stringify & co cannot fool it.
JS_RUNNER: Final = r"""
(function () {
  'use strict';
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const apply = Reflect.apply;
  const toStr = String;
  const isFiniteNumber = Number.isFinite;
  // No timers: a run is one synchronous call, and nothing may outlive it.
  for (const name of ['setTimeout', 'clearTimeout', '__timer_manager']) {
    try {
      if (!Reflect.deleteProperty(globalThis, name)) globalThis[name] = undefined;
    } catch (e) { /* leave it */ }
  }
  function describe(error) {
    try {
      if (error !== null && typeof error === 'object' && typeof error.name === 'string') {
        const message = toStr(error.message === undefined ? '' : error.message);
        return message ? error.name + ': ' + message : error.name;
      }
      return 'Uncaught ' + toStr(error);
    } catch (e) {
      return 'Uncaught exception';
    }
  }
  function stackOf(error) {
    try {
      return (error !== null && typeof error === 'object' && typeof error.stack === 'string')
        ? error.stack : '';
    } catch (e) {
      return '';
    }
  }
  function replacer(key, value) {
    const kind = typeof value;
    if (kind === 'function' || kind === 'symbol' || kind === 'bigint') {
      throw new TypeError('a ' + kind + ' is not JSON-serializable');
    }
    if (kind === 'number' && !isFiniteNumber(value)) {
      throw new TypeError(toStr(value) + ' is not JSON-serializable');
    }
    return value;
  }
  return function run(fn, contextJson) {
    const context = parse(contextJson);
    globalThis.context = context;
    let value;
    try {
      value = apply(fn, undefined, [context]);
    } catch (error) {
      return stringify({ kind: 'error', message: describe(error), stack: stackOf(error) });
    }
    try {
      if (value !== null && (typeof value === 'object' || typeof value === 'function')
          && typeof value.then === 'function') {
        return stringify({ kind: 'result',
          message: 'the code returned a Promise; asynchronous results are not supported' });
      }
      const text = stringify(value === undefined ? null : value, replacer);
      if (typeof text !== 'string') {
        return stringify({ kind: 'result', message: 'the result is not JSON-serializable' });
      }
      return '{"kind":"ok","value":' + text + '}';
    } catch (error) {
      return stringify({ kind: 'result',
        message: 'the result is not JSON-serializable: ' + describe(error) });
    }
  };
})()
"""
# Appended to the function body: without a `return`, the value of a `result` variable.
JS_RESULT_SUFFIX: Final = "\n;return typeof result === 'undefined' ? undefined : result;"
# `new Function('context', body)` puts the body on line 3 of the source V8 reports.
JS_LINE_OFFSET: Final = 2


class Failure(Exception):
    """A run that ended in a user-visible error (code, message); `recycle` ends the worker."""

    def __init__(self, code: str, message: str, *, recycle: bool = False) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.recycle = recycle


# --- process set-up -------------------------------------------------------------------------


def scrub_environment() -> None:
    for name in list(os.environ):
        if name not in ENV_KEEP:
            del os.environ[name]


def child_pids() -> list[int]:
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(entry))
    return found


def kill_children() -> None:
    """Kill and reap this worker's children (the monty processes), so none outlives it."""
    pids = child_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # already reaped by the monty pool


def on_terminate(signum: int, _frame: object) -> NoReturn:
    kill_children()
    os._exit(128 + signum)


def status_kb(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rfind(b")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class SelfLimits:
    """Soft CPU and data limits on this process for the duration of one JavaScript run.

    Only soft limits move: the hard ones stay where they were, so that the next run (with its
    larger accumulated CPU time) can raise them again without privileges.
    """

    def __init__(self, cpu_seconds: float, memory_mb: int) -> None:
        self.cpu_seconds = cpu_seconds
        self.memory_mb = memory_mb
        self.saved: dict[int, tuple[int, int]] = {}

    def __enter__(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = usage.ru_utime + usage.ru_stime
        data_kb = status_kb("self", "VmData")
        self._set(resource.RLIMIT_CPU, math.ceil(used + self.cpu_seconds + CPU_GRACE_SECONDS))
        self._set(resource.RLIMIT_DATA, data_kb * 1024 + (self.memory_mb + MEMORY_SLACK_MB) * MB)

    def _set(self, which: int, soft: int) -> None:
        current_soft, hard = resource.getrlimit(which)
        self.saved[which] = (current_soft, hard)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    def __exit__(self, *_exc: object) -> None:
        for which, limits in self.saved.items():
            resource.setrlimit(which, limits)


def limit_child(pid: int, cpu_seconds: float, memory_mb: int) -> None:
    """CPU, address-space and data limits on the monty child that is about to run the code."""
    used = cpu_seconds_of(pid)
    cpu = math.ceil(used + cpu_seconds + CPU_GRACE_SECONDS)
    resource.prlimit(pid, resource.RLIMIT_CPU, (cpu, cpu + 1))
    extra = (memory_mb + MEMORY_SLACK_MB) * MB
    address_space = status_kb(pid, "VmSize") * 1024 + extra
    data = status_kb(pid, "VmData") * 1024 + extra
    resource.prlimit(pid, resource.RLIMIT_AS, (address_space, address_space))
    resource.prlimit(pid, resource.RLIMIT_DATA, (data, data))


# --- results --------------------------------------------------------------------------------


def describe_value(value: object) -> str:
    kind = type(value).__name__
    if kind == "MontyStdTypeProxy":
        return f"{getattr(value, 'kind', 'object')} {getattr(value, 'name', '')!r}"
    if kind in ("MontyClassProxy", "MontyClassTypeProxy"):
        return f"an instance of class {getattr(value, 'name', '?')!r}"
    return kind


def jsonable(value: Any, depth: int = 0) -> Any:
    """The value as plain JSON data (tuples become lists), or a CODE_RESULT failure."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Failure("CODE_RESULT", f"the result contains {value!r}, which is not valid JSON")
        return value
    if depth >= MAX_RESULT_DEPTH:
        raise Failure("CODE_RESULT", "the result is nested too deeply")
    if isinstance(value, (list, tuple)):
        return [jsonable(item, depth + 1) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Failure(
                    "CODE_RESULT",
                    f"the result has a dict key of type {type(key).__name__}; keys must be strings",
                )
            out[key] = jsonable(item, depth + 1)
        return out
    raise Failure("CODE_RESULT", f"the result is not JSON-serializable: {describe_value(value)}")


# --- Python (pydantic-monty) ----------------------------------------------------------------


class PythonEngine:
    def __init__(self) -> None:
        import pydantic_monty

        self.monty = pydantic_monty
        # The `monty` binary comes from the pydantic-monty-runtime wheel, in this
        # interpreter's scripts directory, where pydantic_monty looks for it.
        self.pool = pydantic_monty.Monty(
            min_processes=1,
            max_processes=1,
            # A fresh interpreter process for every run: nothing carries over.
            max_checkouts_per_worker=1,
            checkout_timeout=30.0,
            feed_duration_limit_grace=0.5,
            turn_duration_limit_grace=0.5,
        )
        self.pool.__enter__()
        self.run("result = 1", {}, 5.0, 64)  # warm up, and prove it works

    def close(self) -> None:
        self.pool.__exit__(None, None, None)

    def run(self, code: str, context: dict[str, Any], cpu_seconds: float, memory_mb: int) -> Any:
        monty = self.monty
        refused = forbidden_import(code)
        if refused is not None:
            raise Failure(
                "CODE_SECURITY", f"import of module {refused!r} is not allowed in the sandbox"
            )
        limits: Any = {
            "max_feed_duration_secs": cpu_seconds,
            "max_turn_duration_secs": cpu_seconds,
            "max_memory": memory_mb * MB,
            "max_total_sleep_secs": cpu_seconds,
        }
        printed = monty.CollectString(max_bytes=MAX_PRINT_BYTES)
        try:
            with self.pool.checkout(limits=limits, script_name="code.py") as session:
                pid = session.worker_pid
                if pid is None:
                    raise Failure("CODE_UNAVAILABLE", "the Python interpreter is not available")
                try:
                    limit_child(pid, cpu_seconds, memory_mb)
                except (OSError, ValueError):
                    raise Failure(
                        "CODE_UNAVAILABLE", "the Python interpreter could not be limited"
                    ) from None
                value = session.feed_run(code, inputs={"context": context}, print_callback=printed)
                try:
                    value = session.feed_run("result", print_callback=printed)
                except monty.MontyRuntimeError as exc:
                    if not isinstance(exc.exception(), NameError):
                        raise
        except monty.MontyError as exc:
            raise self.failure(exc, code) from None
        return jsonable(value)

    def failure(self, exc: Exception, code: str) -> Failure:
        monty = self.monty
        if isinstance(exc, monty.MontySyntaxError):
            return Failure("CODE_SYNTAX", with_line(exc.display("type-msg"), exc.traceback(), code))
        if isinstance(exc, monty.MontyCrashedError):
            text = str(exc)
            if exc.timed_out or "SIGXCPU" in text:
                return Failure("CODE_TIMEOUT", "the code exceeded its CPU time limit")
            return Failure("CODE_MEMORY", "the interpreter ran out of memory and was stopped")
        if isinstance(exc, monty.MontyRuntimeError):
            inner = exc.exception()
            text = exc.display("type-msg")
            plain = str(inner)
            if isinstance(inner, TimeoutError) and "limit exceeded" in plain:
                return Failure("CODE_TIMEOUT", f"the code exceeded its time limit ({plain})")
            if isinstance(inner, MemoryError) and "memory limit" in plain:
                return Failure("CODE_MEMORY", f"the code exceeded its memory limit ({plain})")
            if isinstance(inner, PermissionError):
                return Failure("CODE_SECURITY", f"{text} (no filesystem access in the sandbox)")
            if isinstance(inner, RuntimeError) and "not supported in this environment" in plain:
                return Failure("CODE_SECURITY", text)
            if isinstance(inner, ModuleNotFoundError):
                match = re.search(r"No module named '([^']+)'", plain)
                if match and match.group(1).split(".")[0] in PY_FORBIDDEN_MODULES:
                    return Failure(
                        "CODE_SECURITY",
                        f"import of module {match.group(1)!r} is not allowed in the sandbox",
                    )
            if isinstance(inner, NameError):
                match = re.search(r"name '([^']+)' is not defined", plain)
                if match and match.group(1) in PY_FORBIDDEN_NAMES:
                    return Failure(
                        "CODE_SECURITY", f"{match.group(1)!r} is not available in the sandbox"
                    )
            return Failure("CODE_ERROR", with_line(text, exc.traceback(), code))
        if isinstance(exc, monty.MontyConversionError):
            return Failure("CODE_ERROR", f"the context could not be passed to the code: {exc}")
        return Failure("CODE_ERROR", str(exc) or type(exc).__name__)


def with_line(message: str, frames: list[Any], code: str) -> str:
    if not frames:
        return message
    line = getattr(frames[-1], "line", None)
    if not isinstance(line, int) or line < 1:
        return message
    return f"{message} (line {min(line, code.count(chr(10)) + 1)})"


def forbidden_import(code: str) -> str | None:
    """The first forbidden module the code imports, by a static look at its syntax tree.

    Code CPython cannot parse is left to Monty, which reports its own syntax error.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PY_FORBIDDEN_MODULES:
                return name
    return None


# --- JavaScript (mini-racer) ----------------------------------------------------------------


class JavaScriptEngine:
    def __init__(self) -> None:
        import py_mini_racer

        # Single-threaded V8 without the JIT: no executable memory, no WebAssembly, a small
        # committed footprint (RLIMIT_DATA stays meaningful) and a smaller attack surface.
        py_mini_racer.init_mini_racer(flags=["--single-threaded", "--jitless"])
        self.racer = py_mini_racer
        self.run("return 1", {}, 5.0, 64)  # warm up, and prove it works

    def run(self, code: str, context: dict[str, Any], cpu_seconds: float, memory_mb: int) -> Any:
        racer = self.racer
        context_json = json.dumps(context, ensure_ascii=False, allow_nan=False)
        deadline = time.monotonic() + cpu_seconds
        ctx = racer.MiniRacer()
        handles: list[Any] = []  # JS values, dropped before their context is closed
        try:
            output = self._call(ctx, handles, code, context_json, cpu_seconds, memory_mb, deadline)
        finally:
            handles.clear()
            ctx.close()
        if not isinstance(output, str):
            raise Failure("CODE_ERROR", "the sandbox runner returned no result", recycle=True)
        try:
            outcome = json.loads(output)
        except RecursionError:
            raise Failure("CODE_RESULT", "the result is nested too deeply") from None
        kind = outcome.get("kind")
        if kind == "ok":
            return jsonable(outcome.get("value"))
        message = str(outcome.get("message") or "Uncaught exception")
        if kind == "result":
            raise Failure("CODE_RESULT", first_line(message))
        raise js_runtime_failure(message, str(outcome.get("stack") or ""), code)

    def _call(
        self,
        ctx: Any,
        handles: list[Any],
        code: str,
        context_json: str,
        cpu_seconds: float,
        memory_mb: int,
        deadline: float,
    ) -> Any:
        # JS values live only in `handles`, never in locals that a traceback would keep.
        racer = self.racer
        ctx.set_hard_memory_limit(memory_mb * MB)
        handles.append(ctx.eval(JS_RUNNER))
        body = json.dumps(code + JS_RESULT_SUFFIX)
        try:
            handles.append(ctx.eval(f"new Function('context', {body})", timeout_sec=cpu_seconds))
        except racer.JSTimeoutException:
            raise js_timeout() from None
        except racer.JSOOMException:
            raise js_out_of_memory() from None
        except racer.JSEvalException as exc:
            raise js_compile_failure(str(exc), code) from None
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            return handles[0](handles[1], context_json, timeout_sec=remaining)
        except racer.JSTimeoutException:
            if ctx.was_hard_memory_limit_reached():  # out of time while fighting for memory
                raise js_out_of_memory() from None
            raise js_timeout() from None
        except racer.JSOOMException:
            raise js_out_of_memory() from None
        except racer.JSEvalException as exc:
            if ctx.was_hard_memory_limit_reached():
                raise js_out_of_memory() from None
            raise Failure("CODE_ERROR", first_line(str(exc)), recycle=True) from None


# After a timeout or running out of memory, the worker is replaced: V8 got through it, but
# a fresh process is the only state we can vouch for.
def js_timeout() -> Failure:
    return Failure("CODE_TIMEOUT", "the code exceeded its time limit", recycle=True)


def js_out_of_memory() -> Failure:
    return Failure("CODE_MEMORY", "the code exceeded its memory limit", recycle=True)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "JavaScript error"


def js_compile_failure(text: str, code: str) -> Failure:
    head = first_line(text)
    match = re.match(r"^[^:]*:(\d+): (SyntaxError: .*)$", head)
    if match is None:
        if "SyntaxError" in head:
            return Failure("CODE_SYNTAX", head)
        return Failure("CODE_ERROR", head)
    message = match.group(2)
    if "import statement" in message or "import.meta" in message:
        return Failure(
            "CODE_SECURITY", "import statements are not available: the sandbox has no modules"
        )
    line = min(max(int(match.group(1)) - JS_LINE_OFFSET, 1), code.count("\n") + 1)
    return Failure("CODE_SYNTAX", f"{message} (line {line})")


def js_runtime_failure(message: str, stack: str, code: str) -> Failure:
    match = re.match(r"^ReferenceError: (\S+) is not defined$", message)
    if match and match.group(1) in JS_FORBIDDEN_NAMES:
        return Failure("CODE_SECURITY", f"{match.group(1)!r} is not available in the sandbox")
    if message.startswith("RangeError: Array buffer allocation failed"):
        return Failure("CODE_MEMORY", f"the code exceeded its memory limit ({message})")
    for frame in stack.splitlines()[1:]:
        if "eval at" not in frame:
            continue
        positions = re.findall(r"<anonymous>:(\d+):\d+\)", frame)
        if positions:
            line = int(positions[-1]) - JS_LINE_OFFSET
            if 1 <= line <= code.count("\n") + 1:
                return Failure("CODE_ERROR", f"{message} (line {line})")
        break
    return Failure("CODE_ERROR", message)


# --- the loop -------------------------------------------------------------------------------


class Channel:
    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.reader = reader
        self.writer = writer

    def receive(self) -> Any:
        header = self._read(4)
        if header is None:
            return None
        (size,) = struct.unpack(">I", header)
        body = self._read(size)
        if body is None:
            return None
        return json.loads(body)

    def _read(self, size: int) -> bytes | None:
        chunks = []
        while size:
            chunk = self.reader.read(size)
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False, allow_nan=False).encode()
        self.writer.write(struct.pack(">I", len(body)) + body)
        self.writer.flush()


class Worker:
    def __init__(self) -> None:
        self.engines: dict[str, PythonEngine | JavaScriptEngine] = {}
        self.problems: list[str] = []
        for language, engine in (("python", PythonEngine), ("javascript", JavaScriptEngine)):
            try:
                self.engines[language] = engine()
            except Exception as exc:  # noqa: BLE001 - that language is unavailable, not the rest
                self.problems.append(f"{language}: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        engine = self.engines.get("python")
        if isinstance(engine, PythonEngine):
            engine.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            value = self.dispatch(request)
            reply = {"ok": True, "value": value}
            try:
                size = len(json.dumps(reply, ensure_ascii=False, allow_nan=False).encode())
            except (ValueError, RecursionError) as exc:  # e.g. an int too long to print
                raise Failure(
                    "CODE_RESULT", f"the result cannot be encoded as JSON: {exc}"
                ) from None
            if size > MAX_RESULT_BYTES:
                raise Failure("CODE_RESULT", f"the result is larger than {MAX_RESULT_BYTES} bytes")
            return reply
        except Failure as failure:
            return {
                "ok": False,
                "code": failure.code,
                "message": failure.message,
                "recycle": failure.recycle,
            }
        except MemoryError:
            return {
                "ok": False,
                "code": "CODE_MEMORY",
                "message": "the code exceeded its memory limit",
                "recycle": True,
            }
        except Exception as exc:  # noqa: BLE001 - no bug of ours may reach the caller raw
            return {
                "ok": False,
                "code": "CODE_ERROR",
                "message": f"internal sandbox error ({type(exc).__name__})",
                "recycle": True,
            }

    def dispatch(self, request: dict[str, Any]) -> Any:
        language = request["language"]
        engine = self.engines.get(language)
        if engine is None:
            raise Failure("CODE_UNAVAILABLE", f"{language} is not available in this sandbox")
        limits = request["limits"]
        cpu_seconds = float(limits["cpu_seconds"])
        memory_mb = int(limits["memory_mb"])
        if isinstance(engine, JavaScriptEngine):
            with SelfLimits(cpu_seconds, memory_mb):
                return engine.run(request["code"], request["context"], cpu_seconds, memory_mb)
        return engine.run(request["code"], request["context"], cpu_seconds, memory_mb)


def handle_in_thread(worker: Worker, request: dict[str, Any]) -> dict[str, Any]:
    """Handle one request in a thread, so that the main thread stays free to act on SIGTERM
    from the pool at any time, even while an engine blocks in native code."""
    replies: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: replies.append(worker.handle(request)))
    thread.start()
    thread.join()
    if replies:
        return replies[0]
    return {"ok": False, "code": "CODE_ERROR", "message": "internal sandbox error", "recycle": True}


def main() -> NoReturn:
    reader = sys.stdin.buffer
    writer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything an engine prints goes to stderr, never into the protocol
    scrub_environment()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # no file is ever written
    signal.signal(signal.SIGTERM, on_terminate)
    channel = Channel(reader, writer)
    worker = Worker()
    if not worker.engines:
        channel.send({"fatal": "; ".join(worker.problems)})
        kill_children()
        os._exit(1)
    channel.send({"ready": True, "languages": sorted(worker.engines), "problems": worker.problems})
    while True:
        try:
            request = channel.receive()
        except (OSError, ValueError):
            break
        if request is None:
            break
        reply = handle_in_thread(worker, request)
        try:
            channel.send(reply)
        except OSError:
            break
        if reply.get("recycle"):
            break
    try:
        worker.close()
    finally:
        kill_children()
        os._exit(0)


if __name__ == "__main__":
    main()

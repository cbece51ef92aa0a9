"""The pure core imports no I/O library: checked in a fresh interpreter, module by module.

import-linter (pyproject.toml, `make lint`) holds the same rule over the import graph;
this test holds it over what Python really loads, including imports made at run time
by the packages we depend on.
"""

from __future__ import annotations

import json
import subprocess
import sys

PURE = ["processors.engine", "processors.expressions", "processors.matching", "processors.checks"]
EXTRA = ["processors.connectors.checks", "projections.fold"]
FORBIDDEN = ("aiokafka", "asyncpg", "aiohttp", "aiosmtplib", "fastapi", "starlette", "uvicorn", "httpx", "infra", "api")

_PROBE = """
import importlib, json, pkgutil, sys
names = []
for package in {packages!r}:
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
for name in {extra!r}:
    importlib.import_module(name)
    names.append(name)
print(json.dumps({{"imported": names, "loaded": sorted(sys.modules)}}))
"""


def _loaded(packages: list[str], extra: list[str]) -> dict[str, list[str]]:
    code = _PROBE.format(packages=packages, extra=extra)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_the_pure_core_loads_no_io_library() -> None:
    result = _loaded(PURE, EXTRA)
    # Every module of the pure packages was really imported (the engine's nine, at least).
    assert "processors.engine.machine" in result["imported"]
    assert "processors.engine.dispatch" in result["imported"]
    assert "processors.checks.workflow" in result["imported"]
    offending = [m for m in result["loaded"] if m.split(".")[0] in FORBIDDEN]
    assert offending == [], f"the pure core loaded {offending}"


def test_importing_the_engine_package_alone_loads_no_io_library() -> None:
    result = _loaded(["processors.engine"], [])
    assert not [m for m in result["loaded"] if m.split(".")[0] in FORBIDDEN]


def test_the_probe_sees_an_io_import() -> None:
    """The check can fail: the stream runner does load aiokafka."""
    result = _loaded([], ["processors.streams.runner"])
    assert "aiokafka" in result["loaded"]

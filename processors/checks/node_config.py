"""Validating one node's config, statically (before any run). Pure.

The config models in `schemas/node_configs.py` check types and required keys;
the same connector validators the node worker applies at run time check what
the worker needs, on the config as the executor would hand it over (action
defaults such as the contact's own email filled in). A value that is still a
template (`{{input_data.url}}`) is only known at run time, so a worker's
complaint about it is not reported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from processors.connectors.checks import VALIDATORS
from processors.engine.machine import ACTION_DEFAULTS
from processors.expressions.conditions import validate_condition
from schemas.node_configs import ACTION_CONFIGS, NODE_CONFIGS, ONE_OF, Config
from schemas.workflow import NodeType

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Union members pydantic adds to an error location: not part of the field path.
_TYPE_NAMES = {"int", "float", "str", "bool", "none", "dict", "list", "literal", "function-after", "function-before"}


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(str(item))
        elif _NAME.match(item) and item.lower() not in _TYPE_NAMES:
            parts.append(item)
        else:
            break
    return ".".join(["config", *parts])


def model_problems(model: type[Config], config: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    try:
        model.model_validate(dict(config))
    except ValidationError as exc:
        for error in exc.errors():
            problems.setdefault(_path(error["loc"]), error["msg"])
    for field, names, message in ONE_OF.get(model, []):
        if all(_blank(config.get(n)) for n in names):
            problems.setdefault(f"config.{field}", message)
    return problems


def action_type_of(node_type: NodeType, config: Mapping[str, Any]) -> str | None:
    """The action type the executor would use for this node (None for inline nodes)."""
    if node_type == NodeType.ACTION:
        raw = config.get("action_type")
        return str(raw).lower() if raw else None
    if node_type in (NodeType.HTTP_REQUEST, NodeType.DATABASE_QUERY):
        return node_type.value
    return None


def _templated(config: Mapping[str, Any], key: str) -> bool:
    value: Any = config
    for part in key.split(".")[1:]:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return False
    return isinstance(value, str) and "{{" in value


def config_problems(node_type: NodeType, config: Mapping[str, Any]) -> dict[str, str]:
    """Problems of one node config, keyed by path under the node (`config.url`)."""
    if node_type == NodeType.ACTION:
        raw = config.get("action_type")
        if _blank(raw):
            return {"config.action_type": "is required"}
        action_type = str(raw).lower()
        if action_type not in ACTION_CONFIGS:
            return {"config.action_type": f"unknown action type {raw!r}; one of {', '.join(sorted(ACTION_CONFIGS))}"}
        model = ACTION_CONFIGS[action_type][0]
    else:
        model = NODE_CONFIGS[node_type]
    problems = model_problems(model, config)
    if node_type == NodeType.CONDITION and not config.get("use_custom_code"):
        spec = config.get("condition")
        if spec is None and not _blank(config.get("filters")):
            spec = config.get("filters")
        if spec is None and isinstance(config.get("conditions"), list):
            spec = {"operator": config.get("operator", "and"), "conditions": config["conditions"]}
        if spec is not None and not isinstance(spec, str | Mapping):
            problems["config.condition"] = "must be a CEL expression or a filter tree"
        elif spec is not None:
            for error in validate_condition(spec):
                where = f".{error.path}" if error.path else ""
                problems.setdefault(f"config.condition{where}", str(error))
    kind = action_type_of(node_type, config)
    validate = VALIDATORS.get(kind) if kind else None
    if validate is not None:
        effective = dict(config)
        for name, value in ACTION_DEFAULTS.get(kind or "", {}).items():
            effective.setdefault(name, value)
        for key, message in validate(effective).items():
            problems.setdefault(key, message)
        return {k: v for k, v in problems.items() if not _templated(effective, k)}
    return {k: v for k, v in problems.items() if not _templated(config, k)}


def integration_type_of(node_type: NodeType, config: Mapping[str, Any]) -> str | None:
    action_type = action_type_of(node_type, config)
    found = ACTION_CONFIGS.get(action_type or "")
    return found[2] if found else None

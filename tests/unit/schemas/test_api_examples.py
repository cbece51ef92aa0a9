"""Every example the OpenAPI document shows for a request body is itself a valid body."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from schemas import api, definitions_api


def _models() -> list[type[BaseModel]]:
    found = []
    for module in (api, definitions_api):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found.append(value)
    return found


def _examples(model: type[BaseModel]) -> list[Any]:
    extra = model.model_config.get("json_schema_extra")
    return list(extra.get("examples", [])) if isinstance(extra, dict) else []


EXAMPLED = [m for m in _models() if _examples(m)]


def test_the_main_bodies_have_examples() -> None:
    names = {m.__name__ for m in EXAMPLED}
    assert {"WorkflowCreate", "NodeIn", "TriggerIn", "ActionIn", "ConditionIn", "ProcessEvent"} <= names


@pytest.mark.parametrize("model", EXAMPLED, ids=lambda m: m.__name__)
def test_each_example_validates_against_its_model(model: type[BaseModel]) -> None:
    for example in _examples(model):
        model.model_validate(example)
        assert model.model_json_schema()["examples"] == _examples(model)

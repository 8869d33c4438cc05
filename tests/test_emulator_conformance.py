"""Every operation of the service model is served, and every answer is what botocore's model promises."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.model import Shape
from tour import run_tour

from airflow_provider_omics.emulator.models import OmicsBackend
from airflow_provider_omics.service_model import operation, service_model


@pytest.fixture
def tour(omics, s3):
    return run_tour(omics, s3)


def test_every_operation_of_the_model_has_a_handler():
    backend = OmicsBackend()
    missing = [name for name in service_model().operation_names if backend.handler(name) is None]
    assert missing == []


def _problems(shape: Shape, value: Any, path: str) -> list[str]:
    problems = []
    if shape.type_name == "structure" and not shape.metadata.get("document"):
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name} is required but missing")
        for name, item in value.items():
            if name in shape.members:
                problems += _problems(shape.members[name], item, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            problems += _problems(shape.member, item, f"{path}[{index}]")  # type: ignore[attr-defined]
    elif shape.type_name == "map":
        for key, item in value.items():
            problems += _problems(shape.value, item, f"{path}[{key}]")  # type: ignore[attr-defined]
    elif shape.type_name == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path} = {value!r} is not one of {shape.enum}")
    return problems


def test_every_response_parses_and_carries_the_required_members(tour):
    assert sorted(tour) == sorted(service_model().operation_names), "the tour must call every operation"
    problems = []
    for name, parsed in tour.items():
        shape = operation(name).output_shape
        if shape is not None:
            body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
            problems += _problems(shape, body, name)
    assert problems == []

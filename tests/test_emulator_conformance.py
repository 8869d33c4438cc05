"""Every operation of the service model is served, and every answer is what botocore's model promises."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape
from tour import run_tour

from airflow_provider_omics.emulator.models import OmicsBackend
from airflow_provider_omics.service_model import ARN_MEMBERS, java_regex, operation, service_model, snake, validate


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


# A malformed value for each kind of rule: the role ARN (a colon missing), text outside every pattern.
MALFORMED = ("arn:aws:iam:123456789012:role/OmicsServiceRole", "\x01", "!", "x", "ab!")


def _malformed(shape: Shape, member: str) -> str | None:
    """A value of the member's length that its pattern (or, for an ARN, its form) refuses; None if it has none."""
    pattern = java_regex(shape.metadata["pattern"]) if shape.metadata.get("pattern") else None
    form = ARN_MEMBERS.get(member, (None,))[0]
    low, high = shape.metadata.get("min", 1), shape.metadata.get("max", 10_000)
    for text in MALFORMED:
        value = text * -(-low // len(text))  # repeated up to the member's minimum length
        refused = [rule for rule in (pattern, form) if rule is not None and not rule.fullmatch(value)]
        if low <= len(value) <= high and refused:
            return value
    return None


def _patterned(shape: Shape, request: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str, Shape]]:
    """(path in the request, member name, shape) of every patterned string member: each of the input's own, and
    those inside what the request gives (a structure, a list's first item)."""
    found: list[tuple[tuple[Any, ...], str, Shape]] = []
    if shape.type_name != "structure" or shape.metadata.get("document") or not isinstance(request, dict):
        return found
    for name, member in shape.members.items():
        given = request.get(name)
        if member.type_name == "string" and (member.metadata.get("pattern") or name in ARN_MEMBERS):
            if given is not None or not path:
                found.append(((*path, name), name, member))
        elif member.type_name == "structure":
            found += _patterned(member, given, (*path, name))
        elif member.type_name == "list" and isinstance(given, list) and given:
            found += _patterned(member.member, given[0], (*path, name, 0))  # type: ignore[attr-defined]
    return found


def _with(request: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(request)
    inner: Any = changed
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = value
    return changed


def test_a_malformed_value_of_every_patterned_member_is_refused_by_emulator_and_provider(omics, s3, emulator):
    """Every operation with the tour's own (valid) request, one patterned member made malformed: the provider's
    check names it before any call, and the emulator answers 400 ValidationException naming it."""
    requests: dict[str, dict[str, Any]] = {}

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.setdefault(model.name, copy.deepcopy(params))

    omics.meta.events.register("before-parameter-build.omics", keep)
    run_tour(omics, s3)
    unchecked = emulator.client("omics", parameter_validation=False, retries={"mode": "standard", "max_attempts": 10})
    cases, missed = 0, []
    for name, request in sorted(requests.items()):
        model = operation(name)
        for path, member, shape in _patterned(model.input_shape, request):
            value = _malformed(shape, member)
            if value is None:  # a pattern nothing here breaks (none in the model today)
                missed.append(f"{name} {member}: no malformed value for {shape.metadata.get('pattern')}")
                continue
            cases += 1
            bad = _with(request, path, value)
            if not any(member in problem for problem in validate(name, bad)):
                missed.append(f"provider: {name} {'.'.join(map(str, path))} = {value!r} passed")
            try:
                getattr(unchecked, snake(name))(**bad)
                missed.append(f"emulator: {name} {'.'.join(map(str, path))} = {value!r} was served")
            except ClientError as error:
                refused = error.response["Error"]
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                if (status, refused["Code"]) != (400, "ValidationException") or member not in refused["Message"]:
                    missed.append(f"emulator: {name} {member}: {status} {refused['Code']} {refused['Message']}")
    assert missed == [], "\n".join(missed)
    assert cases > 100  # every operation, not a handful

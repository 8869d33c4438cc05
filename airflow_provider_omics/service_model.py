"""botocore's model of the ``omics`` service, and input validation read from it.

The model is the one source of truth for operations, shapes, enums, patterns and lengths. Both the
emulator (to answer like the service) and the operators (to fail before any API call) validate with
:func:`validate`, so a user sees the same message offline and online.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore
from botocore.model import OperationModel, ServiceModel, Shape

from airflow_provider_omics.shipped_model import botocore_session

SERVICE_NAME = "omics"

# The model's patterns use Java's Unicode classes, which Python's ``re`` lacks. These are the only
# classes it uses; each becomes the Python class that accepts the same characters (printable text).
_JAVA_CLASSES = {
    r"[\p{L}||\p{M}||\p{Z}||\p{S}||\p{N}||\p{P}]": r"[^\x00-\x1f\x7f-\x9f]",
    r"[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}\t\n\r]": r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]",
    r"[\p{L}||\p{N}]": r"[^\W_]",
    r"[\p{N}||\p{P}]": r"[0-9!-/:-@\[-`{-~]",
}


@cache
def service_model() -> ServiceModel:
    return botocore_session().get_service_model(SERVICE_NAME)


@cache
def paginators() -> Mapping[str, Mapping[str, Any]]:
    """Paginator config by operation name (input/output token, limit key, result key)."""
    loader = botocore_session().get_component("data_loader")
    pages: Mapping[str, Mapping[str, Any]] = loader.load_service_model(SERVICE_NAME, "paginators-1")["pagination"]
    return pages


def operation(name: str) -> OperationModel:
    return service_model().operation_model(name)


def snake(name: str) -> str:
    """``workflowId`` -> ``workflow_id``; ``GetRun`` -> ``get_run`` (botocore's own rule)."""
    return str(botocore.xform_name(name))


@cache
def java_regex(pattern: str) -> re.Pattern[str] | None:
    """A model's (Java) pattern as a Python one; None for a character class Python has no name for."""
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    if r"\p" in pattern:  # a class we do not know: accept rather than reject valid input
        return None
    return re.compile(pattern)


# Members the API reference calls S3 URIs whose model pattern admits any text (StartRun's outputUri, "An output
# S3 URI for the run"): the service refuses anything else after the call, so it is checked before.
S3_URI_SHAPES = frozenset({"RunOutputUri", "WorkflowDefinition", "S3UriSettings"})
S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")
# Members the API reference calls ARNs whose model pattern admits any "arn:..." (StartRun's roleArn: "arn:.+"):
# the service takes an ARN's six fields, and a role as IAM writes it. By member name, the same in every shape.
ARN_MEMBERS = {
    "roleArn": (
        re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]+"),
        "an IAM role ARN (arn:aws:iam::123456789012:role/name)",
    ),
    **dict.fromkeys(
        ("referenceArn", "resourceArn"),
        (
            re.compile(r"arn:aws(-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:.+"),
            "an ARN (arn:partition:service:region:account:resource)",
        ),
    ),
}


def validate(operation_name: str, params: Mapping[str, Any]) -> list[str]:
    """Every rule of the operation's input shape that ``params`` breaks, as readable messages.

    Checks what botocore's client-side validation leaves to the service: patterns, enums, maximum
    lengths and ranges, as well as required members, types and minimums.
    """
    shape = operation(operation_name).input_shape
    errors: list[str] = []
    if shape is not None:
        _check(shape, params, "", errors)
    return errors


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    name = path or "input"
    kind = shape.type_name
    meta = shape.metadata
    if meta.get("document"):  # free-form JSON (run parameters): nothing to check
        return
    if kind == "structure":
        if not isinstance(value, Mapping):
            errors.append(f"{name}: must be a mapping, got {type(value).__name__}")
            return
        for member in shape.required_members:
            if value.get(member) is None:
                errors.append(f"{_join(path, member)}: is required")
        for key, item in value.items():
            if key not in shape.members:
                errors.append(f"{_join(path, key)}: is not a member of {shape.name}")
            elif item is not None:
                _check(shape.members[key], item, _join(path, key), errors)
        return
    if kind == "list":
        if not isinstance(value, list | tuple):
            errors.append(f"{name}: must be a list, got {type(value).__name__}")
            return
        _check_size(len(value), meta, name, "items", errors)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{name}[{index}]", errors)
        return
    if kind == "map":
        if not isinstance(value, Mapping):
            errors.append(f"{name}: must be a mapping, got {type(value).__name__}")
            return
        _check_size(len(value), meta, name, "entries", errors)
        for key, item in value.items():
            _check(shape.key, key, f"{name} key {key!r}", errors)
            _check(shape.value, item, f"{name}[{key!r}]", errors)
        return
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"{name}: must be a string, got {type(value).__name__}")
            return
        if shape.enum and value not in shape.enum:
            errors.append(f"{name}: {value!r} is not one of {', '.join(shape.enum)}")
        _check_size(len(value), meta, name, "characters", errors)
        pattern = meta.get("pattern")
        compiled = java_regex(pattern) if pattern else None
        if compiled is not None and value and not compiled.fullmatch(value):
            errors.append(f"{name}: {value!r} does not match the pattern {pattern}")
        elif shape.name in S3_URI_SHAPES and not S3_URI.fullmatch(value):
            errors.append(f"{name}: {value!r} is not an S3 URI (s3://bucket/prefix)")
        elif (arn := ARN_MEMBERS.get(name.rsplit(".", 1)[-1])) and value and not arn[0].fullmatch(value):
            errors.append(f"{name}: {value!r} is not {arn[1]}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{name}: must be an integer, got {type(value).__name__}")
            return
        if "min" in meta and value < meta["min"]:
            errors.append(f"{name}: {value} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            errors.append(f"{name}: {value} is above the maximum {meta['max']}")
    elif kind == "boolean" and not isinstance(value, bool):
        errors.append(f"{name}: must be true or false, got {value!r}")
    elif kind in ("blob",) and not isinstance(value, bytes | bytearray | str) and not hasattr(value, "read"):
        errors.append(f"{name}: must be bytes, got {type(value).__name__}")


def _check_size(size: int, meta: Mapping[str, Any], name: str, unit: str, errors: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        errors.append(f"{name}: has {size} {unit}, at least {meta['min']} required")
    if "max" in meta and size > meta["max"]:
        errors.append(f"{name}: has {size} {unit}, at most {meta['max']} allowed")


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member

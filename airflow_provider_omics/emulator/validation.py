"""What the service refuses before it acts, read from botocore's model by the emulator on its own.

A client checks required members, types and minimum lengths (botocore's ``ParamValidator``, used here as
it is); the service also enforces each member's pattern, enum, maximum length and range, and that the
members its documentation calls S3 URIs are S3 URIs. Messages take the service's own form ("1 validation
error detected: Value 'x' at 'workflowId' failed to satisfy constraint: Member must ..."). None of this is
the provider's code (``service_model.validate``): a rule the provider gets wrong, the emulator does not.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from airflow_provider_omics.service_model import java_regex

# Members documented as S3 URIs whose model pattern admits any text ("outputUri: An output S3 URI for the run").
S3_URI_MEMBERS = {
    ("StartRun", "outputUri"),
    ("CreateWorkflow", "definitionUri"),
    ("CreateWorkflowVersion", "definitionUri"),
}
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?")
# Members documented as ARNs whose model pattern admits any "arn:..." text: the service wants six fields,
# and IAM's form of a role ("arn:aws:iam::123456789012:role/name", the account after an empty region).
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[\w+=,.@/-]+")
_ARN = re.compile(r"arn:aws(-[a-z]+)*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:.+")
ARN_MEMBERS = {
    "roleArn": (_ROLE_ARN, "an IAM role ARN"),
    "referenceArn": (_ARN, "an ARN"),
    "resourceArn": (_ARN, "an ARN"),
}


def validation_errors(model: OperationModel, params: dict[str, Any]) -> list[str]:
    shape = model.input_shape
    if shape is None:
        return []
    report = ParamValidator().validate(params, shape)
    found = [line.strip(" -") for line in report.generate_report().splitlines()[1:]] if report.has_errors() else []
    if len(found) == 0 and report.has_errors():
        found = [report.generate_report()]
    _service_rules(model.name, shape, params, "", found)
    return found


def message(errors: list[str]) -> str:
    count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
    return f"{count}: " + "; ".join(errors)


def _constraint(value: Any, path: str, rule: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: Member must {rule}"


def _service_rules(operation: str, shape: Shape, value: Any, path: str, found: list[str]) -> None:
    meta = shape.metadata
    if value is None or meta.get("document"):
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            inner = f"{path}.{name}" if path else name
            given = value.get(name)
            if (operation, inner) in S3_URI_MEMBERS and isinstance(given, str) and not _S3_URI.fullmatch(given):
                found.append(_constraint(given, inner, "be an S3 URI (s3://bucket/key)"))
            arn = ARN_MEMBERS.get(name)
            if arn and isinstance(given, str) and _matches(member, given) and not arn[0].fullmatch(given):
                found.append(_constraint(given, inner, f"be {arn[1]}"))  # one clause a member, as the service
            _service_rules(operation, member, value.get(name), inner, found)
    elif kind == "list" and isinstance(value, list | tuple):
        if "max" in meta and len(value) > meta["max"]:
            found.append(_constraint(f"{len(value)} items", path, f"have length less than or equal to {meta['max']}"))
        for index, item in enumerate(value):
            # The service names an item by its place and "member": 'sources.1.member.sourceFiles'.
            _service_rules(operation, shape.member, item, f"{path}.{index + 1}.member", found)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            # ... and a map's value by its key: 'parameterTemplate.sample.member.description'.
            _service_rules(operation, shape.value, item, f"{path}.{key}.member", found)
    elif kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            found.append(_constraint(value, path, f"satisfy enum value set: [{', '.join(shape.enum)}]"))
        if "max" in meta and len(value) > meta["max"]:
            found.append(_constraint(value, path, f"have length less than or equal to {meta['max']}"))
        if value and not _matches(shape, value):
            found.append(_constraint(value, path, f"satisfy regular expression pattern: {meta['pattern']}"))
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        found.append(_constraint(value, path, f"have value less than or equal to {meta['max']}"))


def _matches(shape: Shape, value: str) -> bool:
    """Whether a string is empty or fits the shape's pattern (a pattern Python cannot read admits anything)."""
    pattern = java_regex(shape.metadata["pattern"]) if shape.metadata.get("pattern") else None
    return not value or pattern is None or pattern.fullmatch(value) is not None

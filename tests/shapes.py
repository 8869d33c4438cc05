"""The shape of a service answer: its keys, and for each value its kind and format, not its content.

Recorded answers of the real service (``tests/corpus/``) are kept as shapes, and the emulator's answers
are compared with them shape to shape: the same keys, the same types, ids, ARNs, URIs and timestamps in
the same formats. A status is kept as it is (an enum token is a format, not content).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
# AWS masks the ids of its published examples with "xmpl" ("984162c7-xmpl-4d23-..."): still a uuid.
UUID = re.compile(r"^[0-9a-fxmpl]{8}(-[0-9a-fxmpl]{4}){3}-[0-9a-fxmpl]{12}$")
SHARE_ID = re.compile(r"^[0-9a-f]{32}-[0-9a-f]{32}$")
HEX = re.compile(r"^[0-9a-f]{32,128}$")
ENUM = re.compile(r"^[A-Z][A-Z0-9_]*$")


def string_format(value: str) -> str:
    """``timestamp``, ``arn:omics:run/#`` (the resource path with numbers as ``#``), ``s3uri``, ``uuid``,
    ``digits``, ``hex32``, ``sha256-digest``, an enum token as itself, else ``string``."""
    if TIMESTAMP.match(value):
        return "timestamp"
    if value.startswith("arn:aws"):
        parts = value.split(":", 5)
        service, resource = parts[2], parts[5] if len(parts) > 5 else ""
        if service != "omics":  # a role or a key: its type, not its name
            return f"arn:{service}:{resource.split('/')[0]}"
        # type/id/type/id...: ids as "#" (numbers) or "*" (names: analytics stores, versions)
        segments = resource.split("/")
        ids = ["#" if s.isdigit() else "*" for s in segments[1::2]]
        segments[1::2] = ids
        return f"arn:omics:{'/'.join(segments)}"
    if value.startswith("s3://"):
        return "s3uri"
    if value.startswith("omics://"):
        return "omicsuri"
    if UUID.match(value):
        return "uuid"
    if SHARE_ID.match(value):
        return "hex32-hex32"
    if value.isdigit():
        return "digits"
    if HEX.match(value):
        return f"hex{len(value)}"
    if value.startswith("sha256:"):
        return "sha256-digest"
    if ENUM.match(value) and len(value) > 1:
        return value
    return "string"


def shape_of(value: Any, model: Any = None) -> Any:
    """``{"id": "digits", "items": [{...}], "creationTime": "timestamp", "status": "ACTIVE", "cpus": "integer"}``.

    ``model``: the value's botocore shape. With it, a map's keys (tags, digests: content) become ``"*"``, a
    document (run parameters) is ``"document"``, and only a modelled enum keeps its value.
    """
    kind = getattr(model, "type_name", None)
    if getattr(model, "is_document_type", False):
        return "document"
    if isinstance(value, dict) and kind == "map":
        shapes = [shape_of(item, model.value) for item in value.values()]
        return {"*": _merged(shapes)} if shapes else {}
    if isinstance(value, dict):
        members = getattr(model, "members", {})
        return {k: shape_of(v, members.get(k)) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_merged([shape_of(item, getattr(model, "member", None)) for item in value])] if value else []
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, bytes) or hasattr(value, "read"):
        return "blob"
    found = string_format(str(value))
    if model is not None and ENUM.match(found) and not getattr(model, "enum", None):
        return "string"  # upper case text (a sample name), not a token of the model
    return found


def _merged(shapes: list[Any]) -> Any:
    """The shapes of a list's items as one: the union of their keys."""
    if shapes and all(isinstance(s, dict) for s in shapes):
        merged: dict[str, Any] = {}
        for each in shapes:  # the first of each key, unless a later item says more ("" then an S3 URI)
            merged.update({k: v for k, v in each.items() if merged.get(k, "string") == "string"})
        return merged
    return shapes[0] if shapes else "empty"


def answer_shape(operation: str, answer: Any, service: str = "omics") -> Any:
    """The shape of an operation's answer, read with its output shape in botocore's model."""
    from airflow_provider_omics.service_model import service_model
    from airflow_provider_omics.shipped_model import botocore_session

    model = service_model() if service == "omics" else botocore_session().get_service_model(service)
    return shape_of(answer, model.operation_model(operation).output_shape)


def differences(recorded: Any, answers: list[Any]) -> list[tuple[str, str]]:
    """(path, what differs) for each leaf of the recorded shape that no answer has, or has in another format;
    ``answers``: the shapes of every moment the answer was asked for (a job running, done, ...)."""
    mine: dict[str, str] = {}
    for answer in answers:
        for path, found_format in paths(answer).items():
            mine.setdefault(path, found_format)
    found = []
    for path, expected in paths(recorded).items():
        if expected in ("object", "empty"):  # an empty map or list in the recording: any content matches
            if not any(p == path or p.startswith((f"{path}.", f"{path}[")) for p in mine):
                found.append((path, "missing"))
        elif path not in mine:
            found.append((path, "missing"))
        elif not same_kind(expected, mine[path]):
            found.append((path, f"recorded {expected}, answered {mine[path]}"))
    return found


def paths(shape: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a shape by its path: ``{"items[].status": "COMPLETED", "id": "digits"}``."""
    if isinstance(shape, dict):
        found: dict[str, Any] = {}
        for key, item in shape.items():
            found.update(paths(item, f"{prefix}.{key}" if prefix else key))
        return found or {prefix: "object"}
    if isinstance(shape, list):
        return paths(shape[0], f"{prefix}[]") if shape else {f"{prefix}[]": "empty"}
    return {prefix: shape}


def same_kind(recorded: str, answered: str) -> bool:
    """Two leaf formats agree: equal, or both enum tokens (a status the recording and the answer caught
    at different moments), or a number the service wrote without a fraction."""
    if recorded == answered:
        return True
    if ENUM.match(recorded) and ENUM.match(answered):  # format names are lower case: these are both tokens
        return True
    return {recorded, answered} == {"integer", "number"}

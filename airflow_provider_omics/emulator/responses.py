"""The ``omics`` REST-JSON protocol: requests in, responses out, all read from botocore's model.

Nothing here knows any operation by name: where a member travels (URI, query string, header, JSON
body, raw payload), how pagination works and which HTTP status an error has all come from the model.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import OperationModel, Shape
from werkzeug.datastructures import Headers, MultiDict

from airflow_provider_omics.service_model import paginators, service_model

from .models.base import OmicsError

JSON = "application/json"


def error_status(code: str) -> int:
    for shape in service_model().error_shapes:
        if shape.name == code:
            return int(shape.metadata["error"]["httpStatusCode"])
    return {"ServiceUnavailableException": 503, "InternalFailure": 500}.get(code, 400)


def error_response(error: OmicsError) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    return error_status(error.code), {"Content-Type": JSON, "x-amzn-ErrorType": error.code}, body


def parse_request(
    op: OperationModel, uri: Mapping[str, str], query: MultiDict[str, str], headers: Headers, body: bytes
) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    payload_member = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    if body and payload_member is None:
        document = _json_object(body)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in uri:
            params[name] = _from_text(member, uri[wire_name])
        elif location == "querystring" and wire_name in query:
            if member.type_name == "list":
                params[name] = query.getlist(wire_name)
            else:
                params[name] = _from_text(member, query[wire_name])
        elif location == "header" and wire_name in headers:
            params[name] = _from_text(member, headers[wire_name])
        elif name == payload_member:
            params[name] = body if member.type_name == "blob" else (_json_object(body) if body else None)
        elif location is None and name in document:
            params[name] = _from_json(member, document[name])
    return params


def _json_object(body: bytes) -> dict[str, Any]:
    """A request body as the service reads it: a JSON object, or a SerializationException (400)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        message = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise OmicsError("SerializationException", f"Request body is not valid JSON: {message}") from None
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else "null" if document is None else "a scalar"
        raise OmicsError("SerializationException", f"Request body must be a JSON object, not {kind}")
    return document


def _from_text(shape: Shape, text: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text  # left for validation to report with the member's name
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def _from_json(shape: Shape, value: Any) -> Any:
    if value is None or shape.metadata.get("document"):
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _from_json(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


def paginate(op: OperationModel, params: Mapping[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Cut a full listing to one page, as the paginator config of the model describes it.

    The ``nextToken`` is a cursor (the creation order of the page's last record), not an offset, so a
    job that changes status between two pages, and leaves or joins a filtered listing, never shifts
    another job out of the next page.
    """
    config = paginators().get(op.name)
    if not config or not isinstance(result.get(config["result_key"]), list):
        return result
    items = result[config["result_key"]]
    limit = params.get(config["limit_key"]) or 100
    token = params.get(config["input_token"])
    if items and all(isinstance(item, dict) and "_seq" in item for item in items):
        items = sorted(items, key=lambda item: item["_seq"])
        after = _cursor(token)
        rest = [item for item in items if item["_seq"] > after]
        page = {**result, config["result_key"]: rest[:limit]}
        if len(rest) > limit:
            page[config["output_token"]] = f"after-{rest[limit - 1]['_seq']}"
        return page
    start = _offset(token)
    page = {**result, config["result_key"]: items[start : start + limit]}
    if start + limit < len(items):
        page[config["output_token"]] = str(start + limit)
    return page


def _cursor(token: Any) -> int:
    if not token:
        return -1
    if not str(token).startswith("after-") or not str(token)[6:].isdigit():
        raise OmicsError("ValidationException", f"nextToken {token!r} is not a token this listing gave")
    return int(str(token)[6:])


def _offset(token: Any) -> int:
    if not token:
        return 0
    if not str(token).isdigit():
        raise OmicsError("ValidationException", f"nextToken {token!r} is not a token this listing gave")
    return int(token)


def serialize(op: OperationModel, result: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    if shape is None:
        return status, {"Content-Type": JSON}, b"{}"
    payload_member = shape.serialization.get("payload")
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if name == payload_member:
            raw = value if isinstance(value, bytes) else json.dumps(_to_json(member, value)).encode()
            return status, {"Content-Type": "application/octet-stream", **headers}, raw
        if location == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif location is None:
            body[name] = _to_json(member, value)
    return status, {"Content-Type": JSON, **headers}, json.dumps(body).encode()


def _to_json(shape: Shape, value: Any) -> Any:
    if shape.metadata.get("document"):
        return value
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _to_json(member, value[name]) for name, member in shape.members.items() if value.get(name) is not None
        }
    if kind == "list":
        return [_to_json(shape.member, item) for item in value]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
    if kind == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value

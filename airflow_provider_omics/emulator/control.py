"""The emulator's control API for tests, under ``/_emulator/``: request log, faults, outcomes, usage,
transitions."""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import botocore.session
from werkzeug.wrappers import Request, Response

from airflow_provider_omics.service_model import service_model

from . import iam, kinds, moto_adapter, pricing
from .models import OmicsBackend, OmicsError, Outcome
from .models.manifest import UsageProfile

# Short names tests may use for the errors they inject.
FAULT_ALIASES = {
    "500": "InternalServerException",
    "503": "ServiceUnavailableException",
    "429": "ThrottlingException",
}


@dataclass
class Fault:
    operation: str
    error: str
    probability: float = 1.0
    count: int | None = None  # how many times at most; None: until cleared
    message: str | None = None
    after: int = 0  # calls served first (a failure part-way through an upload)

    def fire(self, operation: str, wildcard: bool = True) -> OmicsError | None:
        if self.operation not in (operation, "*" if wildcard else operation) or self.count == 0:
            return None
        if self.after > 0:
            self.after -= 1
            return None
        if random.random() >= self.probability:
            return None
        if self.count is not None:
            self.count -= 1
        code = FAULT_ALIASES.get(self.error, self.error)
        return OmicsError(code, self.message or f"Injected {code} for {operation}")


class BadControlRequest(ValueError):
    """A control request the emulator refuses (400), naming the field."""


@functools.cache
def _served_operations() -> tuple[str, ...]:
    """CloudWatch Logs' and ECR's operations (moto serves them, JSON protocol): a test can fail a run's log or
    manifest read, or a pre-flight check of an image."""
    session = botocore.session.get_session()
    return tuple(op for service in ("logs", "ecr") for op in session.get_service_model(service).operation_names)


def _modelled_errors() -> set[str]:
    # Every AWS endpoint can also answer 503 ServiceUnavailable, which no service model lists.
    return {shape.name for shape in service_model().error_shapes} | {"ServiceUnavailableException"}


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _statuses(kind: str) -> frozenset[str]:
    if kind not in kinds.DESCRIBED_BY:
        raise BadControlRequest(f"kind: {kind!r} is not one of {', '.join(sorted(kinds.DESCRIBED_BY))}")
    return kinds.statuses(kind)


def _check_fields(fields: dict[str, Any], types: dict[str, tuple[type, ...]], required: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(types))
    if unknown:
        raise BadControlRequest(f"{unknown[0]}: not a field; expected {', '.join(types)}")
    for name in required:
        if fields.get(name) is None:
            raise BadControlRequest(f"{name}: is required")
    for name, value in fields.items():
        wanted = types[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, wanted)):
            names = " or ".join(t.__name__ for t in wanted)
            raise BadControlRequest(f"{name}: must be {names}, got {json.dumps(value)}")


def check_fault(fields: dict[str, Any]) -> None:
    _check_fields(
        fields,
        {
            "operation": (str,),
            "error": (str,),
            "probability": (int, float),
            "count": (int,),
            "message": (str,),
            "after": (int,),
        },
        ("operation", "error"),
    )
    if fields["operation"] not in ("*", *service_model().operation_names, *pricing.OPERATIONS, *_served_operations()):
        raise BadControlRequest(
            f"operation: {fields['operation']!r} is not an omics, Price List, CloudWatch Logs or ECR operation, "
            "nor '*' for every omics operation"
        )
    code = FAULT_ALIASES.get(fields["error"], fields["error"])
    if code not in _modelled_errors():
        raise BadControlRequest(
            f"error: {fields['error']!r} is not an error of the omics model nor one of {', '.join(FAULT_ALIASES)}"
        )
    if not 0 <= fields.get("probability", 1.0) <= 1:
        raise BadControlRequest(f"probability: must be between 0 and 1, got {fields['probability']}")
    if fields.get("count") is not None and fields["count"] < 0:
        raise BadControlRequest(f"count: must be >= 0, got {fields['count']}")
    if fields.get("after", 0) < 0:
        raise BadControlRequest(f"after: must be >= 0, got {fields['after']}")


def check_outcome(fields: dict[str, Any]) -> None:
    # A run's outcome may name the task that fails and the last lines that task writes to its log.
    _check_job_status(fields, "name_glob", {"task": (str,), "log_lines": (list,), "count": (int,)})
    if fields.get("count") is not None and fields["count"] < 1:
        raise BadControlRequest(f"count: must be >= 1, got {fields['count']}")
    if any(not isinstance(line, str) for line in fields.get("log_lines") or []):
        raise BadControlRequest("log_lines: must be a list of strings")
    if (fields.get("task") or fields.get("log_lines")) and fields["kind"] != "run":
        raise BadControlRequest("task, log_lines: only a run has tasks")


def check_usage(fields: dict[str, Any]) -> None:
    number = (int, float)
    _check_fields(
        fields,
        {
            "task": (str,),
            "cpus": number,
            "memory_gib": number,
            "run": (str,),
            "cpus_average": number,
            "memory_average_gib": number,
        },
        ("task", "cpus", "memory_gib"),
    )
    for name in ("cpus", "memory_gib", "cpus_average", "memory_average_gib"):
        if fields.get(name) is not None and fields[name] < 0:
            raise BadControlRequest(f"{name}: must be >= 0, got {fields[name]}")


def check_transition(fields: dict[str, Any]) -> None:
    _check_job_status(fields, "id")


def _check_job_status(fields: dict[str, Any], which: str, more: dict[str, tuple[type, ...]] | None = None) -> None:
    """An outcome or a transition: text fields naming a kind, which jobs (``which``) and one of its statuses."""
    names = ("kind", which, "status", "failure_reason", "message")
    _check_fields(fields, {**dict.fromkeys(names, (str,)), **(more or {})}, names[:3])
    allowed = _statuses(fields["kind"])
    if fields["status"] not in allowed:
        raise BadControlRequest(
            f"status: a {fields['kind']} has no status {fields['status']!r}; one of {', '.join(sorted(allowed))}"
        )


class Control:
    def __init__(self, backend: OmicsBackend) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.faults: list[Fault] = []

    # ---- used by the omics app -------------------------------------------------------------------
    def fault_for(self, operation: str, wildcard: bool = True) -> OmicsError | None:
        """The error a fault set for this operation answers with; ``"*"`` faults only when ``wildcard``."""
        with self.lock:
            return next((error for f in self.faults if (error := f.fire(operation, wildcard)) is not None), None)

    def record(self, operation: str, status: int, outcome: str, query: str = "", **extra: Any) -> None:
        """One entry of the request log; ``extra``: ``deduplicated`` and the ``existing`` job's id for a start
        whose token named a job started before (so a test sees that a rerun started nothing)."""
        entry = {"operation": operation, "time": time.time(), "status": status, "outcome": outcome, "query": query}
        entry.update(extra)
        with self.lock:
            self.log.append(entry)

    # ---- the API -------------------------------------------------------------------------------
    def requests(self) -> dict[str, Any]:
        with self.lock:
            log = list(self.log)
        return {"requests": log, "counts": dict(Counter(r["operation"] for r in log))}

    def add_fault(self, **fields: Any) -> None:
        check_fault(fields)
        with self.lock:
            self.faults.append(Fault(**fields))

    def add_outcome(self, **fields: Any) -> None:
        check_outcome(fields)
        with self.backend.lock:
            self.backend.outcomes.append(Outcome(**fields))

    def add_usage(self, **fields: Any) -> None:
        check_usage(fields)
        with self.backend.lock:
            self.backend.usage_profiles.append(UsageProfile(**fields))

    def transition(
        self, kind: str, id: str, status: str, message: str | None = None, failure_reason: str | None = None
    ) -> dict[str, Any]:
        check_transition(
            {"kind": kind, "id": id, "status": status, "message": message, "failure_reason": failure_reason}
        )
        with self.backend.lock:
            self.backend.advance()
            record = self.backend.transition(kind, id, status, message, failure_reason)
            return {"kind": kind, "id": id, "status": record["status"]}

    def transitions(self, kind: str) -> dict[str, list[dict[str, Any]]]:
        """When each job of a kind entered each of its statuses: ``{id: [{"status", "time"}, ...]}``."""
        _statuses(kind)
        with self.backend.lock:
            self.backend.advance()
            return {key: list(r.get("_transitions", [])) for key, r in self.backend.table(kind).items()}

    def set_event_delivery(self, **faults: Any) -> dict[str, Any]:
        """How events reach EventBridge from now on (``event_delivery.py``); no field: as the service sends them."""
        try:
            self.backend.delivery.set_faults(**faults)
        except (TypeError, ValueError) as exc:
            raise BadControlRequest(str(exc)) from None
        return self.backend.delivery.state()

    def reset_all(self) -> None:
        with self.backend.lock:
            self.backend.reset()
        self.reset()
        moto_adapter.reset_all()
        iam.seed_account()

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/").removeprefix("/_emulator"))
        try:
            body = _json_body(request)
        except BadControlRequest as exc:
            return _json({"error": str(exc)}, 415 if "Content-Type" in str(exc) else 400)
        try:
            if route == ("GET", "/requests"):
                return _json(self.requests())
            if route == ("POST", "/faults"):
                self.add_fault(**body)
                return _json({"faults": [asdict(f) for f in self.faults]})
            if route == ("DELETE", "/faults"):
                self.faults.clear()
                return _json({"faults": []})
            if route == ("POST", "/outcomes"):
                self.add_outcome(**body)
                return _json({"outcomes": [asdict(o) for o in self.backend.outcomes]})
            if route == ("DELETE", "/outcomes"):
                self.backend.outcomes.clear()
                return _json({"outcomes": []})
            if route == ("POST", "/usage"):
                self.add_usage(**body)
                return _json({"usage": [asdict(u) for u in self.backend.usage_profiles]})
            if route == ("DELETE", "/usage"):
                self.backend.usage_profiles.clear()
                return _json({"usage": []})
            if route == ("POST", "/transition"):
                check_transition(body)
                return _json(self.transition(**body))
            if route == ("GET", "/transitions"):
                return _json(self.transitions(request.args.get("kind", "")))
            if route == ("POST", "/event-delivery"):
                return _json(self.set_event_delivery(**body))
            if route == ("GET", "/event-delivery"):
                return _json(self.backend.delivery.state())
            if route == ("DELETE", "/event-delivery"):
                return _json(self.set_event_delivery())
            if route[0] == "GET" and route[1].startswith("/workflow-definitions/"):
                with self.backend.lock:
                    blob = self.backend.definition_zip(route[1].rsplit("/", 1)[1])
                if blob is None:
                    return _json({"error": "no such workflow definition"}, 404)
                return Response(blob, 200, content_type="application/zip")
            if route == ("POST", "/reset"):
                self.reset_all()
                return _json({"reset": True})
        except BadControlRequest as exc:
            return _json({"error": str(exc)}, 400)
        except OmicsError as exc:
            return _json({"error": exc.message}, 404)
        return _json({"error": f"no control endpoint {request.method} {request.path}"}, 404)


def _json_body(request: Request) -> dict[str, Any]:
    """Only JSON bodies: a cross-origin form post (which browsers send without asking) is refused."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return {}
    if request.mimetype != "application/json":
        raise BadControlRequest(
            f"Content-Type must be application/json, got {request.mimetype or 'none'} "
            "(curl: -H 'Content-Type: application/json')"
        )
    raw = request.get_data()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadControlRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise BadControlRequest(f"the body must be a JSON object, not {_json_type(body)}")
    return body


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, content_type="application/json")

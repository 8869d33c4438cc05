"""The emulator's control API for tests, under ``/_emulator/``: request log, faults, outcomes, transitions."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from .models import OmicsBackend, OmicsError, Outcome

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

    def fire(self, operation: str) -> OmicsError | None:
        if self.operation not in (operation, "*") or self.count == 0 or random.random() >= self.probability:
            return None
        if self.count is not None:
            self.count -= 1
        code = FAULT_ALIASES.get(self.error, self.error)
        return OmicsError(code, self.message or f"Injected {code} for {operation}")


class Control:
    def __init__(self, backend: OmicsBackend) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.faults: list[Fault] = []

    # ---- used by the omics app -------------------------------------------------------------------
    def fault_for(self, operation: str) -> OmicsError | None:
        with self.lock:
            return next((error for f in self.faults if (error := f.fire(operation)) is not None), None)

    def record(self, operation: str, status: int, outcome: str) -> None:
        with self.lock:
            self.log.append({"operation": operation, "time": time.time(), "status": status, "outcome": outcome})

    # ---- the API -------------------------------------------------------------------------------
    def requests(self) -> dict[str, Any]:
        with self.lock:
            log = list(self.log)
        return {"requests": log, "counts": dict(Counter(r["operation"] for r in log))}

    def add_fault(self, **fields: Any) -> None:
        with self.lock:
            self.faults.append(Fault(**fields))

    def add_outcome(self, **fields: Any) -> None:
        with self.backend.lock:
            self.backend.outcomes.append(Outcome(**fields))

    def transition(
        self, kind: str, id: str, status: str, message: str | None = None, failure_reason: str | None = None
    ) -> dict[str, Any]:
        with self.backend.lock:
            self.backend.advance()
            record = self.backend.transition(kind, id, status, message, failure_reason)
            return {"kind": kind, "id": id, "status": record["status"]}

    def reset_all(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        with self.backend.lock:
            self.backend.reset()
        self.reset()
        moto_api_backend.reset()

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/").removeprefix("/_emulator"))
        body = request.get_json(silent=True) or {}
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
            if route == ("POST", "/transition"):
                return _json(self.transition(**body))
            if route == ("POST", "/reset"):
                self.reset_all()
                return _json({"reset": True})
        except TypeError as exc:  # unknown or missing fields in the body
            return _json({"error": str(exc)}, 400)
        except OmicsError as exc:
            return _json({"error": exc.message}, 404)
        return _json({"error": f"no control endpoint {request.method} {request.path}"}, 404)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, content_type="application/json")

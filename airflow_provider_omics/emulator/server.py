"""One loopback HTTP server: ``omics`` requests to our emulator, every other AWS service to moto."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from botocore.config import Config
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from airflow_provider_omics import shipped_model

from . import iam, images, moto_adapter, pricing
from .control import Control
from .link import Link
from .models import OmicsBackend, OmicsError
from .responses import error_response, paginate, parse_request, serialize
from .throttling import Quotas
from .urls import Router
from .validation import message as validation_message
from .validation import validation_errors

log = logging.getLogger(__name__)

DEFAULT_STEP_SECONDS = 3.0


def is_omics(request: Request) -> bool:
    """SigV4 names the service in its credential scope: ``Credential=KEY/DATE/REGION/omics/aws4_request``."""
    return "/omics/aws4_request" in request.headers.get("Authorization", "")


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: the request log is in ``/_emulator/requests``."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class EmulatorApp:
    """The WSGI application: routes, parses, validates, runs the model, answers."""

    def __init__(self, backend: OmicsBackend, control: Control, quotas: Quotas) -> None:
        self.backend = backend
        self.control = control
        self.quotas = quotas
        self.router = Router()
        self.moto = moto_adapter.wsgi_app()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/_emulator/"):
            return self.control.handle(request)(environ, start_response)
        if is_omics(request):
            return self.omics(request)(environ, start_response)
        if iam.is_simulation(request):
            self.control.record("SimulatePrincipalPolicy", 200, "OK")
            return iam.simulate(request)(environ, start_response)
        target = request.headers.get("X-Amz-Target", "")
        if "." not in target:
            return self.moto(environ, start_response)
        # A JSON-protocol service (the Price List, CloudWatch Logs): faults set for its operations apply.
        operation = target.split(".", 1)[1]
        fault = self.control.fault_for(operation, wildcard=False)
        if fault is not None:
            status, headers, body = error_response(fault)
            self.control.record(operation, status, fault.code)
            return Response(body, status, headers)(environ, start_response)
        if pricing.is_pricing(request):
            response = pricing.handle(request, self.backend.region)
            self.control.record(operation, response.status_code, "OK")
            return response(environ, start_response)
        return self.moto(environ, start_response)

    def omics(self, request: Request) -> Response:
        raw_path = (request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path).split("?")[0]
        matched = self.router.match(request.method, raw_path)
        if matched is None:
            error = OmicsError("UnknownOperationException", f"No omics operation for {request.method} {raw_path}")
            self.control.record("Unknown", 404, error.code)
            return Response(
                json.dumps({"__type": error.code, "message": error.message}),
                404,
                {"x-amzn-ErrorType": error.code},
                content_type="application/json",
            )
        op, uri = matched
        try:
            fault = self.control.fault_for(op.name)
            if fault is not None:
                raise fault
            if not self.quotas.admit(op.name):
                raise OmicsError("ThrottlingException", f"Rate exceeded for {op.name}")
            params = parse_request(op, uri, request.args, request.headers, request.get_data())
            problems = validation_errors(op, params)
            if problems:
                raise OmicsError("ValidationException", validation_message(problems))
            self.backend.deduplicated()  # nothing left over from an earlier request of this thread
            result = paginate(op, params, self.backend.handle(op.name, params))
            status, headers, body = serialize(op, result)
            outcome = "OK"
            extra = {"deduplicated": True, "existing": found} if (found := self.backend.deduplicated()) else {}
        except OmicsError as exc:
            status, headers, body = error_response(exc)
            outcome, extra = exc.code, {}
        except Exception as exc:  # a bug in the emulator: answer like the service's 500, and say why
            log.exception("emulator failed on %s", op.name)
            status, headers, body = error_response(
                OmicsError("InternalServerException", f"{type(exc).__name__}: {exc}")
            )
            outcome, extra = "InternalServerException", {}
        self.control.record(op.name, status, outcome, request.query_string.decode(errors="replace"), **extra)
        return Response(body, status, headers)


class OmicsEmulator:
    """The emulator as an object: ``with OmicsEmulator(port=0) as emu: emu.endpoint_url``.

    It runs in a thread of the current process; ``step_seconds`` is the time a job spends in each
    in-progress status (tests use fractions of a second). ``quotas`` (on by default) throttles requests
    above the service's per-operation rates (``emulator/throttling.py``); ``quotas=False`` serves every request;
    ``quota_overrides`` sets other rates for some operations (``{"StartRun": 100}``). ``link_mbps`` and
    ``link_rtt_ms`` put a simulated wide-area link in front of it (``emulator.link``; off by default).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        step_seconds: float = DEFAULT_STEP_SECONDS,
        region: str = "us-east-1",
        quotas: bool = True,
        quota_overrides: Mapping[str, float] | None = None,
        link_mbps: float | None = None,
        link_rtt_ms: float = 0.0,
    ) -> None:
        self.backend = OmicsBackend(region=region, step_seconds=step_seconds)
        self.control = Control(self.backend)
        iam.seed_account()
        self.quotas = Quotas(quota_overrides, enabled=quotas)
        self.backend.submission_rate = lambda: self.quotas.rates["StartRun"] if self.quotas.enabled else None
        self.app = EmulatorApp(self.backend, self.control, self.quotas)
        self.region = region
        served = Link(self.app, link_mbps, link_rtt_ms) if link_mbps or link_rtt_ms else self.app
        self._server = make_server(host, port, served, threaded=True, request_handler=_QuietHandler)
        self.backend.endpoint_url = self.endpoint_url
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._clock = threading.Thread(target=self._keep_time, name="omics-emulator-clock", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def connection_extra(self) -> dict[str, Any]:
        """The ``aws`` connection extra that points Airflow at this emulator."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "config_kwargs": {"inject_host_prefix": False},
        }

    def connection_json(self) -> str:
        """A value for ``AIRFLOW_CONN_<ID>``: an ``aws`` connection with dummy keys moto accepts."""
        return json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing", "extra": self.connection_extra()}
        )

    def client(self, service_name: str = "omics", **config: Any) -> Any:
        """A boto3 client of this emulator (``omics``, ``s3``, ``sqs``, ...) with the newest ``omics`` operations
        on any supported botocore (``shipped_model.py``); ``config`` adds botocore ``Config`` settings."""
        return shipped_model.client(
            service_name,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            config=Config(inject_host_prefix=False, **config),
        )

    def start(self) -> OmicsEmulator:
        self._clock.start()
        self._thread = threading.Thread(target=self._server.serve_forever, name="omics-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._clock.start()
        self._server.serve_forever()

    def _keep_time(self) -> None:
        """Jobs move when their time comes, not only when a request asks: the service's EventBridge events
        go out as things change, whether or not anybody is polling."""
        while not self._stopped.wait(min(max(self.backend.step_seconds / 4, 0.25), 1.0)):
            try:
                self.backend.advance_if_due()
                self.backend.delivery.deliver_due()
            except Exception:  # a bug in a model: the next request meets it too, and says so
                log.exception("the emulator's clock failed to advance")

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OmicsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the control API, from Python ---------------------------------------------------------------
    def requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self.control.requests()["requests"]
        return requests

    def request_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.control.requests()["counts"]
        return counts

    def add_fault(
        self,
        operation: str,
        error: str,
        probability: float = 1.0,
        count: int | None = None,
        message: str | None = None,
        after: int = 0,
    ) -> None:
        self.control.add_fault(
            operation=operation, error=error, probability=probability, count=count, message=message, after=after
        )

    def clear_faults(self) -> None:
        self.control.faults.clear()

    def add_outcome(
        self,
        kind: str,
        name_glob: str,
        status: str,
        failure_reason: str | None = None,
        message: str | None = None,
        task: str | None = None,
        log_lines: list[str] | None = None,
        count: int | None = None,
    ) -> None:
        fields = {"task": task, "log_lines": log_lines, "count": count}
        self.control.add_outcome(
            kind=kind,
            name_glob=name_glob,
            status=status,
            failure_reason=failure_reason,
            message=message,
            **{k: v for k, v in fields.items() if v is not None},
        )

    def set_usage(
        self,
        task: str,
        cpus: float,
        memory_gib: float,
        run: str = "*",
        cpus_average: float | None = None,
        memory_average_gib: float | None = None,
    ) -> None:
        """What tasks named ``task`` (a glob) of runs named ``run`` use: their manifest says so."""
        fields = {"run": run, "cpus_average": cpus_average, "memory_average_gib": memory_average_gib}
        self.control.add_usage(
            task=task, cpus=cpus, memory_gib=memory_gib, **{k: v for k, v in fields.items() if v is not None}
        )

    def transition(
        self, kind: str, id: str, status: str, message: str | None = None, failure_reason: str | None = None
    ) -> dict[str, Any]:
        return self.control.transition(kind, id, status, message, failure_reason)

    def set_event_delivery(
        self, drop: float = 0.0, duplicate: float = 0.0, delay: float = 0.0, reorder: float = 0.0
    ) -> dict[str, Any]:
        """Deliver events with EventBridge's faults (``event_delivery.py``); no argument: as the service does."""
        return self.control.set_event_delivery(drop=drop, duplicate=duplicate, delay=delay, reorder=reorder)

    def push_image(self, uri: str, service_may_pull: bool = True) -> str:
        """``images.push`` to this emulator's ECR."""
        return images.push(self.client("ecr"), uri, service_may_pull)

    def reset(self) -> None:
        self.control.reset_all()
        self.quotas.reset()

    def transitions(self, kind: str, id: str) -> list[dict[str, Any]]:
        """When a job entered each of its statuses (``{"status", "time"}``), oldest first."""
        with self.backend.lock:
            self.backend.advance()
            return list(self.backend.get(kind, id).get("_transitions", []))

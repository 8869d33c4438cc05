"""What every start / create operator shares: request from arguments, idempotent start, wait or defer, XCom.

A concrete operator is a class with a ``kind`` from the job table. Its arguments are the request
members of the kind's start operation in snake_case (``workflowId`` -> ``workflow_id``), all templated,
read from botocore's model when the class is defined.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from botocore.exceptions import ClientError

from airflow_provider_omics.errors import OmicsJobFailed, OmicsWaitTimeout
from airflow_provider_omics.hooks.omics import OmicsHook, error_code, outcome
from airflow_provider_omics.jobs import JobKind, job_kind
from airflow_provider_omics.links.omics import OmicsConsoleLink
from airflow_provider_omics.service_model import operation, snake, validate
from airflow_provider_omics.triggers.omics import OmicsJobTrigger, json_safe

TOKEN_MEMBERS = ("requestId", "clientToken")
MAX_GENERATIONS = 50


def request_members(operation_name: str) -> dict[str, str]:
    """snake_case argument -> request member, for every member a user sets (not the idempotency token)."""
    shape = operation(operation_name).input_shape
    return {snake(name): name for name in shape.members if name not in TOKEN_MEMBERS}


def default_deferrable() -> bool:
    return conf.getboolean("operators", "default_deferrable", fallback=False)


class OmicsJobOperator(AwsBaseOperator[OmicsHook]):
    """Start (or create) a HealthOmics job of ``kind`` and, by default, wait until it ends.

    :param wait_for_completion: wait for the job to end (default True); otherwise return right after starting.
    :param deferrable: wait in the triggerer, without a worker slot (default ``[operators] default_deferrable``).
    :param waiter_delay: seconds between two status polls.
    :param waiter_max_attempts: polls before giving up on a job still in progress.
    :param fail_on_partial_success: fail on COMPLETED_WITH_FAILURES (default True), naming each failed item.
    :param force_new_job: start a new job on every try, instead of re-attaching to the job of an earlier
        try with the same request (see "Retries and idempotency" in the README).

    Returns (XCom) the job's final describe output, JSON-safe.
    """

    aws_hook_class = OmicsHook
    kind: ClassVar[str | None] = None
    # The start / create operation; by default the kind's. A class with no kind creates something
    # that has no status to wait for (a run group, a reference store).
    operation: ClassVar[str] = ""
    operator_extra_links = (OmicsConsoleLink(),)
    # Arguments that are not request members but are templated too (e.g. a parameters file).
    extra_template_fields: ClassVar[Sequence[str]] = ()
    members: ClassVar[dict[str, str]] = {}
    # A list member the service limits per job (100 read sets per import): longer lists start several jobs.
    split_member: ClassVar[str | None] = None
    split_limit: ClassVar[int] = 100
    ui_color = "#c9e7f5"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__ and "operation" not in cls.__dict__:
            return
        if not cls.operation:
            cls.operation = job_kind(cls.kind or "").start_operation or ""
        cls.members = request_members(cls.operation)
        cls.template_fields = aws_template_fields(*cls.members, *cls.extra_template_fields)
        cls.__init__ = _init_with_request_arguments(cls, list(cls.members))  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        waiter_delay: float = 30,
        waiter_max_attempts: int = 720,
        fail_on_partial_success: bool = True,
        force_new_job: bool = False,
        **kwargs: Any,
    ) -> None:
        for name in self.members:
            setattr(self, name, kwargs.pop(name, None))
        # Each top-level key of the result is its own XCom too, so `.output["id"]` works downstream.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.fail_on_partial_success = fail_on_partial_success
        self.force_new_job = force_new_job
        self.job_ids: list[dict[str, Any]] = []

    @property
    def job(self) -> JobKind:
        if self.kind is None:
            raise TypeError(f"{type(self).__name__} creates a resource that has no status to wait for")
        return job_kind(self.kind)

    # ---- the request -------------------------------------------------------------------------------
    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        """The start requests (one, or several where a request is over a service limit), validated."""
        request = {member: getattr(self, name) for name, member in self.members.items()}
        request = {k: v for k, v in request.items() if v is not None}
        member, limit = self.split_member, self.split_limit
        items = request.get(member) if member else None
        requests = [request]
        if member and isinstance(items, list) and len(items) > limit:
            requests = [{**request, member: items[i : i + limit]} for i in range(0, len(items), limit)]
            self.log.info("%d %s: %d jobs of at most %d", len(items), member, len(requests), limit)
        for each in requests:
            self.check(each)
        return requests

    def check(self, request: Mapping[str, Any]) -> None:
        """Fail before any API call, naming each argument and the rule it breaks."""
        problems = validate(self.operation, {**request, **self._token_placeholder()})
        if problems:
            names = {member: name for name, member in self.members.items()}
            lines = [_rename(problem, names) for problem in problems]
            raise ValueError(f"{type(self).__name__} ({self.task_id}): invalid arguments:\n  - " + "\n  - ".join(lines))

    def _token_placeholder(self) -> dict[str, Any]:
        member = self.token_member
        return {member: "x"} if member else {}

    @property
    def token_member(self) -> str | None:
        members = operation(self.operation).input_shape.members
        return next((m for m in TOKEN_MEMBERS if m in members), None)

    def token(self, context: Any, request: Mapping[str, Any], generation: int) -> str:
        """Deterministic per task instance and request; changes only after a failed job, or when forced."""
        ti = context["ti"]
        material = [ti.dag_id, ti.task_id, ti.run_id, ti.map_index, generation, request]
        if self.force_new_job:
            material.append(ti.try_number)
        digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=repr).encode()).hexdigest()
        return f"airflow-{digest[:40]}"

    # ---- start, or find the job of an earlier try ----------------------------------------------------
    def start(self, context: Any, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        member = self.token_member
        if self.kind is None:  # nothing to wait for: the response is the result
            token = {member: self.token(context, request, 0)} if member else {}
            response = self.hook.call(self.operation, **request, **token)
            response.pop("ResponseMetadata", None)
            return {}, response
        if member is None:
            return self.start_without_token(context, request)
        for generation in range(MAX_GENERATIONS):
            token = {member: self.token(context, request, generation)}
            response = self.hook.call(self.operation, **request, **token)
            ids = self.job.ids_of(response, request)
            described = self.hook.describe(self.job, **ids)
            # A job is never already failed right after it starts: this one is an earlier try's.
            if outcome(self.job, described, self.fail_on_partial_success) != "failure":
                return ids, described
            self.log.info(
                "%s %s from an earlier try ended %s; starting a fresh one",
                self.job.label,
                ids,
                self.job.status_of(described),
            )
        raise RuntimeError(f"{MAX_GENERATIONS} failed {self.job.label}s for one task instance; giving up")

    def start_without_token(self, context: Any, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """For APIs without a token: a name conflict means the resource exists already; reuse it."""
        try:
            response = self.hook.call(self.operation, **request)
        except ClientError as exc:
            existing: dict[str, Any] = {k: request.get(k) for k in self.job.ids}
            if error_code(exc) != "ConflictException" or not all(existing.values()):
                raise
            self.log.info("%s %s exists already: reusing it", self.job.label, existing)
            return existing, self.hook.describe(self.job, **existing)
        ids = self.job.ids_of(response, request)
        return ids, self.hook.describe(self.job, **ids)

    # ---- execute ------------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        requests = self.build_requests(context)
        started = [self.start(context, request) for request in requests]
        if self.kind is None:
            return self.result([described for _, described in started])
        self.job_ids = [ids for ids, _ in started]
        for ids, described in started:
            self.log.info("%s %s is %s", self.job.label, ids, self.job.status_of(described))
        OmicsConsoleLink.persist_job(
            context, self, self.job, self.job_ids[0], self.hook.conn_region_name, self.hook.conn_partition
        )
        if not self.wait_for_completion:
            return self.result([described for _, described in started])
        if self.deferrable:
            self.defer(
                trigger=OmicsJobTrigger(
                    kind=self.job.name,
                    ids=self.job_ids if len(self.job_ids) > 1 else self.job_ids[0],
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                    fail_on_partial_success=self.fail_on_partial_success,
                ),
                method_name="execute_complete",
            )
        finals = [
            self.hook.wait(
                self.job,
                delay=self.waiter_delay,
                max_attempts=self.waiter_max_attempts,
                fail_on_partial_success=self.fail_on_partial_success,
                **ids,
            )
            for ids in self.job_ids
        ]
        return self.result(finals)

    def execute_complete(self, context: Any, event: Mapping[str, Any]) -> Any:
        self.job_ids = event["ids"] if isinstance(event["ids"], list) else [event["ids"]]
        raise_for_event(self.job, event)
        described = event["described"]
        return self.result(described if isinstance(described, list) else [described])

    def result(self, described: list[dict[str, Any]]) -> Any:
        """XCom: the job's describe output; several jobs (a split import) are merged by ``merge``."""
        return json_safe(described[0] if len(described) == 1 else self.merge(described))

    def merge(self, described: list[dict[str, Any]]) -> dict[str, Any]:
        """Several jobs of one request: their lists (sources, read sets) joined, the rest from the first."""
        merged = dict(described[0])
        for key, value in merged.items():
            if isinstance(value, list):
                merged[key] = [item for job in described for item in job.get(key) or []]
        merged["jobs"] = described
        return merged

    def on_kill(self) -> None:
        if self.kind is None or self.job.cancel_operation is None:
            return
        for ids in self.job_ids:
            try:
                self.hook.cancel(self.job, **ids)
                self.log.info("Cancelled %s %s", self.job.label, ids)
            except ClientError as exc:
                self.log.info("Did not cancel %s %s: %s", self.job.label, ids, exc)


def raise_for_event(job: JobKind, event: Mapping[str, Any]) -> None:
    """Turn a trigger's failure or timeout event into the error a synchronous wait would raise."""
    if event["status"] == "success":
        return
    if event["status"] == "timeout":
        raise OmicsWaitTimeout(f"{job.label} {event['ids']}: {event['message']}")
    described = event.get("described") or {}
    if described:
        raise OmicsJobFailed.from_described(job, event["ids"], described)
    raise OmicsJobFailed(job, event["ids"], event["job_status"], event["message"], described)


def _rename(problem: str, names: Mapping[str, str]) -> str:
    """``workflowId: ...`` -> ``workflow_id: ...``: name the operator's argument, not the API member."""
    first = re.split(r"[.\[: ]", problem, maxsplit=1)[0]
    return names[first] + problem[len(first) :] if first in names else problem


def _init_with_request_arguments(cls: type, names: list[str]) -> Any:
    """An ``__init__`` whose signature lists the request arguments, so ``partial().expand()`` knows them."""
    base_init = cls.__mro__[1].__init__  # type: ignore[misc]

    def __init__(self: Any, **kwargs: Any) -> None:
        base_init(self, **kwargs)

    base_params = [p for p in inspect.signature(base_init).parameters.values() if p.name not in ("self", "kwargs")]
    own = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in names]
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *own, *base_params, kwargs]
    )
    __init__.__doc__ = cls.__doc__
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__

"""What every start / create operator shares: request from arguments, idempotent start, wait or defer, XCom.

A concrete operator is a class with a ``kind`` from the job table. Its arguments are the request
members of the kind's start operation in snake_case (``workflowId`` -> ``workflow_id``), all templated,
read from botocore's model when the class is defined.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from airflow_provider_omics import diagnostics, polling
from airflow_provider_omics.arguments import (
    TOKEN_MEMBERS,
    check_known_arguments,
    default_deferrable,
    member_docs,
    param_blocks,
    request_members,
)
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.errors import error_code
from airflow_provider_omics.events import json_safe
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.idempotency import tokens_of
from airflow_provider_omics.jobs import PARTIAL_SUCCESS, JobKind, job_kind
from airflow_provider_omics.links.omics import OmicsConsoleLink, OmicsLink
from airflow_provider_omics.operators.lineage_mixin import LineageMixin
from airflow_provider_omics.service_model import operation, validate
from airflow_provider_omics.triggers.omics import OmicsJobTrigger

# Request members that name what a task works on: a mapped task shows the first one set instead of its index.
LABEL_MEMBERS = ("name", "sample_id", "batch_name", "job_name", "destination_name", "version_name")
# A job created this long before our start call is one an earlier try (or DAG run) started: clocks differ.
CLOCK_SKEW = timedelta(seconds=1)


@dataclass
class Started:
    """A job this task started or found again, and the items an earlier partial job already settled."""

    ids: dict[str, Any]
    described: dict[str, Any]
    carried: list[dict[str, Any]] = field(default_factory=list)


class OmicsJobOperator(LineageMixin, AwsBaseOperator[OmicsHook]):
    """Start (or create) a HealthOmics job of ``kind`` and, by default, wait until it ends.

    :param wait_for_completion: wait for the job to end (default True); otherwise return right after starting.
    :param deferrable: wait in the triggerer, without a worker slot (default ``[operators] default_deferrable``).
    :param waiter_delay: seconds between two status polls.
    :param waiter_max_attempts: polls before giving up on a job still in progress.
    :param fail_on_partial_success: fail on COMPLETED_WITH_FAILURES (default True), naming each failed item.
    :param idempotency_key: what makes two starts "the same job" (templated; default: the DAG run). Tries of
        a task with the same key and request re-attach to one job; ``"{{ ds }}"`` makes it one job per date.
    :param force_new_job: start a new job on every try, instead of re-attaching to the job of an earlier
        try with the same request; see
        https://airflow-provider-omics.readthedocs.io/en/latest/concepts/retries-and-idempotency.html
    :param include_logs: when a run fails, put the last lines of its failed tasks' logs and of its engine
        log in the task's error, with links to them (default True; needs ``logs:GetLogEvents``).
    :param log_lines: how many lines of each of those logs (default 50).

    Returns (XCom) the job's final describe output, JSON-safe. Reports lineage to OpenLineage and adds
    what it produced as Assets: https://airflow-provider-omics.readthedocs.io/en/latest/concepts/lineage.html
    """

    aws_hook_class = OmicsHook
    kind: ClassVar[str | None] = None
    # The start / create operation; by default the kind's. A class with no kind creates something
    # that has no status to wait for (a run group, a reference store).
    operation: ClassVar[str] = ""
    operator_extra_links: tuple[OmicsLink, ...] = (OmicsConsoleLink(),)
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
        cls.lineage_operation = cls.operation
        cls.template_fields = aws_template_fields(*cls.members, "idempotency_key", *cls.extra_template_fields)
        shared = [
            block
            for klass in cls.__mro__[1 : cls.__mro__.index(OmicsJobOperator) + 1]
            for block in param_blocks(klass.__doc__)
        ]
        own = inspect.cleandoc(cls.__doc__ or "")
        cls.__doc__ = "\n\n".join([own, member_docs(cls.operation, cls.members), "\n".join(shared)])
        cls.__init__ = _init_with_request_arguments(cls, list(cls.members))  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        waiter_delay: float = 30,
        waiter_max_attempts: int = 720,
        fail_on_partial_success: bool = True,
        idempotency_key: str | None = None,
        force_new_job: bool = False,
        include_logs: bool = True,
        log_lines: int = polling.DEFAULT_LOG_LINES,
        **kwargs: Any,
    ) -> None:
        for name in self.members:
            setattr(self, name, kwargs.pop(name, None))
        check_known_arguments(type(self), kwargs)
        kwargs = self.with_asset_alias(kwargs)
        # Each top-level key of the result is its own XCom too, so `.output["id"]` works downstream.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        owner = f"{type(self).__name__} ({self.task_id})"
        self.wait_settings = polling.WaitSettings.of(
            owner,
            delay=waiter_delay,
            max_attempts=waiter_max_attempts,
            fail_on_partial_success=fail_on_partial_success,
            include_logs=include_logs,
            log_lines=log_lines,
        )
        for name, value in [
            ("wait_for_completion", wait_for_completion),
            ("force_new_job", force_new_job),
            ("deferrable", False if deferrable is None else deferrable),
        ]:
            if not isinstance(value, bool):
                raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.idempotency_key = idempotency_key
        self.force_new_job = force_new_job
        self.job_ids: list[dict[str, Any]] = []
        # What the finished job is checked against in ``result`` (an upload's ETags); kept across a deferral.
        self.checks: dict[str, Any] = {}

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """As Airflow's; a mapped task is shown by what it works on (its run's name, its sample), not its index."""
        labels = [name for name in LABEL_MEMBERS if name in cls.members]
        if labels and kwargs.get("map_index_template") is None:
            kwargs["map_index_template"] = "{{ " + " or ".join(f"task.{name}" for name in labels) + " or '' }}"
        return super().partial(**cls.with_asset_alias(kwargs))

    @property
    def job(self) -> JobKind:
        if self.kind is None:
            raise TypeError(f"{type(self).__name__} creates a resource that has no status to wait for")
        return job_kind(self.kind)

    # ---- the request -------------------------------------------------------------------------------
    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        """The start requests (one, or several where a request is over a service limit), validated."""
        request = self.requested()
        member, limit = self.split_member, self.split_limit
        items = request.get(member) if member else None
        if not (member and isinstance(items, list) and len(items) > limit):
            self.check(request)
            return [request]
        requests = [{**request, member: items[i : i + limit]} for i in range(0, len(items), limit)]
        self.log.info("%d %s: %d jobs of at most %d", len(items), member, len(requests), limit)
        for chunk, each in enumerate(requests):
            self.check(each, offset=(member, chunk * limit))
        return requests

    def requested(self) -> dict[str, Any]:
        """The request from the operator's arguments, as given (``build_requests`` checks and splits it)."""
        request = {member: getattr(self, name) for name, member in self.members.items()}
        return {k: v for k, v in request.items() if v is not None}

    def lineage_request(self) -> dict[str, Any]:
        return self.requested()

    def lineage_ids(self, output: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.kind is None:
            return super().lineage_ids(output)
        return self.kind, self.job_ids[0] if self.job_ids else {k: output[k] for k in self.job.ids if k in output}

    def check(self, request: Mapping[str, Any], offset: tuple[str, int] | None = None) -> None:
        """Fail before any API call, naming each argument (and item, in the user's list) and its rule."""
        problems = validate(self.operation, {**request, **self._token_placeholder()})
        if problems:
            names = {member: name for name, member in self.members.items()}
            lines = [_rename(_shift_index(problem, offset), names) for problem in problems]
            raise ValueError(f"{type(self).__name__} ({self.task_id}): invalid arguments:\n  - " + "\n  - ".join(lines))

    def _token_placeholder(self) -> dict[str, Any]:
        member = self.token_member
        return {member: "x"} if member else {}

    @property
    def token_member(self) -> str | None:
        members = operation(self.operation).input_shape.members
        return next((m for m in TOKEN_MEMBERS if m in members), None)

    def tokens(self, context: Any, chunk: int, request: Mapping[str, Any]) -> Iterator[str]:
        """The task's token, then its next generations, one after each job that failed: deterministic per
        idempotency key, task, map index, chunk and request (and try, with ``force_new_job``)."""
        ti = context["ti"]
        material = [ti.dag_id, ti.task_id, self.idempotency_key or ti.run_id, ti.map_index, chunk, request]
        if self.force_new_job:
            material.append(ti.try_number)
        return tokens_of(material, self.job.label if self.kind else self.operation)

    # ---- start, or find the job of an earlier try ----------------------------------------------------
    def start(self, context: Any, chunk: int, request: dict[str, Any]) -> Started:
        member = self.token_member
        if self.kind is None:  # nothing to wait for: the response is the result
            token: dict[str, Any] = {member: next(self.tokens(context, chunk, request))} if member else {}
            response = self.hook.call(self.operation, **request, **token)
            response.pop("ResponseMetadata", None)
            return Started({}, response)
        if member is None:
            return self.start_without_token(context, request)
        carried: list[dict[str, Any]] = []
        for client_token in self.tokens(context, chunk, request):
            asked_at = datetime.now(UTC)
            params: dict[str, Any] = {**request, member: client_token}
            response = self.hook.call(self.operation, **params)
            ids = self.job.ids_of(response, request)
            described = polling.first_look(self.hook, self.job, ids, self.wait_settings)
            status = self.job.status_of(described)
            # A job is never already failed right after it starts: this one is an earlier try's.
            if polling.verdict(self.job, described, self.wait_settings.fail_on_partial_success) != "failure":
                self.say_if_earlier(ids, described, asked_at)
                return Started(ids, described, carried)
            remaining = self.failed_part(request, described)
            if remaining is None:
                self.log.info("%s %s from an earlier try ended %s; starting a fresh one", self.job.label, ids, status)
                continue
            settled = [item for item in described[self.job.items_key or ""] if not self.job.item_failed(item)]
            self.log.info(
                "%s %s from an earlier try ended %s: starting one for its %d failed %s only (%d done already)",
                self.job.label,
                ids,
                status,
                len(remaining[self.split_member or ""]),
                self.split_member,
                len(settled),
            )
            carried += settled
            request = remaining
        raise AssertionError("unreachable: the generations run out with an error")

    def failed_part(self, request: Mapping[str, Any], described: Mapping[str, Any]) -> dict[str, Any] | None:
        """After COMPLETED_WITH_FAILURES: the request cut to the items that failed, so none is done twice."""
        member = self.split_member
        items = request.get(member) if member else None
        results = described.get(self.job.items_key or "") or []
        if not member or not items or self.job.status_of(described) != PARTIAL_SUCCESS or len(results) != len(items):
            return None
        return {
            **request,
            member: [item for item, result in zip(items, results, strict=True) if self.job.item_failed(result)],
        }

    def say_if_earlier(self, ids: Mapping[str, Any], described: Mapping[str, Any], asked_at: datetime) -> None:
        """Tell the user when the start call answered with a job that existed before it."""
        created = described.get("creationTime")
        if isinstance(created, str):
            created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if not isinstance(created, datetime) or created >= asked_at - CLOCK_SKEW:
            return
        verb = "re-attached to" if polling.verdict(self.job, described) == "waiting" else "reusing"
        self.log.info(
            "%s %s %s (%s), started at %s by an earlier try or DAG run with the same idempotency key",
            verb.capitalize(),
            self.job.label,
            polling.describe_ids(ids),
            self.job.status_of(described),
            created.isoformat(),
        )

    def start_without_token(self, context: Any, request: dict[str, Any]) -> Started:
        """For APIs without a token: a name conflict means the resource exists already; reuse it."""
        try:
            response = self.hook.call(self.operation, **request)
        except ClientError as exc:
            existing: dict[str, Any] = {k: request.get(k) for k in self.job.ids}
            if error_code(exc) != "ConflictException" or not all(existing.values()):
                raise
            self.log.info("%s %s exists already: reusing it", self.job.label, existing)
            return Started(existing, self.hook.describe(self.job, **existing))
        ids = self.job.ids_of(response, request)
        return Started(ids, polling.first_look(self.hook, self.job, ids, self.wait_settings))

    # ---- execute ------------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        with self.reporting_failure():
            return self.finished(context, self.completed(context, self._start_and_wait(context)))

    def before_start(self, context: Any, requests: list[dict[str, Any]]) -> None:
        """What an operator checks after its requests are built and before anything starts (``preflight``)."""

    def completed(self, context: Any, output: Any) -> Any:
        """The task's XCom, once its job is over: what needs the task's context (links, files) adds to it here."""
        return output

    def _start_and_wait(self, context: Any) -> Any:
        """Start (or find) the jobs, then hand back what they ended as: at once, deferred, or after a wait here."""
        started = self._started(context)
        carried = [each.carried for each in started]
        found = [each.described for each in started]
        if self.kind is None or not self.wait_for_completion:
            return self.result(found, carried)
        verdicts = {polling.verdict(self.job, each, self.wait_settings.fail_on_partial_success) for each in found}
        if verdicts == {"success"}:  # found finished (a reused job): nothing to wait for
            return self.result(found, carried)
        if self.deferrable:
            self.defer(trigger=self._trigger(carried), method_name="execute_complete")
        with diagnostics.reported(self.hook, self.wait_settings):
            return self.result(self.hook.wait_with(self.wait_settings, self.job, self.job_ids), carried)

    def _started(self, context: Any) -> list[Started]:
        """The requests built and checked, each started (or its earlier try's job found), and the console link."""
        for link in self.operator_extra_links:
            link.clear(context, self)
        requests = self.build_requests(context)
        self.before_start(context, requests)
        started = [self.start(context, chunk, request) for chunk, request in enumerate(requests)]
        if self.kind is not None:
            self.job_ids = [each.ids for each in started]
            for each in started:
                status = self.job.status_of(each.described)
                self.log.info("%s %s is %s", self.job.label, polling.describe_ids(each.ids), status)
            OmicsConsoleLink.persist_job(
                context, self, self.job, self.job_ids[0], self.hook.conn_region_name, self.hook.conn_partition
            )
        return started

    def _trigger(self, carried: list[list[dict[str, Any]]]) -> OmicsJobTrigger:
        """The wait in the triggerer, with what the task needs back when it resumes (``execute_complete``)."""
        carry = {**({"carried": carried} if any(carried) else {}), **({"checks": self.checks} if self.checks else {})}
        return OmicsJobTrigger(
            kind=self.job.name,
            ids=self.job_ids if len(self.job_ids) > 1 else self.job_ids[0],
            wait=self.wait_settings,
            connection=AwsSettings.of(self),
            carry=json_safe(carry) or None,
        )

    def execute_complete(
        self,
        context: Any,
        event: Mapping[str, Any] | None = None,
        carried: list[list[dict[str, Any]]] | None = None,
    ) -> Any:
        if event is None:  # resumed with no event (e.g. the worker died while deferred): find the job again
            self.log.info("Resumed without a trigger event: re-attaching to the job this task started")
            return self.execute(context)
        self.job_ids = event["ids"] if isinstance(event["ids"], list) else [event["ids"]]
        # What the task needs back comes in the event; ``carried`` as a kwarg: deferred by an older version.
        carry = event.get("carry") or {}
        carried = carry.get("carried", carried)
        self.checks = carry.get("checks") or {}
        with self.reporting_failure(), diagnostics.reported(self.hook, self.wait_settings):
            described = self.hook.outcome(self.wait_settings, self.job, event)
        output = self.completed(context, self.result(described, carried))
        return self.finished(context, output)

    def result(self, described: list[dict[str, Any]], carried: list[list[dict[str, Any]]] | None = None) -> Any:
        """XCom: the job's describe output; several jobs (a split import, a partial retry) merged."""
        carried = carried or [[] for _ in described]
        if len(described) == 1 and not carried[0]:
            return json_safe(described[0])
        return json_safe(self.merge(described, carried))

    def merge(self, described: list[dict[str, Any]], carried: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """Several jobs of one request: lists joined (items settled by earlier jobs first), the worst status."""
        merged = dict(described[0])
        items_key = self.job.items_key if self.kind else None
        for key, value in merged.items():
            if isinstance(value, list):
                merged[key] = [
                    item
                    for chunk, job in enumerate(described)
                    for item in (carried[chunk] if key == items_key else []) + (job.get(key) or [])
                ]
        if self.kind is None or len(described) == 1:
            return merged
        worst = max(described, key=lambda job: _severity(self.job, job))
        merged["status"] = self.job.status_of(worst)
        failed = [f"{what}: {why}" for job in described for what, why in self.job.failed_items(job)]
        if failed:
            total = len(merged.get(items_key or "", []))
            merged["statusMessage"] = f"{len(failed)} of {total} failed: " + "; ".join(failed)
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


def _severity(job: JobKind, described: Mapping[str, Any]) -> int:
    status = job.status_of(described)
    if status in job.failure_states and status != PARTIAL_SUCCESS:
        return 2
    return 1 if status == PARTIAL_SUCCESS or job.failed_parts(described) else 0


def _shift_index(problem: str, offset: tuple[str, int] | None) -> str:
    """``sources[0]`` of the second chunk of 100 is ``sources[100]`` in the user's list."""
    if not offset or not offset[1]:
        return problem
    member, shift = offset
    return re.sub(rf"^{member}\[(\d+)\]", lambda m: f"{member}[{int(m.group(1)) + shift}]", problem)


def _rename(problem: str, names: Mapping[str, str]) -> str:
    """``workflowId: ...`` -> ``workflow_id: ...``: name the operator's argument, not the API member."""
    first = re.split(r"[.\[: ]", problem, maxsplit=1)[0]
    return names[first] + problem[len(first) :] if first in names else problem


def _init_with_request_arguments(cls: type, names: list[str]) -> Any:
    """An ``__init__`` whose signature lists every argument, so ``partial().expand()`` and IDEs know them.

    A class may write its own ``__init__`` for arguments of its own (keyword-only); it is called in turn.
    """
    target = cls.__dict__.get("__init__") or cls.__mro__[1].__init__  # type: ignore[misc]

    def __init__(self: Any, **kwargs: Any) -> None:
        target(self, **kwargs)

    own = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in names]
    for klass in cls.__mro__[0 : cls.__mro__.index(OmicsJobOperator) + 1]:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind == param.KEYWORD_ONLY and param.name not in {p.name for p in own}:
                own.append(param)
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *own, kwargs]
    )
    __init__.__doc__ = cls.__doc__
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__

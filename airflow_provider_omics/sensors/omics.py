"""Sensors: wait for any HealthOmics job of the job table (poke, reschedule or deferrable), or for an event."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics import diagnostics, polling
from airflow_provider_omics.arguments import check_known_arguments, default_deferrable, param_blocks
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.event_filter import EventFilter
from airflow_provider_omics.events import json_safe
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import JobKind, job_kind
from airflow_provider_omics.service_model import snake
from airflow_provider_omics.triggers.omics import OmicsEventTrigger, OmicsJobTrigger


class OmicsJobSensor(AwsBaseSensor[OmicsHook]):
    """Wait until a HealthOmics job or resource of ``kind`` ends; fail at once if it fails.

    ``OmicsJobSensor(task_id=..., kind="read_set_import", sequence_store_id="...", id="...")``: the
    identifying arguments are the kind's describe arguments in snake_case. Returns (XCom) the final
    describe output. ``mode="reschedule"`` frees the slot between pokes. A throttled or transiently failing
    poke saw nothing: the sensor pokes again; only a terminal status, ``timeout`` or an error that is not
    transient end it, as in the other modes.

    :param kind: the kind of job in ``jobs.JOB_KINDS`` (``"run"``, ``"read_set_import"``, ...); set by the
        named sensors.
    :param ids: the describe arguments as the API names them (``{"sequenceStoreId": ..., "id": ...}``), instead
        of the snake_case arguments (templated).
    :param deferrable: wait in the triggerer, without a worker slot (default ``[operators] default_deferrable``).
    :param fail_on_partial_success: fail on COMPLETED_WITH_FAILURES (default True), naming each failed item.
    :param include_logs: when a run fails, put the last lines of its failed tasks' logs and of its engine log in
        the task's error, with links to them (default True; needs ``logs:GetLogEvents``).
    :param log_lines: how many lines of each of those logs (default 50).
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("ids")
    kind: str | None = None
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        kind: str | None = None,
        ids: Mapping[str, Any] | None = None,
        deferrable: bool | None = None,
        fail_on_partial_success: bool = True,
        include_logs: bool = True,
        log_lines: int = polling.DEFAULT_LOG_LINES,
        **kwargs: Any,
    ) -> None:
        self.kind = kind or self.kind
        job = job_kind(self.kind or "")
        self.ids = dict(ids or {}) or {m: kwargs.pop(snake(m)) for m in job.ids if snake(m) in kwargs}
        missing = [snake(member) for member in job.ids if member not in self.ids]
        if missing:
            raise ValueError(f"{type(self).__name__}: a {job.label} is identified by {', '.join(missing)}")
        check_known_arguments(type(self), kwargs, [snake(member) for member in job.ids])
        super().__init__(**kwargs)
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        # Deferred, the sensor polls every poke_interval (never faster than the quota: 0 means "as fast as allowed").
        poke_interval = self.poke_interval or 0.001
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.wait_settings = polling.WaitSettings.of(
            f"{type(self).__name__} ({self.task_id})",
            delay=poke_interval,
            max_attempts=max(1, int(timeout // poke_interval)),
            fail_on_partial_success=fail_on_partial_success,
            include_logs=include_logs,
            log_lines=log_lines,
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A named sensor documents its own kind; the arguments it shares are the generic sensor's.
        shared = "\n".join(param_blocks(OmicsJobSensor.__doc__))
        cls.__doc__ = f"{inspect.cleandoc(cls.__doc__ or '')}\n\n{shared}"

    @property
    def job(self) -> JobKind:
        return job_kind(self.kind or "")

    def poke(self, context: Any) -> Any:
        # One poll of the shared poll step: a failure raises, a transient error is a poke that saw nothing.
        waiter = self.wait_settings.waiter(self.job, [self.ids], self.log)
        try:
            described = self.hook.describe(self.job, retry=False, **self.ids)
        except Exception as error:
            waiter.failed(0, error)
            return False
        with diagnostics.reported(self.hook, self.wait_settings):
            waiter.saw(0, described)
        if waiter.finished:
            context["ti"].xcom_push(key="return_value", value=json_safe(described))
            return True
        return False

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):  # already over: no need to defer
            return None
        self.defer(
            trigger=OmicsJobTrigger(
                kind=self.job.name,
                ids=self.ids,
                wait=self.wait_settings,
                connection=AwsSettings.of(self),
                cancel_on_kill=False,  # a sensor watches a job it did not start
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        with diagnostics.reported(self.hook, self.wait_settings):
            return self.hook.outcome(self.wait_settings, self.job, event)[0]


class OmicsRunSensor(OmicsJobSensor):
    """Wait for a workflow run (``id``) to COMPLETE; fail on FAILED, CANCELLED or DELETED."""

    kind = "run"


class OmicsRunBatchSensor(OmicsJobSensor):
    """Wait for a run batch (``batch_id``) to be PROCESSED."""

    kind = "run_batch"


class OmicsReadSetImportJobSensor(OmicsJobSensor):
    """Wait for a read-set import job (``sequence_store_id``, ``id``)."""

    kind = "read_set_import"


class OmicsReadSetExportJobSensor(OmicsJobSensor):
    """Wait for a read-set export job (``sequence_store_id``, ``id``)."""

    kind = "read_set_export"


class OmicsReadSetActivationJobSensor(OmicsJobSensor):
    """Wait for a read-set activation job (``sequence_store_id``, ``id``)."""

    kind = "read_set_activation"


class OmicsReferenceImportJobSensor(OmicsJobSensor):
    """Wait for a reference import job (``reference_store_id``, ``id``)."""

    kind = "reference_import"


class OmicsVariantImportJobSensor(OmicsJobSensor):
    """Wait for a variant import job (``job_id``)."""

    kind = "variant_import"


class OmicsAnnotationImportJobSensor(OmicsJobSensor):
    """Wait for an annotation import job (``job_id``)."""

    kind = "annotation_import"


class OmicsReadSetSensor(OmicsJobSensor):
    """Wait for a read set (``sequence_store_id``, ``id``) to be ACTIVE (after a direct upload, an activation)."""

    kind = "read_set"


class OmicsShareSensor(OmicsJobSensor):
    """Wait for a share (``share_id``) to be ACTIVE: accepted by its subscriber."""

    kind = "share"


class OmicsWorkflowSensor(OmicsJobSensor):
    """Wait for a workflow (``id``) to be ACTIVE."""

    kind = "workflow"


class OmicsEventSensor(AwsBaseSensor[OmicsHook]):
    """Wait for a HealthOmics event that passes a filter, whoever started the job: the Airflow 2.11 way to start
    work when a run completes or a read set lands (on Airflow 3, ``OmicsEventTrigger`` in an ``AssetWatcher``
    schedules the DAG itself). A DAG scheduled ``@continuous`` with ``max_active_runs=1`` whose first task is this
    sensor runs once per event.

    It always defers: in the triggerer one receiver per SQS queue serves every such sensor (``event_source.py``).
    Returns (XCom) the event's payload: ``{"kind", "status", "ids", "event_id", "time", "detail", "described"}``.
    ``timeout`` (seconds, default 7 days) ends a wait no event answered.

    :param queue_url: the SQS queue's URL an EventBridge rule fills (templated).
    :param kind: what the events are about: ``"run"``, ``"read_set"``, ``"read_set_import"``, ...
    :param statuses: the statuses that count (default: the kind's good ends, a run COMPLETED).
    :param match: ``{field: value or [values]}``: fields of the event's detail or the job's describe output
        (``workflowId``, ``workflowName``, ``runGroupId``, ``sequenceStoreId``, ``sampleId``, ``tags.project``)
        (templated).
    :param describe: describe the job before answering, for ``described`` and ``match`` (default True).
    :param deferrable: must stay True: the wait is the triggerer's.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("queue_url", "match")
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        queue_url: str,
        kind: str,
        statuses: str | list[str] | None = None,
        match: Mapping[str, Any] | None = None,
        describe: bool = True,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        if not deferrable:
            raise ValueError(
                "OmicsEventSensor waits in the triggerer, where one receiver per queue serves every wait: "
                "deferrable=False is not supported"
            )
        super().__init__(**kwargs)
        EventFilter.of(f"{type(self).__name__} ({self.task_id})", kind, statuses, match)  # fails at DAG parse
        self.queue_url = queue_url
        self.kind = kind
        self.statuses = statuses
        self.match = dict(match or {})
        self.describe = describe

    def execute(self, context: Any) -> Any:
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=OmicsEventTrigger(
                queue_url=self.queue_url,
                kind=self.kind,
                statuses=self.statuses,
                match=self.match,
                describe=self.describe,
                connection=AwsSettings.of(self),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=timeout),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        self.log.info("%s %s is %s", self.kind, event["ids"], event["status"])
        return event

"""Sensors: wait for any HealthOmics job of the job table (poke, reschedule or deferrable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics import diagnostics, polling
from airflow_provider_omics.arguments import check_known_arguments, default_deferrable
from airflow_provider_omics.events import json_safe, raise_for_event
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import JobKind, job_kind
from airflow_provider_omics.service_model import snake
from airflow_provider_omics.triggers.omics import OmicsJobTrigger


class OmicsJobSensor(AwsBaseSensor[OmicsHook]):
    """Wait until a HealthOmics job or resource of ``kind`` ends; fail at once if it fails.

    ``OmicsJobSensor(task_id=..., kind="read_set_import", sequence_store_id="...", id="...")``: the
    identifying arguments are the kind's describe arguments in snake_case, or ``ids={"id": ..., "taskId": ...}``
    as the API names them. Returns (XCom) the final
    describe output. ``deferrable=True`` waits in the triggerer; ``mode="reschedule"`` frees the slot
    between pokes. A throttled or transiently failing poke saw nothing: the sensor pokes again; only a
    terminal status, ``timeout`` or an error that is not transient end it, as in the other modes.
    A run that fails fails the sensor with its failed tasks and the tails of their logs
    (``include_logs=False`` leaves the logs out; ``log_lines`` lines of each, default 50).
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
        log_lines: int = diagnostics.DEFAULT_LOG_LINES,
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
        self.fail_on_partial_success = fail_on_partial_success
        diagnostics.check_arguments(f"{type(self).__name__} ({self.task_id})", include_logs, log_lines)
        self.include_logs = include_logs
        self.log_lines = log_lines

    @property
    def job(self) -> JobKind:
        return job_kind(self.kind or "")

    def poke(self, context: Any) -> Any:
        # One poll of the shared poll step: a failure raises, a transient error is a poke that saw nothing.
        waiter = polling.Waiter(self.job, [self.ids], self.poke_interval, 1, self.fail_on_partial_success, self.log)
        try:
            described = self.hook.describe(self.job, retry=False, **self.ids)
        except Exception as error:
            waiter.failed(0, error)
            return False
        with diagnostics.reported(self.hook, self.include_logs, self.log_lines):
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
        timeout = self.timeout.total_seconds() if isinstance(self.timeout, timedelta) else float(self.timeout)
        self.defer(
            trigger=OmicsJobTrigger(
                kind=self.job.name,
                ids=self.ids,
                waiter_delay=self.poke_interval,
                waiter_max_attempts=max(1, int(timeout // max(self.poke_interval, 0.001))),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
                fail_on_partial_success=self.fail_on_partial_success,
                cancel_on_kill=False,  # a sensor watches a job it did not start
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        with diagnostics.reported(self.hook, self.include_logs, self.log_lines):
            raise_for_event(self.job, event)
        return event["described"]


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

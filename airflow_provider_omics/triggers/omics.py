"""One deferrable trigger for every kind of the job table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import fields
from typing import Any, TypeVar, cast

from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import ClientError

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS, task_state
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.errors import OmicsJobFailed, OmicsWaitTimeout
from airflow_provider_omics.events import error_event, success_event
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import job_kind
from airflow_provider_omics.polling import WaitSettings
from airflow_provider_omics.status_source import StatusSource

# Task instance states after which the task will not run again: a user ended it (mark failed / success).
# Any other state after a user action on a deferred task means it was cleared and a new try will come.
_ENDED_STATES = frozenset({"failed", "success", "skipped", "upstream_failed", "removed"})


class OmicsJobTrigger(BaseTrigger):
    """Wait, without a worker slot, until a HealthOmics job of any kind ends (or several of one kind).

    Fires once with an ``events.JobEvent``: ``{"status": "success" | "failure" | "timeout", "job_status",
    "message", "described", "kind", "ids"}``, and ``carry`` when given one: what the task needs back after
    the wait (in the event, not the deferral's kwargs, which ``dag.test()`` drops). The waits of one
    connection in a triggerer are answered together, within the service's quotas (``status_source.py``).
    Throttled or transiently failing polls back off and poll again later; they never fail the wait. When
    the deferred task is marked failed or succeeded, the job is cancelled if its kind can be; when it is
    cleared, the job goes on and the task's new try re-attaches to it. Airflow 3.3+ tells the trigger
    (``on_kill``); before 3.3 the trigger's ``cleanup`` asks the task's state, so a triggerer restart (the
    task still deferred) cancels nothing.

    :param kind: the kind of job in ``jobs.JOB_KINDS`` (``"run"``, ``"read_set_import"``, ...).
    :param ids: the job's describe arguments as the API names them (``{"id": "1234567"}``), or a list of them
        to wait for several jobs of one kind together.
    :param wait: the wait's settings, ``polling.WaitSettings`` (delay, max_attempts, fail_on_partial_success,
        include_logs, log_lines) or their dict.
    :param connection: the connection's settings, ``connection.AwsSettings`` (aws_conn_id, region_name, verify,
        botocore_config) or their dict.
    :param cancel_on_kill: cancel the job when the deferred task is marked failed or succeeded (default True).
    :param carry: what the task needs back after the wait; returned in the event under ``carry``.
    :param separate: the wait and connection settings one by one instead (``waiter_delay=...``,
        ``aws_conn_id=...``), as the Amazon provider's triggers take them.
    """

    def __init__(
        self,
        kind: str,
        ids: Mapping[str, Any] | list[dict[str, Any]],
        wait: WaitSettings | Mapping[str, Any] | None = None,
        connection: AwsSettings | Mapping[str, Any] | None = None,
        cancel_on_kill: bool = True,
        carry: dict[str, Any] | None = None,
        **separate: Any,
    ) -> None:
        super().__init__()
        job_kind(kind)
        self.kind = kind
        self.ids: Any = [dict(i) for i in ids] if isinstance(ids, list) else dict(ids)
        # ``separate``: the settings one by one (waiter_delay=..., aws_conn_id=...), as the Amazon provider's
        # triggers take them and as tasks deferred by versions before 0.6 were serialized.
        self.wait = _settings(WaitSettings, wait, separate, _WAIT_NAMES)
        self.connection = _settings(AwsSettings, connection, separate, {})
        if separate:
            raise TypeError(f"OmicsJobTrigger: unknown arguments {', '.join(sorted(separate))}")
        self.cancel_on_kill = cancel_on_kill
        self.carry = carry
        self._fired = False  # set once run() has its event

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "ids": self.ids,
                "wait": self.wait.as_dict(),
                "connection": self.connection.as_dict(),
                "cancel_on_kill": self.cancel_on_kill,
                "carry": self.carry,
            },
        )

    def hook(self) -> OmicsHook:
        return OmicsHook(**self.connection.hook_kwargs())

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self.ids) if isinstance(self.ids, list) else [self.ids]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        job = job_kind(self.kind)
        waiter = self.wait.waiter(job, self.jobs, self.log)  # paced by the status source's limiter
        async with StatusSource.for_hook(self.hook(), self.connection.key()).in_use() as source:
            try:
                event = success_event(job, self.ids, await source.wait(waiter))
            except (OmicsJobFailed, OmicsWaitTimeout) as ended:
                event = error_event(job, ended, self.ids)
        self._fired = True  # a trigger that answered was not killed: cleanup() need not ask why it ends
        yield TriggerEvent(
            {**event, **({"carry": self.carry} if self.carry else {})}
        )  # after the client is released: nothing may resume this generator

    async def on_kill(self) -> None:
        """Airflow 3.3+: a user marked the deferred task failed or succeeded, or cleared it."""
        await self._cancel_unless_task_runs_again(cancel_if_unknown=True)

    async def cleanup(self) -> None:
        """Before Airflow 3.3 the only call a user's action reaches; it also runs on every other exit."""
        if not AIRFLOW_V_3_3_PLUS and not self._fired:
            await self._cancel_unless_task_runs_again(cancel_if_unknown=False)

    async def _cancel_unless_task_runs_again(self, cancel_if_unknown: bool) -> None:
        job = job_kind(self.kind)
        if not self.cancel_on_kill or job.cancel_operation is None:
            return
        try:
            if self.task_instance is None:
                raise LookupError("the trigger runs without a task instance")
            state = await task_state(self.task_instance)
        except Exception:
            self.log.info("Could not tell what happened to the task", exc_info=True)
            if not cancel_if_unknown:
                return
            state = "unknown"
        else:
            if state not in _ENDED_STATES:
                # Cleared (a new try comes), still deferred (a triggerer restart) or already running again.
                self.log.info("The task is %s: %s %s goes on", state or "cleared", job.label, self.ids)
                return
        self.log.info("The task is %s: cancelling %s %s", state, job.label, self.ids)
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            for ids in self.jobs:
                try:
                    await hook.call_async(client, job.cancel_operation, **ids)
                    self.log.info("Cancelled %s %s", job.label, ids)
                except ClientError as exc:  # already ended: nothing to cancel
                    self.log.info("Did not cancel %s %s: %s", job.label, ids, exc)


_WAIT_NAMES = {"waiter_delay": "delay", "waiter_max_attempts": "max_attempts"}
Settings = TypeVar("Settings", WaitSettings, AwsSettings)


def _settings(
    cls: type[Settings], given: Settings | Mapping[str, Any] | None, separate: dict[str, Any], names: Mapping[str, str]
) -> Settings:
    """A settings value from itself, its serialized dict, or arguments given one by one (taken from ``separate``)."""
    if isinstance(given, cls):
        return given
    values: dict[str, Any] = dict(cast(Mapping[str, Any], given or {}))
    for field in fields(cls):
        argument = next((old for old, new in names.items() if new == field.name), field.name)
        if argument in separate:
            values[field.name] = separate.pop(argument)
    return cls(**values)

"""One deferrable trigger for every kind of the job table, and one for HealthOmics' own events."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import fields
from typing import Any, TypeVar, cast

from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import ClientError

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS, EventTriggerBase, task_state
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.errors import OmicsJobFailed, OmicsWaitTimeout
from airflow_provider_omics.event_filter import EventFilter
from airflow_provider_omics.event_source import REMEMBERED, EventSource, OmicsEvent, checked_queue_url
from airflow_provider_omics.events import ended_event, error_event, json_safe, success_event
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import job_kind
from airflow_provider_omics.polling import EndHeard, WaitSettings
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
        super().__init__()  # type: ignore[no-untyped-call]
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
        async with StatusSource.of(self.connection).in_use() as source:
            try:
                finals = await source.wait(waiter)
                event = (
                    ended_event(job, self.ids, waiter.heard) if waiter.heard else success_event(job, self.ids, finals)
                )
            except EndHeard as heard:
                event = ended_event(job, self.ids, heard.heard)
            except (OmicsJobFailed, OmicsWaitTimeout) as ended:
                event = error_event(job, ended, self.ids)
        self._fired = True  # a trigger that answered was not killed: cleanup() need not ask why it ends
        yield TriggerEvent(  # type: ignore[no-untyped-call]
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
        async with await hook.get_async_conn() as client:  # type: ignore[no-untyped-call]
            for ids in self.jobs:
                try:
                    await hook.call_async(client, job.cancel_operation, **ids)
                    self.log.info("Cancelled %s %s", job.label, ids)
                except ClientError as exc:  # already ended: nothing to cancel
                    self.log.info("Did not cancel %s %s: %s", job.label, ids, exc)


class OmicsEventTrigger(EventTriggerBase):
    """Fire for each HealthOmics event that passes a filter, read from an SQS queue an EventBridge rule fills, whoever
    started the job: a run from the console or a Lambda, a read set from the sequencing core's own uploader.

    Airflow 3: ``Asset("omics_runs_completed", watchers=[AssetWatcher(name="omics_runs_completed",
    trigger=OmicsEventTrigger(queue_url=..., kind="run"))])`` schedules a DAG that runs once per event; Airflow
    keeps the payload in the asset event's extra (``lineage.triggering_payloads`` reads them). Airflow 2.11:
    ``OmicsEventSensor`` defers on it and returns the payload.

    The triggers and waits of a triggerer on one queue share its receiver (``event_source.py``). A message is deleted
    once its event is handed to Airflow; a second delivery of it (EventBridge's event id again) fires nothing. Give
    each watcher a queue of its own (an EventBridge rule can target several) unless their filters never match the
    same event, and do not share a queue with the connection's event-driven waits (``omics_events_queue``): a queue
    hands each message to one receiver.

    Payload: ``{"kind", "status", "ids", "event_id", "time", "detail", "described"}``: the job's describe arguments
    (``ids["id"]``: the run id), the event as EventBridge delivered it, and (``describe=True``) the job's describe
    output, where a run's ``runOutputUri`` and a read set's ``sampleId`` are.

    :param queue_url: the SQS queue's URL.
    :param kind: what the events are about, a kind of the job table with events: ``"run"``, ``"read_set"``,
        ``"read_set_import"``, ``"workflow"``, ...
    :param statuses: the statuses that fire (a name or a list; default: the kind's good ends, a run COMPLETED).
    :param match: ``{field: value or [values]}``: fields of the event's detail or the job's describe output
        (``workflowId``, ``workflowName``, ``runGroupId``, ``sequenceStoreId``, ``sampleId``, ``tags.project``).
    :param describe: describe the job before firing, for ``described`` and ``match`` (default True; one call per
        event that passes the rest of the filter).
    :param connection: ``connection.AwsSettings`` (aws_conn_id, region_name, verify, botocore_config) or their dict.
    :param separate: the connection's settings one by one instead (``aws_conn_id=...``, ``region_name=...``).
    """

    def __init__(
        self,
        queue_url: str,
        kind: str,
        statuses: str | list[str] | None = None,
        match: Mapping[str, Any] | None = None,
        describe: bool = True,
        connection: AwsSettings | Mapping[str, Any] | None = None,
        **separate: Any,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.queue_url = checked_queue_url("OmicsEventTrigger: queue_url", queue_url)
        self.filter = EventFilter.of("OmicsEventTrigger", kind, statuses, match)
        self.describe = describe
        self.connection = _settings(AwsSettings, connection, separate, {})
        if separate:
            raise TypeError(f"OmicsEventTrigger: unknown arguments {', '.join(sorted(separate))}")
        self._inbox: asyncio.Queue[tuple[OmicsEvent, asyncio.Future[None]] | Exception] | None = None
        self._passed_over: OrderedDict[str, None] = OrderedDict()  # event ids the describe showed not to match

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "queue_url": self.queue_url,
                **self.filter.as_dict(),
                "describe": self.describe,
                "connection": self.connection.as_dict(),
            },
        )

    def hook(self) -> OmicsHook:
        return OmicsHook(**self.connection.hook_kwargs())

    # ---- as a subscriber of the event source ------------------------------------------------------------
    def wants(self, event: OmicsEvent) -> bool:
        return event.id not in self._passed_over and self.filter.passes_detail(event) is not False

    def keeps(self, event: OmicsEvent) -> bool:
        return True  # a watcher in another triggerer may filter on anything

    async def take(self, event: OmicsEvent) -> None:
        """Done once the event is handed to Airflow (or raises: not for this trigger after all)."""
        if self._inbox is None:
            raise LookupError("the trigger is not running")
        taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait((event, taken))
        await taken

    def lost(self, error: Exception) -> None:
        if self._inbox is not None:
            self._inbox.put_nowait(error)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self._inbox = asyncio.Queue()
        hook = self.hook()
        source = EventSource.of(self.queue_url, self.connection)
        async with await hook.get_async_conn() as client, source.subscribed(self), self._leaving_untaken():  # type: ignore[no-untyped-call]
            what = self.filter.as_dict()
            self.log.info(
                "Listening on %s for %s events: %s %s", self.queue_url, what["kind"], what["statuses"], what["match"]
            )
            while True:
                item = await self._inbox.get()
                if isinstance(item, Exception):
                    raise item
                event, taken = item
                described = await self._described(hook, client, event)
                if described is None or not self.filter.passes(event, described):
                    self._passed_over[event.id] = None  # seen again, it is nobody's here
                    if len(self._passed_over) > REMEMBERED:
                        self._passed_over.popitem(last=False)
                    taken.set_exception(LookupError(f"event {event.id} does not match"))
                    continue
                self.log.info("%s %s is %s: firing", event.kind.label if event.kind else "", event.ids, event.status)
                try:
                    yield TriggerEvent(_payload(event, described))  # type: ignore[no-untyped-call]
                finally:  # Airflow has the event (resumed, or closed after it): the message goes
                    if not taken.done():
                        taken.set_result(None)

    @contextlib.asynccontextmanager
    async def _leaving_untaken(self) -> AsyncIterator[None]:
        """The events still in the inbox when the trigger ends stay on the queue, for whoever wants them next."""
        try:
            yield
        finally:
            while self._inbox is not None and not self._inbox.empty():
                item = self._inbox.get_nowait()
                if not isinstance(item, Exception) and not item[1].done():
                    item[1].set_exception(LookupError("the trigger ended first"))

    async def _described(self, hook: OmicsHook, client: Any, event: OmicsEvent) -> dict[str, Any] | None:
        """The job's describe output ({} when not needed); None when it is needed and cannot be had."""
        needed = self.filter.passes_detail(event) is None
        if not (self.describe or needed) or event.kind is None:
            return {}
        ids: dict[str, Any] = dict(event.ids or {})
        try:
            return await hook.describe_async(client, event.kind, **ids)
        except ClientError as error:  # gone since (deleted), or not allowed: the event alone, if it is enough
            self.log.warning("Could not describe %s %s: %s", event.kind.label, event.ids, error)
            return None if needed else {}


def _payload(event: OmicsEvent, described: Mapping[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = json_safe(
        {
            "kind": event.kind.name if event.kind else None,
            "status": event.status,
            "ids": event.ids,
            "event_id": event.id,
            "time": event.body.get("time"),
            "detail": event.detail,
            "described": described,
        }
    )
    return payload


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

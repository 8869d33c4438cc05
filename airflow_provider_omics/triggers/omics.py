"""One deferrable trigger for every kind of the job table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import ClientError

from airflow_provider_omics.errors import OmicsRetriesExhausted
from airflow_provider_omics.hooks.omics import OmicsHook, error_code, outcome
from airflow_provider_omics.jobs import job_kind


def json_safe(value: Any) -> Any:
    """A describe output as JSON (timestamps as ISO strings): what XCom and trigger events can carry."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


class StatusSource:
    """Where the triggers of one triggerer process get job statuses: one client per connection.

    Every wait goes through here, so that waits on many jobs of one kind can later share List calls
    (one ``ListRuns`` page covers 100 runs, while ``GetRun`` is 10 TPS for the whole account). The
    client is opened by the first wait that needs it and closed when the last one ends.
    """

    # Clients belong to one event loop: sources are kept per loop, and go with it.
    _sources: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], StatusSource]]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, hook: OmicsHook, key: tuple[Any, ...]) -> None:
        self.hook = hook
        self.key = key
        self._client: Any = None
        self._context: Any = None
        self._users = 0
        self._lock = asyncio.Lock()

    @classmethod
    def for_hook(cls, hook: OmicsHook, key: tuple[Any, ...]) -> StatusSource:
        sources = cls._sources.setdefault(asyncio.get_running_loop(), {})
        if key not in sources:
            sources[key] = cls(hook, key)
        return sources[key]

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[StatusSource]:
        async with self._lock:
            if self._users == 0:
                self._context = await self.hook.get_async_conn()
                self._client = await self._context.__aenter__()
            self._users += 1
        try:
            yield self
        finally:
            async with self._lock:
                self._users -= 1
                if self._users == 0:
                    await self._context.__aexit__(None, None, None)
                    self._client = self._context = None
                    self._sources.get(asyncio.get_running_loop(), {}).pop(self.key, None)

    async def describe(self, kind: str, ids: Mapping[str, Any]) -> dict[str, Any]:
        return await self.hook.describe_async(self._client, kind, **ids)


class OmicsJobTrigger(BaseTrigger):
    """Wait, without a worker slot, until a HealthOmics job of any kind ends (or several of one kind).

    Fires once: ``{"status": "success" | "failure" | "timeout", "job_status", "message", "described",
    "kind", "ids"}``. Throttled or transiently failing polls back off and retry; they never fail the wait.
    When the deferred task is marked failed or cleared (Airflow 3.3+), the job is cancelled if its
    kind can be.
    """

    def __init__(
        self,
        kind: str,
        ids: Mapping[str, Any] | list[dict[str, Any]],
        waiter_delay: float = 30,
        waiter_max_attempts: int = 720,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        fail_on_partial_success: bool = True,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()
        job_kind(kind)
        self.kind = kind
        self.ids: Any = [dict(i) for i in ids] if isinstance(ids, list) else dict(ids)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.fail_on_partial_success = fail_on_partial_success
        self.cancel_on_kill = cancel_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "ids": self.ids,
                "waiter_delay": self.waiter_delay,
                "waiter_max_attempts": self.waiter_max_attempts,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "fail_on_partial_success": self.fail_on_partial_success,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    def hook(self) -> OmicsHook:
        return OmicsHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    def _source(self) -> StatusSource:
        key = (
            self.aws_conn_id,
            self.region_name,
            str(self.verify),
            json.dumps(self.botocore_config, sort_keys=True),
        )
        return StatusSource.for_hook(self.hook(), key)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return list(self.ids) if isinstance(self.ids, list) else [self.ids]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async with self._source().in_use() as source:
            event = await self._wait(source)
        yield event  # after the client is released: nothing may resume this generator

    async def _wait(self, source: StatusSource) -> TriggerEvent:
        job = job_kind(self.kind)
        jobs = self.jobs
        finished: dict[int, dict[str, Any]] = {}
        last: dict[int, str] = {}
        for attempt in range(1, self.waiter_max_attempts + 1):
            for index, ids in enumerate(jobs):
                if index in finished:
                    continue
                try:
                    described = await source.describe(self.kind, ids)
                except OmicsRetriesExhausted as exc:  # a long throttling spell is no answer: keep waiting
                    self.log.warning("%s; polling again in %ss", exc, self.waiter_delay)
                    continue
                except ClientError as exc:
                    if error_code(exc) != "ResourceNotFoundException":
                        raise
                    return self._event("failure", ids, "DELETED", str(exc), {})
                status = job.status_of(described)
                if last.get(index) != status:
                    self.log.info(
                        "%s %s is %s (poll %d of %d)",
                        job.label,
                        ids,
                        status,
                        attempt,
                        self.waiter_max_attempts,
                    )
                    last[index] = status
                verdict = outcome(job, described, self.fail_on_partial_success)
                if verdict == "failure":
                    return self._event("failure", ids, status, job.message_of(described), described)
                if verdict == "success":
                    finished[index] = described
            if len(finished) == len(jobs):
                results = [finished[i] for i in range(len(jobs))]
                final = results if isinstance(self.ids, list) else results[0]
                return self._event("success", self.ids, job.status_of(results[-1]), "", final)
            await asyncio.sleep(self.waiter_delay)
        waiting = sorted(set(last.values()))
        message = f"still {', '.join(waiting)} after {self.waiter_max_attempts} polls"
        return self._event("timeout", self.ids, waiting[0] if waiting else "UNKNOWN", message, {})

    def _event(self, verdict: str, ids: Any, status: str, message: str, described: Any) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": verdict,
                "job_status": status,
                "message": message,
                "described": json_safe(described),
                "kind": self.kind,
                "ids": ids,
            }
        )

    async def on_kill(self) -> None:
        job = job_kind(self.kind)
        if not self.cancel_on_kill or job.cancel_operation is None:
            return
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            for ids in self.jobs:
                try:
                    await hook.call_async(client, job.cancel_operation, **ids)
                    self.log.info("Cancelled %s %s", job.label, ids)
                except ClientError as exc:  # already ended: nothing to cancel
                    self.log.info("Did not cancel %s %s: %s", job.label, ids, exc)

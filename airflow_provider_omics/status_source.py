"""The triggerer's status source: every wait of one connection, answered together and within the quotas.

A triggerer holds hundreds of waits (a backfill, a plate of samples) while HealthOmics allows 10
``GetRun`` a second for the whole account. So waits do not poll one by one: each joins the *rounds* of
its kind and delay, and a round answers all of them with as few calls as it can.

* A kind with a ``JobKind.sweep`` lists its in-progress jobs (``ListRuns`` status by status, 100 a
  page; storage jobs per store; analytics imports 20 ids a call) and describes only a waited job that
  is no longer listed as in progress: that confirms its end and gives the event the whole describe
  output. A job that moves while the pages are read is at worst described once more: never missed,
  never ended falsely, because only a describe ends a wait.
* A round with fewer jobs than its listing would take calls describes them one by one instead, spread
  over the delay. So does a kind without a sweep, or a connection refused the list operation.
* Every call waits its turn in the connection's ``RateLimiter`` (90% of the documented quotas, or
  the connection extra ``omics_quotas``): more waits than the quota allows at their delay stretch the
  rounds, logged once, instead of throttling the account. A throttled round backs off.
* Rounds start one delay apart (±10%), earlier by what the last round took (so an end is reported
  within about the delay even when a sweep and its describes take seconds), never twice per delay.

* With the connection extra ``omics_events_queue``, HealthOmics' EventBridge events answer the waits of
  every kind the service sends them for (``event_source.py``): a job's terminal event ends its wait at once,
  and the task's own describe says how (``events.ended_event``). The rounds go on as a safety net for events
  never delivered, once per ``omics_events_safety_interval`` (10 minutes) or the wait's delay if longer, and
  a wait times out after the time its ``max_attempts`` polls would have taken. A queue that cannot be read
  puts the rounds back at the wait's delay.

What an answer means for a wait (a status change logged, a failure, a timeout) is decided by its
``polling.Waiter``, exactly as for a poll in a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from contextvars import Context
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_provider_omics import polling
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.errors import error_code, is_transient
from airflow_provider_omics.event_source import EventSettings, EventSource, OmicsEvent
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import JobKind, Sweep
from airflow_provider_omics.quotas import CONNECTION_EXTRA, RateLimiter, quotas_from_extra
from airflow_provider_omics.service_model import paginators

log = logging.getLogger(__name__)

JobKey = tuple[str, ...]  # a job's describe arguments, in the kind's order


@dataclass(frozen=True)
class Heard:
    """An EventBridge event says the job entered ``status``."""

    status: str


Answer = dict[str, Any] | Exception | Heard  # a describe output, an in-progress list item, an event, or why none

PAGE_SIZE = 100  # the most any listing gives per page
JITTER = 0.1  # rounds start within ±10% of the delay, so triggerers and kinds do not poll in step
DESCRIBE_SPREAD = 0.8  # describes of a round, one per job, are spread over this part of the delay


class StatusSource:
    """All waits of one connection in one triggerer process (one event loop): one client, one limiter.

    The client is opened by the first wait that needs it and closed when the last one ends.
    """

    # Clients belong to one event loop: sources are kept per loop, and go with it.
    _sources: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], StatusSource]]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, hook: OmicsHook, connection: AwsSettings) -> None:
        self.hook = hook
        self.connection = connection
        self.key = connection.key()
        self.client: Any = None
        self.limiter = RateLimiter({})
        self.events: EventSettings | None = None
        self.rounds: dict[tuple[str, float], Rounds] = {}
        self._context: Any = None
        self._users = 0
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, connection: AwsSettings) -> StatusSource:
        sources = cls._sources.setdefault(asyncio.get_running_loop(), {})
        key = connection.key()
        if key not in sources:
            sources[key] = cls(OmicsHook(**connection.hook_kwargs()), connection)
        return sources[key]

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[StatusSource]:
        async with self._lock:
            if self._users == 0:
                context = await self.hook.get_async_conn()  # type: ignore[no-untyped-call]
                # get_async_conn read (and cached) the connection: its extra costs nothing now.
                self.limiter = RateLimiter(quotas_from_extra(self.hook.conn_config.extra_config))
                self.events = EventSettings.from_extra(self.hook.conn_config.extra_config)
                self.client = await context.__aenter__()
                self._context = context
            self._users += 1
        try:
            yield self
        finally:
            async with self._lock:
                self._users -= 1
                if self._users == 0:
                    for rounds in self.rounds.values():
                        await rounds.stop()
                    self.rounds.clear()
                    await self._context.__aexit__(None, None, None)
                    self.client = self._context = None
                    self._sources.get(asyncio.get_running_loop(), {}).pop(self.key, None)

    async def wait(self, waiter: polling.Waiter) -> list[dict[str, Any]]:
        """Until every job of ``waiter`` ends well (their describe outputs) or one fails (raises)."""
        key = (waiter.job.name, float(waiter.delay))
        if key not in self.rounds:
            self.rounds[key] = Rounds(self, waiter.job, waiter.delay)
        return await self.rounds[key].join(waiter)

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        await self.limiter.acquire(operation)
        return await self.hook.call_async(self.client, operation, retry=False, **params)

    async def describe(self, job: JobKind, ids: Mapping[str, Any]) -> dict[str, Any]:
        await self.limiter.acquire(job.operation)
        return await self.hook.describe_async(self.client, job, retry=False, **ids)


class Rounds:
    """The waits on one kind with one delay, answered together once per delay."""

    def __init__(self, source: StatusSource, job: JobKind, delay: float) -> None:
        self.source = source
        self.job = job
        self.delay = delay
        # Each wait's inbox receives the answers of every round it was part of (``whole``), those of events about
        # its jobs, or the fault that ended them.
        self.waits: dict[polling.Waiter, asyncio.Queue[Answers | Exception]] = {}
        self.events = source.events if job.event is not None else None
        self.events_lost = False
        self._wake = asyncio.Event()
        self.listing_calls: dict[JobKey, int] = {}  # calls the last listing of a scope took
        self.learned: dict[JobKey, dict[str, Any]] = {}  # narrow_by fields seen for each job
        self.listing_refused = False
        self.throttled_rounds = 0
        self.said_stretched = False
        self._task: asyncio.Task[None] | None = None

    @property
    def period(self) -> float:
        """Seconds between rounds: the delay, or the safety interval while events answer the waits."""
        if self.events is None or self.events_lost:
            return self.delay
        return max(self.delay, self.events.safety_interval)

    async def join(self, waiter: polling.Waiter) -> list[dict[str, Any]]:
        """The wait's side: the answers are read in the trigger's own task, so its logs go to its task's log."""
        inbox: asyncio.Queue[Answers | Exception] = asyncio.Queue()
        if self.events is not None:  # a poll every safety interval: the wait lasts as long as its polls would have
            waiter.deadline = time.monotonic() + (waiter.max_attempts - 1) * waiter.delay
        self.waits[waiter] = inbox
        if self._task is None or self._task.done():
            # A context of its own: the rounds must not log as the trigger that happened to start them.
            self._task = asyncio.create_task(self._run(), name=f"omics rounds {self.job.name}", context=Context())
        try:
            while True:
                try:
                    answers = await asyncio.wait_for(inbox.get(), _left(waiter.deadline))
                except TimeoutError:
                    waiter.end_round()  # out of time: raises
                    continue
                if isinstance(answers, Exception):
                    raise answers
                for index, ids in waiter.pending():
                    answer = answers.found.get(_key(self.job, ids))
                    if answer is None:  # an event about another job
                        continue
                    if isinstance(answer, Heard):
                        waiter.heard_of(index, answer.status)  # raises on a failure status
                    elif isinstance(answer, Exception):
                        waiter.failed(index, answer)  # raises unless it is a poll that saw nothing
                    else:
                        waiter.saw(index, answer)  # raises on a failure status
                # A round's answers are one poll (out of attempts: raises); an event's are not.
                finals = waiter.end_round() if answers.whole else waiter.finals()
                if finals is not None:
                    return finals
        finally:
            self.waits.pop(waiter, None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # ---- as a subscriber of the event source -----------------------------------------------------------
    def wants(self, event: OmicsEvent) -> bool:
        return event.kind is self.job and event.ids is not None and _key(self.job, event.ids) in self._waited()

    def keeps(self, event: OmicsEvent) -> bool:
        return event.kind is not None and event.status in event.kind.terminal_states

    async def take(self, event: OmicsEvent) -> None:
        key = _key(self.job, event.ids or {})
        for waiter, inbox in self.waits.items():
            if any(_key(self.job, ids) == key for _, ids in waiter.pending()):
                inbox.put_nowait(Answers({key: Heard(event.status)}, whole=False))

    def lost(self, error: Exception) -> None:
        self.events_lost = True
        self._wake.set()

    def _waited(self) -> set[JobKey]:
        return {_key(self.job, ids) for waiter in self.waits for _, ids in waiter.pending()}

    async def _run(self) -> None:
        if self.events is None:
            await self._rounds()
        else:
            events = EventSource.of(self.events.queue, self.source.connection, self.events.safety_interval)
            async with events.subscribed(self):
                await self._rounds()

    async def _rounds(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waits:
            started = loop.time()
            inboxes = list(self.waits.values())
            wanted = {_key(self.job, ids): ids for waiter in self.waits for _, ids in waiter.pending()}
            try:
                answers = await self._look(wanted)
            except Exception as error:  # a fault of ours: every wait fails with it rather than hang
                log.exception("Status rounds of %s failed", self.job.label)
                for inbox in inboxes:
                    inbox.put_nowait(error)
                return
            for inbox in inboxes:
                inbox.put_nowait(Answers(answers, whole=True))
            took = loop.time() - started
            self._say_if_stretched(took)
            throttled = any(isinstance(a, Exception) and is_transient(a) for a in answers.values())
            self.throttled_rounds = self.throttled_rounds + 1 if throttled else 0
            period = polling.backoff(self.period, self.throttled_rounds) * random.uniform(1 - JITTER, 1 + JITTER)
            # An end is seen when the round reaches the job, and reported once its describe is back: the
            # next round starts earlier by what this one took, so ends are reported within about the
            # delay, but rounds never come more than twice per delay.
            with contextlib.suppress(TimeoutError):  # woken early when events stop coming
                await asyncio.wait_for(self._wake.wait(), max(0.0, max(period - took, period / 2) - took))
            self._wake.clear()

    async def _look(self, wanted: dict[JobKey, dict[str, Any]]) -> dict[JobKey, Answer]:
        sweep = self.job.sweep
        if sweep is None or self.listing_refused:
            return await self._describe_each(wanted, spread=True)
        scopes: dict[JobKey, dict[JobKey, dict[str, Any]]] = {}
        for key, ids in wanted.items():
            scopes.setdefault(tuple(str(ids[name]) for name in sweep.scope), {})[key] = ids
        answers: dict[JobKey, Answer] = {}
        for part in await asyncio.gather(*(self._look_in(sweep, scope, jobs) for scope, jobs in scopes.items())):
            answers.update(part)
        if sweep.narrow_by:  # what this round showed of the jobs still waited on (finished ones are forgotten)
            self.learned = {
                key: {name: answer.get(name) for name in sweep.narrow_by}
                for key, answer in answers.items()
                if isinstance(answer, dict)
            }
        return answers

    async def _look_in(self, sweep: Sweep, scope: JobKey, jobs: dict[JobKey, dict[str, Any]]) -> dict[JobKey, Answer]:
        """Jobs of one scope (a store): listed when that takes fewer calls than describing each."""
        if sweep.ids_per_call:
            listing_calls = math.ceil(len(jobs) / sweep.ids_per_call)
        else:
            listing_calls = self.listing_calls.get(scope, len(sweep.statuses))
        if len(jobs) <= listing_calls:
            return await self._describe_each(jobs, spread=True)
        listed, error = await self._list(sweep, scope, jobs)
        if error is not None and not is_transient(error):
            self._say_listing_refused(error)
            return await self._describe_each(jobs, spread=True)
        answers: dict[JobKey, Answer] = {}
        ended: dict[JobKey, dict[str, Any]] = {}
        for key, ids in jobs.items():
            item = listed.get(key[-1])
            if item is not None and self.job.status_of(item) in self.job.intermediate_states:
                answers[key] = item
            elif item is None and error is not None:  # the listing broke off before it could show this job
                answers[key] = error
            else:  # ended, or no longer listed as in progress: a describe says how, and feeds the event
                ended[key] = ids
        answers.update(await self._describe_each(ended, spread=False))
        return answers

    async def _list(
        self, sweep: Sweep, scope: JobKey, jobs: dict[JobKey, dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], Exception | None]:
        """List items by id, and the error that broke the listing off, if one did."""
        config = paginators()[self.job.list_operation or ""]
        base: dict[str, Any] = dict(zip(sweep.scope, scope, strict=True))
        base.update(self._narrowing(sweep, jobs))
        if sweep.ids_per_call:
            ids = [key[-1] for key in jobs]
            filters: list[dict[str, Any]] = [
                {"ids": ids[i : i + sweep.ids_per_call]} for i in range(0, len(ids), sweep.ids_per_call)
            ]
        elif sweep.status_filter == "filter.status":
            filters = [{"filter": {"status": status}} for status in sweep.statuses]
        else:
            filters = [{sweep.status_filter: status} for status in sweep.statuses]
        listed: dict[str, dict[str, Any]] = {}
        calls = 0
        try:
            for status_or_ids in filters:
                params = {**base, **status_or_ids, config["limit_key"]: PAGE_SIZE}
                while True:
                    page = await self.source.call(self.job.list_operation or "", **params)
                    calls += 1
                    for item in page.get(config["result_key"]) or []:
                        listed[str(item["id"])] = item
                    token = page.get(config["output_token"])
                    if not token:
                        break
                    params[config["input_token"]] = token
        except Exception as error:
            return listed, error
        self.listing_calls[scope] = calls
        return listed, None

    def _narrowing(self, sweep: Sweep, jobs: Iterable[JobKey]) -> dict[str, Any]:
        """``{"batchId": ...}`` when every job has shown the same value of a ``narrow_by`` field."""
        narrowing = {}
        for name in sweep.narrow_by:
            values = {self.learned.get(key, {}).get(name) for key in jobs}
            if len(values) == 1 and None not in values:
                narrowing[name] = values.pop()
        return narrowing

    async def _describe_each(self, jobs: dict[JobKey, dict[str, Any]], spread: bool) -> dict[JobKey, Answer]:
        """One describe per job; ``spread``: started evenly over the delay, not all at once."""
        gap = self.delay * DESCRIBE_SPREAD / len(jobs) if spread and jobs else 0.0

        async def describe(position: int, ids: dict[str, Any]) -> Answer:
            await asyncio.sleep(position * gap)
            try:
                return await self.source.describe(self.job, ids)
            except Exception as error:  # the waiter says what it means: a throttled poll, DELETED, a failure
                return error

        found = await asyncio.gather(*(describe(i, ids) for i, ids in enumerate(jobs.values())))
        return dict(zip(jobs, found, strict=True))

    def _say_if_stretched(self, took: float) -> None:
        if took > self.period and not self.said_stretched:
            self.said_stretched = True
            log.warning(
                "%d %s waits polled every %ss need more requests than the HealthOmics quotas allow "
                "(connection extra %s); each is answered about every %.3gs instead",
                len(self.waits),
                self.job.label,
                self.delay,
                CONNECTION_EXTRA,
                took,
            )

    def _say_listing_refused(self, error: Exception) -> None:
        self.listing_refused = True
        log.warning(
            "%s refused (%s): waits on %s describe each job instead, which takes more requests",
            self.job.list_operation,
            error_code(error) or error,
            self.job.label,
        )


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


@dataclass(frozen=True)
class Answers:
    """What a wait's inbox receives: a round's answers about every job it waits on (``whole``), or an event's."""

    found: Mapping[JobKey, Answer]
    whole: bool


def _key(job: JobKind, ids: Mapping[str, Any]) -> JobKey:
    """The job's describe arguments, scope first, so ``key[-1]`` is the id a list item shows."""
    sweep = job.sweep
    order = [*sweep.scope, *(n for n in job.ids if n not in sweep.scope)] if sweep else list(job.ids)
    return tuple(str(ids[name]) for name in order)

"""The triggerer's second source of answers: HealthOmics' own EventBridge events, read from an SQS queue.

An EventBridge rule on ``source: aws.omics`` fills a queue (``docs/eventbridge/`` has the rule, the queue and
its policy as CloudFormation and Terraform). In a triggerer process, one source per queue long-polls it (two
receives in flight) for every subscriber of the process: the status source's rounds (a wait ends on its job's
terminal event) and the event triggers (``OmicsEventTrigger``: a DAG run per event). What becomes of a message:

* a subscriber here wants it: handed to each one that does, and deleted once each has taken it;
* nobody here wants it, but a subscriber elsewhere may (a job's end, for a wait another triggerer holds or one
  that has not started yet): released for the other triggerers on the queue, visible again at once the first
  time this process sees it, then after a pause of a quarter of its age (a second at least, two minutes at most:
  so it does not spin on what is not its own), and deleted once older than ``expire_after``: by then every wait
  it could end has been answered by its safety poll. A status on the way (RUNNING) that nobody here wants is
  deleted: it only tells progress;
* not an event HealthOmics sends (a rule matching too much): deleted, said once.

Events are hints of a status, in the order of their ``time``: a duplicate (EventBridge's ``id`` again) or an
event older than the last one known for its job changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from airflow_provider_omics import recording
from airflow_provider_omics.connection import AwsSettings
from airflow_provider_omics.errors import error_code, is_transient
from airflow_provider_omics.jobs import JOB_KINDS, JobKind

log = logging.getLogger(__name__)

SOURCE = "aws.omics"
QUEUE_EXTRA = "omics_events_queue"
SAFETY_EXTRA = "omics_events_safety_interval"
DEFAULT_SAFETY_INTERVAL = 600.0  # a wait answered by events still polls this often, for events never delivered

RECEIVERS = 2  # receive calls in flight at once: one is answered while the other's messages are handed on
RECEIVE_WAIT = 20  # seconds a receive waits for a message (SQS's longest long poll)
# Seconds a received message stays invisible to others while its subscribers take it (at once, for waits): short,
# because a receive lost with its triggerer (killed, stopped mid-receive) hides its messages that long. A message
# seen again after it is a duplicate here, and deleted.
HOLD = 5
LONGEST_PAUSE = 120  # seconds a message nobody here wants stays invisible, at most, before it is seen again
REMEMBERED = 100_000  # event ids kept to know a duplicate, jobs whose last event time is kept

KIND_OF_DETAIL_TYPE: Mapping[str, JobKind] = {
    kind.event.detail_type: kind for kind in JOB_KINDS.values() if kind.event is not None
}


def checked_queue_url(what: str, value: Any) -> str:
    """``value`` when it is an SQS queue URL; otherwise a ``ValueError`` naming ``what``."""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f"{what} must be an SQS queue URL, got {value!r}")
    return value


@dataclass(frozen=True)
class EventSettings:
    """What a connection's extra says about events: the queue, and how often a wait answered by them still polls."""

    queue: str
    safety_interval: float = DEFAULT_SAFETY_INTERVAL

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> EventSettings | None:
        queue = extra.get(QUEUE_EXTRA)
        if not queue:
            return None
        queue = checked_queue_url(f"connection extra {QUEUE_EXTRA}:", queue)
        interval = extra.get(SAFETY_EXTRA, DEFAULT_SAFETY_INTERVAL)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ValueError(f"connection extra {SAFETY_EXTRA}: must be a number of seconds > 0, got {interval!r}")
        return cls(queue, float(interval))


@dataclass(frozen=True)
class OmicsEvent:
    """One HealthOmics event as EventBridge delivered it, and the job it is about (when it names one)."""

    id: str  # EventBridge's: a second delivery of one event has the same
    detail_type: str
    status: str
    time: float  # when the status changed (epoch seconds; EventBridge gives whole seconds)
    detail: dict[str, Any]
    kind: JobKind | None = None
    ids: dict[str, str] | None = None  # the job's describe arguments
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, text: str) -> OmicsEvent | None:
        """The event in a message's body, or None for anything else."""
        try:
            body = json.loads(text)
            if body.get("source") != SOURCE or not isinstance(body.get("detail"), dict):
                return None
            at = datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00")).timestamp()
            detail_type, detail = str(body["detail-type"]), body["detail"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        kind = KIND_OF_DETAIL_TYPE.get(detail_type)
        ids = kind.event.ids_of(detail) if kind is not None and kind.event is not None else None
        status = str(detail.get("status", ""))
        return cls(str(body.get("id", "")), detail_type, status, at, detail, kind, ids, body)

    @property
    def job_key(self) -> tuple[str, ...] | None:
        """The kind and ids of the job it is about: what its time order is kept by."""
        if self.kind is None or self.ids is None:
            return None
        return (self.kind.name, *(self.ids[name] for name in self.kind.ids))


class Subscriber(Protocol):
    """What the receiver hands events to: the status source's rounds, an event trigger."""

    def wants(self, event: OmicsEvent) -> bool: ...

    def keeps(self, event: OmicsEvent) -> bool:
        """Whether a subscriber like this one in another triggerer may want an event nobody here wants."""
        ...

    async def take(self, event: OmicsEvent) -> None:
        """Returns once the event is handed on (then the message is deleted); raising leaves it on the queue."""
        ...

    def lost(self, error: Exception) -> None:
        """The queue cannot be read (refused, gone): waits fall back to polling."""
        ...


class EventSource:
    """One queue's receiver in one triggerer process (one event loop), for every subscriber of the process."""

    _sources: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], EventSource]]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, queue: str, connection: AwsSettings, expire_after: float) -> None:
        self.queue = queue
        self.connection = connection
        self.expire_after = expire_after
        self.subscribers: list[Subscriber] = []
        self.broken: Exception | None = None
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()  # event ids handed or in hand
        self._latest: collections.OrderedDict[tuple[str, ...], float] = collections.OrderedDict()  # newest time per job
        self._passed: dict[str, float] = {}  # message id -> when it was sent, for those released here
        self._said_foreign = False
        self._client: Any = None
        self._serving: asyncio.Task[None] | None = None
        self._handing: set[asyncio.Task[None]] = set()
        self._deletes: list[str] = []
        self._deleter: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, queue: str, connection: AwsSettings, expire_after: float = DEFAULT_SAFETY_INTERVAL) -> EventSource:
        sources = cls._sources.setdefault(asyncio.get_running_loop(), {})
        key = (queue, connection.key())
        if key not in sources:
            sources[key] = cls(queue, connection, expire_after)
        source = sources[key]
        source.expire_after = max(source.expire_after, expire_after)
        return source

    @contextlib.asynccontextmanager
    async def subscribed(self, subscriber: Subscriber) -> AsyncIterator[EventSource]:
        """Hand ``subscriber`` what it wants while in the block; the receivers run while anyone subscribes."""
        self.subscribers.append(subscriber)
        if self.broken is not None:
            subscriber.lost(self.broken)
        elif self._serving is None or self._serving.done():
            self._serving = asyncio.create_task(self._serve(), name=f"omics events {self.queue}")
        try:
            yield self
        finally:
            # Nobody waits for the receivers to stop: each ends with its receive in flight, so no message is
            # left held by a receive nobody reads (it would be invisible to the other triggerers for HOLD).
            self.subscribers.remove(subscriber)

    async def _serve(self) -> None:
        """One client and ``RECEIVERS`` receive loops while anyone subscribes; then what was taken is deleted."""
        hook = AwsBaseHook(client_type="sqs", **self.connection.hook_kwargs())
        try:
            async with await hook.get_async_conn() as self._client:  # type: ignore[no-untyped-call]
                recording.attach_from_extra(self._client.meta.events, hook.conn_config.extra_config)
                await asyncio.gather(*(self._receive() for _ in range(RECEIVERS)))
                if self._handing:  # a take not done by now is not coming: its message stays, for whoever wants it
                    await asyncio.wait(self._handing, timeout=HOLD)
                if self._deleter is not None:
                    await self._deleter
        except Exception as error:  # no credentials, a connection that does not parse
            self._lose(error)
        self._client = None
        if self.subscribers and self.broken is None:  # one came as the last receive ended
            self._serving = asyncio.create_task(self._serve(), name=f"omics events {self.queue}")
        else:  # a later subscriber starts afresh, and tries a broken queue again
            sources = self._sources.get(asyncio.get_running_loop(), {})
            if sources.get((self.queue, self.connection.key())) is self:
                del sources[(self.queue, self.connection.key())]

    async def _receive(self) -> None:
        failures = 0
        while self.subscribers:
            try:
                answer = await self._client.receive_message(
                    QueueUrl=self.queue,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=RECEIVE_WAIT,
                    VisibilityTimeout=HOLD,
                    AttributeNames=["SentTimestamp"],
                )
            except Exception as error:
                if not is_transient(error):
                    self._lose(error)
                    return
                failures += 1
                log.warning("Receiving from %s failed (%s); trying again", self.queue, error_code(error) or error)
                await asyncio.sleep(min(2**failures, 60))
                continue
            failures = 0
            releases = [entry for m in answer.get("Messages") or [] if (entry := self._dispose(m)) is not None]
            if releases:  # not waited for: the next receive goes at once
                self._track(self._batch("ChangeMessageVisibilityBatch", releases))

    def _lose(self, error: Exception) -> None:
        if self.broken is not None:  # the other receiver said so
            return
        self.broken = error
        log.error(
            "Cannot read HealthOmics events from %s (%s): waits poll instead. Check the queue URL in the "
            "connection extra %s and that the triggerer may sqs:ReceiveMessage, sqs:DeleteMessageBatch and "
            "sqs:ChangeMessageVisibilityBatch on it",
            self.queue,
            error_code(error) or error,
            QUEUE_EXTRA,
        )
        for subscriber in list(self.subscribers):
            subscriber.lost(error)

    def _dispose(self, message: Mapping[str, Any]) -> dict[str, Any] | None:
        """Hand a message on or delete it; or, for nobody here, how long it stays invisible (a release entry)."""
        handle, message_id = message["ReceiptHandle"], message["MessageId"]
        event = OmicsEvent.parse(message.get("Body") or "")
        if event is None:
            if not self._said_foreign:
                self._said_foreign = True
                log.warning("%s holds messages that are not HealthOmics events: deleting them", self.queue)
            self._delete_later(handle)
            return None
        key = event.job_key
        if event.id in self._seen or (key is not None and event.time < self._latest.get(key, 0.0)):
            self._delete_later(handle)  # a duplicate, or older than what is known: a job never moves back
            return None
        wanting = [subscriber for subscriber in self.subscribers if subscriber.wants(event)]
        if wanting:
            self._remember(event)
            self._passed.pop(message_id, None)
            self._hand(event, wanting, handle)
            return None
        if not self.subscribers:  # the last receive of a source nobody uses any more: for the other triggerers
            return {"ReceiptHandle": handle, "VisibilityTimeout": 0}
        sent = float((message.get("Attributes") or {}).get("SentTimestamp", time.time() * 1000)) / 1000
        if time.time() - sent > self.expire_after or not any(s.keeps(event) for s in self.subscribers):
            self._passed.pop(message_id, None)
            self._delete_later(handle)
            return None
        first_here = message_id not in self._passed
        self._passed[message_id] = sent
        if len(self._passed) > REMEMBERED:
            cutoff = time.time() - self.expire_after
            self._passed = {mid: when for mid, when in self._passed.items() if when >= cutoff}
        # Visible again at once the first time this process sees it (another triggerer's receive is likely waiting
        # for it), then after a pause that grows with its age: a message going round finds its triggerer within
        # seconds, one nobody waits for is seen ever more rarely until it expires.
        pause = 0 if first_here else round(min(max(1.0, (time.time() - sent) / 4), LONGEST_PAUSE))
        return {"ReceiptHandle": handle, "VisibilityTimeout": pause}

    def _remember(self, event: OmicsEvent) -> None:
        self._seen[event.id] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        if event.job_key is not None:
            self._latest[event.job_key] = max(event.time, self._latest.get(event.job_key, 0.0))
            self._latest.move_to_end(event.job_key)
            if len(self._latest) > REMEMBERED:
                self._latest.popitem(last=False)

    def _hand(self, event: OmicsEvent, wanting: list[Subscriber], handle: str) -> None:
        async def hand() -> None:
            try:
                await asyncio.gather(*(subscriber.take(event) for subscriber in wanting))
            except Exception:  # not taken: on the queue again after HOLD, for whoever wants it then
                self._seen.pop(event.id, None)
                log.debug("Event %s was not taken; it stays on the queue", event.id, exc_info=True)
            else:
                self._delete_later(handle)

        self._track(hand())

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._handing.add(task)
        task.add_done_callback(self._handing.discard)

    def _delete_later(self, handle: str) -> None:
        """Deleted with those of the same moment, ten to a call."""
        self._deletes.append(handle)
        if self._deleter is None or self._deleter.done():
            self._deleter = asyncio.create_task(self._flush_deletes())

    async def _flush_deletes(self) -> None:
        await asyncio.sleep(0)  # the takes of one receive finish together
        while self._deletes:
            handles, self._deletes = self._deletes, []
            await self._batch("DeleteMessageBatch", [{"ReceiptHandle": handle} for handle in handles])

    async def _batch(self, operation: str, entries: list[dict[str, Any]]) -> None:
        """Delete or release messages, ten to a call; a failure only means a message is seen again."""
        method = getattr(
            self._client,
            {"DeleteMessageBatch": "delete_message_batch"}.get(operation, "change_message_visibility_batch"),
        )
        for start in range(0, len(entries), 10):
            chunk = [{**entry, "Id": str(i)} for i, entry in enumerate(entries[start : start + 10])]
            try:
                await method(QueueUrl=self.queue, Entries=chunk)
            except Exception as error:
                log.warning("%s on %s failed (%s): those messages will be seen again", operation, self.queue, error)

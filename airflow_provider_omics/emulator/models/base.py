"""State shared by every part of the emulated service: tables of records, the clock, S3, ids, errors."""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .. import moto_adapter
from ..event_delivery import EventDelivery
from ..kinds import DESCRIBED_BY, statuses
from .events import status_event

ACCOUNT_ID = "123456789012"  # moto's default account, so ARNs and S3 agree

Record = dict[str, Any]
# Called when a job enters a status; may return another status (e.g. FAILED when every source failed).
OnEnter = Callable[[Record], str | None]


class OmicsError(Exception):
    """An error the service would answer with: ``code`` is the modelled exception's name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Postpone(Exception):
    """Raised by a job's step that cannot happen yet (a run group at its limit): it and the rest wait a step."""


class JobFailed(Exception):
    """Raised by a job's step: the job ends FAILED with the service's failure reason and message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def not_found(what: str, ident: str) -> OmicsError:
    return OmicsError("ResourceNotFoundException", f"{what} {ident} not found")


def conflict(message: str) -> OmicsError:
    return OmicsError("ConflictException", message)


def invalid(message: str) -> OmicsError:
    return OmicsError("ValidationException", message)


def now() -> datetime:
    return datetime.now(UTC)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or not uri[5:].split("/")[0]:
        raise invalid(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class S3:
    """moto's S3 in this process: what imports read, and where runs and exports write."""

    @staticmethod
    def _backend() -> Any:
        return moto_adapter.s3_backend(ACCOUNT_ID)

    def read(self, uri: str) -> bytes | None:
        bucket, key = split_s3_uri(uri)
        try:
            found = self._backend().get_object(bucket, key)
        except Exception:  # moto raises its own MissingBucket
            return None
        return None if found is None else bytes(found.value)

    def read_range(self, uri: str, start: int, length: int) -> bytes | None:
        """``length`` bytes from ``start`` of an object, without copying the whole object (GB read sets)."""
        bucket, key = split_s3_uri(uri)
        try:
            found = self._backend().get_object(bucket, key)
        except Exception:
            return None
        if found is None:
            return None
        return moto_adapter.read_range(found, start, length)

    def size(self, uri: str) -> int | None:
        bucket, key = split_s3_uri(uri)
        try:
            found = self._backend().get_object(bucket, key)
        except Exception:
            return None
        return None if found is None else found.size

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self._backend().get_bucket(bucket)
        except Exception:  # moto's MissingBucket
            return False
        return True

    def write(self, uri: str, data: bytes) -> None:
        self.write_parts(uri, [data])

    def write_parts(self, uri: str, parts: Iterable[bytes]) -> None:
        """An object made of ``parts``, written one after the other into moto's spooled file: an upload's
        gigabytes are never joined in memory."""
        bucket, key = split_s3_uri(uri)
        backend = self._backend()
        try:
            backend.get_bucket(bucket)
        except Exception:
            backend.create_bucket(bucket, "us-east-1")
        parts = list(parts)
        if len(parts) == 1:
            backend.put_object(bucket, key, parts[0])
            return
        moto_adapter.write_parts(backend.put_object(bucket, key, b""), parts)


@dataclass
class Outcome:
    """A rule set through the control API: jobs of ``kind`` whose name matches end in ``status``."""

    kind: str
    name_glob: str
    status: str
    failure_reason: str | None = None
    message: str | None = None
    task: str | None = None  # a run's task that fails (default: the first still running)
    log_lines: list[str] | None = None  # what that task writes last to its log
    count: int | None = None  # how many jobs at most (a failure that a retry gets past); None: until cleared

    def matches(self, kind: str, record: Record) -> bool:
        names = [record.get("name"), record.get("id"), *record.get("_names", [])]
        return (
            self.count != 0 and kind == self.kind and any(n and fnmatch.fnmatchcase(n, self.name_glob) for n in names)
        )


@dataclass(order=True)
class _Step:
    due: float
    seq: int
    kind: str = field(compare=False)
    ident: str = field(compare=False)
    status: str = field(compare=False)
    on_enter: OnEnter | None = field(compare=False, default=None)
    final: bool = field(compare=False, default=False)


class BaseBackend:
    """Tables of records by kind, and a clock that moves jobs through their statuses.

    Every request first applies the transitions whose time has come, in order, each at the time it was
    due, so state is the same whether a test polls every millisecond or once a minute; the server's clock
    thread applies them too, so a job's EventBridge events go out when nobody polls.
    """

    def __init__(self, region: str = "us-east-1", step_seconds: float = 2.0) -> None:
        self.region = region
        self.step_seconds = step_seconds
        self.s3 = S3()
        self.lock = threading.RLock()
        self.request = threading.local()  # what the request being served did, for the request log
        self.delivery = EventDelivery()
        self.endpoint_url: str | None = None  # where the emulator is served, for the URLs it hands out
        # Runs a second a batch submits: the StartRun quota, None (all at once) when quotas are off.
        self.submission_rate: Callable[[], float | None] = lambda: None
        self.reset()

    def reset(self) -> None:
        self.tables: dict[str, dict[str, Record]] = {}
        self.tokens: dict[tuple[str, str], Record] = {}
        self.delivery.reset()
        self.outcomes: list[Outcome] = []
        self.usage_profiles: list[Any] = []  # manifest.UsageProfile: what runs' tasks used
        self.steps: list[_Step] = []
        self._seq = itertools.count()
        self._created = itertools.count()
        self.step_time: float | None = None
        # Called after every advance: for state derived from other records (a batch from its runs).
        self.watchers: list[Callable[[], None]] = []

    # ---- records ---------------------------------------------------------------------------
    def arn(self, path: str) -> str:
        return f"arn:aws:omics:{self.region}:{ACCOUNT_ID}:{path}"

    @staticmethod
    def numeric_id(digits: int = 10) -> str:
        return str(random.randint(10 ** (digits - 1), 10**digits - 1))

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())

    def table(self, kind: str) -> dict[str, Record]:
        return self.tables.setdefault(kind, {})

    def add(self, kind: str, record: Record, key: str = "id") -> Record:
        record["_key"] = record[key]
        record["_kind"] = kind
        record["_seq"] = next(self._created)  # creation order: what list pages are cut by
        self.table(kind)[record[key]] = record
        if "status" in record:
            created = time.time()
            record["_transitions"] = [{"status": record["status"], "time": created}]
            self.announce(record, created)
        return record

    def get(self, kind: str, ident: str, what: str | None = None) -> Record:
        found = self.table(kind).get(ident)
        if found is None:
            raise not_found(what or kind.replace("_", " "), ident)
        return found

    def records(self, kind: str, **equal: Any) -> list[Record]:
        """Records of a kind, oldest first, whose fields equal every given non-None value."""
        wanted = {k: v for k, v in equal.items() if v is not None}
        return [
            r
            for r in self.table(kind).values()
            if r.get("status") != "DELETED" and all(r.get(k) == v for k, v in wanted.items())
        ]

    def delete(self, kind: str, ident: str, what: str | None = None) -> Record:
        record = self.get(kind, ident, what)
        del self.table(kind)[ident]
        self.cancel_steps(kind, ident)
        if kind in DESCRIBED_BY and "DELETED" in statuses(kind):  # its last status, and its last event
            self.set_status(record, "DELETED", final=True)
        return record

    def once(self, operation: str, token: str | None, create: Callable[[], Record]) -> Record:
        """``requestId`` / ``clientToken`` semantics: the same token gives the same result, once."""
        if not token:
            return create()
        key = (operation, token)
        if key in self.tokens:
            existing = self.tokens[key]
            ident = next(
                (existing[k] for k in ("id", "uploadId", "jobId", "batchId", "shareId") if existing.get(k)), None
            )
            self.request.deduplicated = ident or True  # the request log marks it: it started nothing
            return existing
        self.tokens[key] = create()
        return self.tokens[key]

    def deduplicated(self) -> Any:
        """The id of the job that the token of the request just served named (or True), once; else None."""
        found, self.request.deduplicated = getattr(self.request, "deduplicated", None), None
        return found

    # ---- the clock ---------------------------------------------------------------------------
    def schedule(
        self,
        kind: str,
        record: Record,
        statuses: Iterable[str | tuple[str, OnEnter | None]],
        start: float | None = None,
    ) -> None:
        """Move ``record`` through ``statuses``, one every ``step_seconds`` from ``start``; the last is final."""
        plan = [s if isinstance(s, tuple) else (s, None) for s in statuses]
        start = time.time() if start is None else start
        for index, (status, on_enter) in enumerate(plan, start=1):
            step = _Step(
                start + index * self.step_seconds,
                next(self._seq),
                kind,
                record["_key"],
                status,
                on_enter,
                final=index == len(plan),
            )
            self.steps.append(step)
        self.steps.sort()

    def step_moment(self) -> datetime:
        """When the step being applied happened (the clock is lazy: earlier than now)."""
        return datetime.fromtimestamp(self.step_time, UTC) if self.step_time else now()

    def _postpone(self, step: _Step, now_: float) -> None:
        """The step, and every later step of its job, one step later than now."""
        shift = now_ + self.step_seconds - step.due
        later = [s for s in self.steps if s.kind == step.kind and s.ident == step.ident]
        self.cancel_steps(step.kind, step.ident)
        for moved in [step, *later]:
            self.steps.append(replace(moved, due=moved.due + shift, seq=next(self._seq)))
        self.steps.sort()

    def cancel_steps(self, kind: str, ident: str) -> None:
        self.steps = [s for s in self.steps if not (s.kind == kind and s.ident == ident)]

    def advance_if_due(self) -> None:
        """``advance``, when a step's time has come (the clock thread's tick: nothing to do most of the time)."""
        with self.lock:
            if self.steps and self.steps[0].due <= time.time():
                self.advance()

    def advance(self) -> None:
        now_ = time.time()
        while self.steps and self.steps[0].due <= now_:
            step = self.steps.pop(0)
            record = self.table(step.kind).get(step.ident)
            if record is None:
                continue
            # An outcome decides how a job ends by itself, not a cancel its user asked for.
            natural_end = step.final and step.status != "CANCELLED"
            rule = next((o for o in self.outcomes if o.matches(step.kind, record)), None) if natural_end else None
            if rule is not None:
                if rule.count is not None:
                    rule.count -= 1
                self.cancel_steps(step.kind, step.ident)
                self.set_status(record, rule.status, rule.message, rule.failure_reason, final=True, at=step.due)
                self.on_forced_end(step.kind, record, rule)
                continue
            status = step.status
            self.step_time = step.due
            if step.on_enter is not None:
                try:
                    status = step.on_enter(record) or status
                except Postpone:
                    self._postpone(step, now_)
                    continue
                except Exception as exc:  # never leave a job stuck in progress: it fails, saying why
                    self.cancel_steps(step.kind, step.ident)
                    message = exc.message if isinstance(exc, OmicsError | JobFailed) else f"{type(exc).__name__}: {exc}"
                    reason = exc.reason if isinstance(exc, JobFailed) else None
                    self.set_status(record, "FAILED", message, reason, final=True, at=step.due)
                    self.on_forced_end(step.kind, record)
                    continue
            self.set_status(record, status, final=step.final, at=step.due)
        self.step_time = None
        for watch in self.watchers:
            watch()

    def set_status(
        self,
        record: Record,
        status: str,
        message: str | None = None,
        failure_reason: str | None = None,
        final: bool = False,
        at: float | None = None,
    ) -> None:
        # ``at``: when a scheduled step was due. The clock is lazy, so that is earlier than now.
        stamp = datetime.fromtimestamp(at, UTC) if at is not None else now()
        changed = record.get("status") != status
        if changed:
            record.setdefault("_transitions", []).append({"status": status, "time": stamp.timestamp()})
        record["status"] = status
        if message is not None:
            record["statusMessage"] = message
        if failure_reason is not None:
            record["failureReason"] = failure_reason
        for field_name in ("updateTime", "updatedAt"):
            if field_name in record:
                record[field_name] = stamp
        if final:
            for field_name in ("completionTime", "stopTime"):
                if field_name in record:
                    record[field_name] = stamp
        if changed:
            self.announce(record, stamp.timestamp())

    def announce(self, record: Record, at: float) -> None:
        """Put the event the service sends for the status ``record`` entered at ``at`` on the default bus."""
        entry = status_event(record.get("_kind", ""), record, self, at)
        if entry is not None:
            self.delivery.send(ACCOUNT_ID, self.region, entry)

    def transition(self, kind: str, ident: str, status: str, message: str | None, reason: str | None) -> Record:
        """Move one record now, as if someone acted in the console: its remaining plan is dropped."""
        record = self.get(kind, ident)
        self.cancel_steps(kind, ident)
        self.set_status(record, status, message, reason, final=True)
        self.on_forced_end(kind, record)
        return record

    def on_forced_end(self, kind: str, record: Record, rule: Outcome | None = None) -> None:
        """Hook for models: a job was ended by an outcome ``rule`` or a transition (runs stop their tasks)."""

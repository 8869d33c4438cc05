"""Waiting for jobs: the verdict of a describe output, one poll step, and ``wait()``.

``wait()`` polls in a worker or a sensor; in the triggerer, ``status_source.py`` answers many waits
together, with the same ``Waiter`` deciding what each answer means.

A poll that is throttled or meets a transient error (5xx, a dropped connection) saw nothing: it counts
as a poll, the next one comes later (backing off), and it never ends a wait. Polls make one call each,
never a burst of retries, so a throttled account is not asked harder. A wait ends on a terminal status
(success or failure), after ``max_attempts`` polls, or on an error that is not transient.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError

from airflow_provider_omics.api import OmicsApi, describe
from airflow_provider_omics.errors import OmicsJobFailed, OmicsWaitTimeout, error_code, is_transient
from airflow_provider_omics.jobs import JobKind

log = logging.getLogger(__name__)

DEFAULT_LOG_LINES = 50
MAX_LOG_LINES = 10_000

# After throttled polls the delay doubles, up to this many times the requested delay.
MAX_BACKOFF_FACTOR = 8


def verdict(job: JobKind, described: Mapping[str, Any], fail_on_partial_success: bool = True) -> str:
    """``success``, ``failure`` or ``waiting``: what a describe output means for a wait."""
    status = job.status_of(described)
    if status in job.success_states:
        return "failure" if fail_on_partial_success and job.failed_parts(described) else "success"
    if status == "COMPLETED_WITH_FAILURES" and not fail_on_partial_success:
        return "success"
    if status in job.failure_states:
        return "failure"
    return "waiting"


@dataclass(frozen=True)
class WaitSettings:
    """How a wait polls and what ends it: one value for operators, sensors, the hook and the trigger.

    Checked when made (at DAG parse for a task), so a wait that could not run fails before any API call.
    ``delay`` is never honoured below what the describe operation's quota allows (``Waiter.floor``).
    ``include_logs`` / ``log_lines``: what a failed run's report carries (``diagnostics.py``).
    """

    delay: float = 30
    max_attempts: int = 720
    fail_on_partial_success: bool = True
    include_logs: bool = True
    log_lines: int = DEFAULT_LOG_LINES

    def __post_init__(self) -> None:
        delay, attempts, lines = self.delay, self.max_attempts, self.log_lines
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay > 0:
            raise ValueError(
                f"waiter_delay must be a number of seconds > 0, got {delay!r} (a wait never polls faster than "
                "the service's quota allows, so a smaller delay only means 'as fast as allowed')"
            )
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"waiter_max_attempts must be an integer >= 1, got {attempts!r}")
        for name in ("fail_on_partial_success", "include_logs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(lines, bool) or not isinstance(lines, int) or not 0 < lines <= MAX_LOG_LINES:
            raise ValueError(f"log_lines must be an integer from 1 to {MAX_LOG_LINES}, got {lines!r}")

    @classmethod
    def of(cls, owner: str, **values: Any) -> WaitSettings:
        """The settings of a task, a failure naming the task (``owner``) and the argument."""
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{owner}: {exc}") from None

    def waiter(self, job: JobKind, jobs: list[dict[str, Any]], logger: Any = None, floor: float = 0.0) -> Waiter:
        return Waiter(job, jobs, self.delay, self.max_attempts, self.fail_on_partial_success, logger, floor)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_ids(ids: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in ids.items())


class Waiter:
    """The state of one wait on one or more jobs of a kind, and the rules of a poll step.

    The loops below (sync and async) only fetch; everything a poll means is decided here, once.
    """

    def __init__(
        self,
        job: JobKind,
        jobs: list[dict[str, Any]],
        delay: float,
        max_attempts: int,
        fail_on_partial_success: bool = True,
        logger: logging.Logger | Any = None,
        floor: float = 0.0,
    ) -> None:
        self.job = job
        self.jobs = jobs
        self.delay = delay
        self.max_attempts = max_attempts
        self.fail_on_partial_success = fail_on_partial_success
        self.log = logger or log
        self.attempt = 1
        self.finished: dict[int, dict[str, Any]] = {}
        self.last: dict[int, str] = {}
        self.throttled_rounds = 0
        self._throttled_now = False
        # The fewest seconds between two describes of one job that the quota allows (0: not limited).
        self.floor = floor
        # When the wait times out (time.monotonic()), where its polls are not what times it: polls are a safety
        # net while EventBridge events answer it.
        self.deadline: float | None = None
        self.heard: dict[int, str] = {}  # the end each job's EventBridge event told, where one did

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        return [(index, ids) for index, ids in enumerate(self.jobs) if index not in self.finished]

    def saw(self, index: int, described: dict[str, Any]) -> None:
        """A poll answered: log a change of status; a failure ends the wait at once."""
        ids = self.jobs[index]
        status = self.job.status_of(described)
        self._log_status(index, status, f"poll {self.attempt} of {self.max_attempts}")
        outcome = verdict(self.job, described, self.fail_on_partial_success)
        if outcome == "failure":
            raise OmicsJobFailed.from_described(self.job, ids, described)
        if outcome == "success":
            self.finished[index] = described

    def heard_of(self, index: int, status: str) -> None:
        """An EventBridge event says the job entered ``status``; an end ends the wait at once (a failure: raises
        ``EndHeard``). How it ended, and the XCom, come from the task's own describe of it."""
        self._log_status(index, status, "event")
        if status in self.job.terminal_states:
            self.heard[index] = status
            self.finished[index] = {}
            if status not in self.job.success_states:
                raise EndHeard(self.heard)

    def finals(self) -> list[dict[str, Any]] | None:
        """The describe outputs, once every job ended well (an event's end has none: ``{}``)."""
        return [self.finished[i] for i in range(len(self.jobs))] if len(self.finished) == len(self.jobs) else None

    def failed(self, index: int, error: BaseException) -> None:
        """A poll failed: transient errors are a poll that saw nothing; a job gone is DELETED."""
        if is_transient(error):
            self._throttled_now = True
            self.log.warning(
                "%s: %s on poll %d of %d; polling again later",
                self.job.operation,
                error_code(error) or type(error).__name__,
                self.attempt,
                self.max_attempts,
            )
            return
        if error_code(error) == "ResourceNotFoundException":
            raise OmicsJobFailed(self.job, self.jobs[index], "DELETED", _message(error), {}) from error
        raise error

    def _log_status(self, index: int, status: str, how: str) -> None:
        if self.last.get(index) != status:
            self.log.info("%s %s is %s (%s)", self.job.label, describe_ids(self.jobs[index]), status, how)
            self.last[index] = status

    def end_round(self) -> list[dict[str, Any]] | None:
        """After polling every pending job: all finished -> their describe outputs; out of attempts -> timeout."""
        finals = self.finals()
        if finals is not None:
            return finals
        out_of_time = self.deadline is not None and time.monotonic() >= self.deadline
        if self.attempt >= self.max_attempts or out_of_time:
            waiting = ", ".join(sorted(set(self.last.values()))) or "unanswered (throttled)"
            shown = "; ".join(describe_ids(ids) for _, ids in self.pending())
            how_long = (
                f"{(self.max_attempts - 1) * self.delay:g}s (waiter_max_attempts x waiter_delay)"
                if out_of_time
                else f"{self.max_attempts} polls of {self.delay}s"
            )
            raise OmicsWaitTimeout(f"{self.job.label} {shown} is still {waiting} after {how_long}")
        self.attempt += 1
        self.throttled_rounds = self.throttled_rounds + 1 if self._throttled_now else 0
        self._throttled_now = False
        return None

    def interval(self) -> float:
        """The delay, or longer where describing every pending job that often would exceed the quota."""
        return max(self.delay, self.floor * len(self.pending()))

    def next_delay(self) -> float:
        return backoff(self.interval(), self.throttled_rounds)


class EndHeard(Exception):
    """An EventBridge event says a job of the wait failed: the task's describe says how (``events.ended_event``)."""

    def __init__(self, heard: dict[int, str]) -> None:
        super().__init__(heard)
        self.heard = heard


def backoff(delay: float, throttled_rounds: int) -> float:
    """The delay, doubled for each round in a row that was throttled, with jitter so waits spread out."""
    if not throttled_rounds:
        return delay
    longer = min(delay * 2**throttled_rounds, delay * MAX_BACKOFF_FACTOR)
    return float(longer / 2 + random.uniform(0, longer / 2))


def _message(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


def wait(api: OmicsApi, waiter: Waiter) -> list[dict[str, Any]]:
    """Poll until every job of ``waiter`` ends well (their describe outputs) or one fails (raises)."""
    if waiter.interval() > waiter.delay:
        waiter.log.info(
            "waiter_delay %gs would call %s faster than its quota allows: polling every %.2fs instead",
            waiter.delay,
            waiter.job.operation,
            waiter.interval(),
        )
    while True:
        for index, ids in waiter.pending():
            try:
                described = describe(api, waiter.job, retry=False, **ids)
            except Exception as error:
                waiter.failed(index, error)
            else:
                waiter.saw(index, described)
        finals = waiter.end_round()
        if finals is not None:
            return finals
        time.sleep(waiter.next_delay())


def first_look(api: OmicsApi, job: JobKind, ids: Mapping[str, Any], settings: WaitSettings) -> dict[str, Any]:
    """The describe output of a job just started, however long throttling lasts (within the wait's budget)."""
    waiter = settings.waiter(job, [dict(ids)], api.log, api.poll_interval(job.operation))
    while True:
        try:
            return describe(api, job, retry=False, **ids)
        except Exception as error:
            waiter.failed(0, error)
        waiter.end_round()
        time.sleep(waiter.next_delay())

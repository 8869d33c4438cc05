"""OmicsHook: the whole HealthOmics API, and job verbs (describe, status, cancel, wait) from the job table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from airflow_provider_omics.errors import OmicsJobFailed, OmicsRetriesExhausted, OmicsWaitTimeout
from airflow_provider_omics.jobs import JobKind, job_kind
from airflow_provider_omics.service_model import paginators, snake

if TYPE_CHECKING:
    from mypy_boto3_omics import OmicsClient

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "RequestTimeoutException",
    }
)
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def is_transient(error: BaseException) -> bool:
    """Throttling, 5xx and connection errors pass; anything else is the caller's to see at once."""
    if isinstance(error, CONNECTION_ERRORS):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.response.get("Error", {}).get("Code") in TRANSIENT_CODES or status >= 500
    return False


def error_code(error: BaseException | None) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


class OmicsHook(AwsBaseHook):
    """Interact with AWS HealthOmics through an ordinary ``aws`` connection.

    * ``hook.conn`` is the boto3 ``omics`` client: every operation of the service.
    * ``hook.call("GetRun", id=...)`` is the same call with retries on throttling and transient errors
      (exponential backoff with jitter, at most ``max_attempts`` tries); other errors surface at once.
    * ``hook.list_runs(status="FAILED")`` and every other paginated ``list_*``: all items, page after page.
    * ``describe / get_status / cancel / wait`` (and ``describe_async``) for any kind of ``jobs.JOB_KINDS``.

    botocore's own retries are turned off unless the connection configures them, so tenacity is the one
    place retries happen, logged and bounded, for sync and async calls alike.

    :param max_attempts: tries of one call before giving up on throttling / transient errors.
    :param retry_max_wait: longest pause between two tries, in seconds.
    """

    def __init__(self, *args: Any, max_attempts: int = 8, retry_max_wait: float = 30.0, **kwargs: Any) -> None:
        kwargs["client_type"] = "omics"
        super().__init__(*args, **kwargs)
        self.max_attempts = max_attempts
        self.retry_max_wait = retry_max_wait

    @property
    def conn(self) -> OmicsClient:  # type: ignore[override]
        return super().conn  # type: ignore[return-value]

    def _get_config(self, config: Config | None = None) -> Config:
        merged = super()._get_config(config)
        if merged.retries is None:
            merged = merged.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
        return merged

    # ---- retried calls ---------------------------------------------------------------------------
    def _retry_kwargs(self, operation: str) -> dict[str, Any]:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.log.warning(
                "%s failed with %s (attempt %d of %d); retrying in %.1fs",
                operation,
                error_code(error) or type(error).__name__,
                state.attempt_number,
                self.max_attempts,
                state.next_action.sleep if state.next_action else 0,
            )

        def give_up(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            raise OmicsRetriesExhausted(
                f"{operation} still failing after {state.attempt_number} attempts: {error}"
            ) from error

        return {
            "retry": retry_if_exception(is_transient),
            "wait": wait_random_exponential(multiplier=0.5, max=self.retry_max_wait),
            "stop": stop_after_attempt(self.max_attempts),
            "before_sleep": log_retry,
            "retry_error_callback": give_up,
        }

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call one operation (``"GetRun"`` or ``"get_run"``) with retries on transient errors."""
        method: Callable[..., dict[str, Any]] = getattr(self.conn, snake(operation))
        for attempt in Retrying(**self._retry_kwargs(operation)):
            with attempt:
                return method(**params)
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def call_async(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """The same on an aiobotocore client (``async with await hook.get_async_conn() as client``)."""
        async for attempt in AsyncRetrying(**self._retry_kwargs(operation)):
            with attempt:
                return await getattr(client, snake(operation))(**params)
        raise AssertionError("unreachable: tenacity either returns or raises")

    def paginate(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated operation, each page fetched with retries."""
        config = paginators()[_operation_name(operation)]
        while True:
            page = self.call(operation, **params)
            yield from page.get(config["result_key"]) or []
            token = page.get(config["output_token"])
            if not token:
                return
            params = {**params, config["input_token"]: token}

    def __getattr__(self, name: str) -> Any:
        # list_runs, list_read_sets, ...: paginated list helpers for every paginated operation.
        if name.startswith("list_"):
            operation = _PAGINATED.get(name)
            if operation is not None:
                return lambda **params: self.paginate(operation, **params)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ---- job verbs --------------------------------------------------------------------------------
    def describe(self, kind: str | JobKind, **ids: Any) -> dict[str, Any]:
        job = _kind(kind)
        response = self.call(job.operation, **_ids(job, ids))
        response.pop("ResponseMetadata", None)
        return response

    async def describe_async(self, client: Any, kind: str | JobKind, **ids: Any) -> dict[str, Any]:
        job = _kind(kind)
        response = await self.call_async(client, job.operation, **_ids(job, ids))
        response.pop("ResponseMetadata", None)
        return response

    def get_status(self, kind: str | JobKind, **ids: Any) -> str:
        job = _kind(kind)
        return job.status_of(self.describe(job, **ids))

    def cancel(self, kind: str | JobKind, **ids: Any) -> None:
        job = _kind(kind)
        if job.cancel_operation is None:
            raise ValueError(f"kind: a {job.label} cannot be cancelled through the HealthOmics API")
        self.call(job.cancel_operation, **_ids(job, ids))

    def wait(
        self,
        kind: str | JobKind,
        *,
        delay: float = 30,
        max_attempts: int = 720,
        fail_on_partial_success: bool = True,
        **ids: Any,
    ) -> dict[str, Any]:
        """Poll until the job ends; return its last describe output or raise :class:`OmicsJobFailed`.

        A failure status ends the wait at once, with the service's message and the failed items.
        Each change of status is logged; throttled polls are retried and never count as attempts.
        """
        job = _kind(kind)
        last = None
        for attempt in range(1, max_attempts + 1):
            try:
                described = self.describe(job, **ids)
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    raise OmicsJobFailed(job, ids, "DELETED", str(exc), {}) from exc
                raise
            status = job.status_of(described)
            if status != last:
                self.log.info("%s %s is %s (poll %d of %d)", job.label, _show(ids), status, attempt, max_attempts)
                last = status
            verdict = outcome(job, described, fail_on_partial_success)
            if verdict == "success":
                return described
            if verdict == "failure":
                raise OmicsJobFailed.from_described(job, ids, described)
            if attempt < max_attempts:
                time.sleep(delay)
        raise OmicsWaitTimeout(f"{job.label} {_show(ids)} is still {last} after {max_attempts} polls of {delay}s")


def outcome(job: JobKind, described: Mapping[str, Any], fail_on_partial_success: bool = True) -> str:
    """``success``, ``failure`` or ``waiting``: what a describe output means for a wait."""
    status = job.status_of(described)
    if status in job.success_states:
        return "failure" if fail_on_partial_success and job.failed_parts(described) else "success"
    if status == "COMPLETED_WITH_FAILURES" and not fail_on_partial_success:
        return "success"
    if status in job.failure_states:
        return "failure"
    return "waiting"


def _kind(kind: str | JobKind) -> JobKind:
    return kind if isinstance(kind, JobKind) else job_kind(kind)


def _ids(job: JobKind, ids: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in job.ids if not ids.get(name)]
    unknown = [name for name in ids if name not in job.ids]
    if missing or unknown:
        raise ValueError(
            f"a {job.label} is identified by {', '.join(job.ids)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not known: {', '.join(unknown)}" if unknown else "")
        )
    return dict(ids)


def _show(ids: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in ids.items())


def _operation_name(operation: str) -> str:
    return operation if operation[0].isupper() else _PAGINATED[operation]


_PAGINATED = {snake(name): name for name in paginators()}

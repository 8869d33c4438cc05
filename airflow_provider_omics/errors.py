"""Errors a DAG author sees: each says what ended, how, and in the service's own words why."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from airflow_provider_omics.compat import AirflowException
from airflow_provider_omics.jobs import JobKind

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
TRANSIENT_CODES = THROTTLING_CODES | frozenset(
    {
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


def is_throttling(error: BaseException | None) -> bool:
    """The service's "later": a quota was reached, nothing is wrong."""
    return error_code(error) in THROTTLING_CODES


def error_code(error: BaseException | None) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


def without_retry_note(error: ClientError) -> ClientError:
    """botocore ends its messages with "(reached max retries: 0)": retries are ours, so that is noise."""
    text = str(error)
    cleaned = re.sub(r" \(reached max retries: \d+\)", "", text)
    if cleaned != text:
        error.args = (cleaned, *error.args[1:])
    return error


class OmicsJobFailed(AirflowException):
    """A job ended in a failure status (FAILED, CANCELLED, DELETED, COMPLETED_WITH_FAILURES, ...)."""

    def __init__(
        self,
        kind: JobKind,
        ids: Mapping[str, Any],
        status: str,
        message: str,
        described: Mapping[str, Any],
        failed_items: list[tuple[str, str]] | None = None,
        report: str = "",
    ) -> None:
        self.kind = kind
        self.ids = dict(ids)
        self.status = status
        self.service_message = message
        self.described = described
        self.failed_items = failed_items or []
        self.report = report  # what diagnostics.py found out (a failed run's tasks and logs)
        name = described.get("name") if isinstance(described, Mapping) else None
        named = f"{name!r} " if name else ""  # a run named by its sample reads better in a plate's logs
        text = f"HealthOmics {kind.label} {named}{' '.join(f'{k}={v}' for k, v in ids.items())} ended {status}"
        if message:
            text += f": {message}"
        if self.failed_items:
            text += f". {len(self.failed_items)} failed:" + "".join(
                f"\n  - {what}: {why}" for what, why in self.failed_items
            )
        if report:
            text += f"\n{report}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:  # errors cross process boundaries (pickled task results)
        return (
            type(self),
            (self.kind, self.ids, self.status, self.service_message, self.described, self.failed_items, self.report),
        )

    def with_report(self, report: str) -> OmicsJobFailed:
        return type(self)(
            self.kind, self.ids, self.status, self.service_message, self.described, self.failed_items, report
        )

    @classmethod
    def from_described(cls, kind: JobKind, ids: Mapping[str, Any], described: Mapping[str, Any]) -> OmicsJobFailed:
        message = kind.message_of(described)
        parts = kind.failed_parts(described)
        if parts:
            counted = ", ".join(f"{name} {count}" for name, count in parts.items())
            message = f"{message}; {counted}" if message else counted
        return cls(kind, ids, kind.status_of(described), message, described, kind.failed_items(described))


class OmicsRetriesExhausted(AirflowException):
    """Throttling or transient errors went on past the retry bound."""


class OmicsWaitTimeout(AirflowException):
    """A job was still in progress after ``waiter_max_attempts`` polls."""


class PreflightFailed(AirflowException):
    """Pre-flight checks found what would fail the job: nothing was created or started."""

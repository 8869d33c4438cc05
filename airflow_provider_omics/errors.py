"""Errors a DAG author sees: each says what ended, how, and in the service's own words why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_omics.jobs import JobKind


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
    ) -> None:
        self.kind = kind
        self.ids = dict(ids)
        self.status = status
        self.service_message = message
        self.described = described
        self.failed_items = failed_items or []
        text = f"HealthOmics {kind.label} {' '.join(f'{k}={v}' for k, v in ids.items())} ended {status}"
        if message:
            text += f": {message}"
        if self.failed_items:
            text += f". {len(self.failed_items)} failed:" + "".join(
                f"\n  - {what}: {why}" for what, why in self.failed_items
            )
        super().__init__(text)

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

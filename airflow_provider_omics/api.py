"""The narrow face of the HealthOmics API that the modules under the hook work through.

``polling``, ``uploads``, ``downloads``, ``usage`` and ``diagnostics`` take an ``OmicsApi``, not the hook: they need a
few calls with retries, pages, a payload read and a client of another service, and nothing of Airflow.
``OmicsHook`` is one; a test or a user's own client may be another. So nothing below ``hooks/`` imports
it back, as the Amazon provider's ``waiter_with_logging`` takes a botocore waiter rather than a hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_omics.jobs import JobKind, job_kind


class OmicsApi(Protocol):
    @property
    def log(self) -> Any:
        """A logging.Logger: where progress and retries are told."""
        ...

    @property
    def conn_region_name(self) -> str: ...

    def call(self, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]:
        """One operation (``"GetRun"``), retried on throttling and 5xx unless ``retry=False``."""
        ...

    def call_read(self, operation: str, **params: Any) -> bytes:
        """An operation whose answer is a payload (``GetReadSet``), read whole, retried as a whole."""
        ...

    def call_into(self, operation: str, write: Callable[[int, bytes], Any], **params: Any) -> int:
        """The same, streamed to ``write(offset, chunk)``; returns the payload's length."""
        ...

    def paginate(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated operation."""
        ...

    def client_of(self, client_type: str, region_name: str | None = None) -> Any:
        """A boto3 client of another service (``s3``, ``logs``, ``pricing``) on the same connection."""
        ...

    def poll_interval(self, operation: str) -> float:
        """The fewest seconds between two calls of a status operation that its quota allows one waiter."""
        ...


def kind_of(kind: str | JobKind) -> JobKind:
    return kind if isinstance(kind, JobKind) else job_kind(kind)


def checked_ids(job: JobKind, ids: Mapping[str, Any]) -> dict[str, Any]:
    """The describe arguments of a job, refused when one is missing or not the kind's."""
    missing = [name for name in job.ids if not ids.get(name)]
    unknown = [name for name in ids if name not in job.ids]
    if missing or unknown:
        raise ValueError(
            f"a {job.label} is identified by {', '.join(job.ids)}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; not known: {', '.join(unknown)}" if unknown else "")
        )
    return dict(ids)


def describe(api: OmicsApi, kind: str | JobKind, *, retry: bool = True, **ids: Any) -> dict[str, Any]:
    """A job's describe output (``GetRun`` for a run), without the response metadata."""
    job = kind_of(kind)
    response = api.call(job.operation, retry=retry, **checked_ids(job, ids))
    response.pop("ResponseMetadata", None)
    return response

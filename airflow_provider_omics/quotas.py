"""HealthOmics' documented API quotas, and the limiter that keeps a triggerer under them.

The service limits its API per account and region, per operation (the HealthOmics user guide's "API
quotas"). The emulator enforces these figures; the triggerer's status source paces itself by them,
so a backfill of hundreds of waits slows its own polls instead of throttling the whole account.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from airflow_provider_omics.service_model import service_model

# The HealthOmics user guide's "HealthOmics API quotas" (https://docs.aws.amazon.com/omics/latest/dev/api-quotas.html):
# requests per second per account and region, one row per line of its tables, in its order. Adjustable
# rows can be raised by AWS support; the connection extra below tells the provider about a raised quota.
QUOTA_TABLE: tuple[tuple[float, tuple[str, ...]], ...] = (
    # General
    (1, ("AcceptShare", "CreateShare", "DeleteShare", "GetShare", "ListShares")),
    # Storage
    (1, ("CreateSequenceStore", "UpdateSequenceStore", "DeleteSequenceStore")),
    (1, ("CreateReferenceStore", "DeleteReferenceStore")),
    (1, ("BatchDeleteReadSet", "DeleteReference")),
    (1, ("CreateMultipartReadSetUpload", "CompleteMultipartReadSetUpload", "AbortMultipartReadSetUpload")),  # fixed
    (1, ("GetS3AccessPolicy", "PutS3AccessPolicy", "DeleteS3AccessPolicy")),
    (10, ("GetReference",)),
    (10, ("UploadReadSetPart",)),
    (30, ("GetReadSet",)),
    (5, ("GetSequenceStore", "ListSequenceStores")),
    (5, ("GetReadSetMetadata", "ListReadSets")),
    (5, ("StartReadSetImportJob", "GetReadSetImportJob", "ListReadSetImportJobs")),
    (5, ("StartReadSetExportJob", "GetReadSetExportJob", "ListReadSetExportJobs")),
    (5, ("ListReferenceStores",)),
    (5, ("StartReferenceImportJob", "GetReferenceImportJob", "ListReferenceImportJobs")),
    (5, ("ListReferences", "GetReferenceMetadata")),
    (5, ("StartReadSetActivationJob",)),
    (5, ("ListReadSetActivationJobs", "GetReadSetActivationJob")),
    (5, ("ListMultipartReadSetUploads", "ListReadSetUploadParts")),
    (5, ("TagResource", "UntagResource", "ListTagsForResource")),
    # Workflows: the status APIs, and StartRun far lower
    (10, ("GetRun", "ListRuns", "GetRunTask", "ListRunTasks")),
    (1, ("StartRun",)),
    # Analytics
    (1, ("GetVariantStore", "ListVariantStores", "GetAnnotationStore", "ListAnnotationStores")),
    (1, ("GetVariantImportJob", "ListVariantImportJobs", "GetAnnotationImportJob", "ListAnnotationImportJobs")),
)

# CloudWatch Logs' quota for reading a stream (https://docs.aws.amazon.com/general/latest/gr/cwl_region.html):
# requests per second per account and region. A run's manifest and task logs are read with it.
LOGS_QUOTA_TABLE = {"GetLogEvents": 25.0}

# The connection extra that sets the pace per operation: {"omics_quotas": {"GetRun": 5, "ListRuns": 5}}
CONNECTION_EXTRA = "omics_quotas"
# Unless told otherwise, a triggerer takes this share of a quota: the account's other clients (the console,
# workers' own waits) need some, and requests sent evenly at the full rate reach the service a little unevenly.
DEFAULT_SHARE = 0.9


def default_quotas() -> dict[str, float]:
    """Requests per second by operation, for every operation the service's quota table names."""
    return {operation: float(rate) for rate, operations in QUOTA_TABLE for operation in operations}


def logs_quotas() -> dict[str, float]:
    """The pace of CloudWatch Logs reads: ``DEFAULT_SHARE`` of their quota."""
    return {operation: rate * DEFAULT_SHARE for operation, rate in LOGS_QUOTA_TABLE.items()}


def quotas_from_extra(extra: Mapping[str, Any]) -> dict[str, float]:
    """The pace of each operation: ``DEFAULT_SHARE`` of its quota, or the connection's ``omics_quotas`` (checked)."""
    quotas = {operation: rate * DEFAULT_SHARE for operation, rate in default_quotas().items()}
    given = extra.get(CONNECTION_EXTRA) or {}
    if not isinstance(given, Mapping):
        raise ValueError(f"connection extra {CONNECTION_EXTRA}: must be an object of operation: requests per second")
    for operation, rate in given.items():
        if operation not in service_model().operation_names:
            raise ValueError(f"connection extra {CONNECTION_EXTRA}: {operation!r} is not an omics operation")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ValueError(f"connection extra {CONNECTION_EXTRA}.{operation}: must be a number > 0, got {rate!r}")
        quotas[operation] = float(rate)
    return quotas


class RateLimiter:
    """``await limiter.acquire("GetRun")`` before each call: calls of an operation leave at its rate.

    Each call gets the next free slot (1/rate apart, first come first served), so the offered rate of an
    operation never exceeds its quota, even for a moment, and a long queue shows as a longer wait, not as
    throttling. Operations without a quota are not limited. One limiter serves one event loop; ``wait``
    serves one thread of a worker the same way.
    """

    def __init__(self, rates: Mapping[str, float]) -> None:
        self.rates = dict(rates)
        self._next_slot: dict[str, float] = {}

    def _delay(self, operation: str, now: float) -> float:
        """Seconds until the operation's next free slot, which this call takes."""
        rate = self.rates.get(operation)
        if not rate:
            return 0.0
        slot = max(now, self._next_slot.get(operation, now))
        self._next_slot[operation] = slot + 1 / rate
        return slot - now

    async def acquire(self, operation: str) -> None:
        delay = self._delay(operation, asyncio.get_running_loop().time())
        if delay > 0:
            await asyncio.sleep(delay)

    def wait(self, operation: str) -> None:
        delay = self._delay(operation, time.monotonic())
        if delay > 0:
            time.sleep(delay)

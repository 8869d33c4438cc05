"""The service's request quotas: a token bucket per operation, refused with ThrottlingException as the service does.

HealthOmics limits its API per account and region (the figures of the HealthOmics user guide's "API
quotas", as DESIGN.md lists them). The emulator serves one account, so one bucket per operation. Each
bucket holds one second of requests, so a burst above the rate is refused, as the service refuses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from airflow_provider_omics.jobs import JOB_KINDS

RUN_TPS = 10.0  # GetRun, ListRuns, GetRunTask, ListRunTasks
STORAGE_JOB_TPS = 5.0  # Get/List of read-set and reference import, export and activation jobs
ANALYTICS_TPS = 1.0  # variant and annotation stores and import jobs
START_RUN_TPS = 1.0  # StartRun is far lower than the status APIs


def default_quotas() -> dict[str, float]:
    """Requests per second by operation, for the operations the service's quotas name."""
    quotas = {op: RUN_TPS for op in ("GetRun", "ListRuns", "GetRunTask", "ListRunTasks")}
    for name in ("read_set_import", "read_set_export", "read_set_activation", "reference_import"):
        kind = JOB_KINDS[name]
        quotas[kind.operation] = quotas[kind.list_operation or ""] = STORAGE_JOB_TPS
    for name in ("variant_store", "annotation_store", "variant_import", "annotation_import"):
        kind = JOB_KINDS[name]
        quotas[kind.operation] = quotas[kind.list_operation or ""] = ANALYTICS_TPS
    quotas["StartRun"] = START_RUN_TPS
    return quotas


class Quotas:
    """``admit(operation)``: whether a request may be served now; others are throttled."""

    def __init__(self, rates: Mapping[str, float] | None = None, enabled: bool = True) -> None:
        self.rates = dict(default_quotas() if rates is None else rates)
        self.enabled = enabled
        self._buckets: dict[str, tuple[float, float]] = {}  # operation -> (tokens, last refill)
        self._lock = threading.Lock()

    def admit(self, operation: str) -> bool:
        rate = self.rates.get(operation)
        if not self.enabled or rate is None:
            return True
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(operation, (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            admitted = tokens >= 1
            self._buckets[operation] = (tokens - 1 if admitted else tokens, now)
            return admitted

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

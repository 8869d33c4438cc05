"""The service's request quotas: a token bucket per operation, refused with ThrottlingException as the service does.

HealthOmics limits its API per account and region (``airflow_provider_omics.quotas``: the figures of
the HealthOmics user guide's "API quotas"). The emulator serves one account, so one bucket per operation. Each
bucket holds one second of requests, so a burst above the rate is refused, as the service refuses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from airflow_provider_omics.quotas import default_quotas


class Quotas:
    """``admit(operation)``: whether a request may be served now; others are throttled."""

    def __init__(self, rates: Mapping[str, float] | None = None, enabled: bool = True) -> None:
        self.rates = {**default_quotas(), **(rates or {})}
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

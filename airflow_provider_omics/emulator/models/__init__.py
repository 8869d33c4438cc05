"""The emulated service's state, one module per part of HealthOmics."""

from __future__ import annotations

from typing import Any

from airflow_provider_omics.service_model import snake

from .analytics import AnalyticsModel
from .base import OmicsError, Outcome, Record
from .batches import BatchModel
from .configurations import ConfigurationModel
from .store_jobs import StoreJobModel
from .uploads import UploadModel

__all__ = ["OmicsBackend", "OmicsError", "Outcome"]


class OmicsBackend(StoreJobModel, UploadModel, BatchModel, ConfigurationModel, AnalyticsModel):
    """All of HealthOmics' state. Each operation is the method named after it (``GetRun`` -> ``get_run``)."""

    def handler(self, operation_name: str) -> Any:
        return getattr(self, snake(operation_name), None)

    def handle(self, operation_name: str, params: dict[str, Any]) -> Record:
        handler = self.handler(operation_name)
        if handler is None:
            raise OmicsError("NotSupportedOperationException", f"{operation_name} is not emulated")
        with self.lock:
            self.advance()
            answer: Record = handler(params)
            return answer

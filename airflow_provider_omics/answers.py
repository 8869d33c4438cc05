"""The service's answers where the provider reads their members, typed as mypy-boto3-omics types them.

``OmicsApi.call`` and ``paginate`` answer any operation as a ``dict``. These name what comes back for the
answers the provider takes apart: runs and their tasks, run batches and their runs, read sets, so a
misspelled member is a type error, not a ``None`` at run time (an import job's answer is read through the job
table, ``jobs.py``, as every kind's is). mypy-boto3-omics is a
development dependency (``dev`` extra): the types exist for the type checker only; at run time each is the
call's ``dict``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_omics.api import OmicsApi

if TYPE_CHECKING:
    from mypy_boto3_omics.type_defs import (
        GetBatchResponseTypeDef,
        GetReadSetMetadataResponseTypeDef,
        GetRunResponseTypeDef,
        GetRunTaskResponseTypeDef,
        RunBatchListItemTypeDef,
        RunListItemTypeDef,
        TaskListItemTypeDef,
    )


def run(api: OmicsApi, run_id: str) -> GetRunResponseTypeDef:
    return cast("GetRunResponseTypeDef", api.call("GetRun", id=run_id))


def run_task(api: OmicsApi, run_id: str, task_id: str) -> GetRunTaskResponseTypeDef:
    return cast("GetRunTaskResponseTypeDef", api.call("GetRunTask", id=run_id, taskId=task_id))


def run_tasks(api: OmicsApi, run_id: str, **filters: Any) -> Iterator[TaskListItemTypeDef]:
    return cast("Iterator[TaskListItemTypeDef]", api.paginate("ListRunTasks", id=run_id, **filters))


def runs(api: OmicsApi, **filters: Any) -> Iterator[RunListItemTypeDef]:
    """``ListRuns``: a batch's (``batchId``), a run group's (``runGroupId``), ..."""
    return cast("Iterator[RunListItemTypeDef]", api.paginate("ListRuns", **filters))


def batch(api: OmicsApi, batch_id: str) -> GetBatchResponseTypeDef:
    return cast("GetBatchResponseTypeDef", api.call("GetBatch", batchId=batch_id))


def runs_in_batch(api: OmicsApi, batch_id: str) -> Iterator[RunBatchListItemTypeDef]:
    return cast("Iterator[RunBatchListItemTypeDef]", api.paginate("ListRunsInBatch", batchId=batch_id))


def read_set(api: OmicsApi, sequence_store_id: str, read_set_id: str) -> GetReadSetMetadataResponseTypeDef:
    answer = api.call("GetReadSetMetadata", sequenceStoreId=sequence_store_id, id=read_set_id)
    return cast("GetReadSetMetadataResponseTypeDef", answer)

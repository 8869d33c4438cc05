"""The events HealthOmics sends to EventBridge when a thing changes status, as ``PutEvents`` entries.

The service puts one on the account's default bus for every status a run, workflow, store, read set,
reference, import or export job enters, creation included (a run's first event says PENDING).
Detail types and detail fields are the ``aws.omics`` entries of EventBridge's schema registry, what the
user guide documents (its EventBridge page, "Event message structure") and what AWS's own samples read;
the envelope (id, account, region, time, resources) is EventBridge's own, which moto's EventBridge adds
when the entry is put. ``tests/test_corpus.py`` holds them against the
recorded events in ``tests/corpus/events/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

SOURCE = "aws.omics"
OMICS_VERSION = "1.0.0"  # what every recorded event's detail carries

Detail = Callable[[dict[str, Any], Any], dict[str, Any]]  # (record, backend) -> the detail's fields


def _fields(*keys: str) -> Detail:
    """The detail fields that are the record's own fields, by the same names."""
    return lambda record, backend: {key: record.get(key) for key in keys}


def _analytics_store(store: dict[str, Any], backend: Any) -> dict[str, Any]:
    return {"arn": store["storeArn"], "storeId": store["id"], "storeName": store["name"]}


def _analytics_import(store_kind: str) -> Detail:
    def detail(job: dict[str, Any], backend: Any) -> dict[str, Any]:
        store = backend.table(store_kind).get(job["destinationName"]) or {}
        return {"jobId": job["id"], "storeId": store.get("id"), "storeName": job["destinationName"]}

    return detail


SEQUENCE_JOB = _fields("id", "sequenceStoreId", "statusMessage")


def _run(run: dict[str, Any], backend: Any) -> dict[str, Any]:
    """What the user guide documents for a run (the schema registry's entry lists only arn and status)."""
    return {
        "arn": run["arn"],
        "uuid": run["uuid"],
        "runId": run["id"],
        "runName": run.get("name"),
        "runOutputUri": run.get("runOutputUri"),
        "workflowId": run.get("workflowId"),
        "workflowName": run.get("workflowName"),
    }


def _task(task: dict[str, Any], backend: Any) -> dict[str, Any]:
    """What the user guide documents for a task: its ARN, and its run's and workflow's names and ids."""
    run = backend.table("run").get(task["runId"]) or {"id": task["runId"]}
    return {
        "arn": backend.arn(f"task/{task['taskId']}"),
        "runArn": run.get("arn"),
        "runUuid": run.get("uuid"),
        "runId": run["id"],
        "runName": run.get("name"),
        "workflowId": run.get("workflowId"),
        "workflowName": run.get("workflowName"),
    }


# emulator kind -> (detail type, the detail's fields besides omicsVersion and status)
EVENTS: dict[str, tuple[str, Detail]] = {
    "run": ("Run Status Change", _run),
    "run_task": ("Task Status Change", _task),
    "workflow": ("Workflow Status Change", _fields("arn")),
    "sequence_store": ("Sequence Store Status Change", _fields("arn", "id")),
    "read_set": ("Read Set Status Change", _fields("arn", "id", "sequenceStoreId", "creationJobId", "statusMessage")),
    "reference": ("Reference Status Change", _fields("arn", "id", "referenceStoreId", "creationJobId")),
    "read_set_import": ("Read Set Import Job Status Change", SEQUENCE_JOB),
    "read_set_export": ("Read Set Export Job Status Change", SEQUENCE_JOB),
    "read_set_activation": ("Read Set Activation Job Status Change", SEQUENCE_JOB),
    "reference_import": ("Reference Import Job Status Change", _fields("id", "referenceStoreId", "statusMessage")),
    "variant_store": ("Variant Store Status Change", _analytics_store),
    "annotation_store": ("Annotation Store Status Change", _analytics_store),
    "variant_import": ("Variant Import Job Status Change", _analytics_import("variant_store")),
    "annotation_import": ("Annotation Import Job Status Change", _analytics_import("annotation_store")),
}


def status_event(kind: str, record: dict[str, Any], backend: Any, at: float) -> dict[str, Any] | None:
    """The ``PutEvents`` entry for ``record`` of ``kind`` having entered its status at ``at`` (epoch
    seconds), or None for a kind the service sends no event for."""
    if kind not in EVENTS:
        return None
    detail_type, fields = EVENTS[kind]
    detail = {"omicsVersion": OMICS_VERSION, **fields(record, backend), "status": record["status"]}
    detail = {k: v for k, v in detail.items() if v is not None}
    resource = detail.get("arn")
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "Resources": [resource] if resource else [],
        "Time": at,
    }

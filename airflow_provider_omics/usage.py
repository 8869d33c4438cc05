"""What a finished run used and wrote: its tasks' resources, totals, storage, outputs, and a cost estimate.

``run_summary`` (also ``OmicsHook.run_summary``, and ``summary`` in ``OmicsStartRunOperator``'s XCom)
reads the run, its tasks (``ListRunTasks``: CPUs, memory, GPUs, instance type, start and stop) and the
objects under its ``runOutputUri``, so the next task needs no S3 listing. A cost is estimated only from
prices the caller gives (``price_table``: USD per hour of each instance type, and per GiB-hour of run
storage); with a price missing, the figures come without a cost, never with an invented one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_omics.hooks.omics import OmicsHook

# Keys of a price table besides instance types: USD per GiB-hour of a run's storage.
STORAGE_PRICES = {"STATIC": "static_storage_gib_hour", "DYNAMIC": "dynamic_storage_gib_hour"}


def run_summary(
    hook: OmicsHook,
    run_id: str,
    run: Mapping[str, Any] | None = None,
    price_table: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    run = run or hook.describe("run", id=run_id)
    tasks = [
        {
            "name": item.get("name"),
            "taskId": item["taskId"],
            "status": item.get("status"),
            "cpus": item.get("cpus") or 0,
            "memoryGiB": item.get("memory") or 0,
            "gpus": item.get("gpus") or 0,
            "instanceType": item.get("instanceType"),
            "cacheHit": bool(item.get("cacheHit")),
            "seconds": _seconds(item.get("startTime"), item.get("stopTime")),
        }
        for item in hook.paginate("ListRunTasks", id=run_id)
    ]
    seconds = _seconds(run.get("startTime"), run.get("stopTime"))
    storage_type = run.get("storageType") or "DYNAMIC"
    capacity = run.get("storageCapacity") if storage_type == "STATIC" else None
    summary: dict[str, Any] = {
        "runId": run_id,
        "status": run.get("status"),
        "seconds": seconds,
        "tasks": tasks,
        "totals": {
            "tasks": len(tasks),
            "cacheHits": sum(t["cacheHit"] for t in tasks),
            "cpuHours": round(sum(t["cpus"] * t["seconds"] for t in tasks) / 3600, 6),
            "memoryGiBHours": round(sum(t["memoryGiB"] * t["seconds"] for t in tasks) / 3600, 6),
            "gpuHours": round(sum(t["gpus"] * t["seconds"] for t in tasks) / 3600, 6),
        },
        "storage": {
            "type": storage_type,
            "capacityGiB": capacity,
            "gibHours": round(capacity * seconds / 3600, 6) if capacity else None,
        },
        "runOutputUri": run.get("runOutputUri"),
    }
    try:
        summary["outputs"] = _outputs(hook, run.get("runOutputUri"))
    except Exception as error:  # no s3:ListBucket on the output bucket: the figures still stand
        summary["outputs"] = None
        summary["outputsNotListed"] = str(error)
    if price_table is not None:
        summary["estimatedCost"] = estimated_cost(summary, price_table)
    return summary


def estimated_cost(summary: Mapping[str, Any], price_table: Mapping[str, float]) -> dict[str, Any]:
    """USD from the given prices: each task's instance-hours, and the run's storage GiB-hours when STATIC."""
    instance_types = {t["instanceType"] for t in summary["tasks"] if not t["cacheHit"]}
    storage_key = STORAGE_PRICES[summary["storage"]["type"]]
    needed = instance_types | ({storage_key} if summary["storage"]["gibHours"] else set())
    missing = sorted(str(name) for name in needed if name not in price_table)
    if missing:
        return {"usd": None, "missingPrices": missing}
    compute = sum(price_table[t["instanceType"]] * t["seconds"] / 3600 for t in summary["tasks"] if not t["cacheHit"])
    storage = price_table[storage_key] * summary["storage"]["gibHours"] if summary["storage"]["gibHours"] else 0.0
    return {"usd": round(compute + storage, 6), "computeUsd": round(compute, 6), "storageUsd": round(storage, 6)}


def _seconds(start: Any, stop: Any) -> float:
    if not isinstance(start, datetime) or not isinstance(stop, datetime):
        return 0.0
    return max(0.0, (stop - start).total_seconds())


def _outputs(hook: OmicsHook, output_uri: str | None) -> list[str]:
    """The objects the run wrote under ``<runOutputUri>/out/``, as S3 URIs."""
    if not output_uri or not output_uri.startswith("s3://"):
        return []
    bucket, _, prefix = output_uri[5:].partition("/")
    s3 = hook.client_of("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix.rstrip('/')}/out/"):
        found += [f"s3://{bucket}/{item['Key']}" for item in page.get("Contents", [])]
    return found

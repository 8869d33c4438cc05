"""What a finished run used and wrote: its tasks' resources, totals, storage, outputs, and a cost estimate.

``run_summary`` (also ``OmicsHook.run_summary``, and ``summary`` in ``OmicsStartRunOperator``'s XCom)
reads the run, its tasks (``ListRunTasks``: CPUs, memory, GPUs, instance type, start and stop) and the
objects under its ``runOutputUri``, so the next task needs no S3 listing. A cost is estimated from the
prices the caller gives (``price_table``: USD per hour of each instance type, and per GiB-hour of run
storage) or else from the AWS Price List API (``pricing:GetProducts``, service ``AmazonOmics``, the run's
region). With a price missing or the price list unreadable, the figures come without a cost and say why,
never with an invented one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_omics import answers
from airflow_provider_omics.api import OmicsApi, describe

# The key of a price table besides instance types: USD per GiB-hour of STATIC run storage.
STORAGE_PRICE = "static_storage_gib_hour"
# USD per GiB-hour of DYNAMIC run storage, charged on what the run held on average (from its manifest).
DYNAMIC_STORAGE_PRICE = "dynamic_storage_gib_hour"
# The Price List API answers from us-east-1 (and two other regions) for every region's prices.
PRICING_REGION = "us-east-1"
# Price-list resource types that are not instance types, and their key in a price table.
PRICE_LIST_NAMES = {"Run Storage": STORAGE_PRICE, "Dynamic Run Storage": DYNAMIC_STORAGE_PRICE}


def run_summary(
    api: OmicsApi,
    run_id: str,
    run: Mapping[str, Any] | None = None,
    price_table: Mapping[str, float] | None = None,
    prices: Prices | None = None,
) -> dict[str, Any]:
    run = run or describe(api, "run", id=run_id)
    tasks: list[dict[str, Any]] = [
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
        for item in answers.run_tasks(api, run_id)
    ]
    seconds = _seconds(run.get("startTime"), run.get("stopTime"))
    storage_type = run.get("storageType") or "STATIC"  # StartRun's default
    capacity = run.get("storageCapacity")  # DYNAMIC: the most the run used
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
            "gibHours": round(capacity * seconds / 3600, 6) if capacity and storage_type == "STATIC" else None,
        },
        "runOutputUri": run.get("runOutputUri"),
    }
    try:
        summary["outputs"] = _outputs(api, run.get("runOutputUri"))
    except Exception as error:  # no s3:ListBucket on the output bucket: the figures still stand
        summary["outputs"] = None
        summary["outputsNotListed"] = str(error)
    prices = prices or prices_for(api, price_table)
    if prices.table is None:
        summary["estimatedCost"] = {"usd": None, "pricesNotRead": prices.not_read}
    else:
        summary["estimatedCost"] = {**estimated_cost(summary, prices.table), "prices": prices.source}
    return summary


@dataclass(frozen=True)
class Prices:
    """The prices a cost is estimated from (``table``: USD per hour or GiB-hour by name), where they came
    from, and why there are none (``not_read``)."""

    table: Mapping[str, float] | None
    source: str
    not_read: str | None = None


def prices_for(api: OmicsApi, price_table: Mapping[str, float] | None = None) -> Prices:
    """The given price table, else the AWS Price List API's for the connection's region."""
    if price_table is not None:
        return Prices(price_table, "price_table")
    try:
        return Prices(price_list(api), "AWS Price List API")
    except Exception as error:  # no pricing:GetProducts permission, or no route to it: no cost, and why
        return Prices(None, "AWS Price List API", f"AWS Price List API: {error}")


def price_list(api: OmicsApi) -> dict[str, float]:
    """A price table of the hook's region from the AWS Price List API: USD per instance-hour and GiB-hour."""
    pricing = api.client_of("pricing", region_name=PRICING_REGION)
    region_filter = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": api.conn_region_name}
    table = {}
    for page in pricing.get_paginator("get_products").paginate(ServiceCode="AmazonOmics", Filters=[region_filter]):
        for text in page["PriceList"]:
            item = json.loads(text)
            name = item["product"]["attributes"].get("resourceType")
            prices = [
                float(dimension["pricePerUnit"]["USD"])
                for term in item.get("terms", {}).get("OnDemand", {}).values()
                for dimension in term["priceDimensions"].values()
                if "USD" in dimension.get("pricePerUnit", {})
            ]
            if name and prices:
                table[PRICE_LIST_NAMES.get(name, name)] = prices[0]
    return table


def estimated_cost(summary: Mapping[str, Any], price_table: Mapping[str, float]) -> dict[str, Any]:
    """USD from the given prices: each task's instance-hours, and the run's storage GiB-hours when STATIC."""
    instance_types = {t["instanceType"] for t in summary["tasks"] if not t["cacheHit"]}
    gib_hours = summary["storage"]["gibHours"]
    needed = instance_types | ({STORAGE_PRICE} if gib_hours else set())
    missing = sorted(str(name) for name in needed if name not in price_table)
    if missing:
        return {"usd": None, "missingPrices": missing}
    compute = sum(price_table[t["instanceType"]] * t["seconds"] / 3600 for t in summary["tasks"] if not t["cacheHit"])
    storage = price_table[STORAGE_PRICE] * gib_hours if gib_hours else 0.0
    cost = {"usd": round(compute + storage, 6), "computeUsd": round(compute, 6), "storageUsd": round(storage, 6)}
    if summary["storage"]["type"] == "DYNAMIC":
        cost["storageNotEstimated"] = "DYNAMIC run storage is billed by GiB-hours used, which the API does not report"
    return cost


def _seconds(start: Any, stop: Any) -> float:
    # A describe output that came through a trigger event has its times as ISO 8601 text.
    start, stop = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in (start, stop))
    if not isinstance(start, datetime) or not isinstance(stop, datetime):
        return 0.0
    return max(0.0, (stop - start).total_seconds())


def _outputs(api: OmicsApi, output_uri: str | None) -> list[str]:
    """The objects the run wrote under ``<runOutputUri>/out/``, as S3 URIs."""
    if not output_uri or not output_uri.startswith("s3://"):
        return []
    bucket, _, prefix = output_uri[5:].partition("/")
    s3 = api.client_of("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix.rstrip('/')}/out/"):
        found += [f"s3://{bucket}/{item['Key']}" for item in page.get("Contents", [])]
    return found

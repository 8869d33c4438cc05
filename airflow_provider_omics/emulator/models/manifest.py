"""The run manifest, in the service's shape: one JSON line per task, then one for the run.

The service writes it to CloudWatch Logs (``/aws/omics/WorkflowLog``, stream ``manifest/run/<id>/<uuid>``)
when a run ends. Its readers are AWS's own tools: aws-healthomics-tools' run analyzer sizes tasks from each
line's ``metrics`` (the user guide's "run manifest logs": ``cpusReserved``, ``cpusAverage``,
``cpusMaximum``, ``gpusReserved``, ``memoryReservedGiB``, ``memoryAverageGiB``, ``memoryMaximumGiB``,
``runningSeconds``; the run's storage figures), and its ``rerun`` rebuilds a ``StartRun`` request from the
run line (the workflow, version, run group and cache as ARNs). Times are UTC with milliseconds and ``Z``.
A task served from the run cache has no times and empty metrics, as the service writes it.

What a task used: the emulator runs nothing, so by default a fixed share of what it reserved (``USAGE``);
a usage profile set through the control API (``UsageProfile``: "``call_variants`` uses 3.1 of its 4 CPUs
and 6 of its 16 GiB") says what tasks of a name used instead, as a test or a user needs it.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import ACCOUNT_ID, Record

# Used / reserved: peak and average CPUs and memory, peak and average run storage.
USAGE = {"cpusMaximum": 0.75, "cpusAverage": 0.5, "memoryMaximum": 0.6, "memoryAverage": 0.4}
STORAGE_USAGE = {"maximum": 0.2, "average": 0.1}
DYNAMIC_STORAGE_GIB = 100.0  # what a DYNAMIC run's storage grew to at most


@dataclass
class UsageProfile:
    """What tasks named ``task`` (a glob) of runs named ``run`` used at most and on average; unset averages
    are two thirds of the maxima. Nothing uses more than it reserved: figures above it are capped there."""

    task: str
    cpus: float
    memory_gib: float
    run: str = "*"
    cpus_average: float | None = None
    memory_average_gib: float | None = None

    def matches(self, run: Record, task: Record) -> bool:
        names = [run.get("name"), run.get("id")]
        return fnmatch.fnmatchcase(task["name"], self.task) and any(
            n and fnmatch.fnmatchcase(n, self.run) for n in names
        )

    def used(self, task: Record) -> dict[str, float]:
        cpus, memory = min(self.cpus, task["cpus"]), min(self.memory_gib, task["memory"])
        return {
            "cpusMaximum": cpus,
            "cpusAverage": min(self.cpus_average if self.cpus_average is not None else cpus * 2 / 3, cpus),
            "memoryMaximumGiB": memory,
            "memoryAverageGiB": min(
                self.memory_average_gib if self.memory_average_gib is not None else memory * 2 / 3, memory
            ),
        }


def default_usage(task: Record) -> dict[str, float]:
    return {
        "cpusMaximum": task["cpus"] * USAGE["cpusMaximum"],
        "cpusAverage": task["cpus"] * USAGE["cpusAverage"],
        "memoryMaximumGiB": task["memory"] * USAGE["memoryMaximum"],
        "memoryAverageGiB": task["memory"] * USAGE["memoryAverage"],
    }


def stamp(moment: datetime | None) -> str | None:
    """``2024-01-15T10:00:00.123Z``, as the service writes times in a manifest."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z" if moment else None


def _seconds(record: Record) -> float:
    start, stop = record.get("startTime"), record.get("stopTime")
    return round((stop - start).total_seconds(), 3) if start and stop else 0.0


def task_line(region: str, task: Record, used: dict[str, float], run_arn: str, workflow_arn: str) -> dict[str, Any]:
    line: dict[str, Any] = {
        "arn": f"arn:aws:omics:{region}:{ACCOUNT_ID}:task/{task['taskId']}",
        "uuid": task["uuid"],
        "name": task["name"],
        "run": run_arn,
        "workflow": workflow_arn,
        "status": task["status"],
        "cpus": task["cpus"],
        "memory": task["memory"],
        "gpus": task["gpus"],
        "instanceType": task["instanceType"],
        "image": task["imageDetails"]["image"],
        "imageDetails": task["imageDetails"],
        "metrics": {},
    }
    if task.get("failureReason"):
        line.update(failureReason=task["failureReason"], statusMessage=task.get("statusMessage", ""))
    if task["cacheHit"]:  # nothing ran: no times, no usage
        return {**line, "cacheHit": True, "cacheS3Uri": task.get("cacheS3Uri")}
    line.update(
        {k: stamp(task.get(k)) for k in ("creationTime", "startTime", "stopTime") if task.get(k)},
        metrics={
            "cpusReserved": task["cpus"],
            "gpusReserved": task["gpus"],
            "memoryReservedGiB": task["memory"],
            **{name: round(value, 2) for name, value in used.items()},
            "runningSeconds": _seconds(task),
        },
    )
    return line


def run_line(region: str, run: Record, workflow: Record) -> dict[str, Any]:
    arn = f"arn:aws:omics:{region}:{ACCOUNT_ID}"
    static = run.get("storageType") == "STATIC"
    reserved = float(run.get("storageCapacity") or 0) if static else DYNAMIC_STORAGE_GIB
    line: dict[str, Any] = {
        "arn": run["arn"],
        "uuid": run["uuid"],
        "name": run.get("name"),
        "status": run["status"],
        "workflow": workflow["arn"],
        "digest": run.get("digest"),
        "roleArn": run.get("roleArn"),
        "startedBy": run.get("startedBy"),
        "outputUri": run.get("outputUri"),
        "runOutputUri": run.get("runOutputUri"),
        "parameters": run.get("parameters") or {},
        "parameterTemplate": workflow.get("parameterTemplate"),
        "resourceDigests": run.get("resourceDigests"),
        "storageType": run.get("storageType"),
        "logLevel": run.get("logLevel"),
        "retentionMode": run.get("retentionMode"),
        "priority": run.get("priority"),
        "workflowOwnerId": run.get("workflowOwnerId"),
        "creationTime": stamp(run.get("creationTime")),
        "startTime": stamp(run.get("startTime")),
        "stopTime": stamp(run.get("stopTime")),
        "metrics": {
            "runningSeconds": _seconds(run),
            "storageReservedGiB": reserved,
            "storageMaximumGiB": round(reserved * STORAGE_USAGE["maximum"], 2),
            "storageAverageGiB": round(reserved * STORAGE_USAGE["average"], 2),
        },
    }
    if static:
        line["storageCapacity"] = run.get("storageCapacity")
    if run.get("workflowVersionName"):
        line["workflowVersion"] = f"{workflow['arn']}/version/{run['workflowVersionName']}"
    if run.get("runGroupId"):
        line["runGroup"] = f"{arn}:runGroup/{run['runGroupId']}"
    if run.get("cacheId"):
        line.update(runCache=f"{arn}:runCache/{run['cacheId']}", runCacheBehavior=run.get("cacheBehavior"))
    if run.get("failureReason"):
        line.update(failureReason=run["failureReason"], statusMessage=run.get("statusMessage", ""))
    return {k: v for k, v in line.items() if v is not None}


def manifest(
    region: str, run: Record, tasks: list[Record], workflow: Record, profiles: list[UsageProfile]
) -> list[str]:
    """The manifest's lines: each task (used as the first profile that matches it says), then the run."""

    def used(task: Record) -> dict[str, float]:
        profile = next((p for p in profiles if p.matches(run, task)), None)
        return profile.used(task) if profile else default_usage(task)

    lines = [task_line(region, task, used(task), run["arn"], workflow["arn"]) for task in tasks]
    return [json.dumps(line) for line in [*lines, run_line(region, run, workflow)]]

"""Right-sizing: what each task of a finished run used against what it reserved, and what it should reserve.

The figures come from the run manifest the service writes to CloudWatch Logs when a run ends
(``/aws/omics/WorkflowLog``, stream ``manifest/run/<id>/<uuid>``: each task's reserved, peak and average
CPUs and memory, and the run's storage), the source AWS's run analyzer (aws-healthomics-tools, "the
anchor") reads. Its rules are kept so that the two agree on the same manifest:

- a task's recommendation is its peak CPUs and memory times ``1 + headroom``, each rounded up, on the
  smallest ``omics.c|m|r`` instance that holds both (``smallest_instance``); default headroom 0;
- a task is billed for at least a minute; STATIC run storage in the service's steps (1200 GiB, then
  multiples of 2400), DYNAMIC by the GiB it held on average;
- a GPU task keeps its instance: the manifest cannot say its GPUs were idle.

Costs come from real prices only (a price table, or the AWS Price List API through ``usage.price_list``):
a missing price leaves the cost out and says which. Idle cost is what a task paid for and did not use on
average, measured by the busier of its CPU and memory.

Each task's own ``recommended`` and ``usd`` are that shard sized alone, as the anchor reports them. What is
handed over is one plan: per task name (scatter shards joined, as the anchor names them per engine), one
recommendation that fits every shard (a run) or the chosen percentile of the samples' peaks (many runs: a
plate, a batch, a run group; default 100, the anchor's ``--batch``). The config states that plan, and every
cost outside a task's own (a run's, a sample's, a task name's, the totals) is counted on it. Outliers are
named: a sample whose peak is ``outlier_factor`` times the median of the others'.

Calls are paced under the quotas: ``GetRun`` at the connection's pace (``quotas.py``), ``GetLogEvents`` at
90% of CloudWatch Logs' quota.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_omics import answers, usage
from airflow_provider_omics.api import OmicsApi, describe
from airflow_provider_omics.diagnostics import LOG_GROUP
from airflow_provider_omics.errors import error_code
from airflow_provider_omics.quotas import RateLimiter, logs_quotas

MINIMUM_BILLED_SECONDS = 60
# omics.* instance types: vCPUs by size, GiB of memory per vCPU by family (GPU families are never proposed).
SIZES = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}
FAMILIES = {"c": 2, "m": 4, "r": 8}
STATIC_STORAGE_MINIMUM_GIB, STATIC_STORAGE_STEP_GIB = 1200, 2400
# How each engine names the shards of one task (the anchor's patterns): "call-0-1", "align (3)", "step_2".
SHARD_NAMES = {
    "WDL": re.compile(r"^([^-]+)(-\d+-\d+.*)?$"),
    "NEXTFLOW": re.compile(r"^(.+)(\s\(.+\))$"),
    "CWL": re.compile(r"^(\D+)(_\d+)?$"),
}
TOO_LARGE = "more than the largest omics instance holds"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "DELETED"}


@dataclass(frozen=True)
class Sizing:
    """How recommendations are made: ``headroom`` over the peak (0 to 1, as the anchor's ``--headroom``), the
    ``percentile`` of samples a plate's recommendation fits, and the ``outlier_factor`` that names a sample."""

    headroom: float = 0.0
    percentile: float = 100.0
    outlier_factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.headroom <= 1:
            raise ValueError(f"headroom: a fraction from 0 to 1 (0.1 adds 10%), got {self.headroom!r}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile: above 0 and at most 100, got {self.percentile!r}")
        if not self.outlier_factor > 1:
            raise ValueError(f"outlier_factor: above 1, got {self.outlier_factor!r}")

    def fit(self, cpus: float, memory_gib: float) -> dict[str, Any] | None:
        """The smallest instance for a peak with headroom, as ``{"instanceType", "cpus", "memoryGiB"}``."""
        grown = 1 + self.headroom
        return smallest_instance(math.ceil(cpus * grown), math.ceil(memory_gib * grown))


def smallest_instance(cpus: float, memory_gib: float) -> dict[str, Any] | None:
    """The fewest vCPUs first, then the least memory: None when even ``omics.r.48xlarge`` is too small."""
    for size, count in SIZES.items():
        for family, per_cpu in FAMILIES.items():
            if count >= cpus and count * per_cpu >= memory_gib:
                return {"instanceType": f"omics.{family}.{size}", "cpus": count, "memoryGiB": count * per_cpu}
    return None


def static_storage_gib(needed: float | None) -> int:
    """The STATIC run storage that holds ``needed`` GiB: 1200, or the next multiple of 2400 above it."""
    if not needed or needed <= STATIC_STORAGE_MINIMUM_GIB:
        return STATIC_STORAGE_MINIMUM_GIB
    return math.ceil(needed / STATIC_STORAGE_STEP_GIB) * STATIC_STORAGE_STEP_GIB


def base_name(name: str, engine: str | None) -> str:
    """The task a shard belongs to: ``call_variants-0-1`` (WDL) -> ``call_variants``."""
    found = SHARD_NAMES.get(engine or "")
    matched = found.match(name) if found else None
    return matched.group(1) if matched else name


# ---- reading ----------------------------------------------------------------------------------------
class Reader:
    """The calls an analysis makes, paced: one per worker task, so that many runs share one pace."""

    def __init__(self, api: OmicsApi) -> None:
        self.api = api
        self.logs = api.client_of("logs")
        rates = {op: 1 / api.poll_interval(op) for op in ("GetRun", "GetWorkflow") if api.poll_interval(op)}
        self.pace = RateLimiter({**rates, **logs_quotas()})
        self.engines: dict[tuple[str, ...], str | None] = {}
        self.calls: dict[str, int] = {}

    def _called(self, operation: str) -> None:
        self.pace.wait(operation)
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def run(self, run_id: str) -> dict[str, Any]:
        self._called("GetRun")
        return describe(self.api, "run", id=run_id)

    def engine(self, run: Mapping[str, Any]) -> str | None:
        """The run's workflow language (``GetWorkflow``, once per workflow); None when it cannot be read."""
        key = (run.get("workflowId") or "", run.get("workflowType") or "", run.get("workflowOwnerId") or "")
        if key not in self.engines:
            given = {"id": key[0], "type": key[1], "workflowOwnerId": key[2]}
            params: dict[str, Any] = {name: value for name, value in given.items() if value}
            try:
                self._called("GetWorkflow")
                self.engines[key] = self.api.call("GetWorkflow", **params).get("engine")
            except Exception as error:  # a Ready2Run or shared workflow we may not read: shard names stay whole
                self.api.log.info("Workflow %s not read (%s): task names are taken as they are", key[0], error)
                self.engines[key] = None
        return self.engines[key]

    def manifest(self, run: Mapping[str, Any], wait_seconds: float = 0) -> list[dict[str, Any]]:
        """The manifest's lines, every page; waits up to ``wait_seconds`` for a stream not written yet."""
        stream = f"manifest/run/{run['id']}/{run['uuid']}"
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                return self._read(stream)
            except Exception as error:
                if error_code(error) != "ResourceNotFoundException" or time.monotonic() >= deadline:
                    raise
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))

    def _read(self, stream: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
        lines: list[dict[str, Any]] = []
        while True:
            self._called("GetLogEvents")
            page = self.logs.get_log_events(**request)
            lines += [json.loads(event["message"]) for event in page.get("events", [])]
            token = page.get("nextForwardToken")
            # The run's own line is the manifest's last: no call to learn that the stream ends there.
            if _is_run(lines[-1] if lines else {}) or not token or token == request.get("nextToken"):
                return lines
            request["nextToken"] = token


# ---- one run ----------------------------------------------------------------------------------------
def analyze_run(
    api: OmicsApi,
    run_id: str,
    run: Mapping[str, Any] | None = None,
    sizing: Sizing = Sizing(),
    prices: Mapping[str, float] | None = None,
    reader: Reader | None = None,
    wait_for_manifest: float = 0,
) -> dict[str, Any]:
    """One run's tasks, used against reserved, with recommendations, costs and the run's totals.

    ``prices``: USD per hour by instance type and per GiB-hour of run storage (``usage.price_list``);
    without it the costs are left out. ``wait_for_manifest``: seconds to wait for the manifest's stream.
    """
    reader = reader or Reader(api)
    run = dict(run) if run else reader.run(run_id)
    lines = reader.manifest(run, wait_for_manifest)
    run_line = next((line for line in lines if _is_run(line)), {})
    engine = reader.engine(run)
    started = _moment(run_line.get("startTime")) or _moment(run.get("startTime"))
    tasks = [_task(line, engine, started, sizing, prices) for line in lines if not _is_run(line)]
    tasks.sort(key=lambda t: (t["startSeconds"] is None, t["startSeconds"] or 0, t["name"]))
    told = {**run_line, **{key: value for key, value in run.items() if value}}  # a listing tells less than GetRun
    report: dict[str, Any] = {
        "runId": run_id,
        "name": told.get("name"),
        "status": told.get("status"),
        "workflowId": run.get("workflowId"),
        "engine": engine,
        "outputUri": told.get("outputUri"),
        "runOutputUri": told.get("runOutputUri"),
        "seconds": _number(run_line.get("metrics", {}).get("runningSeconds")) or _seconds_between(run),
        "headroom": sizing.headroom,
        "tasks": tasks,
        "storage": _storage(run_line, sizing, prices),
        "recommendations": plan(_by_name(tasks), Sizing(sizing.headroom)),  # every shard of a task fits
    }
    report["usd"] = _run_cost(tasks, report["recommendations"], report["storage"], prices)
    report["config"] = {lang: config_snippet(report["recommendations"], lang) for lang in ("WDL", "NEXTFLOW")}
    return report


def _task(
    line: Mapping[str, Any],
    engine: str | None,
    run_started: datetime | None,
    sizing: Sizing,
    prices: Mapping[str, float] | None,
) -> dict[str, Any]:
    metrics = line.get("metrics") or {}
    start, stop = _moment(line.get("startTime")), _moment(line.get("stopTime"))
    reserved = {"cpus": line.get("cpus") or 0, "memoryGiB": line.get("memory") or 0, "gpus": line.get("gpus") or 0}
    task: dict[str, Any] = {
        "name": line.get("name"),
        "baseName": base_name(line.get("name") or "", engine),
        "taskId": line.get("arn", "").rsplit("/", 1)[-1],
        "status": line.get("status"),
        "instanceType": line.get("instanceType"),
        "cacheHit": bool(line.get("cacheHit")),
        "startSeconds": round((start - run_started).total_seconds(), 3) if start and run_started else None,
        "seconds": _number(metrics.get("runningSeconds")) or (_span(start, stop)),
        "reserved": reserved,
        "used": None,
        "utilization": None,
        "recommended": None,
        "usd": None,
    }
    cpus, memory = _number(metrics.get("cpusMaximum")), _number(metrics.get("memoryMaximumGiB"))
    if task["cacheHit"] or cpus is None or memory is None:  # nothing ran, or nothing was measured: nothing to size
        return task
    task["used"] = {
        name: _number(metrics.get(name))
        for name in ("cpusMaximum", "cpusAverage", "memoryMaximumGiB", "memoryAverageGiB")
    }
    task["utilization"] = {"cpu": _ratio(cpus, reserved["cpus"]), "memory": _ratio(memory, reserved["memoryGiB"])}
    if reserved["gpus"]:
        task["recommended"] = _kept(task["instanceType"], reserved, "a GPU task keeps its instance")
    else:
        task["recommended"] = sizing.fit(cpus, memory) or _kept(task["instanceType"], reserved, TOO_LARGE)
    task["usd"] = _task_cost(task, prices)
    return task


def _kept(instance_type: str | None, reserved: Mapping[str, Any], why: str) -> dict[str, Any]:
    """A recommendation to keep what was reserved, and why."""
    return {"instanceType": instance_type, "cpus": reserved["cpus"], "memoryGiB": reserved["memoryGiB"], "kept": why}


def _task_cost(task: Mapping[str, Any], prices: Mapping[str, float] | None) -> dict[str, Any] | None:
    if prices is None:
        return None
    now_type, better_type = task["instanceType"], task["recommended"]["instanceType"]
    missing = sorted({t for t in (now_type, better_type) if t not in prices})
    if missing:
        return {"missingPrices": missing}
    hours = _billed_hours(task)
    now, better = prices[now_type] * hours, prices[better_type] * hours
    used = task["used"]
    busy = max(
        _ratio(used["cpusAverage"], task["reserved"]["cpus"]) or 0,
        _ratio(used["memoryAverageGiB"], task["reserved"]["memoryGiB"]) or 0,
    )
    return {
        "now": round(now, 6),
        "recommended": round(better, 6),
        "saving": round(now - better, 6),
        "idle": round(now * (1 - min(busy, 1)), 6),
    }


def _storage(run_line: Mapping[str, Any], sizing: Sizing, prices: Mapping[str, float] | None) -> dict[str, Any]:
    metrics = run_line.get("metrics") or {}
    kind = run_line.get("storageType") or "STATIC"
    maximum, average = _number(metrics.get("storageMaximumGiB")), _number(metrics.get("storageAverageGiB"))
    reserved = static_storage_gib(run_line.get("storageCapacity")) if kind == "STATIC" else maximum
    storage: dict[str, Any] = {
        "type": kind,
        "reservedGiB": reserved,
        "maximumGiB": maximum,
        "averageGiB": average,
        "utilization": _ratio(maximum, reserved),
        "recommendedStaticGiB": static_storage_gib(maximum * (1 + sizing.headroom)) if maximum else None,
    }
    if prices is None:
        return storage
    hours = (_number(metrics.get("runningSeconds")) or 0) / 3600
    charged_price = usage.STORAGE_PRICE if kind == "STATIC" else usage.DYNAMIC_STORAGE_PRICE
    missing = sorted({name for name in (charged_price, usage.STORAGE_PRICE) if name not in prices})
    if missing:
        storage["missingPrices"] = missing
        return storage
    storage["usd"] = round(prices[charged_price] * ((reserved if kind == "STATIC" else average) or 0) * hours, 6)
    if storage["recommendedStaticGiB"]:
        storage["recommendedUsd"] = round(prices[usage.STORAGE_PRICE] * storage["recommendedStaticGiB"] * hours, 6)
    return storage


def _billed_hours(task: Mapping[str, Any]) -> float:
    return max(MINIMUM_BILLED_SECONDS, task["seconds"] or 0) / 3600


def plan_cost(
    tasks: Iterable[Mapping[str, Any]], recommendations: Mapping[str, Mapping[str, Any]], prices: Mapping[str, float]
) -> dict[str, Any]:
    """What measured tasks cost now and on one plan (each task on its name's recommendation), and what they
    paid for and left idle. A task whose price is missing is left out of both sides and named."""
    now = better = idle = 0.0
    missing: set[str] = set()
    for task in tasks:
        cost = task["usd"]
        if not cost:  # a cache hit, or nothing measured: nothing to size
            continue
        recommended = (recommendations.get(task["baseName"]) or {}).get("instanceType") or ""
        if "missingPrices" in cost or recommended not in prices:
            missing.update(cost.get("missingPrices", []) or [recommended or task["baseName"]])
            continue
        now, idle = now + cost["now"], idle + cost["idle"]
        better += prices[recommended] * _billed_hours(task)
    found: dict[str, Any] = {
        "compute": round(now, 6),
        "recommendedCompute": round(better, 6),
        "saving": round(now - better, 6),
        "idle": round(idle, 6),
        "idleShare": round(idle / now, 4) if now else None,
    }
    return {**found, "missingPrices": sorted(missing)} if missing else found


def _run_cost(
    tasks: Sequence[Mapping[str, Any]],
    recommendations: Mapping[str, Mapping[str, Any]],
    storage: Mapping[str, Any],
    prices: Mapping[str, float] | None,
) -> dict[str, Any] | None:
    if prices is None:
        return None
    cost = {**plan_cost(tasks, recommendations, prices), "storage": storage.get("usd")}
    if "missingPrices" in storage:
        cost["missingPrices"] = sorted({*cost.get("missingPrices", []), *storage["missingPrices"]})
    return cost


def _by_name(tasks: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """The measured tasks (shards, samples) of each task of the workflow."""
    named: dict[str, list[Mapping[str, Any]]] = {}
    for task in tasks:
        if task["used"]:
            named.setdefault(task["baseName"], []).append(task)
    return dict(sorted(named.items()))


def plan(named: Mapping[str, Sequence[Mapping[str, Any]]], sizing: Sizing) -> dict[str, dict[str, Any]]:
    """One recommendation per task of the workflow, which the config states and every cost is counted on:
    what fits the chosen percentile of its peaks; a GPU task, or one too large, keeps its largest instance."""
    return {name: _recommend(tasks, sizing) for name, tasks in named.items()}


def _largest(tasks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The task (shard, sample) that reserved the most CPUs, then memory."""
    return max(tasks, key=lambda t: (t["reserved"]["cpus"], t["reserved"]["memoryGiB"]))


def _recommend(tasks: Sequence[Mapping[str, Any]], sizing: Sizing) -> dict[str, Any]:
    largest = _largest(tasks)
    if any(task["reserved"]["gpus"] for task in tasks):
        return _kept(largest["instanceType"], largest["reserved"], "a GPU task keeps its instance")
    cpus = percentile([task["used"]["cpusMaximum"] for task in tasks], sizing.percentile)
    memory = percentile([task["used"]["memoryMaximumGiB"] for task in tasks], sizing.percentile)
    return sizing.fit(cpus, memory) or _kept(largest["instanceType"], largest["reserved"], TOO_LARGE)


# ---- many runs --------------------------------------------------------------------------------------
def runs_of(
    api: OmicsApi, run_ids: Iterable[str] = (), batch_id: str | None = None, run_group_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """The run ids given, then a batch's runs, then a run group's (``ListRuns``), each with what the listing
    told of it. A batch's listings (``ListRunsInBatch``: each run's uuid; ``ListRuns``: its status) tell
    enough to read its manifest without a ``GetRun`` per run, a tenth of that quota's time."""
    runs: dict[str, dict[str, Any]] = {str(run_id): {} for run_id in run_ids}
    if batch_id:
        listed = {run["id"]: run for run in answers.runs(api, batchId=batch_id)}
        for entry in answers.runs_in_batch(api, batch_id):
            if entry.get("runId"):  # a run whose submission failed has none
                known = listed.get(entry["runId"])
                runs.setdefault(entry["runId"], {**known, "uuid": entry.get("runInternalUuid")} if known else {})
    if run_group_id:
        for run in answers.runs(api, runGroupId=run_group_id):
            runs.setdefault(run["id"], {})
    return runs


def analyze_runs(
    api: OmicsApi,
    runs: Sequence[str] | Mapping[str, Mapping[str, Any]],
    sizing: Sizing = Sizing(),
    prices: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Each finished run (``analyze_run``), then the plate: per task name across samples, and per sample.

    ``runs``: run ids, or ``runs_of``'s answer (a run whose status and uuid it knows needs no ``GetRun``).
    """
    known = runs if isinstance(runs, Mapping) else {run_id: {} for run_id in runs}
    reader = Reader(api)
    analysed, skipped = [], []
    for position, (run_id, listed) in enumerate(known.items(), 1):
        run = dict(listed) if listed.get("uuid") and listed.get("status") else reader.run(run_id)
        if run.get("status") not in TERMINAL:
            skipped.append({"runId": run_id, "status": run.get("status"), "why": "the run has not ended"})
        else:
            try:
                analysed.append(analyze_run(api, run_id, run, sizing, prices, reader))
            except Exception as error:  # one run without a manifest does not hide the others
                skipped.append({"runId": run_id, "status": run.get("status"), "why": f"manifest not read: {error}"})
        if position % 10 == 0 or position == len(known):
            api.log.info("Analysed %d of %d runs (calls so far: %s)", position, len(known), reader.calls)
    report = plate_report(analysed, sizing, prices)
    return {**report, "notAnalysed": skipped, "calls": reader.calls}


def plate_report(
    runs: Sequence[Mapping[str, Any]], sizing: Sizing, prices: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """Per task name: the spread of peaks across samples and one recommendation (the plate's plan); outliers;
    per sample. Every cost (per task name, per sample, the totals) is counted on that one plan."""
    shards: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
    for run in runs:
        for task in run["tasks"]:
            if task["used"]:
                shards.setdefault(task["baseName"], []).append((run, task))
    shards = dict(sorted(shards.items()))
    recommendations = plan({name: [task for _, task in entries] for name, entries in shards.items()}, sizing)
    tasks = {name: _task_across(entries, recommendations, prices) for name, entries in shards.items()}
    outliers = [found for name, entries in shards.items() for found in _outliers(name, entries, sizing)]
    samples = [_sample(run, recommendations, prices) for run in runs]
    totals: dict[str, Any] = {"runs": len(runs), "tasks": sum(len(r["tasks"]) for r in runs)}
    if prices is not None:
        costs = [sample["usd"] for sample in samples]
        for key in ("compute", "recommendedCompute", "saving", "idle", "storage"):
            totals[key] = round(sum(c[key] or 0 for c in costs), 6)
        totals["idleShare"] = round(totals["idle"] / totals["compute"], 4) if totals["compute"] else None
        missing = sorted({name for c in costs for name in c.get("missingPrices", [])})
        if missing:
            totals["missingPrices"] = missing
    return {
        "headroom": sizing.headroom,
        "percentile": sizing.percentile,
        "tasks": tasks,
        "outliers": outliers,
        "samples": samples,
        "totals": totals,
        "recommendations": recommendations,
        "config": {lang: config_snippet(recommendations, lang) for lang in ("WDL", "NEXTFLOW")},
    }


def _task_across(
    entries: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    recommendations: Mapping[str, Mapping[str, Any]],
    prices: Mapping[str, float] | None,
) -> dict[str, Any]:
    tasks = [task for _, task in entries]
    reserved = _largest(tasks)
    cpus = [task["used"]["cpusMaximum"] for task in tasks]
    memory = [task["used"]["memoryMaximumGiB"] for task in tasks]
    summary: dict[str, Any] = {
        "count": len(entries),
        "reserved": {"instanceType": reserved["instanceType"], **reserved["reserved"]},
        "cpusMaximum": _spread(cpus),
        "memoryMaximumGiB": _spread(memory),
        "seconds": _spread([task["seconds"] or 0 for task in tasks]),
        "recommended": recommendations[reserved["baseName"]],
    }
    if prices is not None:
        cost = plan_cost(tasks, recommendations, prices)
        if "missingPrices" not in cost:
            summary["usd"] = {
                "now": cost["compute"],
                "recommended": cost["recommendedCompute"],
                "saving": cost["saving"],
            }
    return summary


def _outliers(
    name: str, entries: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], sizing: Sizing
) -> list[dict[str, Any]]:
    """Samples whose peak CPU or memory is ``outlier_factor`` times the median of the other samples'."""
    if len(entries) < 3:  # with two samples, neither is the odd one out
        return []
    found = []
    for resource, field in (("cpu", "cpusMaximum"), ("memory", "memoryMaximumGiB")):
        values = [task["used"][field] for _, task in entries]
        for index, (run, task) in enumerate(entries):
            others = percentile(values[:index] + values[index + 1 :], 50)
            if others > 0 and values[index] >= sizing.outlier_factor * others:
                found.append(
                    {
                        "task": name,
                        "taskId": task["taskId"],
                        "runId": run["runId"],
                        "runName": run["name"],
                        "resource": resource,
                        "used": values[index],
                        "medianOfOthers": round(others, 3),
                        "times": round(values[index] / others, 2),
                    }
                )
    return found


def _sample(
    run: Mapping[str, Any], recommendations: Mapping[str, Mapping[str, Any]], prices: Mapping[str, float] | None
) -> dict[str, Any]:
    """One sample's row of the plate: its cost on the plate's plan and, per task name, its cost now and its
    busiest utilisation."""
    tasks: dict[str, dict[str, Any]] = {}
    for task in run["tasks"]:
        entry = tasks.setdefault(task["baseName"], {"usd": 0.0, "cpu": None, "memory": None, "seconds": 0.0})
        entry["seconds"] = round(entry["seconds"] + (task["seconds"] or 0), 3)
        if task["usd"] and "now" in task["usd"]:
            entry["usd"] = round(entry["usd"] + task["usd"]["now"], 6)
        for resource in ("cpu", "memory"):
            value = (task["utilization"] or {}).get(resource)
            if value is not None:
                entry[resource] = max(entry[resource] or 0, value)
    return {
        "runId": run["runId"],
        "name": run["name"],
        "status": run["status"],
        "engine": run["engine"],
        "outputUri": run["outputUri"],
        "seconds": run["seconds"],
        "usd": _run_cost(run["tasks"], recommendations, run["storage"], prices),
        "tasks": tasks,
    }


def config_snippet(recommendations: Mapping[str, Mapping[str, Any]], language: str) -> str:
    """The recommended resources in the workflow's own language, as the anchor's ``--write-config``."""
    if language == "NEXTFLOW":
        blocks = [
            f"    withName: '{name}' {{\n        cpus = {r['cpus']}\n        memory = {r['memoryGiB']}.GB\n    }}"
            for name, r in recommendations.items()
            if r
        ]
        return "process {\n" + "\n".join(blocks) + "\n}\n"
    if language == "WDL":
        blocks = [
            f'# task {name} ({r["instanceType"]})\nruntime {{\n  cpu: {r["cpus"]}\n  memory: "{r["memoryGiB"]} GiB"\n}}'
            for name, r in recommendations.items()
            if r
        ]
        return "\n\n".join(blocks) + "\n"
    raise ValueError(f"language: WDL or NEXTFLOW, got {language!r}")


# ---- figures ----------------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default): p=100 is the maximum."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _is_run(line: Mapping[str, Any]) -> bool:
    """A manifest line of the run itself (``arn:aws:omics:...:run/1234567``), not of a task."""
    return ":run/" in str(line.get("arn", ""))


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3), "max": max(values)}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ratio(used: Any, reserved: Any) -> float | None:
    used, reserved = _number(used), _number(reserved)
    return round(used / reserved, 4) if used is not None and reserved else None


def _moment(value: Any) -> datetime | None:
    """A manifest's ``2024-01-15T10:00:00.123Z`` or a describe output's datetime, in UTC."""
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _span(start: datetime | None, stop: datetime | None) -> float | None:
    return round((stop - start).total_seconds(), 3) if start and stop else None


def _seconds_between(run: Mapping[str, Any]) -> float | None:
    return _span(_moment(run.get("startTime")), _moment(run.get("stopTime")))

"""Runs and their tasks, logs and outputs; run groups and run caches."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from .. import iam
from . import containers
from .base import (
    ACCOUNT_ID,
    JobFailed,
    Outcome,
    Postpone,
    Record,
    conflict,
    invalid,
    not_found,
    now,
    split_s3_uri,
)
from .definitions import PLACEHOLDER
from .manifest import manifest
from .run_logs import RunLogs, engine_stream, manifest_stream, run_log_line, run_stream, task_stream
from .workflows import WorkflowModel

RUN_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "DELETED"}
RUN_CPUS = 2  # each emulated task takes 2 vCPUs, and a run's tasks run one after the other
# A task that names no container runs in this one (the service would not run it).
NO_IMAGE = ("public.ecr.aws/emulator/task:latest", "sha256:0")


# What the service says of a run that failed with no more specific reason (its "Run failure reasons" page):
# in a task, or in the engine before or after every task.
GENERIC_FAILURE = {
    True: (
        "RUN_TASK_FAILED",
        "The run failed due to a task failure. To debug the task failure, use the GetRunTask API operation "
        "and the Amazon CloudWatch log streams.",
    ),
    False: ("WORKFLOW_RUN_FAILED", "The workflow run failed. Check the CloudWatch Logs engine log stream to debug."),
}


def _flat_parameters(parameters: Any) -> dict[str, str]:
    """Run parameters by their last name part (``wf.sample_name`` -> ``sample_name``), for output names."""
    if not isinstance(parameters, dict):
        return {}
    return {k.split(".")[-1]: str(v) for k, v in parameters.items() if isinstance(v, str | int | float)}


def _check_parameters(workflow_id: str, template: Any, parameters: Any) -> None:
    """A run may give only the parameters its workflow's template declares, and every required one."""
    if not template:
        return
    given = parameters if isinstance(parameters, dict) else {}
    declared = ", ".join(sorted(template))
    unknown = sorted(set(given) - set(template))
    if unknown:
        raise invalid(
            f"parameters: {', '.join(unknown)} not in the parameter template of workflow {workflow_id} ({declared})"
        )
    missing = sorted(name for name, spec in template.items() if not (spec or {}).get("optional") and name not in given)
    if missing:
        raise invalid(f"parameters: required parameter {', '.join(missing)} missing for workflow {workflow_id}")


def _s3_uris(value: Any) -> list[str]:
    """Every ``s3://`` string in a run's parameters, however nested."""
    if isinstance(value, str):
        return [value] if value.startswith("s3://") else []
    if isinstance(value, dict):
        value = list(value.values())
    return [uri for item in value for uri in _s3_uris(item)] if isinstance(value, list) else []


def _object_arn(uri: str) -> str:
    return f"arn:aws:s3:::{uri[len('s3://') :]}"


def _fill(template: str, params: dict[str, str], default: str) -> str:
    """``~{sample_name}.vcf`` -> ``s1.vcf`` from the run's parameters; unknown names become ``default``."""
    return PLACEHOLDER.sub(lambda m: params.get(m.group(1).split(".")[-1], default), template)


def _output_content(name: str, run: Record, task: str) -> bytes:
    if name.endswith(".vcf"):
        sample = _flat_parameters(run.get("parameters")).get("sample_name", run.get("name") or run["id"])
        return (
            "##fileformat=VCFv4.2\n##source=omics-emulator\n##contig=<ID=chr1,length=1000>\n"
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
            f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{sample}\n"
            "chr1\t101\t.\tA\tG\t50\tPASS\tDP=30\tGT\t0/1\n"
            "chr1\t245\t.\tC\tT\t60\tPASS\tDP=28\tGT\t1/1\n"
        ).encode()
    return f"output {name} of task {task} in run {run['id']}\n".encode()


class RunModel(WorkflowModel):
    def reset(self) -> None:
        super().reset()
        self.run_logs = RunLogs(self.region)
        # Call caching: (cacheId, workflow digest, task name, parameters) -> the cached task's outputs URI
        self.cache_entries: dict[tuple[str, str, str, str], str] = {}

    def announce(self, record: Record, at: float) -> None:
        """Besides the event, a run's status changes and its tasks' go to the run log."""
        super().announce(record, at)
        line = run_log_line(record)
        if line is None:
            return
        if record["_kind"] == "run_task":
            self.run_logs.write(run_stream(record["runId"]), [line], at)
        elif record["status"] in RUN_TERMINAL and self._going(record):
            record["_run_log_ending"] = (line, at)  # written once its tasks have stopped (``on_forced_end``)
        else:
            self.run_logs.write(run_stream(record["id"]), [line], at)

    def _going(self, run: Record) -> bool:
        return any(task["status"] not in RUN_TERMINAL for task in self.records("run_task", runId=run["id"]))

    # ---- runs ----------------------------------------------------------------------------------
    def start_run(self, p: dict[str, Any]) -> Record:
        return self.once("StartRun", p["requestId"], lambda: self._new_run(p))

    def _new_run(self, p: dict[str, Any], batch_id: str | None = None) -> Record:
        settings = dict(p)
        if p.get("runId"):  # a re-run: the original's settings, overridden by what is given
            original = self.get("run", p["runId"], "Run")
            settings = {**{k: original.get(k) for k in _RERUN_FIELDS}, **p}
        if not settings.get("workflowId"):
            raise invalid("workflowId is required unless runId names a run to repeat")
        if not settings.get("outputUri"):
            raise invalid("outputUri is required")
        split_s3_uri(settings["outputUri"])  # the service writes run outputs to S3 only
        if settings.get("workflowVersionName"):
            definition = self.get_workflow_version(
                {"workflowId": settings["workflowId"], "versionName": settings["workflowVersionName"]}
            )
        else:
            definition = self.get_workflow({"id": settings["workflowId"], "type": settings.get("workflowType")})
        if definition["status"] != "ACTIVE":
            raise invalid(f"Workflow {settings['workflowId']} is {definition['status']}, not ACTIVE")
        _check_parameters(settings["workflowId"], definition.get("parameterTemplate"), settings.get("parameters"))
        if settings.get("runGroupId"):
            self.get_run_group({"id": settings["runGroupId"]})
        if settings.get("cacheId"):
            self.get_run_cache({"id": settings["cacheId"]})
        ident = self.numeric_id(7)
        run = {
            **{k: settings.get(k) for k in _RERUN_FIELDS},
            "id": ident,
            "arn": self.arn(f"run/{ident}"),
            "uuid": self.uuid(),
            "runId": p.get("runId"),
            "batchId": batch_id,
            "status": "PENDING",
            "statusMessage": "",
            "workflowType": settings.get("workflowType", "PRIVATE"),
            "workflowUuid": definition["uuid"],
            "workflowName": self.get("workflow", settings["workflowId"]).get("name"),
            "digest": definition["digest"],
            "engineVersion": "1.0",
            "startedBy": f"arn:aws:iam::{ACCOUNT_ID}:user/emulator",
            "creationTime": now(),
            "startTime": None,
            "stopTime": None,
            "logLocation": {  # ARNs, as the API reference documents them
                "engineLogStream": self.run_logs.stream_arn(engine_stream(ident)),
                "runLogStream": self.run_logs.stream_arn(run_stream(ident)),
            },
            "runOutputUri": f"{settings['outputUri'].rstrip('/')}/{ident}",
            "tags": settings.get("tags") or {},
            "_tasks": definition["_tasks"],
            "_registry_map": definition.get("containerRegistryMap"),
        }
        # The service's defaults: the workflow's storage, else STATIC of 1200 GiB (StartRun's reference).
        run["storageType"] = run.get("storageType") or definition.get("storageType") or "STATIC"
        if run["storageType"] == "STATIC":
            run["storageCapacity"] = run.get("storageCapacity") or definition.get("storageCapacity") or 1200
        self.add("run", run)
        self.schedule(
            "run",
            run,
            [("STARTING", self._admit), ("RUNNING", self._run_started), ("COMPLETED", self._run_completed)],
        )
        return run

    def _stage_inputs(self, run: Record) -> None:
        """Once provisioned (STARTING), the service assumes the run's role and copies every S3 input with it
        before the first task: a role it cannot assume, or an input that is not there or that the role may not
        read, fails the run."""
        if iam.assume_problem(run.get("roleArn")):
            raise JobFailed(
                "ASSUME_ROLE_FAILED",
                "HealthOmics doesn't have permission to assume the role. Specify the HealthOmics principal in the "
                "trust relationship for the role.",
            )
        digests = {}
        for uri in _s3_uris(run.get("parameters")):
            if uri.endswith("/"):
                continue
            content = self.s3.read(uri)
            if content is None or not iam.role_may(run.get("roleArn"), "s3:GetObject", _object_arn(uri)):
                raise JobFailed(
                    "INPUT_URI_NOT_FOUND",
                    f"The provided URI doesn't exist: {uri}. Check that the URI path exists and confirm the "
                    "role can access the object.",
                )
            digests[uri] = f"etag:{hashlib.md5(content).hexdigest()}"  # what each input was, as the service records
        run["resourceDigests"] = digests

    def _run_group(self, run: Record) -> Record | None:
        return self.table("run_group").get(run.get("runGroupId") or "")

    def _admit(self, run: Record) -> None:
        """A run starts (STARTING) once its run group has room: maxRuns and maxCpus hold runs in PENDING until
        runs of the group end."""
        group = self._run_group(run)
        if group is None:
            return
        started = [
            r
            for r in self.records("run", runGroupId=group["id"])
            if r["status"] in ("STARTING", "RUNNING", "STOPPING") and r["id"] != run["id"]
        ]
        cpus = RUN_CPUS * (len(started) + 1)
        if (group.get("maxRuns") and len(started) >= group["maxRuns"]) or (
            group.get("maxCpus") and cpus > group["maxCpus"]
        ):
            raise Postpone()

    def _pull_images(self, run: Record) -> dict[str, tuple[str, str]]:
        """Each task's container (image, digest), pulled from private ECR as the service does; one it cannot
        pull fails the run with the service's reason."""
        params = _flat_parameters(run.get("parameters"))
        pulled = {}
        for task in run["_tasks"]:
            if not task.get("image"):
                continue  # the emulator runs a task that names no container (the service would not)
            image = _fill(task["image"], params, "")
            reason, found = containers.pull(image, run.get("_registry_map"), ACCOUNT_ID, self.region)
            if reason == "CANNOT_START_CONTAINER_ERROR":
                raise JobFailed(
                    reason,
                    f"Unable to start workflow task: {task['name']}, id: {self.numeric_id(7)} container using image: "
                    f"{image}. Make sure that the image is valid and try again.",
                )
            if reason is not None:
                raise JobFailed(reason, found)
            pulled[task["name"]] = (image, found)
        return pulled

    def _run_started(self, run: Record) -> None:
        self._stage_inputs(run)
        images = self._pull_images(run)
        run["startTime"] = self.step_moment()
        self._limit_duration(run)
        engine = [f"Run {run['id']} started: workflow {run.get('workflowName') or run['workflowId']}"]
        for task in run["_tasks"]:
            ident = self.numeric_id(7)
            cached = self.cache_entries.get(self._cache_key(run, task["name"])) if run.get("cacheId") else None
            if cached:
                engine.append(f"Task {task['name']} ({ident}) cache hit: {cached}")
            else:
                engine.append(
                    f"Task {task['name']} ({ident}) started on {task.get('instanceType', 'omics.c.large')}: "
                    f"{task.get('cpus', 2)} vCPUs, {task.get('memory', 4)} GiB"
                )
                self.run_logs.write(task_stream(run["id"], ident), [f"Task {task['name']} started"])
            self.add(
                "run_task",
                {
                    "taskId": ident,
                    "runId": run["id"],
                    "name": task["name"],
                    "status": "COMPLETED" if cached else "RUNNING",
                    "statusMessage": "",
                    "cpus": task.get("cpus", 2),
                    "memory": task.get("memory", 4),
                    "gpus": 0,
                    "instanceType": task.get("instanceType", "omics.c.large"),
                    "cacheHit": bool(cached),
                    "cacheS3Uri": cached,
                    "creationTime": run["startTime"],
                    "startTime": run["startTime"],
                    "stopTime": run["startTime"] if cached else None,
                    "logStream": self.run_logs.stream_arn(task_stream(run["id"], ident)),
                    "uuid": self.uuid(),
                    "imageDetails": dict(
                        zip(("image", "imageDigest"), images.get(task["name"], NO_IMAGE), strict=True)
                    ),
                    "_outputs": task["outputs"],
                },
                key="taskId",
            )
        self.run_logs.write(engine_stream(run["id"]), engine)

    def _run_completed(self, run: Record) -> None:
        bucket = split_s3_uri(run["runOutputUri"])[0]
        if not self.s3.bucket_exists(bucket) or not iam.role_may(
            run.get("roleArn"), "s3:PutObject", _object_arn(f"{run['runOutputUri']}/out")
        ):
            raise JobFailed(
                "EXPORT_FAILED",
                "The export failed. Check that the output bucket exists and the run role has write permission to "
                "the bucket.",
            )
        engine = []
        tasks = self.records("run_task", runId=run["id"])
        computed = [task for task in tasks if not task["cacheHit"]]
        # Tasks ran one after the other while the run was RUNNING: each gets its share of that time.
        began, ended = run["startTime"], self.step_moment()
        share = (ended - began) / max(len(computed), 1)
        for index, task in enumerate(computed):
            task["startTime"] = began + index * share
        for task in tasks:
            engine.append(self._complete_task(run, task))
            if not task["cacheHit"]:
                task["stopTime"] = task["startTime"] + share
        self._cache_completed_tasks(run)
        base = run["runOutputUri"]
        self.s3.write(
            f"{base}/logs/run_manifest.json", json.dumps({"runId": run["id"], "status": "COMPLETED"}).encode()
        )
        self.run_logs.write(engine_stream(run["id"]), [*engine, f"Run {run['id']} completed"])
        self._write_manifest({**run, "status": "COMPLETED"})

    def _write_manifest(self, run: Record) -> None:
        """The run manifest (``manifest.py``) as the run ends (``run``: as it is then): each task, then the run."""
        workflow = self.table("workflow").get(run["workflowId"]) or {}
        tasks = self.records("run_task", runId=run["id"])
        workflow = {**workflow, "arn": workflow.get("arn") or self.arn(f"workflow/{run['workflowId']}")}
        ended = {**run, "stopTime": run.get("stopTime") or self.step_moment()}
        lines = manifest(self.region, ended, tasks, workflow, self.usage_profiles)
        self.run_logs.write(manifest_stream(run["id"], run["uuid"]), lines)

    def _limit_duration(self, run: Record) -> None:
        """A run group's maxDuration (minutes): a run still going then fails with RUN_TIMED_OUT."""
        group = self._run_group(run)
        limit = group.get("maxDuration") if group else None
        end = next((s.due for s in self.steps if s.kind == "run" and s.ident == run["id"] and s.final), None)
        if not limit or end is None or end - time.time() <= limit * 60:
            return

        def timed_out(record: Record) -> None:
            raise JobFailed("RUN_TIMED_OUT", f"Run timed out after {limit} minutes")

        self.cancel_steps("run", run["id"])
        self.schedule("run", run, [("FAILED", timed_out)], start=time.time() + limit * 60 - self.step_seconds)

    def _complete_task(self, run: Record, task: Record) -> str:
        """A task ends well: its declared outputs are written under the run's output URI."""
        if task["status"] == "COMPLETED":  # a cache hit
            return f"Task {task['name']} ({task['taskId']}) completed from the cache"
        self.set_status(task, "COMPLETED", final=True, at=self.step_time)
        self.run_logs.write(task_stream(run["id"], task["taskId"]), [f"Task {task['name']} completed: exit code 0"])
        params = _flat_parameters(run.get("parameters"))
        names = [_fill(output, params, default=task["name"]) for output in task["_outputs"]]
        for name in names or [f"{task['name']}.out"]:
            self.s3.write(
                f"{run['runOutputUri']}/out/{task['name']}/{name.split('/')[-1]}",
                _output_content(name, run, task["name"]),
            )
        return f"Task {task['name']} ({task['taskId']}) completed"

    def _cache_key(self, run: Record, task_name: str) -> tuple[str, str, str, str]:
        return (run["cacheId"], run["digest"], task_name, json.dumps(run.get("parameters"), sort_keys=True))

    def _cache_completed_tasks(self, run: Record) -> None:
        """Call caching: CACHE_ALWAYS keeps every run's completed tasks, CACHE_ON_FAILURE a failed run's."""
        if not run.get("cacheId"):
            return
        cache = self.get_run_cache({"id": run["cacheId"]})
        if (run.get("cacheBehavior") or cache["cacheBehavior"]) != "CACHE_ALWAYS" and run["status"] != "FAILED":
            return
        if run.get("failureReason") in ("FILE_SYSTEM_OUT_OF_SPACE", "RUN_TIMED_OUT"):  # the service keeps none
            return
        location = cache["cacheS3Uri"].rstrip("/")
        for task in self.records("run_task", runId=run["id"]):
            if task["status"] == "COMPLETED" and not task["cacheHit"]:
                self.cache_entries[self._cache_key(run, task["name"])] = f"{location}/{run['uuid']}/{task['name']}"

    def on_forced_end(self, kind: str, record: Record, rule: Outcome | None = None) -> None:
        """A run fails in one task (the rule's, or the first running): tasks run in definition order, so the
        ones before it completed; the others stop."""
        super().on_forced_end(kind, record, rule)
        if kind != "run" or record["status"] not in RUN_TERMINAL:
            return
        tasks = self.records("run_task", runId=record["id"])
        running = [t for t in tasks if t["status"] not in RUN_TERMINAL]
        failing = None
        if record["status"] == "FAILED" and rule and rule.task and rule.task not in {t["name"] for t in tasks}:
            # Never fail another task in its place: the run fails in its engine, and says why.
            names = ", ".join(dict.fromkeys(t["name"] for t in tasks)) or "none"
            # The reason stays the rule's, else the generic one below.
            record["statusMessage"] = (
                f"emulator outcome names task {rule.task!r}, which this run does not have (its tasks: {names})"
            )
        elif record["status"] == "FAILED" and running:
            failing = next((t for t in running if rule and t["name"] == rule.task), running[0])
        if record["status"] == "FAILED" and not record.get("failureReason"):  # the service always says why
            reason, message = GENERIC_FAILURE[failing is not None]
            record["failureReason"] = reason
            record["statusMessage"] = record.get("statusMessage") or message
        reason = ": ".join(dict.fromkeys(str(record[k]) for k in ("failureReason", "statusMessage") if record.get(k)))
        run = self.table("run").get(record["id"], record)  # ``record`` may be a copy (a cancellation's)
        engine = []
        before_failing = failing is not None
        for task in running:
            if task is failing:
                before_failing = False
                message, why = record.get("statusMessage") or "", record.get("failureReason") or ""
                self.set_status(task, "FAILED", message, why, final=True, at=self.step_time)
                lines = (rule.log_lines if rule and rule.log_lines else None) or [reason or "task failed"]
                stream = task_stream(record["id"], task["taskId"])
                self.run_logs.write(stream, [*lines, f"Task {task['name']} failed: exit code 1"])
                engine.append(f"Task {task['name']} ({task['taskId']}) failed: {reason or 'exit code 1'}")
            elif before_failing:
                engine.append(self._complete_task(record, task))
            else:
                self.set_status(task, "CANCELLED", final=True, at=self.step_time)
                engine.append(f"Task {task['name']} ({task['taskId']}) cancelled")
        if record["status"] == "FAILED":
            self._cache_completed_tasks(run)
        ending = f"Run {record['id']} {record['status'].lower()}" + (f": {reason}" if reason else "")
        self.run_logs.write(engine_stream(record["id"]), [*engine, ending])
        if "_run_log_ending" in record:  # after its tasks' lines, which were stamped up to now
            line, at = record.pop("_run_log_ending")
            self.run_logs.write(run_stream(record["id"]), [line], max(at, time.time()))
        self._write_manifest({**run, **record})  # ``record`` may be the ending copy

    def get_run(self, p: dict[str, Any]) -> Record:
        return self.get("run", p["id"], "Run")

    def list_runs(self, p: dict[str, Any]) -> Record:
        runs = self.records("run", name=p.get("name"), runGroupId=p.get("runGroupId"), batchId=p.get("batchId"))
        # DELETED runs are listed only when asked for by status
        if p.get("status") == "DELETED":
            runs = [r for r in self.table("run").values() if r["status"] == "DELETED"]
        return {"items": [r for r in runs if not p.get("status") or r["status"] == p["status"]]}

    def cancel_run(self, p: dict[str, Any]) -> Record:
        self._stop(self.get_run(p))
        return {}

    def _stop(self, run: Record) -> None:
        if run["status"] in RUN_TERMINAL or run["status"] == "STOPPING":
            raise conflict(f"Run {run['id']} is {run['status']} and cannot be cancelled")
        self.cancel_steps("run", run["id"])
        self.set_status(run, "STOPPING")

        def cancelled(record: Record) -> None:
            self.on_forced_end("run", {**record, "status": "CANCELLED"})

        self.schedule("run", run, [("CANCELLED", cancelled)])

    def delete_run(self, p: dict[str, Any]) -> Record:
        run = self.get_run(p)
        if run["status"] not in RUN_TERMINAL:
            raise conflict(f"Run {run['id']} is {run['status']}; cancel it before deleting")
        self.set_status(run, "DELETED")
        return {}

    def get_run_task(self, p: dict[str, Any]) -> Record:
        task = self.get("run_task", p["taskId"], "Task")
        if task["runId"] != p["id"]:
            raise not_found("Task", p["taskId"])
        return task

    def list_run_tasks(self, p: dict[str, Any]) -> Record:
        self.get_run(p)
        return {"items": self.records("run_task", runId=p["id"], status=p.get("status"))}

    # ---- run groups and caches ------------------------------------------------------------------
    def create_run_group(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id(7)
            fields = ("name", "maxCpus", "maxRuns", "maxDuration", "maxGpus")
            group = {
                "id": ident,
                "arn": self.arn(f"runGroup/{ident}"),
                "creationTime": now(),
                "tags": p.get("tags") or {},
            }
            return self.add("run_group", {**group, **{k: p.get(k) for k in fields}})

        return self.once("CreateRunGroup", p["requestId"], create)

    def get_run_group(self, p: dict[str, Any]) -> Record:
        return self.get("run_group", p["id"], "Run group")

    def list_run_groups(self, p: dict[str, Any]) -> Record:
        return {"items": self.records("run_group", name=p.get("name"))}

    def update_run_group(self, p: dict[str, Any]) -> Record:
        self.get_run_group(p).update({k: v for k, v in p.items() if k != "id"})
        return {}

    def delete_run_group(self, p: dict[str, Any]) -> Record:
        self.delete("run_group", p["id"], "Run group")
        return {}

    def create_run_cache(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id(7)
            cache = {
                "id": ident,
                "arn": self.arn(f"runCache/{ident}"),
                "status": "ACTIVE",
                "cacheBehavior": p.get("cacheBehavior", "CACHE_ON_FAILURE"),
                "cacheS3Uri": p["cacheS3Location"],
                "cacheBucketOwnerId": p.get("cacheBucketOwnerId"),
                "name": p.get("name"),
                "description": p.get("description"),
                "creationTime": now(),
                "tags": p.get("tags") or {},
            }
            return self.add("run_cache", cache)

        return self.once("CreateRunCache", p["requestId"], create)

    def get_run_cache(self, p: dict[str, Any]) -> Record:
        return self.get("run_cache", p["id"], "Run cache")

    def list_run_caches(self, p: dict[str, Any]) -> Record:
        return {"items": self.records("run_cache")}

    def update_run_cache(self, p: dict[str, Any]) -> Record:
        self.get_run_cache(p).update({k: v for k, v in p.items() if k != "id"})
        return {}

    def delete_run_cache(self, p: dict[str, Any]) -> Record:
        self.set_status(self.get_run_cache(p), "DELETED")
        return {}


_RERUN_FIELDS = (
    "workflowId",
    "workflowType",
    "roleArn",
    "name",
    "cacheId",
    "cacheBehavior",
    "runGroupId",
    "priority",
    "parameters",
    "storageCapacity",
    "outputUri",
    "logLevel",
    "retentionMode",
    "storageType",
    "workflowOwnerId",
    "workflowVersionName",
    "networkingMode",
    "scratchStorageMode",
    "sessionPolicy",
    "engineSettings",
)

"""Run batches: many runs of one workflow started and followed together.

The service submits a batch's runs "gradually and asynchronously at a rate governed by your StartRun throughput
quota" (``StartRunBatch``'s API reference): the emulator submits them at its StartRun quota (raised by a quota
override), all at once when its quotas are off.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from .base import (
    Postpone,
    Record,
    conflict,
    invalid,
    now,
)
from .runs import RUN_TERMINAL, RunModel


class BatchModel(RunModel):
    def reset(self) -> None:
        super().reset()
        self.watchers.append(self._refresh_batches)

    # ---- run batches ---------------------------------------------------------------------------
    def start_run_batch(self, p: dict[str, Any]) -> Record:
        return self.once("StartRunBatch", p["requestId"], lambda: self._new_batch(p))

    def _new_batch(self, p: dict[str, Any]) -> Record:
        settings = p["batchRunSettings"]
        inline = settings.get("inlineSettings")
        if inline is None and settings.get("s3UriSettings"):
            data = self.s3.read(settings["s3UriSettings"])
            if data is None:
                raise invalid(f"s3UriSettings {settings['s3UriSettings']} could not be read: NoSuchKey")
            inline = json.loads(data)
        if not inline:
            raise invalid("batchRunSettings needs inlineSettings or s3UriSettings")
        ident = self.numeric_id(7)
        batch = {
            "id": ident,
            "arn": self.arn(f"runBatch/{ident}"),
            "uuid": self.uuid(),
            "name": p.get("batchName"),
            "status": "CREATING",
            "tags": p.get("tags") or {},
            "totalRuns": len(inline),
            "defaultRunSetting": p["defaultRunSetting"],
            "submissionSummary": {
                "successfulStartSubmissionCount": 0,
                "failedStartSubmissionCount": 0,
                "pendingStartSubmissionCount": len(inline),
            },
            "runSummary": {},
            "creationTime": now(),
            "submittedTime": None,
            "processedTime": None,
            "failedTime": None,
            "_settings": inline,
            "_runs": [],
        }
        self.add("run_batch", batch)
        self.schedule(
            "run_batch", batch, ["PENDING", ("SUBMITTING", self._begin_submission), ("INPROGRESS", self._submit_due)]
        )
        return batch

    def _begin_submission(self, batch: Record) -> None:
        batch["_submitting_since"] = time.time()
        self._submit_due(batch, finish=False)

    def _submit_due(self, batch: Record, finish: bool = True) -> None:
        """The runs whose turn has come at the StartRun rate; the batch is INPROGRESS once all are submitted."""
        settings = batch["_settings"]
        due, rate = len(settings), self.submission_rate()
        if rate is not None:
            due = min(due, 1 + math.floor((time.time() - batch["_submitting_since"]) * rate))
        self._submit(batch, settings[len(batch["_runs"]) : due])
        if len(batch["_runs"]) < len(settings) and finish:
            raise Postpone()
        batch["submittedTime"] = batch["submittedTime"] or now()

    def _submit(self, batch: Record, settings: list[dict[str, Any]]) -> None:
        default = batch["defaultRunSetting"]
        summary = batch["submissionSummary"]
        for setting in settings:
            run_p = {**default, "tags": default.get("runTags"), **setting}
            run_p["tags"] = {**(default.get("runTags") or {}), **(setting.get("runTags") or {})}
            entry = {"runSettingId": setting["runSettingId"]}
            try:
                run = self._new_run(run_p, batch_id=batch["id"])
                entry.update(
                    runId=run["id"],
                    runArn=run["arn"],
                    runInternalUuid=run["uuid"],
                    submissionStatus="SUCCESS",
                )
                summary["successfulStartSubmissionCount"] += 1
            except Exception as exc:
                entry.update(
                    submissionStatus="FAILED",
                    submissionFailureReason="ValidationException",
                    submissionFailureMessage=str(exc),
                )
                summary["failedStartSubmissionCount"] += 1
            summary["pendingStartSubmissionCount"] -= 1
            batch["_runs"].append(entry)

    def _refresh_batches(self) -> None:
        """A batch's run summary and its end follow from its runs."""
        for batch in self.table("run_batch").values():
            runs = [self.table("run").get(e["runId"]) for e in batch["_runs"] if e.get("runId")]
            counts: dict[str, int] = {}
            for run in runs:
                if run is not None:
                    name = f"{run['status'].lower()}RunCount"
                    counts[name] = counts.get(name, 0) + 1
            batch["runSummary"] = counts
            all_done = all(r is None or r["status"] in RUN_TERMINAL for r in runs)
            if batch["status"] == "INPROGRESS" and all_done:
                if runs:
                    batch.update(status="PROCESSED", processedTime=now())
                else:
                    batch.update(
                        status="FAILED",
                        failedTime=now(),
                        failureReason="No run of the batch could be started",
                    )
            elif batch["status"] == "STOPPING" and all_done:
                batch["status"] = "CANCELLED"
            elif batch["status"] == "RUNS_DELETING":
                batch["status"] = "RUNS_DELETED"

    def get_batch(self, p: dict[str, Any]) -> Record:
        return self.get("run_batch", p["batchId"], "Run batch")

    def list_batch(self, p: dict[str, Any]) -> Record:
        return {"items": self.records("run_batch", status=p.get("status"), name=p.get("name"))}

    def list_runs_in_batch(self, p: dict[str, Any]) -> Record:
        entries = self.get_batch(p)["_runs"]
        wanted = {k: p[k] for k in ("submissionStatus", "runSettingId", "runId") if p.get(k)}
        return {"runs": [e for e in entries if all(e.get(k) == v for k, v in wanted.items())]}

    def cancel_run_batch(self, p: dict[str, Any]) -> Record:
        batch = self.get_batch(p)
        if batch["status"] not in ("PENDING", "SUBMITTING", "INPROGRESS", "CREATING"):
            raise conflict(f"Run batch {batch['id']} is {batch['status']} and cannot be cancelled")
        self.cancel_steps("run_batch", batch["id"])
        summary = batch["submissionSummary"]
        for entry in batch["_runs"]:
            run = self.table("run").get(entry.get("runId") or "")
            if run is not None and run["status"] not in RUN_TERMINAL | {"STOPPING"}:
                self._stop(run)
                entry["submissionStatus"] = "CANCEL_SUCCESS"
                summary["successfulCancelSubmissionCount"] = summary.get("successfulCancelSubmissionCount", 0) + 1
        batch["status"] = "STOPPING"
        return {}

    def delete_run_batch(self, p: dict[str, Any]) -> Record:
        batch = self.get_batch(p)
        if batch["status"] not in ("PROCESSED", "CANCELLED", "FAILED"):
            raise conflict(f"Run batch {batch['id']} is {batch['status']}; its runs can be deleted once it ends")
        for entry in batch["_runs"]:
            run = self.table("run").get(entry.get("runId") or "")
            if run is not None and run["status"] in RUN_TERMINAL:
                self.set_status(run, "DELETED")
                entry["submissionStatus"] = "DELETE_SUCCESS"
        batch["status"] = "RUNS_DELETING"
        return {}

    def delete_batch(self, p: dict[str, Any]) -> Record:
        batch = self.get_batch(p)
        if batch["status"] not in ("PROCESSED", "CANCELLED", "FAILED", "RUNS_DELETED"):
            raise conflict(f"Run batch {batch['id']} is {batch['status']} and cannot be deleted yet")
        self.delete("run_batch", batch["id"])
        return {}

"""What runs write to CloudWatch Logs, as the service writes it: moto's Logs, served on the same port.

The service writes each run's run log to ``/aws/omics/WorkflowLog``, stream ``run/<id>``: the run's status
changes and when each task starts, runs and stops (user guide, "Monitoring HealthOmics with CloudWatch
Logs"; the wording of its lines is the emulator's own). Its engine log goes to stream ``run/<id>/engine``,
each task's output to ``run/<id>/task/<taskId>`` (``GetRunTask`` gives it as the stream's ARN, ``logStream``:
``arn:aws:logs:<region>:<account>:log-group:/aws/omics/WorkflowLog:log-stream:run/<id>/task/<taskId>``), and when the
run ends its manifest to ``manifest/run/<id>/<uuid>``: one JSON line per task, then one for the run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .. import moto_adapter
from .base import ACCOUNT_ID

LOG_GROUP = "/aws/omics/WorkflowLog"


def run_stream(run_id: str) -> str:
    return f"run/{run_id}"


def run_log_line(record: dict[str, Any]) -> str | None:
    """The run log's line for a run or a task that entered its status; None for anything else."""
    why = ": ".join(str(record[k]) for k in ("failureReason", "statusMessage") if record.get(k))
    if record.get("_kind") == "run":
        return f"Run {record['id']} is {record['status']}" + (f" ({why})" if why else "")
    if record.get("_kind") == "run_task":
        line = f"Task {record['name']} ({record['taskId']}) is {record['status']}"
        return line + (f" on {record['instanceType']}" if record["status"] == "RUNNING" else "")
    return None


def engine_stream(run_id: str) -> str:
    return f"run/{run_id}/engine"


def task_stream(run_id: str, task_id: str) -> str:
    return f"run/{run_id}/task/{task_id}"


def manifest_stream(run_id: str, uuid: str) -> str:
    return f"manifest/run/{run_id}/{uuid}"


class RunLogs:
    def __init__(self, region: str) -> None:
        self.region = region

    def stream_arn(self, stream: str) -> str:
        return f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{LOG_GROUP}:log-stream:{stream}"

    def _backend(self) -> Any:
        return moto_adapter.logs_backend(ACCOUNT_ID, self.region)

    def write(self, stream: str, lines: Iterable[str], at: float | None = None) -> None:
        backend = self._backend()
        if LOG_GROUP not in backend.groups:
            backend.create_log_group(LOG_GROUP, {})
        if stream not in backend.groups[LOG_GROUP].streams:
            backend.create_log_stream(LOG_GROUP, stream)
        stamp = int((at or time.time()) * 1000)
        events = [{"timestamp": stamp, "message": line} for line in lines]
        if events:
            backend.put_log_events(LOG_GROUP, stream, events)

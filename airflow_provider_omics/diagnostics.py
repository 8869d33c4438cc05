"""Why a run or a batch failed, said in the task: failed tasks and runs, the last lines of their logs.

Built where the task runs, once the wait has ended (never in the triggerer, whose loop serves every
other wait). A failed run: ``ListRunTasks`` with status FAILED, each task's reason (``GetRunTask``),
the tail of each failed task's CloudWatch log and of the engine log (``/aws/omics/WorkflowLog``), of the
run log too when no task failed, and a console link to each stream. A batch with failed or cancelled
runs: each of them by its run setting id, run id, status and reason (``batch_runs``, also the batch
operator's XCom). A missing permission or an absent stream shrinks its part to a one-line note: the
report never fails the task a second time.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from airflow_provider_omics import answers
from airflow_provider_omics.api import OmicsApi
from airflow_provider_omics.errors import OmicsJobFailed, error_code
from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.polling import DEFAULT_LOG_LINES, WaitSettings

if TYPE_CHECKING:
    from mypy_boto3_omics.type_defs import GetRunTaskResponseTypeDef

LOG_GROUP = "/aws/omics/WorkflowLog"


def stream_name(log_stream: str) -> str:
    """A log stream's name: ``GetRunTask`` gives the stream's ARN (``arn:aws:logs:...:log-group:/aws/omics/
    WorkflowLog:log-stream:run/1234567/task/7654321``), CloudWatch Logs calls and console links take the name."""
    return log_stream.rsplit(":log-stream:", 1)[-1]


@contextlib.contextmanager
def reported(api: OmicsApi, settings: WaitSettings) -> Iterator[None]:
    """Around a wait: a run that ends FAILED raises with the report in its message (and so in the task log)."""
    try:
        yield
    except OmicsJobFailed as failed:
        if failed.kind.name == "run" and failed.status == "FAILED":
            report = failure_report(api, failed.ids["id"], failed.described, settings.include_logs, settings.log_lines)
        elif failed.kind.name == "run_batch":
            report = batch_report(api, failed.ids["batchId"])
        else:
            raise
        raise failed.with_report(report) from None


def failure_report(
    api: OmicsApi,
    run_id: str,
    run: Mapping[str, Any],
    include_logs: bool = True,
    log_lines: int = DEFAULT_LOG_LINES,
) -> str:
    try:
        failed = list(answers.run_tasks(api, run_id, status="FAILED"))
    except Exception as error:
        return f"(The run's failed tasks could not be listed: {_why(error)})"
    logs = api.client_of("logs") if include_logs else None
    region = api.conn_region_name or "us-east-1"
    lines = [f"{len(failed)} failed task(s):" if failed else "No task failed: the run failed in its engine."]
    for item in failed:
        try:
            task = answers.run_task(api, run_id, item["taskId"])
        except Exception as error:
            task = cast("GetRunTaskResponseTypeDef", {**item, "statusMessage": f"(not described: {_why(error)})"})
        why = JOB_KINDS["run_task"].message_of(task) or "no message"
        lines.append(f"- task {task.get('name')} ({task['taskId']}) {task.get('status')}: {why}")
        stream = stream_name(task.get("logStream") or f"run/{run_id}/task/{task['taskId']}")
        if logs is not None:
            lines += _tail(logs, stream, log_lines)
        lines.append(f"  log: {console_link(region, stream)}")
    # GetRun names the streams by ARN (the API reference); a name is read as well.
    location = run.get("logLocation") or {}
    streams = [("Engine log", location.get("engineLogStream") or f"run/{run_id}/engine")]
    if not failed:  # what the run reported outside any task (the user guide's run log)
        streams.insert(0, ("Run log", location.get("runLogStream") or f"run/{run_id}"))
    for title, stream in streams:
        name = stream_name(stream)
        lines.append(f"{title}:")
        if logs is not None:
            lines += _tail(logs, name, log_lines)
        lines.append(f"  log: {console_link(region, name)}")
    return "\n".join(lines)


# A batch's run that did not complete and says why.
BATCH_RUN_FAILURES = ("FAILED", "CANCELLED", "SUBMISSION_FAILED")


def batch_runs(api: OmicsApi, batch_id: str) -> dict[str, dict[str, Any]]:
    """Every run of a batch by its ``runSettingId``: ``runId``, final ``status`` and, if it failed, why.

    A run that could not be submitted has no ``runId`` and the status ``SUBMISSION_FAILED``.
    """
    statuses = {run["id"]: run["status"] for run in answers.runs(api, batchId=batch_id)}
    runs: dict[str, dict[str, Any]] = {}
    for entry in answers.runs_in_batch(api, batch_id):
        run_id = entry.get("runId")
        if not run_id:
            runs[entry["runSettingId"]] = {
                "runId": None,
                "status": "SUBMISSION_FAILED",
                "failureReason": entry.get("submissionFailureReason"),
                "statusMessage": entry.get("submissionFailureMessage"),
            }
            continue
        run: dict[str, Any] = {"runId": run_id, "status": statuses.get(run_id, "DELETED")}
        if run["status"] in BATCH_RUN_FAILURES:
            time.sleep(api.poll_interval("GetRun"))  # at the quota's pace: a plate may have hundreds
            try:
                described = answers.run(api, run_id)
                run.update(failureReason=described.get("failureReason"), statusMessage=described.get("statusMessage"))
            except Exception as error:
                run.update(failureReason=None, statusMessage=f"(not described: {_why(error)})")
        runs[entry["runSettingId"]] = run
    return runs


def batch_report(api: OmicsApi, batch_id: str) -> str:
    try:
        runs = batch_runs(api, batch_id)
    except Exception as error:
        return f"(The batch's runs could not be listed: {_why(error)})"
    unfinished = {setting: run for setting, run in runs.items() if run["status"] != "COMPLETED"}
    lines = [f"{len(unfinished)} of {len(runs)} runs did not complete:"]
    for setting, run in unfinished.items():
        why = JOB_KINDS["run"].message_of(run) or "no message"
        lines.append(f"- {setting} (run {run['runId'] or 'not started'}) {run['status']}: {why}")
    return "\n".join(lines)


def console_link(region: str, stream: str) -> str:
    """The CloudWatch console page of one log stream of the HealthOmics log group."""

    def encoded(text: str) -> str:  # the console's own escaping: URL-encoded, then "%" as "$25"
        return quote(text, safe="").replace("%", "$25")

    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{encoded(LOG_GROUP)}/log-events/{encoded(stream)}"
    )


def _tail(logs: Any, stream: str, count: int) -> list[str]:
    try:
        found = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, limit=count, startFromHead=False)
    except Exception as error:
        return [f"  (log {stream} not read: {_why(error)})"]
    messages = [event["message"].rstrip("\n") for event in found.get("events", [])][-count:]
    if not messages:
        return [f"  (log {stream} is empty)"]
    return [f"  last {len(messages)} line(s) of {stream}:", *(f"  | {message}" for message in messages)]


def _why(error: BaseException) -> str:
    return str(error) if error_code(error) else f"{type(error).__name__}: {error}"

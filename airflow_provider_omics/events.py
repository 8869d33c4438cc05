"""The trigger event: what a wait in the triggerer hands back to the task, and the error it stands for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from airflow_provider_omics.errors import OmicsJobFailed, OmicsWaitTimeout
from airflow_provider_omics.jobs import JobKind


class JobEvent(TypedDict):
    # ended: an EventBridge event told the end; the task's own describe says how (``OmicsHook.outcome``)
    status: Literal["success", "failure", "timeout", "ended"]
    job_status: str  # the job's own status (COMPLETED, FAILED, ...)
    message: str  # the service's words (failureReason, statusMessage) or why the wait ended
    described: Any  # the final describe output (a list for a wait on several jobs), JSON-safe
    kind: str
    ids: Any  # the ids waited on: one mapping, or a list of them


def json_safe(value: Any) -> Any:
    """A describe output as JSON (timestamps as ISO strings): what XCom and trigger events can carry."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def success_event(job: JobKind, ids: Any, finals: list[dict[str, Any]]) -> JobEvent:
    described = finals if isinstance(ids, list) else finals[0]
    return JobEvent(
        status="success",
        job_status=job.status_of(finals[-1]),
        message="",
        described=json_safe(described),
        kind=job.name,
        ids=ids,
    )


def ended_event(job: JobKind, ids: Any, heard: Mapping[int, str]) -> JobEvent:
    """The end EventBridge events told (a failure if any job failed): no describe output, the task describes."""
    statuses = list(heard.values())
    worst = next((status for status in statuses if status not in job.success_states), statuses[-1])
    return JobEvent(
        status="ended",
        job_status=worst,
        message=f"an EventBridge event said {worst}",
        described={},
        kind=job.name,
        ids=ids,
    )


def error_event(job: JobKind, error: OmicsJobFailed | OmicsWaitTimeout, ids: Any) -> JobEvent:
    if isinstance(error, OmicsJobFailed):
        return JobEvent(
            status="failure",
            job_status=error.status,
            message=error.service_message,
            described=json_safe(error.described),
            kind=job.name,
            ids=error.ids,
        )
    return JobEvent(status="timeout", job_status="", message=str(error), described={}, kind=job.name, ids=ids)


def raise_for_event(job: JobKind, event: Mapping[str, Any]) -> None:
    """Turn a failure or timeout event into the error a synchronous wait raises; nothing on success or an end
    an EventBridge event told (the task's describe says how)."""
    if event["status"] in ("success", "ended"):
        return
    if event["status"] == "timeout":
        raise OmicsWaitTimeout(event["message"])
    described = event.get("described") or {}
    if described:
        raise OmicsJobFailed.from_described(job, event["ids"], described)
    raise OmicsJobFailed(job, event["ids"], event["job_status"], event["message"], described)

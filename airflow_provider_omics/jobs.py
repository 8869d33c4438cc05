"""THE table of HealthOmics' long-running things: one entry per kind of job or resource.

The hook, operators, sensors and the trigger read everything kind-specific from here: which
operation describes it, which arguments identify it, which statuses end it well or badly, where its
message and failed items are, how it is cancelled and listed, its console page. Adding a kind is one
entry. ``tests/test_jobs.py`` checks every entry against botocore's model, so a status AWS adds
later breaks the build instead of hanging a DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What a job of any kind reports when some of its items failed: a failure unless the user says otherwise.
PARTIAL_SUCCESS = "COMPLETED_WITH_FAILURES"


@dataclass(frozen=True)
class Sweep:
    """How one call of a kind's ``list_operation`` answers the waits on many of its jobs (``status_source.py``).

    Either a listing per in-progress status (``statuses``, in the order jobs pass through them;
    ``status_filter`` names the parameter: ``status``, or ``filter.status`` for ``filter={"status": ...}``),
    or a listing by job ids (``ids_per_call``). ``scope``: describe arguments the listing is made per (a
    store). ``narrow_by``: list-item fields that narrow the listing when every waited job shares a value.
    The one describe argument not in ``scope`` is the list item's ``id``.
    """

    statuses: tuple[str, ...] = ()
    status_filter: str = "status"
    ids_per_call: int = 0
    scope: tuple[str, ...] = ()
    narrow_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    """The EventBridge event HealthOmics sends when a job of this kind changes status (``event_source.py``).

    ``ids``: for each describe argument, the detail fields that may hold it, first found wins; an ARN gives its
    last part (``arn:...:run/1234567`` -> ``1234567``). The guide documents ``runId``; the events AWS's samples
    quote carry only ``arn``.
    """

    detail_type: str
    ids: Mapping[str, tuple[str, ...]]

    def ids_of(self, detail: Mapping[str, Any]) -> dict[str, str] | None:
        """The job's describe arguments from an event's detail, or None when the detail does not name it."""
        found = {}
        for argument, names in self.ids.items():
            value = next((str(detail[name]) for name in names if detail.get(name)), None)
            if value is None:
                return None
            found[argument] = value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
        return found


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str  # for messages: "read-set import job"
    operation: str  # the botocore operation that describes it
    ids: tuple[str, ...]  # the describe operation's identifying arguments
    success_states: frozenset[str]
    failure_states: frozenset[str]
    intermediate_states: frozenset[str]
    status_path: tuple[str, ...] = ("status",)  # where the status is in the describe output
    message_keys: tuple[str, ...] = ("statusMessage",)  # the service's own words on why, first found wins
    # Where a job lists its items (sources, read sets), the key of an item's status and its identifying keys.
    items_key: str | None = None
    item_status_key: str = "status"
    item_failure_states: frozenset[str] = frozenset({"FAILED"})
    item_keys: tuple[str, ...] = ()
    start_operation: str | None = None
    # How the start operation's response names the job: describe argument -> response key
    started_ids: Mapping[str, str] = field(default_factory=dict)
    cancel_operation: str | None = None
    list_operation: str | None = None
    console_path: str | None = None  # fragment of the HealthOmics console URL, formatted with the ids
    # Counters of failed parts in a job that ends "successfully" (a batch PROCESSED with failed runs):
    # like COMPLETED_WITH_FAILURES, a failure unless the user accepts partial success.
    failed_counters: tuple[tuple[str, ...], ...] = ()
    sweep: Sweep | None = None  # how waits on many jobs share list calls; None: one describe per job
    event: Event | None = None  # the EventBridge event of a status change; None: the service sends none

    @property
    def terminal_states(self) -> frozenset[str]:
        return self.success_states | self.failure_states

    def status_of(self, described: Mapping[str, Any]) -> str:
        value: Any = described
        for key in self.status_path:
            value = value.get(key) or {}
        return str(value) if value else "UNKNOWN"

    def message_of(self, described: Mapping[str, Any]) -> str:
        container: Mapping[str, Any] = described
        for key in self.status_path[:-1]:
            container = container.get(key) or {}
        parts = [str(container[k]) for k in self.message_keys if container.get(k)]
        return ": ".join(dict.fromkeys(parts))  # failureReason then statusMessage, without repeats

    def item_failed(self, item: Mapping[str, Any]) -> bool:
        return item.get(self.item_status_key) in self.item_failure_states

    def failed_items(self, described: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(what the item is, the service's message) for every failed item of the job."""
        failed = []
        for item in described.get(self.items_key or "", None) or []:
            if self.item_failed(item):
                names = [_describe_item(item.get(k)) for k in self.item_keys if item.get(k)]
                failed.append((" ".join(names) or "item", item.get("statusMessage") or "no message"))
        return failed

    def failed_parts(self, described: Mapping[str, Any]) -> dict[str, int]:
        counts = {}
        for path in self.failed_counters:
            value: Any = described
            for key in path:
                value = (value or {}).get(key)
            if value:
                counts[path[-1]] = int(value)
        return counts

    def ids_of(self, response: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, str]:
        """The describe arguments for a job, from its start response and the request that started it."""
        return {arg: str(response.get(self.started_ids.get(arg, arg)) or request[arg]) for arg in self.ids}


def _describe_item(value: Any) -> str:
    if isinstance(value, Mapping):  # sourceFiles: {"source1": ..., "source2": ...}
        return " + ".join(str(v) for v in value.values())
    return str(value)


def _states(*names: str) -> frozenset[str]:
    return frozenset(names)


_IN_PROGRESS_JOBS = ("SUBMITTED", "IN_PROGRESS", "CANCELLING")  # in the order a job passes through them
_IMPORT_EXPORT_JOB: dict[str, Any] = {
    "success_states": _states("COMPLETED"),
    "failure_states": _states("FAILED", "CANCELLED", PARTIAL_SUCCESS),
    "intermediate_states": _states(*_IN_PROGRESS_JOBS),
}


def _event(detail_type: str, **ids: str | tuple[str, ...]) -> Event:
    return Event(detail_type, {name: (fields,) if isinstance(fields, str) else fields for name, fields in ids.items()})


def _sequence_store_job(what: str) -> Event:
    return _event(f"Read Set {what} Job Status Change", sequenceStoreId="sequenceStoreId", id="id")


_IN_SEQUENCE_STORE = Sweep(_IN_PROGRESS_JOBS, "filter.status", scope=("sequenceStoreId",))
_ANALYTICS_JOB: dict[str, Any] = {
    "success_states": _states("COMPLETED"),
    "failure_states": _states("FAILED", "CANCELLED", PARTIAL_SUCCESS),
    "intermediate_states": _states("SUBMITTED", "IN_PROGRESS"),
    "items_key": "items",
    "item_status_key": "jobStatus",
    "item_keys": ("source",),
    "started_ids": {"jobId": "jobId"},
    "sweep": Sweep(ids_per_call=20),
}
_RUN_IN_PROGRESS = ("PENDING", "STARTING", "RUNNING", "STOPPING")
_RUN_STATES: dict[str, Any] = {
    "success_states": _states("COMPLETED"),
    "intermediate_states": _states(*_RUN_IN_PROGRESS),
    "message_keys": ("failureReason", "statusMessage"),
}
_WORKFLOW: dict[str, Any] = {
    "success_states": _states("ACTIVE"),
    "failure_states": _states("FAILED", "DELETED", "INACTIVE"),
    "intermediate_states": _states("CREATING", "UPDATING"),
}
# A store being deleted will never become ACTIVE: waiting on it is a failure, not a wait.
_STORE: dict[str, Any] = {
    "success_states": _states("ACTIVE"),
    "failure_states": _states("FAILED", "DELETING"),
    "intermediate_states": _states("CREATING", "UPDATING"),
}

_KINDS = [
    JobKind(
        "read_set_import",
        "read-set import job",
        "GetReadSetImportJob",
        ("sequenceStoreId", "id"),
        items_key="sources",
        item_keys=("sampleId", "sourceFiles"),
        start_operation="StartReadSetImportJob",
        list_operation="ListReadSetImportJobs",
        console_path="sequence-stores/{sequenceStoreId}/import-jobs/{id}",
        event=_sequence_store_job("Import"),
        sweep=_IN_SEQUENCE_STORE,
        **_IMPORT_EXPORT_JOB,
    ),
    JobKind(
        "read_set_export",
        "read-set export job",
        "GetReadSetExportJob",
        ("sequenceStoreId", "id"),
        items_key="readSets",
        item_keys=("id",),
        start_operation="StartReadSetExportJob",
        list_operation="ListReadSetExportJobs",
        console_path="sequence-stores/{sequenceStoreId}/export-jobs/{id}",
        event=_sequence_store_job("Export"),
        sweep=_IN_SEQUENCE_STORE,
        **_IMPORT_EXPORT_JOB,
    ),
    JobKind(
        "read_set_activation",
        "read-set activation job",
        "GetReadSetActivationJob",
        ("sequenceStoreId", "id"),
        items_key="sources",
        item_keys=("readSetId",),
        start_operation="StartReadSetActivationJob",
        list_operation="ListReadSetActivationJobs",
        console_path="sequence-stores/{sequenceStoreId}/activation-jobs/{id}",
        event=_sequence_store_job("Activation"),
        sweep=_IN_SEQUENCE_STORE,
        **_IMPORT_EXPORT_JOB,
    ),
    JobKind(
        "reference_import",
        "reference import job",
        "GetReferenceImportJob",
        ("referenceStoreId", "id"),
        items_key="sources",
        item_keys=("name", "sourceFile"),
        start_operation="StartReferenceImportJob",
        list_operation="ListReferenceImportJobs",
        console_path="reference-stores/{referenceStoreId}/import-jobs/{id}",
        event=_event("Reference Import Job Status Change", referenceStoreId="referenceStoreId", id="id"),
        sweep=Sweep(_IN_PROGRESS_JOBS, "filter.status", scope=("referenceStoreId",)),
        **_IMPORT_EXPORT_JOB,
    ),
    JobKind(
        "run",
        "run",
        "GetRun",
        ("id",),
        failure_states=_states("FAILED", "CANCELLED", "DELETED"),
        start_operation="StartRun",
        cancel_operation="CancelRun",
        list_operation="ListRuns",
        console_path="runs/{id}",
        event=_event("Run Status Change", id=("runId", "arn")),
        sweep=Sweep(_RUN_IN_PROGRESS, narrow_by=("batchId",)),
        **_RUN_STATES,
    ),
    JobKind(
        "run_task",
        "run task",
        "GetRunTask",
        ("id", "taskId"),
        failure_states=_states("FAILED", "CANCELLED"),
        list_operation="ListRunTasks",
        console_path="runs/{id}",
        **_RUN_STATES,
    ),
    JobKind(
        # Runs of a batch are deleted on request after it ends; waiting for a batch then is a failure.
        "run_batch",
        "run batch",
        "GetBatch",
        ("batchId",),
        success_states=_states("PROCESSED"),
        failure_states=_states("FAILED", "CANCELLED", "RUNS_DELETING", "RUNS_DELETED", "RUNS_DELETE_FAILED"),
        intermediate_states=_states("CREATING", "PENDING", "SUBMITTING", "INPROGRESS", "STOPPING"),
        message_keys=("failureReason",),
        start_operation="StartRunBatch",
        started_ids={"batchId": "id"},
        cancel_operation="CancelRunBatch",
        list_operation="ListBatch",
        console_path="run-batches/{batchId}",
        failed_counters=(("runSummary", "failedRunCount"), ("runSummary", "cancelledRunCount")),
    ),
    JobKind(
        "workflow",
        "workflow",
        "GetWorkflow",
        ("id",),
        start_operation="CreateWorkflow",
        list_operation="ListWorkflows",
        console_path="workflows/{id}",
        event=_event("Workflow Status Change", id="arn"),
        **_WORKFLOW,
    ),
    JobKind(
        "workflow_version",
        "workflow version",
        "GetWorkflowVersion",
        ("workflowId", "versionName"),
        start_operation="CreateWorkflowVersion",
        list_operation="ListWorkflowVersions",
        console_path="workflows/{workflowId}/versions/{versionName}",
        **_WORKFLOW,
    ),
    JobKind(
        "sequence_store",
        "sequence store",
        "GetSequenceStore",
        ("id",),
        success_states=_states("ACTIVE"),
        failure_states=_states("FAILED", "DELETING"),
        intermediate_states=_states("CREATING", "UPDATING"),
        start_operation="CreateSequenceStore",
        list_operation="ListSequenceStores",
        console_path="sequence-stores/{id}",
        event=_event("Sequence Store Status Change", id=("id", "arn")),
    ),
    JobKind(
        "variant_store",
        "variant store",
        "GetVariantStore",
        ("name",),
        start_operation="CreateVariantStore",
        list_operation="ListVariantStores",
        console_path="variant-stores/{name}",
        event=_event("Variant Store Status Change", name="storeName"),
        **_STORE,
    ),
    JobKind(
        "annotation_store",
        "annotation store",
        "GetAnnotationStore",
        ("name",),
        start_operation="CreateAnnotationStore",
        list_operation="ListAnnotationStores",
        console_path="annotation-stores/{name}",
        event=_event("Annotation Store Status Change", name="storeName"),
        **_STORE,
    ),
    JobKind(
        "annotation_store_version",
        "annotation store version",
        "GetAnnotationStoreVersion",
        ("name", "versionName"),
        start_operation="CreateAnnotationStoreVersion",
        list_operation="ListAnnotationStoreVersions",
        console_path="annotation-stores/{name}",
        **_STORE,
    ),
    JobKind(
        "variant_import",
        "variant import job",
        "GetVariantImportJob",
        ("jobId",),
        start_operation="StartVariantImportJob",
        cancel_operation="CancelVariantImportJob",
        list_operation="ListVariantImportJobs",
        console_path="variant-stores",
        event=_event("Variant Import Job Status Change", jobId="jobId"),
        **_ANALYTICS_JOB,
    ),
    JobKind(
        "annotation_import",
        "annotation import job",
        "GetAnnotationImportJob",
        ("jobId",),
        start_operation="StartAnnotationImportJob",
        cancel_operation="CancelAnnotationImportJob",
        list_operation="ListAnnotationImportJobs",
        console_path="annotation-stores",
        event=_event("Annotation Import Job Status Change", jobId="jobId"),
        **_ANALYTICS_JOB,
    ),
    JobKind(
        "share",
        "share",
        "GetShare",
        ("shareId",),
        status_path=("share", "status"),
        success_states=_states("ACTIVE"),
        failure_states=_states("FAILED", "DELETING", "DELETED"),
        intermediate_states=_states("PENDING", "ACTIVATING"),
        start_operation="CreateShare",
        started_ids={"shareId": "shareId"},
        list_operation="ListShares",
        console_path="shares",
    ),
    JobKind(
        # An archived read set does not become active by waiting: it needs an activation job.
        "read_set",
        "read set",
        "GetReadSetMetadata",
        ("sequenceStoreId", "id"),
        success_states=_states("ACTIVE"),
        failure_states=_states("ARCHIVED", "DELETING", "DELETED", "UPLOAD_FAILED"),
        intermediate_states=_states("ACTIVATING", "PROCESSING_UPLOAD"),
        list_operation="ListReadSets",
        console_path="sequence-stores/{sequenceStoreId}/read-sets/{id}",
        event=_event("Read Set Status Change", sequenceStoreId="sequenceStoreId", id=("id", "arn")),
    ),
    JobKind(
        "reference",
        "reference",
        "GetReferenceMetadata",
        ("referenceStoreId", "id"),
        success_states=_states("ACTIVE"),
        failure_states=_states("DELETING", "DELETED"),
        intermediate_states=_states(),
        list_operation="ListReferences",
        console_path="reference-stores/{referenceStoreId}/references/{id}",
        event=_event("Reference Status Change", referenceStoreId="referenceStoreId", id=("id", "arn")),
    ),
    JobKind(
        "run_cache",
        "run cache",
        "GetRunCache",
        ("id",),
        success_states=_states("ACTIVE"),
        failure_states=_states("DELETED", "FAILED"),
        intermediate_states=_states(),
        message_keys=(),
        start_operation="CreateRunCache",
        list_operation="ListRunCaches",
        console_path="run-caches/{id}",
    ),
    JobKind(
        "configuration",
        "configuration",
        "GetConfiguration",
        ("name",),
        success_states=_states("ACTIVE"),
        failure_states=_states("DELETING", "DELETED", "FAILED"),
        intermediate_states=_states("CREATING", "UPDATING"),
        message_keys=(),
        start_operation="CreateConfiguration",
        started_ids={"name": "name"},
        list_operation="ListConfigurations",
        console_path="configurations/{name}",
    ),
]

JOB_KINDS: Mapping[str, JobKind] = {kind.name: kind for kind in _KINDS}


def job_kind(name: str) -> JobKind:
    try:
        return JOB_KINDS[name]
    except KeyError:
        raise ValueError(f"kind: {name!r} is not one of {', '.join(sorted(JOB_KINDS))}") from None

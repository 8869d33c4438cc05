"""Lineage: what a task read and wrote, named one way for OpenLineage datasets and Airflow Assets.

The naming scheme (https://airflow-provider-omics.readthedocs.io/en/latest/concepts/lineage.html):

- S3, as the OpenLineage spec names it: namespace ``s3://<bucket>``, name the key (a prefix without
  its closing ``/``).
- Read sets and references by the ``omics://`` URI the service takes as workflow input and AWS's
  tools parse: namespace ``omics://<account>.storage.<region>.amazonaws.com``, name
  ``<store>/readSet/<id>`` or ``<store>/reference/<id>``.
- Every other HealthOmics resource by its ARN, split as the spec splits AWS Glue's: namespace
  ``arn:aws:omics:<region>:<account>``, name the resource (``workflow/1234567``, ``variantStore/cohort``).
- Local files: namespace ``file``, name the absolute path.

An Asset's URI is the two joined (an ARN whole). Besides what it wrote, a task announces the
collections it added to, so that a DAG can be scheduled on them: a store's read sets or references
(``<store URI>/readSet``), a workflow's run outputs (the workflow's ARN), an analytics store (its ARN).

What the events carry is ids, ARNs, URIs, statuses, the workflow, usage and cost. Names, sample and
subject ids, descriptions and run parameters can identify people: they are left out unless
``[omics] lineage_private_details`` is True.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from airflow_provider_omics import uris
from airflow_provider_omics.events import json_safe

# The one alias every operator's produced Assets are added through (ids are known only at run time).
ASSET_ALIAS = "airflow-provider-omics"
CONFIG_SECTION = "omics"
PRIVATE_OPTION = "lineage_private_details"
PRIVATE_KEYS = frozenset({"name", "sampleId", "subjectId", "description", "parameters", "readSetName"})
# Request members that name where a job writes, not what it reads.
DESTINATION_MEMBERS = frozenset({"destination", "outputUri", "cacheS3Location", "fallbackLocation"})
# A run's output objects listed one by one up to this many; past it, its output prefix stands for them.
MAX_OBJECTS = 100


class Dataset(NamedTuple):
    namespace: str
    name: str

    @property
    def uri(self) -> str:
        """The Asset URI: the namespace and name joined."""
        if self.namespace.startswith("arn:"):
            return f"{self.namespace}:{self.name}"
        if self.namespace == "file":
            return f"file://{self.name}"
        return f"{self.namespace}/{self.name.lstrip('/')}"


def of_uri(value: str) -> Dataset | None:
    """The dataset an S3 or ``omics://`` URI, an omics ARN or a local path names; None for anything else."""
    if value.startswith("s3://"):
        bucket, _, key = value[5:].partition("/")
        return Dataset(f"s3://{bucket}", key.rstrip("/") or "/") if bucket else None
    if value.startswith("omics://"):
        host, _, path = value[8:].partition("/")
        return Dataset(f"omics://{host}", path.strip("/"))
    if value.startswith("arn:") and ":omics:" in value:
        return of_arn(value)
    if value.startswith("file://"):
        return Dataset("file", value[7:])
    if value.startswith("/"):
        return Dataset("file", os.path.normpath(value))
    return None


def of_arn(arn: str) -> Dataset:
    """A read set or reference by its ``omics://`` URI, anything else by its ARN."""
    try:
        return of_uri(uris.omics_uri(arn)) or Dataset(arn, "")
    except ValueError:
        prefix, _, resource = arn.partition(":omics:")
        region, account, name = resource.split(":", 2)
        return Dataset(f"{prefix}:omics:{region}:{account}", name)


@dataclass(frozen=True)
class Namer:
    """Names for what a response gives only by id: the connection's partition, region and account."""

    partition: str
    region: str
    account: Callable[[], str]  # asked only when a name needs it (one STS call per task)

    def arn(self, resource: str) -> Dataset:
        return of_arn(f"arn:{self.partition}:omics:{self.region}:{self.account()}:{resource}")

    def stored(self, store: str, kind: str, ident: str) -> Dataset:
        """A read set (``kind`` readSet) or reference in its store."""
        store_kind = "sequenceStore" if kind == "readSet" else "referenceStore"
        return self.arn(f"{store_kind}/{store}/{kind}/{ident}")

    def collection(self, store: str, kind: str) -> str:
        """The Asset URI of a store's read sets or references: a DAG scheduled on it runs as they appear."""
        return f"{uris.storage(self.account(), self.region)}/{store}/{kind}"


def read_sets_in(sequence_store_arn: str) -> str:
    """The Asset URI to schedule a DAG on the read sets of a sequence store (its ARN)."""
    return _collection_of(sequence_store_arn, "sequenceStore", "readSet")


def references_in(reference_store_arn: str) -> str:
    """The Asset URI to schedule a DAG on the references of a reference store (its ARN)."""
    return _collection_of(reference_store_arn, "referenceStore", "reference")


def run_outputs_of(workflow_arn: str) -> str:
    """The Asset URI to schedule a DAG on the outputs of a workflow's runs: the workflow's ARN."""
    if ":omics:" not in workflow_arn or ":workflow/" not in workflow_arn:
        raise ValueError(f"{workflow_arn!r} is not the ARN of a workflow")
    return workflow_arn


def _collection_of(store_arn: str, store_kind: str, kind: str) -> str:
    dataset = of_arn(store_arn)
    head, _, store = dataset.name.partition("/")
    if head != store_kind or not store or "/" in store:
        raise ValueError(f"{store_arn!r} is not the ARN of a {store_kind}")
    _, region, account = dataset.namespace.rsplit(":", 2)
    return f"{uris.storage(account, region)}/{store}/{kind}"


# ---- what each operation read and wrote ------------------------------------------------------------
@dataclass(frozen=True)
class Produced:
    """A task's lineage: datasets read and written, and the collections it added to: an Asset URI and the
    ids of what it added (``{"readSetIds": "1,2,3"}``), one event per collection and task. One event, not
    one per item: Airflow starts a scheduled DAG with the events queued when it sees the first."""

    inputs: list[Dataset]
    outputs: list[Dataset]
    collections: list[tuple[str, dict[str, Any]]]


Rule = Callable[[Namer, Mapping[str, Any], Mapping[str, Any]], Produced]


def lineage_of(operation: str, namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any] | None) -> Produced:
    """What ``operation`` with ``request`` read and wrote; with no ``result`` (at start), what the request says."""
    read = [
        dataset for key, value in request.items() if key not in DESTINATION_MEMBERS for dataset in datasets_in(value)
    ]
    written = [dataset for key in DESTINATION_MEMBERS & request.keys() for dataset in datasets_in(request[key])]
    rule = RULES.get(operation)
    found = rule(namer, request, result or {}) if rule else Produced([], [], [])
    if operation in REPLACES_DESTINATION and result:
        written = []
    return Produced(
        _unique(read + found.inputs),
        _unique(written + found.outputs),
        found.collections,
    )


def datasets_in(value: Any) -> Iterator[Dataset]:
    """Every S3, ``omics://`` or ``file://`` URI and omics ARN in a request value (a run's parameters, a list
    of sources). A bare path is not taken for a file: in a run's parameters it is the workflow's own."""
    if isinstance(value, str) and value.startswith(("s3://", "omics://", "arn:", "file://")):
        dataset = of_uri(value)
        if dataset is not None:
            yield dataset
    elif isinstance(value, Mapping):  # a batch's defaultRunSetting holds its outputUri: not read
        for key, item in value.items():
            if key not in DESTINATION_MEMBERS:
                yield from datasets_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from datasets_in(item)


def _unique(datasets: list[Dataset]) -> list[Dataset]:
    return list(dict.fromkeys(datasets))


def _read_sets(namer: Namer, store: str, items: Any, key: str) -> list[Dataset]:
    return [namer.stored(store, "readSet", str(item[key])) for item in items or [] if item.get(key)]


def _imported(kind: str, store_member: str, id_key: str) -> Rule:
    """A read-set or reference import: its outputs are what its sources became, added to the store."""

    def rule(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
        store = str(request[store_member])
        made = [str(source[id_key]) for source in result.get("sources") or [] if source.get(id_key)]
        added = [(namer.collection(store, kind), {f"{id_key}s": ",".join(made)})] if made else []
        return Produced([], [namer.stored(store, kind, ident) for ident in made], added)

    return rule


def _export_read_sets(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    return Produced(_read_sets(namer, str(request["sequenceStoreId"]), request.get("sources"), "readSetId"), [], [])


def _activate_read_sets(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    read_sets = _read_sets(namer, str(request["sequenceStoreId"]), request.get("sources"), "readSetId")
    return Produced(read_sets, read_sets if result else [], [])


def _upload(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    if not result.get("arn"):
        return Produced([], [], [])
    collection = namer.collection(str(request["sequenceStoreId"]), "readSet")
    return Produced([], [of_arn(result["arn"])], [(collection, {"readSetIds": str(result["id"])})])


def _run(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    """A run reads its parameters' URIs and its workflow, and writes the objects under its output URI."""
    workflow_id = request.get("workflowId") or result.get("workflowId")  # a re-run names only the run
    workflow = [namer.arn(f"workflow/{workflow_id}")] if workflow_id else []
    prefix = of_uri(str(result.get("runOutputUri") or ""))
    if prefix is None:
        return Produced(workflow, [], [])
    objects = [of_uri(uri) for uri in (result.get("summary") or {}).get("outputs") or []]
    written = [d for d in objects if d] if 0 < len(objects) <= MAX_OBJECTS else [prefix]
    done = result.get("status") == "COMPLETED"
    made = {"runIds": str(result.get("id"))}
    return Produced(workflow, written, [(w.uri, made) for w in workflow] if done else [])


def _batch(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    settings = request.get("defaultRunSetting") or {}
    workflow = [namer.arn(f"workflow/{settings['workflowId']}")] if settings.get("workflowId") else []
    runs = [run for run in (result.get("runs") or {}).values() if run.get("runId")]
    done = [r for r in runs if r.get("status") == "COMPLETED"]
    outputs = [namer.arn(f"run/{run['runId']}") for run in runs]
    made = {"runIds": ",".join(str(r["runId"]) for r in done)}
    return Produced(workflow, outputs, [(w.uri, made) for w in workflow] if done else [])


def _analytics_import(store_type: str) -> Rule:
    """A variant or annotation import: its output is the store it imports into."""

    def rule(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
        store = namer.arn(f"{store_type}/{request['destinationName']}")
        return Produced([], [store], [(store.uri, {})] if result.get("status") == "COMPLETED" else [])

    return rule


def _created(*keys: str) -> Rule:
    """A create operation: its output is the resource, by the first ARN the response has."""

    def rule(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
        arn = next((result[key] for key in keys if result.get(key)), None)
        return Produced([], [of_arn(arn)] if arn else [], [])

    return rule


def _downloaded(kind: str, store_member: str, id_member: str) -> Rule:
    """A download reads a read set or reference and writes the files its result lists."""

    def rule(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
        stored = namer.stored(str(request[store_member]), kind, str(request[id_member]))
        files = [of_uri(str(f.get("location"))) for f in (result.get("files") or {}).values()]
        return Produced([stored], [f for f in files if f], [])

    return rule


def _analysed(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    """Right-sizing reads the runs' manifests and writes its pictures and config."""
    run_ids = dict.fromkeys(str(s["runId"]) for s in result.get("samples") or [] if s.get("runId"))
    files = [of_uri(str(location)) for location in (result.get("files") or {}).values()]
    return Produced([namer.arn(f"run/{run}") for run in run_ids], [f for f in files if f], [])


def _cancelled(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    return Produced([namer.arn(f"run/{request['id']}")], [], [])


def _listed(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    """Listing runs reads them: the listed runs, by their ARNs."""
    return Produced([of_arn(run["arn"]) for run in result.get("items") or [] if run.get("arn")], [], [])


def _accepted(namer: Namer, request: Mapping[str, Any], result: Mapping[str, Any]) -> Produced:
    """An accepted share: its output is the resource now reachable from this account."""
    arn = (result.get("share") or result).get("resourceArn")  # the operator's XCom is the share itself
    return Produced([], [of_arn(arn)] if arn else [], [])


RULES: dict[str, Rule] = {
    "StartReadSetImportJob": _imported("readSet", "sequenceStoreId", "readSetId"),
    "StartReadSetExportJob": _export_read_sets,
    "StartReadSetActivationJob": _activate_read_sets,
    "StartReferenceImportJob": _imported("reference", "referenceStoreId", "referenceId"),
    "CreateMultipartReadSetUpload": _upload,
    "StartRun": _run,
    "StartRunBatch": _batch,
    "StartVariantImportJob": _analytics_import("variantStore"),
    "StartAnnotationImportJob": _analytics_import("annotationStore"),
    "CreateSequenceStore": _created("arn"),
    "CreateReferenceStore": _created("arn"),
    "CreateVariantStore": _created("storeArn"),
    "CreateAnnotationStore": _created("storeArn"),
    "CreateAnnotationStoreVersion": _created("versionArn"),
    "CreateWorkflow": _created("arn"),
    "CreateWorkflowVersion": _created("arn"),
    "CreateRunGroup": _created("arn"),
    "CreateRunCache": _created("arn"),
    "AcceptShare": _accepted,
    # What the provider does itself, by the name its operators give it.
    "DownloadReadSet": _downloaded("readSet", "sequenceStoreId", "readSetId"),
    "DownloadReference": _downloaded("reference", "referenceStoreId", "referenceId"),
    "AnalyzeRuns": _analysed,
    "CancelRun": _cancelled,
    "ListRuns": _listed,
}
# Where the result names what was really written, the request's destination member is not it (a run
# writes under ``<outputUri>/<run id>/``, a download names its files).
REPLACES_DESTINATION = frozenset(
    {"StartRun", "StartRunBatch", "CreateRunCache", "DownloadReadSet", "DownloadReference"}
)


# ---- facets and extras -------------------------------------------------------------------------------
RUN_KEYS = ("uuid", "workflowId", "workflowVersionName", "workflowType", "runGroupId", "cacheId", "cacheBehavior")


def details(kind: str, ids: Mapping[str, Any], result: Mapping[str, Any], private: bool) -> dict[str, Any]:
    """The ``omics`` run facet's content: the job by its kind, ids and status, a run's workflow and usage."""
    share = result.get("share")
    status_holder: Mapping[str, Any] = share if isinstance(share, Mapping) else result
    facet: dict[str, Any] = {"kind": kind, "ids": {k: str(v) for k, v in ids.items()}}
    for key in ("status", "statusMessage", "failureReason"):
        if status_holder.get(key):
            facet[key] = str(status_holder[key])
    if result.get("arn"):
        facet["arn"] = result["arn"]
    if kind == "run":
        facet["run"] = {key: result[key] for key in RUN_KEYS if result.get(key) is not None}
        summary = result.get("summary") or {}
        if summary:
            facet["usage"] = {
                "seconds": summary.get("seconds"),
                "totals": summary.get("totals"),
                "storage": summary.get("storage"),
                "estimatedCost": summary.get("estimatedCost"),
            }
    if private:
        facet["private"] = _private(result)
    return dict(json_safe(facet))


def _private(value: Any) -> Any:
    """The names, sample and subject ids and parameters in a describe output, where they are."""
    if isinstance(value, Mapping):
        found = {k: v for k, v in value.items() if k in PRIVATE_KEYS and v not in (None, "", {})}
        for key, item in value.items():
            nested = _private(item) if key not in PRIVATE_KEYS else None
            if nested:
                found[key] = nested
        return found
    if isinstance(value, list):
        items = [_private(item) for item in value]
        return items if any(items) else None
    return None


def asset_extra(kind: str, ids: Mapping[str, Any], result: Mapping[str, Any], private: bool) -> dict[str, str]:
    """What an Asset event carries: ids and status only by default; strings only, as Airflow 2.11 and 3.0
    hash them (a collection's ids comma-separated)."""
    extra = {"kind": kind, **{k: str(v) for k, v in ids.items()}}
    for key in ("status", "runOutputUri", "workflowId", "workflowVersionName"):
        if result.get(key):
            extra[key] = str(result[key])
    if private:
        extra.update({k: str(result[k]) for k in ("name", "sampleId", "subjectId") if result.get(k)})
    return extra


def private_details() -> bool:
    """``[omics] lineage_private_details``: whether events and Asset extras carry names and parameters."""
    from airflow.configuration import conf

    return conf.getboolean(CONFIG_SECTION, PRIVATE_OPTION, fallback=False)


def triggering_extras(context: Mapping[str, Any], uri: str) -> list[dict[str, Any]]:
    """The extras of the Asset events on ``uri`` that triggered this DAG run, oldest first (Airflow 2.11
    calls them dataset events): e.g. ``{"readSetIds": "1,2,3", ...}`` for each job that added to a store."""
    events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
    found = [event for key, each in events.items() if getattr(key, "uri", key) == uri for event in each]
    return [dict(event.extra or {}) for event in sorted(found, key=lambda event: event.timestamp)]


def triggering_payloads(context: Mapping[str, Any], uri: str) -> list[dict[str, Any]]:
    """The payloads of the events an Asset's watcher fired (``OmicsEventTrigger``'s: ``{"kind", "status", "ids",
    ...}``) that started this DAG run, oldest first: Airflow keeps each in its asset event's extra as ``payload``."""
    return [dict(extra["payload"]) for extra in triggering_extras(context, uri) if extra.get("from_trigger")]

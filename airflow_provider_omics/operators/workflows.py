"""Analysis: workflows and their versions, run groups and caches, runs and run batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from airflow_provider_omics import diagnostics, locations, polling, right_sizing, usage
from airflow_provider_omics.errors import OmicsJobFailed, error_code
from airflow_provider_omics.events import json_safe
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import job_kind
from airflow_provider_omics.links.omics import OmicsAnalysisLink, OmicsConsoleLink
from airflow_provider_omics.operators.base import OmicsJobOperator, Started
from airflow_provider_omics.operators.lineage_mixin import LineageMixin
from airflow_provider_omics.operators.preflight import PreflightMixin
from airflow_provider_omics.operators.right_sizing import RightSizing, draw, tell
from airflow_provider_omics.service_model import operation
from airflow_provider_omics.workflow_definition import zip_definition

DIGEST_TAG = "airflow-provider-omics:definition-sha256"
LIVE = ("ACTIVE", "CREATING", "UPDATING")
# The service writes a run's manifest as the run ends, maybe moments after its status says so.
MANIFEST_WAIT = 60
# StartRunBatch's inlineSettings holds at most this many runs; more go through s3UriSettings.
INLINE_RUNS = 100


class _DefinitionOperator(OmicsJobOperator):
    """Or give ``definition_uri`` (an S3 URI of a .zip) or ``definition_repository`` as the API allows.

    :param definition_path: the workflow definition as a local path (templated), sent as ``definitionZip``:
        a ``.zip`` as it is, or one workflow file, or a folder, zipped. A folder's main file is ``main`` if
        given, else its only top-level ``.wdl`` / ``.nf`` / ``.cwl`` file, else the top-level one named
        ``main.*``; with several and none named so, set ``main``.
    """

    extra_template_fields: ClassVar[Sequence[str]] = ("definition_path",)
    definition_zip: bytes | None
    main: str | None

    def __init__(self, *, definition_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.definition_path = definition_path

    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        if self.definition_path:
            zipped, main = zip_definition(self.definition_path)
            self.definition_zip = zipped
            self.main = self.main or main
            if self.main is None and not self.definition_path.endswith(".zip"):
                raise ValueError(
                    f"definition_path: {self.definition_path} has several workflow files at its top and none "
                    "named main.*: set main"
                )
        return super().build_requests(context)


class OmicsCreateWorkflowOperator(PreflightMixin, _DefinitionOperator):
    """Create a private workflow and wait until it is ACTIVE, or reuse the one that holds this definition.
    XCom: ``GetWorkflow`` (``["id"]``), and ``versionName`` when ``version_name`` is given.

    A DAG that runs every day keeps one workflow: a private workflow of the same ``name`` whose definition
    is the same (its digest, kept in the tag ``airflow-provider-omics:definition-sha256``) is reused, not
    created again, and so is a version of it that holds the definition. With ``version_name``, the
    definition is always in a version (the first release's too) and a changed definition becomes a new
    version (``CreateWorkflowVersion``); without one, a changed definition is refused. Runs pin the
    version with ``workflow_version_name=workflow.output["versionName"]``.

    :param version_name: the version that holds this definition when none does yet (templated; e.g. a
        release tag). A version of that name holding another definition is refused.
    :param reuse_existing: look for the workflow before creating one (default True); False always creates.
    """

    kind = "workflow"
    extra_template_fields = ("definition_path", "version_name")
    name: str | None
    definition_uri: str | None
    definition_repository: dict[str, Any] | None

    def __init__(self, *, version_name: str | None = None, reuse_existing: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.version_name, self.reuse_existing = version_name, reuse_existing
        self.digest: str | None = None

    def start(self, context: Any, chunk: int, request: dict[str, Any]) -> Started:
        if not self.reuse_existing:
            return super().start(context, chunk, request)
        self.digest = self.definition_digest(request)
        request = {**request, "tags": {**(request.get("tags") or {}), DIGEST_TAG: self.digest}}
        named = [
            self.hook.call("GetWorkflow", id=item["id"])
            for item in self.hook.paginate("ListWorkflows", type="PRIVATE", name=request["name"])
            if item.get("name") == request["name"] and item.get("status") in LIVE
        ]
        for workflow in named:
            held = self.version_holding(workflow)
            if held:
                self.log.info("Reusing version %s of workflow %s: the same definition", held, workflow["id"])
                return self.pinned(workflow, held)
            if (workflow.get("tags") or {}).get(DIGEST_TAG) == self.digest:
                self.log.info("Reusing workflow %s (%s): the same definition", workflow["id"], workflow["name"])
                return Started({"id": workflow["id"]}, workflow)
        if not named:
            return super().start(context, chunk, request)
        newest = max(named, key=lambda workflow: workflow["creationTime"])
        if not self.version_name:
            raise ValueError(
                f"{type(self).__name__} ({self.task_id}): workflow {newest['id']} ({newest['name']}) exists with "
                "another definition: give version_name to add this definition as a new version of it, or another "
                "name for a new workflow"
            )
        self.new_version(context, chunk, newest["id"], request)
        return self.pinned(newest, str(self.version_name))

    def completed(self, context: Any, output: Any) -> Any:
        """A workflow just created (or found holding the definition itself) gets its version ``version_name``."""
        if not self.version_name or "versionName" in output or not self.reuse_existing:
            return output
        request = self.build_requests(context)[0]  # again: a deferred task resumes in a new operator
        self.digest = self.digest or self.definition_digest(request)
        self.new_version(context, 0, output["id"], {**request, "tags": {DIGEST_TAG: self.digest}})
        return self.pinned(output, str(self.version_name)).described

    def version_holding(self, workflow: Mapping[str, Any]) -> str | None:
        """The version of the workflow whose definition is this one, if any."""
        for version in self.hook.paginate("ListWorkflowVersions", workflowId=workflow["id"]):
            name = version["versionName"]
            described = self.hook.call("GetWorkflowVersion", workflowId=workflow["id"], versionName=name)
            if described.get("status") in LIVE and (described.get("tags") or {}).get(DIGEST_TAG) == self.digest:
                return str(name)
        return None

    def new_version(self, context: Any, chunk: int, workflow_id: str, request: Mapping[str, Any]) -> None:
        """The definition as version ``version_name`` of the workflow, unless that version holds it already
        (refused if it holds another)."""
        ids: dict[str, Any] = {"workflowId": workflow_id, "versionName": self.version_name}
        try:
            taken = self.hook.call("GetWorkflowVersion", **ids)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        else:
            if (taken.get("tags") or {}).get(DIGEST_TAG) != self.digest:
                raise ValueError(
                    f"{type(self).__name__} ({self.task_id}): version {self.version_name} of workflow {workflow_id} "
                    f"holds another definition ({taken['status']}): give a new version_name"
                )
            return
        accepted = operation("CreateWorkflowVersion").input_shape.members
        version = {key: value for key, value in request.items() if key in accepted and key != "requestId"}
        token = next(self.tokens(context, chunk, {**version, **ids}))
        self.hook.call("CreateWorkflowVersion", **version, **ids, requestId=token)
        self.log.info("Created version %s of workflow %s for this definition", self.version_name, workflow_id)

    def pinned(self, workflow: Mapping[str, Any], version_name: str) -> Started:
        """The workflow with the version that holds the definition, once that version is ACTIVE."""
        ids: dict[str, Any] = {"workflowId": workflow["id"], "versionName": version_name}
        self.hook.wait_with(self.wait_settings, job_kind("workflow_version"), [ids])
        return Started({"id": workflow["id"]}, {**workflow, "versionName": version_name})

    def definition_digest(self, request: Mapping[str, Any]) -> str:
        """What identifies the definition: the zip's SHA-256, or the S3 object's (by its ETag), or the
        repository reference."""
        if request.get("definitionZip"):
            return hashlib.sha256(request["definitionZip"]).hexdigest()
        if request.get("definitionUri"):
            bucket, key = locations.s3_parts(request["definitionUri"])
            etag = self.hook.client_of("s3").head_object(Bucket=bucket, Key=key)["ETag"]
            return hashlib.sha256(f"{request['definitionUri']}#{etag}".encode()).hexdigest()
        return hashlib.sha256(json.dumps(request.get("definitionRepository"), sort_keys=True).encode()).hexdigest()


class OmicsCreateWorkflowVersionOperator(PreflightMixin, _DefinitionOperator):
    """Create a version of a workflow and wait until it is ACTIVE."""

    kind = "workflow_version"


class OmicsCreateRunGroupOperator(OmicsJobOperator):
    """Create a run group (limits on CPUs, GPUs, runs and duration). XCom: its ``id`` and ``arn``."""

    operation = "CreateRunGroup"


class OmicsCreateRunCacheOperator(OmicsJobOperator):
    """Create a run cache in S3 and wait until it is ACTIVE. XCom: ``GetRunCache`` (``["id"]``)."""

    kind = "run_cache"


class OmicsStartRunOperator(PreflightMixin, OmicsJobOperator):
    """Start a workflow run and wait until it ends. XCom: ``GetRun`` (``id``, ``status``, ``runOutputUri``).

    ``parameters`` is a dict, or the path of a ``.json`` file (templated, found like any Jinja template).
    ``run_id`` re-runs that run: its settings, overridden by the arguments given. A run that completed
    adds ``summary`` to the XCom: its tasks with their resources and run time, CPU / memory / GPU hours,
    storage, and the objects it wrote (``usage.run_summary``), and ``summary["analysis"]``: what each task
    used of what it reserved and what it should reserve (``right_sizing.analyze_run``, from the run manifest;
    told in the task log too). A run that failed fails the task naming its failed tasks, with the tail of
    their logs.

    :param retry_with_cache: keep the finished tasks of a run that fails, so that the task's retry (a new
        run) takes them from the cache instead of computing them again. Needs ``cache_id`` (a run cache,
        e.g. from ``OmicsCreateRunCacheOperator``); sets ``cache_behavior="CACHE_ON_FAILURE"`` unless given,
        which caches only failed runs' tasks (``CACHE_ALWAYS`` would also reuse tasks of runs that succeeded).
    :param price_table: USD per hour of each instance type (``{"omics.c.large": 0.1, ...}``) and per GiB-hour
        of STATIC run storage (``static_storage_gib_hour``) for the summary's ``estimatedCost``. Without it the
        prices come from the AWS Price List API (``pricing:GetProducts``). No price is ever assumed: with one
        missing, or the price list unreadable, the cost says what is missing.
    :param analyze: add the run's right-sizing analysis to the summary (default True; needs
        ``logs:GetLogEvents`` on ``/aws/omics/WorkflowLog``; a manifest that cannot be read leaves
        ``analysisNotRead``, never a failed task).
    :param headroom: added over each task's peak before sizing, 0 to 1 (default 0, as AWS's run analyzer).
    :param pictures: draw the run's timeline (PNG and interactive HTML; the ``pictures`` extra), linked
        from the task (default False).
    :param pictures_to: an ``s3://`` prefix or a local folder for the pictures and config (templated;
        default ``<runOutputUri>/analysis/``).
    :param write_config: write the recommended resources as ``runtime.wdl`` or ``nextflow.config`` there.
    """

    kind = "run"
    parameters: Any
    cache_id: str | None
    cache_behavior: str | None
    run_id: str | None
    role_arn: str | None
    output_uri: str | None
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"parameters": "json"}
    extra_template_fields = ("pictures_to",)
    operator_extra_links = (OmicsConsoleLink(), OmicsAnalysisLink())

    def __init__(
        self,
        *,
        retry_with_cache: bool = False,
        price_table: Mapping[str, float] | None = None,
        analyze: bool = True,
        headroom: float = 0.0,
        pictures: bool = False,
        pictures_to: str | None = None,
        write_config: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry_with_cache = retry_with_cache
        self.price_table = price_table
        owner = f"{type(self).__name__} ({self.task_id})"
        if not isinstance(analyze, bool):
            raise ValueError(f"{owner}: analyze must be True or False, got {analyze!r}")
        self.analyze = analyze
        self.right_sizing = RightSizing(owner, headroom, pictures=pictures, write_config=write_config)
        self.pictures_to = pictures_to
        if retry_with_cache:
            if not self.cache_id:
                raise ValueError(
                    f"{type(self).__name__} ({self.task_id}): retry_with_cache needs cache_id, the run cache that "
                    "keeps the finished tasks (create one with OmicsCreateRunCacheOperator)"
                )
            self.cache_behavior = self.cache_behavior or "CACHE_ON_FAILURE"

    def completed(self, context: Any, output: Any) -> Any:
        if output.get("status") != "COMPLETED":
            return output
        prices = usage.prices_for(self.hook, self.price_table)
        try:
            summary = usage.run_summary(self.hook, output["id"], output, prices=prices)
        except Exception:  # the run completed: a summary it cannot have does not fail the task
            self.log.warning("No usage summary for run %s", output["id"], exc_info=True)
            return output
        if self.analyze:
            summary.update(self._analysis(context, output, prices))
        return {**output, "summary": json_safe(summary)}

    def _analysis(self, context: Any, run: dict[str, Any], prices: usage.Prices) -> dict[str, Any]:
        try:
            report = right_sizing.analyze_run(
                self.hook, run["id"], run, self.right_sizing.sizing, prices.table, wait_for_manifest=MANIFEST_WAIT
            )
        except Exception as error:  # e.g. no logs:GetLogEvents: the run still completed
            self.log.warning("No analysis of run %s: its manifest was not read (%s)", run["id"], error)
            return {"analysisNotRead": str(error)}
        tell(self.log, report)
        drawn = draw("run", report, self.log) if self.right_sizing.pictures else {}
        output_uri = report.get("runOutputUri")
        folder = self.pictures_to or (f"{output_uri.rstrip('/')}/analysis/" if output_uri else None)
        return {"analysis": self.right_sizing.publish(self, context, report, folder, drawn)}

    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        if isinstance(self.parameters, str):
            try:
                self.parameters = json.loads(self.parameters)
            except ValueError as exc:
                raise ValueError(f"parameters: not a JSON object nor a .json file that holds one: {exc}") from exc
        if self.run_id and not (self.role_arn and self.output_uri):
            # The service wants both even for a re-run: take them from the run being repeated.
            original = self.hook.describe("run", id=self.run_id)
            self.role_arn = self.role_arn or original["roleArn"]
            self.output_uri = self.output_uri or original["outputUri"]
        return super().build_requests(context)

    def lineage_request(self) -> dict[str, Any]:
        request = self.requested()
        if isinstance(request.get("parameters"), str):  # not parsed yet: asked at the task's start
            try:
                request["parameters"] = json.loads(request["parameters"])
            except ValueError:
                request.pop("parameters")
        return request


class OmicsStartRunBatchOperator(PreflightMixin, OmicsJobOperator):
    """Start a run batch (``StartRunBatch``) and wait until it is PROCESSED.

    ``batch_run_settings`` is ``{"inlineSettings": [...]}`` (up to 100 runs), ``{"s3UriSettings": "s3://..."}``
    (a JSON list, up to 100,000), or a list of run settings (e.g. from an upstream task): a list longer than the
    inline limit is written to ``<outputUri>/batch-settings/<digest>.json`` and given as ``s3UriSettings``.

    XCom: ``GetBatch``, ``runCounts`` (runs by final status), ``failedRuns`` (each failed or cancelled run, or one
    that could not be submitted, by its ``runSettingId``: ``{"runId", "status", "failureReason", "statusMessage"}``)
    and the whole ``runSettingId`` -> run map: ``runs`` inline for inline settings, else written as JSON beside the
    settings (``<settings>-runs.json``), its URI in ``runsUri``. A batch with failed or cancelled
    runs fails the task naming each of them (unless ``fail_on_partial_success=False``).
    """

    kind = "run_batch"
    # What the operator takes beyond the model's BatchRunSettings (its signature, ``make stubs``).
    also_accepts: ClassVar[Mapping[str, Sequence[str]]] = {"batch_run_settings": ["Sequence[InlineSetting | XComArg]"]}
    batch_run_settings: Any
    default_run_setting: dict[str, Any] | None

    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        if isinstance(self.batch_run_settings, Sequence) and not isinstance(self.batch_run_settings, str):
            listed = list(self.batch_run_settings)  # an upstream task's list comes as a lazy sequence
            if len(listed) <= INLINE_RUNS:
                self.batch_run_settings = {"inlineSettings": listed}
            else:
                self.batch_run_settings = {"s3UriSettings": self.write_settings(listed)}
        if isinstance(self.batch_run_settings, Mapping) and self.batch_run_settings.get("s3UriSettings"):
            self.checks["settingsUri"] = self.batch_run_settings["s3UriSettings"]  # kept across a deferral
        return super().build_requests(context)

    def write_settings(self, settings: list[dict[str, Any]]) -> str:
        """The settings as a JSON file under the batch's output URI, named by their digest (a retry reuses it)."""
        output = (self.default_run_setting or {}).get("outputUri")
        if not output:
            raise ValueError(
                f"{type(self).__name__} ({self.task_id}): batch_run_settings: {len(settings)} runs are more than "
                f"{INLINE_RUNS} inline; they are written under default_run_setting's outputUri, which is not given"
            )
        body = json.dumps(settings, sort_keys=True, default=str).encode()
        uri = f"{output.rstrip('/')}/batch-settings/{hashlib.sha256(body).hexdigest()[:16]}.json"
        bucket, key = locations.s3_parts(uri)
        self.hook.client_of("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        self.log.info("%d run settings (over the inline limit of %d) written to %s", len(settings), INLINE_RUNS, uri)
        return uri

    def result(self, described: list[dict[str, Any]], carried: list[list[dict[str, Any]]] | None = None) -> Any:
        output = super().result(described, carried)
        runs = diagnostics.batch_runs(self.hook, output["id"])
        counts: dict[str, int] = {}
        for run in runs.values():
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        failed = {setting: run for setting, run in runs.items() if run["status"] in diagnostics.BATCH_RUN_FAILURES}
        summary = {**output, "runCounts": counts, "failedRuns": failed}
        settings_uri = self.checks.get("settingsUri")
        if not settings_uri:
            return {**summary, "runs": runs}
        uri = f"{settings_uri.removesuffix('.json')}-runs.json"
        bucket, key = locations.s3_parts(uri)
        self.hook.client_of("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(runs).encode())
        self.log.info("%d runs of batch %s: %s; the run of each setting: %s", len(runs), output["id"], counts, uri)
        return {**summary, "runsUri": uri}


class OmicsCancelRunOperator(LineageMixin, AwsBaseOperator[OmicsHook]):
    """Cancel a run by id; with ``wait_for_completion`` (default), wait until it is CANCELLED.

    :param run_id: the run to cancel (templated).
    :param wait_for_completion: wait until the run has ended (default True).
    :param waiter_delay: seconds between two status polls (default 10).
    :param waiter_max_attempts: polls before giving up (default 360).

    XCom: the run's ``GetRun`` output after cancelling.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("run_id")
    lineage_operation: ClassVar[str] = "CancelRun"

    def __init__(
        self,
        *,
        run_id: str,
        wait_for_completion: bool = True,
        waiter_delay: float = 10,
        waiter_max_attempts: int = 360,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.wait_for_completion = wait_for_completion
        self.wait_settings = polling.WaitSettings.of(
            f"{type(self).__name__} ({self.task_id})", delay=waiter_delay, max_attempts=waiter_max_attempts
        )

    def execute(self, context: Any) -> Any:
        with self.reporting_failure():
            return self.finished(context, self._cancel())

    def _cancel(self) -> Any:
        self.hook.cancel("run", id=self.run_id)
        self.log.info("Cancel requested for run %s", self.run_id)
        if not self.wait_for_completion:
            return json_safe(self.hook.describe("run", id=self.run_id))
        # CANCELLED is what this task asked for: a success here, not the failure it is in other waits.
        try:  # it completed before the cancel took
            return json_safe(self.hook.wait_with(self.wait_settings, job_kind("run"), [{"id": self.run_id}])[0])
        except OmicsJobFailed as ended:
            if ended.status != "CANCELLED":
                raise
            return json_safe(ended.described)

    def lineage_request(self) -> dict[str, Any]:
        return {"id": self.run_id}


class OmicsListRunsOperator(LineageMixin, AwsBaseOperator[OmicsHook]):
    """List runs (``ListRuns``, every page) by ``run_group_id``, ``status``, ``name`` or ``batch_id``.

    :param run_group_id: only the runs of this run group (templated).
    :param status: only runs in this status, e.g. ``FAILED`` (templated).
    :param name: only runs of this name (templated).
    :param batch_id: only the runs of this run batch (templated).

    XCom: the run summaries (``id``, ``name``, ``status``, ...), e.g. to re-run the failed ones.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("run_group_id", "status", "name", "batch_id")
    lineage_operation: ClassVar[str] = "ListRuns"

    def __init__(
        self,
        *,
        run_group_id: str | None = None,
        status: str | None = None,
        name: str | None = None,
        batch_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_group_id, self.status, self.name, self.batch_id = run_group_id, status, name, batch_id

    def execute(self, context: Any) -> Any:
        filters = {"runGroupId": self.run_group_id, "status": self.status, "name": self.name, "batchId": self.batch_id}
        filters = {k: v for k, v in filters.items() if v}
        runs = json_safe(list(self.hook.list_runs(**filters)))
        self.log.info("%d runs match %s", len(runs), filters)
        return self.finished(context, runs)

"""Pre-flight checks in a DAG: ``OmicsPreflightOperator``, and ``preflight=True`` on the operators that create a
workflow or start runs (``PreflightMixin``): every finding at once, before anything is created or started."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, cast

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics import locations, preflight, workflow_definition
from airflow_provider_omics.errors import PreflightFailed
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.preflight import Finding, RunPlan
from airflow_provider_omics.workflow_definition import Definition, zip_definition

__all__ = ["OmicsPreflightOperator", "PreflightMixin"]

XCOM_KEY = "preflight"


class Checks:
    """The checks of one task, on its hook's connection (region and account)."""

    def __init__(self, hook: OmicsHook) -> None:
        self.hook = hook
        self.region = hook.conn_region_name or "us-east-1"

    @cached_property
    def account(self) -> str:
        return str(self.client_of("sts").get_caller_identity()["Account"])

    # ---- the calls the checks make (``preflight.PreflightApi``): one client per service ----------------------
    def call(self, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]:
        return self.hook.call(operation, retry=retry, **params)

    @functools.cache  # noqa: B019 (one Checks per task)
    def client_of(self, client_type: str, region_name: str | None = None) -> Any:
        return self.hook.client_of(client_type, region_name)

    def read_s3(self, uri: str) -> bytes:
        bucket, key = locations.s3_parts(uri)
        return bytes(self.client_of("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def new_workflow(self, request: Mapping[str, Any]) -> list[Finding]:
        """A ``CreateWorkflow`` / ``CreateWorkflowVersion`` request: its definition, template and images."""
        if request.get("definitionZip"):
            archive = request["definitionZip"]
        elif request.get("definitionUri"):
            archive = self.read_s3(request["definitionUri"])
        else:
            return [
                Finding(
                    "definition",
                    "warning",
                    "definition_repository",
                    "not checked: the definition is in a repository HealthOmics reads",
                )
            ]
        definition = workflow_definition.read(archive, request.get("main"), request.get("engine"))
        registry_map = request.get("containerRegistryMap")
        if request.get("containerRegistryMapUri"):
            registry_map = json.loads(self.read_s3(request["containerRegistryMapUri"]))
        return self.definition(definition, request.get("parameterTemplate"), registry_map)

    def definition(
        self, definition: Definition, template: Mapping[str, Any] | None, registry_map: Mapping[str, Any] | None
    ) -> list[Finding]:
        """A definition's own findings, its template against its inputs, and the images it names."""
        images = [c.image for c in definition.containers if c.image]
        found = preflight.definition_findings(definition, template)
        return found + preflight.container_findings(self, images, registry_map, self.account, self.region)

    def runs(
        self,
        workflow: Mapping[str, Any],
        plans: Sequence[RunPlan],
        definition: Definition | None = None,
    ) -> list[Finding]:
        """Runs of a created workflow (``workflowId``, ``workflowVersionName``, ``workflowType``): each plan's
        checks, the workflow's own template and registry map, its definition (downloaded unless given)."""
        described, downloaded = preflight.created_workflow(
            self, workflow["workflowId"], workflow.get("workflowVersionName"), workflow.get("workflowType")
        )
        definition = definition or downloaded
        template = described.get("parameterTemplate")
        registry_map = described.get("containerRegistryMap")
        found = []
        if definition is None and described.get("type") != "READY2RUN":
            found.append(
                Finding(
                    "definition",
                    "warning",
                    workflow["workflowId"],
                    "its definition could not be downloaded: the containers and the parameters' types were not checked",
                )
            )
        return found + preflight.run_findings(
            self, plans, template, definition, registry_map, self.account, self.region
        )


def report(task: Any, context: Any, findings: list[Finding], fail_on_warning: bool = False) -> dict[str, Any]:
    """Tell every finding, push them (XCom ``preflight``), and fail the task with all errors at once."""
    errors = [f for f in findings if f.severity == "error" or fail_on_warning]
    for finding in findings:
        (task.log.error if finding in errors else task.log.warning)("Pre-flight: %s", finding)
    result = {
        "passed": not errors,
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "findings": [f.json() for f in findings],
    }
    context["ti"].xcom_push(key=XCOM_KEY, value=result)
    if errors:
        raise PreflightFailed(
            f"{type(task).__name__} ({task.task_id}): pre-flight found {len(errors)} problem(s), nothing was "
            "created or started:\n  - " + "\n  - ".join(str(f) for f in errors)
        )
    task.log.info("Pre-flight passed (%d warning(s))", result["warnings"])
    return result


def run_plan(request: Mapping[str, Any]) -> RunPlan:
    parameters = request.get("parameters") or {}
    if isinstance(parameters, str):
        parameters = json.loads(parameters)
    return RunPlan(
        parameters,
        request.get("roleArn"),
        request.get("outputUri"),
        request.get("runGroupId"),
        str(request.get("runSettingId") or ""),
    )


class PreflightMixin:
    """The pre-flight checks of ``OmicsPreflightOperator``, run by an operator before its start call.

    :param preflight: check first what would fail the job later: the task fails at once with every problem
        found, nothing created or started. The findings are XCom ``preflight``. Default False.
    """

    operation: str

    def __init__(self, *, preflight: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(preflight, bool):
            raise ValueError(f"{type(self).__name__}: preflight must be True or False, got {preflight!r}")
        self.preflight = preflight

    def before_start(self, context: Any, requests: list[dict[str, Any]]) -> None:
        if self.preflight:
            report(self, context, self.preflight_findings(Checks(cast(Any, self).hook), requests))

    def preflight_findings(self, checks: Checks, requests: list[dict[str, Any]]) -> list[Finding]:
        request = requests[0]
        if self.operation.startswith("CreateWorkflow"):
            return checks.new_workflow(request)
        if self.operation == "StartRunBatch":
            default = request["defaultRunSetting"]
            return checks.runs(default, [run_plan({**default, **s}) for s in self.batch_settings(checks, request)])
        if not request.get("workflowId"):  # a re-run by runId: the service has its settings
            return []
        return checks.runs(request, [run_plan(request)])

    @staticmethod
    def batch_settings(checks: Checks, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        settings = request["batchRunSettings"]
        if settings.get("inlineSettings") is not None:
            return list(settings["inlineSettings"])
        return list(json.loads(checks.read_s3(settings["s3UriSettings"])))


class OmicsPreflightOperator(AwsBaseOperator[OmicsHook]):
    """Check a workflow definition, or runs of a workflow, before anything is created or started.

    A check the task's identity may not make is a warning naming the permission. The task fails with every error
    at once. XCom: ``{"passed", "errors", "warnings", "findings"}``, each finding ``{"check", "severity",
    "subject", "problem", "fix"}``. What each check catches: the how-to "Check before you run".

    :param definition_path: a definition to check (templated; a .zip, a workflow file or a folder): it parses
        (WDL: parsed, type-checked and linted by miniwdl, the ``wdl`` extra; CWL: its documents and steps;
        Nextflow: what can be read without Nextflow), and every container it names is in a private ECR
        repository of the region whose policy lets HealthOmics pull it.
    :param main: the definition's main file, when a folder has several workflow files at its top (templated).
    :param parameter_template: the template the workflow will be created with: it must fit the definition's
        inputs (templated).
    :param container_registry_map: the workflow's container registry map (templated): images it maps are looked
        for where it maps them.
    :param workflow_id: a created workflow whose runs to check (templated); its template, registry map and
        definition (``GetWorkflow`` with ``export=["DEFINITION"]``) are used.
    :param workflow_version_name: the version of it the runs use (templated).
    :param workflow_type: ``PRIVATE`` (default) or ``READY2RUN`` (templated).
    :param parameters: a run's parameters (templated): every required one given, none unknown, types as the
        definition declares, each S3 input there and in the region.
    :param role_arn: the run's service role (templated): it exists, trusts ``omics.amazonaws.com``, and may
        read the inputs and write under ``output_uri`` (IAM policy simulation).
    :param output_uri: the run's output URI (templated): its bucket exists, in the region.
    :param run_group_id: the run's run group (templated): its limits can hold the run.
    :param runs: many runs at once (a plate; templated): a list of run settings (``parameters``, and
        ``runSettingId``, ``role_arn`` / ``roleArn``, ``output_uri`` / ``outputUri``, ``run_group_id``
        to override the arguments'), each checked; findings of one run name its ``runSettingId``.
    :param fail_on_warning: fail on warnings too (default False).
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields(
        "definition_path",
        "main",
        "parameter_template",
        "container_registry_map",
        "workflow_id",
        "workflow_version_name",
        "workflow_type",
        "parameters",
        "role_arn",
        "output_uri",
        "run_group_id",
        "runs",
    )
    template_fields_renderers = {"parameters": "json", "runs": "json"}
    ui_color = "#e8f5c9"

    def __init__(
        self,
        *,
        definition_path: str | None = None,
        main: str | None = None,
        parameter_template: dict[str, Any] | None = None,
        container_registry_map: dict[str, Any] | None = None,
        workflow_id: str | None = None,
        workflow_version_name: str | None = None,
        workflow_type: str | None = None,
        parameters: dict[str, Any] | None = None,
        role_arn: str | None = None,
        output_uri: str | None = None,
        run_group_id: str | None = None,
        runs: list[dict[str, Any]] | None = None,
        fail_on_warning: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not definition_path and not workflow_id:
            raise ValueError(f"{type(self).__name__} ({self.task_id}): give definition_path, workflow_id or both")
        self.definition_path, self.main = definition_path, main
        self.parameter_template, self.container_registry_map = parameter_template, container_registry_map
        self.workflow_id, self.workflow_version_name, self.workflow_type = (
            workflow_id,
            workflow_version_name,
            workflow_type,
        )
        self.parameters, self.role_arn, self.output_uri = parameters, role_arn, output_uri
        self.run_group_id, self.runs, self.fail_on_warning = run_group_id, runs, fail_on_warning

    def execute(self, context: Any) -> Any:
        checks = Checks(self.hook)
        findings: list[Finding] = []
        definition = None
        if self.definition_path:
            archive, main = zip_definition(self.definition_path)
            definition = workflow_definition.read(archive, self.main or main)  # read once: miniwdl loads it
            findings += checks.definition(definition, self.parameter_template, self.container_registry_map)
        if self.workflow_id:
            base = {
                "parameters": self.parameters or {},
                "roleArn": self.role_arn,
                "outputUri": self.output_uri,
                "runGroupId": self.run_group_id,
            }
            plans = [run_plan({**base, **_camel(each)}) for each in (self.runs or [{}])]
            workflow = {
                "workflowId": self.workflow_id,
                "workflowVersionName": self.workflow_version_name,
                "workflowType": self.workflow_type,
            }
            findings += checks.runs(workflow, plans, definition)
        return report(self, context, findings, self.fail_on_warning)


def _camel(setting: Mapping[str, Any]) -> dict[str, Any]:
    """A run's settings as ``StartRun`` names them (``role_arn`` or ``roleArn``)."""
    names = {"role_arn": "roleArn", "output_uri": "outputUri", "run_group_id": "runGroupId"}
    return {names.get(key, key): value for key, value in setting.items()}

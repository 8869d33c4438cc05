"""Analysis: workflows and their versions, run groups and caches, runs and run batches."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import job_kind
from airflow_provider_omics.operators.base import OmicsJobOperator
from airflow_provider_omics.triggers.omics import json_safe


def zip_definition(path: str) -> tuple[bytes, str | None]:
    """A workflow definition from a local path: a .zip as it is, or one file (or a folder) zipped."""
    if path.endswith(".zip"):
        with open(path, "rb") as handle:
            return handle.read(), None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if os.path.isdir(path):
            for root, _, files in os.walk(path):
                for name in files:
                    full = os.path.join(root, name)
                    archive.write(full, os.path.relpath(full, path))
            return buffer.getvalue(), None
        archive.write(path, os.path.basename(path))
    return buffer.getvalue(), os.path.basename(path)


class _DefinitionOperator(OmicsJobOperator):
    """``definition_path``: a local .zip, a single workflow file or a folder, sent as ``definitionZip``.

    Or give ``definition_uri`` (an S3 URI of a .zip) or ``definition_repository`` as the API allows.
    """

    extra_template_fields = ("definition_path",)
    definition_zip: bytes | None
    main: str | None

    def __init__(self, *, definition_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.definition_path = definition_path

    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        if self.definition_path:
            if not os.path.exists(self.definition_path):
                raise ValueError(f"definition_path: {self.definition_path} does not exist")
            zipped, main = zip_definition(self.definition_path)
            self.definition_zip = zipped
            self.main = self.main or main
        return super().build_requests(context)


class OmicsCreateWorkflowOperator(_DefinitionOperator):
    """Create a private workflow and wait until it is ACTIVE. XCom: ``GetWorkflow`` (``["id"]``)."""

    kind = "workflow"


class OmicsCreateWorkflowVersionOperator(_DefinitionOperator):
    """Create a version of a workflow and wait until it is ACTIVE."""

    kind = "workflow_version"


class OmicsCreateRunGroupOperator(OmicsJobOperator):
    """Create a run group (limits on CPUs, GPUs, runs and duration). XCom: its ``id`` and ``arn``."""

    operation = "CreateRunGroup"


class OmicsCreateRunCacheOperator(OmicsJobOperator):
    """Create a run cache in S3 and wait until it is ACTIVE. XCom: ``GetRunCache`` (``["id"]``)."""

    kind = "run_cache"


class OmicsStartRunOperator(OmicsJobOperator):
    """Start a workflow run and wait until it ends. XCom: ``GetRun`` (``id``, ``status``, ``runOutputUri``).

    ``parameters`` is a dict, or the path of a ``.json`` file (templated, found like any Jinja template).
    ``run_id`` re-runs that run: its settings, overridden by the arguments given.
    """

    kind = "run"
    parameters: Any
    run_id: str | None
    role_arn: str | None
    output_uri: str | None
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"parameters": "json"}

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


class OmicsStartRunBatchOperator(OmicsJobOperator):
    """Start a run batch (``StartRunBatch``) and wait until it is PROCESSED. XCom: ``GetBatch``."""

    kind = "run_batch"


class OmicsCancelRunOperator(AwsBaseOperator[OmicsHook]):
    """Cancel a run by id; with ``wait_for_completion`` (default), wait until it is CANCELLED.

    XCom: the run's ``GetRun`` output after cancelling.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("run_id")

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
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> Any:
        self.hook.cancel("run", id=self.run_id)
        self.log.info("Cancel requested for run %s", self.run_id)
        described = self.hook.describe("run", id=self.run_id)
        for _ in range(self.waiter_max_attempts if self.wait_for_completion else 0):
            if described["status"] in job_kind("run").terminal_states:
                break
            self.log.info("Run %s is %s", self.run_id, described["status"])
            time.sleep(self.waiter_delay)
            described = self.hook.describe("run", id=self.run_id)
        return json_safe(described)


class OmicsListRunsOperator(AwsBaseOperator[OmicsHook]):
    """List runs (``ListRuns``, every page) by ``run_group_id``, ``status``, ``name`` or ``batch_id``.

    XCom: the run summaries (``id``, ``name``, ``status``, ...), e.g. to re-run the failed ones.
    """

    aws_hook_class = OmicsHook
    template_fields: Sequence[str] = aws_template_fields("run_group_id", "status", "name", "batch_id")

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
        return runs

"""Workflows and their versions, with the Ready2Run catalogue."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import ready2run
from .base import (
    BaseBackend,
    Record,
    conflict,
    invalid,
    not_found,
    now,
)
from .definitions import ENGINES, definition_tasks, read_definition
from .templates import generated_template


class WorkflowModel(BaseBackend):
    def reset(self) -> None:
        super().reset()
        for workflow in ready2run.workflows(self.region):
            self.add("workflow", {**workflow, "creationTime": now()})

    # ---- workflows -----------------------------------------------------------------------------
    def _definition(self, p: dict[str, Any]) -> bytes:
        if p.get("definitionZip"):
            return bytes(p["definitionZip"])
        if p.get("definitionUri"):
            data = self.s3.read(p["definitionUri"])
            if data is None:
                raise invalid(f"definitionUri {p['definitionUri']} could not be read: NoSuchKey")
            return data
        if p.get("definitionRepository"):
            return b"workflow main {}\n"
        raise invalid("One of definitionZip, definitionUri or definitionRepository is required")

    def _workflow_fields(self, p: dict[str, Any]) -> dict[str, Any]:
        blob = self._definition(p)
        main, files = read_definition(blob, p.get("main"))
        text = files[main]
        engine = p.get("engine") or next((e for ext, e in ENGINES.items() if main.endswith(ext)), "WDL")
        return {
            "status": "CREATING",
            "statusMessage": "",
            "type": "PRIVATE",
            "description": p.get("description"),
            "engine": engine,
            "definition": p.get("definitionUri") or f"s3://omics-workflows/{hashlib.sha256(blob).hexdigest()}.zip",
            "main": main,
            "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
            "parameterTemplate": p.get("parameterTemplate") or generated_template(engine, main, files),
            "storageCapacity": p.get("storageCapacity"),
            "storageType": p.get("storageType"),
            "accelerators": p.get("accelerators"),
            "creationTime": now(),
            "tags": p.get("tags") or {},
            "metadata": {},
            "uuid": self.uuid(),
            "readme": p.get("readmeMarkdown"),
            "containerRegistryMap": self._registry_map(p),
            "_tasks": definition_tasks(engine, text),
            "_zip": blob,
        }

    def _registry_map(self, p: dict[str, Any]) -> dict[str, Any] | None:
        if not p.get("containerRegistryMapUri"):
            return p.get("containerRegistryMap")
        data = self.s3.read(p["containerRegistryMapUri"])
        if data is None:
            raise invalid(f"containerRegistryMapUri {p['containerRegistryMapUri']} could not be read: NoSuchKey")
        try:
            return dict(json.loads(data))
        except ValueError as exc:
            raise invalid(
                f"containerRegistryMapUri {p['containerRegistryMapUri']} is not a JSON object: {exc}"
            ) from None

    def exported(self, record: Record, p: dict[str, Any]) -> Record:
        """``export=["DEFINITION"]``: ``definition`` is a URL the definition zip is downloaded from, as the
        service's presigned URL (served by the emulator's control API)."""
        if "DEFINITION" not in (p.get("export") or []) or not self.endpoint_url:
            return record
        return {**record, "definition": f"{self.endpoint_url}/_emulator/workflow-definitions/{record['digest']}"}

    def definition_zip(self, digest: str) -> bytes | None:
        tables = [self.table("workflow"), self.table("workflow_version")]
        return next((r["_zip"] for table in tables for r in table.values() if r.get("digest") == digest), None)

    def create_workflow(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id(7)
            workflow = {
                "id": ident,
                "arn": self.arn(f"workflow/{ident}"),
                "name": p.get("name"),
                **self._workflow_fields(p),
            }
            self.add("workflow", workflow)
            self.schedule("workflow", workflow, ["ACTIVE"])
            return workflow

        return self.once("CreateWorkflow", p["requestId"], create)

    def get_workflow(self, p: dict[str, Any]) -> Record:
        """A workflow of the type asked for (PRIVATE unless told): a Ready2Run id asked for as PRIVATE is
        "not found", as the service answers it."""
        workflow = self.get("workflow", p["id"], "Workflow")
        if workflow.get("type", "PRIVATE") != (p.get("type") or "PRIVATE"):
            raise not_found("Workflow", p["id"])
        return self.exported(workflow, p)

    def list_workflows(self, p: dict[str, Any]) -> Record:
        # Without a type, the account's own workflows; READY2RUN lists the catalogue.
        return {"items": self.records("workflow", name=p.get("name"), type=p.get("type") or "PRIVATE")}

    def update_workflow(self, p: dict[str, Any]) -> Record:
        workflow = self.get_workflow(p)
        for key in ("name", "description", "storageType", "storageCapacity"):
            if key in p:
                workflow[key] = p[key]
        return {}

    def delete_workflow(self, p: dict[str, Any]) -> Record:
        self.set_status(self.get_workflow(p), "DELETED", final=True)
        return {}

    def create_workflow_version(self, p: dict[str, Any]) -> Record:
        workflow = self.get_workflow({"id": p["workflowId"]})
        key = f"{p['workflowId']}/{p['versionName']}"
        if key in self.table("workflow_version") and not self.tokens.get(("CreateWorkflowVersion", p["requestId"])):
            raise conflict(f"Workflow {p['workflowId']} already has a version {p['versionName']}")

        def create() -> Record:
            version = {
                "_key": key,
                "arn": f"{workflow['arn']}/version/{p['versionName']}",
                "workflowId": p["workflowId"],
                "versionName": p["versionName"],
                "workflowBucketOwnerId": p.get("workflowBucketOwnerId"),
                **self._workflow_fields(p),
            }
            self.add("workflow_version", version, key="_key")
            self.schedule("workflow_version", version, ["ACTIVE"])
            return version

        return self.once("CreateWorkflowVersion", p["requestId"], create)

    def get_workflow_version(self, p: dict[str, Any]) -> Record:
        version = self.get("workflow_version", f"{p['workflowId']}/{p['versionName']}", "Workflow version")
        return self.exported(version, p)

    def list_workflow_versions(self, p: dict[str, Any]) -> Record:
        self.get_workflow({"id": p["workflowId"]})
        versions = self.records("workflow_version", workflowId=p["workflowId"])
        return {"items": versions}

    def update_workflow_version(self, p: dict[str, Any]) -> Record:
        version = self.get_workflow_version(p)
        for key in ("description", "storageType", "storageCapacity"):
            if key in p:
                version[key] = p[key]
        return {}

    def delete_workflow_version(self, p: dict[str, Any]) -> Record:
        self.set_status(self.get_workflow_version(p), "DELETED", final=True)
        return {}

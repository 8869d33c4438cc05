"""Import, export and activation jobs of sequence and reference stores."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from typing import Any

from .base import Record, not_found, now
from .read_sets import ReadSetModel, content_summary
from .stores import in_range


def _summarize(items: list[Record], done: str, failed: str, label: str) -> tuple[str, str]:
    """(job status, message) from its items' statuses, as the service reports partial failures."""
    bad = sum(1 for item in items if item["status"] == failed)
    if bad == 0:
        return "COMPLETED", ""
    if bad == len(items):
        return "FAILED", f"All {len(items)} {label} failed"
    return "COMPLETED_WITH_FAILURES", f"{bad} of {len(items)} {label} failed"


def fasta_index(data: bytes) -> bytes:
    """The reference's INDEX, as the service makes it: a samtools ``.fai`` (name, length, offset of the first
    base, bases per line, bytes per line), one line per sequence."""
    rows, offset = [], 0
    current: list[Any] | None = None
    for line in data.splitlines(keepends=True):
        if line.startswith(b">"):
            if current:
                rows.append(current)
            current = [line[1:].split()[0].decode() if line[1:].split() else "", 0, offset + len(line), 0, 0]
        elif current is not None and line.strip():
            if not current[3]:
                current[3], current[4] = len(line.rstrip(b"\r\n")), len(line)
            current[1] += len(line.rstrip(b"\r\n"))
        offset += len(line)
    if current:
        rows.append(current)
    return "".join("\t".join(map(str, row)) + "\n" for row in rows).encode()


class StoreJobModel(ReadSetModel):
    def _start_job(
        self,
        operation: str,
        kind: str,
        p: dict[str, Any],
        fields: dict[str, Any],
        finish: Callable[[Record], str],
        start: Callable[[Record], None] | None = None,
    ) -> Record:
        """Every store job: created SUBMITTED (once per client token), then IN_PROGRESS, then ``finish``es."""

        def create() -> Record:
            job = {"id": self.numeric_id(), **fields, "status": "SUBMITTED", "statusMessage": ""}
            job.update(creationTime=now(), completionTime=None)
            self.add(kind, job)
            self.schedule(kind, job, [("IN_PROGRESS", start or self._start_items), ("COMPLETED", finish)])
            return job

        return self.once(operation, p.get("clientToken"), create)

    # ---- read-set import -----------------------------------------------------------------------
    def start_read_set_import_job(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])
        fields = {
            "sequenceStoreId": p["sequenceStoreId"],
            "roleArn": p["roleArn"],
            "sources": [{**source, "status": "NOT_STARTED"} for source in p["sources"]],
            "_names": [s.get("name") for s in p["sources"]],
        }
        return self._start_job("StartReadSetImportJob", "read_set_import", p, fields, self._finish_read_set_import)

    @staticmethod
    def _start_items(job: Record) -> None:
        for item in job.get("sources") or job.get("readSets") or []:
            item["status"] = "IN_PROGRESS"

    def _finish_read_set_import(self, job: Record) -> str:
        for source in job["sources"]:
            files: dict[str, list[bytes]] = {}
            for slot, uri in source["sourceFiles"].items():
                data = self.s3.read(uri)
                if data is None:
                    source.update(status="FAILED", statusMessage=f"Source file {uri} could not be read: NoSuchKey")
                    break
                files[slot.upper()] = [data]
            else:
                read_set = self._new_read_set(
                    job["sequenceStoreId"],
                    source,
                    files,
                    creationType="IMPORT",
                    creationJobId=job["id"],
                    _filenames={s.upper(): posixpath.basename(u) for s, u in source["sourceFiles"].items()},
                )
                source.update(status="FINISHED", statusMessage="", readSetId=read_set["id"])
        status, job["statusMessage"] = _summarize(job["sources"], "FINISHED", "FAILED", "sources")
        return status

    def get_read_set_import_job(self, p: dict[str, Any]) -> Record:
        return self._job("read_set_import", p["id"], "sequenceStoreId", p["sequenceStoreId"])

    def _job(self, kind: str, ident: str, parent_field: str, parent: str) -> Record:
        job = self.get(kind, ident, "Job")
        if job[parent_field] != parent:
            raise not_found("Job", ident)
        return job

    def _list_jobs(self, kind: str, parent_field: str, p: dict[str, Any], key: str) -> Record:
        flt = p.get("filter") or {}
        jobs = self.records(kind, status=flt.get("status"), **{parent_field: p[parent_field]})
        return {key: [j for j in jobs if in_range(j, flt)]}

    def list_read_set_import_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("read_set_import", "sequenceStoreId", p, "importJobs")

    # ---- read-set export -----------------------------------------------------------------------
    def start_read_set_export_job(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])
        fields = {
            "sequenceStoreId": p["sequenceStoreId"],
            "destination": p["destination"],
            "roleArn": p["roleArn"],
            "readSets": [{"id": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
        }
        return self._start_job("StartReadSetExportJob", "read_set_export", p, fields, self._finish_export)

    def _finish_export(self, job: Record) -> str:
        destination = job["destination"].rstrip("/")
        for item in job["readSets"]:
            read_set = self.table("read_set").get(item["id"])
            if read_set is None or read_set["sequenceStoreId"] != job["sequenceStoreId"]:
                item.update(status="FAILED", statusMessage=f"Read set {item['id']} not found")
                continue
            if read_set["status"] != "ACTIVE":
                item.update(status="FAILED", statusMessage=f"Read set {item['id']} is {read_set['status']}")
                continue
            for slot, uri in read_set["_files"].items():
                filename = posixpath.basename(uri)
                self.s3.write(f"{destination}/{item['id']}/{filename}", self.read_set_content(read_set, slot))
            item.update(status="FINISHED", statusMessage="")
        status, job["statusMessage"] = _summarize(job["readSets"], "FINISHED", "FAILED", "read sets")
        return status

    def get_read_set_export_job(self, p: dict[str, Any]) -> Record:
        return self._job("read_set_export", p["id"], "sequenceStoreId", p["sequenceStoreId"])

    def list_read_set_export_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("read_set_export", "sequenceStoreId", p, "exportJobs")

    # ---- read-set activation -------------------------------------------------------------------
    def start_read_set_activation_job(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])
        fields = {
            "sequenceStoreId": p["sequenceStoreId"],
            "sources": [{"readSetId": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
        }
        return self._start_job(
            "StartReadSetActivationJob", "read_set_activation", p, fields, self._finish_activation, self._activate
        )

    def _activate(self, job: Record) -> None:
        self._start_items(job)
        for item in job["sources"]:
            read_set = self.table("read_set").get(item["readSetId"])
            if read_set and read_set["status"] == "ARCHIVED":
                self.set_status(read_set, "ACTIVATING", at=self.step_time)

    def _finish_activation(self, job: Record) -> str:
        for item in job["sources"]:
            read_set = self.table("read_set").get(item["readSetId"])
            if read_set is None or read_set["sequenceStoreId"] != job["sequenceStoreId"]:
                item.update(status="FAILED", statusMessage=f"Read set {item['readSetId']} not found")
            else:
                self.set_status(read_set, "ACTIVE", at=self.step_time)
                item.update(status="FINISHED", statusMessage="")
        status, job["statusMessage"] = _summarize(job["sources"], "FINISHED", "FAILED", "read sets")
        return status

    def get_read_set_activation_job(self, p: dict[str, Any]) -> Record:
        return self._job("read_set_activation", p["id"], "sequenceStoreId", p["sequenceStoreId"])

    def list_read_set_activation_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("read_set_activation", "sequenceStoreId", p, "activationJobs")

    # ---- references ----------------------------------------------------------------------------
    def start_reference_import_job(self, p: dict[str, Any]) -> Record:
        self.get_reference_store({"id": p["referenceStoreId"]})
        fields = {
            "referenceStoreId": p["referenceStoreId"],
            "roleArn": p["roleArn"],
            "sources": [{**source, "status": "NOT_STARTED"} for source in p["sources"]],
            "_names": [s.get("name") for s in p["sources"]],
        }
        return self._start_job("StartReferenceImportJob", "reference_import", p, fields, self._finish_reference_import)

    def _finish_reference_import(self, job: Record) -> str:
        for source in job["sources"]:
            data = self.s3.read(source["sourceFile"])
            if data is None:
                source.update(
                    status="FAILED",
                    statusMessage=f"Source file {source['sourceFile']} could not be read: NoSuchKey",
                )
                continue
            if not data.lstrip().startswith(b">"):
                source.update(status="FAILED", statusMessage=f"Source file {source['sourceFile']} is not a FASTA file")
                continue
            ident = self.numeric_id()
            store = job["referenceStoreId"]
            index = fasta_index(data)
            self.add(
                "reference",
                {
                    "id": ident,
                    "arn": self.arn(f"referenceStore/{store}/reference/{ident}"),
                    "referenceStoreId": store,
                    "md5": hashlib.md5(data).hexdigest(),
                    "status": "ACTIVE",
                    "name": source.get("name"),
                    "description": source.get("description"),
                    "creationTime": now(),
                    "updateTime": now(),
                    "files": {"source": content_summary(len(data)), "index": content_summary(len(index))},
                    "creationType": "IMPORT",
                    "creationJobId": job["id"],
                    "tags": source.get("tags") or {},
                    "_content": {"SOURCE": data, "INDEX": index},
                },
            )
            source.update(status="FINISHED", statusMessage="", referenceId=ident)
        status, job["statusMessage"] = _summarize(job["sources"], "FINISHED", "FAILED", "sources")
        return status

    def get_reference_import_job(self, p: dict[str, Any]) -> Record:
        return self._job("reference_import", p["id"], "referenceStoreId", p["referenceStoreId"])

    def list_reference_import_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("reference_import", "referenceStoreId", p, "importJobs")

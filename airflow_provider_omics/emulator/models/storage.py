"""Sequence and reference stores: read sets, references, their import / export / activation jobs, uploads."""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from airflow_provider_omics.formats import GZIP_MAGIC, etag_of, matches, sniff_file_type

from .base import ACCOUNT_ID, BaseBackend, OmicsError, Postpone, Record, conflict, invalid, not_found, now

PART_SIZE = 100 * 1024 * 1024  # what GetReadSet / GetReference serve per part
MAX_UPLOAD_PART = 100 * 1024 * 1024  # "Each part cannot be larger than 100 MB" (CreateMultipartReadSetUpload)
SINGLE_SOURCE = {"BAM", "UBAM", "CRAM"}  # file types with SOURCE1 only: FASTQ may be paired


def _content_summary(length: int, s3_uri: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "totalParts": max(1, -(-length // PART_SIZE)),
        "partSize": PART_SIZE,
        "contentLength": length,
    }
    if s3_uri:
        summary["s3Access"] = {"s3Uri": s3_uri}
    return summary


def _in_background(work: Callable[[], dict[str, Any]]) -> Future[dict[str, Any]]:
    future: Future[dict[str, Any]] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except Exception as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name="omics-emulator-ingest", daemon=True).start()
    return future


def _file_name(slot: str, file_type: str) -> str:
    return f"{slot.lower()}.{file_type.lower()}"


def _sequence_information(file_type: str, contents: list[bytes]) -> dict[str, Any]:
    reads = bases = 0
    if file_type == "FASTQ":
        for content in contents:
            if content.startswith(GZIP_MAGIC):
                content = gzip.decompress(content)
            sequences = content.split(b"\n")[1::4]
            reads += len(sequences)
            bases += sum(map(len, sequences))
    return {"totalReadCount": reads, "totalBaseCount": bases, "generatedFrom": "", "alignment": "UNALIGNED"}


def _summarize(items: list[Record], done: str, failed: str, label: str) -> tuple[str, str]:
    """(job status, message) from its items' statuses, as the service reports partial failures."""
    bad = sum(1 for item in items if item["status"] == failed)
    if bad == 0:
        return "COMPLETED", ""
    if bad == len(items):
        return "FAILED", f"All {len(items)} {label} failed"
    return "COMPLETED_WITH_FAILURES", f"{bad} of {len(items)} {label} failed"


def _in_range(record: Record, flt: dict[str, Any]) -> bool:
    created = record.get("creationTime")
    after, before = flt.get("createdAfter"), flt.get("createdBefore")
    return not ((after and created < after) or (before and created > before))


class StorageModel(BaseBackend):
    # ---- sequence stores -----------------------------------------------------------------------
    def create_sequence_store(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id()
            store = {
                "id": ident,
                "arn": self.arn(f"sequenceStore/{ident}"),
                "name": p["name"],
                "description": p.get("description"),
                "sseConfig": p.get("sseConfig") or {"type": "KMS", "keyArn": self.kms_key_arn()},
                "creationTime": now(),
                "updateTime": now(),
                "fallbackLocation": p.get("fallbackLocation"),
                "eTagAlgorithmFamily": p.get("eTagAlgorithmFamily", "MD5up"),
                "status": "CREATING",
                "statusMessage": "",
                "tags": p.get("tags") or {},
                "propagatedSetLevelTags": p.get("propagatedSetLevelTags"),
                "s3Access": {
                    "s3Uri": f"s3://{ident}-{self.region}-omics-store/{ACCOUNT_ID}/sequenceStore/{ident}/",
                    "s3AccessPointArn": f"arn:aws:s3:{self.region}:{ACCOUNT_ID}:accesspoint/{ident}",
                },
            }
            self.add("sequence_store", store)
            self.schedule("sequence_store", store, ["ACTIVE"])
            return store

        return self.once("CreateSequenceStore", p.get("clientToken"), create)

    def kms_key_arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/omics-owned"

    def get_sequence_store(self, p: dict[str, Any]) -> Record:
        return self.get("sequence_store", p["id"], "Sequence store")

    def list_sequence_stores(self, p: dict[str, Any]) -> Record:
        flt = p.get("filter") or {}
        stores = [
            s
            for s in self.records("sequence_store", name=flt.get("name"), status=flt.get("status"))
            if _in_range(s, flt)
        ]
        return {"sequenceStores": stores}

    def update_sequence_store(self, p: dict[str, Any]) -> Record:
        store = self.get_sequence_store(p)
        for key in ("name", "description", "fallbackLocation", "propagatedSetLevelTags"):
            if key in p:
                store[key] = p[key]
        store["updateTime"] = now()
        return store

    def delete_sequence_store(self, p: dict[str, Any]) -> Record:
        if self.records("read_set", sequenceStoreId=p["id"]):
            raise conflict(f"Sequence store {p['id']} still holds read sets; delete them first")
        self.delete("sequence_store", p["id"], "Sequence store")
        return {}

    def _active_sequence_store(self, ident: str) -> Record:
        store = self.get("sequence_store", ident, "Sequence store")
        if store["status"] != "ACTIVE":
            raise invalid(f"Sequence store {ident} is {store['status']}, not ACTIVE")
        return store

    # ---- reference stores ----------------------------------------------------------------------
    def create_reference_store(self, p: dict[str, Any]) -> Record:
        def create() -> Record:
            ident = self.numeric_id()
            store = {
                "id": ident,
                "arn": self.arn(f"referenceStore/{ident}"),
                "name": p["name"],
                "description": p.get("description"),
                "sseConfig": p.get("sseConfig") or {"type": "KMS", "keyArn": self.kms_key_arn()},
                "creationTime": now(),
                "tags": p.get("tags") or {},
            }
            return self.add("reference_store", store)

        return self.once("CreateReferenceStore", p.get("clientToken"), create)

    def get_reference_store(self, p: dict[str, Any]) -> Record:
        return self.get("reference_store", p["id"], "Reference store")

    def list_reference_stores(self, p: dict[str, Any]) -> Record:
        flt = p.get("filter") or {}
        stores = [s for s in self.records("reference_store", name=flt.get("name")) if _in_range(s, flt)]
        return {"referenceStores": stores}

    def delete_reference_store(self, p: dict[str, Any]) -> Record:
        if self.records("reference", referenceStoreId=p["id"]):
            raise conflict(f"Reference store {p['id']} still holds references; delete them first")
        self.delete("reference_store", p["id"], "Reference store")
        return {}

    # ---- read sets -----------------------------------------------------------------------------
    def _new_read_set(
        self,
        store_id: str,
        source: dict[str, Any],
        files: dict[str, list[bytes]],
        status: str = "ACTIVE",
        **extra: Any,
    ) -> Record:
        """A read set whose files (each in parts) live in the store's S3 access location, readable there with
        GetObject. Imports are ACTIVE at once; uploads are processed (ETags, read counts) on the next step."""
        ident = self.numeric_id()
        file_type = source["sourceFileType"]
        store = self.get("sequence_store", store_id, "Sequence store")
        family = store.get("eTagAlgorithmFamily") or "MD5up"
        names = extra.pop("_filenames", None) or {}
        uris = {
            slot: f"{store['s3Access']['s3Uri']}readSet/{ident}/{names.get(slot) or _file_name(slot, file_type)}"
            for slot in files
        }
        for slot, parts in files.items():
            self.s3.write_parts(uris[slot], parts)
        read_set = {
            "id": ident,
            "arn": self.arn(f"sequenceStore/{store_id}/readSet/{ident}"),
            "sequenceStoreId": store_id,
            "subjectId": source.get("subjectId"),
            "sampleId": source.get("sampleId"),
            "status": status,
            "statusMessage": "",
            "name": source.get("name"),
            "description": source.get("description"),
            "fileType": file_type,
            "referenceArn": source.get("referenceArn"),
            "creationTime": now(),
            "files": {
                slot.lower(): _content_summary(sum(map(len, parts)), uris[slot]) for slot, parts in files.items()
            },
            "tags": source.get("tags") or {},
            "_files": uris,
            "_etag_family": family,
            **extra,
        }
        if status == "ACTIVE":
            read_set.update(self._ingested(read_set, {slot: b"".join(parts) for slot, parts in files.items()}))
        return self.add("read_set", read_set)

    @staticmethod
    def _ingested(read_set: Record, files: dict[str, bytes]) -> dict[str, Any]:
        """What ingestion computes: the read counts and the ETags (the hash of each uncompressed file)."""
        file_type, family = read_set["fileType"], read_set["_etag_family"]
        return {
            "sequenceInformation": _sequence_information(file_type, list(files.values())),
            "etag": {
                "algorithm": f"{file_type}_{family}",
                **{slot.lower(): etag_of(family, file_type, [data]) for slot, data in files.items()},
            },
        }

    def read_set_content(self, read_set: Record, slot: str) -> bytes:
        return self.s3.read(read_set["_files"][slot]) or b""

    def get_read_set(self, p: dict[str, Any]) -> Record:
        read_set = self._read_set(p["sequenceStoreId"], p["id"])
        if read_set["status"] != "ACTIVE":
            raise invalid(f"Read set {p['id']} is {read_set['status']}; activate it before reading")
        uri = read_set["_files"].get(p.get("file") or "SOURCE1")
        if uri is None:
            raise not_found("File", f"{p.get('file')} of read set {p['id']}")
        start = (p["partNumber"] - 1) * PART_SIZE
        if start >= max(self.s3.size(uri) or 0, 1):
            raise OmicsError("RangeNotSatisfiableException", f"Part {p['partNumber']} is past the end of the file")
        return {"payload": self.s3.read_range(uri, start, PART_SIZE) or b""}

    def _read_set(self, store_id: str, ident: str) -> Record:
        read_set = self.get("read_set", ident, "Read set")
        if read_set["sequenceStoreId"] != store_id:
            raise not_found("Read set", ident)
        return read_set

    def get_read_set_metadata(self, p: dict[str, Any]) -> Record:
        return self._read_set(p["sequenceStoreId"], p["id"])

    def list_read_sets(self, p: dict[str, Any]) -> Record:
        self.get_sequence_store({"id": p["sequenceStoreId"]})
        flt = p.get("filter") or {}
        equal = {k: flt.get(k) for k in ("name", "status", "referenceArn", "sampleId", "subjectId", "creationType")}
        read_sets = self.records("read_set", sequenceStoreId=p["sequenceStoreId"], **equal)
        return {"readSets": [r for r in read_sets if _in_range(r, flt)]}

    def batch_delete_read_set(self, p: dict[str, Any]) -> Record:
        errors = []
        for ident in p["ids"]:
            try:
                self._read_set(p["sequenceStoreId"], ident)
                self.delete("read_set", ident)
            except OmicsError as exc:
                errors.append({"id": ident, "code": exc.code, "message": exc.message})
        return {"errors": errors}

    # ---- read-set import -----------------------------------------------------------------------
    def start_read_set_import_job(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])

        def create() -> Record:
            job = {
                "id": self.numeric_id(),
                "sequenceStoreId": p["sequenceStoreId"],
                "roleArn": p["roleArn"],
                "status": "SUBMITTED",
                "statusMessage": "",
                "creationTime": now(),
                "completionTime": None,
                "sources": [{**source, "status": "NOT_STARTED"} for source in p["sources"]],
                "_names": [s.get("name") for s in p["sources"]],
            }
            self.add("read_set_import", job)
            self.schedule(
                "read_set_import",
                job,
                [("IN_PROGRESS", self._start_items), ("COMPLETED", self._finish_read_set_import)],
            )
            return job

        return self.once("StartReadSetImportJob", p.get("clientToken"), create)

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
        return {key: [j for j in jobs if _in_range(j, flt)]}

    def list_read_set_import_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("read_set_import", "sequenceStoreId", p, "importJobs")

    # ---- read-set export -----------------------------------------------------------------------
    def start_read_set_export_job(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])

        def create() -> Record:
            job = {
                "id": self.numeric_id(),
                "sequenceStoreId": p["sequenceStoreId"],
                "destination": p["destination"],
                "roleArn": p["roleArn"],
                "status": "SUBMITTED",
                "statusMessage": "",
                "creationTime": now(),
                "completionTime": None,
                "readSets": [{"id": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
            }
            self.add("read_set_export", job)
            self.schedule(
                "read_set_export",
                job,
                [("IN_PROGRESS", self._start_items), ("COMPLETED", self._finish_export)],
            )
            return job

        return self.once("StartReadSetExportJob", p.get("clientToken"), create)

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

        def create() -> Record:
            job = {
                "id": self.numeric_id(),
                "sequenceStoreId": p["sequenceStoreId"],
                "status": "SUBMITTED",
                "statusMessage": "",
                "creationTime": now(),
                "completionTime": None,
                "sources": [{"readSetId": s["readSetId"], "status": "NOT_STARTED"} for s in p["sources"]],
            }
            self.add("read_set_activation", job)
            self.schedule(
                "read_set_activation",
                job,
                [("IN_PROGRESS", self._activate), ("COMPLETED", self._finish_activation)],
            )
            return job

        return self.once("StartReadSetActivationJob", p.get("clientToken"), create)

    def _activate(self, job: Record) -> None:
        self._start_items(job)
        for item in job["sources"]:
            read_set = self.table("read_set").get(item["readSetId"])
            if read_set and read_set["status"] == "ARCHIVED":
                read_set["status"] = "ACTIVATING"

    def _finish_activation(self, job: Record) -> str:
        for item in job["sources"]:
            read_set = self.table("read_set").get(item["readSetId"])
            if read_set is None or read_set["sequenceStoreId"] != job["sequenceStoreId"]:
                item.update(status="FAILED", statusMessage=f"Read set {item['readSetId']} not found")
            else:
                read_set["status"] = "ACTIVE"
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

        def create() -> Record:
            job = {
                "id": self.numeric_id(),
                "referenceStoreId": p["referenceStoreId"],
                "roleArn": p["roleArn"],
                "status": "SUBMITTED",
                "statusMessage": "",
                "creationTime": now(),
                "completionTime": None,
                "sources": [{**source, "status": "NOT_STARTED"} for source in p["sources"]],
                "_names": [s.get("name") for s in p["sources"]],
            }
            self.add("reference_import", job)
            self.schedule(
                "reference_import",
                job,
                [("IN_PROGRESS", self._start_items), ("COMPLETED", self._finish_reference_import)],
            )
            return job

        return self.once("StartReferenceImportJob", p.get("clientToken"), create)

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
                    "files": {"source": _content_summary(len(data)), "index": _content_summary(0)},
                    "creationType": "IMPORT",
                    "creationJobId": job["id"],
                    "tags": source.get("tags") or {},
                    "_content": {"SOURCE": data},
                },
            )
            source.update(status="FINISHED", statusMessage="", referenceId=ident)
        status, job["statusMessage"] = _summarize(job["sources"], "FINISHED", "FAILED", "sources")
        return status

    def get_reference_import_job(self, p: dict[str, Any]) -> Record:
        return self._job("reference_import", p["id"], "referenceStoreId", p["referenceStoreId"])

    def list_reference_import_jobs(self, p: dict[str, Any]) -> Record:
        return self._list_jobs("reference_import", "referenceStoreId", p, "importJobs")

    def _reference(self, store_id: str, ident: str) -> Record:
        reference = self.get("reference", ident, "Reference")
        if reference["referenceStoreId"] != store_id:
            raise not_found("Reference", ident)
        return reference

    def get_reference(self, p: dict[str, Any]) -> Record:
        content = self._reference(p["referenceStoreId"], p["id"])["_content"].get(p.get("file") or "SOURCE", b"")
        start = (p["partNumber"] - 1) * PART_SIZE
        return {"payload": content[start : start + PART_SIZE]}

    def get_reference_metadata(self, p: dict[str, Any]) -> Record:
        return self._reference(p["referenceStoreId"], p["id"])

    def list_references(self, p: dict[str, Any]) -> Record:
        self.get_reference_store({"id": p["referenceStoreId"]})
        flt = p.get("filter") or {}
        refs = self.records(
            "reference", referenceStoreId=p["referenceStoreId"], name=flt.get("name"), md5=flt.get("md5")
        )
        return {"references": [r for r in refs if _in_range(r, flt)]}

    def delete_reference(self, p: dict[str, Any]) -> Record:
        self._reference(p["referenceStoreId"], p["id"])
        self.delete("reference", p["id"])
        return {}

    # ---- direct upload -------------------------------------------------------------------------
    def create_multipart_read_set_upload(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])

        def create() -> Record:
            upload = {
                **{k: v for k, v in p.items() if k != "clientToken"},
                "uploadId": self.numeric_id(),
                "creationTime": now(),
                "referenceArn": p.get("referenceArn", ""),
                "generatedFrom": p.get("generatedFrom", ""),
                "_parts": {},
            }
            return self.add("upload", upload, key="uploadId")

        return self.once("CreateMultipartReadSetUpload", p.get("clientToken"), create)

    def _upload(self, p: dict[str, Any]) -> Record:
        upload = self.get("upload", p["uploadId"], "Upload")
        if upload["sequenceStoreId"] != p["sequenceStoreId"]:
            raise not_found("Upload", p["uploadId"])
        return upload

    def upload_read_set_part(self, p: dict[str, Any]) -> Record:
        upload = self._upload(p)
        data = p["payload"]
        if not data:
            raise invalid(f"Part {p['partNumber']} of {p['partSource']} is empty")
        if len(data) > MAX_UPLOAD_PART:
            raise invalid(
                f"Part {p['partNumber']} of {p['partSource']} is {len(data)} bytes; a part may be at most "
                f"{MAX_UPLOAD_PART} bytes (100 MiB)"
            )
        if p["partSource"] == "SOURCE2" and upload["sourceFileType"] in SINGLE_SOURCE:
            raise invalid(f"A {upload['sourceFileType']} upload has SOURCE1 only; SOURCE2 is for paired FASTQ")
        checksum = hashlib.md5(data).hexdigest()
        upload["_parts"][(p["partSource"], p["partNumber"])] = {
            "partNumber": p["partNumber"],
            "partSize": len(data),
            "partSource": p["partSource"],
            "checksum": checksum,
            "creationTime": now(),
            "lastUpdatedTime": now(),
            "_data": data,
        }
        return {"checksum": checksum}

    def list_read_set_upload_parts(self, p: dict[str, Any]) -> Record:
        parts = sorted(self._upload(p)["_parts"].values(), key=lambda part: (part["partSource"], part["partNumber"]))
        return {"parts": [part for part in parts if part["partSource"] == p["partSource"]]}

    def complete_multipart_read_set_upload(self, p: dict[str, Any]) -> Record:
        upload = self._upload(p)
        listed = [(part["partSource"], part["partNumber"]) for part in p["parts"]]
        if listed != sorted(listed) or len(set(listed)) != len(listed):
            raise invalid("parts: list each part once, SOURCE1 before SOURCE2, in ascending partNumber order")
        sources = sorted({source for source, _ in listed})
        for source in sources:
            numbers = [number for each, number in listed if each == source]
            missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
            if missing:
                raise invalid(f"parts: {source} has no part {', '.join(map(str, missing))}; parts are numbered from 1")
        for part in p["parts"]:
            stored = upload["_parts"].get((part["partSource"], part["partNumber"]))
            if stored is None or stored["checksum"] != part["checksum"]:
                raise invalid(f"Part {part['partNumber']} of {part['partSource']} was not uploaded with that checksum")
        if "SOURCE1" not in sources:
            raise invalid("parts: SOURCE1 has no parts")
        files = {
            source: [upload["_parts"][(source, number)]["_data"] for each, number in listed if each == source]
            for source in sources
        }
        read_set = self._new_read_set(
            p["sequenceStoreId"], upload, files, status="PROCESSING_UPLOAD", creationType="UPLOAD"
        )
        self.delete("upload", p["uploadId"])
        # Ingestion reads the whole upload: on a thread of its own, so that the service keeps answering.
        read_set["_ingesting"] = _in_background(
            lambda: self._ingested(
                read_set, {slot: self.read_set_content(read_set, slot) for slot in read_set["_files"]}
            )
        )
        self.schedule("read_set", read_set, [("ACTIVE", self._check_uploaded)])
        return {"readSetId": read_set["id"]}

    def _check_uploaded(self, read_set: Record) -> str | None:
        """An uploaded read set becomes ACTIVE, or UPLOAD_FAILED when its content is not its file type."""
        for slot, uri in read_set["_files"].items():
            sniffed = sniff_file_type(self.s3.read_range(uri, 0, 4096) or b"")
            if not matches(read_set["fileType"], sniffed):
                found = f"it reads as {sniffed}" if sniffed else "unknown format"
                read_set["statusMessage"] = f"{slot} is not a {read_set['fileType']} file ({found})"
                return "UPLOAD_FAILED"
        ingesting = read_set["_ingesting"]
        if not ingesting.done():
            raise Postpone
        try:
            read_set.update(ingesting.result())
        except Exception as exc:
            read_set["statusMessage"] = f"ingestion failed: {type(exc).__name__}: {exc}"
            return "UPLOAD_FAILED"
        return None

    def abort_multipart_read_set_upload(self, p: dict[str, Any]) -> Record:
        self._upload(p)
        self.delete("upload", p["uploadId"])
        return {}

    def list_multipart_read_set_uploads(self, p: dict[str, Any]) -> Record:
        return {"uploads": self.records("upload", sequenceStoreId=p["sequenceStoreId"])}

    # ---- S3 access policies --------------------------------------------------------------------
    def put_s3_access_policy(self, p: dict[str, Any]) -> Record:
        store = next(
            (s for s in self.records("sequence_store") if s["s3Access"]["s3AccessPointArn"] == p["s3AccessPointArn"]),
            None,
        )
        if store is None:
            raise not_found("Access point", p["s3AccessPointArn"])
        policy = {
            "s3AccessPointArn": p["s3AccessPointArn"],
            "storeId": store["id"],
            "storeType": "SEQUENCE_STORE",
            "updateTime": now(),
            "s3AccessPolicy": p["s3AccessPolicy"],
        }
        self.add("s3_access_policy", policy, key="s3AccessPointArn")
        return policy

    def get_s3_access_policy(self, p: dict[str, Any]) -> Record:
        return self.get("s3_access_policy", p["s3AccessPointArn"], "S3 access policy for")

    def delete_s3_access_policy(self, p: dict[str, Any]) -> Record:
        self.delete("s3_access_policy", p["s3AccessPointArn"], "S3 access policy for")
        return {}

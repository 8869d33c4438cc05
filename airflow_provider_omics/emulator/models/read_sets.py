"""Read sets and references: their content, metadata and parts."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from airflow_provider_omics.formats import GZIP_MAGIC, etag_of

from .base import OmicsError, Record, invalid, not_found, now
from .stores import StoreModel, in_range

PART_SIZE = 100 * 1024 * 1024  # what GetReadSet / GetReference serve per part


def content_summary(length: int, s3_uri: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "totalParts": max(1, -(-length // PART_SIZE)),
        "partSize": PART_SIZE,
        "contentLength": length,
    }
    if s3_uri:
        summary["s3Access"] = {"s3Uri": s3_uri}
    return summary


def in_background(work: Callable[[], dict[str, Any]]) -> Future[dict[str, Any]]:
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


class ReadSetModel(StoreModel):
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
        GetObject. Imports are ACTIVE at once; an upload's files are stored and processed (ETags, read counts)
        after ``CompleteMultipartReadSetUpload`` has answered (``uploads.py``)."""
        ident = self.numeric_id()
        file_type = source["sourceFileType"]
        store = self.get("sequence_store", store_id, "Sequence store")
        family = store.get("eTagAlgorithmFamily") or "MD5up"
        names = extra.pop("_filenames", None) or {}
        uris = {
            slot: f"{store['s3Access']['s3Uri']}readSet/{ident}/{names.get(slot) or _file_name(slot, file_type)}"
            for slot in files
        }
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
            "files": {slot.lower(): content_summary(sum(map(len, parts)), uris[slot]) for slot, parts in files.items()},
            "tags": source.get("tags") or {},
            "_files": uris,
            "_etag_family": family,
            **extra,
        }
        if status == "ACTIVE":
            self.store_files(read_set, files)
            read_set.update(self._ingested(read_set, {slot: b"".join(parts) for slot, parts in files.items()}))
        return self.add("read_set", read_set)

    def store_files(self, read_set: Record, files: dict[str, list[bytes]]) -> None:
        for slot, parts in files.items():
            self.s3.write_parts(read_set["_files"][slot], parts)

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
        return {"readSets": [r for r in read_sets if in_range(r, flt)]}

    def batch_delete_read_set(self, p: dict[str, Any]) -> Record:
        errors = []
        for ident in p["ids"]:
            try:
                self._read_set(p["sequenceStoreId"], ident)
                self.delete("read_set", ident)
            except OmicsError as exc:
                errors.append({"id": ident, "code": exc.code, "message": exc.message})
        return {"errors": errors}

    # ---- references ----------------------------------------------------------------------------
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
        return {"references": [r for r in refs if in_range(r, flt)]}

    def delete_reference(self, p: dict[str, Any]) -> Record:
        self._reference(p["referenceStoreId"], p["id"])
        self.delete("reference", p["id"])
        return {}

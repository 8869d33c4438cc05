"""Direct upload of read sets in parts (CreateMultipartReadSetUpload ... Complete / Abort)."""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_provider_omics.formats import matches, sniff_file_type

from .base import Postpone, Record, invalid, not_found, now
from .read_sets import ReadSetModel, in_background

MAX_UPLOAD_PART = 100 * 1024 * 1024  # "Each part cannot be larger than 100 MB" (CreateMultipartReadSetUpload)
SINGLE_SOURCE = {"BAM", "UBAM", "CRAM"}  # file types with SOURCE1 only: FASTQ may be paired


class UploadModel(ReadSetModel):
    # ---- direct upload -------------------------------------------------------------------------
    def create_multipart_read_set_upload(self, p: dict[str, Any]) -> Record:
        self._active_sequence_store(p["sequenceStoreId"])

        def create() -> Record:
            upload = {
                **{k: v for k, v in p.items() if k != "clientToken"},
                "uploadId": self.numeric_id(),
                "creationTime": now(),
                # Required in the model's answer (the AWS CLI's 2022 example of a FASTQ upload has neither):
                # the model wins, as every SDK reads it.
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
        checksum = hashlib.sha256(data).hexdigest()  # 64 hex digits, as the service answers
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

        # Storing and ingesting the whole upload happen on a thread of their own, after this call has
        # answered, as the service answers at once and processes the read set (PROCESSING_UPLOAD) after.
        def ingest() -> dict[str, Any]:
            self.store_files(read_set, files)
            return self._ingested(read_set, {slot: b"".join(parts) for slot, parts in files.items()})

        read_set["_ingesting"] = in_background(ingest)
        self.schedule("read_set", read_set, [("ACTIVE", self._check_uploaded)])
        return {"readSetId": read_set["id"]}

    def _check_uploaded(self, read_set: Record) -> str | None:
        """An uploaded read set becomes ACTIVE, or UPLOAD_FAILED when its content is not its file type."""
        ingesting = read_set["_ingesting"]
        if not ingesting.done():
            raise Postpone
        try:
            ingested = ingesting.result()
        except Exception as exc:
            read_set["statusMessage"] = f"ingestion failed: {type(exc).__name__}: {exc}"
            return "UPLOAD_FAILED"
        for slot, uri in read_set["_files"].items():
            sniffed = sniff_file_type(self.s3.read_range(uri, 0, 4096) or b"")
            if not matches(read_set["fileType"], sniffed):
                found = f"it reads as {sniffed}" if sniffed else "unknown format"
                read_set["statusMessage"] = f"{slot} is not a {read_set['fileType']} file ({found})"
                return "UPLOAD_FAILED"
        read_set.update(ingested)
        return None

    def abort_multipart_read_set_upload(self, p: dict[str, Any]) -> Record:
        self._upload(p)
        self.delete("upload", p["uploadId"])
        return {}

    def list_multipart_read_set_uploads(self, p: dict[str, Any]) -> Record:
        return {"uploads": self.records("upload", sequenceStoreId=p["sequenceStoreId"])}

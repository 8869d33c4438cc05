"""Multipart read-set uploads: ``max_concurrency`` parts at once, the files of a pair side by side, each part read
by the thread that sends it (from a local file, streamed as it is sent); a FASTQ's HealthOmics ETag (the hash of
its uncompressed content, ``formats.ETag``) is computed beside them from a sequential read, so the read set can
be checked against it.

An upload with a ``client_token`` can be resumed: it is tagged with the token, so a later try finds it
again (``ListMultipartReadSetUploads``), asks which parts it has (``ListReadSetUploadParts``) and sends only
the others; a read set an earlier try completed is found by the same tag and reused.
"""

import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from airflow_provider_omics.api import OmicsApi
from airflow_provider_omics.errors import error_code
from airflow_provider_omics.formats import ETag, matches, sniff_file_type
from airflow_provider_omics.idempotency import generations, numbered
from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.locations import Location, Source, open_source
from airflow_provider_omics.parts import (
    DEFAULT_PART_SIZE,
    HASH_CHUNK,
    MAX_PARTS,
    WHOLE_PART_CONCURRENCY,
    Progress,
    check_part_arguments,
    concurrency_for,
)

UPLOAD_TAG = "airflow:upload-token"  # on an upload and the read set it becomes: which try's upload it is
FILE_TYPES = ("FASTQ", "BAM", "UBAM", "CRAM")

log = logging.getLogger(__name__)


@dataclass
class UploadResult:
    """What an upload did: the read set, the upload it used, parts sent / already there, local ETags."""

    read_set_id: str
    upload_id: str | None
    parts_sent: int
    parts_reused: int
    etags: dict[str, str]
    reused_read_set: bool = False

    def as_dict(self) -> dict[str, Any]:
        figures = {
            "readSetId": self.read_set_id,
            "uploadId": self.upload_id,
            "partsSent": self.parts_sent,
            "partsReused": self.parts_reused,
            "uploadedETags": self.etags,
            "reusedReadSet": self.reused_read_set,
        }
        return {key: value for key, value in figures.items() if value is not None}  # XCom takes no None


def check_upload_arguments(
    source1: Location, source2: Location | None, source_file_type: str, part_size: int, max_concurrency: int | None
) -> None:
    check_part_arguments(part_size, max_concurrency)
    if source1 in (None, ""):
        raise ValueError("source1: required (a local path, an s3:// URI or an ObjectStoragePath)")
    if source_file_type not in FILE_TYPES:
        raise ValueError(f"source_file_type: must be one of {', '.join(FILE_TYPES)}, got {source_file_type!r}")
    if source2 == "":
        raise ValueError("source2: empty; give the second file of the pair, or leave source2 out for single reads")
    if source2 is not None and source_file_type != "FASTQ":
        raise ValueError(f"source2: only paired FASTQ has a second file; a {source_file_type} upload has source1 only")
    if source2 is not None and str(source2) == str(source1):
        raise ValueError("source2: the same file as source1; a pair is two files")


def open_upload_sources(
    api: OmicsApi, source1: Location, source2: Location | None, source_file_type: str, part_size: int
) -> dict[str, Source]:
    """Open and check each source: readable, of the declared type, in at most 10,000 parts."""
    sources = {"SOURCE1": open_source(api, source1, "source1")}
    if source2 is not None:
        sources["SOURCE2"] = open_source(api, source2, "source2")
    for slot, source in sources.items():
        argument = slot.lower()
        if source.size == 0:
            raise ValueError(f"{argument}: {source.name} is empty")
        sniffed = sniff_file_type(source.head)
        if not matches(source_file_type, sniffed):
            found = f"it reads as {sniffed}" if sniffed else "its first bytes are not FASTQ, BAM or CRAM"
            raise ValueError(f"{argument}: {source.name} is not a {source_file_type} file ({found})")
        parts = -(-source.size // part_size)
        if parts > MAX_PARTS:
            raise ValueError(
                f"{argument}: {source.name} ({source.size} bytes) needs {parts} parts of {part_size} bytes; "
                f"an upload takes at most {MAX_PARTS}: raise part_size"
            )
    return sources


class UploadGone(ValueError):
    """The upload a client token names was completed or aborted, and no read set of it is left."""


@dataclass
class _Part:
    """One part of an upload: which file, where in it, and its checksum if the service has it already."""

    slot: str
    source: Source
    number: int
    offset: int
    size: int
    checksum: str | None = None

    def entry(self, checksum: str) -> dict[str, Any]:
        return {"partNumber": self.number, "partSource": self.slot, "checksum": checksum}


class _Hasher:
    """A file's HealthOmics ETag, computed on a thread of its own from a sequential read of the file, so
    the sends never wait for the hash (a local file is read again from the page cache; an S3 one streamed)."""

    def __init__(self, source: Source, etag: ETag) -> None:
        self.source = source
        self.etag = etag
        self.read = 0
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._hash, name="omics-upload-etag", daemon=True)
        self.thread.start()

    def _hash(self) -> None:
        try:
            with self.source.open() as stream:
                while not self.stopped.is_set() and (chunk := stream.read(HASH_CHUNK)):
                    self.etag.update(chunk)
                    self.read += len(chunk)
        except BaseException as error:
            self.error = error

    def result(self) -> str:
        self.thread.join()
        if self.error is not None:
            raise self.error
        if self.read != self.source.size:
            raise ValueError(f"{self.source.name} changed while it was read ({self.read} of {self.source.size} bytes)")
        return self.etag.hexdigest()

    def stop(self) -> None:
        self.stopped.set()


class ReadSetUpload:
    """THE upload policy and the upload, for the hook and the operator alike: one read set, over token
    generations (``run``).

    For each token (``idempotency.generations``): a read set an earlier try completed with it is reused; one
    that failed (UPLOAD_FAILED, DELETED), or an upload of the token that is gone, moves to the next token, a
    fresh upload; otherwise the token's upload is resumed (only the parts the service lacks are sent), or
    started. Parts of every file are sent side by side, ``max_concurrency`` at a time, each read from its
    source by the thread that sends it (a local file streamed from disk, never held whole); a FASTQ's ETag
    is computed beside them. A try that fails leaves its upload for the next try to resume when
    ``keep_on_failure`` says one will come (the operator: retries remain; the hook: ``abort_on_failure=False``),
    else aborts it; ``stop()`` does the same from ``on_kill``.
    """

    def __init__(
        self,
        api: OmicsApi,
        sequence_store_id: str,
        request: Mapping[str, Any],
        sources: Mapping[str, Source],
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = WHOLE_PART_CONCURRENCY,
        keep_on_failure: bool = False,
        logger: Any = log,
    ) -> None:
        self.api = api
        self.store = sequence_store_id
        self.request = dict(request)
        self.sources = sources
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.keep_on_failure = keep_on_failure
        self.log = logger
        self.token: str | None = None
        self.upload_id: str | None = None

    def run(self, tokens: Iterable[str | None]) -> UploadResult:
        failed = JOB_KINDS["read_set"].failure_states
        for token in tokens:
            self.token, self.upload_id = token, None
            earlier = self.earlier_read_set()
            if earlier is not None and earlier.get("status") in failed:
                self.log.info("Read set %s of an earlier try is %s: uploading afresh", earlier["id"], earlier["status"])
                continue
            try:
                return self._upload(earlier)
            except UploadGone as gone:
                self.log.info("%s (its read set was deleted?): uploading afresh", gone)
            except BaseException:
                self.stop()
                raise
        raise RuntimeError("no client token left to upload with")

    def stop(self) -> None:
        """After a failed or killed try: leave the upload for the next try, or abort it."""
        upload_id, self.upload_id = self.upload_id, None
        if upload_id is None:
            return
        if self.keep_on_failure:
            self.log.warning(
                "Upload %s left in place: the task's next try, or a call with its client token, resumes it", upload_id
            )
            return
        try:
            self.api.call("AbortMultipartReadSetUpload", sequenceStoreId=self.store, uploadId=upload_id)
            self.log.warning("Aborted upload %s: its parts are deleted", upload_id)
        except ClientError as exc:
            self.log.warning("Upload %s not aborted (%s): abort it yourself or it stays", upload_id, exc)

    # -- finding an earlier try's work
    def earlier_read_set(self) -> dict[str, Any] | None:
        """The read set (list item) an earlier try with this token completed, if any and not deleted."""
        if not self.token:
            return None
        filters = {"name": self.request["name"], "creationType": "UPLOAD"}
        for item in self.api.paginate("ListReadSets", sequenceStoreId=self.store, filter=filters):
            if item.get("status") in ("DELETING", "DELETED"):
                continue
            tags = self.api.call("ListTagsForResource", resourceArn=item["arn"]).get("tags") or {}
            if tags.get(UPLOAD_TAG) == self.token:
                return dict(item)
        return None

    def earlier_upload(self) -> str | None:
        if not self.token:
            return None
        for upload in self.api.paginate("ListMultipartReadSetUploads", sequenceStoreId=self.store):
            if (upload.get("tags") or {}).get(UPLOAD_TAG) == self.token:
                return str(upload["uploadId"])
        return None

    def parts_there(self, source: str) -> dict[int, dict[str, Any]]:
        assert self.upload_id is not None
        listed = self.api.paginate(
            "ListReadSetUploadParts", sequenceStoreId=self.store, uploadId=self.upload_id, partSource=source
        )
        try:
            return {part["partNumber"]: part for part in listed}
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            # The token's upload was completed or aborted before, and its read set is gone since.
            raise UploadGone(f"upload {self.upload_id} of this client token no longer exists: {exc}") from exc

    # -- the upload
    def _upload(self, earlier: Mapping[str, Any] | None = None) -> UploadResult:
        """Upload (or resume, or reuse ``earlier``: the read set of an earlier try, ``earlier_read_set()``)."""
        if earlier is not None:
            self.log.info("Read set %s from an earlier try of this upload exists already: reusing it", earlier["id"])
            return UploadResult(str(earlier["id"]), None, 0, 0, {}, reused_read_set=True)
        self.upload_id = self.earlier_upload()
        if self.upload_id:
            self.log.info("Resuming upload %s of an earlier try", self.upload_id)
        else:
            tags = {**(self.request.get("tags") or {}), **({UPLOAD_TAG: self.token} if self.token else {})}
            request = {**self.request, "tags": tags, **({"clientToken": self.token} if self.token else {})}
            created = self.api.call("CreateMultipartReadSetUpload", sequenceStoreId=self.store, **request)
            self.upload_id = created["uploadId"]
            self.log.info("Started upload %s into sequence store %s", self.upload_id, self.store)
        family = str(self.api.call("GetSequenceStore", id=self.store).get("eTagAlgorithmFamily") or "MD5up")
        total = sum(source.size for source in self.sources.values())
        progress = Progress("Uploaded", f"read set {self.request.get('name')!r}", total, self.log)
        plan = self._plan()
        # The ETag is the hash of each whole file in order: computed beside the sends, not on their path.
        hashers = {
            slot: _Hasher(source, ETag(family, "FASTQ"))
            for slot, source in self.sources.items()
            if self.request["sourceFileType"] == "FASTQ"
        }
        try:
            completed, sent = self._send_all(plan, progress)
            etags = {slot.lower(): hasher.result() for slot, hasher in hashers.items()}
        finally:
            for hasher in hashers.values():
                hasher.stop()
        progress.say(final=True)
        reused = len(plan) - sent
        finished = self.api.call(
            "CompleteMultipartReadSetUpload", sequenceStoreId=self.store, uploadId=self.upload_id, parts=completed
        )
        self.log.info(
            "Upload %s complete: read set %s (%d parts sent, %d already there)",
            self.upload_id,
            finished["readSetId"],
            sent,
            reused,
        )
        return UploadResult(finished["readSetId"], self.upload_id, sent, reused, etags)

    def _plan(self) -> list[_Part]:
        """Every part of every file, the files' parts side by side (a pair's two files go up together)."""
        plan = []
        for slot, source in self.sources.items():
            there = self.parts_there(slot)
            for number in range(1, -(-source.size // self.part_size) + 1):
                offset = (number - 1) * self.part_size
                size = min(self.part_size, source.size - offset)
                earlier = there.get(number)
                checksum = earlier["checksum"] if earlier is not None and earlier.get("partSize") == size else None
                plan.append(_Part(slot, source, number, offset, size, checksum))
        return sorted(plan, key=lambda part: (part.number, part.slot))

    def _send_all(self, plan: list[_Part], progress: Progress) -> tuple[list[dict[str, Any]], int]:
        """Send each part not there yet, ``max_concurrency`` at a time; each read by the thread that sends it."""
        failed = threading.Event()  # a part failed: read and send no further
        futures: list[Future[dict[str, Any]]] = []
        due = sum(part.checksum is None for part in plan)
        self.log.info("Sending %d of %d parts, %d at a time", due, len(plan), min(self.max_concurrency, due or 1))
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="omics-upload") as pool:
            for part in plan:
                if part.checksum is not None:
                    progress.add(part.size)
                    futures.append(_done(part.entry(part.checksum)))
                else:
                    futures.append(pool.submit(self._send_part, part, progress, failed))
            try:
                completed = sorted(
                    (future.result() for future in futures), key=lambda p: (p["partSource"], p["partNumber"])
                )
            except BaseException:
                failed.set()
                for future in futures:
                    future.cancel()
                raise
        return completed, sum(part.checksum is None for part in plan)

    def _send_part(self, part: _Part, progress: Progress, failed: threading.Event) -> dict[str, Any]:
        if failed.is_set():
            raise RuntimeError("an earlier part failed")
        with part.source.part(part.offset, part.size) as payload:
            answer = self.api.call(
                "UploadReadSetPart",
                sequenceStoreId=self.store,
                uploadId=self.upload_id,
                partSource=part.slot,
                partNumber=part.number,
                payload=payload,
            )
        progress.add(part.size)
        return part.entry(answer["checksum"])


def upload_read_set(
    api: OmicsApi,
    sequence_store_id: str,
    request: Mapping[str, Any],
    source1: Location,
    source2: Location | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int | None = None,
    client_token: str | None = None,
    abort_on_failure: bool = True,
) -> UploadResult:
    """Check, open and upload (or resume, or reuse) one read set: what ``OmicsHook.upload_read_set`` does.

    ``client_token`` makes it resumable; a read set of the token that failed, or was deleted with its upload,
    is uploaded afresh under the token's next generation (``<token>-2``, ...).
    """
    check_upload_arguments(source1, source2, request["sourceFileType"], part_size, max_concurrency)
    sources = open_upload_sources(api, source1, source2, request["sourceFileType"], part_size)
    concurrency = concurrency_for(max_concurrency, source1, source2)
    upload = ReadSetUpload(
        api, sequence_store_id, request, sources, part_size, concurrency, not abort_on_failure, api.log
    )
    tokens: Iterable[str | None] = generations(numbered(client_token), "upload") if client_token else [None]
    return upload.run(tokens)


def _done(value: dict[str, Any]) -> Future[dict[str, Any]]:
    future: Future[dict[str, Any]] = Future()
    future.set_result(value)
    return future


def checked_read_set(described: Mapping[str, Any], uploaded: Mapping[str, Any]) -> dict[str, Any]:
    """The read set's metadata with the upload's figures, once its ETags match those of the files sent."""
    found = described.get("etag") or {}
    mismatches = [
        f"{name}: the service has {found.get(name)}, the uploaded file {expected}"
        for name, expected in (uploaded.get("uploadedETags") or {}).items()
        if found.get(name) and found.get(name) != expected
    ]
    if mismatches:
        raise ValueError(f"read set {described.get('id')}: content differs from the upload: " + "; ".join(mismatches))
    return {**described, **uploaded}

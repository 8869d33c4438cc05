"""Data in and out of HealthOmics storage: multipart read-set upload, part-wise read-set and reference download.

Sources and destinations are local paths, ``s3://`` URIs (read and written with the connection's S3
client) or Airflow ``ObjectStoragePath`` objects (any fsspec store). An upload sends ``max_concurrency``
parts at once, the files of a pair side by side, each part read by the thread that sends it (from a local
file, streamed as it is sent); a FASTQ's HealthOmics ETag (the hash of its uncompressed content,
``formats.ETag``) is computed beside them from a sequential read, so the read set can be checked against
it. A download fetches ``max_concurrency`` parts at once: to local disk, the files of a pair side by side,
each part streamed to its place in its file; elsewhere, one file after the other, parts whole and in order.
Unless told, ``max_concurrency`` is 10 where parts stream (local files) and 4 where each is held whole.
Progress is logged every ``PROGRESS_EVERY`` seconds.

An upload with a ``client_token`` can be resumed: it is tagged with the token, so a later try finds it
again (``ListMultipartReadSetUploads``), asks which parts it has (``ListReadSetUploadParts``) and sends only
the others; a read set an earlier try completed is found by the same tag and reused.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from airflow_provider_omics.api import OmicsApi
from airflow_provider_omics.errors import error_code
from airflow_provider_omics.formats import GZIP_MAGIC, ETag, matches, sniff_file_type
from airflow_provider_omics.idempotency import generations, numbered
from airflow_provider_omics.jobs import JOB_KINDS

MIB = 1 << 20
MAX_PART_SIZE = 100 * MIB  # "Each part cannot be larger than 100 MB" (CreateMultipartReadSetUpload)
MAX_PARTS = 10_000  # UploadReadSetPart partNumber: 1 to 10000
DEFAULT_PART_SIZE = 100 * MIB
# Parts in flight, unless told: a local file streams each part, so more cost no memory (TransferManager's
# 10, its speed over a wide-area link); a part read whole (S3, ObjectStoragePath) holds part size x this.
STREAMED_CONCURRENCY = 10
WHOLE_PART_CONCURRENCY = 4
PROGRESS_EVERY = 10.0
UPLOAD_TAG = "airflow:upload-token"  # on an upload and the read set it becomes: which try's upload it is
FILE_TYPES = ("FASTQ", "BAM", "UBAM", "CRAM")
READ_SET_FILES = ("SOURCE1", "SOURCE2", "INDEX")
REFERENCE_FILES = ("SOURCE", "INDEX")
HEAD = 4096
HASH_CHUNK = 8 * MIB  # what the ETag thread reads at a time

Location = Any  # str (a path or s3:// URI), os.PathLike, or an ObjectStoragePath

log = logging.getLogger(__name__)


# ---- where bytes come from and go to ---------------------------------------------------------------
@dataclass
class Source:
    """A readable file: its name for messages, size, first bytes, a way to open it from the start, and a way
    to read ``size`` bytes from ``offset`` as an upload part's body (a context manager)."""

    name: str
    size: int
    head: bytes
    open: Callable[[], BinaryIO]
    part: Callable[[int, int], AbstractContextManager[Any]]


def s3_parts(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; refused without a key."""
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"{uri!r} is not an S3 object URI (s3://bucket/key)")
    return bucket, key


def _is_s3(location: Location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


def _is_object_storage(location: Location) -> bool:
    # An ObjectStoragePath (on Airflow 2.11 also an os.PathLike): a path on an fsspec file system.
    return not isinstance(location, str) and hasattr(location, "protocol") and hasattr(location, "fs")


def open_source(api: OmicsApi, location: Location, argument: str) -> Source:
    """Check that ``location`` can be read (before any HealthOmics call); errors name ``argument``."""
    if _is_s3(location):
        bucket, key = s3_parts(location)
        s3 = api.client_of("s3")
        try:
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
            head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD - 1}")["Body"].read() if size else b""
        except ClientError as exc:
            raise ValueError(f"{argument}: {location} cannot be read: {error_code(exc)}: {exc}") from exc

        def s3_part(offset: int, length: int) -> AbstractContextManager[bytes]:
            body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")["Body"]
            return contextlib.nullcontext(read_exactly(body, length))

        return Source(location, size, head, lambda: s3.get_object(Bucket=bucket, Key=key)["Body"], s3_part)
    if _is_object_storage(location):
        if not location.exists():
            raise ValueError(f"{argument}: {location} does not exist")
        stat = location.stat()
        size = int(stat["size"] if getattr(stat, "st_size", None) is None else stat.st_size)
        with location.open("rb") as stream:
            head = stream.read(HEAD)

        def stored_part(offset: int, length: int) -> AbstractContextManager[bytes]:
            with location.open("rb") as stream:
                stream.seek(offset)
                return contextlib.nullcontext(read_exactly(stream, length))

        return Source(str(location), size, head, lambda: location.open("rb"), stored_part)
    path = os.fspath(location)
    if not os.path.isfile(path):
        raise ValueError(f"{argument}: {path} is not a file")
    try:
        with open(path, "rb") as stream:
            head = stream.read(HEAD)
    except OSError as exc:
        raise ValueError(f"{argument}: {path} cannot be read: {exc}") from exc
    size = os.path.getsize(path)
    return Source(path, size, head, lambda: open(path, "rb"), lambda offset, length: FileSlice(path, offset, length))


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer at the end: streams (S3 bodies, sockets) may return less per read."""
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FileSlice(io.RawIOBase):
    """``size`` bytes of a local file from ``offset``: a seekable body that botocore streams in chunks, so an
    upload part is never held whole in memory (and is sent whole again when its call is retried)."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._offset = offset
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        data = os.pread(self._fd, wanted, self._offset + self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = min(max(base + position, 0), self._size)
        return self._position

    def tell(self) -> int:
        return self._position

    def __len__(self) -> int:
        return self._size

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class _ChunkReader:
    """A file-like reader over an iterator of byte chunks (what boto3's ``upload_fileobj`` reads)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.chunk = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        pieces = []
        while size < 0 or size > 0:
            if not self.chunk:
                following = next(self.chunks, None)
                if following is None:
                    break
                self.chunk = memoryview(following)
            taken = self.chunk if size < 0 else self.chunk[:size]
            self.chunk = self.chunk[len(taken) :]
            pieces.append(taken)
            size = size if size < 0 else size - len(taken)
        return b"".join(pieces)


def write_destination(api: OmicsApi, location: Location, chunks: Iterator[bytes], max_concurrency: int) -> str:
    """Write the chunks, in order, to an ``s3://`` URI or an ``ObjectStoragePath``; return where they went.
    (A local file is written part by part in place: ``_LocalDownload``.)"""
    if _is_s3(location):
        from boto3.s3.transfer import TransferConfig

        bucket, key = s3_parts(location)
        config = TransferConfig(multipart_chunksize=16 * MIB, max_concurrency=max_concurrency)
        api.client_of("s3").upload_fileobj(_ChunkReader(chunks), bucket, key, Config=config)
        return str(location)
    with location.open("wb") as stream:
        for chunk in chunks:
            stream.write(chunk)
    return str(location)


def is_folder(location: Location) -> bool:
    """A destination that takes files under their own names: a ``/``-ended path or URI, or a directory."""
    if str(location).endswith("/"):
        return True
    if _is_s3(location):
        return False
    return bool(location.is_dir()) if _is_object_storage(location) else os.path.isdir(location)


def join_location(directory: Location, name: str) -> Location:
    if _is_s3(directory):
        return f"{directory.rstrip('/')}/{name}"
    if _is_object_storage(directory):
        return directory / name
    return os.path.join(os.fspath(directory), name)


# ---- progress ---------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Bytes moved so far, logged at a steady pace: bytes, percent, MiB/s and time left."""

    verb: str
    what: str
    total: int
    logger: Any = log
    every: float = PROGRESS_EVERY
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    said: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, size: int) -> None:
        with self.lock:
            self.done += size
            now = time.monotonic()
            if now - self.said < self.every:
                return
            self.said = now
        self.say()

    def rate(self) -> float:
        return self.done / MIB / max(time.monotonic() - self.started, 1e-6)

    def say(self, final: bool = False) -> None:
        rate = self.rate()
        if final:
            self.logger.info(
                "%s %s: %.1f MiB in %.1fs (%.1f MiB/s)",
                self.verb,
                self.what,
                self.done / MIB,
                time.monotonic() - self.started,
                rate,
            )
            return
        left = (self.total - self.done) / MIB / rate if rate else float("inf")
        self.logger.info(
            "%s %s: %.1f of %.1f MiB (%.0f%%), %.1f MiB/s, about %.0fs left",
            self.verb,
            self.what,
            self.done / MIB,
            self.total / MIB,
            100 * self.done / max(self.total, 1),
            rate,
            left,
        )


# ---- upload ------------------------------------------------------------------------------------------
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


def check_part_arguments(part_size: int, max_concurrency: int | None) -> None:
    if isinstance(part_size, bool) or not isinstance(part_size, int) or not 0 < part_size <= MAX_PART_SIZE:
        raise ValueError(f"part_size: must be a whole number of bytes from 1 to {MAX_PART_SIZE} (100 MiB)")
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1
    ):
        raise ValueError(f"max_concurrency: must be a whole number of at least 1, got {max_concurrency!r}")


def concurrency_for(given: int | None, *locations: Location | None) -> int:
    """Parts in flight: ``given``, else 10 when every location is a local file (streamed), else 4."""
    if given is not None:
        return given
    local = all(_is_local(location) for location in locations if location is not None)
    return STREAMED_CONCURRENCY if local else WHOLE_PART_CONCURRENCY


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


# ---- download ----------------------------------------------------------------------------------------
def _parts(
    fetch: Callable[[int], bytes], total_parts: int, max_concurrency: int, progress: Progress
) -> Iterator[bytes]:
    """Parts 1..N in order, fetched ``max_concurrency`` at a time ahead of the one being written."""
    with ThreadPoolExecutor(max_concurrency, thread_name_prefix="omics-download") as pool:
        window: list[Future[bytes]] = []
        next_part = 1
        try:
            while next_part <= total_parts or window:
                while next_part <= total_parts and len(window) < max_concurrency:
                    window.append(pool.submit(fetch, next_part))
                    next_part += 1
                data = window.pop(0).result()
                progress.add(len(data))
                yield data
        finally:
            for future in window:
                future.cancel()


def download_file(
    api: OmicsApi,
    operation: str,
    ids: Mapping[str, Any],
    file: str,
    summary: Mapping[str, Any],
    place: Callable[[bytes], Location],
    max_concurrency: int,
    etag: ETag | None,
    overwrite: bool = False,
    logger: Any = log,
    slots: threading.Semaphore | None = None,
) -> dict[str, Any]:
    """One file of a read set or reference, part by part; checked by length and ETag.

    ``place`` names the destination from the file's first bytes (a gzip FASTQ is named ``.fastq.gz``).
    An existing destination is refused unless ``overwrite``. ``slots`` bounds the parts in flight across
    the files downloaded together (``max_concurrency`` of this file's own, by default).
    """
    slots = slots or threading.BoundedSemaphore(max_concurrency)
    size = int(summary.get("contentLength") or 0)
    total_parts = int(summary.get("totalParts") or 0) if size else 0
    progress = Progress("Downloaded", f"{file.lower()} of {dict(ids)}", size, logger)
    if _is_local(place(b"")):
        read = _LocalDownload(api, operation, {**ids, "file": file}, size, summary, total_parts, etag, progress, slots)
        where = read.into(place, overwrite, max_concurrency)
        progress.say(final=True)
        return {"location": where, "bytes": size, **({"etag": etag.hexdigest()} if etag else {})}
    received = 0

    def fetch(part: int) -> bytes:
        with slots:
            return api.call_read(operation, **ids, file=file, partNumber=part)

    def counted() -> Generator[bytes]:
        nonlocal received
        for chunk in _parts(fetch, total_parts, max_concurrency, progress):
            received += len(chunk)
            if etag is not None:
                etag.update(chunk)
            yield chunk

    chunks = counted()
    first = next(chunks, b"")
    destination = place(first)
    if not overwrite and exists(api, destination):
        chunks.close()
        raise _already_there(destination)
    box = [first]  # handed on, not kept: a 100 MiB part must not stay alive for the whole download
    del first

    def joined() -> Iterator[bytes]:
        yield box.pop()
        yield from chunks

    where = write_destination(api, destination, joined(), max_concurrency)
    progress.say(final=True)
    if received != size:
        raise ValueError(f"{file.lower()}: received {received} bytes of {size}; {where} is incomplete")
    return {"location": where, "bytes": received, **({"etag": etag.hexdigest()} if etag else {})}


def _is_local(location: Location) -> bool:
    return not _is_s3(location) and not _is_object_storage(location)


def _already_there(location: Location) -> FileExistsError:
    return FileExistsError(f"{location} exists already: choose another destination, or set overwrite=True")


class _LocalDownload:
    """One file to local disk: ``max_concurrency`` parts at once, each streamed to its own place in the file
    (``os.pwrite``, a MiB at a time: nothing is held whole), the ETag hashed behind the written prefix on a
    thread of its own. The file appears whole, under its final name, or not at all."""

    def __init__(
        self,
        api: OmicsApi,
        operation: str,
        params: Mapping[str, Any],
        size: int,
        summary: Mapping[str, Any],
        total_parts: int,
        etag: ETag | None,
        progress: Progress,
        slots: threading.Semaphore,
    ) -> None:
        self.api, self.operation, self.params, self.slots = api, operation, dict(params), slots
        self.size, self.total_parts, self.etag, self.progress = size, total_parts, etag, progress
        self.part_size = int(summary.get("partSize") or MAX_PART_SIZE)
        self.written: set[int] = set()
        self.changed = threading.Condition()
        self.failed = threading.Event()

    def into(self, place: Callable[[bytes], Location], overwrite: bool, max_concurrency: int) -> str:
        """Download, then name the file by its first bytes (``place``); refuse an existing one before any read."""
        plain, gzipped = os.fspath(place(b"")), os.fspath(place(GZIP_MAGIC))
        if not overwrite:
            for candidate in dict.fromkeys((plain, gzipped)):
                if exists(self.api, candidate):
                    raise _already_there(candidate)
        partial = f"{plain}.partial"
        os.makedirs(os.path.dirname(os.path.abspath(partial)), exist_ok=True)
        with open(partial, "wb") as out:
            out.truncate(self.size)
        fd = os.open(partial, os.O_RDWR)
        hasher = threading.Thread(target=self._hash, args=(fd,), name="omics-download-etag", daemon=True)
        try:
            if self.etag is not None:
                hasher.start()
            self._fetch_all(fd, max_concurrency)
            if hasher.is_alive():
                hasher.join()
            first = os.pread(fd, HEAD, 0)
        except BaseException:
            self.failed.set()
            if hasher.is_alive():
                hasher.join()
            os.close(fd)
            os.remove(partial)
            raise
        os.close(fd)
        final = os.fspath(place(first))
        os.replace(partial, final)
        return final

    def _fetch_all(self, fd: int, max_concurrency: int) -> None:
        with ThreadPoolExecutor(max_concurrency, thread_name_prefix="omics-download") as pool:
            futures = [pool.submit(self._fetch, fd, part) for part in range(1, self.total_parts + 1)]
            try:
                received = sum(future.result() for future in futures)
            except BaseException:
                self.failed.set()
                for future in futures:
                    future.cancel()
                raise
        if received != self.size:
            raise ValueError(f"{self.params['file'].lower()}: received {received} bytes of {self.size}")

    def _fetch(self, fd: int, part: int) -> int:
        if self.failed.is_set():
            raise RuntimeError("an earlier part failed")
        base = (part - 1) * self.part_size
        with self.slots:
            got = self.api.call_into(
                self.operation, lambda at, chunk: os.pwrite(fd, chunk, base + at), **self.params, partNumber=part
            )
        self.progress.add(got)
        with self.changed:
            self.written.add(part)
            self.changed.notify_all()
        return got

    def _hash(self, fd: int) -> None:
        """The ETag over parts 1..N in order, each as soon as it is written."""
        assert self.etag is not None
        for part in range(1, self.total_parts + 1):
            with self.changed:
                while part not in self.written:
                    if self.failed.is_set():
                        return
                    self.changed.wait(0.5)
            start = (part - 1) * self.part_size
            end = min(start + self.part_size, self.size)
            while start < end and not self.failed.is_set():
                chunk = os.pread(fd, min(HASH_CHUNK, end - start), start)
                self.etag.update(chunk)
                start += len(chunk)


# What each kind of stored object has: its describe and part-read operations and its files.
DOWNLOADABLE = {
    "read_set": ("GetReadSetMetadata", "GetReadSet", READ_SET_FILES),
    "reference": ("GetReferenceMetadata", "GetReference", REFERENCE_FILES),
}


def download(
    api: OmicsApi,
    kind: str,
    ids: Mapping[str, Any],
    files: str | Sequence[str],
    destination: Location,
    max_concurrency: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Some or ``"all"`` files of a read set or reference to ``destination`` (a folder, or one file's path).

    Into a folder, each file is named by its read set or reference, so downloads of several never collide:
    ``<name>_<id>_<file><extension>`` (``s1_1234567890_source1.fastq.gz``, ``hg38_5678901234_index.fasta.fai``).
    """
    describe, read, known = DOWNLOADABLE[kind]
    described = api.call(describe, **ids)
    if described.get("status") != "ACTIVE":
        archived = described.get("status") == "ARCHIVED"
        raise ValueError(
            f"{kind.replace('_', ' ')} {ids['id']} is {described.get('status')}: only an ACTIVE one can be read"
            + (" (start a read-set activation job first)" if archived else "")
        )
    present = described.get("files") or {}
    wanted = [f for f in known if present.get(f.lower())] if files == "all" else files
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [f for f in wanted if f not in known]
    if unknown or not wanted:
        raise ValueError(f"files: {', '.join(unknown) or 'none'}; choose from {', '.join(known)} or 'all'")
    absent = [f for f in wanted if not present.get(f.lower())]
    if absent:
        raise ValueError(f"files: {kind.replace('_', ' ')} {ids['id']} has no {', '.join(absent)}")
    check_part_arguments(MAX_PART_SIZE, max_concurrency)
    max_concurrency = concurrency_for(max_concurrency, destination)
    # A FASTQ's ETag is the hash of its content: the download is checked against it.
    family = str((described.get("etag") or {}).get("algorithm", "_MD5up")).split("_", 1)[-1]
    fastq = described.get("fileType") == "FASTQ"
    into_folder = len(wanted) > 1 or is_folder(destination)
    # To local disk the files come down side by side (a pair's halves at once), max_concurrency parts in flight
    # in all; elsewhere one after the other, since parts written in order wait in memory for their turn.
    slots = threading.BoundedSemaphore(max_concurrency)
    side_by_side = len(wanted) if _is_local(destination) else 1

    def one(file: str) -> dict[str, Any]:
        def place(first: bytes) -> Location:
            return join_location(destination, file_name(kind, described, file, first)) if into_folder else destination

        etag = ETag(family, "FASTQ") if fastq and file != "INDEX" else None
        summary = present[file.lower()]
        got = download_file(api, read, ids, file, summary, place, max_concurrency, etag, overwrite, api.log, slots)
        expected = (described.get("etag") or {}).get(file.lower())
        if got.get("etag") and expected and got["etag"] != expected:
            raise ValueError(f"{file.lower()}: downloaded content has ETag {got['etag']}, the read set {expected}")
        return got

    with ThreadPoolExecutor(side_by_side, thread_name_prefix="omics-download-file") as pool:
        futures = {file.lower(): pool.submit(one, file) for file in wanted}
    return {**ids, "files": {file: future.result() for file, future in futures.items()}}


def s3_uris(described: Mapping[str, Any]) -> dict[str, str]:
    """``{"source1": "s3://...", ...}`` from a read set's (or reference's) S3 access metadata."""
    return {
        name: summary["s3Access"]["s3Uri"]
        for name, summary in (described.get("files") or {}).items()
        if (summary.get("s3Access") or {}).get("s3Uri")
    }


# A file's extension by what it holds: (read-set file type or "reference", file) -> extension.
EXTENSIONS = {
    ("FASTQ", "SOURCE1"): ".fastq",
    ("FASTQ", "SOURCE2"): ".fastq",
    ("BAM", "SOURCE1"): ".bam",
    ("BAM", "INDEX"): ".bam.bai",
    ("UBAM", "SOURCE1"): ".bam",
    ("UBAM", "INDEX"): ".bam.bai",
    ("CRAM", "SOURCE1"): ".cram",
    ("CRAM", "INDEX"): ".cram.crai",
    ("reference", "SOURCE"): ".fasta",
    ("reference", "INDEX"): ".fasta.fai",
}


def file_name(kind: str, described: Mapping[str, Any], file: str, first: bytes) -> str:
    """A downloaded file's name in a folder: ``<name>_<id>_<file><extension>``, unique per read set or reference.

    The extension says what the file holds; a gzip FASTQ or FASTA (not BAM, which is BGZF) gets ``.gz``.
    """
    file_type = "reference" if kind == "reference" else str(described.get("fileType"))
    extension = EXTENSIONS.get((file_type, file), "")
    if extension in (".fastq", ".fasta") and first.startswith(GZIP_MAGIC):
        extension += ".gz"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(described.get("name") or "")).strip("-.")
    stem = f"{name}_{described['id']}" if name else str(described["id"])
    return f"{stem}_{file.lower()}{extension}"


def exists(api: OmicsApi, location: Location) -> bool:
    if _is_s3(location):
        bucket, key = s3_parts(location)
        try:
            api.client_of("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    if _is_object_storage(location):
        return bool(location.exists())
    return os.path.exists(os.fspath(location))

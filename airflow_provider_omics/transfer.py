"""Data in and out of HealthOmics storage: multipart read-set upload, part-wise read-set and reference download.

Sources and destinations are local paths, ``s3://`` URIs (read and written with the connection's S3
client) or Airflow ``ObjectStoragePath`` objects (any fsspec store). Files are streamed: a source is read
once, in order, one part at a time, and at most ``max_concurrency`` parts are in memory, each sent or
fetched on its own thread with the hook's retries. While a FASTQ file goes by, its HealthOmics ETag (the
hash of its uncompressed content, ``formats.ETag``) is computed, so the read set can be checked against it.
Progress is logged every ``PROGRESS_EVERY`` seconds.

An upload with a ``client_token`` can be resumed: it is tagged with the token, so a later try finds it
again (``ListMultipartReadSetUploads``), asks which parts it has (``ListReadSetUploadParts``) and sends only
the others; a read set an earlier try completed is found by the same tag and reused.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import ClientError

from airflow_provider_omics.errors import error_code
from airflow_provider_omics.formats import ETag, matches, sniff_file_type

if TYPE_CHECKING:
    from airflow_provider_omics.hooks.omics import OmicsHook

MIB = 1 << 20
MAX_PART_SIZE = 100 * MIB  # "Each part cannot be larger than 100 MB" (CreateMultipartReadSetUpload)
MAX_PARTS = 10_000  # UploadReadSetPart partNumber: 1 to 10000
DEFAULT_PART_SIZE = 100 * MIB
DEFAULT_CONCURRENCY = 4
PROGRESS_EVERY = 10.0
UPLOAD_TAG = "airflow:upload-token"  # on an upload and the read set it becomes: which try's upload it is
FILE_TYPES = ("FASTQ", "BAM", "UBAM", "CRAM")
READ_SET_FILES = ("SOURCE1", "SOURCE2", "INDEX")
REFERENCE_FILES = ("SOURCE", "INDEX")
HEAD = 4096

Location = Any  # str (a path or s3:// URI), os.PathLike, or an ObjectStoragePath

log = logging.getLogger(__name__)


# ---- where bytes come from and go to ---------------------------------------------------------------
@dataclass
class Source:
    """A readable file: its name for messages, size, first bytes, and a way to open it from the start."""

    name: str
    size: int
    head: bytes
    open: Callable[[], BinaryIO]


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise ValueError(f"{uri!r} is not an S3 object URI (s3://bucket/key)")
    return bucket, key


def _is_s3(location: Location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


def _is_object_storage(location: Location) -> bool:
    # An ObjectStoragePath (on Airflow 2.11 also an os.PathLike): a path on an fsspec file system.
    return not isinstance(location, str) and hasattr(location, "protocol") and hasattr(location, "fs")


def open_source(hook: OmicsHook, location: Location, argument: str) -> Source:
    """Check that ``location`` can be read (before any HealthOmics call); errors name ``argument``."""
    if _is_s3(location):
        bucket, key = _s3_parts(location)
        s3 = hook.client_of("s3")
        try:
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
            head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD - 1}")["Body"].read() if size else b""
        except ClientError as exc:
            raise ValueError(f"{argument}: {location} cannot be read: {error_code(exc)}: {exc}") from exc
        return Source(location, size, head, lambda: s3.get_object(Bucket=bucket, Key=key)["Body"])
    if _is_object_storage(location):
        if not location.exists():
            raise ValueError(f"{argument}: {location} does not exist")
        stat = location.stat()
        size = int(stat["size"] if getattr(stat, "st_size", None) is None else stat.st_size)
        with location.open("rb") as stream:
            head = stream.read(HEAD)
        return Source(str(location), size, head, lambda: location.open("rb"))
    path = os.fspath(location)
    if not os.path.isfile(path):
        raise ValueError(f"{argument}: {path} is not a file")
    try:
        with open(path, "rb") as stream:
            head = stream.read(HEAD)
    except OSError as exc:
        raise ValueError(f"{argument}: {path} cannot be read: {exc}") from exc
    return Source(path, os.path.getsize(path), head, lambda: open(path, "rb"))


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


def write_destination(hook: OmicsHook, location: Location, chunks: Iterator[bytes], max_concurrency: int) -> str:
    """Write the chunks, in order, to ``location``; return where they went. A local file appears whole or not."""
    if _is_s3(location):
        from boto3.s3.transfer import TransferConfig

        bucket, key = _s3_parts(location)
        config = TransferConfig(multipart_chunksize=16 * MIB, max_concurrency=max_concurrency)
        hook.client_of("s3").upload_fileobj(_ChunkReader(chunks), bucket, key, Config=config)
        return str(location)
    if _is_object_storage(location):
        with location.open("wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        return str(location)
    path = os.fspath(location)
    partial = f"{path}.partial"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with open(partial, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return path


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


def check_part_arguments(part_size: int, max_concurrency: int) -> None:
    if isinstance(part_size, bool) or not isinstance(part_size, int) or not 0 < part_size <= MAX_PART_SIZE:
        raise ValueError(f"part_size: must be a whole number of bytes from 1 to {MAX_PART_SIZE} (100 MiB)")
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency: must be a whole number of at least 1, got {max_concurrency!r}")


def check_upload_arguments(
    source1: Location, source2: Location | None, source_file_type: str, part_size: int, max_concurrency: int
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
    hook: OmicsHook, source1: Location, source2: Location | None, source_file_type: str, part_size: int
) -> dict[str, Source]:
    """Open and check each source: readable, of the declared type, in at most 10,000 parts."""
    sources = {"SOURCE1": open_source(hook, source1, "source1")}
    if source2 is not None:
        sources["SOURCE2"] = open_source(hook, source2, "source2")
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


class ReadSetUpload:
    """One direct upload into a sequence store (``OmicsHook.upload_read_set`` runs it)."""

    def __init__(
        self,
        hook: OmicsHook,
        sequence_store_id: str,
        request: Mapping[str, Any],
        sources: Mapping[str, Source],
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        client_token: str | None = None,
        logger: Any = log,
    ) -> None:
        self.hook = hook
        self.store = sequence_store_id
        self.request = dict(request)
        self.sources = sources
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.token = client_token
        self.log = logger
        self.upload_id: str | None = None
        self.etag_family = "MD5up"

    # -- finding an earlier try's work
    def earlier_read_set(self) -> dict[str, Any] | None:
        """The read set (list item) an earlier try with this token completed, if any and not deleted."""
        if not self.token:
            return None
        filters = {"name": self.request["name"], "creationType": "UPLOAD"}
        for item in self.hook.paginate("ListReadSets", sequenceStoreId=self.store, filter=filters):
            if item.get("status") in ("DELETING", "DELETED"):
                continue
            tags = self.hook.call("ListTagsForResource", resourceArn=item["arn"]).get("tags") or {}
            if tags.get(UPLOAD_TAG) == self.token:
                return dict(item)
        return None

    def earlier_upload(self) -> str | None:
        if not self.token:
            return None
        for upload in self.hook.paginate("ListMultipartReadSetUploads", sequenceStoreId=self.store):
            if (upload.get("tags") or {}).get(UPLOAD_TAG) == self.token:
                return str(upload["uploadId"])
        return None

    def parts_there(self, source: str) -> dict[int, dict[str, Any]]:
        assert self.upload_id is not None
        listed = self.hook.paginate(
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
    def run(self, earlier: Mapping[str, Any] | None = None) -> UploadResult:
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
            created = self.hook.call("CreateMultipartReadSetUpload", sequenceStoreId=self.store, **request)
            self.upload_id = created["uploadId"]
            self.log.info("Started upload %s into sequence store %s", self.upload_id, self.store)
        self.etag_family = str(self.hook.call("GetSequenceStore", id=self.store).get("eTagAlgorithmFamily") or "MD5up")
        total = sum(source.size for source in self.sources.values())
        progress = Progress("Uploaded", f"read set {self.request.get('name')!r}", total, self.log)
        completed, sent, reused_parts, etags = [], 0, 0, {}
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="omics-upload") as pool:
            for slot, source in self.sources.items():
                parts, slot_sent, slot_reused, etag = self._send(pool, slot, source, progress)
                completed += parts
                sent += slot_sent
                reused_parts += slot_reused
                if etag is not None:
                    etags[slot.lower()] = etag
        progress.say(final=True)
        finished = self.hook.call(
            "CompleteMultipartReadSetUpload", sequenceStoreId=self.store, uploadId=self.upload_id, parts=completed
        )
        self.log.info(
            "Upload %s complete: read set %s (%d parts sent, %d already there)",
            self.upload_id,
            finished["readSetId"],
            sent,
            reused_parts,
        )
        return UploadResult(finished["readSetId"], self.upload_id, sent, reused_parts, etags)

    def _send(
        self, pool: ThreadPoolExecutor, slot: str, source: Source, progress: Progress
    ) -> tuple[list[dict[str, Any]], int, int, str | None]:
        """Read ``source`` once, in order; send each part not there yet, at most ``max_concurrency`` at a time."""
        there = self.parts_there(slot)
        etag = ETag(self.etag_family, "FASTQ") if self.request["sourceFileType"] == "FASTQ" else None
        slots = threading.BoundedSemaphore(self.max_concurrency)  # parts in memory: read and not yet sent
        futures: list[Future[dict[str, Any]]] = []
        sent = reused = 0
        number = 0
        try:
            with source.open() as stream:
                while True:
                    slots.acquire()
                    if any(f.done() and f.exception() for f in futures):  # a part failed: read no further
                        slots.release()
                        break
                    data = read_exactly(stream, self.part_size)
                    if not data:
                        slots.release()
                        break
                    number += 1
                    if etag is not None:
                        etag.update(data)
                    earlier = there.get(number)
                    if earlier is not None and earlier.get("partSize") == len(data):
                        slots.release()
                        reused += 1
                        progress.add(len(data))
                        futures.append(
                            _done({"partNumber": number, "partSource": slot, "checksum": earlier["checksum"]})
                        )
                        continue
                    sent += 1
                    # In a box the sender empties: the pool's work item would keep the bytes alive otherwise.
                    futures.append(pool.submit(self._send_part, slot, number, [data], slots, progress))
                    del data
            parts = [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        if number != -(-source.size // self.part_size):
            raise ValueError(f"{slot.lower()}: {source.name} changed while it was read ({number} parts)")
        return parts, sent, reused, etag.hexdigest() if etag is not None else None

    def _send_part(
        self, slot: str, number: int, box: list[bytes], slots: threading.BoundedSemaphore, progress: Progress
    ) -> dict[str, Any]:
        data = box.pop()
        size = len(data)
        try:
            answer = self.hook.call(
                "UploadReadSetPart",
                sequenceStoreId=self.store,
                uploadId=self.upload_id,
                partSource=slot,
                partNumber=number,
                payload=data,
            )
        finally:
            del data
            slots.release()
        progress.add(size)
        return {"partNumber": number, "partSource": slot, "checksum": answer["checksum"]}

    def abort(self) -> None:
        if self.upload_id is None:
            return
        try:
            self.hook.call("AbortMultipartReadSetUpload", sequenceStoreId=self.store, uploadId=self.upload_id)
            self.log.warning("Aborted upload %s: its parts are deleted", self.upload_id)
        except ClientError as exc:
            self.log.warning("Upload %s not aborted (%s): abort it yourself or it stays", self.upload_id, exc)


def upload_read_set(
    hook: OmicsHook,
    sequence_store_id: str,
    request: Mapping[str, Any],
    source1: Location,
    source2: Location | None,
    part_size: int,
    max_concurrency: int,
    client_token: str | None,
    abort_on_failure: bool,
) -> dict[str, Any]:
    """Check, open and upload (or resume, or reuse) one read set: ``OmicsHook.upload_read_set``."""
    check_upload_arguments(source1, source2, request["sourceFileType"], part_size, max_concurrency)
    sources = open_upload_sources(hook, source1, source2, request["sourceFileType"], part_size)
    upload = ReadSetUpload(
        hook, sequence_store_id, request, sources, part_size, max_concurrency, client_token, hook.log
    )
    earlier = upload.earlier_read_set()
    if earlier is not None and earlier.get("status") == "UPLOAD_FAILED":
        raise ValueError(f"client_token: read set {earlier['id']} of that token failed to upload; use a new token")
    try:
        return upload.run(earlier).as_dict()
    except BaseException:
        if abort_on_failure:
            upload.abort()
        elif upload.upload_id:
            hook.log.warning("Upload %s left in place: a call with the same token resumes it", upload.upload_id)
        raise


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
    hook: OmicsHook,
    operation: str,
    ids: Mapping[str, Any],
    file: str,
    summary: Mapping[str, Any],
    destination: Location,
    max_concurrency: int,
    etag: ETag | None,
    logger: Any = log,
) -> dict[str, Any]:
    """One file of a read set or reference, part by part, to ``destination``; checked by length and ETag."""
    size = int(summary.get("contentLength") or 0)
    total_parts = int(summary.get("totalParts") or 0) if size else 0
    progress = Progress("Downloaded", f"{file.lower()} of {dict(ids)}", size, logger)
    received = 0

    def fetch(part: int) -> bytes:
        return hook.call_read(operation, **ids, file=file, partNumber=part)

    def counted() -> Iterator[bytes]:
        nonlocal received
        for chunk in _parts(fetch, total_parts, max_concurrency, progress):
            received += len(chunk)
            if etag is not None:
                etag.update(chunk)
            yield chunk

    where = write_destination(hook, destination, counted(), max_concurrency)
    progress.say(final=True)
    if received != size:
        raise ValueError(f"{file.lower()}: received {received} bytes of {size}; {where} is incomplete")
    return {"location": where, "bytes": received, **({"etag": etag.hexdigest()} if etag else {})}


# What each kind of stored object has: its describe and part-read operations and its files.
DOWNLOADABLE = {
    "read_set": ("GetReadSetMetadata", "GetReadSet", READ_SET_FILES),
    "reference": ("GetReferenceMetadata", "GetReference", REFERENCE_FILES),
}


def download(
    hook: OmicsHook,
    kind: str,
    ids: Mapping[str, Any],
    files: str | Sequence[str],
    destination: Location,
    max_concurrency: int,
) -> dict[str, Any]:
    """Some or ``"all"`` files of a read set or reference to ``destination`` (a folder, or one file's path)."""
    describe, read, known = DOWNLOADABLE[kind]
    described = hook.call(describe, **ids)
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
    # A FASTQ's ETag is the hash of its content: the download is checked against it.
    family = str((described.get("etag") or {}).get("algorithm", "_MD5up")).split("_", 1)[-1]
    fastq = described.get("fileType") == "FASTQ"
    into_folder = len(wanted) > 1 or is_folder(destination)
    done = {}
    for file in wanted:
        summary = present[file.lower()]
        target = (
            join_location(destination, file_name(summary, f"{ids['id']}_{file.lower()}"))
            if into_folder
            else destination
        )
        etag = ETag(family, "FASTQ") if fastq and file != "INDEX" else None
        done[file.lower()] = download_file(hook, read, ids, file, summary, target, max_concurrency, etag, hook.log)
        expected = (described.get("etag") or {}).get(file.lower())
        got = done[file.lower()].get("etag")
        if got and expected and got != expected:
            raise ValueError(f"{file.lower()}: downloaded content has ETag {got}, the read set {expected}")
    return {**ids, "files": done}


def s3_uris(described: Mapping[str, Any]) -> dict[str, str]:
    """``{"source1": "s3://...", ...}`` from a read set's (or reference's) S3 access metadata."""
    return {
        name: summary["s3Access"]["s3Uri"]
        for name, summary in (described.get("files") or {}).items()
        if (summary.get("s3Access") or {}).get("s3Uri")
    }


def file_name(summary: Mapping[str, Any], fallback: str) -> str:
    """A downloaded file's name: the one in its S3 access URI, else ``fallback``."""
    uri = (summary.get("s3Access") or {}).get("s3Uri")
    return posixpath.basename(uri.rstrip("/")) if uri else fallback

"""Part-wise downloads of read sets and references: ``max_concurrency`` parts at once; to local disk, the files
of a pair side by side, each part streamed to its place in its file; elsewhere, one file after the other,
parts whole and in order."""

import logging
import os
import re
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from airflow_provider_omics.api import OmicsApi
from airflow_provider_omics.formats import GZIP_MAGIC, ETag
from airflow_provider_omics.locations import (
    HEAD,
    Location,
    exists,
    is_folder,
    is_local,
    join_location,
    write_destination,
)
from airflow_provider_omics.parts import HASH_CHUNK, MAX_PART_SIZE, Progress, check_part_arguments, concurrency_for

READ_SET_FILES = ("SOURCE1", "SOURCE2", "INDEX")
REFERENCE_FILES = ("SOURCE", "INDEX")

log = logging.getLogger(__name__)


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
    if is_local(place(b"")):
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
    side_by_side = len(wanted) if is_local(destination) else 1

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

"""Where a transfer's bytes come from and go to: local paths, ``s3://`` URIs (read and written with the
connection's S3 client) or Airflow ``ObjectStoragePath`` objects (any fsspec store)."""

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from airflow_provider_omics.api import OmicsApi
from airflow_provider_omics.errors import error_code

MIB = 1 << 20
HEAD = 4096  # what is read of a source to tell its type

Location = Any  # str (a path or s3:// URI), os.PathLike, or an ObjectStoragePath


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


def is_s3(location: Location) -> bool:
    return isinstance(location, str) and location.startswith("s3://")


def is_object_storage(location: Location) -> bool:
    # An ObjectStoragePath (on Airflow 2.11 also an os.PathLike): a path on an fsspec file system.
    return not isinstance(location, str) and hasattr(location, "protocol") and hasattr(location, "fs")


def open_source(api: OmicsApi, location: Location, argument: str) -> Source:
    """Check that ``location`` can be read (before any HealthOmics call); errors name ``argument``."""
    if is_s3(location):
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
    if is_object_storage(location):
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
    if is_s3(location):
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
    if is_s3(location):
        return False
    return bool(location.is_dir()) if is_object_storage(location) else os.path.isdir(location)


def join_location(directory: Location, name: str) -> Location:
    if is_s3(directory):
        return f"{directory.rstrip('/')}/{name}"
    if is_object_storage(directory):
        return directory / name
    return os.path.join(os.fspath(directory), name)


def is_local(location: Location) -> bool:
    return not is_s3(location) and not is_object_storage(location)


def exists(api: OmicsApi, location: Location) -> bool:
    if is_s3(location):
        bucket, key = s3_parts(location)
        try:
            api.client_of("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    if is_object_storage(location):
        return bool(location.exists())
    return os.path.exists(os.fspath(location))

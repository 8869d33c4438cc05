"""What kind of sequence file some bytes are, and HealthOmics ETags: shared by the transfer code and the emulator.

No Airflow here: the emulator imports it too.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable

GZIP_MAGIC = b"\x1f\x8b"
# The sequence store's ETag families (CreateSequenceStore ``eTagAlgorithmFamily``) and their hashes.
ETAG_HASHES = {"MD5up": "md5", "SHA256up": "sha256", "SHA512up": "sha512"}


def sniff_file_type(head: bytes) -> str | None:
    """``FASTQ``, ``BAM`` (a uBAM too) or ``CRAM`` from a file's first bytes (gzipped or not); None: neither."""
    if head.startswith(b"CRAM"):
        return "CRAM"
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 64)
        except zlib.error:
            return None
        if head.startswith(b"BAM\x01"):
            return "BAM"
    return "FASTQ" if head.startswith(b"@") else None


def matches(file_type: str, sniffed: str | None) -> bool:
    """Whether content sniffed as ``sniffed`` may be uploaded as ``file_type`` (a uBAM is a BAM file)."""
    return sniffed == ("BAM" if file_type == "UBAM" else file_type)


class ETag:
    """A read-set file's HealthOmics ETag, fed in order: the hash of its uncompressed content (``*up``).

    For FASTQ this is the service's own definition; for BAM and CRAM the service hashes the SAM form of
    the aligned part, which only it can compute, so :attr:`comparable` is False for them.
    """

    def __init__(self, family: str, file_type: str) -> None:
        self.hash = hashlib.new(ETAG_HASHES[family])
        self.comparable = file_type == "FASTQ"
        self._gunzip: zlib._Decompress | None = None
        self._started = False

    def update(self, chunk: bytes) -> None:
        if not self._started:
            self._started = True
            if chunk.startswith(GZIP_MAGIC):
                self._gunzip = zlib.decompressobj(zlib.MAX_WBITS | 16)
        if self._gunzip is None:
            self.hash.update(chunk)
            return
        data = self._gunzip.decompress(chunk)
        # Concatenated gzip members (bgzip, `cat a.gz b.gz`): each following member decompresses on its own.
        while self._gunzip.eof and self._gunzip.unused_data:
            rest = self._gunzip.unused_data
            self.hash.update(data)
            self._gunzip = zlib.decompressobj(zlib.MAX_WBITS | 16)
            data = self._gunzip.decompress(rest)
        self.hash.update(data)

    def hexdigest(self) -> str:
        return self.hash.hexdigest()


def etag_of(family: str, file_type: str, chunks: Iterable[bytes]) -> str:
    tag = ETag(family, file_type)
    for chunk in chunks:
        tag.update(chunk)
    return tag.hexdigest()

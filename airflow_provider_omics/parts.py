"""What a transfer moves at a time: parts of at most the service's size, so many in flight (10 where parts stream
from or to local files, 4 where each is held whole, as AWS's TransferManager), and progress logged every
``PROGRESS_EVERY`` seconds."""

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_omics.locations import MIB, Location, is_local

MAX_PART_SIZE = 100 * MIB  # "Each part cannot be larger than 100 MB" (CreateMultipartReadSetUpload)
MAX_PARTS = 10_000  # UploadReadSetPart partNumber: 1 to 10000
DEFAULT_PART_SIZE = 100 * MIB
# Parts in flight, unless told: a local file streams each part, so more cost no memory (TransferManager's
# 10, its speed over a wide-area link); a part read whole (S3, ObjectStoragePath) holds part size x this.
STREAMED_CONCURRENCY = 10
WHOLE_PART_CONCURRENCY = 4
PROGRESS_EVERY = 10.0
HASH_CHUNK = 8 * MIB  # what a hashing thread reads at a time

log = logging.getLogger(__name__)


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
    local = all(is_local(location) for location in locations if location is not None)
    return STREAMED_CONCURRENCY if local else WHOLE_PART_CONCURRENCY


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

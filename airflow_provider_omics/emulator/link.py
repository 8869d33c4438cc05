"""A simulated wide-area link in front of the emulator: a round trip per request, a rate cap per connection.

On loopback every transfer is bound by CPU, so concurrency shows nothing of what it buys over a real
network, where each connection moves at most what its round trip and window allow. ``Link(app, mbps,
rtt_ms)`` makes each request wait one round trip before it is answered and moves each request's and
response's bytes at ``mbps`` megabits a second per connection (many connections together go faster, as
over a real link). Off unless asked for (``--link-mbps``, ``--link-rtt-ms``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

CHUNK = 1 << 20  # response bytes leave a MiB at a time, each when the link would have carried it


class _Pace:
    """Keeps a byte stream at ``rate`` bytes a second: ``took(n)`` after moving ``n`` bytes sleeps what is owed."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.began = time.monotonic()
        self.moved = 0

    def took(self, count: int) -> None:
        self.moved += count
        owed = self.began + self.moved / self.rate - time.monotonic()
        if owed > 0:
            time.sleep(owed)


class _PacedInput:
    """``wsgi.input`` read no faster than the link delivers it."""

    def __init__(self, stream: IO[bytes], pace: _Pace) -> None:
        self.stream = stream
        self.pace = pace

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.pace.took(len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self.pace.took(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class Link:
    """WSGI middleware: ``Link(app, mbps=200, rtt_ms=40)``; ``mbps=None`` adds the round trip only."""

    def __init__(self, app: Any, mbps: float | None = None, rtt_ms: float = 0.0) -> None:
        if mbps is not None and mbps <= 0:
            raise ValueError(f"link mbps: must be > 0, got {mbps!r}")
        if rtt_ms < 0:
            raise ValueError(f"link rtt_ms: must be >= 0, got {rtt_ms!r}")
        self.app = app
        self.rate = mbps * 1e6 / 8 if mbps else None  # bytes a second
        self.rtt = rtt_ms / 1000

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.rate:
            environ["wsgi.input"] = _PacedInput(environ["wsgi.input"], _Pace(self.rate))
        answer = self.app(environ, start_response)
        time.sleep(self.rtt)  # the request's way there and the answer's first byte's way back
        return self._paced(answer) if self.rate else answer

    def _paced(self, answer: Iterable[bytes]) -> Iterator[bytes]:
        assert self.rate
        pace = _Pace(self.rate)
        try:
            for block in answer:
                for start in range(0, len(block), CHUNK):
                    piece = block[start : start + CHUNK]
                    yield piece
                    pace.took(len(piece))
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

"""How the emulator's events reach EventBridge: as the service sends them (each once, at once), or with the faults
of EventBridge's best-effort delivery, set through the control API (``POST /_emulator/event-delivery``):

* ``drop``: the share of events never delivered;
* ``duplicate``: the share delivered twice, with the same event id, as a redelivery is;
* ``delay``: seconds every event arrives late (it keeps the time of the change it tells);
* ``reorder``: the share held back until the next event has gone (or ``HELD_AT_MOST`` seconds, if none comes).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from . import moto_adapter

HELD_AT_MOST = 5.0  # seconds an event held back to go out of order waits for one to pass it


@dataclass
class DeliveryFaults:
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0

    def check(self) -> None:
        """Refuse a setting that is out of range, naming it (``ValueError``)."""
        for name in ("drop", "duplicate", "reorder"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name}: must be a share between 0 and 1, got {value!r}")
        if isinstance(self.delay, bool) or not isinstance(self.delay, int | float) or not 0 <= self.delay <= 3600:
            raise ValueError(f"delay: must be a number of seconds from 0 to 3600, got {self.delay!r}")


class EventDelivery:
    """Puts events on moto's EventBridge default bus, through the faults set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.faults = DeliveryFaults()
        self.counts: Counter[str] = Counter()
        self._due: list[tuple[float, int, tuple[str, str, dict[str, Any], str]]] = []
        self._held: tuple[float, tuple[str, str, dict[str, Any], str]] | None = None
        self._seq = itertools.count()

    def set_faults(self, **fields: Any) -> DeliveryFaults:
        unknown = sorted(set(fields) - set(asdict(DeliveryFaults())))
        if unknown:
            raise ValueError(f"{unknown[0]}: not a setting; expected drop, duplicate, delay, reorder")
        faults = DeliveryFaults(**fields)
        faults.check()
        with self.lock:
            self.faults = faults
        return faults

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {**asdict(self.faults), "counts": dict(self.counts)}

    def send(self, account_id: str, region: str, entry: dict[str, Any]) -> None:
        """One event the service puts on the bus now."""
        faults = self.faults
        with self.lock:
            self.counts["events"] += 1
            if random.random() < faults.drop:
                self.counts["dropped"] += 1
                return
            event = (account_id, region, entry, str(uuid.uuid4()))
            due = time.time() + faults.delay
            copies = 2 if random.random() < faults.duplicate else 1
            self.counts["duplicated"] += copies - 1
            held, self._held = self._held, None
            if held is None and random.random() < faults.reorder:
                self.counts["reordered"] += 1
                self._held = (due, event)
                return
            for _ in range(copies):
                heapq.heappush(self._due, (due, next(self._seq), event))
            if held is not None:  # after the event that passed it
                heapq.heappush(self._due, (due, next(self._seq), held[1]))
        self.deliver_due()

    def deliver_due(self) -> None:
        """Put every event whose time has come (the emulator's clock calls this too, for delayed ones)."""
        now = time.time()
        ready = []
        with self.lock:
            if self._held is not None and self._held[0] + HELD_AT_MOST <= now:
                heapq.heappush(self._due, (self._held[0], next(self._seq), self._held[1]))
                self._held = None
            while self._due and self._due[0][0] <= now:
                ready.append(heapq.heappop(self._due)[2])
            self.counts["delivered"] += len(ready)
        for account_id, region, entry, event_id in ready:
            moto_adapter.put_event(account_id, region, entry, event_id)

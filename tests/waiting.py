"""A polling helper for tests that drive the emulator with plain clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(
    fetch: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s; last value: {value}")
        time.sleep(0.02)


def status_in(*statuses: str) -> Callable[[dict[str, Any]], bool]:
    return lambda response: response.get("status") in statuses

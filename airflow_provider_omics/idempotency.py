"""Client tokens that make a retry find the job its earlier try started, and their generations.

A token stays the same across tries of a task, so a start the service has seen answers with the job it
started (``requestId`` / ``clientToken`` de-duplicate). It moves to its next *generation* only after that
job failed (or an upload's read set was lost): what a retry is for is then a fresh job. One loop over the
generations serves every start operator and every upload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

MAX_GENERATIONS = 50


def token_of(*material: Any) -> str:
    """A client token from what makes two starts the same job (task, key, request, generation)."""
    digest = hashlib.sha256(json.dumps(list(material), sort_keys=True, default=repr).encode()).hexdigest()
    return f"airflow-{digest[:40]}"


def tokens_of(material: Sequence[Any], what: str) -> Iterator[str]:
    """A start's tokens: of what makes two starts the same job, and the generation."""
    return generations(lambda generation: token_of(*material, generation), what)


def generations(token_for: Callable[[int], str], what: str) -> Iterator[str]:
    """Tokens of generation 0, 1, ...: the caller takes the next one after each failed job."""
    for generation in range(MAX_GENERATIONS):
        yield token_for(generation)
    raise RuntimeError(f"{MAX_GENERATIONS} failed {what}s for one task instance; giving up")


def numbered(token: str) -> Callable[[int], str]:
    """Generations of a token the caller chose (``OmicsHook.upload_read_set(client_token=...)``)."""
    return lambda generation: token if generation == 0 else f"{token[:120]}-{generation + 1}"

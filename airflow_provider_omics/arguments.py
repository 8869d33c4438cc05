"""What an operator's arguments are: request members from botocore's model, their docs, and name checks.

An operator's request arguments are the members of its start operation in snake_case
(``workflowId`` -> ``workflow_id``). This module lists them, documents them from botocore's member
documentation, and catches a mistyped argument name when the DAG is parsed, with a hint.
"""

from __future__ import annotations

import difflib
import html
import inspect
import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_omics.compat import conf
from airflow_provider_omics.service_model import operation, snake

TOKEN_MEMBERS = ("requestId", "clientToken")


def default_deferrable() -> bool:
    return bool(conf.getboolean("operators", "default_deferrable", fallback=False))


def request_members(operation_name: str) -> dict[str, str]:
    """snake_case argument -> request member, for every member a user sets (not the idempotency token)."""
    shape = operation(operation_name).input_shape
    return {snake(name): name for name in shape.members if name not in TOKEN_MEMBERS}


def member_docs(operation_name: str, members: Mapping[str, str]) -> str:
    """``:param workflow_id: The run's workflow ID.`` for each request argument, from botocore's docs."""
    shape = operation(operation_name).input_shape
    lines = []
    for name, member in members.items():
        text = _plain(shape.members[member].documentation or "")
        required = " Required." if member in shape.required_members else ""
        lines.append(f":param {name}: {text}{required} (``{operation_name}`` ``{member}``)")
    return "\n".join(lines)


def param_blocks(docstring: str | None) -> list[str]:
    """The ``:param name: ...`` entries of a docstring, each with its continuation lines, dedented."""
    blocks: list[str] = []
    for line in inspect.cleandoc(docstring or "").splitlines():
        if line.startswith(":param "):
            blocks.append(line)
        elif blocks and line.startswith(" ") and line.strip():
            blocks[-1] += " " + line.strip()
    return blocks


def _plain(documentation: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", documentation)).split())


def accepted_arguments(cls: type) -> set[str]:
    """Every keyword some ``__init__`` along the class's MRO names (the operator's and Airflow's own)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names.update(p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
    return names - {"self"}


def check_known_arguments(cls: type, kwargs: Mapping[str, Any], extra: Iterable[str] = ()) -> None:
    """Fail at DAG parse on an argument nothing takes, naming the closest one (``workflowId`` -> ``workflow_id``)."""
    # Airflow passes its own private flags (``_airflow_from_mapped``) when it builds mapped tasks.
    unknown = [name for name in kwargs if not name.startswith("_")]
    if not unknown:
        return
    accepted = accepted_arguments(cls) | set(extra)
    problems = []
    for name in unknown:
        if name in accepted:
            continue
        hint = _closest(name, accepted)
        problems.append(f"{name!r}" + (f" (did you mean {hint}?)" if hint else ""))
    if problems:
        raise TypeError(f"{cls.__name__}: unknown argument {', '.join(problems)}")


def _closest(name: str, accepted: set[str]) -> str | None:
    if snake(name) in accepted:  # the API's camelCase: workflowId -> workflow_id
        return snake(name)
    squashed = {a.replace("_", "").lower(): a for a in accepted}
    if name.replace("_", "").lower() in squashed:  # workflowid -> workflow_id
        return squashed[name.replace("_", "").lower()]
    close = difflib.get_close_matches(name, sorted(accepted), n=1, cutoff=0.75)
    return close[0] if close else None

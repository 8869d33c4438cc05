"""Routing: which ``omics`` operation a request is, read from the URI templates of botocore's model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import OperationModel

from airflow_provider_omics.service_model import operation, service_model


@dataclass(frozen=True)
class Route:
    method: str
    regex: re.Pattern[str]
    literal_length: int
    operation: OperationModel


def _route(op: OperationModel) -> Route:
    template = op.http["requestUri"].split("?")[0]
    literal = re.sub(r"\{[^}]+\}", "", template)
    pattern = re.sub(
        r"\\\{(\w+)(\\\+)?\\\}",
        lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
        re.escape(template),
    )
    return Route(op.http["method"], re.compile(f"^{pattern}$"), len(literal), op)


class Router:
    def __init__(self) -> None:
        routes = [_route(operation(name)) for name in service_model().operation_names]
        # More literal text first, so /readset/batch/delete wins over /readset/{id}.
        self.routes = sorted(routes, key=lambda r: -r.literal_length)

    def match(self, method: str, raw_path: str) -> tuple[OperationModel, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(raw_path)
            if found:
                return route.operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

"""Checking recorded OpenLineage events against the spec of the pinned client, and each facet against its schema.

The client (openlineage-python) carries the spec as classes generated from its JSON schema, not the
schema itself, so an event is rebuilt through them: every required member present, no unknown member
in a core object, every type, enum and format the classes check (event time, run id). Each facet is
checked against the schema its ``_schemaURL`` names: the spec's own facets (and the Airflow provider's,
which name the spec's generic RunFacet) through their generated classes, ours with ``jsonschema`` and
the JSON schema the package ships.
"""

from __future__ import annotations

import enum
import functools
import importlib
import pkgutil
import types
import typing
from typing import Any

import attrs
import jsonschema
from openlineage.client.generated import base

from airflow_provider_omics.lineage import Dataset
from airflow_provider_omics.operators.lineage_mixin import FACET_SCHEMA_URL, facet_schema


def check_event(event: dict[str, Any]) -> None:
    """Raise (naming the member) unless ``event`` is a valid RunEvent with valid facets."""
    structure(base.RunEvent, event, "event")


def structure(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise AssertionError(f"{path}: expected an object for {cls.__name__}, got {data!r}")
    attrs.resolve_types(cls)
    fields = {field.name: field for field in attrs.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown and not issubclass(cls, base.BaseFacet):
        raise AssertionError(f"{path}: {cls.__name__} has no member {sorted(unknown)}")
    missing = [name for name, field in fields.items() if field.default is attrs.NOTHING and name not in data]
    if missing:
        raise AssertionError(f"{path}: {cls.__name__} lacks required {missing}")
    given = [name for name in data if name in fields and fields[name].init]  # _schemaURL is set, not given
    kwargs = {fields[name].alias: value_of(fields[name].type, data[name], f"{path}.{name}") for name in given}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise AssertionError(f"{path}: {cls.__name__}: {error}") from None


def value_of(kind: Any, value: Any, path: str) -> Any:
    if value is None:
        return None
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    origin = typing.get_origin(kind)
    if origin is list:
        if not isinstance(value, list):
            raise AssertionError(f"{path}: expected a list, got {value!r}")
        return [value_of(typing.get_args(kind)[0], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        item_kind = typing.get_args(kind)[1]
        if not isinstance(value, dict):
            raise AssertionError(f"{path}: expected an object, got {value!r}")
        if isinstance(item_kind, type) and issubclass(item_kind, base.BaseFacet):
            for name, facet in value.items():
                check_facet(facet, f"{path}.{name}")
            return {}
        return {key: value_of(item_kind, item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(value)
    if attrs.has(kind):
        return structure(kind, value, path)
    if kind is Any:
        return value
    if kind in (str, int, float, bool) and not isinstance(value, kind if kind is not float else (int, float)):
        raise AssertionError(f"{path}: expected {kind.__name__}, got {value!r}")
    return value


def check_facet(facet: Any, path: str) -> None:
    if not isinstance(facet, dict) or not facet.get("_producer") or not facet.get("_schemaURL"):
        raise AssertionError(f"{path}: a facet needs _producer and _schemaURL: {facet!r}")
    url = facet["_schemaURL"]
    if url in spec_facets():
        structure(spec_facets()[url], facet, path)
        return
    if url != FACET_SCHEMA_URL:
        raise AssertionError(f"{path}: no schema known for {url}")
    errors = sorted(
        jsonschema.Draft202012Validator(facet_schema(), format_checker=jsonschema.FormatChecker()).iter_errors(facet),
        key=str,
    )
    if errors:
        raise AssertionError(f"{path}: {errors[0].message} (at {list(errors[0].absolute_path)})")


@functools.cache
def spec_facets() -> dict[str, type]:
    """The spec's facets by their schema URL, from the client's generated modules."""
    found: dict[str, type] = {}
    package = importlib.import_module("openlineage.client.generated")
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base.BaseFacet) and value.__module__ == module.__name__:
                found[value._get_schema()] = value
    return found


def by_task(events: list[dict], dag_id: str) -> dict[str, dict[str, dict]]:
    """Each task's events by type; a mapped task's under ``task[index]``."""
    found: dict[str, dict[str, dict]] = {}
    for event in events:
        name = event["job"]["name"]
        if name == dag_id:
            continue
        task = name.split(".", 1)[1]
        index = (event["run"]["facets"].get("airflow") or {}).get("taskInstance", {}).get("map_index", -1)
        found.setdefault(task if index in (-1, None) else f"{task}[{index}]", {})[event["eventType"]] = event
    return found


def names(datasets: list[dict]) -> set[str]:
    return {Dataset(d["namespace"], d["name"]).uri for d in datasets}

"""Provider registration: Airflow finds the provider, and its info validates against Airflow's schema."""

from __future__ import annotations

import importlib
import inspect
import json
from importlib.resources import files

import jsonschema

from airflow_provider_omics.get_provider_info import get_provider_info


def test_provider_info_validates_against_airflows_schema():
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for path in info.get("extra-links", []):
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name)


def test_airflow_providers_manager_lists_the_provider():
    from airflow.providers_manager import ProvidersManager

    providers = ProvidersManager().providers
    assert "airflow-provider-omics" in providers
    assert providers["airflow-provider-omics"].data["name"] == "AWS HealthOmics"


def _public_classes(section: str) -> list[type]:
    found = []
    for entry in get_provider_info()[section]:
        for name in entry["python-modules"]:
            module = importlib.import_module(name)
            found += [
                value
                for key, value in vars(module).items()
                if inspect.isclass(value) and value.__module__ == name and not key.startswith("_")
            ]
    return found


def test_help_documents_every_argument_of_our_own():
    # Every keyword argument an operator or sensor declares (not BaseOperator's) is in help() as ":param name:".
    undocumented = {}
    for cls in _public_classes("operators") + _public_classes("sensors"):
        own = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind == p.KEYWORD_ONLY]
        missing = [name for name in own if f":param {name}:" not in (cls.__doc__ or "")]
        if missing:
            undocumented[cls.__name__] = missing
    assert undocumented == {}

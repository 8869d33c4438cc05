"""Provider registration: Airflow finds the provider, and its info validates against Airflow's schema."""

from __future__ import annotations

import importlib
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

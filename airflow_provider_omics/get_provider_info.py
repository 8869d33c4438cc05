"""Provider registration: what ``airflow providers list`` and the UI learn about this package."""

from __future__ import annotations

from typing import Any

INTEGRATION = "AWS HealthOmics"


def get_provider_info() -> dict[str, Any]:
    def modules(*names: str) -> list[dict[str, Any]]:
        return [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"airflow_provider_omics.{n}" for n in names],
            }
        ]

    return {
        "package-name": "airflow-provider-omics",
        "name": "AWS HealthOmics",
        "description": "Hooks, operators, sensors and deferrable triggers for AWS HealthOmics "
        "(sequence stores, workflows and runs, variant and annotation stores), with a local emulator.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/omics/latest/api/Welcome.html",
                "tags": ["aws"],
            }
        ],
        "hooks": modules("hooks.omics"),
        "operators": modules(
            "operators.storage",
            "operators.workflows",
            "operators.preflight",
            "operators.analytics",
            "operators.transfers",
            "operators.shares",
            "operators.right_sizing",
        ),
        "sensors": modules("sensors.omics"),
        "triggers": modules("triggers.omics"),
        "extra-links": [
            "airflow_provider_omics.links.omics.OmicsConsoleLink",
            "airflow_provider_omics.links.omics.OmicsAnalysisLink",
        ],
        "config": {
            "omics": {
                "description": "AWS HealthOmics provider settings.",
                "options": {
                    "lineage_private_details": {
                        "description": "Put names, sample and subject ids, descriptions and run parameters "
                        "in OpenLineage events (the omics run facet's ``private``) and in Asset event extras. "
                        "They can identify people: by default the events carry ids, ARNs, URIs, statuses, "
                        "the workflow, usage and cost only.",
                        "version_added": "0.4.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                },
            },
        },
    }

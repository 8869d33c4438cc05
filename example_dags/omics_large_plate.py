"""A plate of any size: every read pair in a folder, checked before anything starts, run as one run batch.

Airflow maps at most ``max_map_length`` tasks (1,024 by default), and each mapped run is a task of its own; a
run batch is one task for up to 100,000 runs, which the service submits at the account's StartRun rate. So:

plate     one run setting per sample: each ``<sample>_R1.fastq`` / ``_R2.fastq`` pair under the folder
check     the pre-flight checks of every run (parameters, inputs, images, role, output) before any starts
batch     the run batch: over 100 runs the settings go to S3 (``s3UriSettings``), the XCom stays small
reruns    the samples whose run failed (the batch wrote the run of every sample to S3)

  OMICS_DEMO_BUCKET        bucket with the plate's reads under ``inputs/plate/`` (default ``omics-demo``)
  OMICS_SERVICE_ROLE_ARN   the role HealthOmics assumes to read and write S3
  OMICS_WAITER_DELAY       seconds between status polls (default 30)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum

from airflow_provider_omics.compat import DAG, task
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.operators.preflight import OmicsPreflightOperator
from airflow_provider_omics.operators.workflows import OmicsCreateWorkflowOperator, OmicsStartRunBatchOperator
from airflow_provider_omics.request_types import ContainerRegistryMap

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
READS = f"s3://{BUCKET}/inputs/plate/"
WORKFLOW = Path(__file__).parent / "workflows" / "variant_calling.wdl"
# The tasks' Docker Hub images through an ECR pull through cache (see omics_genomics_pipeline.py).
DOCKER_HUB: ContainerRegistryMap = {
    "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
}
WAIT: dict[str, Any] = {"deferrable": True, "waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}


# [START howto_large_plate_settings]
@task
def plate(reads: str) -> list[dict]:
    """One run per read pair under ``reads``: however many samples the plate holds."""
    bucket, prefix = reads.removeprefix("s3://").split("/", 1)
    pages = OmicsHook().client_of("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    samples = sorted(key.rsplit("/", 1)[-1].removesuffix("_R1.fastq") for key in keys if key.endswith("_R1.fastq"))
    return [
        {
            "runSettingId": sample,
            "name": f"calling-{sample}",
            "parameters": {
                "sample_name": sample,
                "reads_1": f"s3://{bucket}/{prefix}{sample}_R1.fastq",
                "reads_2": f"s3://{bucket}/{prefix}{sample}_R2.fastq",
                "reference": f"s3://{BUCKET}/inputs/reference.fa",
            },
        }
        for sample in samples
    ]


# [END howto_large_plate_settings]


@task
def reruns(failed: dict) -> list[str]:
    """The samples to run again: each failed run's ``runSettingId`` (the whole run map is at ``runsUri``)."""
    return sorted(failed)


with DAG(
    dag_id="omics_large_plate",
    description="A plate of any size: checked, then run as one run batch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "example"],
) as dag:
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow",
        name="variant-calling",
        definition_path=str(WORKFLOW),
        container_registry_map=DOCKER_HUB,
        **WAIT,
    )
    settings = plate(READS)
    # [START howto_preflight]
    check = OmicsPreflightOperator(
        task_id="check",
        workflow_id=workflow.output["id"],
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/plate-runs/",
        runs=settings,  # each run's parameters; or parameters=... for one run
    )
    # [END howto_preflight]
    # [START howto_large_plate]
    batch = OmicsStartRunBatchOperator(
        task_id="batch",
        batch_name="plate",
        default_run_setting={
            "workflowId": workflow.output["id"],
            "roleArn": ROLE,
            "outputUri": f"s3://{BUCKET}/plate-runs/",
        },
        batch_run_settings=settings,  # a list: over 100 runs it goes to S3 as s3UriSettings
        fail_on_partial_success=False,  # a few failed samples are rerun, not the plate
        **WAIT,
    )
    check >> batch
    reruns(batch.output["failedRuns"])
    # [END howto_large_plate]

"""A sequencer's output folder to variant calls: the first DAG of the getting-started guide.

The four samples' FASTQ pairs in a local folder (a sequencer's output) are uploaded into a sequence
store, one mapped task per sample; the variant-calling workflow runs once per sample, deferred; the
plate is right-sized; the last task lists each sample's VCF. Settings come from the environment, so
the same file runs against the local emulator and against AWS:

  OMICS_DEMO_BUCKET        bucket for the run outputs, holding the reference at ``inputs/reference.fa``
  OMICS_SERVICE_ROLE_ARN   the role HealthOmics assumes to read and write S3
  OMICS_READS_DIR          the folder of ``<sample>_R1.fastq`` / ``<sample>_R2.fastq`` (default: the example's)
  OMICS_WAITER_DELAY       seconds between status polls (default 30)
"""

from __future__ import annotations

# [START first_dag]
import os
from pathlib import Path
from typing import Any

import pendulum

from airflow_provider_omics.compat import DAG, task
from airflow_provider_omics.operators.right_sizing import OmicsAnalyzeRunsOperator
from airflow_provider_omics.operators.storage import OmicsCreateSequenceStoreOperator
from airflow_provider_omics.operators.transfers import OmicsUploadReadSetOperator
from airflow_provider_omics.operators.workflows import OmicsCreateWorkflowOperator, OmicsStartRunOperator
from airflow_provider_omics.request_types import ContainerRegistryMap

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
READS = Path(os.environ.get("OMICS_READS_DIR", Path(__file__).parent / "data" / "reads"))
WORKFLOW = Path(__file__).parent / "workflows" / "variant_calling.wdl"
# The tasks' Docker Hub images (biocontainers/...), pulled through an ECR pull through cache whose repositories
# start with docker-hub/ (HealthOmics pulls from private ECR only): the workflow's container registry map.
DOCKER_HUB: ContainerRegistryMap = {
    "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
}
WAIT: dict[str, Any] = {"deferrable": True, "waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}


@task
def samples_in(folder: str) -> list[dict]:
    """One upload per FASTQ pair in the folder: ``NA12878_R1.fastq`` + ``NA12878_R2.fastq`` is NA12878."""
    return [
        {
            "name": first.name.removesuffix("_R1.fastq"),
            "sample_id": first.name.removesuffix("_R1.fastq"),
            "source1": str(first),
            "source2": str(first.with_name(first.name.replace("_R1", "_R2"))),
        }
        for first in sorted(Path(folder).glob("*_R1.fastq"))
    ]


@task
def run_settings(read_sets: list[dict]) -> list[dict]:
    """One run per read set; the workflow reads its files by their S3 access URIs."""
    return [
        {
            "name": f"variant-calling-{read_set['sampleId']}",
            "parameters": {
                "sample_name": read_set["sampleId"],
                "reads_1": read_set["files"]["source1"]["s3Access"]["s3Uri"],
                "reads_2": read_set["files"]["source2"]["s3Access"]["s3Uri"],
                "reference": f"s3://{BUCKET}/inputs/reference.fa",
            },
        }
        for read_set in read_sets
    ]


@task
def variant_calls(runs: list[dict]) -> dict[str, str]:
    """Each sample's VCF, from the runs' XCom (every object a run wrote is in ``summary.outputs``)."""
    return {
        run["parameters"]["sample_name"]: next(uri for uri in run["summary"]["outputs"] if uri.endswith(".vcf"))
        for run in runs
    }


with DAG(
    dag_id="omics_sequencer_to_results",
    description="A sequencer's FASTQ folder to variant calls on AWS HealthOmics",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "example"],
) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="sequence_store", name="sequencer-runs", **WAIT)
    uploads = OmicsUploadReadSetOperator.partial(
        task_id="upload",
        sequence_store_id=store.output["id"],
        source_file_type="FASTQ",
        subject_id="cohort-1",
        retries=3,  # a retry resumes the upload where it stopped
        **WAIT,
    ).expand_kwargs(samples_in(str(READS)))
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow",
        name="variant-calling",
        definition_path=str(WORKFLOW),
        container_registry_map=DOCKER_HUB,
        **WAIT,
    )
    runs = OmicsStartRunOperator.partial(
        task_id="call_variants",
        workflow_id=workflow.output["id"],
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        **WAIT,
    ).expand_kwargs(run_settings(uploads.output))
    OmicsAnalyzeRunsOperator(task_id="right_size", run_ids=runs.output["id"], headroom=0.1)
    variant_calls(runs.output)
# [END first_dag]

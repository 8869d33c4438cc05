"""The how-to guides' DAG: every operator the example pipeline does not use, as the guides show them.

Each ``[START howto_...]`` / ``[END howto_...]`` block is included in a guide of the documentation
site, and the test suite runs this DAG end to end against the emulator (``tests/test_lineage.py``, which
also checks each task's lineage), so the documented code is tested code. Settings as the other examples:

  OMICS_DEMO_BUCKET        bucket holding the example inputs under ``inputs/`` (default ``omics-demo``)
  OMICS_SERVICE_ROLE_ARN   the role HealthOmics assumes to read and write S3
  OMICS_PARTNER_ACCOUNT    the account a workflow is shared with (default: a made-up one)
  OMICS_DOWNLOAD_DIR       a local folder for the downloads (default ``/tmp/omics-howto``)
  OMICS_WAITER_DELAY       seconds between status polls (default 30)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum

from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.analytics import (
    OmicsCreateAnnotationStoreOperator,
    OmicsCreateAnnotationStoreVersionOperator,
)
from airflow_provider_omics.operators.shares import OmicsAcceptShareOperator, OmicsCreateShareOperator
from airflow_provider_omics.operators.storage import (
    OmicsCreateReferenceStoreOperator,
    OmicsCreateSequenceStoreOperator,
    OmicsStartReferenceImportJobOperator,
)
from airflow_provider_omics.operators.transfers import (
    OmicsDownloadReadSetOperator,
    OmicsDownloadReferenceOperator,
    OmicsUploadReadSetOperator,
)
from airflow_provider_omics.operators.workflows import (
    OmicsCancelRunOperator,
    OmicsCreateRunCacheOperator,
    OmicsCreateRunGroupOperator,
    OmicsCreateWorkflowOperator,
    OmicsCreateWorkflowVersionOperator,
    OmicsListRunsOperator,
    OmicsStartRunBatchOperator,
    OmicsStartRunOperator,
)
from airflow_provider_omics.request_types import ContainerRegistryMap
from airflow_provider_omics.sensors.omics import OmicsRunSensor

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
PARTNER = os.environ.get("OMICS_PARTNER_ACCOUNT", "210987654321")
DOWNLOADS = os.environ.get("OMICS_DOWNLOAD_DIR", "/tmp/omics-howto")
DATA = Path(__file__).parent / "data"
WORKFLOW = Path(__file__).parent / "workflows" / "variant_calling.wdl"
# The tasks' Docker Hub images (biocontainers/...), pulled through an ECR pull through cache whose repositories
# start with docker-hub/ (HealthOmics pulls from private ECR only): the workflow's container registry map.
DOCKER_HUB: ContainerRegistryMap = {
    "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
}
NEXTFLOW = Path(__file__).parent / "workflows" / "fastq_qc"
WAIT: dict[str, Any] = {"waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}
INPUTS = f"s3://{BUCKET}/inputs"


def sample(name: str) -> dict[str, str]:
    """A workflow run's parameters for one sample of the example inputs in S3."""
    return {
        "sample_name": name,
        "reads_1": f"{INPUTS}/reads/{name}_R1.fastq",
        "reads_2": f"{INPUTS}/reads/{name}_R2.fastq",
        "reference": f"{INPUTS}/reference.fa",
    }


with DAG(
    dag_id="omics_howto",
    description="Every operator of the how-to guides",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "example"],
) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="store", name="howto-sequences", **WAIT)

    # [START howto_upload]
    upload = OmicsUploadReadSetOperator(
        task_id="upload",
        sequence_store_id=store.output["id"],
        source1=str(DATA / "reads" / "NA24385_R1.fastq"),  # a local path, an s3:// URI or an ObjectStoragePath
        source2=str(DATA / "reads" / "NA24385_R2.fastq"),
        source_file_type="FASTQ",
        subject_id="P-7",
        sample_id="NA24385",
        name="NA24385",
        retries=3,  # a retry resumes the upload: only the parts not yet sent are sent
        **WAIT,
    )
    # [END howto_upload]

    # [START howto_download_read_set]
    OmicsDownloadReadSetOperator(
        task_id="download",
        sequence_store_id=store.output["id"],
        read_set_id=upload.output["id"],
        destination=f"{DOWNLOADS}/reads/",  # a folder: NA24385_<id>_source1.fastq, ..._source2.fastq
    )
    # [END howto_download_read_set]

    # [START howto_reference_import]
    references = OmicsCreateReferenceStoreOperator(task_id="references", name="howto-references")
    reference = OmicsStartReferenceImportJobOperator(
        task_id="reference",
        reference_store_id=references.output["id"],
        role_arn=ROLE,
        sources=[{"sourceFile": f"{INPUTS}/reference.fa", "name": "chr20_demo"}],
        **WAIT,
    )
    # [END howto_reference_import]

    # [START howto_download_reference]
    reference >> OmicsDownloadReferenceOperator(
        task_id="reference_download",
        reference_store_id=references.output["id"],
        reference_id="{{ ti.xcom_pull('reference')['sources'][0]['referenceId'] }}",
        files=["SOURCE", "INDEX"],
        destination=f"{DOWNLOADS}/reference/",
    )
    # [END howto_download_reference]

    # [START howto_workflow]
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow",
        name="variant-calling",
        definition_path=str(WORKFLOW),  # a .zip, one workflow file, or a folder with its main file
        container_registry_map=DOCKER_HUB,  # its images from Docker Hub, through ECR
        **WAIT,
    )
    version = OmicsCreateWorkflowVersionOperator(
        task_id="version",
        workflow_id=workflow.output["id"],
        version_name="v2",
        definition_path=str(WORKFLOW),
        container_registry_map=DOCKER_HUB,  # a version has its own
        **WAIT,
    )
    # [END howto_workflow]

    # [START howto_run]
    group = OmicsCreateRunGroupOperator(task_id="group", name="plate-1", max_cpus=64)
    cache = OmicsCreateRunCacheOperator(task_id="cache", cache_s3_location=f"s3://{BUCKET}/run-cache/", **WAIT)
    run = OmicsStartRunOperator(
        task_id="run",
        workflow_id=workflow.output["id"],
        workflow_version_name="v2",
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        name="NA24385-calling",
        run_group_id=group.output["id"],
        cache_id=cache.output["id"],
        retry_with_cache=True,  # a failed run keeps its finished tasks; the retry takes them from the cache
        retries=1,
        parameters={
            "sample_name": "NA24385",
            "reads_1": "{{ ti.xcom_pull('upload')['files']['source1']['s3Access']['s3Uri'] }}",
            "reads_2": "{{ ti.xcom_pull('upload')['files']['source2']['s3Access']['s3Uri'] }}",
            "reference": f"{INPUTS}/reference.fa",
        },
        **WAIT,
    )
    # [END howto_run]
    [upload, version] >> run

    # [START howto_nextflow]
    qc = OmicsCreateWorkflowOperator(
        task_id="nextflow_workflow",
        name="fastq-qc",
        definition_path=str(NEXTFLOW),  # main.nf, nextflow_schema.json (its parameter template), nextflow.config
        **WAIT,
    )
    OmicsStartRunOperator(
        task_id="nextflow_run",
        workflow_id=qc.output["id"],
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        name="NA12878-qc",
        parameters={key: value for key, value in sample("NA12878").items() if key != "reference"},
        **WAIT,
    )
    # [END howto_nextflow]

    # [START howto_list_runs]
    run >> OmicsListRunsOperator(task_id="list", run_group_id=group.output["id"], status="COMPLETED")
    # [END howto_list_runs]

    # [START howto_batch]
    OmicsStartRunBatchOperator(
        task_id="batch",
        batch_name="plate-2",
        default_run_setting={
            "workflowId": workflow.output["id"],
            "roleArn": ROLE,
            "outputUri": f"s3://{BUCKET}/batch/",
        },
        batch_run_settings={
            "inlineSettings": [
                {"runSettingId": name, "name": f"{name}-calling", "parameters": sample(name)}
                for name in ("NA12878", "NA12891")
            ]
        },
        **WAIT,
    )
    # [END howto_batch]

    # [START howto_sensor]
    started = OmicsStartRunOperator(
        task_id="start_run",
        workflow_id=workflow.output["id"],
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        name="NA12892-calling",
        parameters=sample("NA12892"),
        wait_for_completion=False,  # returns once the run has started
    )
    OmicsRunSensor(task_id="wait_for_run", id=started.output["id"], deferrable=True, poke_interval=WAIT["waiter_delay"])
    # [END howto_sensor]

    # [START howto_cancel]
    long = OmicsStartRunOperator(
        task_id="long",
        workflow_id=workflow.output["id"],
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        name="long-NA12878",
        parameters=sample("NA12878"),
        wait_for_completion=False,
    )
    OmicsCancelRunOperator(task_id="cancel", run_id=long.output["id"], **WAIT)
    # [END howto_cancel]

    # [START howto_share]
    offer = OmicsCreateShareOperator(
        task_id="offer", resource_arn=workflow.output["arn"], principal_subscriber=PARTNER, share_name="calling"
    )
    # On the partner's account (here the same connection, as the emulator lets one account accept):
    OmicsAcceptShareOperator(task_id="accept", share_id=offer.output["shareId"], **WAIT)
    # [END howto_share]

    # [START howto_annotation_store_version]
    genes = OmicsCreateAnnotationStoreOperator(task_id="annotations", name="howto_genes", store_format="GFF", **WAIT)
    genes >> OmicsCreateAnnotationStoreVersionOperator(
        task_id="annotations_v2", name="howto_genes", version_name="second", **WAIT
    )
    # [END howto_annotation_store_version]

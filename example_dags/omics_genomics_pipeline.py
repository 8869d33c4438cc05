"""From raw reads to variants on AWS HealthOmics: ingest, analysis, export.

ingest    create the stores, import a reference FASTA and paired FASTQ read sets for each sample
analysis  create the variant-calling workflow, one run per sample (dynamic task mapping, deferrable),
          then right-size the plate: what each task used, what it should reserve, pictures of both
export    export the read sets to S3; import each run's VCF into a variant store and the gene
          annotations into an annotation store

Every id travels through XCom. Settings come from the environment so that the same file runs against
the local emulator (``make demo``) and against AWS:

  OMICS_DEMO_BUCKET        bucket with the inputs under ``inputs/`` (default ``omics-demo``)
  OMICS_SERVICE_ROLE_ARN   the role HealthOmics assumes to read and write S3
  OMICS_WAITER_DELAY       seconds between status polls (default 30)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum

from airflow_provider_omics.compat import DAG, TaskGroup, task
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.operators.analytics import (
    OmicsCreateAnnotationStoreOperator,
    OmicsCreateVariantStoreOperator,
    OmicsStartAnnotationImportJobOperator,
    OmicsStartVariantImportJobOperator,
)
from airflow_provider_omics.operators.right_sizing import OmicsAnalyzeRunsOperator
from airflow_provider_omics.operators.storage import (
    OmicsCreateReferenceStoreOperator,
    OmicsCreateSequenceStoreOperator,
    OmicsStartReadSetExportJobOperator,
    OmicsStartReadSetImportJobOperator,
    OmicsStartReferenceImportJobOperator,
)
from airflow_provider_omics.operators.workflows import OmicsCreateWorkflowOperator, OmicsStartRunOperator
from airflow_provider_omics.request_types import ContainerRegistryMap
from airflow_provider_omics.uris import omics_uri

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
SAMPLES = ["NA12878", "NA12891", "NA12892"]
WORKFLOW = Path(__file__).parent / "workflows" / "variant_calling.wdl"
# The tasks' Docker Hub images (biocontainers/...), pulled through an ECR pull through cache whose repositories
# start with docker-hub/ (HealthOmics pulls from private ECR only): the workflow's container registry map.
DOCKER_HUB: ContainerRegistryMap = {
    "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
}
WAIT: dict[str, Any] = {"deferrable": True, "waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}


def arn_of_reference(store_arn: str, imported: list[dict]) -> str:
    """The reference a reference import made, by its ARN."""
    return f"{store_arn}/reference/{imported[0]['referenceId']}"


@task
def run_settings(
    read_sets: list[dict], sequence_store_id: str, reference_store_arn: str, imported: list[dict]
) -> list[dict]:
    """One run per sample: its name and the parameters the workflow declares.

    The reads go in by their S3 access URIs (``OmicsHook.read_set_s3_uris``), which any S3 reader takes;
    the reference by its ``omics://`` URI, which HealthOmics workflows also read.
    """
    hook = OmicsHook()
    reference = omics_uri(arn_of_reference(reference_store_arn, imported))
    settings = []
    for source in read_sets:
        reads = hook.read_set_s3_uris(sequence_store_id, source["readSetId"])
        parameters = {
            "sample_name": source["sampleId"],
            "reads_1": reads["source1"],
            "reads_2": reads["source2"],
            "reference": reference,
        }
        settings.append({"name": f"variant-calling-{source['sampleId']}", "parameters": parameters})
    return settings


@task
def reference_arn(store_arn: str, imported: list[dict]) -> str:
    return arn_of_reference(store_arn, imported)


@task
def export_sources(read_sets: list[dict]) -> list[dict]:
    return [{"readSetId": source["readSetId"]} for source in read_sets]


@task
def vcf_items(runs: list[dict]) -> list[dict]:
    """The VCF each run wrote: ``<runOutputUri>/out/call_variants/<sample>.vcf``."""
    return [
        {"source": f"{run['runOutputUri']}/out/call_variants/{run['parameters']['sample_name']}.vcf"} for run in runs
    ]


with DAG(
    dag_id="omics_genomics_pipeline",
    description="Reads to variants on AWS HealthOmics: ingest, analysis, export",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "example"],
) as dag:
    with TaskGroup("ingest"):
        # [START howto_stores]
        sequence_store = OmicsCreateSequenceStoreOperator(task_id="sequence_store", name="demo-sequences", **WAIT)
        reference_store = OmicsCreateReferenceStoreOperator(task_id="reference_store", name="demo-references")
        reference = OmicsStartReferenceImportJobOperator(
            task_id="import_reference",
            reference_store_id=reference_store.output["id"],
            role_arn=ROLE,
            sources=[{"sourceFile": f"s3://{BUCKET}/inputs/reference.fa", "name": "chr20_demo"}],
            **WAIT,
        )
        # [END howto_stores]
        # [START howto_read_set_import]
        reads = OmicsStartReadSetImportJobOperator(
            task_id="import_reads",
            sequence_store_id=sequence_store.output["id"],
            role_arn=ROLE,
            sources=[
                {
                    "sourceFiles": {
                        "source1": f"s3://{BUCKET}/inputs/reads/{sample}_R1.fastq",
                        "source2": f"s3://{BUCKET}/inputs/reads/{sample}_R2.fastq",
                    },
                    "sourceFileType": "FASTQ",
                    "subjectId": sample,
                    "sampleId": sample,
                    "name": sample,
                }
                for sample in SAMPLES
            ],
            **WAIT,
        )
        # [END howto_read_set_import]
        reference_arn_ = reference_arn(reference_store.output["arn"], reference.output["sources"])

    with TaskGroup("analysis"):
        # [START howto_mapped_runs]
        # preflight: before creating or starting, check the definition, its images, the role, inputs, output.
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow",
            name="variant-calling",
            definition_path=str(WORKFLOW),
            container_registry_map=DOCKER_HUB,
            preflight=True,
            **WAIT,
        )
        runs = OmicsStartRunOperator.partial(
            task_id="call_variants",
            preflight=True,
            workflow_id=workflow.output["id"],
            role_arn=ROLE,
            output_uri=f"s3://{BUCKET}/runs/",
            pictures=True,  # each run's timeline, next to its outputs
            **WAIT,
        ).expand_kwargs(
            run_settings(
                reads.output["sources"],
                sequence_store.output["id"],
                reference_store.output["arn"],
                reference.output["sources"],
            )
        )
        # What each task of the plate used, what it should reserve (with 10% headroom), the plate's chart.
        OmicsAnalyzeRunsOperator(task_id="right_size", run_ids=runs.output["id"], headroom=0.1, write_config=True)
        # [END howto_mapped_runs]

    with TaskGroup("export"):
        # [START howto_export]
        OmicsStartReadSetExportJobOperator(
            task_id="export_reads",
            sequence_store_id=sequence_store.output["id"],
            role_arn=ROLE,
            destination=f"s3://{BUCKET}/exports/",
            sources=export_sources(reads.output["sources"]),
            **WAIT,
        )
        # [END howto_export]
        # [START howto_variants]
        variant_store = OmicsCreateVariantStoreOperator(
            task_id="variant_store", name="demo_variants", reference={"referenceArn": reference_arn_}, **WAIT
        )
        variant_store >> OmicsStartVariantImportJobOperator(
            task_id="import_variants",
            destination_name="demo_variants",
            role_arn=ROLE,
            items=vcf_items(runs.output),
            **WAIT,
        )
        # [END howto_variants]
        # [START howto_annotations]
        annotation_store = OmicsCreateAnnotationStoreOperator(
            task_id="annotation_store", name="demo_annotations", store_format="GFF", **WAIT
        )
        annotation_store >> OmicsStartAnnotationImportJobOperator(
            task_id="import_annotations",
            destination_name="demo_annotations",
            role_arn=ROLE,
            items=[{"source": f"s3://{BUCKET}/inputs/genes.gff3"}],
            **WAIT,
        )
        # [END howto_annotations]

"""Call variants on each read set as it arrives: a DAG scheduled on a sequence store's read sets.

``omics_daily_ingest`` imports each day's reads. Every read set it adds to the store is an Asset event
on the store's read sets (``lineage.read_sets_in(<store ARN>)``:
``omics://<account>.storage.<region>.amazonaws.com/<store>/readSet``), one per import, whose extra
names the read sets it added (``readSetIds``, comma-separated). Airflow runs this DAG when such events arrive, with no
sensor and no polling, and this DAG runs the workflow once per new read set.

  OMICS_SEQUENCE_STORE_ARN  the sequence store omics_daily_ingest imports into
  OMICS_WORKFLOW_ID         the workflow to run on each new read set (``workflows/variant_calling.wdl``)
  OMICS_REFERENCE_URI       the reference it aligns to (an ``omics://`` or ``s3://`` URI)
  OMICS_DEMO_BUCKET         where the runs write (``s3://<bucket>/runs/``)
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.compat.assets import Asset

from airflow_provider_omics.compat import DAG, get_current_context, task
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.lineage import read_sets_in, triggering_extras
from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

STORE_ARN = os.environ.get("OMICS_SEQUENCE_STORE_ARN", "arn:aws:omics:us-east-1:123456789012:sequenceStore/0000000000")
NEW_READ_SETS = Asset(read_sets_in(STORE_ARN))
REFERENCE = os.environ.get("OMICS_REFERENCE_URI", "s3://omics-demo/inputs/reference.fa")
BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")


@task
def runs_for_new_read_sets() -> list[dict]:
    """A run's name and parameters for each read set that triggered this DAG run."""
    store_id = STORE_ARN.rsplit("/", 1)[1]
    hook = OmicsHook()
    settings = []
    for extra in triggering_extras(get_current_context(), NEW_READ_SETS.uri):
        for read_set in extra["readSetIds"].split(","):
            reads = hook.read_set_s3_uris(store_id, read_set)
            parameters = {
                "sample_name": read_set,
                "reads_1": reads["source1"],
                "reads_2": reads["source2"],
                "reference": REFERENCE,
            }
            settings.append({"name": f"calling-{read_set}", "parameters": parameters})
    return settings


with DAG(
    dag_id="omics_call_new_reads",
    description="Variant calling on each read set as it lands in the sequence store",
    schedule=[NEW_READ_SETS],
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "example"],
) as dag:
    OmicsStartRunOperator.partial(
        task_id="call_variants",
        workflow_id=os.environ.get("OMICS_WORKFLOW_ID", "0000000"),
        role_arn=ROLE,
        output_uri=f"s3://{BUCKET}/runs/",
        analyze=False,
        deferrable=True,
        waiter_delay=float(os.environ.get("OMICS_WAITER_DELAY", "30")),
    ).expand_kwargs(runs_for_new_read_sets())

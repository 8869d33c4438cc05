"""Import each day's sequencing output into a sequence store: scheduled, with catch-up for backfills.

Every day's FASTQ pairs land under ``s3://<bucket>/incoming/<YYYY-MM-DD>/``. The import's idempotency
key is the logical date (``{{ ds }}``), so any DAG run of a date (a retry, a clear, a backfill, a manual
run or ``airflow dags test`` of that date) re-attaches to or reuses the job that date already started
instead of importing the reads twice.

  OMICS_SEQUENCE_STORE_ID  the sequence store to import into
"""

from __future__ import annotations

import os

import pendulum

from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.storage import OmicsStartReadSetImportJobOperator

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
ROLE = os.environ.get("OMICS_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
SAMPLES = ["NA12878", "NA12891", "NA12892"]

with DAG(
    dag_id="omics_daily_ingest",
    description="Daily import of new read sets; idempotent per logical date",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=True,
    max_active_runs=3,
    tags=["omics", "example"],
) as dag:
    OmicsStartReadSetImportJobOperator(
        task_id="import_reads",
        sequence_store_id=os.environ.get("OMICS_SEQUENCE_STORE_ID", "0000000000"),
        role_arn=ROLE,
        sources=[
            {
                "sourceFiles": {
                    "source1": f"s3://{BUCKET}/incoming/{{{{ ds }}}}/{sample}_R1.fastq",
                    "source2": f"s3://{BUCKET}/incoming/{{{{ ds }}}}/{sample}_R2.fastq",
                },
                "sourceFileType": "FASTQ",
                "subjectId": sample,
                "sampleId": sample,
                "name": f"{sample}-{{{{ ds }}}}",
            }
            for sample in SAMPLES
        ],
        idempotency_key="{{ ds }}",  # one import per logical date, whichever DAG run asks
        deferrable=True,
        waiter_delay=float(os.environ.get("OMICS_WAITER_DELAY", "30")),
        retries=2,
    )

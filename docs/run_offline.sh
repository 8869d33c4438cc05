#!/usr/bin/env bash
# Run a DAG against the local emulator, offline: the getting-started guide's recipe, as a script.
# Usage, from a clone of this repository, in a virtualenv with airflow-provider-omics[emulator]:
#   bash docs/run_offline.sh   (the first DAG; tests/test_docs.py runs it so)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
# [START run_offline]
export AIRFLOW_HOME=$WORK/airflow-home           # Airflow's database and logs (SQLite), made by db migrate
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/example_dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

# HealthOmics on loopback, and moto for S3, CloudWatch Logs and the rest, on the same port.
python -m airflow_provider_omics.emulator --port 5055 --step-seconds 0.5 &
trap 'kill %1' EXIT
export AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": "testing", "password": "testing",
  "extra": {"endpoint_url": "http://127.0.0.1:5055", "region_name": "us-east-1",
            "config_kwargs": {"inject_host_prefix": false}}}'
airflow db migrate > /dev/null

# What the DAG reads: the reference its runs use (S3), the workflow's images (ECR, where its registry map says).
python - <<'PY'
import time, boto3, botocore.exceptions
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:5055")
for _ in range(100):  # the emulator may still be starting
    try:
        s3.create_bucket(Bucket="omics-demo")
        break
    except botocore.exceptions.EndpointConnectionError:
        time.sleep(0.2)
s3.upload_file("example_dags/data/reference.fa", "omics-demo", "inputs/reference.fa")
from airflow_provider_omics.emulator import images
ecr = boto3.client("ecr", endpoint_url="http://127.0.0.1:5055")
for name in ("bwa-samtools", "bcftools"):
    images.push(ecr, f"123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/biocontainers/{name}:latest")
PY

OMICS_WAITER_DELAY=0.5 airflow dags test omics_sequencer_to_results

# What it wrote: each sample's variant calls, in the emulator's S3.
python - <<'PY'
import boto3
listed = boto3.client("s3", endpoint_url="http://127.0.0.1:5055").list_objects_v2(Bucket="omics-demo", Prefix="runs/")
print("\n".join(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".vcf")))
PY
# [END run_offline]

"""``make demo``: the example genomics pipeline, end to end in real Airflow against the local emulator.

Starts the emulator on a free loopback port, points ``aws_default`` at it, uploads the sample inputs
to (moto) S3 and the workflow's images to its ECR, runs ``airflow dags test omics_genomics_pipeline``
with an Airflow home inside the repository (SQLite), prints what the pipeline made, and exits 0 only if the
DAG run succeeded.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VERSION = importlib.metadata.version("apache-airflow")
# One Airflow home per version: each migrates the database to its own schema.
HOME = ROOT / ".airflow-demo" / ".".join(AIRFLOW_VERSION.split(".")[:2])
DAG_ID = "omics_genomics_pipeline"
BUCKET = "omics-demo"
# What the workflow's tasks use of what they reserve (align: 2 CPUs, 4 GiB; call_variants: 4 CPUs,
# 16 GiB): one sample's variant calling needs twice the memory of the others'.
USAGE = [
    {"task": "call_variants", "run": "*NA12892*", "cpus": 1.7, "memory_gib": 11.2},
    {"task": "call_variants", "cpus": 1.4, "memory_gib": 4.6, "memory_average_gib": 2.8},
    {"task": "align", "cpus": 1.9, "memory_gib": 2.9, "cpus_average": 1.6},
]


def airflow(env: dict[str, str], *args: str, log: Path | None = None) -> str:
    with open(log, "w") if log else open(os.devnull, "w") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=env, text=True, stdout=subprocess.PIPE, stderr=sink
        )
    if log:
        log.write_text(log.read_text() + done.stdout)
    if done.returncode != 0 and not log:
        raise SystemExit(f"airflow {' '.join(args)} failed (exit {done.returncode})")
    return done.stdout


def json_lines(text: str) -> list[dict]:
    """The JSON table of an ``airflow ... -o json`` command, past any warnings it printed first."""
    # Airflow 2 prints its log lines ("[2026-11-23T...") on stdout too: the table is the line that is JSON.
    return json.loads(next((line for line in text.splitlines() if line.startswith(("[{", "[]"))), "[]"))


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_omics.emulator", "--port", "0", "--step-seconds", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = emulator.stdout.readline().strip()  # type: ignore[union-attr]
        print(f"HealthOmics emulator at {endpoint}")
        extra = {"endpoint_url": endpoint, "region_name": "us-east-1", "config_kwargs": {"inject_host_prefix": False}}
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
            ),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "OMICS_DEMO_BUCKET": BUCKET,
            "OMICS_WAITER_DELAY": "1",
        }
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        import boto3
        from botocore.config import Config

        from airflow_provider_omics import shipped_model
        from airflow_provider_omics.emulator import images

        s3 = boto3.client("s3", endpoint_url=endpoint)
        omics = shipped_model.client("omics", endpoint_url=endpoint, config=Config(inject_host_prefix=False))
        s3.create_bucket(Bucket=BUCKET)
        data = ROOT / "example_dags" / "data"
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            s3.put_object(Bucket=BUCKET, Key=f"inputs/{path.relative_to(data)}", Body=path.read_bytes())
        print(f"Uploaded the sample inputs to s3://{BUCKET}/inputs/")
        # The workflow's Docker Hub images, where its registry map has HealthOmics pull them (a pull through cache).
        ecr = boto3.client("ecr", endpoint_url=endpoint)
        for name in ("bwa-samtools", "bcftools"):
            images.push(ecr, f"123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/biocontainers/{name}:latest")
        print("Pushed the workflow's images to ECR (docker-hub/biocontainers/...)")
        # The emulator runs no containers: say what the tasks used, as each run's manifest will tell it.
        for profile in USAGE:
            request = urllib.request.Request(
                f"{endpoint}/_emulator/usage", json.dumps(profile).encode(), {"Content-Type": "application/json"}
            )
            urllib.request.urlopen(request).close()

        print("Initialising Airflow (SQLite in .airflow-demo/) ...")
        airflow(env, "db", "migrate")
        airflow(env, "dags", "reserialize")  # Airflow 2's dags test does not record the DAG, list-runs needs it
        print(f"Running: airflow dags test {DAG_ID}   (log: {HOME.relative_to(ROOT)}/dags-test.log)")
        started = time.monotonic()
        airflow(env, "dags", "test", DAG_ID, log=HOME / "dags-test.log")
        elapsed = time.monotonic() - started

        with urllib.request.urlopen(f"{endpoint}/_emulator/requests") as response:
            counts = json.loads(response.read())["counts"]  # the pipeline's own, before this summary asks
        dag_arg = ["-d", DAG_ID] if AIRFLOW_VERSION.startswith("2.") else [DAG_ID]  # positional since Airflow 3
        runs = json_lines(airflow(env, "dags", "list-runs", *dag_arg, "-o", "json"))
        if not runs:
            print(f"No DAG run was created: see {HOME / 'dags-test.log'}")
            return 1
        run = max(runs, key=lambda r: r.get("run_after") or r["start_date"])
        states = json_lines(airflow(env, "tasks", "states-for-dag-run", DAG_ID, run["run_id"], "-o", "json"))
        print(f"\nDAG run {run['run_id']} (Airflow {AIRFLOW_VERSION}): {run['state']} in {elapsed:.0f}s")
        for ti in sorted(states, key=lambda t: (t["task_id"], str(t.get("map_index")))):
            index = f"[{ti['map_index']}]" if str(ti.get("map_index")) not in ("", "-1", "None") else ""
            print(f"  {ti['task_id'] + index:<40} {ti['state']}")
        for store in omics.list_sequence_stores()["sequenceStores"]:
            read_sets = omics.list_read_sets(sequenceStoreId=store["id"])["readSets"]
            print(f"\nRead sets in {store['name']}: " + ", ".join(f"{r['sampleId']} ({r['id']})" for r in read_sets))
        print("Runs:")
        for item in omics.list_runs()["items"]:
            described = omics.get_run(id=item["id"])
            print(f"  {item['name']:<32} {item['status']:<10} {described['runOutputUri']}")
        exports = s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/").get("Contents", [])
        print(f"Exported files: {len(exports)} under s3://{BUCKET}/exports/")
        pictures = HOME / "analysis"
        pictures.mkdir(exist_ok=True)
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/").get("Contents", []):
            if "/analysis/" in item["Key"]:  # each run's timeline, the plate's chart and config
                folder, name = item["Key"].split("/")[1], item["Key"].rsplit("/", 1)[-1]
                name = name if folder == "analysis" else f"{folder}-{name}"  # the plate's, or a run's (its id)
                (pictures / name).write_bytes(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        print(f"Right-sizing pictures and config: {pictures.relative_to(ROOT)}/ (open the .html files in a browser)")
        per_operation = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        print(f"HealthOmics requests made by the pipeline: {sum(counts.values())} ({per_operation})")
        return 0 if run["state"] == "success" else 1
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

"""Right-sizing a plate: this provider's analysis against AWS's run analyzer (``--batch``), side by side.

One emulator enforcing the service's quotas holds a completed plate of N runs (a run batch of a
three-task workflow, the usage of each task profiled, one sample an outlier). On the same manifests:

* ``ours``: ``right_sizing.analyze_runs`` through an ``OmicsHook``, paced under the quotas;
* ``theirs``: ``aws-healthomics-tools run_analyzer --batch <ids>`` from its own virtualenv (``make tools``).

Printed: wall seconds, the requests each made and how many were throttled, and whether every task's
recommended CPUs and memory agree. ``python benchmarks/analysis.py [--runs 96]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("OMICS_TOOLS_PYTHON", ROOT / ".venv-tools" / "bin" / "python")).parent
ROLE_ARN = "arn:aws:iam::123456789012:role/OmicsServiceRole"
sys.path.insert(0, str(ROOT / "tests"))
from tour import plate_zip, profile_plate  # noqa: E402  (the tests' three-task workflow)


def plate(emulator, runs: int) -> tuple[str, list[str]]:
    omics = boto3.client("omics", endpoint_url=emulator.endpoint_url, config=Config(inject_host_prefix=False))
    boto3.client("s3", endpoint_url=emulator.endpoint_url).create_bucket(Bucket="genomics")
    workflow = omics.create_workflow(name="plate", definitionZip=plate_zip(), engine="WDL")["id"]
    while omics.get_workflow(id=workflow)["status"] != "ACTIVE":
        time.sleep(0.2)
    profile_plate(emulator)
    batch = omics.start_run_batch(
        batchName="plate",
        defaultRunSetting={"workflowId": workflow, "roleArn": ROLE_ARN, "outputUri": "s3://genomics/runs/"},
        batchRunSettings={"inlineSettings": [{"runSettingId": f"s{i}", "name": f"s{i}"} for i in range(runs)]},
    )["id"]
    while omics.get_batch(batchId=batch)["status"] != "PROCESSED":
        time.sleep(0.5)
    return batch, [r["runId"] for r in omics.list_runs_in_batch(batchId=batch)["runs"]]


def counted(emulator, since: float) -> tuple[Counter, int]:
    requests = [r for r in emulator.requests() if r["time"] >= since]
    return Counter(r["operation"] for r in requests), sum(r["outcome"] == "ThrottlingException" for r in requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=96)
    parser.add_argument("--quick", action="store_true", help="12 runs")
    args = parser.parse_args()
    runs = 12 if args.quick else args.runs
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ[key] = value
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    from airflow_provider_omics import right_sizing, usage
    from airflow_provider_omics.emulator import OmicsEmulator
    from airflow_provider_omics.hooks.omics import OmicsHook

    with OmicsEmulator(step_seconds=0.02, quotas=True) as emulator:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = emulator.connection_json()
        batch, ids = plate(emulator, runs)
        hook = OmicsHook()
        prices = usage.price_list(hook)
        ours = {}
        for name, runs_asked in (
            ("ours, by batch", lambda: right_sizing.runs_of(hook, batch_id=batch)),
            ("ours, by ids", lambda: ids),
        ):
            since, started = time.time(), time.monotonic()
            report = right_sizing.analyze_runs(hook, runs_asked(), prices=prices)
            ours[name] = (time.monotonic() - started, *counted(emulator, since), report)

        env = {**os.environ, "AWS_ENDPOINT_URL": emulator.endpoint_url, "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
        since, started = time.time(), time.monotonic()
        done = subprocess.run(
            [str(TOOLS / "aws-healthomics-tools"), "run_analyzer", "--batch", *ids],
            env=env,
            capture_output=True,
            text=True,
        )
        theirs_seconds = time.monotonic() - started
        theirs_calls, theirs_throttled = counted(emulator, since)
        if done.returncode:
            sys.exit(f"run_analyzer failed:\n{done.stderr}")
        theirs = {row["name"]: row for row in csv.DictReader(io.StringIO(done.stdout))}

    print(f"A plate of {runs} completed runs, 3 tasks each, quotas enforced (omics requests counted by the emulator)")
    print(f"{'':<16}{'seconds':>9}  {'throttled':>9}  requests")
    rows = [(name, seconds, calls, throttled) for name, (seconds, calls, throttled, _) in ours.items()]
    for name, seconds, calls, throttled in [*rows, ("theirs", theirs_seconds, theirs_calls, theirs_throttled)]:
        shown = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(f"{name:<16}{seconds:>9.1f}  {throttled:>9}  {shown}")
    report = ours["ours, by batch"][3]
    print(
        f"CloudWatch Logs (moto, not in the emulator's log): ours made GetLogEvents {report['calls']['GetLogEvents']}, "
        "paced under its quota; theirs makes a DescribeLogStreams and two or more GetLogEvents per run, unpaced"
    )
    for name, (seconds, *_) in ours.items():
        print(f"{name} / theirs wall time: {seconds / theirs_seconds:.2f}x")
    slowest = max(seconds for seconds, *_ in ours.values())
    print(f"target: a {runs}-run plate in under 120 s: {'met' if slowest < 120 else 'NOT MET'}")
    for name, task in report["tasks"].items():
        row = theirs[name]
        same = (task["recommended"]["cpus"], task["recommended"]["memoryGiB"]) == (
            int(float(row["recommendedCpus"])),
            int(float(row["recommendedMemoryGiB"])),
        )
        print(
            f"  {name:<14} ours {task['recommended']['instanceType']:<16} theirs "
            f"{row['recommendOmicsInstanceType']:<16} CPUs/GiB {'equal' if same else 'differ'}"
        )


if __name__ == "__main__":
    main()

"""A plate of 10,000 samples as one run batch, as ``OmicsStartRunBatchOperator`` runs it, against the emulator.

The emulator enforces every quota, StartRun raised to 100 a second through its quota overrides (as an account asks
AWS for an increase: at the default 1 a second, 10,000 runs take the service almost three hours to submit), and
submits the batch's runs gradually at that rate, as the service does. The operator is given the plate as a list
(what an upstream task returns): over the inline limit of 100, it writes the settings to S3 and starts the batch
with ``s3UriSettings``; it waits on ``GetBatch``; its XCom counts the runs by status, names the failed ones (1%
fail here, with the service's reason) and points to the whole ``runSettingId`` -> run map it wrote beside the
settings.

Printed: minutes from the start call to PROCESSED and to the XCom, requests by operation and how many were
throttled, the XCom's bytes against what listing every run in it would weigh, and the map's bytes in S3.

``python benchmarks/run_batch_at_scale.py [--runs 10000]`` (``make bench``); ``--quick`` is 500 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

ROLE_ARN = "arn:aws:iam::123456789012:role/OmicsServiceRole"
WDL = b"""version 1.0
workflow plate {
  input { String sample_name }
  call count { input: sample_name = sample_name }
}
task count {
  input { String sample_name }
  command <<< echo ~{sample_name} >>>
  runtime { cpu: 2  memory: "4 GiB" }
  output { File counts = "~{sample_name}.txt" }
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--start-run-rate", type=float, default=100.0)
    parser.add_argument("--quick", action="store_true", help="500 runs")
    args = parser.parse_args()
    runs = 500 if args.quick else args.runs
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")

    from tour import zipped

    from airflow_provider_omics.emulator.server import OmicsEmulator
    from airflow_provider_omics.jobs import job_kind
    from airflow_provider_omics.operators.workflows import OmicsStartRunBatchOperator

    with OmicsEmulator(step_seconds=2.0, quotas=True, quota_overrides={"StartRun": args.start_run_rate}) as emulator:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = emulator.connection_json()
        omics, s3 = emulator.client("omics"), emulator.client("s3")
        s3.create_bucket(Bucket="plates")
        workflow = omics.create_workflow(name="plate", definitionZip=zipped(WDL), requestId="plate")["id"]
        while omics.get_workflow(id=workflow)["status"] != "ACTIVE":
            time.sleep(0.5)
        emulator.add_outcome("run", "sample-*7", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR", count=runs // 100)
        plate = [
            {"runSettingId": f"s{i:05d}", "name": f"sample-{i:05d}", "parameters": {"sample_name": f"s{i:05d}"}}
            for i in range(runs)
        ]
        operator = OmicsStartRunBatchOperator(
            task_id="plate",
            batch_name="plate",
            default_run_setting={"workflowId": workflow, "roleArn": ROLE_ARN, "outputUri": "s3://plates/runs/"},
            batch_run_settings=plate,
            waiter_delay=30,
            waiter_max_attempts=1000,
            fail_on_partial_success=False,
        )
        since = time.time()
        request = operator.build_requests(context=None)[0]
        started = operator.hook.call("StartRunBatch", **request, requestId="plate")
        ids = {"batchId": started["id"]}
        described = operator.hook.wait_with(operator.wait_settings, job_kind("run_batch"), [ids])[0]
        processed = time.time() - since
        xcom = operator.result([described])
        answered = time.time() - since

        log = [r for r in emulator.requests() if r["time"] >= since]
        counts = Counter(r["operation"] for r in log)
        throttled = sum(r["outcome"] == "ThrottlingException" for r in log)
        bucket, key = xcom["runsUri"][len("s3://") :].split("/", 1)
        runs_map = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        small = len(json.dumps(xcom, default=str))
        whole = len(json.dumps({**xcom, "runs": json.loads(runs_map)}, default=str))
        print(f"run batch of {runs:,} runs, StartRun {args.start_run_rate:g}/s, GetBatch every 30 s")
        print(f"  start call to PROCESSED   {processed / 60:6.1f} min")
        print(f"  start call to XCom        {answered / 60:6.1f} min")
        per_operation = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
        print(f"  requests                  {sum(counts.values())} ({per_operation})")
        print(f"  throttled                 {throttled}")
        print(f"  run counts                {xcom['runCounts']}, failed named: {len(xcom['failedRuns'])}")
        print(f"  XCom                      {small:,} bytes (every run inline: {whole:,} bytes, {whole / small:.0f}x)")
        print(f"  runs map in S3            {len(runs_map):,} bytes at {xcom['runsUri']}")
        print(f"  settings in S3            {request['batchRunSettings']['s3UriSettings']}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    main()

"""``make system-test``: the system test DAG (``tests/system/``) on your AWS account, in one command.

Needs, from the environment: AWS credentials (any the AWS CLI takes), ``AWS_DEFAULT_REGION`` (a region with
HealthOmics) and the test's settings below; refuses to start without them. Prints what the test will cost at
most (prices from the AWS Price List API) before it starts, and what its runs cost (their ``summary``) after.
The DAG's teardown deletes everything it made, even when a step fails. Exits 0 only if the DAG run succeeded;
if it fails, send the printed report and the failed task's log (under ``$AIRFLOW_HOME/logs``).

Every call the run makes to HealthOmics, CloudWatch Logs, EventBridge, SQS and S3's control plane is recorded
(``airflow_provider_omics.recording``), whether the run succeeds or not; after the run the recording is redacted
(``redaction.py``), what it keeps is printed, and it is written to ``tests/corpus/recordings/<date>-<region>/``
when you say yes. ``OMICS_SYSTEM_TEST_RECORDING=<folder>`` writes it there without asking (no terminal, CI).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from airflow_provider_omics.recording import RECORD_TO, finish

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "AWS_DEFAULT_REGION": "a region with HealthOmics, e.g. us-east-1",
    "OMICS_SYSTEM_TEST_BUCKET": "a bucket of yours in that region (the test writes under airflow-omics-system/)",
    "OMICS_SYSTEM_TEST_ROLE_ARN": "the HealthOmics service role (docs: concepts/iam.md)",
    "OMICS_SYSTEM_TEST_IMAGE": "an image with sh in a private ECR repository of the region",
}
INSTANCE = "omics.c.large"  # what the workflow's one task (1 CPU, 2 GiB) runs on
RUNS, MINUTES, STORAGE_GIB_HOURS = 5, 10, 2.0  # at most: five runs of one task, ten minutes each, 2 GiB-h
RECORDINGS = ROOT / "tests" / "corpus" / "recordings"


class _Account:
    """What ``usage.price_list`` asks of a hook, from the environment's credentials (no Airflow yet)."""

    def __init__(self, region: str) -> None:
        self.conn_region_name = region

    def client_of(self, client_type: str, region_name: str | None = None) -> Any:
        import boto3

        return boto3.client(client_type, region_name=region_name or self.conn_region_name)


def estimate(region: str) -> str:
    from airflow_provider_omics.usage import DYNAMIC_STORAGE_PRICE, price_list

    prices = price_list(_Account(region))  # type: ignore[arg-type]
    missing = [name for name in (INSTANCE, DYNAMIC_STORAGE_PRICE) if name not in prices]
    if missing:
        raise LookupError(f"the AWS Price List API has no price for {', '.join(missing)} in {region}")
    compute = prices[INSTANCE] * RUNS * MINUTES / 60
    storage = prices[DYNAMIC_STORAGE_PRICE] * STORAGE_GIB_HOURS
    return (
        f"at most ${compute + storage:.2f}: {RUNS} runs of one task on {INSTANCE} for up to {MINUTES} minutes "
        f"each (${compute:.2f}) and their dynamic run storage (${storage:.2f}); the stores hold a few kB"
    )


def run_dag() -> None:
    """In the child: run the DAG with ``dag.test()`` and print what the parent reports, as JSON."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("omics_system_test", ROOT / "tests/system/omics_system_test.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    dag_run = module.dag.test()
    states, runs = {}, {}
    for ti in dag_run.get_task_instances():
        states[ti.task_id] = str(ti.state)
        if ti.task_id in ("run", "run_from_cache") and ti.state == "success":
            runs[ti.task_id] = (ti.xcom_pull(task_ids=ti.task_id) or {}).get("summary", {}).get("estimatedCost")
    print("SYSTEM-TEST " + json.dumps({"state": str(dag_run.state), "tasks": states, "costs": runs}))


def main() -> int:
    if "--child" in sys.argv:
        run_dag()
        return 0
    missing = [f"  {name}: {what}" for name, what in SETTINGS.items() if not os.environ.get(name)]
    if missing:
        print("make system-test needs these settings in the environment:\n" + "\n".join(missing), file=sys.stderr)
        return 2
    region = os.environ["AWS_DEFAULT_REGION"]
    env_id = f"st{secrets.token_hex(3)}"
    print(f"System test {env_id} in {region}: estimated cost {estimate(region)}")
    home = Path(tempfile.mkdtemp(prefix="omics-system-test-"))
    # An Airflow of its own: none of the caller's Airflow settings, this repository's system DAGs.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "tests" / "system"),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"region_name": region, RECORD_TO: str(home / "recording")}}
        ),
        "OMICS_SYSTEM_TEST_ENV_ID": env_id,
    }
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    done = subprocess.run([sys.executable, __file__, "--child"], env=env, text=True, capture_output=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("SYSTEM-TEST ")), None)
    if line is None:
        print(done.stdout[-5000:], done.stderr[-5000:], sep="\n", file=sys.stderr)
        print(f"The system test could not run; Airflow home (logs): {home}", file=sys.stderr)
        return 1
    report = json.loads(line.split(" ", 1)[1])
    for task_id, state in sorted(report["tasks"].items()):
        print(f"  {task_id:24} {state}")
    for task_id, cost in report["costs"].items():
        print(f"  cost of {task_id}: {cost}")
    print(f"DAG run {report['state']}; Airflow home (logs): {home}")
    keep_recording(home / "recording")
    return 0 if report["state"].endswith("success") else 1


def keep_recording(raw: Path) -> None:
    """Redact what the run recorded, show what is kept and write it where the user says yes (or was told to)."""
    told = os.environ.get("OMICS_SYSTEM_TEST_RECORDING")
    print("\nThe run's calls were recorded; redacted, the recording keeps:")
    finish(
        raw,
        into=told or RECORDINGS,
        what="make system-test",
        confirm=(lambda _: True) if told else None,
        hint="set OMICS_SYSTEM_TEST_RECORDING to a folder to write it there",
    )


if __name__ == "__main__":
    sys.exit(main())

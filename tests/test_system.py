"""The system test's DAG (``tests/system/``) against the emulator: what ``make system-test`` runs on a real
account works up to the service's own behaviour, leaves nothing behind, and fails when its body fails."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from conftest import DAGS_FOLDER, instances
from replay import recordings, replay, unexplained

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS

SYSTEM = pathlib.Path(__file__).parent / "system"
EVENTS_TEMPLATE = pathlib.Path(__file__).parent.parent / "docs" / "eventbridge" / "omics-events.cfn.yaml"
BUCKET = "airflow-omics-system-tests"
RUNNER = pathlib.Path(__file__).parent.parent / "scripts" / "system_test.py"


@pytest.fixture
def system_dag(airflow_db, emulator, s3, monkeypatch):
    monkeypatch.setenv("OMICS_SYSTEM_TEST_BUCKET", BUCKET)
    monkeypatch.setenv("OMICS_SYSTEM_TEST_ENV_ID", "ci")
    monkeypatch.setenv("OMICS_WAITER_DELAY", "0.05")
    monkeypatch.setenv("OMICS_EVENTS_TEMPLATE", str(EVENTS_TEMPLATE))
    s3.create_bucket(Bucket=BUCKET)
    emulator.push_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/ubuntu:22.04")  # pre-flight looks for it
    # What the real service does with the workflow's `fail` parameter: the run fails in its task, saying so.
    emulator.add_outcome(
        "run",
        "airflow-omics-ci-fails",
        "FAILED",
        failure_reason="RUN_TASK_FAILED",
        task="count",
        log_lines=["failing as asked"],
    )
    folder = pathlib.Path(DAGS_FOLDER)
    for old in folder.glob("*.py"):
        old.unlink()
    shutil.copy(SYSTEM / "omics_system_test.py", folder)
    shutil.copytree(SYSTEM / "workflows", folder / "workflows", dirs_exist_ok=True)
    spec = importlib.util.spec_from_file_location("omics_system_test", folder / "omics_system_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def leftovers(omics, s3, cloudformation) -> list[str]:
    found = [f"store {s['id']}" for s in omics.list_sequence_stores()["sequenceStores"] if s["status"] != "DELETED"]
    found += [f"workflow {w['id']}" for w in omics.list_workflows()["items"] if w["status"] != "DELETED"]
    found += [f"run {r['id']}" for r in omics.list_runs()["items"]]
    found += [f"cache {c['id']}" for c in omics.list_run_caches()["items"] if c["status"] != "DELETED"]
    found += [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    found += [f"stack {s['StackName']}" for s in cloudformation.describe_stacks().get("Stacks", [])]
    return found


@pytest.mark.slow
def test_a_failing_body_fails_the_system_test_and_teardown_still_cleans_up(system_dag, emulator, omics, s3):
    emulator.add_fault("UploadReadSetPart", "AccessDeniedException")  # the body's upload cannot succeed
    dag_run = system_dag.test()
    states = {key: ti.state for key, ti in instances(dag_run).items()}
    assert dag_run.state == "failed"
    assert (states["upload"], states["teardown"], states["watcher"]) == ("failed", "success", "failed")
    assert leftovers(omics, s3, emulator.client("cloudformation")) == []


def test_make_system_test_refuses_to_start_without_its_settings(monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMICS_SYSTEM_TEST_", "AWS_DEFAULT_REGION"))}
    done = subprocess.run([sys.executable, str(RUNNER)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    for setting in (
        "AWS_DEFAULT_REGION",
        "OMICS_SYSTEM_TEST_BUCKET",
        "OMICS_SYSTEM_TEST_ROLE_ARN",
        "OMICS_SYSTEM_TEST_IMAGE",
    ):
        assert setting in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="make system-test runs on the newest Airflow's virtualenv")
def test_make_system_test_runs_in_one_command_records_and_the_recording_replays(emulator, omics, s3, tmp_path):
    """The runner itself, pointed at the emulator the way any AWS client is pointed elsewhere: the system
    test DAG passes against the emulator, leaves nothing behind, and its recording (what a real account's run
    would send back) is redacted, written, found and replayed against the emulator with no difference."""
    s3.create_bucket(Bucket=BUCKET)
    emulator.push_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/ubuntu:22.04")  # as the user has it in ECR
    emulator.add_outcome("run", "*-fails", "FAILED", task="count", log_lines=["failing as asked"])
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OMICS_SYSTEM_TEST_BUCKET": BUCKET,
        "OMICS_SYSTEM_TEST_ROLE_ARN": "arn:aws:iam::123456789012:role/OmicsServiceRole",
        "OMICS_SYSTEM_TEST_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ubuntu:22.04",
        "OMICS_WAITER_DELAY": "0.1",
        "OMICS_SYSTEM_TEST_RECORDING": str(tmp_path),
    }
    env.pop("AIRFLOW_CONN_AWS_DEFAULT", None)
    done = subprocess.run([sys.executable, str(RUNNER)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"estimated cost at most \$\d+\.\d\d: 5 runs", done.stdout)
    assert "cost of run: {" in done.stdout and "DAG run success" in done.stdout
    assert leftovers(omics, s3, emulator.client("cloudformation")) == []  # its teardown left nothing
    assert "Replaced by placeholders" in done.stdout and "Written: " in done.stdout

    (recording,) = recordings(tmp_path)
    written = "\n".join(path.read_text() for path in recording.glob("*.json"))
    for secret in ("123456789012", BUCKET, "airflow-omics-ci", "OmicsServiceRole", "s1_R1", "testing"):
        assert secret not in written
    source = json.loads((recording / "source.json").read_text())
    assert source["what"] == "make system-test" and source["processes"] >= 1
    calls = json.loads((recording / "calls.json").read_text())
    recorded = {(call["service"], call["operation"]) for call in calls}
    assert {("omics", "StartRunBatch"), ("omics", "CreateShare"), ("logs", "GetLogEvents")} <= recorded
    assert ("sqs", "ReceiveMessage") in recorded and json.loads((recording / "events.json").read_text())
    # what no public source shows: a refusal's words, a run manifest, a task's log lines
    refused = [call["error"] for call in calls if call["operation"] == "DeleteSequenceStore" and "error" in call]
    assert refused[0]["code"] == "ConflictException" and refused[0]["message"]
    read = {call["request"]["logStreamName"].split("/")[0] for call in calls if call["operation"] == "GetLogEvents"}
    assert {"manifest", "run"} <= read
    emulator.reset()
    found = replay(recording, emulator)
    assert unexplained(found) == [], "\n".join(str(d) for d in unexplained(found))

"""The rule, queues and policies in ``docs/eventbridge/``: deployed on the emulator (moto's CloudFormation), a wait
and a DAG's trigger run through them; the rule for waits lets through every end the job table waits for."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_event_triggers import collect
from test_status_source import fire_all, run_waits, start_runs  # noqa: F401  (a fixture)

from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.triggers.omics import OmicsEventTrigger

TEMPLATE = Path(__file__).parent.parent / "docs" / "eventbridge" / "omics-events.cfn.yaml"


def test_the_waits_rule_lets_through_every_end_the_job_table_waits_for():
    pattern = yaml.safe_load(TEMPLATE.read_text())["Resources"]["WaitsRule"]["Properties"]["EventPattern"]
    with_events = [job for job in JOB_KINDS.values() if job.event is not None]
    assert sorted(pattern["detail-type"]) == sorted(job.event.detail_type for job in with_events)
    assert set(pattern["detail"]["status"]) == set().union(*(job.terminal_states for job in with_events))


def test_the_terraform_module_parses_and_has_the_templates_patterns():
    module = TEMPLATE.parent / "terraform"
    resources = yaml.safe_load(TEMPLATE.read_text())["Resources"]
    for rule, name in (("WaitsRule", "waits-pattern.json"), ("DagEventsRule", "dag-events-pattern.json")):
        assert json.loads((module / name).read_text()) == resources[rule]["Properties"]["EventPattern"]
    if shutil.which("terraform") is None:
        pytest.skip("no terraform here to parse the module")
    checked = subprocess.run(["terraform", "fmt", "-check", "-no-color", str(module)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# moto's CloudFormation deploys no queue policy (nor does its SQS enforce one): the rest is deployed.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS..SQS..QueuePolicy")
async def test_a_wait_and_a_dags_trigger_run_through_the_deployed_template(
    start_runs,  # noqa: F811
    emulator,
    monkeypatch,
):
    cloudformation = emulator.client("cloudformation")
    cloudformation.create_stack(StackName="omics-events", TemplateBody=TEMPLATE.read_text())
    stack = cloudformation.describe_stacks(StackName="omics-events")["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    extra = {**emulator.connection_extra(), "omics_events_queue": outputs["WaitsQueueUrl"]}
    connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    emulator.backend.step_seconds = 0.5
    dag_trigger = OmicsEventTrigger(queue_url=outputs["DagEventsQueueUrl"], kind="run")
    dags = asyncio.ensure_future(collect(dag_trigger, 1))
    await asyncio.sleep(1)

    [run_id] = start_runs(1)
    [(waited, _)] = await fire_all(run_waits([run_id], delay=300), timeout=30)  # polling alone: 5 minutes
    [started] = await dags

    assert waited["status"] == "ended" and waited["job_status"] == "COMPLETED"
    assert started["ids"] == {"id": run_id} and started["status"] == "COMPLETED"
    assert outputs["TriggererPolicyArn"].startswith("arn:aws:iam::123456789012:policy/")

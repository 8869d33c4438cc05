"""The emulator recipes of the documentation site (docs/emulator.md includes the marked blocks).

Each recipe is what a user writes to test a DAG of theirs: here a small one that runs the example
variant-calling workflow on two samples of the example inputs. They run on the newest Airflow: what they
show is the emulator's control API, and the Airflow behaviour they meet (failure reports, re-attaching
after a clear) is tested on every version by test_operators.py and test_example_dags.py.
"""

from __future__ import annotations

import pendulum
import pytest
from airflow.models.taskinstance import clear_task_instances
from airflow.utils.session import create_session
from conftest import DOCKER_HUB, EXAMPLES, states, upload_inputs

from airflow_provider_omics.compat import AIRFLOW_V_3_3_PLUS

YOUR_DAG = f"""
def sample(name):
    inputs = "s3://omics-demo/inputs"
    return {{"name": f"calling-{{name}}", "parameters": {{
        "sample_name": name, "reads_1": f"{{inputs}}/reads/{{name}}_R1.fastq",
        "reads_2": f"{{inputs}}/reads/{{name}}_R2.fastq", "reference": f"{{inputs}}/reference.fa"}}}}

with DAG("your_dag", schedule=None, start_date=START) as dag:
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow", name="calling", definition_path="{EXAMPLES / "workflows" / "variant_calling.wdl"}",
        container_registry_map={DOCKER_HUB!r}, waiter_delay=0.05)
    OmicsStartRunOperator.partial(
        task_id="call_variants", workflow_id=workflow.output["id"], role_arn=ROLE,
        output_uri="s3://omics-demo/runs/", waiter_delay=0.05, deferrable=True,
    ).expand_kwargs([sample("NA12878"), sample("NA12891")])
"""


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the docs' recipes run on the newest Airflow"),
]


@pytest.fixture
def your_dag(run_dag, emulator):
    upload_inputs(emulator)
    return lambda **when: run_dag(YOUR_DAG, "your_dag", **when)


def test_recipe_make_a_run_fail_with_a_given_task_log(emulator, your_dag, output):
    # [START recipe_failing_run]
    emulator.add_outcome(
        "run",
        "calling-NA12891",  # the run's name (a glob)
        "FAILED",
        failure_reason="OUT_OF_MEMORY_ERROR",
        message="Task call_variants ran out of memory",
        task="call_variants",  # the task of the workflow that fails; the ones before it complete
        log_lines=["[mpileup] 1 samples in 1 input files", "Killed"],  # the last lines of its log
    )
    _, tis = your_dag()
    assert tis["call_variants[1]"].state == "failed" and tis["call_variants[0]"].state == "success"
    # The task's error is the failure report: the failed task, its log's last lines, console links.
    shown = output()  # what the task logged (here: dag.test()'s output)
    assert "ended FAILED: OUT_OF_MEMORY_ERROR: Task call_variants ran out of memory" in shown
    assert "  | Killed" in shown
    # [END recipe_failing_run]


def test_recipe_throttle_an_operation(emulator, your_dag):
    # [START recipe_throttle]
    emulator.add_fault("StartRun", "ThrottlingException", count=3)  # the next 3 StartRun calls are refused
    dag_run, _ = your_dag()
    assert set(states(dag_run).values()) == {"success"}  # retried, as the service asks
    start_runs = [r for r in emulator.requests() if r["operation"] == "StartRun"]
    assert [r["outcome"] for r in start_runs].count("ThrottlingException") == 3
    assert emulator.request_counts()["StartRun"] == 5  # 3 refused, 2 runs started
    # [END recipe_throttle]


def test_recipe_check_that_a_rerun_started_nothing(emulator, your_dag, omics):
    # [START recipe_rerun]
    when = pendulum.datetime(2026, 11, 2, tz="UTC")
    first, _ = your_dag(logical_date=when)
    before = len(emulator.requests())
    with create_session() as session:  # clear the DAG run, as a user would in the UI
        clear_task_instances(first.get_task_instances(session=session), session)
    again, _ = your_dag(logical_date=when)  # the same DAG run, run again
    assert again.run_id == first.run_id and set(states(again).values()) == {"success"}
    starts = [r for r in emulator.requests()[before:] if r["operation"] in ("CreateWorkflow", "StartRun")]
    assert starts and all(r["deduplicated"] for r in starts)  # each start named the job of the first pass
    assert len(omics.list_runs()["items"]) == 2
    # [END recipe_rerun]

"""Operators through Airflow itself (``dag.test()``) against the emulator."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
from conftest import ROLE_ARN, xcom
from tour import WDL

from airflow_provider_omics.diagnostics import failure_report
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.operators.base import CLOCK_SKEW
from airflow_provider_omics.operators.workflows import zip_definition
from airflow_provider_omics.usage import estimated_cost

INGEST = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="store", name="reads", waiter_delay=0.05, deferrable={deferrable})
    import_reads = OmicsStartReadSetImportJobOperator(
        task_id="import_reads", sequence_store_id=store.output["id"], role_arn=ROLE, waiter_delay=0.05,
        deferrable={deferrable},
        sources=[{{"sourceFiles": {{"source1": "s3://genomics/reads/s1_R1.fastq",
                                   "source2": "s3://genomics/reads/s1_R2.fastq"}},
                  "sourceFileType": "FASTQ", "subjectId": "p1", "sampleId": "s1", "name": "s1"}}],
    )
    export = OmicsStartReadSetExportJobOperator(
        task_id="export", sequence_store_id=store.output["id"], role_arn=ROLE, waiter_delay=0.05,
        destination="s3://genomics/exported/", deferrable={deferrable},
        sources=[{{"readSetId": "{{{{ ti.xcom_pull('import_reads')['sources'][0]['readSetId'] }}}}"}}],
    )
    import_reads >> export
"""


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_ingest_and_export_pass_ids_through_xcom(run_dag, inputs, s3, emulator, deferrable):
    emulator.quotas.enabled = True  # CreateSequenceStore one a second, the job APIs five, as the service
    _, tis = run_dag(INGEST.format(deferrable=deferrable))
    assert {t: ti.state for t, ti in tis.items()} == {
        "store": "success",
        "import_reads": "success",
        "export": "success",
    }
    imported = xcom(tis["import_reads"])
    assert imported["status"] == "COMPLETED"
    read_set_id = imported["sources"][0]["readSetId"]
    assert xcom(tis["export"])["readSets"] == [{"id": read_set_id, "status": "FINISHED", "statusMessage": ""}]
    body = s3.get_object(Bucket="genomics", Key=f"exported/{read_set_id}/s1_R1.fastq")["Body"].read()
    assert body.startswith(b"@r1/1")
    assert xcom(tis["store"], "omics_console")["path"] == f"sequence-stores/{xcom(tis['store'])['id']}"


WORKFLOW_AND_RUN = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow", name="align", definition_path="{definition}", waiter_delay=0.05)
    run = OmicsStartRunOperator(
        task_id="run", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        name="{name}", parameters={{"sample_name": "s1"}}, waiter_delay=0.05, waiter_max_attempts=2000,
        deferrable={deferrable}, retries={retries}, retry_delay=0)
"""


def workflow_and_run(inputs, name="s1", deferrable=False, retries=0):
    return WORKFLOW_AND_RUN.format(definition=inputs / "main.wdl", name=name, deferrable=deferrable, retries=retries)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_failed_run_fails_the_task_at_once_naming_the_failed_task_with_its_log(
    run_dag, inputs, emulator, output, deferrable
):
    emulator.add_outcome(
        "run",
        "oom-*",
        "FAILED",
        failure_reason="OUT_OF_MEMORY_ERROR",
        message="call_variants ran out of memory",
        task="call_variants",
        log_lines=["Calling variants on chr1", "java.lang.OutOfMemoryError: Java heap space"],
    )
    _, tis = run_dag(workflow_and_run(inputs, name="oom-s1", deferrable=deferrable))
    assert tis["run"].state == "failed"
    shown = output()
    assert "ended FAILED: OUT_OF_MEMORY_ERROR: call_variants ran out of memory" in shown
    assert "1 failed task(s):" in shown
    assert re.search(r"- task call_variants \(\d+\) FAILED: OUT_OF_MEMORY_ERROR: call_variants ran out of", shown)
    assert "  | java.lang.OutOfMemoryError: Java heap space" in shown
    assert "Engine log:" in shown and "failed: OUT_OF_MEMORY_ERROR" in shown
    assert "#logsV2:log-groups/log-group/$252Faws$252Fomics$252FWorkflowLog/log-events/run$252F" in shown
    assert emulator.request_counts()["GetRun"] < 20  # ended on the failure, not after 2000 polls


def test_a_failure_report_is_bounded_and_survives_a_missing_log(run_dag, inputs, emulator, output, omics, logs):
    emulator.add_outcome("run", "lost-*", "FAILED", failure_reason="SERVICE_ERROR", message="host lost", task="align")
    text = workflow_and_run(inputs, name="lost-s1").replace("deferrable=False", "deferrable=False, log_lines=1")
    _, tis = run_dag(text)
    assert tis["run"].state == "failed"
    shown = output()
    assert re.search(r"- task align \(\d+\) FAILED: SERVICE_ERROR: host lost", shown)
    assert "  last 1 line(s) of run/" in shown and "last 2 line(s)" not in shown

    # The engine log is gone (retention, or no permission to read it): that part shrinks to a note.
    (run,) = omics.list_runs(name="lost-s1")["items"]
    logs.delete_log_stream(logGroupName="/aws/omics/WorkflowLog", logStreamName=f"run/{run['id']}/engine")
    described = omics.get_run(id=run["id"])
    report = failure_report(OmicsHook(), run["id"], described)
    assert re.search(rf"\(log run/{run['id']}/engine not read: .*ResourceNotFoundException", report)
    assert "- task align (" in report

    # GetRun names the log streams by ARN, as documented; a name (as some clients hold it) is read the same.
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/omics/WorkflowLog:log-stream:run/{run['id']}"
    assert described["logLocation"] == {"engineLogStream": f"{arn}/engine", "runLogStream": arn}
    named = {"logLocation": {"engineLogStream": f"run/{run['id']}/task/none", "runLogStream": f"run/{run['id']}"}}
    assert f"(log run/{run['id']}/task/none not read" in failure_report(OmicsHook(), run["id"], named)


def test_a_finished_run_reports_what_it_used_and_wrote(run_dag, inputs, emulator, omics):
    prices = {"omics.c.large": 0.36, "omics.m.xlarge": 0.27, "static_storage_gib_hour": 0.0002}
    text = workflow_and_run(inputs).replace("deferrable=False", f"deferrable=True, price_table={prices}")
    _, tis = run_dag(text)
    assert tis["run"].state == "success"
    summary = xcom(tis["run"])["summary"]
    run_id = xcom(tis["run"])["id"]
    run = omics.get_run(id=run_id)

    tasks = {t["taskId"]: t for t in omics.list_run_tasks(id=run_id)["items"]}
    assert [t["taskId"] for t in summary["tasks"]] == list(tasks)
    for shown in summary["tasks"]:
        task = tasks[shown["taskId"]]
        assert (shown["name"], shown["cpus"], shown["memoryGiB"], shown["instanceType"]) == (
            task["name"],
            task["cpus"],
            task["memory"],
            task["instanceType"],
        )
        assert shown["seconds"] == pytest.approx((task["stopTime"] - task["startTime"]).total_seconds())
    cpu_seconds = sum(t["cpus"] * (t["stopTime"] - t["startTime"]).total_seconds() for t in tasks.values())
    assert summary["totals"]["cpuHours"] == pytest.approx(cpu_seconds / 3600, abs=1e-6)
    assert summary["totals"]["tasks"] == 2
    # StartRun's default storage: STATIC, 1200 GiB for the run's whole time.
    run_hours = (run["stopTime"] - run["startTime"]).total_seconds() / 3600
    assert summary["storage"] == {
        "type": "STATIC",
        "capacityGiB": 1200,
        "gibHours": pytest.approx(1200 * run_hours, abs=1e-5),
    }
    compute = sum(prices[t["instanceType"]] * t["seconds"] / 3600 for t in summary["tasks"])
    cost = summary["estimatedCost"]
    assert cost["prices"] == "price_table"
    assert cost["usd"] == pytest.approx(compute + 0.0002 * 1200 * run_hours, abs=1e-5)
    run_output = xcom(tis["run"])["runOutputUri"]
    assert summary["runOutputUri"] == run_output
    assert f"{run_output}/out/call_variants/s1.vcf" in summary["outputs"]


def test_without_a_price_table_the_cost_comes_from_the_aws_price_list(run_dag, inputs, emulator, omics):
    _, tis = run_dag(workflow_and_run(inputs, name="priced"))
    summary = xcom(tis["run"])["summary"]
    # The price list the emulator serves, read the way a user would read AWS's.
    pricing = boto3.client("pricing", region_name="us-east-1", endpoint_url=emulator.endpoint_url)
    listed = {}
    for page in pricing.get_paginator("get_products").paginate(ServiceCode="AmazonOmics"):
        for item in map(json.loads, page["PriceList"]):
            (term,) = item["terms"]["OnDemand"].values()
            (dimension,) = term["priceDimensions"].values()
            listed[item["product"]["attributes"]["resourceType"]] = float(dimension["pricePerUnit"]["USD"])
    compute = sum(listed[t["instanceType"]] * t["seconds"] / 3600 for t in summary["tasks"])
    storage = listed["Run Storage"] * summary["storage"]["gibHours"]
    assert summary["estimatedCost"]["prices"] == "AWS Price List API"
    assert summary["estimatedCost"]["usd"] == pytest.approx(compute + storage, abs=1e-5)

    # A connection that may not read the price list: the figures stand, the cost says why it is missing.
    emulator.add_fault("GetProducts", "AccessDeniedException", message="not authorized to perform pricing:GetProducts")
    _, tis = run_dag(workflow_and_run(inputs, name="unpriced"))
    assert tis["run"].state == "success"
    summary = xcom(tis["run"])["summary"]
    assert summary["totals"]["tasks"] == 2
    assert summary["estimatedCost"]["usd"] is None
    assert "pricing:GetProducts" in summary["estimatedCost"]["pricesNotRead"]


def test_a_cost_is_never_guessed_when_a_price_is_missing():
    summary = {
        "tasks": [{"instanceType": "omics.c.large", "seconds": 3600, "cacheHit": False}],
        "storage": {"type": "STATIC", "gibHours": 1200.0},
    }
    assert estimated_cost(summary, {"omics.c.large": 0.2}) == {
        "usd": None,
        "missingPrices": ["static_storage_gib_hour"],
    }
    assert estimated_cost(summary, {"omics.c.large": 0.2, "static_storage_gib_hour": 0.0001})["usd"] == 0.32


def test_a_retry_with_cache_takes_the_finished_tasks_from_the_cache(run_dag, inputs, emulator, omics):
    cache = omics.create_run_cache(cacheS3Location="s3://genomics/cache/", requestId="cache")["id"]
    # The first run fails in its second task, once; the task's retry starts a new run.
    emulator.add_outcome(
        "run",
        "cachy",
        "FAILED",
        failure_reason="OUT_OF_MEMORY",
        message="call_variants died",
        task="call_variants",
        count=1,
    )
    text = workflow_and_run(inputs, name="cachy", retries=1).replace(
        "deferrable=False", f"deferrable=False, cache_id='{cache}', retry_with_cache=True"
    )
    _, tis = run_dag(text)

    assert tis["run"].state == "success" and tis["run"].try_number == 2
    failed, finished = sorted(omics.list_runs(name="cachy")["items"], key=lambda r: r["status"] != "FAILED")
    assert (failed["status"], finished["status"]) == ("FAILED", "COMPLETED")
    assert omics.get_run(id=finished["id"])["cacheBehavior"] == "CACHE_ON_FAILURE"
    hits = {t["name"]: t["cacheHit"] for t in omics.list_run_tasks(id=finished["id"])["items"]}
    assert hits == {"align": True, "call_variants": False}  # align finished in the failed run: not run again
    assert xcom(tis["run"])["summary"]["totals"]["cacheHits"] == 1


def test_retry_with_cache_without_a_cache_is_refused_at_parse(run_dag, emulator):
    with pytest.raises(ValueError, match="retry_with_cache needs cache_id"):
        run_dag("""
        with DAG("test_dag", schedule=None, start_date=START) as dag:
            OmicsStartRunOperator(task_id="run", workflow_id="1234567", role_arn=ROLE, output_uri="s3://b/o",
                                  retry_with_cache=True)
        """)
    assert emulator.request_counts() == {}


def test_a_ready2run_workflow_runs_from_the_catalogue(run_dag, inputs, emulator, omics, output):
    catalogue = omics.list_workflows(type="READY2RUN")["items"]
    (gatk,) = [w for w in catalogue if w["name"] == "GATK-BP Germline fq2vcf for 30x genome"]
    assert omics.list_workflows()["items"] == []  # the account's own workflows: none yet
    pairs = [{"read_group": "rg1", "fastq_1": "s3://genomics/reads/s1_R1.fastq", "platform": "illumina"}]
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(
            task_id="run", workflow_id="{gatk["id"]}", workflow_type="READY2RUN", role_arn=ROLE,
            output_uri="s3://genomics/runs/", waiter_delay=0.05, parameters={{"sample_name": "NA12878",
                                                                               "fastq_pairs": {pairs}}})
        OmicsStartRunOperator(
            task_id="incomplete", workflow_id="{gatk["id"]}", workflow_type="READY2RUN", role_arn=ROLE,
            output_uri="s3://genomics/runs/", waiter_delay=0.05, parameters={{"sample_name": "NA12878"}})
    """)
    assert tis["run"].state == "success"
    assert xcom(tis["run"])["workflowType"] == "READY2RUN"
    assert [t["name"] for t in xcom(tis["run"])["summary"]["tasks"]][-1] == "HaplotypeCaller"
    assert tis["incomplete"].state == "failed"
    assert "required parameter fastq_pairs missing" in output()


STRICT_WORKFLOW_AND_RUN = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow", name="align", definition_path="{definition}", waiter_delay=0.05,
        parameter_template={{"sample_name": {{"description": "the sample"}}, "reads": {{"description": "FASTQ"}}}})
    run = OmicsStartRunOperator(
        task_id="run", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        parameters={parameters}, waiter_delay=0.05)
"""


def test_a_misspelled_run_parameter_is_refused_at_start_naming_it(run_dag, inputs, emulator, output):
    parameters = {"sampel_name": "s1", "reads": "s3://genomics/reads/s1_R1.fastq"}
    _, tis = run_dag(STRICT_WORKFLOW_AND_RUN.format(definition=inputs / "main.wdl", parameters=parameters))
    assert tis["run"].state == "failed"
    assert "parameters: sampel_name not in the parameter template" in output()
    assert emulator.request_counts()["StartRun"] == 1  # a validation error is not retried


def test_a_missing_s3_input_fails_the_run_with_the_reason(run_dag, inputs, emulator, output):
    parameters = {"sample_name": "s1", "reads": "s3://genomics/reads/s9_R1.fastq"}
    _, tis = run_dag(STRICT_WORKFLOW_AND_RUN.format(definition=inputs / "main.wdl", parameters=parameters))
    assert tis["run"].state == "failed"
    shown = output()
    assert "ended FAILED: INPUT_URI_NOT_FOUND: The provided URI doesn't exist: s3://genomics/reads/s9_R1.fastq" in shown
    assert "No task failed: the run failed in its engine." in shown
    # The run log, read by the ARN GetRun gives, tells what happened outside any task.
    assert re.search(r"Run log:\n  last \d+ line\(s\) of run/\d+:\n  \| Run \d+ is PENDING\n", shown)
    assert re.search(r"  \| Run \d+ is FAILED \(INPUT_URI_NOT_FOUND: The provided URI doesn't exist", shown)


def test_cancelled_run_fails_the_task(run_dag, inputs, emulator, output):
    emulator.add_outcome("run", "s1", "CANCELLED", message="Cancelled in the console")
    _, tis = run_dag(workflow_and_run(inputs, deferrable=True))
    assert tis["run"].state == "failed"
    assert "ended CANCELLED: Cancelled in the console" in output()


def test_a_retry_reattaches_to_the_job_it_started(run_dag, inputs, emulator, omics):
    # The first try starts the run, then its first status call fails: the retry must not start a second run.
    emulator.add_fault("GetRun", "AccessDeniedException", count=1)
    _, tis = run_dag(workflow_and_run(inputs, retries=1))
    assert tis["run"].state == "success" and tis["run"].try_number == 2
    assert len(omics.list_runs()["items"]) == 1
    assert emulator.request_counts()["StartRun"] == 2  # the same requestId twice: one run


def test_a_retry_after_a_failed_run_starts_a_fresh_one(run_dag, inputs, emulator, omics):
    emulator.add_outcome("run", "s1", "FAILED", failure_reason="SERVICE_ERROR", message="transient")
    _, tis = run_dag(workflow_and_run(inputs, retries=1))
    assert tis["run"].state == "failed" and tis["run"].try_number == 2
    assert [r["status"] for r in omics.list_runs()["items"]] == ["FAILED", "FAILED"]


def test_bad_input_fails_before_any_api_call(run_dag, emulator, output):
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="not-an-id", role_arn="admin", output_uri="s3://b/o",
                              log_level="LOUD")
    """)
    assert tis["run"].state == "failed"
    out = output()
    assert "workflow_id: 'not-an-id' does not match the pattern [0-9]+" in out
    assert "role_arn: 'admin' does not match the pattern" in out
    assert "log_level: 'LOUD' is not one of OFF, FATAL, ERROR, ALL" in out
    assert emulator.request_counts() == {}


def test_a_role_arn_with_a_colon_missing_fails_before_any_api_call(run_dag, emulator, output):
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="1234567", output_uri="s3://genomics/runs/",
                              role_arn="arn:aws:iam:123456789012:role/OmicsServiceRole")
    """)
    assert tis["run"].state == "failed"
    assert (
        "role_arn: 'arn:aws:iam:123456789012:role/OmicsServiceRole' is not an IAM role ARN "
        "(arn:aws:iam::123456789012:role/name)"
    ) in output()
    assert emulator.request_counts() == {}


def test_an_output_uri_that_is_not_s3_fails_before_any_api_call(run_dag, emulator, output):
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="1234567", role_arn=ROLE, output_uri="/data/runs/")
    """)
    assert tis["run"].state == "failed"
    assert "output_uri: '/data/runs/' is not an S3 URI (s3://bucket/prefix)" in output()
    assert emulator.request_counts() == {}


def test_a_definition_zip_that_is_not_a_zip_fails_the_task_with_the_service_error(run_dag, emulator, output, tmp_path):
    (tmp_path / "workflow.zip").write_bytes(b"version 1.0\nworkflow main {}\n")  # a WDL file named .zip
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateWorkflowOperator(task_id="workflow", name="w", definition_path="{tmp_path / "workflow.zip"}")
    """)
    assert tis["workflow"].state == "failed"
    assert "ValidationException" in output() and "definitionZip is not a zip archive" in output()


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_a_tiny_waiter_delay_never_polls_faster_than_the_quota(run_dag, inputs, emulator, output, deferrable):
    emulator.quotas.enabled = True  # GetRun: 10 a second for the account, as the service
    emulator.add_outcome("run", "s1", "COMPLETED")  # no tasks to wait for: the run ends after its steps
    text = workflow_and_run(inputs, deferrable=deferrable).replace(
        "waiter_delay=0.05, waiter_max_attempts=2000,", "waiter_delay=0.001, waiter_max_attempts=720,"
    )
    _, tis = run_dag(text)
    assert tis["run"].state == "success"
    polls = [r for r in emulator.requests() if r["operation"] in ("GetRun", "ListRuns")]
    assert polls and not [r for r in polls if r["outcome"] == "ThrottlingException"]
    if not deferrable:  # the triggerer paces itself by the same quotas (test_status_source.py)
        assert "waiter_delay 0.001s would call GetRun faster than its quota allows: polling every 0.11s" in output()


def test_an_outcome_naming_a_task_the_run_lacks_fails_no_other_task(run_dag, inputs, emulator, omics, output):
    emulator.add_outcome("run", "typo-s1", "FAILED", task="no_such_task")
    _, tis = run_dag(workflow_and_run(inputs, name="typo-s1"))
    assert tis["run"].state == "failed"
    shown = output()
    (run,) = omics.list_runs(name="typo-s1")["items"]
    # The report names the run by its name and id, and says why it failed without blaming another task.
    assert f"HealthOmics run 'typo-s1' id={run['id']} ended FAILED: WORKFLOW_RUN_FAILED" in shown
    assert "emulator outcome names task 'no_such_task', which this run does not have (its tasks: " in shown
    assert "FAILED" not in {task["status"] for task in omics.list_run_tasks(id=run["id"])["items"]}


def test_a_failed_run_without_a_given_reason_gets_the_services_generic_one(run_dag, inputs, emulator, omics):
    emulator.add_outcome("run", "bare-s1", "FAILED")
    _, tis = run_dag(workflow_and_run(inputs, name="bare-s1"))
    assert tis["run"].state == "failed"
    (run,) = omics.list_runs(name="bare-s1")["items"]
    described = omics.get_run(id=run["id"])
    assert described["failureReason"] == "RUN_TASK_FAILED"
    assert described["statusMessage"].startswith("The run failed due to a task failure")


def test_mapped_runs_are_shown_by_their_names(run_dag, inputs, emulator):
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        OmicsStartRunOperator.partial(
            task_id="runs", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
            waiter_delay=0.05,
        ).expand(name=["NA12878", "NA12891"])
    """)
    assert [tis[f"runs[{i}]"].rendered_map_index for i in (0, 1)] == ["NA12878", "NA12891"]


def test_parameters_file_that_is_not_json_fails_before_any_api_call(run_dag, emulator, output, tmp_path):
    (tmp_path / "params.json").write_text("{'sample': 1")
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START, template_searchpath="{tmp_path}") as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="1234567", role_arn=ROLE, output_uri="s3://b/o",
                              parameters="params.json")
    """)
    assert tis["run"].state == "failed"
    assert "parameters: not a JSON object nor a .json file that holds one" in output()
    assert emulator.request_counts() == {}


def test_parameters_from_a_templated_json_file(run_dag, inputs, emulator, omics, tmp_path):
    (tmp_path / "params.json").write_text('{"sample_name": "{{ dag_run.dag_id }}"}')
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START, template_searchpath="{tmp_path}") as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        OmicsStartRunOperator(task_id="run", workflow_id=workflow.output["id"], role_arn=ROLE,
                              output_uri="s3://genomics/runs/", parameters="params.json", waiter_delay=0.05)
    """)
    assert xcom(tis["run"])["parameters"] == {"sample_name": "test_dag"}


def test_runs_map_over_samples_each_with_its_own_token(run_dag, inputs, emulator, omics):
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        OmicsStartRunOperator.partial(
            task_id="run", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
            waiter_delay=0.05, deferrable=True,
        ).expand(parameters=[{{"sample_name": "s1"}}, {{"sample_name": "s2"}}, {{"sample_name": "s3"}}])
    """)
    assert [tis[f"run[{i}]"].state for i in range(3)] == ["success"] * 3
    runs = omics.list_runs()["items"]
    assert len(runs) == 3 and {r["status"] for r in runs} == {"COMPLETED"}
    assert sorted(xcom(tis[f"run[{i}]"])["parameters"]["sample_name"] for i in range(3)) == ["s1", "s2", "s3"]


IMPORT_READS = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="store", name="reads", waiter_delay=0.05)
    OmicsStartReadSetImportJobOperator(
        task_id="import_reads", sequence_store_id=store.output["id"], role_arn=ROLE, waiter_delay=0.05,
        deferrable=True, sources=[
            {{"sourceFiles": {{"source1": f"s3://genomics/reads/{{name}}"}}, "sourceFileType": "FASTQ",
             "subjectId": "p1", "sampleId": f"s{{i}}"}} for i, name in enumerate({files!r})])
"""


def test_partial_import_fails_naming_each_failed_source(run_dag, inputs, emulator, output):
    _, tis = run_dag(IMPORT_READS.format(files=["s1_R1.fastq", "lost.fastq"]))
    assert tis["import_reads"].state == "failed"
    out = output()
    assert "ended COMPLETED_WITH_FAILURES: 1 of 2 sources failed. 1 failed:" in out
    lost = "s3://genomics/reads/lost.fastq"
    assert f"s1 {lost}: Source file {lost} could not be read: NoSuchKey" in out


def test_large_imports_are_split_into_jobs_of_one_hundred(run_dag, inputs, emulator, omics):
    _, tis = run_dag(IMPORT_READS.format(files=["s1_R1.fastq"] * 150))
    imported = xcom(tis["import_reads"])
    assert len(imported["jobs"]) == 2 and emulator.request_counts()["StartReadSetImportJob"] == 2
    assert len({s["readSetId"] for s in imported["sources"]}) == 150
    store_id = xcom(tis["store"])["id"]
    assert len(omics.list_read_sets(sequenceStoreId=store_id, maxResults=100)["readSets"]) == 100


def test_analytics_pipeline_reuses_stores_and_reattaches_imports(run_dag, inputs, emulator, omics):
    # The store exists already (a re-run of the DAG); the first status call of the import fails after it started.
    omics.create_variant_store(name="cohort", reference={"referenceArn": "arn:aws:omics:us-east-1:123456789012:x"})
    emulator.add_fault("GetVariantImportJob", "AccessDeniedException", count=1)
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        store = OmicsCreateVariantStoreOperator(
            task_id="store", name="cohort", reference={"referenceArn": "arn:aws:omics:us-east-1:123456789012:x"},
            waiter_delay=0.05)
        variants = OmicsStartVariantImportJobOperator(
            task_id="variants", destination_name="cohort", role_arn=ROLE, waiter_delay=0.05, deferrable=True,
            items=[{"source": "s3://genomics/variants/s1.vcf"}], retries=1, retry_delay=0)
        annotations = OmicsCreateAnnotationStoreOperator(
            task_id="annotations", name="genes", store_format="GFF", waiter_delay=0.05)
        version = OmicsCreateAnnotationStoreVersionOperator(
            task_id="version", name="genes", version_name="release_2", waiter_delay=0.05)
        gff = OmicsStartAnnotationImportJobOperator(
            task_id="gff", destination_name="genes", version_name="release_2", role_arn=ROLE, waiter_delay=0.05,
            items=[{"source": "s3://genomics/annotations/genes.gff"}])
        store >> variants
        annotations >> version >> gff
    """)
    assert {t: ti.state for t, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert tis["variants"].try_number == 2
    assert len(omics.list_variant_import_jobs()["variantImportJobs"]) == 1  # the retry found the first job
    assert xcom(tis["variants"])["items"] == [
        {"source": "s3://genomics/variants/s1.vcf", "jobStatus": "COMPLETED", "statusMessage": ""}
    ]
    assert xcom(tis["gff"])["versionName"] == "release_2"


def test_start_without_waiting_rerun_and_cancel(run_dag, inputs, emulator, omics):
    emulator.backend.step_seconds = 2  # the re-run must still be going when the cancel task runs
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        first = OmicsStartRunOperator(
            task_id="first", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
            name="first", wait_for_completion=False)
        rerun = OmicsStartRunOperator(task_id="rerun", run_id=first.output["id"], name="rerun",
                                      wait_for_completion=False)
        OmicsCancelRunOperator(task_id="cancel", run_id=rerun.output["id"], waiter_delay=0.05)
    """)
    assert {t: ti.state for t, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert xcom(tis["first"])["status"] == "PENDING"  # returned right after starting
    rerun = omics.get_run(id=xcom(tis["rerun"])["id"])
    assert rerun["runId"] == xcom(tis["first"])["id"] and rerun["outputUri"] == "s3://genomics/runs/"
    assert xcom(tis["cancel"])["status"] == "CANCELLED" == rerun["status"]


def test_on_kill_cancels_the_run_the_task_started(emulator, omics, inputs):
    from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

    emulator.backend.step_seconds = 5
    workflow = omics.create_workflow(name="w", definitionZip=zip_definition(str(inputs / "main.wdl"))[0], requestId="w")
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    run = omics.start_run(workflowId=workflow["id"], roleArn=ROLE_ARN, outputUri="s3://genomics/r/", requestId="k")
    operator = OmicsStartRunOperator(task_id="run", workflow_id=workflow["id"])
    operator.job_ids = [{"id": run["id"]}]  # what execute() records right after starting
    operator.on_kill()
    assert omics.get_run(id=run["id"])["status"] == "STOPPING"


def test_run_batch_with_failed_runs_names_them_and_fails_unless_partial_success_is_accepted(
    run_dag, inputs, emulator, output
):
    emulator.add_outcome("run", "bad-*", "FAILED", failure_reason="SERVICE_ERROR", message="host lost")
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        for strict in (True, False):
            OmicsStartRunBatchOperator(
                task_id=f"batch_{{strict}}", batch_name=f"b{{strict}}", waiter_delay=0.05, deferrable=strict,
                fail_on_partial_success=strict,
                default_run_setting={{"workflowId": workflow.output["id"], "roleArn": ROLE,
                                      "outputUri": "s3://genomics/batch/"}},
                batch_run_settings={{"inlineSettings": [{{"runSettingId": "ok", "name": f"good-{{strict}}"}},
                                                        {{"runSettingId": "bad1", "name": f"bad-1-{{strict}}"}},
                                                        {{"runSettingId": "bad2", "name": f"bad-2-{{strict}}"}}]}})
    """)
    assert tis["batch_True"].state == "failed" and tis["batch_False"].state == "success"
    shown = output()
    assert "ended PROCESSED: failedRunCount 2" in shown
    assert "2 of 3 runs did not complete:" in shown
    assert re.search(r"- bad1 \(run \d+\) FAILED: SERVICE_ERROR: host lost", shown)
    assert re.search(r"- bad2 \(run \d+\) FAILED: SERVICE_ERROR: host lost", shown)
    done = xcom(tis["batch_False"])
    assert done["runSummary"] == {"completedRunCount": 1, "failedRunCount": 2}
    assert {setting: run["status"] for setting, run in done["runs"].items()} == {
        "ok": "COMPLETED",
        "bad1": "FAILED",
        "bad2": "FAILED",
    }
    assert done["runs"]["bad1"]["failureReason"] == "SERVICE_ERROR" and done["runs"]["ok"]["runId"].isdigit()


# ---- hardening: waits, retries, clears, idempotency, split imports, definitions, messages --------------


def test_a_deferrable_import_rides_out_throttling_right_after_it_starts(run_dag, inputs, emulator):
    # Ten refusals in a row on the first status call: more than one call's retries would take.
    emulator.add_fault("GetReadSetImportJob", "ThrottlingException", count=10)
    _, tis = run_dag(IMPORT_READS.format(files=["s1_R1.fastq"]))
    assert tis["import_reads"].state == "success"
    assert xcom(tis["import_reads"])["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("waiter_delay", '"abc"', "waiter_delay must be a number of seconds > 0, got 'abc'"),
        ("waiter_max_attempts", "0", "waiter_max_attempts must be an integer >= 1, got 0"),
        ("deferrable", '"yes"', "deferrable must be True or False, got 'yes'"),
        ("log_lines", "0", "log_lines must be an integer from 1 to 10000, got 0"),
        ("include_logs", '"no"', "include_logs must be True or False, got 'no'"),
    ],
)
def test_wait_arguments_are_checked_when_the_dag_is_parsed(run_dag, emulator, argument, value, message):
    with pytest.raises(ValueError, match=message):
        run_dag(f"""
        with DAG("test_dag", schedule=None, start_date=START) as dag:
            OmicsStartRunOperator(task_id="run", workflow_id="1234567", role_arn=ROLE, output_uri="s3://b/o",
                                  {argument}={value})
        """)
    assert emulator.request_counts() == {}


@pytest.mark.parametrize(
    ("typo", "hint"), [("workflowid", "workflow_id"), ("workflowId", "workflow_id"), ("waiter_dealy", "waiter_delay")]
)
def test_a_mistyped_argument_fails_at_parse_with_a_hint(typo, hint):
    from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

    with pytest.raises(TypeError, match=f"unknown argument '{typo}' \\(did you mean {hint}\\?\\)"):
        OmicsStartRunOperator(task_id="run", role_arn=ROLE_ARN, **{typo: "1234567"})


def test_operators_document_every_argument():
    import inspect

    from airflow_provider_omics.operators.storage import OmicsCreateSequenceStoreOperator
    from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

    assert ":param workflow_id: The run's workflow ID. The workflowId is not the UUID." in OmicsStartRunOperator.__doc__
    assert ":param idempotency_key:" in OmicsStartRunOperator.__doc__
    parameters = inspect.signature(OmicsCreateSequenceStoreOperator).parameters
    assert {"name", "waiter_delay", "idempotency_key", "reuse_existing_store"} <= set(parameters)


def test_resumed_without_an_event_it_reattaches_and_waits(emulator, omics, inputs):
    from types import SimpleNamespace

    from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

    workflow = omics.create_workflow(name="w", definitionZip=zip_definition(str(inputs / "main.wdl"))[0], requestId="w")
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    ti = SimpleNamespace(dag_id="d", task_id="run", run_id="r", map_index=-1, try_number=1, xcom_push=dict)
    operator = OmicsStartRunOperator(
        task_id="run", workflow_id=workflow["id"], role_arn=ROLE_ARN, output_uri="s3://genomics/r/", waiter_delay=0.05
    )
    first = operator.execute({"ti": ti})  # the try that started the run (its worker died while deferred)
    # What the task runner calls when a deferred task resumes with no trigger event:
    resumed = operator.resume_execution("execute_complete", {}, {"ti": ti})
    assert resumed["id"] == first["id"] and resumed["status"] == "COMPLETED"
    assert len(omics.list_runs()["items"]) == 1


def test_idempotency_key_makes_one_job_across_dag_runs(run_dag, inputs, emulator, omics, output):
    import pendulum

    workflow = omics.create_workflow(name="w", definitionZip=zip_definition(str(inputs / "main.wdl"))[0], requestId="w")
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    dag = f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="{workflow["id"]}", role_arn=ROLE, deferrable=True,
                              output_uri="s3://genomics/runs/", idempotency_key="sample-s1", waiter_delay=0.05)
    """
    first, _ = run_dag(dag, logical_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
    time.sleep(CLOCK_SKEW.total_seconds())  # so the second DAG run can tell the run is older than its ask
    before = len(emulator.requests())
    second, tis = run_dag(dag, logical_date=pendulum.datetime(2026, 1, 2, tz="UTC"))
    assert first.run_id != second.run_id and tis["run"].state == "success"
    assert len(omics.list_runs()["items"]) == 1
    run_id = xcom(tis["run"])["id"]
    assert f"Reusing run id={run_id} (COMPLETED), started at" in output()
    # The request log shows that the start started nothing, and a finished run is not waited for again.
    asked = emulator.requests()[before:]
    (start,) = [r for r in asked if r["operation"] == "StartRun"]
    assert start["deduplicated"] is True and start["existing"] == run_id
    assert [r["operation"] for r in asked].count("GetRun") == 1  # its first look; a trigger would poll again


def test_a_retry_after_partial_success_imports_only_what_failed(run_dag, inputs, emulator, omics, s3):
    # The first try imports s1 and fails on lost.fastq; before the retry the file arrives.
    _, tis = run_dag("""
    import boto3
    from botocore.config import Config

    def deliver_the_lost_file(context):
        conn = context["ti"].task.hook.conn_config
        s3 = boto3.client("s3", endpoint_url=conn.endpoint_url, region_name="us-east-1")
        s3.put_object(Bucket="genomics", Key="reads/lost.fastq", Body=b"@r/1\\nACGT\\n+\\nIIII\\n")

    with DAG("test_dag", schedule=None, start_date=START) as dag:
        store = OmicsCreateSequenceStoreOperator(task_id="store", name="reads", waiter_delay=0.05)
        OmicsStartReadSetImportJobOperator(
            task_id="import_reads", sequence_store_id=store.output["id"], role_arn=ROLE, waiter_delay=0.05,
            retries=1, retry_delay=0, on_retry_callback=deliver_the_lost_file, sources=[
                {"sourceFiles": {"source1": f"s3://genomics/reads/{name}"}, "sourceFileType": "FASTQ",
                 "subjectId": "p1", "sampleId": name.split(".")[0]} for name in ("s1_R1.fastq", "lost.fastq")])
    """)
    assert tis["import_reads"].state == "success" and tis["import_reads"].try_number == 2
    store_id = xcom(tis["store"])["id"]
    assert sorted(r["sampleId"] for r in omics.list_read_sets(sequenceStoreId=store_id)["readSets"]) == [
        "lost",
        "s1_R1",
    ]
    jobs = omics.list_read_set_import_jobs(sequenceStoreId=store_id)["importJobs"]
    assert sorted(j["status"] for j in jobs) == ["COMPLETED", "COMPLETED_WITH_FAILURES"]
    imported = xcom(tis["import_reads"])
    assert [(s["sampleId"], s["status"]) for s in imported["sources"]] == [("s1_R1", "FINISHED"), ("lost", "FINISHED")]
    assert imported["status"] == "COMPLETED"


def test_create_store_operators_reuse_a_store_of_the_same_name(run_dag, emulator, omics):
    import pendulum

    nightly = """
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateSequenceStoreOperator(task_id="seq", name="nightly-seq", waiter_delay=0.05)
        OmicsCreateReferenceStoreOperator(task_id="ref", name="nightly-ref")
        OmicsCreateSequenceStoreOperator(task_id="fresh", name="fresh-seq", waiter_delay=0.05,
                                         reuse_existing_store=False)
    """
    for day in (1, 2, 3):
        _, tis = run_dag(nightly, logical_date=pendulum.datetime(2026, 1, day, tz="UTC"))
        assert {t: ti.state for t, ti in tis.items()} == dict.fromkeys(tis, "success")
    names = [s["name"] for s in omics.list_sequence_stores()["sequenceStores"]]
    assert names.count("nightly-seq") == 1 and names.count("fresh-seq") == 3
    assert len(omics.list_reference_stores()["referenceStores"]) == 1
    assert xcom(tis["seq"])["status"] == "ACTIVE" and xcom(tis["ref"])["name"] == "nightly-ref"


def test_identical_chunks_of_a_split_import_are_separate_jobs(run_dag, inputs, emulator, omics):
    _, tis = run_dag(IMPORT_READS.format(files=["s1_R1.fastq"] * 250))
    assert len({s["readSetId"] for s in xcom(tis["import_reads"])["sources"]}) == 250
    store_id = xcom(tis["store"])["id"]
    assert len(omics.list_read_set_import_jobs(sequenceStoreId=store_id)["importJobs"]) == 3
    assert emulator.request_counts()["StartReadSetImportJob"] == 3


def test_a_split_import_reports_the_worst_status_and_every_failed_item(run_dag, inputs, emulator):
    files = ["s1_R1.fastq"] * 120 + ["lost.fastq"] + ["s1_R1.fastq"] * 9
    body = IMPORT_READS.format(files=files).replace("deferrable=True,", "fail_on_partial_success=False,")
    _, tis = run_dag(body)
    imported = xcom(tis["import_reads"])
    assert [job["status"] for job in imported["jobs"]] == ["COMPLETED", "COMPLETED_WITH_FAILURES"]
    assert imported["status"] == "COMPLETED_WITH_FAILURES"
    lost = "s3://genomics/reads/lost.fastq"
    assert imported["statusMessage"] == f"1 of 130 failed: s120 {lost}: Source file {lost} could not be read: NoSuchKey"


def test_a_bad_item_in_a_later_chunk_is_named_by_its_index_in_the_whole_list(run_dag, emulator, output):
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartReadSetImportJobOperator(
            task_id="import_reads", sequence_store_id="1234567890", role_arn=ROLE, sources=[
                {"sourceFiles": {"source1": "s3://genomics/reads/s.fastq"}, "subjectId": "p1", "sampleId": "s",
                 "sourceFileType": "FASTQ" if i != 142 else "FASTA"} for i in range(150)])
    """)
    assert tis["import_reads"].state == "failed"
    assert "sources[142].sourceFileType: 'FASTA' is not one of" in output()
    assert emulator.request_counts() == {}


def test_a_workflow_from_a_folder_finds_its_main_file(run_dag, emulator, omics, tmp_path):
    folder = tmp_path / "pipeline"
    (folder / "lib").mkdir(parents=True)
    (folder / "main.wdl").write_bytes(WDL)
    (folder / "lib" / "tasks.wdl").write_text("version 1.0\ntask helper { command { echo } }\n")
    (folder / "README.md").write_text("# pipeline\n")
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateWorkflowOperator(task_id="workflow", name="align", definition_path="{folder}", waiter_delay=0.05)
    """)
    assert tis["workflow"].state == "success"
    assert xcom(tis["workflow"])["main"] == "main.wdl"


@pytest.mark.parametrize("make", ["empty", "missing"])
def test_a_definition_folder_that_is_empty_or_missing_fails_before_any_call(run_dag, emulator, output, tmp_path, make):
    folder = tmp_path / "pipeline"
    if make == "empty":
        folder.mkdir()
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateWorkflowOperator(task_id="workflow", name="align", definition_path="{folder}")
    """)
    assert tis["workflow"].state == "failed"
    assert f"definition_path: {'the folder ' if make == 'empty' else ''}{folder}" in output()
    assert emulator.request_counts() == {}


def test_a_task_that_fails_before_starting_a_job_logs_no_link_error(run_dag, emulator, output):
    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunOperator(task_id="run", workflow_id="not-an-id", role_arn=ROLE, output_uri="s3://b/o")
    """)
    assert tis["run"].state == "failed"
    out = output()
    assert "invalid arguments" in out and "XCom not found" not in out


RELEASE = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    workflow = OmicsCreateWorkflowOperator(
        task_id="workflow", name="germline", definition_path="{definition}", {version} waiter_delay=0.05)
    OmicsStartRunOperator(
        task_id="run", workflow_id=workflow.output["id"], workflow_version_name=workflow.output["versionName"],
        role_arn=ROLE, output_uri="s3://genomics/runs/", parameters={{"sample_name": "s1"}}, waiter_delay=0.05)
"""


def test_a_workflow_is_kept_across_dag_runs_and_a_changed_definition_becomes_a_version(
    run_dag, tmp_path, omics, s3, output
):
    import pendulum

    definition = tmp_path / "germline"
    definition.mkdir()
    (definition / "main.wdl").write_text(WDL.decode())
    day = iter(range(1, 10))

    def release(version: str = "") -> dict:
        text = RELEASE.format(definition=definition, version=f"version_name={version!r}," if version else "")
        _, tis = run_dag(text, logical_date=pendulum.datetime(2026, 1, next(day), tz="UTC"))
        return tis

    first, again = release("v1"), release("v1")
    workflow = xcom(first["workflow"])
    assert xcom(again["workflow"])["id"] == workflow["id"] and xcom(again["workflow"])["versionName"] == "v1"
    assert [w["name"] for w in omics.list_workflows(name="germline")["items"]] == ["germline"]
    assert "Reusing version v1 of workflow" in output() and xcom(again["run"])["workflowVersionName"] == "v1"

    (definition / "main.wdl").write_text(WDL.decode().replace("echo", "echo changed"))
    refused = release()
    assert refused["workflow"].state == "failed"
    assert "exists with another definition: give version_name to add this definition as a new version" in output()
    assert release("v1")["workflow"].state == "failed"  # v1 holds the first definition
    assert "version v1 of workflow" in output() and "holds another definition" in output()

    v2 = release("v2")
    assert xcom(v2["workflow"])["id"] == workflow["id"] and xcom(v2["workflow"])["versionName"] == "v2"
    assert xcom(v2["run"])["workflowVersionName"] == "v2"  # the run is pinned to the release
    assert xcom(release("v2")["workflow"])["versionName"] == "v2"  # the same release again: reused
    versions = omics.list_workflow_versions(workflowId=workflow["id"])["items"]
    assert sorted(v["versionName"] for v in versions) == ["v1", "v2"]
    assert len(omics.list_workflows(name="germline")["items"]) == 1

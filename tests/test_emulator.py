"""The emulator as users and tests meet it: lifecycles, failures, de-duplication, pagination, control."""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import pathlib
import subprocess
import sys
import time
import urllib.request
import zipfile

import boto3
import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import DOCKER_HUB, EXAMPLE_IMAGES, ROLE_ARN
from tour import FASTQ_1, put_inputs, workflow_zip
from waiting import status_in, until

from airflow_provider_omics.operators.workflows import zip_definition
from airflow_provider_omics.shipped_model import in_front

EXAMPLES = pathlib.Path(__file__).parent.parent / "example_dags"
REFERENCE_ARN = "arn:aws:omics:us-east-1:123456789012:referenceStore/1234567890/reference/1234567890"
REFERENCE_ARN = "arn:aws:omics:us-east-1:123456789012:referenceStore/1234567890/reference/1234567890"


def control(emulator, method, path, body=None):
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/_emulator/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


@pytest.fixture
def store_id(omics, s3):
    put_inputs(s3)
    store = omics.create_sequence_store(name="reads")
    until(lambda: omics.get_sequence_store(id=store["id"]), status_in("ACTIVE"))
    return store["id"]


@pytest.fixture
def workflow_id(omics):
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    return workflow["id"]


def source(sample, uri):
    return {"sourceFiles": {"source1": uri}, "sourceFileType": "FASTQ", "subjectId": "p", "sampleId": sample}


def test_import_moves_through_documented_statuses_and_creates_read_sets(omics, store_id, emulator):
    job = omics.start_read_set_import_job(
        sequenceStoreId=store_id, roleArn=ROLE_ARN, sources=[source("s1", "s3://genomics/reads/s1_R1.fastq")]
    )
    until(lambda: omics.get_read_set_import_job(sequenceStoreId=store_id, id=job["id"]), status_in("COMPLETED"))
    # What it went through, as the emulator recorded it (a poller under load may miss a short status).
    assert [t["status"] for t in emulator.transitions("read_set_import", job["id"])] == [
        "SUBMITTED",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    read_sets = omics.list_read_sets(sequenceStoreId=store_id)["readSets"]
    assert [r["sampleId"] for r in read_sets] == ["s1"]
    assert read_sets[0]["sequenceInformation"]["totalReadCount"] == 2


def test_import_with_every_source_missing_fails(omics, store_id):
    job = omics.start_read_set_import_job(
        sequenceStoreId=store_id, roleArn=ROLE_ARN, sources=[source("s1", "s3://genomics/nope.fastq")]
    )
    done = until(
        lambda: omics.get_read_set_import_job(sequenceStoreId=store_id, id=job["id"]),
        status_in("FAILED", "COMPLETED"),
    )
    assert done["status"] == "FAILED"
    assert done["sources"][0]["statusMessage"] == "Source file s3://genomics/nope.fastq could not be read: NoSuchKey"


def test_client_token_and_request_id_never_start_a_second_job(omics, store_id, workflow_id):
    args = {
        "sequenceStoreId": store_id,
        "roleArn": ROLE_ARN,
        "clientToken": "same",
        "sources": [source("s1", "s3://genomics/reads/s1_R1.fastq")],
    }
    assert omics.start_read_set_import_job(**args)["id"] == omics.start_read_set_import_job(**args)["id"]
    assert len(omics.list_read_set_import_jobs(sequenceStoreId=store_id)["importJobs"]) == 1
    run = {
        "workflowId": workflow_id,
        "roleArn": ROLE_ARN,
        "outputUri": "s3://genomics/out/",
        "requestId": "r-1",
    }
    assert omics.start_run(**run)["id"] == omics.start_run(**run)["id"]
    assert len(omics.list_runs()["items"]) == 1


def test_runs_write_outputs_and_list_their_tasks(omics, s3, workflow_id):
    run = omics.start_run(
        workflowId=workflow_id,
        roleArn=ROLE_ARN,
        outputUri="s3://genomics/out",
        name="s7",
        parameters={"sample_name": "s7"},
        requestId="r",
    )
    statuses = []
    done = until(
        lambda: omics.get_run(id=run["id"]),
        lambda r: statuses.append(r["status"]) or r["status"] == "COMPLETED",
    )
    assert {"PENDING", "STARTING", "RUNNING", "COMPLETED"} >= set(statuses)
    assert done["runOutputUri"] == f"s3://genomics/out/{run['id']}"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="genomics", Prefix=f"out/{run['id']}/")["Contents"]}
    assert keys >= {f"out/{run['id']}/out/align/aligned.bam", f"out/{run['id']}/out/call_variants/s7.vcf"}
    assert {t["status"] for t in omics.list_run_tasks(id=run["id"])["items"]} == {"COMPLETED"}


def test_list_runs_filters_by_status_name_and_group_and_pages(omics, emulator, workflow_id):
    group = omics.create_run_group(name="g", requestId="g")["id"]
    for index in range(5):
        in_group = {"runGroupId": group} if index % 2 else {}
        omics.start_run(
            workflowId=workflow_id,
            roleArn=ROLE_ARN,
            outputUri="s3://genomics/o/",
            name=f"run-{index}",
            requestId=f"r{index}",
            **in_group,
        )
    emulator.add_outcome("run", "run-3", "FAILED", failure_reason="SERVICE_ERROR")
    page = omics.list_runs(maxResults=2)
    assert len(page["items"]) == 2 and page["nextToken"]
    rest = omics.list_runs(maxResults=2, startingToken=page["nextToken"])
    assert [r["name"] for r in rest["items"]] == ["run-2", "run-3"]
    assert [r["name"] for r in omics.list_runs(runGroupId=group)["items"]] == ["run-1", "run-3"]
    assert [r["name"] for r in omics.list_runs(name="run-4")["items"]] == ["run-4"]
    until(lambda: omics.get_run(id=omics.list_runs(name="run-3")["items"][0]["id"]), status_in("FAILED"))
    assert [r["name"] for r in omics.list_runs(status="FAILED")["items"]] == ["run-3"]


def test_cancel_moves_a_run_through_stopping_to_cancelled(omics, emulator, workflow_id):
    emulator.backend.step_seconds = 0.3
    run = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", requestId="c")
    omics.cancel_run(id=run["id"])
    assert omics.get_run(id=run["id"])["status"] == "STOPPING"
    until(lambda: omics.get_run(id=run["id"]), status_in("CANCELLED"))
    with pytest.raises(ClientError, match="ConflictException"):
        omics.cancel_run(id=run["id"])


def test_a_run_held_in_progress_by_an_outcome_still_cancels(omics, emulator, workflow_id):
    emulator.add_outcome("run", "held", "RUNNING")
    run = omics.start_run(
        workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", requestId="h", name="held"
    )
    until(lambda: omics.get_run(id=run["id"]), status_in("RUNNING"))
    omics.cancel_run(id=run["id"])
    until(lambda: omics.get_run(id=run["id"]), status_in("CANCELLED"))


def test_validation_errors_name_the_member_and_the_rule(omics):
    with pytest.raises(ClientError) as error:
        omics.start_run(workflowId="abc", roleArn="not-an-arn", outputUri="s3://b/o", requestId="x", logLevel="LOUD")
    message = error.value.response["Error"]["Message"]
    assert error.value.response["Error"]["Code"] == "ValidationException"
    # The service's own form of a validation error, one clause per broken rule.
    assert message.startswith("4 validation errors detected: Value 'abc' at 'workflowId' failed to satisfy constraint")
    assert (
        "Value 'not-an-arn' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression"
        in message
    )
    assert "Value 's3://b/o' at 'outputUri' failed to satisfy constraint: Member must be an S3 URI" in message
    assert (
        "Value 'LOUD' at 'logLevel' failed to satisfy constraint: Member must satisfy enum value set: [OFF," in message
    )


def test_unknown_ids_are_resource_not_found(omics):
    with pytest.raises(omics.exceptions.ResourceNotFoundException, match="Run 1234567 not found"):
        omics.get_run(id="1234567")


def test_control_api_over_http(omics, emulator, workflow_id):
    control(emulator, "POST", "faults", {"operation": "ListRuns", "error": "AccessDeniedException", "count": 1})
    with pytest.raises(omics.exceptions.AccessDeniedException):
        omics.list_runs()
    omics.list_runs()  # the fault was for one call only
    assert control(emulator, "DELETE", "faults") == {"faults": []}

    control(
        emulator,
        "POST",
        "outcomes",
        {
            "kind": "run",
            "name_glob": "fail-*",
            "status": "FAILED",
            "failure_reason": "OUT_OF_MEMORY_ERROR",
            "message": "oom",
        },
    )
    run = omics.start_run(
        workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", name="fail-1", requestId="f"
    )
    failed = until(lambda: omics.get_run(id=run["id"]), status_in("FAILED", "COMPLETED"))
    assert (failed["status"], failed["failureReason"], failed["statusMessage"]) == (
        "FAILED",
        "OUT_OF_MEMORY_ERROR",
        "oom",
    )

    emulator.backend.step_seconds = 5
    other = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", requestId="t")
    moved = control(emulator, "POST", "transition", {"kind": "run", "id": other["id"], "status": "CANCELLED"})
    assert moved["status"] == omics.get_run(id=other["id"])["status"] == "CANCELLED"

    log = control(emulator, "GET", "requests")
    assert log["counts"]["ListRuns"] == 2
    denied = [r for r in log["requests"] if r["outcome"] == "AccessDeniedException"]
    assert [(r["operation"], r["status"]) for r in denied] == [("ListRuns", 403)]
    control(emulator, "POST", "reset")
    assert control(emulator, "GET", "requests")["counts"] == {}
    with pytest.raises(omics.exceptions.ResourceNotFoundException):
        omics.get_workflow(id=workflow_id)


def test_probabilistic_faults_hit_some_calls(omics, emulator):
    emulator.add_fault("ListRunGroups", "ThrottlingException", probability=0.5, count=1000)
    outcomes = []
    for _ in range(40):
        try:
            omics.list_run_groups()
            outcomes.append("ok")
        except omics.exceptions.ThrottlingException:
            outcomes.append("throttled")
    assert 0 < outcomes.count("throttled") < 40


async def test_aiobotocore_drives_a_full_lifecycle(emulator, s3):
    put_inputs(s3)
    session = in_front(get_session())  # StartRunBatch and the rest on every supported botocore
    async with session.create_client(
        "omics",
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        config=Config(inject_host_prefix=False),
    ) as client:
        await client.create_variant_store(
            name="variants",
            reference={"referenceArn": REFERENCE_ARN},
        )
        store = await client.get_variant_store(name="variants")
        while store["status"] != "ACTIVE":
            store = await client.get_variant_store(name="variants")
        job = await client.start_variant_import_job(
            destinationName="variants",
            roleArn=ROLE_ARN,
            items=[
                {"source": "s3://genomics/variants/s1.vcf"},
                {"source": "s3://genomics/variants/none.vcf"},
            ],
        )
        described = await client.get_variant_import_job(jobId=job["jobId"])
        while described["status"] not in ("COMPLETED", "COMPLETED_WITH_FAILURES", "FAILED"):
            described = await client.get_variant_import_job(jobId=job["jobId"])
        assert described["status"] == "COMPLETED_WITH_FAILURES"
        assert [i["jobStatus"] for i in described["items"]] == ["COMPLETED", "FAILED"]
        with pytest.raises(ClientError, match="ConflictException"):
            await client.cancel_variant_import_job(jobId=job["jobId"])


def test_runs_write_engine_and_task_logs_and_a_scripted_failure_names_its_task(emulator, omics, logs, workflow_id):
    emulator.add_outcome(
        "run",
        "oom-*",
        "FAILED",
        failure_reason="OUT_OF_MEMORY_ERROR",
        message="Task call_variants ran out of memory",
        task="call_variants",
        log_lines=["Loading 3.1 GiB of reads", "java.lang.OutOfMemoryError: Java heap space"],
    )
    run = omics.start_run(
        workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", name="oom-1", requestId="oom"
    )
    until(lambda: omics.get_run(id=run["id"]), status_in("FAILED", "COMPLETED"))

    tasks = {t["name"]: t for t in omics.list_run_tasks(id=run["id"])["items"]}
    assert tasks["call_variants"]["status"] == "FAILED"
    assert tasks["align"]["status"] == "COMPLETED"  # tasks run in definition order: align had finished
    failed = omics.get_run_task(id=run["id"], taskId=tasks["call_variants"]["taskId"])
    assert failed["failureReason"] == "OUT_OF_MEMORY_ERROR"

    def lines(stream: str) -> list[str]:
        found = logs.get_log_events(logGroupName="/aws/omics/WorkflowLog", logStreamName=stream, startFromHead=True)
        return [event["message"] for event in found["events"]]

    assert failed["logStream"].startswith("arn:aws:logs:us-east-1:123456789012:log-group:/aws/omics/WorkflowLog:")
    assert lines(failed["logStream"].split(":log-stream:")[1])[-3:] == [
        "Loading 3.1 GiB of reads",
        "java.lang.OutOfMemoryError: Java heap space",
        "Task call_variants failed: exit code 1",
    ]
    described = omics.get_run(id=run["id"])
    prefix = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/omics/WorkflowLog:log-stream:"
    assert described["logLocation"] == {  # ARNs, as the API reference documents
        "engineLogStream": f"{prefix}run/{run['id']}/engine",
        "runLogStream": f"{prefix}run/{run['id']}",
    }
    engine = lines(f"run/{run['id']}/engine")
    assert engine[0].startswith(f"Run {run['id']} started")
    # The run log: the run's statuses, and when each task ran and stopped.
    run_log = lines(f"run/{run['id']}")
    align, calling = (f"Task {name} ({tasks[name]['taskId']}) is" for name in ("align", "call_variants"))
    assert run_log[:3] == [f"Run {run['id']} is PENDING", f"Run {run['id']} is STARTING", f"Run {run['id']} is RUNNING"]
    assert f"{align} RUNNING on omics.c.large" in run_log and f"{align} COMPLETED" in run_log
    assert run_log.index(f"{calling} FAILED") < len(run_log) - 1
    assert run_log[-1] == f"Run {run['id']} is FAILED (OUT_OF_MEMORY_ERROR: Task call_variants ran out of memory)"
    manifest = [json.loads(line) for line in lines(f"manifest/run/{run['id']}/{described['uuid']}")]
    assert [(m["arn"].split(":")[-1].split("/")[0], m["status"]) for m in manifest] == [
        ("task", "COMPLETED"),
        ("task", "FAILED"),
        ("run", "FAILED"),
    ]
    assert [m["name"] for m in manifest[:2]] == ["align", "call_variants"] and manifest[1]["failureReason"]
    assert manifest[-1]["arn"] == described["arn"] and manifest[0]["instanceType"] == "omics.c.large"
    assert engine[-1] == f"Run {run['id']} failed: OUT_OF_MEMORY_ERROR: Task call_variants ran out of memory"


def test_a_run_announces_each_status_on_eventbridge_without_anyone_polling(omics, omics_events, workflow_id):
    """A rule's queue gets the run's events as they happen: nothing asks the emulator about the run."""
    run = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", requestId="ev")
    events: list[dict] = []

    def run_events() -> list[dict]:
        events.extend(e for e in omics_events() if e["detail-type"] == "Run Status Change")
        return events

    until(run_events, lambda found: found and found[-1]["detail"]["status"] == "COMPLETED")
    assert [e["detail"]["status"] for e in events] == ["PENDING", "STARTING", "RUNNING", "COMPLETED"]
    assert {(e["detail"]["runId"], e["detail"]["arn"]) for e in events} == {(run["id"], run["arn"])}
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    assert all(e["resources"] == [run["arn"]] for e in events)


def test_start_run_enforces_the_parameter_template(omics, emulator):
    template = {"sample_name": {"description": "sample"}, "reads": {"optional": False}, "depth": {"optional": True}}
    workflow = omics.create_workflow(
        name="strict", definitionZip=workflow_zip(), parameterTemplate=template, requestId="strict"
    )["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    start = {"workflowId": workflow, "roleArn": ROLE_ARN, "outputUri": "s3://genomics/o/"}

    with pytest.raises(
        ClientError, match=r"ValidationException.*parameters: sampel_name not in the parameter template"
    ):
        omics.start_run(
            **start, parameters={"sampel_name": "s1", "reads": "s3://genomics/reads/s1_R1.fastq"}, requestId="a"
        )
    with pytest.raises(ClientError, match=r"ValidationException.*required parameter reads missing"):
        omics.start_run(**start, parameters={"sample_name": "s1"}, requestId="b")
    emulator.backend.step_seconds = 5  # still PENDING when asked, however loaded the machine
    run = omics.start_run(
        **start, parameters={"sample_name": "s1", "reads": "s3://genomics/reads/s1_R1.fastq"}, requestId="c"
    )
    assert omics.get_run(id=run["id"])["status"] == "PENDING"


NEXTFLOW_WITHOUT_SCHEMA = {
    "main.nf": """
params.depth = 30          // given a value: optional
// params.commented_out is no parameter
process call { script: "call --depth ${params.depth} --ref ${params.reference}" }
workflow { call(Channel.fromPath(params.reads)) }
""",
    "nextflow.config": "params {\n    outdir = 's3://b/o'\n}\n",
}
CWL = """
cwlVersion: v1.2
class: Workflow
inputs:
  reads: {type: File, label: Paired reads}
  depth: {type: int, default: 30}
  note: string?
  extra: {type: ["null", File]}
outputs: []
steps: {}
"""


def created_template(omics, name: str, files: dict[str, str], engine: str) -> dict:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
    workflow = omics.create_workflow(name=name, definitionZip=buffer.getvalue(), engine=engine, requestId=name)["id"]
    return until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))


def test_nextflow_and_cwl_workflows_without_a_template_get_one_by_the_user_guides_rules(omics, s3):
    # Nextflow with nextflow_schema.json beside main.nf: its properties, descriptions and required lists.
    definition, main = zip_definition(str(EXAMPLES / "workflows" / "fastq_qc"))
    qc = omics.create_workflow(name="qc", definitionZip=definition, main=main, requestId="qc")["id"]
    described = until(lambda: omics.get_workflow(id=qc), status_in("ACTIVE"))
    assert described["engine"] == "NEXTFLOW"
    assert described["parameterTemplate"] == {
        "sample_name": {"description": "The sample's name, used in output file names", "optional": False},
        "reads_1": {"description": "FASTQ of the first reads", "optional": False},
        "reads_2": {"description": "FASTQ of the second reads", "optional": False},
        "outdir": {"description": "Where the summary is published", "optional": True},
    }
    start = {"workflowId": qc, "roleArn": ROLE_ARN, "outputUri": "s3://genomics/o/"}
    reads = {"reads_1": "s3://genomics/reads/s1_R1.fastq", "reads_2": "s3://genomics/reads/s1_R2.fastq"}
    with pytest.raises(ClientError, match=r"ValidationException.*sampel_name not in the parameter template"):
        omics.start_run(**start, parameters={"sampel_name": "s1", **reads}, requestId="misspelled")

    # Nextflow without a schema: params given a value (main file or nextflow.config) are optional.
    loose = created_template(omics, "nf", NEXTFLOW_WITHOUT_SCHEMA, "NEXTFLOW")["parameterTemplate"]
    assert {name: spec["optional"] for name, spec in loose.items()} == {
        "depth": True,
        "reference": False,
        "reads": False,
        "outdir": True,
    }
    # CWL: nullable types and defaults are optional; the label is the description.
    cwl = created_template(omics, "cwl", {"main.cwl": CWL}, "CWL")["parameterTemplate"]
    assert cwl == {
        "reads": {"description": "Paired reads", "optional": False},
        "depth": {"description": "", "optional": True},
        "note": {"description": "", "optional": True},
        "extra": {"description": "", "optional": True},
    }


def test_a_wdl_workflow_without_a_template_gets_one_from_its_inputs(omics, s3):
    put_inputs(s3)
    definition, main = zip_definition(str(EXAMPLES / "workflows"))
    workflow = omics.create_workflow(name="inferred", definitionZip=definition, main=main, requestId="inferred")["id"]
    template = until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))["parameterTemplate"]
    assert {name: spec["optional"] for name, spec in template.items()} == dict.fromkeys(
        ("sample_name", "reads_1", "reads_2", "reference"), False
    )
    start = {"workflowId": workflow, "roleArn": ROLE_ARN, "outputUri": "s3://genomics/o/"}
    with pytest.raises(ClientError, match=r"required parameter reads_2, reference missing"):
        omics.start_run(**start, parameters={"sample_name": "s1", "reads_1": "s3://genomics/reads/s1_R1.fastq"})
    # Declared optional (File?) or with a default: may be left out.
    loose = omics.create_workflow(name="loose", definitionZip=workflow_zip(), requestId="loose")["id"]
    template = until(lambda: omics.get_workflow(id=loose), status_in("ACTIVE"))["parameterTemplate"]
    assert {name: spec["optional"] for name, spec in template.items()} == {"reads": True, "sample_name": True}
    assert omics.start_run(**{**start, "workflowId": loose}, requestId="loose")["status"] == "PENDING"


def test_a_run_whose_s3_input_is_missing_fails_after_starting(omics, s3, logs, workflow_id):
    put_inputs(s3)
    run = omics.start_run(
        workflowId=workflow_id,
        roleArn=ROLE_ARN,
        outputUri="s3://genomics/o/",
        parameters={"sample_name": "s1", "reads": "s3://genomics/reads/nope.fastq"},
        requestId="missing",
    )
    failed = until(lambda: omics.get_run(id=run["id"]), status_in("FAILED", "COMPLETED"))
    assert failed["failureReason"] == "INPUT_URI_NOT_FOUND"
    assert failed["statusMessage"].startswith("The provided URI doesn't exist: s3://genomics/reads/nope.fastq.")
    assert omics.list_run_tasks(id=run["id"])["items"] == []  # no task started
    engine = logs.get_log_events(logGroupName="/aws/omics/WorkflowLog", logStreamName=f"run/{run['id']}/engine")
    assert "INPUT_URI_NOT_FOUND" in engine["events"][-1]["message"]


def test_a_run_group_holds_runs_over_max_runs_in_pending(emulator, omics, workflow_id):
    emulator.backend.step_seconds = 0.2
    group = omics.create_run_group(name="one-at-a-time", maxRuns=1, requestId="g")["id"]
    runs = [
        omics.start_run(
            workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", runGroupId=group, requestId=f"r{i}"
        )["id"]
        for i in range(3)
    ]
    most = 0
    while {omics.get_run(id=r)["status"] for r in runs} != {"COMPLETED"}:
        busy = [r for r in omics.list_runs(runGroupId=group)["items"] if r["status"] in ("STARTING", "RUNNING")]
        most = max(most, len(busy))
    assert most == 1
    described = sorted((omics.get_run(id=r) for r in runs), key=lambda r: r["startTime"])
    assert all(later["startTime"] >= earlier["stopTime"] for earlier, later in itertools.pairwise(described))


def test_a_run_longer_than_its_group_allows_fails_timed_out(emulator, omics, workflow_id, monkeypatch):
    from airflow_provider_omics.emulator.models import base, runs

    class Clock:
        offset = 0.0

        def time(self) -> float:
            return time.time() + self.offset

    clock = Clock()
    monkeypatch.setattr(base, "time", clock)
    monkeypatch.setattr(runs, "time", clock)
    emulator.backend.step_seconds = 100  # a run of 300 s: RUNNING from 200 s
    group = omics.create_run_group(name="short", maxDuration=1, requestId="g")["id"]
    run = omics.start_run(
        workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", runGroupId=group, requestId="long"
    )["id"]
    clock.offset = 201
    assert omics.get_run(id=run)["status"] == "RUNNING"
    clock.offset = 262
    failed = omics.get_run(id=run)
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "RUN_TIMED_OUT")
    assert failed["statusMessage"] == "Run timed out after 1 minutes"


EXAMPLE_INPUTS = {
    "sample_name": "s1",
    "reads_1": "s3://genomics/reads/s1_R1.fastq",
    "reads_2": "s3://genomics/reads/s1_R2.fastq",
    "reference": "s3://genomics/ref/chr1.fa",
}


def test_run_tasks_report_their_runtime_resources_and_run_one_after_the_other(omics, s3, emulator):
    put_inputs(s3)
    for image in EXAMPLE_IMAGES:
        emulator.push_image(image)
    definition, main = zip_definition(str(EXAMPLES / "workflows"))
    workflow = omics.create_workflow(
        name="vc", definitionZip=definition, main=main, containerRegistryMap=DOCKER_HUB, requestId="vc"
    )["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    run = omics.start_run(
        workflowId=workflow, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", requestId="vc", parameters=EXAMPLE_INPUTS
    )
    done = until(lambda: omics.get_run(id=run["id"]), status_in("COMPLETED", "FAILED"))

    tasks = omics.list_run_tasks(id=run["id"])["items"]
    assert [(t["name"], t["cpus"], t["memory"], t["instanceType"]) for t in tasks] == [
        ("align", 2, 4, "omics.c.large"),
        ("call_variants", 4, 16, "omics.m.xlarge"),
    ]
    times = [done["startTime"]] + [moment for t in tasks for moment in (t["startTime"], t["stopTime"])]
    assert times == sorted(times) and times[-1] <= done["stopTime"]


def test_runs_take_static_storage_of_1200_gib_unless_told_otherwise(omics, workflow_id):
    runs = {
        storage: omics.get_run(
            id=omics.start_run(
                workflowId=workflow_id,
                roleArn=ROLE_ARN,
                outputUri="s3://genomics/o/",
                requestId=f"storage-{storage}",
                parameters={"sample_name": "s1"},
                **({"storageType": storage} if storage else {}),
            )["id"]
        )
        for storage in (None, "DYNAMIC")
    }
    assert (runs[None]["storageType"], runs[None]["storageCapacity"]) == ("STATIC", 1200)
    assert runs["DYNAMIC"]["storageType"] == "DYNAMIC" and "storageCapacity" not in runs["DYNAMIC"]


def test_the_price_list_serves_amazon_omics_products_like_the_aws_price_list(emulator):
    pricing = boto3.client("pricing", region_name="us-east-1", endpoint_url=emulator.endpoint_url)
    region = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": emulator.region}
    pages = list(
        pricing.get_paginator("get_products").paginate(
            ServiceCode="AmazonOmics", Filters=[region], PaginationConfig={"PageSize": 7}
        )
    )
    items = [json.loads(text) for page in pages for text in page["PriceList"]]
    assert len(pages) > 1 and all(len(page["PriceList"]) <= 7 for page in pages)
    names = [item["product"]["attributes"]["resourceType"] for item in items]
    assert len(names) == len(set(names)) and {"omics.c.large", "omics.r.16xlarge", "Run Storage"} <= set(names)
    assert all(item["product"]["attributes"]["regionCode"] == emulator.region for item in items)
    large = pricing.get_products(
        ServiceCode="AmazonOmics",
        Filters=[region, {"Type": "TERM_MATCH", "Field": "resourceType", "Value": "omics.c.large"}],
    )["PriceList"]
    assert [json.loads(text)["product"]["attributes"]["vcpu"] for text in large] == ["2"]
    other_region = {**region, "Value": "eu-west-9"}
    assert pricing.get_products(ServiceCode="AmazonOmics", Filters=[other_region])["PriceList"] == []
    with pytest.raises(ClientError, match="InvalidParameterException"):
        pricing.get_products(ServiceCode="AmazonOmics", Filters=[{**region, "Type": "LIKE"}])


def upload_parts(omics, store_id, file_type, parts, source="SOURCE1", **fields):
    upload = omics.create_multipart_read_set_upload(
        sequenceStoreId=store_id, sourceFileType=file_type, subjectId="p", sampleId="s", name="up", **fields
    )["uploadId"]
    sent = [
        {
            "partNumber": number,
            "partSource": source,
            "checksum": omics.upload_read_set_part(
                sequenceStoreId=store_id, uploadId=upload, partSource=source, partNumber=number, payload=part
            )["checksum"],
        }
        for number, part in enumerate(parts, start=1)
    ]
    return upload, sent


def test_direct_upload_round_trip_with_etags_and_s3_access(omics, s3, store_id):
    upload, sent = upload_parts(omics, store_id, "FASTQ", [FASTQ_1[:20], FASTQ_1[20:]])
    read_set_id = omics.complete_multipart_read_set_upload(sequenceStoreId=store_id, uploadId=upload, parts=sent)[
        "readSetId"
    ]
    # Processed, then ACTIVE: readable by part and through its S3 access URI, with the FASTQ's ETag.
    assert omics.get_read_set_metadata(sequenceStoreId=store_id, id=read_set_id)["status"] == "PROCESSING_UPLOAD"
    read_set = until(lambda: omics.get_read_set_metadata(sequenceStoreId=store_id, id=read_set_id), status_in("ACTIVE"))
    assert omics.get_read_set(sequenceStoreId=store_id, id=read_set_id, partNumber=1)["payload"].read() == FASTQ_1
    assert read_set["etag"] == {"algorithm": "FASTQ_MD5up", "source1": hashlib.md5(FASTQ_1).hexdigest()}
    uri = read_set["files"]["source1"]["s3Access"]["s3Uri"]
    assert uri.startswith(omics.get_sequence_store(id=store_id)["s3Access"]["s3Uri"])
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == FASTQ_1
    assert omics.list_multipart_read_set_uploads(sequenceStoreId=store_id)["uploads"] == []

    # A store of the SHA256up family: the hash of the uncompressed FASTQ, gzipped or not.
    sha_store = omics.create_sequence_store(name="sha", eTagAlgorithmFamily="SHA256up")["id"]
    until(lambda: omics.get_sequence_store(id=sha_store), status_in("ACTIVE"))
    upload, sent = upload_parts(omics, sha_store, "FASTQ", [gzip.compress(FASTQ_1)])
    read_set_id = omics.complete_multipart_read_set_upload(sequenceStoreId=sha_store, uploadId=upload, parts=sent)[
        "readSetId"
    ]
    etag = until(lambda: omics.get_read_set_metadata(sequenceStoreId=sha_store, id=read_set_id), status_in("ACTIVE"))[
        "etag"
    ]
    assert etag == {"algorithm": "FASTQ_SHA256up", "source1": hashlib.sha256(FASTQ_1).hexdigest()}


def test_direct_upload_refuses_what_the_service_refuses(omics, store_id):
    def refused(call, match):
        with pytest.raises(ClientError, match=match) as error:
            call()
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    upload, sent = upload_parts(omics, store_id, "FASTQ", [FASTQ_1[:20], FASTQ_1[20:40], FASTQ_1[40:]])
    complete = omics.complete_multipart_read_set_upload
    refused(lambda: complete(sequenceStoreId=store_id, uploadId=upload, parts=sent[::-1]), "ascending partNumber")
    refused(lambda: complete(sequenceStoreId=store_id, uploadId=upload, parts=[sent[0], sent[2]]), "has no part 2")
    wrong = [{**sent[0], "checksum": "0" * 32}, *sent[1:]]
    refused(lambda: complete(sequenceStoreId=store_id, uploadId=upload, parts=wrong), "not uploaded with that")
    part = omics.upload_read_set_part
    too_big = b"@" * (100 * 1024 * 1024 + 1)
    refused(
        lambda: part(sequenceStoreId=store_id, uploadId=upload, partSource="SOURCE1", partNumber=4, payload=too_big),
        "at most 104857600 bytes",
    )
    bam, _ = upload_parts(omics, store_id, "BAM", [], referenceArn=REFERENCE_ARN)
    refused(
        lambda: part(sequenceStoreId=store_id, uploadId=bam, partSource="SOURCE2", partNumber=1, payload=b"x"),
        "SOURCE1 only",
    )
    # Content that is not what the upload said: the read set fails its processing, saying why.
    upload, sent = upload_parts(omics, store_id, "BAM", [FASTQ_1], referenceArn=REFERENCE_ARN)
    read_set_id = complete(sequenceStoreId=store_id, uploadId=upload, parts=sent)["readSetId"]
    failed = until(
        lambda: omics.get_read_set_metadata(sequenceStoreId=store_id, id=read_set_id), status_in("UPLOAD_FAILED")
    )
    assert failed["statusMessage"] == "SOURCE1 is not a BAM file (it reads as FASTQ)"


def test_command_line_serves_until_stopped(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_omics.emulator", "--port", "0", "--step-seconds", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = process.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{endpoint}/_emulator/requests") as response:
            assert json.loads(response.read()) == {"requests": [], "counts": {}}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    "blob",
    [b"PK\x03\x04 not really a zip", b"workflow main {}", gzip.compress(b"workflow main {}")],
    ids=["PK-garbage", "plain-text", "gzip"],
)
def test_a_definition_that_is_not_a_zip_is_a_validation_error(omics, emulator, blob):
    with pytest.raises(ClientError) as error:
        omics.create_workflow(name="w", definitionZip=blob, requestId="bad-zip")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "definitionZip is not a zip archive" in str(error.value)
    assert emulator.request_counts() == {"CreateWorkflow": 1}  # one 400, nothing a client would retry
    assert omics.list_workflows()["items"] == []


def test_a_run_whose_output_is_not_in_s3_is_refused_at_start(omics, workflow_id):
    with pytest.raises(ClientError, match=r"Value 'https://example.com/out' at 'outputUri' failed to satisfy"):
        omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="https://example.com/out", requestId="x")
    assert omics.list_runs()["items"] == []


def test_a_job_whose_step_breaks_fails_instead_of_staying_in_progress(omics, emulator, workflow_id):
    run = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId="r")
    # Whatever goes wrong inside the emulator while a job moves on, the job ends, saying why.
    emulator.backend.get("run", run["id"])["runOutputUri"] = "not-a-uri"
    described = until(lambda: omics.get_run(id=run["id"]), status_in("COMPLETED", "FAILED"))
    assert described["status"] == "FAILED" and "is not an S3 URI" in described["statusMessage"]


def _raw(emulator, path: str, body: bytes, signed_for: str = "omics", content_type: str = "application/json"):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=f"{emulator.endpoint_url}{path}", data=body)
    request.headers["Content-Type"] = content_type
    if signed_for:
        SigV4Auth(Credentials("testing", "testing"), signed_for, "us-east-1").add_auth(request)
    raw = urllib.request.Request(request.url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"3", b"null", b"[" * 5000 + b"]" * 5000, b"{not json"])
def test_a_body_that_is_not_a_json_object_is_a_400(emulator, body):
    status, answer = _raw(emulator, "/sequencestore", body)
    assert status == 400 and answer["__type"] == "SerializationException"
    assert emulator.request_counts() == {"CreateSequenceStore": 1}
    assert emulator.requests()[0]["status"] == 400


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "faults",
            {"operation": "GetRun", "error": "ThrottlingException", "probability": "often"},
            "probability: must",
        ),
        ("faults", {"operation": "GetRun", "error": "ThrottlingException", "probability": 2}, "between 0 and 1"),
        ("faults", {"operation": "GetRun", "error": "ThrottlingException", "count": -1}, "count: must be >= 0"),
        ("faults", {"operation": "GetRun", "error": "Exploded"}, "error: 'Exploded' is not an error of the omics"),
        (
            "faults",
            {"operation": "GetRunz", "error": "500"},
            "operation: 'GetRunz' is not an omics, Price List, CloudWatch Logs or ECR operation",
        ),
        ("faults", {"operation": "GetRun"}, "error: is required"),
        ("outcomes", {"kind": "run", "name_glob": "*", "status": "DONE"}, "status: a run has no status 'DONE'"),
        ("outcomes", {"kind": "runs", "name_glob": "*", "status": "FAILED"}, "kind: 'runs' is not one of"),
        ("outcomes", {"kind": "run", "name_glob": "*", "status": "FAILED", "log_lines": "boom"}, "log_lines: must"),
        ("outcomes", {"kind": "run", "name_glob": "*", "status": "FAILED", "log_lines": [1]}, "list of strings"),
        (
            "outcomes",
            {"kind": "read_set_import", "name_glob": "*", "status": "FAILED", "task": "align"},
            "only a run has tasks",
        ),
        ("usage", {"task": "call_*", "cpus": 3.1}, "memory_gib: is required"),
        ("usage", {"task": "call_*", "cpus": -1, "memory_gib": 6}, "cpus: must be >= 0"),
        ("usage", {"task": "call_*", "cpus": "many", "memory_gib": 6}, "cpus: must be int or float"),
        ("transition", {"kind": "run", "id": "1", "status": "PROCESSED"}, "status: a run has no status"),
        ("transition", {"kind": "run", "id": "1", "status": "FAILED", "why": "x"}, "why: not a field"),
    ],
)
def test_the_control_api_refuses_bad_input_naming_the_field(omics, emulator, path, body, message):
    status, answer = _raw(emulator, f"/_emulator/{path}", json.dumps(body).encode(), signed_for="")
    assert status == 400 and message in answer["error"]
    assert omics.list_runs()["items"] == []  # and nothing was poisoned: the next request is answered


def test_the_control_api_takes_json_only(emulator, omics):
    store = omics.create_sequence_store(name="kept")
    status, answer = _raw(emulator, "/_emulator/reset", b"confirm=yes", "", "application/x-www-form-urlencoded")
    assert status == 415 and "Content-Type must be application/json" in answer["error"]
    assert omics.get_sequence_store(id=store["id"])["name"] == "kept"  # a cross-origin form post reset nothing


def test_quotas_throttle_like_the_service_and_can_be_turned_off(omics, emulator, workflow_id):
    run = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId="q")
    emulator.quotas.enabled = True  # on by default for users; the tests' emulator starts with them off
    answers = []
    for _ in range(25):  # a burst well over GetRun's 10 per second
        try:
            omics.get_run(id=run["id"])
            answers.append("ok")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429  # as the omics model says
            answers.append("throttled")
    assert 10 <= answers.count("ok") < 25 and answers[:10] == ["ok"] * 10
    emulator.quotas.enabled = False
    assert all(omics.get_run(id=run["id"])["id"] == run["id"] for _ in range(25))


def test_every_operation_of_the_documented_quota_table_is_throttled_at_its_rate():
    from airflow_provider_omics.emulator.throttling import Quotas
    from airflow_provider_omics.quotas import QUOTA_TABLE, default_quotas
    from airflow_provider_omics.service_model import service_model

    quotas = default_quotas()
    # The user guide's table, spot-checked row by row: general, storage, workflows, analytics.
    assert quotas["AcceptShare"] == quotas["CreateSequenceStore"] == quotas["CompleteMultipartReadSetUpload"] == 1
    assert quotas["UploadReadSetPart"] == quotas["GetReference"] == quotas["GetRun"] == quotas["ListRunTasks"] == 10
    assert quotas["GetReadSet"] == 30
    assert quotas["GetReadSetMetadata"] == quotas["ListReadSetUploadParts"] == quotas["TagResource"] == 5
    assert quotas["GetVariantImportJob"] == quotas["ListAnnotationImportJobs"] == quotas["StartRun"] == 1
    named = [operation for _, operations in QUOTA_TABLE for operation in operations]
    assert len(named) == len(set(named)) == len(quotas) == 58
    assert set(named) <= set(service_model().operation_names)

    limits = Quotas()  # a burst of twice the rate: the first second's worth is served, the rest refused
    for operation, rate in quotas.items():
        served = [limits.admit(operation) for _ in range(int(rate) * 2)]
        assert served == [True] * int(rate) + [False] * int(rate), operation


def test_list_pages_are_cursors_that_survive_a_status_change(omics, emulator, workflow_id):
    emulator.backend.step_seconds = 60  # nothing moves on its own
    ids = [
        omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/r/", requestId=f"p{i}")["id"]
        for i in range(5)
    ]
    first = omics.list_runs(status="PENDING", maxResults=2)
    # The first job of the page ends between two pages: with an offset the next page would skip one.
    emulator.transition("run", first["items"][0]["id"], "CANCELLED")
    second = omics.list_runs(status="PENDING", maxResults=2, startingToken=first["nextToken"])
    third = omics.list_runs(status="PENDING", maxResults=2, startingToken=second["nextToken"])
    seen = [r["id"] for page in (first, second, third) for r in page["items"]]
    assert sorted(seen) == sorted(ids) and "nextToken" not in third
    with pytest.raises(ClientError, match="is not a token this listing gave"):
        omics.list_runs(startingToken="3")


def test_each_status_is_recorded_when_it_happened(omics, emulator, workflow_id):
    run = omics.start_run(workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId="t")
    until(lambda: omics.get_run(id=run["id"]), status_in("COMPLETED"))
    import time

    time.sleep(0.5)  # the clock is lazy: asking late must not move the recorded times
    steps = emulator.transitions("run", run["id"])
    assert [s["status"] for s in steps] == ["PENDING", "STARTING", "RUNNING", "COMPLETED"]
    gaps = [later["time"] - earlier["time"] for earlier, later in itertools.pairwise(steps)]
    assert all(abs(gap - emulator.backend.step_seconds) < 0.02 for gap in gaps), gaps

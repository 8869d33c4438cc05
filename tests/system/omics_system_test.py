"""System test: the genomics pipeline on a real AWS account, tiny and cheap; the same file runs against the
emulator in CI (``tests/test_system.py``), so it is known to work up to the service's own behaviour.

In the Amazon provider's convention: setup creates what the body needs (the inputs in S3, a sequence store,
a one-task workflow, a run cache, the EventBridge rules and SQS queues of ``docs/eventbridge/`` as a
CloudFormation stack), the body exercises the provider (an upload and a download, a run checked before it
starts, the same run again from the cache, a failed run's report, a batch of two runs, a share offered to the
account itself, the run's end heard through the queue by ``OmicsEventSensor``), teardown deletes everything
the test made whatever happened (``trigger_rule="all_done"``), and the watcher fails the DAG run when any
task failed (a successful teardown would otherwise hide the failure).

Settings, from the environment (``make system-test`` checks them and sets the rest):

  OMICS_SYSTEM_TEST_BUCKET     a bucket of yours in the connection's region; the test writes only under
                               ``airflow-omics-system/<env id>/`` and deletes it at the end
  OMICS_SYSTEM_TEST_ROLE_ARN   the HealthOmics service role (docs: concepts/iam.md)
  OMICS_SYSTEM_TEST_IMAGE      a container image in a private ECR repository of the region, with ``sh``
                               (HealthOmics runs only images from ECR)
  OMICS_SYSTEM_TEST_ENV_ID     what names everything the test makes (set by ``make system-test``)
  OMICS_WAITER_DELAY           seconds between polls (default 30)
  OMICS_EVENTS_TEMPLATE        the CloudFormation template of the events' plumbing (default: the repository's)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pendulum
from botocore.exceptions import ClientError

from airflow_provider_omics.compat import DAG, task
from airflow_provider_omics.diagnostics import failure_report
from airflow_provider_omics.errors import OmicsJobFailed, error_code
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.operators.storage import OmicsCreateSequenceStoreOperator
from airflow_provider_omics.operators.transfers import OmicsDownloadReadSetOperator, OmicsUploadReadSetOperator
from airflow_provider_omics.operators.workflows import (
    OmicsCreateRunCacheOperator,
    OmicsCreateWorkflowOperator,
    OmicsStartRunBatchOperator,
    OmicsStartRunOperator,
)
from airflow_provider_omics.sensors.omics import OmicsEventSensor

ENV_ID = os.environ.get("OMICS_SYSTEM_TEST_ENV_ID", "local")
BUCKET = os.environ.get("OMICS_SYSTEM_TEST_BUCKET", "airflow-omics-system-tests")
ROLE = os.environ.get("OMICS_SYSTEM_TEST_ROLE_ARN", "arn:aws:iam::123456789012:role/OmicsServiceRole")
IMAGE = os.environ.get("OMICS_SYSTEM_TEST_IMAGE", "123456789012.dkr.ecr.us-east-1.amazonaws.com/ubuntu:22.04")
PREFIX = f"airflow-omics-system/{ENV_ID}"
NAME = f"airflow-omics-{ENV_ID}"  # every resource the test makes is named from it, so teardown finds them all
WORKFLOW = Path(__file__).parent / "workflows" / "count_reads.wdl"
EVENTS_TEMPLATE = Path(
    os.environ.get(
        "OMICS_EVENTS_TEMPLATE", Path(__file__).parents[2] / "docs" / "eventbridge" / "omics-events.cfn.yaml"
    )
)
LOG_GROUP = "/aws/omics/WorkflowLog"
WAIT: dict[str, Any] = {"deferrable": True, "waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}
READS = 50  # reads of 20 bases a mate: a few kB


def fastq(mate: int) -> bytes:
    return b"".join(b"@read%d/%d\nACGTACGTACGTACGTACGT\n+\nIIIIIIIIIIIIIIIIIIII\n" % (i, mate) for i in range(READS))


@task
def put_inputs() -> dict[str, str]:
    """The reads, in S3: where uploads and runs take them from."""
    s3 = OmicsHook().client_of("s3")
    uris = {}
    for mate in (1, 2):
        key = f"{PREFIX}/inputs/s1_R{mate}.fastq"
        s3.put_object(Bucket=BUCKET, Key=key, Body=fastq(mate))
        uris[f"reads_{mate}"] = f"s3://{BUCKET}/{key}"
    return uris


def run_parameters(reads: Any, fail: bool = False) -> dict[str, Any]:
    return {"reads": reads, "sample_name": "s1", "image": IMAGE, "fail": fail}


@task
def event_plumbing() -> dict[str, str]:
    """The rules, queues and policies of ``docs/eventbridge/``, deployed as a stack: its outputs."""
    cloudformation = OmicsHook().client_of("cloudformation")
    cloudformation.create_stack(
        StackName=NAME, TemplateBody=EVENTS_TEMPLATE.read_text(), Capabilities=["CAPABILITY_IAM"]
    )
    cloudformation.get_waiter("stack_create_complete").wait(StackName=NAME)
    stack = cloudformation.describe_stacks(StackName=NAME)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}


@task
def heard_as_it_ran(event: dict[str, Any], run: dict[str, Any]) -> None:
    """The event the sensor heard is the run's own end."""
    if event["ids"] != {"id": run["id"]} or event["status"] != "COMPLETED":
        raise AssertionError(f"the event heard is not run {run['id']} completing: {event}")


@task
def check_cache_hit(first: dict[str, Any], again: dict[str, Any]) -> None:
    """The second run took its task from the cache the first filled."""
    hits = ((again.get("summary") or {}).get("totals") or {}).get("cacheHits")
    if not hits:
        raise AssertionError(f"run {again['id']} took nothing from the cache run {first['id']} filled: {hits!r}")


@task
def failed_run_is_reported(workflow_id: str, reads: str) -> str:
    """A run that fails is reported as its task's failure reports it: the failed task and its log's tail."""
    hook = OmicsHook()
    started = hook.call(
        "StartRun",
        workflowId=workflow_id,
        roleArn=ROLE,
        name=f"{NAME}-fails",
        outputUri=f"s3://{BUCKET}/{PREFIX}/runs/",
        parameters=run_parameters(reads, fail=True),
        storageType="DYNAMIC",
        requestId=f"{NAME}-fails",
    )
    try:
        hook.wait("run", id=started["id"], delay=WAIT["waiter_delay"])
    except OmicsJobFailed as failed:
        report = failure_report(hook, started["id"], failed.described, include_logs=True, log_lines=20)
        for expected in ("count", "failing as asked"):
            if expected not in report:
                raise AssertionError(f"the report of run {started['id']} lacks {expected!r}:\n{report}") from None
        return started["id"]
    raise AssertionError(f"run {started['id']} was told to fail and did not")


@task
def share_with_own_account(workflow_arn: str) -> str:
    """Offer the workflow to the account itself and accept it, where the service allows it."""
    hook = OmicsHook()
    account = hook.client_of("sts").get_caller_identity()["Account"]
    try:
        share = hook.call("CreateShare", resourceArn=workflow_arn, principalSubscriber=account, shareName=NAME)
    except Exception as refused:  # the service may refuse a share with oneself: that is its answer, not ours
        return f"refused: {refused}"
    hook.call("AcceptShare", shareId=share["shareId"])
    hook.wait("share", shareId=share["shareId"], delay=WAIT["waiter_delay"])
    hook.call("DeleteShare", shareId=share["shareId"])
    return share["shareId"]


@task
def refusals(sequence_store_id: str) -> dict[str, str]:
    """What the service says when it refuses, in its own words (recorded by ``make system-test``): a store
    still holding a read set is not deleted (API reference, DeleteSequenceStore: 409), a run that is not there."""
    hook = OmicsHook()
    said = {}
    for what, operation, params in (
        ("a store holding a read set deleted", "DeleteSequenceStore", {"id": sequence_store_id}),
        ("a run that is not there", "GetRun", {"id": "1"}),
    ):
        try:
            hook.call(operation, retry=False, **params)
        except ClientError as refused:
            said[what] = f"{error_code(refused)}: {refused.response['Error'].get('Message')}"
        else:
            raise AssertionError(f"{operation} {params} was not refused, as the API reference says it is")
    return said


@task
def read_the_logs(run_ids: list[str]) -> dict[str, int]:
    """Every log stream of the runs read from its start (the engine's and tasks' lines, the run manifest):
    recorded by ``make system-test``, what a real run writes."""
    logs = OmicsHook().client_of("logs")
    lines = {}
    for run_id in run_ids:
        for prefix in (f"run/{run_id}", f"manifest/run/{run_id}/"):
            found = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=prefix)
            for stream in found.get("logStreams", []):
                name = stream["logStreamName"]
                read = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=name, startFromHead=True)
                lines[name] = len(read["events"])
    return lines


RUN_NAMES = (NAME, f"{NAME}-again", f"{NAME}-fails")


@task(trigger_rule="all_done")
def teardown() -> list[str]:
    """Delete everything named after this test's environment id, whatever state the body left it in."""
    hook = OmicsHook()
    deleted = []

    def named(operation: str, key: str, wanted: str, **params: Any) -> list[dict[str, Any]]:
        return [item for item in hook.call(operation, **params).get(key, []) if item.get("name") == wanted]

    runs = [run for name in RUN_NAMES for run in named("ListRuns", "items", name, name=name)]
    for run in runs:
        if run["status"] not in ("COMPLETED", "FAILED", "CANCELLED", "DELETED"):
            hook.call("CancelRun", id=run["id"])
            hook.wait("run", id=run["id"], delay=WAIT["waiter_delay"], fail_on_partial_success=False)
    for run in runs:
        hook.call("DeleteRun", id=run["id"])
        deleted.append(f"run {run['id']}")
    for batch in hook.call("ListBatch", name=NAME).get("items", []):
        if batch["status"] not in ("PROCESSED", "CANCELLED", "FAILED", "RUNS_DELETED"):
            hook.call("CancelRunBatch", batchId=batch["id"])
            hook.wait("run_batch", batchId=batch["id"], delay=WAIT["waiter_delay"], fail_on_partial_success=False)
        hook.call("DeleteRunBatch", batchId=batch["id"])
        for _ in range(120):  # the batch's runs are deleted in the background
            if hook.call("GetBatch", batchId=batch["id"])["status"] == "RUNS_DELETED":
                break
            time.sleep(min(WAIT["waiter_delay"], 10))
        hook.call("DeleteBatch", batchId=batch["id"])
        deleted.append(f"run batch {batch['id']} and its runs")
    for share in hook.call("ListShares", resourceOwner="SELF").get("shares", []):
        if share.get("shareName") == NAME and share["status"] not in ("DELETING", "DELETED"):
            hook.call("DeleteShare", shareId=share["shareId"])
            deleted.append(f"share {share['shareId']}")
    for store in named("ListSequenceStores", "sequenceStores", NAME, filter={"name": NAME}):
        read_sets = [r["id"] for r in hook.call("ListReadSets", sequenceStoreId=store["id"]).get("readSets", [])]
        if read_sets:
            hook.call("BatchDeleteReadSet", sequenceStoreId=store["id"], ids=read_sets)
            deleted += [f"read set {r}" for r in read_sets]
        hook.call("DeleteSequenceStore", id=store["id"])
        deleted.append(f"sequence store {store['id']}")
    for cache in named("ListRunCaches", "items", NAME):
        hook.call("DeleteRunCache", id=cache["id"])
        deleted.append(f"run cache {cache['id']}")
    for workflow in named("ListWorkflows", "items", NAME, name=NAME):
        hook.call("DeleteWorkflow", id=workflow["id"])
        deleted.append(f"workflow {workflow['id']}")
    cloudformation = hook.client_of("cloudformation")
    if any(stack["StackName"] == NAME for stack in cloudformation.describe_stacks().get("Stacks", [])):
        cloudformation.delete_stack(StackName=NAME)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=NAME)
        deleted.append(f"stack {NAME}")
    s3 = hook.client_of("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})
    deleted.append(f"{len(keys)} objects under s3://{BUCKET}/{PREFIX}/")
    return deleted


@task(trigger_rule="one_failed", retries=0)
def watcher() -> None:
    raise AssertionError("a task of the system test failed (its teardown ran): see the failed task's log")


with DAG(
    dag_id="omics_system_test",
    description="The provider end to end on a real account: setup, body, teardown",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["omics", "system-test"],
) as dag:
    # ---- setup
    inputs = put_inputs()
    store = OmicsCreateSequenceStoreOperator(task_id="sequence_store", name=NAME, **WAIT)
    workflow = OmicsCreateWorkflowOperator(task_id="workflow", name=NAME, definition_path=str(WORKFLOW), **WAIT)
    events = event_plumbing()
    cache = OmicsCreateRunCacheOperator(
        task_id="run_cache",
        name=NAME,
        cache_s3_location=f"s3://{BUCKET}/{PREFIX}/cache/",
        cache_behavior="CACHE_ALWAYS",
    )

    # ---- body
    upload = OmicsUploadReadSetOperator(
        task_id="upload",
        sequence_store_id=store.output["id"],
        source1=inputs["reads_1"],
        source2=inputs["reads_2"],
        source_file_type="FASTQ",
        subject_id="system-test",
        sample_id="s1",
        name=NAME,
        **WAIT,
    )
    download = OmicsDownloadReadSetOperator(
        task_id="download",
        sequence_store_id=store.output["id"],
        read_set_id=upload.output["id"],
        destination=f"s3://{BUCKET}/{PREFIX}/downloaded/",
    )
    run_settings = {
        "workflow_id": workflow.output["id"],
        "role_arn": ROLE,
        "output_uri": f"s3://{BUCKET}/{PREFIX}/runs/",
        "parameters": run_parameters(inputs["reads_1"]),
        "storage_type": "DYNAMIC",
        "cache_id": cache.output["id"],
        "cache_behavior": "CACHE_ALWAYS",
    }
    run = OmicsStartRunOperator(task_id="run", name=NAME, preflight=True, **run_settings, **WAIT)
    run_again = OmicsStartRunOperator(task_id="run_from_cache", name=f"{NAME}-again", **run_settings, **WAIT)
    run >> run_again
    heard = OmicsEventSensor(  # after the run: a run that failed to start is not waited for an hour
        task_id="run_end_event",
        queue_url=events["DagEventsQueueUrl"],
        kind="run",
        match={"runName": NAME},
        timeout=3600,
    )
    run >> heard
    batch = OmicsStartRunBatchOperator(
        task_id="batch",
        batch_name=NAME,
        default_run_setting={
            "workflowId": workflow.output["id"],
            "roleArn": ROLE,
            "outputUri": f"s3://{BUCKET}/{PREFIX}/batch/",
            "storageType": "DYNAMIC",
        },
        batch_run_settings=[
            {"runSettingId": f"s{n}", "name": f"{NAME}-batch-{n}", "parameters": run_parameters(inputs[f"reads_{n}"])}
            for n in (1, 2)
        ],
        preflight=True,
        **WAIT,
    )
    failed = failed_run_is_reported(workflow.output["id"], inputs["reads_1"])
    refused = refusals(store.output["id"])
    download >> refused  # the store holds the uploaded read set until teardown
    body = [
        batch,
        heard_as_it_ran(heard.output, run.output),
        download,
        refused,
        check_cache_hit(run.output, run_again.output),
        failed,
        read_the_logs([run.output["id"], run_again.output["id"], failed]),
        share_with_own_account(workflow.output["arn"]),
    ]

    # ---- teardown and watcher
    cleaned = teardown()
    body >> cleaned
    list(dag.tasks) >> watcher()

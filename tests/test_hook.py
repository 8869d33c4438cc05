"""OmicsHook against the emulator, through an ordinary ``aws`` connection (``aws_default``)."""

from __future__ import annotations

import itertools
import json
import pickle

import pytest
from botocore.exceptions import ClientError
from conftest import ROLE_ARN
from tour import put_inputs, workflow_zip

from airflow_provider_omics.errors import OmicsJobFailed, OmicsRetriesExhausted, OmicsWaitTimeout
from airflow_provider_omics.hooks.omics import OmicsHook


@pytest.fixture
def hook(emulator, s3):  # runs write to the bucket genomics
    return OmicsHook(aws_conn_id="aws_default", max_attempts=4, retry_max_wait=0.01)


@pytest.fixture
def workflow_id(hook):
    workflow = hook.conn.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")
    hook.wait("workflow", id=workflow["id"], delay=0.02, max_attempts=100)
    return workflow["id"]


def start_run(hook, workflow_id, name="sample"):
    return hook.conn.start_run(
        workflowId=workflow_id, roleArn=ROLE_ARN, name=name, outputUri="s3://genomics/runs/", requestId=name
    )["id"]


def test_plain_client_calls_every_operation(hook, emulator):
    store = hook.conn.create_sequence_store(name="plain")
    assert hook.conn.get_sequence_store(id=store["id"])["name"] == "plain"
    assert emulator.request_counts() == {"CreateSequenceStore": 1, "GetSequenceStore": 1}


def test_list_helpers_yield_every_item_across_pages(hook, emulator):
    for index in range(7):
        hook.conn.create_run_group(name=f"group-{index}", requestId=f"group-{index}")
    names = [group["name"] for group in hook.list_run_groups(maxResults=3)]
    assert names == [f"group-{index}" for index in range(7)]
    assert emulator.request_counts()["ListRunGroups"] == 3


def test_throttled_calls_are_retried_until_they_succeed(hook, emulator, workflow_id):
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", "ThrottlingException", count=2)
    assert hook.describe("run", id=run_id)["id"] == run_id
    assert emulator.request_counts()["GetRun"] == 3  # botocore's own retries are off: tenacity is the one place


def test_throttling_is_retried_past_max_attempts_until_the_throttle_timeout(hook, emulator, workflow_id):
    # Many workers starting runs at once share StartRun's quota of one a second: "later" is not "no".
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", "ThrottlingException", count=10)
    assert hook.describe("run", id=run_id)["id"] == run_id
    assert emulator.request_counts()["GetRun"] == 11

    emulator.add_fault("GetRun", "ThrottlingException")
    hook.throttle_timeout = 0.3
    with pytest.raises(OmicsRetriesExhausted, match=r"GetRun still failing after \d+ attempts.*ThrottlingException"):
        hook.describe("run", id=run_id)


def test_retries_give_up_after_the_bound_with_a_clear_error(hook, emulator, workflow_id):
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", "503")
    with pytest.raises(OmicsRetriesExhausted, match=r"GetRun still failing after 4 attempts.*ServiceUnavailable"):
        hook.get_status("run", id=run_id)
    assert emulator.request_counts()["GetRun"] == 4


def test_validation_errors_fail_at_once_with_the_service_message(hook, emulator):
    with pytest.raises(ClientError, match=r"ValidationException.*Value 'not-a-run' at 'id' failed to satisfy"):
        hook.call("GetRun", id="not-a-run")
    assert emulator.request_counts() == {"GetRun": 1}


def test_wait_returns_the_final_description_on_success(hook, workflow_id):
    run_id = start_run(hook, workflow_id)
    described = hook.wait("run", id=run_id, delay=0.02, max_attempts=200)
    assert described["status"] == "COMPLETED"
    assert described["runOutputUri"].endswith(run_id)


def test_wait_ends_on_failed_with_the_failure_reason(hook, emulator, workflow_id):
    emulator.add_outcome(
        "run", "oom-*", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR", message="Task align ran out of memory"
    )
    run_id = start_run(hook, workflow_id, name="oom-sample")
    with pytest.raises(
        OmicsJobFailed, match="ended FAILED: OUT_OF_MEMORY_ERROR: Task align ran out of memory"
    ) as error:
        hook.wait("run", id=run_id, delay=0.02, max_attempts=1000)
    assert error.value.status == "FAILED"
    polls = emulator.request_counts()["GetRun"]
    assert polls < 50  # ended on the failure, not at max attempts


def test_wait_ends_on_cancelled(hook, emulator, workflow_id):
    emulator.backend.step_seconds = 5  # long enough that only the console action ends it
    run_id = start_run(hook, workflow_id)
    emulator.transition("run", run_id, "CANCELLED", message="Cancelled in the console")
    with pytest.raises(OmicsJobFailed, match="ended CANCELLED: Cancelled in the console"):
        hook.wait("run", id=run_id, delay=0.02, max_attempts=1000)
    assert emulator.request_counts()["GetRun"] == 1


def test_wait_on_partial_success_names_each_failed_item(hook, s3):
    put_inputs(s3)
    store = hook.conn.create_sequence_store(name="reads")
    hook.wait("sequence_store", id=store["id"], delay=0.02)
    source = {"sourceFileType": "FASTQ", "subjectId": "patient", "sampleId": "s1"}
    job = hook.conn.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=ROLE_ARN,
        sources=[
            {**source, "sourceFiles": {"source1": "s3://genomics/reads/s1_R1.fastq"}},
            {**source, "sampleId": "s2", "sourceFiles": {"source1": "s3://genomics/reads/missing.fastq"}},
        ],
    )
    ids = {"sequenceStoreId": store["id"], "id": job["id"]}
    with pytest.raises(OmicsJobFailed) as error:
        hook.wait("read_set_import", delay=0.02, **ids)
    assert error.value.status == "COMPLETED_WITH_FAILURES"
    missing = "s3://genomics/reads/missing.fastq"
    assert f"s2 {missing}: Source file {missing} could not be read: NoSuchKey" in str(error.value)
    assert "s1" not in [what.split()[0] for what, _ in error.value.failed_items]
    described = hook.wait("read_set_import", delay=0.02, fail_on_partial_success=False, **ids)
    assert described["sources"][0]["status"] == "FINISHED"


def test_wait_treats_a_job_that_is_gone_as_deleted(hook):
    with pytest.raises(OmicsJobFailed, match="ended DELETED"):
        hook.wait("run", id="1234567", delay=0.02)


def test_unknown_kind_and_wrong_ids_fail_before_any_call(hook, emulator):
    with pytest.raises(ValueError, match="kind: 'runs' is not one of"):
        hook.describe("runs", id="1")
    with pytest.raises(ValueError, match="identified by sequenceStoreId, id; missing: sequenceStoreId"):
        hook.describe("read_set_import", id="1234567890")
    assert emulator.request_counts() == {}


async def test_async_describe_on_aiobotocore_retries_throttling(hook, emulator, workflow_id):
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", "ThrottlingException", count=2)
    async with await hook.get_async_conn() as client:
        described = await hook.describe_async(client, "run", id=run_id)
    assert described["id"] == run_id
    assert emulator.request_counts()["GetRun"] == 3


def _gaps(emulator, operation: str) -> list[float]:
    times = [r["time"] for r in emulator.requests() if r["operation"] == operation]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


@pytest.mark.parametrize("error", ["ThrottlingException", "503"])
def test_a_wait_outlasts_throttling_that_exhausts_per_call_retries(hook, emulator, workflow_id, error):
    # Twelve refusals in a row: three times what one call's retries (max_attempts=4) would take.
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", error, count=12)
    assert hook.wait("run", id=run_id, delay=0.02, max_attempts=500)["status"] == "COMPLETED"
    # One call per poll, never a burst of retries: throttled polls come no faster than the delay.
    assert min(_gaps(emulator, "GetRun")) >= 0.02


def test_throttled_polls_count_towards_max_attempts(hook, emulator, workflow_id):
    run_id = start_run(hook, workflow_id)
    emulator.add_fault("GetRun", "ThrottlingException")
    with pytest.raises(OmicsWaitTimeout, match=r"is still unanswered \(throttled\) after 3 polls"):
        hook.wait("run", id=run_id, delay=0.01, max_attempts=3)
    assert emulator.request_counts()["GetRun"] == 3


def test_wait_arguments_are_checked_before_any_call(hook, emulator):
    with pytest.raises(ValueError, match="waiter_delay must be a number of seconds > 0, got 'abc'"):
        hook.wait("run", id="1234567", delay="abc")
    with pytest.raises(ValueError, match="waiter_max_attempts must be an integer >= 1, got 0"):
        hook.wait("run", id="1234567", max_attempts=0)
    assert emulator.request_counts() == {}


def test_errors_and_results_carry_no_botocore_retry_noise(hook, emulator):
    with pytest.raises(ClientError) as error:
        hook.call("GetRun", id="1234567")
    assert "reached max retries" not in str(error.value)
    assert str(error.value).endswith("GetRun operation: Run 1234567 not found")
    metadata = hook.call("ListRuns")["ResponseMetadata"]
    assert "MaxAttemptsReached" not in metadata and "RetryAttempts" not in metadata


def test_every_paginated_operation_is_a_real_list_method():
    from airflow_provider_omics.service_model import paginators, snake

    for name in paginators():
        method = getattr(OmicsHook, snake(name))  # a class attribute: IDEs, help() and mypy see it
        assert name in method.__doc__
    assert not hasattr(OmicsHook, "list_runz")


def test_job_failures_survive_pickling(hook):
    with pytest.raises(OmicsJobFailed) as error:
        hook.wait("run", id="1234567", delay=0.02)
    copy = pickle.loads(pickle.dumps(error.value))
    assert (type(copy), str(copy), copy.status, copy.ids) == (
        OmicsJobFailed,
        str(error.value),
        "DELETED",
        error.value.ids,
    )


def test_an_address_endpoint_with_host_prefixes_on_is_refused_before_any_call(emulator, monkeypatch):
    """A connection to a local endpoint that forgot inject_host_prefix: told what to set, no call tried."""
    bare = json.loads(emulator.connection_json())
    bare["extra"].pop("config_kwargs")
    monkeypatch.setenv("AIRFLOW_CONN_BARE", json.dumps(bare))
    with pytest.raises(ValueError, match=r'is an address, .* "config_kwargs": \{"inject_host_prefix": false\}'):
        OmicsHook(aws_conn_id="bare").call("ListSequenceStores")
    assert emulator.request_counts() == {}
    # botocore's own switch says the same; a name (a real or a tunnelled endpoint) is left alone.
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    assert OmicsHook(aws_conn_id="bare").call("ListSequenceStores")["sequenceStores"] == []
    monkeypatch.delenv("AWS_DISABLE_HOST_PREFIX_INJECTION")
    bare["extra"]["endpoint_url"] = "https://omics.example.internal"
    monkeypatch.setenv("AIRFLOW_CONN_BARE", json.dumps(bare))
    assert OmicsHook(aws_conn_id="bare").config.inject_host_prefix is True

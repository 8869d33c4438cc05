"""Starting work on HealthOmics' own events, whoever started the job: ``OmicsEventTrigger`` (an ``AssetWatcher``'s
trigger on Airflow 3) and ``OmicsEventSensor`` (Airflow 2.11's way), filtered by kind, status and fields."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from conftest import ROLE_ARN, xcom
from test_event_waits import queue_depth
from test_status_source import start_runs  # noqa: F401  (a fixture)
from tour import put_inputs
from waiting import status_in, until

from airflow_provider_omics.triggers.omics import OmicsEventTrigger


async def collect(trigger: OmicsEventTrigger, count: int, timeout: float = 30, more: float = 0.0) -> list[dict]:
    """What the trigger fires, as a triggerer sees it: ``count`` events, then anything more within ``more`` s."""
    fired: list[dict] = []
    events = trigger.run()
    try:
        while len(fired) < count:
            fired.append((await asyncio.wait_for(anext(events), timeout)).payload)
        with contextlib.suppress(TimeoutError):
            while True:
                fired.append((await asyncio.wait_for(anext(events), more)).payload)
    finally:
        await events.aclose()
    return fired


async def test_a_run_started_outside_airflow_fires_once_with_what_the_dag_needs(
    start_runs,  # noqa: F811
    emulator,
    events_queue,
):
    queue = events_queue()
    emulator.backend.step_seconds = 0.3
    emulator.add_outcome("run", "bad-*", "FAILED", failure_reason="OUT_OF_MEMORY")
    emulator.set_event_delivery(duplicate=1.0)  # every event delivered twice, as EventBridge may
    trigger = OmicsEventTrigger(queue_url=queue, kind="run", match={"workflowName": "wf"})

    collecting = asyncio.ensure_future(collect(trigger, 2, more=3))
    await asyncio.sleep(1)
    runs = start_runs(2) + start_runs(1, prefix="bad")  # with boto3, as a console or a Lambda would
    fired = await collecting

    assert sorted(payload["ids"]["id"] for payload in fired) == sorted(runs[:2])  # once each, not the failed one
    for payload in fired:
        assert payload["kind"] == "run" and payload["status"] == "COMPLETED"
        assert payload["described"]["runOutputUri"] == f"s3://genomics/runs/{payload['ids']['id']}"
        assert payload["detail"]["workflowName"] == "wf"
    assert emulator.control.backend.delivery.state()["counts"]["duplicated"] > 0


async def test_read_sets_filtered_by_a_field_only_their_description_has(emulator, omics, s3, events_queue):
    queue = events_queue()
    put_inputs(s3)
    store = omics.create_sequence_store(name="reads")["id"]
    until(lambda: omics.get_sequence_store(id=store), status_in("ACTIVE"))
    trigger = OmicsEventTrigger(queue_url=queue, kind="read_set", match={"sampleId": ["s2", "s3"]})
    collecting = asyncio.ensure_future(collect(trigger, 2, more=2))
    await asyncio.sleep(1)

    omics.start_read_set_import_job(
        sequenceStoreId=store,
        roleArn=ROLE_ARN,
        sources=[
            {
                "sourceFiles": {"source1": "s3://genomics/reads/s1_R1.fastq"},
                "sourceFileType": "FASTQ",
                "subjectId": "patient-1",
                "sampleId": sample,
                "name": sample,
            }
            for sample in ("s1", "s2", "s3")
        ],
    )
    fired = await collecting

    assert sorted(payload["described"]["sampleId"] for payload in fired) == ["s2", "s3"]
    assert all(payload["status"] == "ACTIVE" and payload["ids"]["sequenceStoreId"] == store for payload in fired)


async def test_a_message_is_deleted_only_once_airflow_has_the_event(start_runs, emulator, events_queue):  # noqa: F811
    queue = events_queue()
    sqs = emulator.client("sqs")
    trigger = OmicsEventTrigger(queue_url=queue, kind="run", describe=False)
    events = trigger.run()
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(1)
    start_runs(1)
    await asyncio.wait_for(first, 30)

    # Handed, not yet taken back by the triggerer: the message is held, not deleted.
    completed = [m for m in peek(sqs, queue) if '"COMPLETED"' in m and '"Run Status Change"' in m]
    assert completed == [] and queue_depth(sqs, queue) >= 1
    await events.aclose()  # the triggerer moved on: the message goes
    until(lambda: {"held": held(sqs, queue)}, lambda d: d["held"] == 0, timeout=10)


def peek(sqs, queue: str) -> list[str]:
    return [
        m["Body"]
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    ]


def held(sqs, queue: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def test_the_trigger_serializes_to_what_makes_it_again():
    trigger = OmicsEventTrigger(
        queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/omics-events",
        kind="read_set_import",
        statuses=["COMPLETED", "COMPLETED_WITH_FAILURES"],
        match={"sequenceStoreId": "1234567890"},
        aws_conn_id="omics",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_omics.triggers.omics.OmicsEventTrigger"
    again = OmicsEventTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs["connection"]["aws_conn_id"] == "omics"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "run_batch"}, "kind 'run_batch' is not one HealthOmics sends events for"),
        ({"kind": "run", "statuses": "DONE"}, "statuses: a run has no status 'DONE'"),
        ({"kind": "run", "match": {"workflowId": []}}, "match: 'workflowId' must name a field"),
        ({"kind": "run", "queue_url": "omics-events"}, "queue_url must be an SQS queue URL"),
    ],
)
def test_a_filter_with_a_mistake_fails_at_dag_parse_naming_it(arguments, message):
    with pytest.raises(ValueError, match=message):
        OmicsEventTrigger(**{"queue_url": "https://sqs.us-east-1.amazonaws.com/1/q", **arguments})


def test_the_sensor_returns_the_event_of_a_run_started_outside_airflow(start_runs, emulator, events_queue, run_dag):  # noqa: F811
    queue = events_queue()
    emulator.backend.step_seconds = 0.2
    [run_id] = start_runs(1)
    until(lambda: emulator.transitions("run", run_id)[-1], lambda t: t["status"] == "COMPLETED")

    _, tis = run_dag(
        f"""
        with DAG("test_dag", start_date=START, schedule=None) as dag:
            done = OmicsEventSensor(task_id="run_done", queue_url="{queue}", kind="run", match={{"workflowName": "wf"}})
        """
    )

    assert tis["run_done"].state == "success"
    payload = xcom(tis["run_done"])
    assert payload["ids"] == {"id": run_id} and payload["described"]["status"] == "COMPLETED"

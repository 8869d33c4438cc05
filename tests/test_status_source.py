"""Many waits in one triggerer: answered together by List sweeps, within the service's quotas, never wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter

import pytest
from conftest import ROLE_ARN
from tour import put_inputs, start_batch, workflow_zip
from waiting import status_in, until

from airflow_provider_omics.quotas import quotas_from_extra
from airflow_provider_omics.status_source import StatusSource
from airflow_provider_omics.triggers.omics import OmicsJobTrigger


@pytest.fixture
def start_runs(omics, emulator):
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))

    def start(count: int, prefix: str = "sample") -> list[str]:
        return [
            omics.start_run(
                workflowId=workflow["id"],
                roleArn=ROLE_ARN,
                name=f"{prefix}-{i}",
                outputUri="s3://genomics/runs/",
                requestId=f"{prefix}-{i}",
            )["id"]
            for i in range(count)
        ]

    return start


async def fire_all(triggers: list[OmicsJobTrigger], timeout: float = 120) -> list[tuple[dict, float]]:
    """Run the triggers together in this event loop, as a triggerer does: each one's event and when it came."""

    async def fire(trigger: OmicsJobTrigger) -> tuple[dict, float]:
        event = await anext(trigger.run())
        return event.payload, time.time()

    return await asyncio.wait_for(asyncio.gather(*(fire(t) for t in triggers)), timeout)


def run_waits(ids: list[str], delay: float) -> list[OmicsJobTrigger]:
    return [OmicsJobTrigger(kind="run", ids={"id": i}, waiter_delay=delay, waiter_max_attempts=1000) for i in ids]


def connect_with_quotas(emulator, monkeypatch, quotas: dict[str, float]) -> None:
    """``aws_default`` with the connection extra that sets the triggerer's own pace per operation."""
    extra = {**emulator.connection_extra(), "omics_quotas": quotas}
    connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def throttled(emulator) -> list[dict]:
    return [r for r in emulator.requests() if r["outcome"] == "ThrottlingException"]


async def test_many_run_waits_share_list_sweeps_within_the_quotas(start_runs, emulator):
    emulator.backend.step_seconds = 1.0  # runs of 3 s, polled every 0.5 s: 6 polls each one by one
    runs = start_runs(120)
    emulator.quotas.enabled = True

    events = await fire_all(run_waits(runs, delay=0.5))

    assert [payload["status"] for payload, _ in events] == ["success"] * 120
    assert all(payload["described"]["status"] == "COMPLETED" for payload, _ in events)
    counts = emulator.request_counts()
    # One GetRun per run to confirm its end and carry its describe output (plus a few in the first round,
    # which the first waits to arrive start alone: fewer jobs than a listing takes calls are described).
    assert 120 <= counts["GetRun"] <= 124
    assert counts["ListRuns"] < 120
    assert throttled(emulator) == []
    assert StatusSource._sources.get(asyncio.get_running_loop(), {}) == {}  # the client closed with the last wait


async def test_runs_moving_while_pages_are_read_are_never_missed_nor_ended_falsely(start_runs, emulator, omics):
    # Runs change status every 0.2 s while a sweep of several pages takes longer than that at 10 TPS.
    emulator.backend.step_seconds = 0.2
    emulator.add_outcome("run", "bad-*", "FAILED", failure_reason="OUT_OF_MEMORY", message="task align died")
    runs = start_runs(110) + start_runs(10, prefix="bad")
    emulator.quotas.enabled = True

    events = await fire_all(run_waits(runs, delay=0.3))

    ended = emulator.control.transitions("run")
    for run_id, (payload, fired_at) in zip(runs, events, strict=True):
        final = ended[run_id][-1]
        assert payload["job_status"] == final["status"]
        assert fired_at >= final["time"]  # never before the run really ended
    by_status = Counter(payload["job_status"] for payload, _ in events)
    assert by_status == {"COMPLETED": 110, "FAILED": 10}
    failed = [payload for payload, _ in events if payload["status"] == "failure"]
    assert all("OUT_OF_MEMORY: task align died" in payload["message"] for payload in failed)
    assert throttled(emulator) == []


async def test_read_set_import_waits_list_their_store(emulator, omics, s3):
    put_inputs(s3)
    store = omics.create_sequence_store(name="reads")["id"]
    until(lambda: omics.get_sequence_store(id=store), status_in("ACTIVE"))
    emulator.backend.step_seconds = 1.0
    source = {
        "sourceFiles": {"source1": "s3://genomics/reads/s1_R1.fastq"},
        "sourceFileType": "FASTQ",
        "subjectId": "p",
        "sampleId": "s1",
    }
    jobs = [
        omics.start_read_set_import_job(sequenceStoreId=store, roleArn=ROLE_ARN, sources=[source])["id"]
        for _ in range(30)
    ]
    emulator.quotas.enabled = True
    triggers = [
        OmicsJobTrigger(kind="read_set_import", ids={"sequenceStoreId": store, "id": job}, waiter_delay=0.5)
        for job in jobs
    ]

    events = await fire_all(triggers)

    assert {payload["job_status"] for payload, _ in events} == {"COMPLETED"}
    counts = emulator.request_counts()
    assert 30 <= counts["GetReadSetImportJob"] <= 33  # one per job to confirm its end (and a first few)
    assert 0 < counts["ListReadSetImportJobs"] < 30
    assert throttled(emulator) == []


async def test_analytics_import_waits_are_listed_twenty_ids_a_call(emulator, omics, s3, monkeypatch):
    put_inputs(s3)
    connect_with_quotas(emulator, monkeypatch, {"GetVariantImportJob": 50, "ListVariantImportJobs": 50})
    omics.create_variant_store(name="cohort", reference={"referenceArn": "arn:aws:omics:us-east-1:123456789012:x"})
    until(lambda: omics.get_variant_store(name="cohort"), status_in("ACTIVE"))
    emulator.backend.step_seconds = 0.5
    jobs = [
        omics.start_variant_import_job(
            destinationName="cohort", roleArn=ROLE_ARN, items=[{"source": "s3://genomics/variants/s1.vcf"}]
        )["jobId"]
        for _ in range(25)
    ]
    triggers = [OmicsJobTrigger(kind="variant_import", ids={"jobId": job}, waiter_delay=0.2) for job in jobs]

    events = await fire_all(triggers)

    assert {payload["job_status"] for payload, _ in events} == {"COMPLETED"}
    listed = [r for r in emulator.requests() if r["operation"] == "ListVariantImportJobs"]
    assert listed and emulator.request_counts()["GetVariantImportJob"] == 25


async def test_waits_on_the_runs_of_one_batch_list_that_batch_only(emulator, omics):
    # Steps long enough that the runs outlast the sweeps that learn their batch, however slow the machine.
    emulator.backend.step_seconds = 2
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    batch = start_batch(omics, workflow, 8)
    runs = until(lambda: omics.list_runs_in_batch(batchId=batch), lambda r: len(r["runs"]) == 8)["runs"]

    events = await fire_all(run_waits([r["runId"] for r in runs], delay=0.3))

    assert {payload["job_status"] for payload, _ in events} == {"COMPLETED"}
    listings = [r["query"] for r in emulator.requests() if r["operation"] == "ListRuns"]
    # Once a sweep has shown that every waited run is of one batch, the sweeps list that batch alone.
    assert any(f"batchId={batch}" in query for query in listings)
    assert "batchId" not in listings[0]


async def test_a_refused_listing_falls_back_to_describes_and_says_so(start_runs, emulator, caplog):
    emulator.backend.step_seconds = 0.3
    runs = start_runs(12)
    emulator.add_fault("ListRuns", "AccessDeniedException")

    with caplog.at_level(logging.WARNING, logger="airflow_provider_omics.status_source"):
        events = await fire_all(run_waits(runs, delay=0.2))

    assert {payload["job_status"] for payload, _ in events} == {"COMPLETED"}
    assert emulator.request_counts()["ListRuns"] == 1  # refused once, never asked again
    assert "ListRuns refused (AccessDeniedException)" in caplog.text


async def test_more_waits_than_the_quota_allows_stretch_their_polls_instead_of_throttling(
    start_runs, emulator, monkeypatch, caplog
):
    # With ListRuns refused each wait is one GetRun a round: 20 waits every 0.5 s would ask 40/s of a 4/s quota.
    emulator.backend.step_seconds = 0.5
    runs = start_runs(20)
    monkeypatch.setitem(emulator.quotas.rates, "GetRun", 4)
    connect_with_quotas(emulator, monkeypatch, {"GetRun": 4})
    emulator.add_fault("ListRuns", "AccessDeniedException")
    emulator.quotas.enabled = True

    with caplog.at_level(logging.WARNING, logger="airflow_provider_omics.status_source"):
        events = await fire_all(run_waits(runs, delay=0.5))

    assert {payload["job_status"] for payload, _ in events} == {"COMPLETED"}
    assert throttled(emulator) == []
    assert "20 run waits polled every 0.5s need more requests than the HealthOmics quotas allow" in caplog.text


async def test_a_cancelled_wait_leaves_the_others_waiting(start_runs, emulator):
    emulator.backend.step_seconds = 0.3
    runs = start_runs(10)
    triggers = run_waits(runs, delay=0.1)
    tasks = [asyncio.ensure_future(anext(t.run())) for t in triggers]
    await asyncio.sleep(0.3)
    tasks[0].cancel()

    done = await asyncio.wait_for(asyncio.gather(*tasks[1:]), 60)

    assert {event.payload["job_status"] for event in done} == {"COMPLETED"}
    assert tasks[0].cancelled()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"omics_quotas": {"GetRuns": 5}}, "'GetRuns' is not an omics operation"),
        ({"omics_quotas": {"GetRun": 0}}, "omics_quotas.GetRun: must be a number > 0, got 0"),
        ({"omics_quotas": [5]}, "must be an object of operation: requests per second"),
    ],
)
def test_quota_settings_with_a_mistake_are_refused_naming_it(extra, message):
    with pytest.raises(ValueError, match=message):
        quotas_from_extra(extra)
    paces = quotas_from_extra({"omics_quotas": {"GetRun": 2.5}})
    assert paces["GetRun"] == 2.5
    assert paces["ListRuns"] == 9  # by default, 90% of the documented 10 TPS

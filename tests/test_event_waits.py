"""Waits answered by HealthOmics' EventBridge events through an SQS queue: at once, whatever the delay, with the
polling rounds as a safety net; never fooled by duplicated, late or reordered events; one queue for several
triggerers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from test_status_source import fire_all, run_waits, start_runs  # noqa: F401  (a fixture)
from waiting import until

from airflow_provider_omics.errors import OmicsJobFailed
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.jobs import job_kind
from airflow_provider_omics.polling import WaitSettings

RUN = job_kind("run")


def ends(emulator, run_ids: list[str]) -> dict[str, dict]:
    """When and how each run ended: its last transition."""
    return {run_id: emulator.transitions("run", run_id)[-1] for run_id in run_ids}


def status_calls(emulator) -> int:
    counts = emulator.request_counts()
    return counts.get("GetRun", 0) + counts.get("ListRuns", 0)


def queue_depth(sqs, queue: str) -> int:
    """Messages on the queue, whether visible or held by a receiver."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


async def test_waits_end_on_their_runs_events_whatever_the_delay(start_runs, emulator, events_queue):  # noqa: F811
    events_queue(omics_events_safety_interval=600)
    emulator.backend.step_seconds = 0.5
    runs = start_runs(30)

    fired = await fire_all(run_waits(runs, delay=300), timeout=60)  # polling alone: the first end after 5 minutes

    ended = ends(emulator, runs)
    for run_id, (payload, fired_at) in zip(runs, fired, strict=True):
        assert payload["status"] == "ended"  # the task's describe says how, and fills the XCom
        assert payload["job_status"] == ended[run_id]["status"] == "COMPLETED"
        assert ended[run_id]["time"] <= fired_at < ended[run_id]["time"] + 2.5
    assert status_calls(emulator) < 15  # the first round's sweep, no per-run polls


def test_an_end_told_by_an_event_is_confirmed_by_the_tasks_describe_with_the_services_reason(
    start_runs,  # noqa: F811
    emulator,
):
    emulator.add_outcome("run", "sample-0", "FAILED", failure_reason="OUT_OF_MEMORY", message="task align died")
    [run_id] = start_runs(1)
    until(lambda: emulator.transitions("run", run_id)[-1], lambda t: t["status"] == "FAILED")
    settings = WaitSettings(delay=1, max_attempts=5)
    told = {
        "status": "ended",
        "job_status": "FAILED",
        "message": "",
        "described": {},
        "kind": "run",
        "ids": {"id": run_id},
    }

    with pytest.raises(OmicsJobFailed, match="OUT_OF_MEMORY: task align died"):
        OmicsHook().outcome(settings, RUN, told)

    [completed] = start_runs(1, prefix="good")
    until(lambda: emulator.transitions("run", completed)[-1], lambda t: t["status"] == "COMPLETED")
    described = OmicsHook().outcome(settings, RUN, {**told, "job_status": "COMPLETED", "ids": {"id": completed}})
    assert described[0]["status"] == "COMPLETED" and described[0]["runOutputUri"].startswith("s3://genomics/runs/")


async def test_a_failure_event_fails_the_wait_at_once(start_runs, emulator, events_queue):  # noqa: F811
    events_queue()
    emulator.backend.step_seconds = 0.5
    emulator.add_outcome("run", "bad-*", "FAILED", failure_reason="OUT_OF_MEMORY")
    runs = start_runs(2, prefix="bad")

    [(payload, fired_at)] = await fire_all(
        [run_waits(runs, delay=300)[0].__class__(kind="run", ids=[{"id": r} for r in runs], waiter_delay=300)]
    )

    assert payload["status"] == "ended" and payload["job_status"] == "FAILED"
    first_end = min(t["time"] for t in ends(emulator, runs).values())
    assert fired_at < first_end + 2.5


async def test_dropped_events_are_made_up_for_by_the_safety_poll(start_runs, emulator, events_queue):  # noqa: F811
    events_queue(omics_events_safety_interval=3)
    emulator.backend.step_seconds = 0.3
    emulator.set_event_delivery(drop=1.0)
    runs = start_runs(8)

    fired = await fire_all(run_waits(runs, delay=1), timeout=60)

    ended = ends(emulator, runs)
    for run_id, (payload, fired_at) in zip(runs, fired, strict=True):
        assert payload["status"] == "success"  # a poll saw it: its describe output is in the event
        assert payload["described"]["status"] == "COMPLETED"
        assert fired_at < ended[run_id]["time"] + 3 * 1.1 + 1  # within the safety interval (and its jitter)
    assert emulator.control.backend.delivery.state()["counts"]["dropped"] > 0


async def test_duplicated_late_and_reordered_events_change_nothing(start_runs, emulator, events_queue):  # noqa: F811
    events_queue(omics_events_safety_interval=600)
    emulator.backend.step_seconds = 0.3
    emulator.set_event_delivery(duplicate=0.5, reorder=0.5, delay=0.5)
    emulator.add_outcome("run", "bad-*", "CANCELLED")
    runs = start_runs(10) + start_runs(4, prefix="bad")

    fired = await fire_all(run_waits(runs, delay=300), timeout=60)

    ended = ends(emulator, runs)
    for run_id, (payload, fired_at) in zip(runs, fired, strict=True):
        assert payload["job_status"] == ended[run_id]["status"]  # the end, never an earlier status told late
        assert fired_at >= ended[run_id]["time"]
    counts = emulator.control.backend.delivery.state()["counts"]
    assert counts["duplicated"] > 0 and counts["reordered"] > 0


async def test_events_nobody_waits_for_are_released_then_expire(start_runs, emulator, events_queue):  # noqa: F811
    queue = events_queue(omics_events_safety_interval=4)
    sqs = emulator.client("sqs")
    emulator.backend.step_seconds = 0.2
    others = start_runs(5, prefix="console")  # started and watched by nobody here
    until(lambda: ends(emulator, others), lambda e: all(t["status"] == "COMPLETED" for t in e.values()))
    before_wait = queue_depth(sqs, queue)
    assert before_wait >= 5 * 5  # PENDING ... COMPLETED of each

    emulator.backend.step_seconds = 4  # one run of ours that takes longer than the events' expiry
    fired = await fire_all(run_waits(start_runs(1, prefix="ours"), delay=300), timeout=60)

    assert fired[0][0]["job_status"] == "COMPLETED"
    # Others' messages expired while ours were taken: nothing piles up. (The ends of our run's tasks, which nobody
    # here waits for, came as the wait ended: they stay for another triggerer until they expire.)
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    assert queue_depth(sqs, queue) < before_wait
    assert [m for m in left if '"console-' in m["Body"]] == []


THREE_TRIGGERERS = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from airflow_provider_omics.triggers.omics import OmicsJobTrigger

    async def main(run_ids):
        triggers = [OmicsJobTrigger(kind="run", ids={"id": i}, waiter_delay=300) for i in run_ids]
        async def fire(trigger):
            event = await anext(trigger.run())
            return {"id": trigger.ids["id"], "status": event.payload["job_status"], "at": time.time()}
        print("FIRED", json.dumps(await asyncio.gather(*(fire(t) for t in triggers))), flush=True)
        await asyncio.to_thread(sys.stdin.read)  # a triggerer goes on: stopped once every wait of the test ended

    asyncio.run(main(sys.argv[1:]))
    """
)


def fired_line(process: subprocess.Popen) -> str:
    for line in process.stdout:
        if line.startswith("FIRED "):
            return line.removeprefix("FIRED ")
    raise AssertionError(f"the triggerer ended with {process.wait()} before its waits did")


def test_three_triggerers_share_one_queue_and_lose_no_wait(start_runs, emulator, events_queue):  # noqa: F811
    events_queue(omics_events_safety_interval=600)
    emulator.backend.step_seconds = 2.0
    runs = start_runs(24)
    parts = [runs[i::3] for i in range(3)]

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", THREE_TRIGGERERS, *part],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for part in parts
    ]
    results = [json.loads(fired_line(process)) for process in processes]
    for process in processes:
        process.communicate(timeout=60)

    ended = ends(emulator, runs)
    fired = {result["id"]: result for part in results for result in part}
    assert sorted(fired) == sorted(runs)  # every wait ended, in the triggerer holding it
    late = sorted(round(fired[r]["at"] - ended[r]["time"], 1) for r in runs)
    assert all(fired[r]["status"] == "COMPLETED" for r in runs)
    assert late[-1] < 60, str(late)  # passed between triggerers, never left to the 10-minute safety poll


async def test_a_queue_that_cannot_be_read_puts_the_waits_back_on_polling(
    start_runs,  # noqa: F811
    emulator,
    events_queue,
    monkeypatch,
    caplog,
):
    events_queue()  # the rule, and a connection whose queue is then replaced by one that does not exist
    extra = {**emulator.connection_extra(), "omics_events_queue": f"{emulator.endpoint_url}/123456789012/missing"}
    connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    emulator.backend.step_seconds = 0.3
    runs = start_runs(3)

    fired = await fire_all(run_waits(runs, delay=1), timeout=60)

    assert [payload["status"] for payload, _ in fired] == ["success"] * 3  # polled, at their delay
    assert "Cannot read HealthOmics events from" in caplog.text and "omics_events_queue" in caplog.text

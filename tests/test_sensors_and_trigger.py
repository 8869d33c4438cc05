"""Sensors in poke, reschedule and deferrable modes; the trigger through the triggerer's own code."""

from __future__ import annotations

import importlib

import pytest
from conftest import ROLE_ARN, xcom
from tour import workflow_zip
from waiting import status_in, until

from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS
from airflow_provider_omics.sensors.omics import OmicsRunSensor
from airflow_provider_omics.status_source import JITTER
from airflow_provider_omics.triggers.omics import OmicsJobTrigger


@pytest.fixture
def run_id(omics, emulator):
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    return lambda name="sample": omics.start_run(
        workflowId=workflow["id"], roleArn=ROLE_ARN, name=name, outputUri="s3://genomics/runs/", requestId=name
    )["id"]


SENSOR = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    OmicsRunSensor(task_id="wait", id="{run_id}", poke_interval=0.05, timeout=60, mode="{mode}",
                   deferrable={deferrable})
"""


@pytest.mark.parametrize(
    ("mode", "deferrable"),
    [("poke", False), ("reschedule", False), ("poke", True)],
    ids=["poke", "reschedule", "deferrable"],
)
def test_run_sensor_succeeds_with_the_run_in_xcom(run_dag, run_id, mode, deferrable):
    started = run_id()
    _, tis = run_dag(SENSOR.format(run_id=started, mode=mode, deferrable=deferrable))
    assert tis["wait"].state == "success"
    assert xcom(tis["wait"])["status"] == "COMPLETED"


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_sensor_fails_at_once_on_a_failed_run(run_dag, run_id, emulator, output, deferrable):
    emulator.add_outcome("run", "doomed", "FAILED", failure_reason="SERVICE_ERROR", message="host lost")
    started = run_id("doomed")
    _, tis = run_dag(SENSOR.format(run_id=started, mode="poke", deferrable=deferrable))
    assert tis["wait"].state == "failed"
    shown = output()
    assert "ended FAILED: SERVICE_ERROR: host lost" in shown
    assert "1 failed task(s):\n- task align (" in shown  # the sensor says why, as the operator does


def test_generic_sensor_takes_any_kind_and_its_ids(run_dag, run_id, omics):
    started = run_id()
    until(lambda: omics.get_run(id=started), status_in("COMPLETED"))
    task = omics.list_run_tasks(id=started)["items"][0]["taskId"]
    # taskId would clash with Airflow's own task_id: ids can also be given as the API names them.
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsJobSensor(task_id="wait", kind="run_task", ids={{"id": "{started}", "taskId": "{task}"}},
                       poke_interval=0.05, timeout=30)
    """)
    assert tis["wait"].state == "success"
    assert xcom(tis["wait"])["taskId"] == task


def _round_trip(trigger: OmicsJobTrigger) -> OmicsJobTrigger:
    """What the triggerer does: encrypt the kwargs into the trigger row, decrypt and decode them, build the class."""
    from airflow.models.trigger import Trigger

    classpath, kwargs = trigger.serialize()
    row = Trigger(classpath=classpath, kwargs=kwargs)
    if AIRFLOW_V_3_0_PLUS:
        try:
            from airflow.serialization.decoders import smart_decode_trigger_kwargs
        except ImportError:  # Airflow 3.0 - 3.2
            from airflow.serialization.serialized_objects import smart_decode_trigger_kwargs
        decoded = {k: smart_decode_trigger_kwargs(v) for k, v in Trigger._decrypt_kwargs(row.encrypted_kwargs).items()}
    else:  # Airflow 2: the row decodes its own kwargs
        decoded = row.kwargs
    module, _, name = row.classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**decoded)


async def test_trigger_survives_serialization_with_every_connection_setting(run_id, emulator):
    trigger = OmicsJobTrigger(
        kind="run",
        ids={"id": run_id()},
        waiter_delay=0.05,
        waiter_max_attempts=500,
        aws_conn_id="aws_default",
        region_name="us-east-1",
        verify=False,
        botocore_config={"read_timeout": 30, "inject_host_prefix": False},
    )
    rebuilt = _round_trip(trigger)
    assert rebuilt.serialize() == trigger.serialize()
    event = await anext(rebuilt.run())
    assert event.payload["status"] == "success" and event.payload["job_status"] == "COMPLETED"
    assert event.payload["described"]["runOutputUri"].startswith("s3://genomics/runs/")


async def test_throttled_polls_back_off_and_never_fail_the_wait(run_id, emulator):
    started = run_id()
    emulator.add_fault("GetRun", "ThrottlingException", count=20)
    trigger = _round_trip(OmicsJobTrigger(kind="run", ids={"id": started}, waiter_delay=0.01, waiter_max_attempts=500))
    trigger.hook = lambda: __import__("airflow_provider_omics.hooks.omics", fromlist=["OmicsHook"]).OmicsHook(
        aws_conn_id="aws_default", max_attempts=3, retry_max_wait=0.01
    )
    event = await anext(trigger.run())
    assert event.payload["status"] == "success"
    assert emulator.request_counts()["GetRun"] > 20


async def test_trigger_on_kill_cancels_the_run(run_id, emulator, omics):
    emulator.backend.step_seconds = 5
    started = run_id()
    trigger = _round_trip(OmicsJobTrigger(kind="run", ids={"id": started}, waiter_delay=0.05))
    await trigger.on_kill()
    assert omics.get_run(id=started)["status"] in ("STOPPING", "CANCELLED")
    assert emulator.request_counts()["CancelRun"] == 1


@pytest.mark.parametrize(
    ("mode", "deferrable"),
    [
        ("poke", False),
        pytest.param(
            "reschedule",
            False,
            marks=pytest.mark.xfail(
                AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_1_PLUS,
                reason="Airflow 3.0's dag.test() hands a rescheduled sensor its first start date as a string",
                strict=True,
            ),
        ),
        ("poke", True),
    ],
    ids=["poke", "reschedule", "deferrable"],
)
def test_every_mode_rides_out_throttling_with_the_same_result(run_dag, run_id, emulator, mode, deferrable):
    # Ten refusals in a row: more than one call's retries (8) would take. No mode may fail on them.
    started = run_id()
    emulator.add_fault("GetRun", "ThrottlingException", count=10)
    _, tis = run_dag(SENSOR.format(run_id=started, mode=mode, deferrable=deferrable))
    assert tis["wait"].state == "success"
    assert xcom(tis["wait"])["status"] == "COMPLETED"
    assert emulator.request_counts()["GetRun"] > 10


async def test_a_throttled_trigger_poll_is_one_request_not_a_burst(run_id, emulator):
    started = run_id()
    emulator.add_fault("GetRun", "ThrottlingException", count=6)
    trigger = _round_trip(OmicsJobTrigger(kind="run", ids={"id": started}, waiter_delay=0.02, waiter_max_attempts=500))
    event = await anext(trigger.run())
    assert event.payload["status"] == "success"
    times = [r["time"] for r in emulator.requests() if r["operation"] == "GetRun"]
    # Polls come at the delay (jittered by up to 10%), throttled or not: never a burst of retries. Measured
    # over all polls, as the emulator records each when it has answered (one answer delayed under load
    # brings it closer to the next).
    assert len(times) >= 7 and times[-1] - times[0] >= (len(times) - 1) * 0.02 * (1 - JITTER) * 0.9


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 2 triggers read the database; Airflow 3 ones ask the API")
@pytest.mark.parametrize(
    ("state", "cancelled"), [("failed", True), ("success", True), ("deferred", False), (None, False)]
)
async def test_before_airflow_3_3_cleanup_cancels_only_when_a_user_ended_the_task(
    run_dag, run_id, emulator, omics, state, cancelled
):
    # A real task instance row, then the state a user's action (or none) leaves it in.
    from airflow.utils.session import create_session

    _, tis = run_dag("""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsRunSensor(task_id="wait", id="1234567", poke_interval=0.05, timeout=0.01, soft_fail=True)
    """)
    ti = tis["wait"]
    with create_session() as session:
        session.merge(ti).state = state
    emulator.backend.step_seconds = 5
    started = run_id()
    trigger = _round_trip(OmicsJobTrigger(kind="run", ids={"id": started}, waiter_delay=0.05))
    trigger.task_instance = ti
    await trigger.cleanup()  # what the triggerer calls on every exit of a trigger
    assert (emulator.request_counts().get("CancelRun") == 1) is cancelled


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"log_lines": 0}, "log_lines must be an integer from 1 to 10000, got 0"),
        ({"include_logs": "no"}, "True or False"),
    ],
)
def test_a_sensor_checks_its_report_settings_at_parse(argument, message):
    with pytest.raises(ValueError, match=message):
        OmicsRunSensor(task_id="wait", id="1234567", **argument)

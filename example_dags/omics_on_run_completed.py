"""Right-size every run of a workflow that completes, whoever started it: a DAG started by HealthOmics' own events.

A run started from the console, a Lambda or another Airflow sends a ``Run Status Change`` event when it completes; an
EventBridge rule puts it on an SQS queue (``docs/eventbridge/``: its ``DagEventsQueueUrl`` output). On Airflow 3
this DAG is scheduled on an Asset whose watcher reads that queue: one DAG run per completed run, with no sensor and
no polling. On Airflow 2.11 it runs continuously, its first task a deferred sensor waiting for the next completed
run. Either way the run's tasks are right-sized and the recommended runtime written beside its outputs.

  OMICS_DAG_EVENTS_QUEUE  the queue's URL
  OMICS_WORKFLOW_NAME     only runs of this workflow (default: variant-calling)
"""

from __future__ import annotations

import os

import pendulum

from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS, DAG, get_current_context, task
from airflow_provider_omics.lineage import triggering_payloads
from airflow_provider_omics.operators.right_sizing import OmicsAnalyzeRunsOperator
from airflow_provider_omics.sensors.omics import OmicsEventSensor
from airflow_provider_omics.triggers.omics import OmicsEventTrigger

QUEUE = os.environ.get("OMICS_DAG_EVENTS_QUEUE", "https://sqs.us-east-1.amazonaws.com/123456789012/omics-dag-events")
WORKFLOW_NAME = os.environ.get("OMICS_WORKFLOW_NAME", "variant-calling")
START = pendulum.datetime(2026, 12, 1, tz="UTC")

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import Asset, AssetWatcher

    # [START howto_asset_watcher]
    RUNS_COMPLETED = Asset(
        "omics_runs_completed",
        watchers=[
            AssetWatcher(
                name="omics_runs_completed",
                trigger=OmicsEventTrigger(queue_url=QUEUE, kind="run", match={"workflowName": WORKFLOW_NAME}),
            )
        ],
    )

    with DAG("omics_on_run_completed", schedule=[RUNS_COMPLETED], start_date=START, catchup=False) as dag:

        @task
        def completed_runs() -> list[str]:
            """The run of each event that started this DAG run."""
            return [event["ids"]["id"] for event in triggering_payloads(get_current_context(), RUNS_COMPLETED.uri)]

        OmicsAnalyzeRunsOperator(task_id="right_size", run_ids=completed_runs(), pictures=False, write_config=True)
    # [END howto_asset_watcher]

else:
    # [START howto_event_sensor]
    with DAG(
        "omics_on_run_completed", schedule="@continuous", max_active_runs=1, start_date=START, catchup=False
    ) as dag:
        completed = OmicsEventSensor(
            task_id="run_completed", queue_url=QUEUE, kind="run", match={"workflowName": WORKFLOW_NAME}
        )
        right_size = OmicsAnalyzeRunsOperator(
            task_id="right_size",
            run_ids="{{ ti.xcom_pull(task_ids='run_completed')['ids']['id'] }}",
            pictures=False,
            write_config=True,
        )
        completed >> right_size
    # [END howto_event_sensor]

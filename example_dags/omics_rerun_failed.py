"""Re-run the failed runs of a run group, with a run cache so finished tasks are not computed again.

Trigger it with ``{"run_group_id": "1234567"}``. Each failed run is repeated with its own settings
(``StartRun`` with ``runId``), one mapped task per run, into the same run group. Each re-run keeps its
finished tasks in the cache if it fails (``retry_with_cache``: ``CACHE_ON_FAILURE``), so the task's
retry starts where it failed instead of from the beginning.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum

from airflow_provider_omics.compat import DAG, Param, task
from airflow_provider_omics.operators.workflows import (
    OmicsCreateRunCacheOperator,
    OmicsListRunsOperator,
    OmicsStartRunOperator,
)

BUCKET = os.environ.get("OMICS_DEMO_BUCKET", "omics-demo")
WAIT: dict[str, Any] = {"deferrable": True, "waiter_delay": float(os.environ.get("OMICS_WAITER_DELAY", "30"))}


@task
def rerun_settings(failed: list[dict]) -> list[dict]:
    return [{"run_id": run["id"], "name": f"{run.get('name') or run['id']}-rerun"} for run in failed]


with DAG(
    dag_id="omics_rerun_failed",
    description="Re-run the failed runs of a run group, with a run cache",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"run_group_id": Param("", type="string", description="the run group to repair")},
    tags=["omics", "example"],
) as dag:
    failed = OmicsListRunsOperator(task_id="failed_runs", run_group_id="{{ params.run_group_id }}", status="FAILED")
    cache = OmicsCreateRunCacheOperator(
        task_id="run_cache", name="rerun-cache", cache_s3_location=f"s3://{BUCKET}/run-cache/", **WAIT
    )
    OmicsStartRunOperator.partial(
        task_id="rerun",
        run_group_id="{{ params.run_group_id }}",
        cache_id=cache.output["id"],
        retry_with_cache=True,
        retries=2,
        **WAIT,
    ).expand_kwargs(rerun_settings(failed.output))

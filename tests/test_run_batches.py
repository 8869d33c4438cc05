"""Run batches at the service's scale: submitted at the StartRun rate, a plate over the inline limit written to S3,
an XCom that stays small."""

from __future__ import annotations

import json

from conftest import xcom


def test_a_plate_over_the_inline_limit_goes_through_s3_and_the_xcom_stays_small(run_dag, emulator, s3, omics):
    from tour import put_inputs, workflow_zip

    put_inputs(s3)
    emulator.quotas.enabled = True
    emulator.quotas.rates["StartRun"] = 60.0  # raised, as an account asks AWS: the service's default is 1 a second
    emulator.add_outcome("run", "sample-*7", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR", count=2)
    try:
        _, tis = run_dag(f"""
    from airflow_provider_omics.compat import task

    @task
    def plate():
        return [{{"runSettingId": f"s{{i:03d}}", "name": f"sample-{{i:03d}}"}} for i in range(150)]

    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(task_id="workflow", name="w", definition_zip={workflow_zip()!r},
                                               waiter_delay=0.05)
        OmicsStartRunBatchOperator(
            task_id="batch", batch_name="plate", waiter_delay=0.2, fail_on_partial_success=False,
            default_run_setting={{"workflowId": workflow.output["id"], "roleArn": ROLE,
                                  "outputUri": "s3://genomics/plate/"}},
            batch_run_settings=plate())
    """)
    finally:
        emulator.quotas.rates["StartRun"] = 1.0
    done = xcom(tis["batch"])
    assert tis["batch"].state == "success"
    assert done["runCounts"] == {"COMPLETED": 148, "FAILED": 2} and "runs" not in done
    assert {s["runId"] for s in done["failedRuns"].values()} and all(
        s["failureReason"] == "OUT_OF_MEMORY_ERROR" for s in done["failedRuns"].values()
    )
    settings_key = s3.list_objects_v2(Bucket="genomics", Prefix="plate/batch-settings/")["Contents"]
    written = sorted(o["Key"] for o in settings_key)
    assert len(written) == 2 and written[0] == written[1].removesuffix(".json") + "-runs.json"
    assert done["runsUri"] == f"s3://genomics/{written[0]}"
    runs = json.loads(s3.get_object(Bucket="genomics", Key=written[0])["Body"].read())
    assert len(runs) == 150 and runs["s000"]["status"] == "COMPLETED"
    assert len(json.dumps(done)) < 4_000
    # Submitted at the StartRun rate, not all at once: 150 runs at 60 a second over about 2.5 s.
    created = sorted(omics.get_run(id=r["runId"])["creationTime"] for r in list(runs.values())[::30])
    assert (created[-1] - created[0]).total_seconds() >= 1.5

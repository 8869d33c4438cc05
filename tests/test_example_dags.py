"""The example DAGs, end to end in Airflow against the emulator: what a new user runs first."""

from __future__ import annotations

import re
import subprocess
import sys

import pendulum
import pytest
from airflow.models.taskinstance import clear_task_instances
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
from airflow.utils.session import create_session
from conftest import BUCKET, EXAMPLES, dag_test_kwargs, instances, states, xcom
from openlineage_check import by_task, check_event, names

from airflow_provider_omics import lineage
from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS


@pytest.mark.slow
def test_genomics_pipeline_from_reads_to_variants(example, emulator, omics, s3, openlineage_events):
    dag = enable_lineage(example("omics_genomics_pipeline"))
    when = pendulum.datetime(2026, 11, 20, tz="UTC")
    dag_run = dag.test(**dag_test_kwargs(when))
    assert set(states(dag_run).values()) == {"success"}, states(dag_run)
    tis = instances(dag_run)
    pipeline_lineage(openlineage_events("omics_genomics_pipeline"), tis)

    store_id = xcom(tis["ingest.sequence_store"])["id"]
    read_sets = omics.list_read_sets(sequenceStoreId=store_id)["readSets"]
    assert sorted(r["sampleId"] for r in read_sets) == ["NA12878", "NA12891", "NA12892"]

    runs = [xcom(tis[f"analysis.call_variants[{i}]"]) for i in range(3)]
    reads = {r["sampleId"]: omics.get_read_set_metadata(sequenceStoreId=store_id, id=r["id"]) for r in read_sets}
    for run in runs:
        assert run["status"] == "COMPLETED"
        sample = run["parameters"]["sample_name"]
        # The reads went in by the read set's S3 access URI.
        assert run["parameters"]["reads_1"] == reads[sample]["files"]["source1"]["s3Access"]["s3Uri"]
        key = f"runs/{run['id']}/out/call_variants/{sample}.vcf"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().startswith(b"##fileformat=VCF")

    exported = s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["Contents"]
    assert len(exported) == 6  # two FASTQ files per read set
    assert xcom(tis["export.import_variants"])["status"] == "COMPLETED"
    assert len(xcom(tis["export.import_variants"])["items"]) == 3
    assert xcom(tis["export.import_annotations"])["status"] == "COMPLETED"

    # The same DAG run again (a retry, or a backfill of the same date): every job is found again.
    def jobs() -> dict[str, int]:
        return {
            "sequence stores": len(omics.list_sequence_stores()["sequenceStores"]),
            "workflows": len(omics.list_workflows()["items"]),
            "read-set imports": len(omics.list_read_set_import_jobs(sequenceStoreId=store_id)["importJobs"]),
            "exports": len(omics.list_read_set_export_jobs(sequenceStoreId=store_id)["exportJobs"]),
            "runs": len(omics.list_runs()["items"]),
            "variant imports": len(omics.list_variant_import_jobs()["variantImportJobs"]),
            "annotation imports": len(omics.list_annotation_import_jobs()["annotationImportJobs"]),
        }

    before = jobs()
    with create_session() as session:
        clear_task_instances(dag_run.get_task_instances(session=session), session)
    again = dag.test(**dag_test_kwargs(when))
    assert again.run_id == dag_run.run_id and set(states(again).values()) == {"success"}
    assert jobs() == before


@pytest.mark.slow
@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="test_docs.py runs it on the newest Airflow, as the guide does")
def test_the_getting_started_dag_takes_a_sequencer_folder_to_variant_calls(example, omics, s3):
    dag = example("omics_sequencer_to_results")
    dag_run = dag.test(**dag_test_kwargs())
    assert set(states(dag_run).values()) == {"success"}, states(dag_run)
    tis = instances(dag_run)
    samples = ["NA12878", "NA12891", "NA12892", "NA24385"]
    store_id = xcom(tis["sequence_store"])["id"]
    assert sorted(r["sampleId"] for r in omics.list_read_sets(sequenceStoreId=store_id)["readSets"]) == samples
    calls = xcom(tis["variant_calls"])
    assert sorted(calls) == samples
    for uri in calls.values():
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().startswith(b"##fileformat=VCF")
    sizing = xcom(tis["right_size"])
    assert set(sizing["recommendations"]) == {"align", "call_variants"} and sizing["totals"]["runs"] == 4


def pipeline_lineage(events: list[dict], tis: dict) -> None:
    """Every task of the pipeline reports valid OpenLineage events naming what it read and wrote."""
    for event in events:
        check_event(event)
    tasks = by_task(events, "omics_genomics_pipeline")
    assert set(tasks) == set(tis) and all(set(seen) == {"START", "COMPLETE"} for seen in tasks.values())

    def complete(task: str) -> tuple[set[str], set[str]]:
        event = tasks[task]["COMPLETE"]
        return names(event["inputs"]), names(event["outputs"])

    store = xcom(tis["ingest.sequence_store"])
    imported = xcom(tis["ingest.import_reads"])["sources"]
    read_sets = {lineage.of_arn(f"{store['arn']}/readSet/{source['readSetId']}").uri for source in imported}
    inputs, outputs = complete("ingest.import_reads")
    assert len(inputs) == 6 and all(uri.startswith(f"s3://{BUCKET}/inputs/reads/") for uri in inputs)
    assert outputs == read_sets
    assert all(
        uri.startswith(f"omics://123456789012.storage.us-east-1.amazonaws.com/{store['id']}/readSet/")
        for uri in read_sets
    )
    for index in range(3):
        run = xcom(tis[f"analysis.call_variants[{index}]"])
        inputs, outputs = complete(f"analysis.call_variants[{index}]")
        assert lineage.of_uri(run["parameters"]["reference"]).uri in inputs  # the reference, by omics:// URI
        assert f"s3://{BUCKET}/runs/{run['id']}/out/call_variants/{run['parameters']['sample_name']}.vcf" in outputs
    assert complete("export.export_reads")[0] == read_sets
    assert complete("export.import_variants")[1] == {xcom(tis["export.variant_store"])["storeArn"]}


@pytest.mark.slow
def test_rerun_failed_repeats_only_the_failed_runs_with_a_cache(example, emulator, omics):
    from conftest import ROLE_ARN
    from tour import workflow_zip
    from waiting import status_in, until

    group = omics.create_run_group(name="cohort", requestId="cohort")["id"]
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    emulator.add_outcome("run", "flaky-2", "FAILED", failure_reason="SERVICE_ERROR", message="instance lost")
    for name in ("good-1", "flaky-2", "good-3"):
        run = omics.start_run(
            workflowId=workflow,
            roleArn=ROLE_ARN,
            name=name,
            runGroupId=group,
            outputUri="s3://omics-demo/runs/",
            requestId=name,
        )
        until(lambda run=run: omics.get_run(id=run["id"]), status_in("COMPLETED", "FAILED"))
    failed_id = omics.list_runs(runGroupId=group, status="FAILED")["items"][0]["id"]

    dag_run = example("omics_rerun_failed").test(run_conf={"run_group_id": group})
    assert set(states(dag_run).values()) == {"success"}, states(dag_run)
    reruns = [r for r in omics.list_runs(runGroupId=group)["items"] if r["name"].endswith("-rerun")]
    assert [r["name"] for r in reruns] == ["flaky-2-rerun"]
    rerun = omics.get_run(id=reruns[0]["id"])
    assert (rerun["status"], rerun["runId"], rerun["cacheBehavior"]) == ("COMPLETED", failed_id, "CACHE_ON_FAILURE")
    assert rerun["cacheId"]


@pytest.mark.slow
def test_daily_ingest_is_idempotent_per_logical_date(example, emulator, omics, s3, monkeypatch):
    store = omics.create_sequence_store(name="daily")["id"]
    monkeypatch.setenv("OMICS_SEQUENCE_STORE_ID", store)
    for sample in ("NA12878", "NA12891", "NA12892"):
        for mate in (1, 2):
            body = (EXAMPLES / "data" / "reads" / f"{sample}_R{mate}.fastq").read_bytes()
            s3.put_object(Bucket=BUCKET, Key=f"incoming/2026-11-02/{sample}_R{mate}.fastq", Body=body)
    example("omics_daily_ingest")

    # `airflow dags test` makes a new DAG run (manual__<now>) each time: the logical date is what they share.
    run_ids = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", "omics_daily_ingest", "2026-11-02"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        run_ids += re.findall(r"run_id=(manual__[^,\s]+)", done.stdout + done.stderr)[:1]
    # Airflow 3 makes a new DAG run each time; Airflow 2 names it after the date (manual__2026-11-02T00:00:00).
    assert len(set(run_ids)) == (2 if AIRFLOW_V_3_0_PLUS else 1)
    assert emulator.request_counts()["StartReadSetImportJob"] == 2  # asked twice, one job
    assert len(omics.list_read_set_import_jobs(sequenceStoreId=store)["importJobs"]) == 1
    read_sets = omics.list_read_sets(sequenceStoreId=store)["readSets"]
    assert sorted(r["name"] for r in read_sets) == ["NA12878-2026-11-02", "NA12891-2026-11-02", "NA12892-2026-11-02"]
    assert "Reusing read-set import job" in done.stdout + done.stderr


@pytest.mark.slow
def test_a_plate_of_any_size_is_checked_then_run_as_one_batch(example, emulator, s3):
    """The plates how-to's DAG: 120 samples, over the inline limit, checked, then one batch through S3."""
    samples = [f"S{i:03d}" for i in range(120)]
    for sample in samples:
        for end in ("R1", "R2"):
            s3.put_object(Bucket=BUCKET, Key=f"inputs/plate/{sample}_{end}.fastq", Body=b"@r\nACGT\n+\nIIII\n")
    emulator.add_outcome("run", "calling-S007", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR")
    dag_run = example("omics_large_plate").test(**dag_test_kwargs())
    assert set(states(dag_run).values()) == {"success"}, states(dag_run)
    tis = instances(dag_run)
    assert xcom(tis["check"])["passed"] is True
    batch = xcom(tis["batch"])
    assert batch["runCounts"] == {"COMPLETED": 119, "FAILED": 1} and "runs" not in batch
    assert batch["runsUri"].startswith(f"s3://{BUCKET}/plate-runs/batch-settings/")
    assert xcom(tis["reruns"]) == ["S007"]

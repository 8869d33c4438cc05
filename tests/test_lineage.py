"""Lineage and Assets: every operator's OpenLineage events, checked against the spec, and its Asset events.

The OpenLineage provider runs as users run it (its listener in the task runner, a file transport);
``tests/openlineage_check.py`` checks each recorded event. The example pipeline's events are checked in
``test_example_dags.py``; this DAG covers every other operator, a failed run and the private switch.
"""

from __future__ import annotations

import json

import pytest
from conftest import xcom
from openlineage_check import by_task, check_event, names
from tour import FASTA, FASTQ_1, FASTQ_2, WDL

from airflow_provider_omics import lineage
from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS

ACCOUNT, REGION = "123456789012", "us-east-1"
STORAGE = f"omics://{ACCOUNT}.storage.{REGION}.amazonaws.com"
OMICS_ARN = f"arn:aws:omics:{REGION}:{ACCOUNT}"


# ---- the naming scheme --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "namespace", "name", "uri"),
    [
        ("s3://genomics/runs/123/out/a.vcf", "s3://genomics", "runs/123/out/a.vcf", "s3://genomics/runs/123/out/a.vcf"),
        ("s3://genomics/exports/", "s3://genomics", "exports", "s3://genomics/exports"),
        ("s3://genomics", "s3://genomics", "/", "s3://genomics/"),
        (f"{STORAGE}/1234567890/readSet/42/source1", STORAGE, "1234567890/readSet/42/source1", None),
        (f"{OMICS_ARN}:sequenceStore/1234567890/readSet/42", STORAGE, "1234567890/readSet/42", None),
        (f"{OMICS_ARN}:referenceStore/7/reference/8", STORAGE, "7/reference/8", f"{STORAGE}/7/reference/8"),
        (f"{OMICS_ARN}:workflow/555", OMICS_ARN, "workflow/555", f"{OMICS_ARN}:workflow/555"),
        (f"{OMICS_ARN}:variantStore/cohort", OMICS_ARN, "variantStore/cohort", f"{OMICS_ARN}:variantStore/cohort"),
        ("/data/in/s1.fastq", "file", "/data/in/s1.fastq", "file:///data/in/s1.fastq"),
    ],
)
def test_one_naming_scheme_for_datasets_and_assets(value, namespace, name, uri):
    dataset = lineage.of_uri(value)
    assert dataset == (namespace, name)
    assert dataset.uri == (uri or value.replace(f"{OMICS_ARN}:sequenceStore/", f"{STORAGE}/"))


def test_collections_to_schedule_on_are_named_from_arns():
    assert lineage.read_sets_in(f"{OMICS_ARN}:sequenceStore/1234567890") == f"{STORAGE}/1234567890/readSet"
    assert lineage.references_in(f"{OMICS_ARN}:referenceStore/7") == f"{STORAGE}/7/reference"
    assert lineage.run_outputs_of(f"{OMICS_ARN}:workflow/555") == f"{OMICS_ARN}:workflow/555"
    with pytest.raises(ValueError, match="not the ARN of a sequenceStore"):
        lineage.read_sets_in(f"{OMICS_ARN}:referenceStore/7")
    with pytest.raises(ValueError, match="not the ARN of a workflow"):
        lineage.run_outputs_of("s3://genomics/runs/")


def test_private_details_are_left_out_unless_switched_on():
    run = {"id": "1", "name": "NA12878-calling", "status": "COMPLETED", "parameters": {"sample": "NA12878"}}
    imported = {"sources": [{"sampleId": "NA12878", "subjectId": "P-7", "readSetId": "9"}], "status": "COMPLETED"}
    for kind, result in [("run", run), ("read_set_import", imported)]:
        kept = lineage.details(kind, {"id": "1"}, result, private=False)
        assert "NA12878" not in json.dumps(kept) and "private" not in kept
        assert "NA12878" not in json.dumps(lineage.asset_extra(kind, {"id": "1"}, result, private=False))
        assert "NA12878" in json.dumps(lineage.details(kind, {"id": "1"}, result, private=True)["private"])
    assert lineage.details("run", {"id": "1"}, run, private=True)["private"]["parameters"] == {"sample": "NA12878"}


# ---- every operator in Airflow -------------------------------------------------------------------------
def asset_events(dag_run) -> dict[str, list[tuple[str, dict]]]:
    """The Asset (Dataset) events each task of a DAG run produced: (URI, extra)."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetEvent as Event
    else:
        from airflow.models.dataset import DatasetEvent as Event
    found: dict[str, list[tuple[str, dict]]] = {}
    with create_session() as session:
        for event in session.query(Event).filter(Event.source_run_id == dag_run.run_id):
            target = event.asset if AIRFLOW_V_3_0_PLUS else event.dataset
            found.setdefault(event.source_task_id, []).append((target.uri, dict(event.extra or {})))
    return found


EVERY_OTHER_OPERATOR = """
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
W = {{"waiter_delay": 0.05}}
with DAG("lineage_tour", schedule=None, start_date=START) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="store", name="lineage", **W)
    upload = OmicsUploadReadSetOperator(
        task_id="upload", sequence_store_id=store.output["id"], source1="{folder}/s1_R1.fastq",
        source2="{folder}/s1_R2.fastq", source_file_type="FASTQ", subject_id="P-7", sample_id="NA24385",
        name="NA24385", **W)
    OmicsDownloadReadSetOperator(
        task_id="download", sequence_store_id=store.output["id"], read_set_id=upload.output["id"],
        destination="{folder}/back/")
    references = OmicsCreateReferenceStoreOperator(task_id="references", name="refs")
    reference = OmicsStartReferenceImportJobOperator(
        task_id="reference", reference_store_id=references.output["id"], role_arn=ROLE,
        sources=[{{"sourceFile": "s3://genomics/ref/chr1.fa", "name": "chr1"}}], **W)
    reference >> OmicsDownloadReferenceOperator(
        task_id="reference_download", reference_store_id=references.output["id"],
        reference_id="{{{{ ti.xcom_pull('reference')['sources'][0]['referenceId'] }}}}", destination="{folder}/ref/")
    workflow = OmicsCreateWorkflowOperator(task_id="workflow", name="calling", definition_path="{wdl}", **W)
    OmicsCreateWorkflowVersionOperator(
        task_id="version", workflow_id=workflow.output["id"], version_name="v2", definition_path="{wdl}", **W)
    group = OmicsCreateRunGroupOperator(task_id="group", name="plate-1", max_cpus=64)
    cache = OmicsCreateRunCacheOperator(task_id="cache", cache_s3_location="s3://genomics/cache/", **W)
    run = OmicsStartRunOperator(
        task_id="run", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        name="NA24385-calling", run_group_id=group.output["id"], cache_id=cache.output["id"], analyze=False,
        parameters={{"sample_name": "NA24385",
                     "reads": "{{{{ ti.xcom_pull('upload')['files']['source1']['s3Access']['s3Uri'] }}}}"}},
        **W)
    upload >> run
    run >> OmicsListRunsOperator(task_id="list", run_group_id=group.output["id"])
    OmicsStartRunBatchOperator(
        task_id="batch", batch_name="plate",
        default_run_setting={{"workflowId": workflow.output["id"], "roleArn": ROLE,
                              "outputUri": "s3://genomics/batch/"}},
        batch_run_settings={{"inlineSettings": [{{"runSettingId": "a", "name": "a"}}, {{"runSettingId": "b"}}]}},
        **W)
    doomed = OmicsStartRunOperator(
        task_id="doomed", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        name="doomed-s1", parameters={{"reads": "s3://genomics/reads/s1_R1.fastq"}}, include_logs=False, **W)
    long = OmicsStartRunOperator(
        task_id="long", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        name="long-s1", wait_for_completion=False)
    OmicsCancelRunOperator(task_id="cancel", run_id=long.output["id"], waiter_delay=0.05)
    offer = OmicsCreateShareOperator(
        task_id="offer", resource_arn=workflow.output["arn"], principal_subscriber="210987654321",
        share_name="calling", **W)
    OmicsAcceptShareOperator(task_id="accept", share_id=offer.output["shareId"], **W)
    annotations = OmicsCreateAnnotationStoreOperator(task_id="annotations", name="genes", store_format="GFF", **W)
    annotations >> OmicsCreateAnnotationStoreVersionOperator(
        task_id="annotations_v2", name="genes", version_name="second", **W)
enable_lineage(dag)
"""


@pytest.mark.slow
def test_every_operator_reports_what_it_read_and_wrote(run_dag, emulator, s3, tmp_path, openlineage_events):
    for key, body in {"reads/s1_R1.fastq": FASTQ_1, "ref/chr1.fa": FASTA}.items():
        s3.put_object(Bucket="genomics", Key=key, Body=body)
    (tmp_path / "s1_R1.fastq").write_bytes(FASTQ_1)
    (tmp_path / "s1_R2.fastq").write_bytes(FASTQ_2)
    (tmp_path / "calling.wdl").write_bytes(WDL)
    emulator.add_outcome("run", "doomed-*", "FAILED", failure_reason="SERVICE_ERROR", message="host lost")
    emulator.add_outcome("run", "long-*", "RUNNING")  # until cancelled
    dag_run, tis = run_dag(EVERY_OTHER_OPERATOR.format(folder=tmp_path, wdl=tmp_path / "calling.wdl"), "lineage_tour")
    states = {task: ti.state for task, ti in tis.items()}
    assert states.pop("doomed") == "failed" and set(states.values()) == {"success"}, states

    events = openlineage_events("lineage_tour")
    for event in events:
        check_event(event)
    tasks = by_task(events, "lineage_tour")
    assert set(tasks) == set(tis)
    for task, seen in tasks.items():
        ended = "FAIL" if task == "doomed" else "COMPLETE"
        assert set(seen) == {"START", ended}, (task, set(seen))

    store = xcom(tis["store"])["id"]
    read_set = xcom(tis["upload"])["id"]
    reads = f"{STORAGE}/{store}/readSet/{read_set}"
    workflow = xcom(tis["workflow"])["arn"]
    run = xcom(tis["run"])

    def complete(task: str) -> tuple[set[str], set[str], dict]:
        event = tasks[task]["COMPLETE"]
        return names(event.get("inputs") or []), names(event.get("outputs") or []), event["run"]["facets"]["omics"]

    inputs, outputs, facet = complete("upload")
    assert inputs == {f"file://{tmp_path}/s1_R1.fastq", f"file://{tmp_path}/s1_R2.fastq"}
    assert outputs == {reads} and facet["kind"] == "read_set" and facet["status"] == "ACTIVE"
    inputs, outputs, _ = complete("download")
    assert inputs == {reads}
    assert outputs == {f"file://{tmp_path}/back/NA24385_{read_set}_{n}.fastq" for n in ("source1", "source2")}
    reference = xcom(tis["reference"])["sources"][0]["referenceId"]
    references = xcom(tis["references"])["id"]
    inputs, outputs, _ = complete("reference")
    assert (inputs, outputs) == ({"s3://genomics/ref/chr1.fa"}, {f"{STORAGE}/{references}/reference/{reference}"})
    assert complete("reference_download")[0] == {f"{STORAGE}/{references}/reference/{reference}"}
    assert complete("workflow")[1] == {workflow}
    assert complete("version")[1] == {f"{workflow}/version/v2"}
    assert complete("group")[1] == {xcom(tis["group"])["arn"]}
    assert complete("cache")[1] == {xcom(tis["cache"])["arn"]}

    inputs, outputs, facet = complete("run")
    access_point_reads = lineage.of_uri(run["parameters"]["reads"]).uri
    assert inputs == {workflow, access_point_reads}
    assert outputs == {lineage.of_uri(uri).uri for uri in run["summary"]["outputs"]} and outputs
    assert facet["run"]["uuid"] == run["uuid"] and facet["run"]["runGroupId"] == xcom(tis["group"])["id"]
    assert facet["run"]["cacheId"] == xcom(tis["cache"])["id"] and facet["usage"]["totals"]["tasks"] == 2
    # The sample's names and the run's parameters stay out of our facets and Asset extras by default (the
    # datasets are storage paths: a key or file name that holds a sample name is named so).
    assert "NA24385" not in json.dumps([e["run"]["facets"].get("omics") for e in events])

    batch = xcom(tis["batch"])
    assert complete("batch")[0] == {workflow}
    assert complete("batch")[1] == {f"{OMICS_ARN}:run/{r['runId']}" for r in batch["runs"].values()}
    assert complete("list")[0] == {f"{OMICS_ARN}:run/{run['id']}"}
    assert complete("cancel")[0] == {f"{OMICS_ARN}:run/{xcom(tis['long'])['id']}"}
    assert complete("offer")[0] == {workflow} and complete("accept")[1] == {workflow}
    assert complete("annotations_v2")[1] == {xcom(tis["annotations_v2"])["versionArn"]}

    failed = tasks["doomed"]["FAIL"]
    assert names(failed["inputs"]) == {workflow, "s3://genomics/reads/s1_R1.fastq"}
    omics_facet = failed["run"]["facets"]["omics"]
    assert omics_facet["status"] == "FAILED" and omics_facet["failureReason"] == "SERVICE_ERROR"
    assert "host lost" in omics_facet["statusMessage"]
    assert "host lost" in failed["run"]["facets"]["errorMessage"]["message"]

    produced = asset_events(dag_run)
    extra = dict(produced["upload"])[reads]
    assert extra == {"kind": "read_set", "sequenceStoreId": store, "id": read_set, "status": "ACTIVE"}
    assert dict(produced["upload"])[f"{STORAGE}/{store}/readSet"] == {**extra, "readSetIds": read_set}
    assert {uri for uri, _ in produced["run"]} == {run["runOutputUri"].rstrip("/"), workflow}
    assert dict(produced["run"])[workflow]["runIds"] == run["id"]
    finished = sorted(r["runId"] for r in batch["runs"].values())
    assert sorted(dict(produced["batch"])[workflow]["runIds"].split(",")) == finished
    assert "doomed" not in produced and "list" not in produced
    assert "NA24385" not in json.dumps([extra for events in produced.values() for _, extra in events])


@pytest.mark.slow
def test_the_private_switch_puts_names_and_parameters_in(run_dag, emulator, s3, openlineage_events, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OMICS__LINEAGE_PRIVATE_DETAILS", "True")
    s3.put_object(Bucket="genomics", Key="reads/s1_R1.fastq", Body=FASTQ_1)
    _, tis = run_dag(
        """
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
with DAG("private", schedule=None, start_date=START) as dag:
    store = OmicsCreateSequenceStoreOperator(task_id="store", name="private", waiter_delay=0.05)
    OmicsStartReadSetImportJobOperator(
        task_id="reads", sequence_store_id=store.output["id"], role_arn=ROLE, waiter_delay=0.05,
        sources=[{"sourceFiles": {"source1": "s3://genomics/reads/s1_R1.fastq"}, "sourceFileType": "FASTQ",
                  "subjectId": "P-7", "sampleId": "NA24385", "name": "NA24385"}])
enable_lineage(dag)
""",
        "private",
    )
    assert {ti.state for ti in tis.values()} == {"success"}
    facet = by_task(openlineage_events("private"), "private")["reads"]["COMPLETE"]["run"]["facets"]["omics"]
    assert facet["private"]["sources"] == [{"sampleId": "NA24385", "subjectId": "P-7", "name": "NA24385"}]

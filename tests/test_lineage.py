"""Lineage and Assets: every operator's OpenLineage events, checked against the spec, and its Asset events.

The OpenLineage provider runs as users run it (its listener in the task runner, a file transport);
``tests/openlineage_check.py`` checks each recorded event. The example pipeline's events are checked in
``test_example_dags.py``; this DAG covers every other operator, a failed run and the private switch.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
from conftest import BUCKET, dag_test_kwargs, instances, states, xcom
from openlineage_check import by_task, check_event, names
from tour import FASTQ_1, WDL

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


A_FAILING_RUN = """
from airflow.providers.openlineage.utils.selective_enable import enable_lineage
with DAG("lineage_failure", schedule=None, start_date=START) as dag:
    workflow = OmicsCreateWorkflowOperator(task_id="workflow", name="calling", definition_path="{wdl}",
                                           waiter_delay=0.05)
    OmicsStartRunOperator(
        task_id="doomed", workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/",
        name="doomed-s1", parameters={{"reads": "s3://genomics/reads/s1_R1.fastq"}}, include_logs=False,
        waiter_delay=0.05)
enable_lineage(dag)
"""


@pytest.mark.slow
def test_every_operator_reports_what_it_read_and_wrote(example, emulator, tmp_path, monkeypatch, openlineage_events):
    """The how-to guides' DAG (every operator the example pipeline does not use), end to end."""
    monkeypatch.setenv("OMICS_DOWNLOAD_DIR", str(tmp_path))
    emulator.add_outcome("run", "long-*", "RUNNING")  # until cancelled
    dag_run = enable_lineage(example("omics_howto")).test(**dag_test_kwargs())
    tis = instances(dag_run)
    assert {ti.state for ti in tis.values()} == {"success"}, states(dag_run)

    events = openlineage_events("omics_howto")
    for event in events:
        check_event(event)
    tasks = by_task(events, "omics_howto")
    assert set(tasks) == set(tis)
    for task, seen in tasks.items():
        assert set(seen) == {"START", "COMPLETE"}, (task, set(seen))

    store = xcom(tis["store"])["id"]
    read_set = xcom(tis["upload"])["id"]
    reads = f"{STORAGE}/{store}/readSet/{read_set}"
    workflow = xcom(tis["workflow"])["arn"]
    run = xcom(tis["run"])

    def complete(task: str) -> tuple[set[str], set[str], dict]:
        event = tasks[task]["COMPLETE"]
        return names(event.get("inputs") or []), names(event.get("outputs") or []), event["run"]["facets"]["omics"]

    inputs, outputs, facet = complete("upload")
    assert {pathlib.Path(uri).name for uri in inputs} == {"NA24385_R1.fastq", "NA24385_R2.fastq"}
    assert outputs == {reads} and facet["kind"] == "read_set" and facet["status"] == "ACTIVE"
    inputs, outputs, _ = complete("download")
    assert inputs == {reads}
    assert outputs == {f"file://{tmp_path}/reads/NA24385_{read_set}_{n}.fastq" for n in ("source1", "source2")}
    reference = xcom(tis["reference"])["sources"][0]["referenceId"]
    references = xcom(tis["references"])["id"]
    inputs, outputs, _ = complete("reference")
    assert (inputs, outputs) == (
        {f"s3://{BUCKET}/inputs/reference.fa"},
        {f"{STORAGE}/{references}/reference/{reference}"},
    )
    assert complete("reference_download")[0] == {f"{STORAGE}/{references}/reference/{reference}"}
    assert complete("workflow")[1] == {workflow}
    assert complete("version")[1] == {f"{workflow}/version/v2"}
    assert complete("group")[1] == {xcom(tis["group"])["arn"]}
    assert complete("cache")[1] == {xcom(tis["cache"])["arn"]}

    inputs, outputs, facet = complete("run")
    parameters = run["parameters"]
    assert inputs == {workflow, *(lineage.of_uri(parameters[p]).uri for p in ("reads_1", "reads_2", "reference"))}
    assert outputs == {lineage.of_uri(uri).uri for uri in run["summary"]["outputs"]} and outputs
    assert facet["run"]["uuid"] == run["uuid"] and facet["run"]["runGroupId"] == xcom(tis["group"])["id"]
    assert facet["run"]["cacheId"] == xcom(tis["cache"])["id"] and facet["usage"]["totals"]["tasks"] == 2
    # The sample's names and the run's parameters stay out of our facets and Asset extras by default (the
    # datasets are storage paths: a key or file name that holds a sample name is named so).
    assert "NA24385" not in json.dumps([e["run"]["facets"].get("omics") for e in events])

    # The Nextflow workflow's template is its nextflow_schema.json; its run took what the template asks.
    nextflow = xcom(tis["nextflow_workflow"])
    assert nextflow["engine"] == "NEXTFLOW" and not nextflow["parameterTemplate"]["reads_1"]["optional"]
    assert xcom(tis["nextflow_run"])["status"] == "COMPLETED"

    batch = xcom(tis["batch"])
    samples = [
        f"s3://{BUCKET}/inputs/reads/{name}_{end}.fastq" for name in ("NA12878", "NA12891") for end in ("R1", "R2")
    ]
    assert complete("batch")[0] == {workflow, f"s3://{BUCKET}/inputs/reference.fa", *samples}
    assert complete("batch")[1] == {f"{OMICS_ARN}:run/{r['runId']}" for r in batch["runs"].values()}
    assert complete("list")[0] == {f"{OMICS_ARN}:run/{run['id']}"}
    assert xcom(tis["wait_for_run"])["status"] == "COMPLETED"
    assert complete("cancel")[0] == {f"{OMICS_ARN}:run/{xcom(tis['long'])['id']}"}
    assert complete("offer")[0] == {workflow} and complete("accept")[1] == {workflow}
    assert complete("annotations_v2")[1] == {xcom(tis["annotations_v2"])["versionArn"]}

    # Asset events: one per collection a task added to (what a DAG can be scheduled on), none per object.
    produced = asset_events(dag_run)
    assert dict(produced["upload"]) == {
        f"{STORAGE}/{store}/readSet": {
            "kind": "read_set",
            "sequenceStoreId": store,
            "id": read_set,
            "status": "ACTIVE",
            "readSetIds": read_set,
        }
    }
    assert [uri for uri, _ in produced["run"]] == [workflow]
    assert dict(produced["run"])[workflow]["runIds"] == run["id"]
    assert "download" not in produced and "reference_download" not in produced
    finished = sorted(r["runId"] for r in batch["runs"].values())
    assert sorted(dict(produced["batch"])[workflow]["runIds"].split(",")) == finished
    assert "list" not in produced
    assert "NA24385" not in json.dumps([extra for events in produced.values() for _, extra in events])


@pytest.mark.slow
def test_a_failed_run_reports_its_failure(run_dag, emulator, s3, tmp_path, openlineage_events):
    s3.put_object(Bucket="genomics", Key="reads/s1_R1.fastq", Body=FASTQ_1)
    (tmp_path / "calling.wdl").write_bytes(WDL)
    emulator.add_outcome("run", "doomed-*", "FAILED", failure_reason="SERVICE_ERROR", message="host lost")
    dag_run, tis = run_dag(A_FAILING_RUN.format(wdl=tmp_path / "calling.wdl"), "lineage_failure")
    assert tis["doomed"].state == "failed"
    tasks = by_task(openlineage_events("lineage_failure"), "lineage_failure")
    failed = tasks["doomed"]["FAIL"]
    check_event(failed)
    assert names(failed["inputs"]) == {xcom(tis["workflow"])["arn"], "s3://genomics/reads/s1_R1.fastq"}
    omics_facet = failed["run"]["facets"]["omics"]
    assert omics_facet["status"] == "FAILED" and omics_facet["failureReason"] == "SERVICE_ERROR"
    assert "host lost" in omics_facet["statusMessage"]
    assert "host lost" in failed["run"]["facets"]["errorMessage"]["message"]
    assert "doomed" not in asset_events(dag_run)


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

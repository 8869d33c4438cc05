"""Right-sizing: what tasks used against what they reserved, the recommendations, side by side with AWS's
run analyzer on the same manifests, and in DAGs (one run's summary, a plate's report, the pictures)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from conftest import ROLE_ARN, xcom
from tour import plate_zip, profile_plate, start_batch
from waiting import status_in, until

from airflow_provider_omics import pictures, right_sizing, usage
from airflow_provider_omics.hooks.omics import OmicsHook


def plate_workflow(omics) -> str:
    workflow = omics.create_workflow(name="plate", definitionZip=plate_zip(), requestId="plate", engine="WDL")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    return workflow["id"]


def completed_runs(omics, workflow: str, samples: int, **settings) -> list[str]:
    """Runs ``s1`` .. ``s<samples>`` of the workflow, once each has COMPLETED: their ids."""
    ids = [
        omics.start_run(
            workflowId=workflow,
            roleArn=ROLE_ARN,
            name=f"s{i}",
            requestId=f"s{i}",
            outputUri="s3://genomics/runs/",
            parameters={"sample_name": f"s{i}"},
            **settings,
        )["id"]
        for i in range(1, samples + 1)
    ]
    for run_id in ids:
        until(lambda run_id=run_id: omics.get_run(id=run_id), status_in("COMPLETED"), timeout=30)
    return ids


@pytest.fixture
def plate(omics, s3, emulator):
    """Four completed runs of a three-task workflow, their usage profiled: (workflow id, run ids)."""
    workflow = plate_workflow(omics)
    profile_plate(emulator)
    return workflow, completed_runs(omics, workflow, 4, storageType="STATIC", storageCapacity=1200)


def anchor_rows(tools, *argv: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(tools("run_analyzer", *argv, cli=True).stdout)))


@pytest.mark.parametrize("headroom", [0.0, 0.25])
def test_every_recommendation_equals_aws_run_analyzers_on_the_same_manifest(tools, plate, emulator, headroom):
    _, ids = plate
    hook = OmicsHook()
    prices = usage.price_list(hook)
    for run_id in ids:
        ours = right_sizing.analyze_run(hook, run_id, sizing=right_sizing.Sizing(headroom=headroom), prices=prices)
        theirs = {row["arn"].rsplit("/", 1)[-1]: row for row in anchor_rows(tools, run_id, "--headroom", str(headroom))}
        assert len(ours["tasks"]) == 3
        for task in ours["tasks"]:
            row = theirs[task["taskId"]]
            assert task["recommended"] == {
                "instanceType": row["omicsInstanceTypeMinimum"],
                "cpus": int(row["recommendedCpus"]),
                "memoryGiB": int(row["recommendedMemoryGiB"]),
            }
            assert task["utilization"]["cpu"] == pytest.approx(float(row["cpuUtilizationRatio"]), abs=1e-4)
            assert task["utilization"]["memory"] == pytest.approx(float(row["memoryUtilizationRatio"]), abs=1e-4)
            assert task["usd"]["now"] == pytest.approx(float(row["estimatedUSD"]), abs=1e-6)
            assert task["usd"]["recommended"] == pytest.approx(float(row["minimumUSD"]), abs=1e-6)
        run_row = next(row for row in theirs.values() if row["type"] == "run")
        assert ours["storage"]["usd"] == pytest.approx(float(run_row["estimatedUSD"]), abs=1e-6)
        assert ours["storage"]["recommendedUsd"] == pytest.approx(float(run_row["minimumUSD"]), abs=1e-6)


def test_a_plate_recommends_per_task_what_aws_batch_analysis_does_and_fits_both_peaks(tools, plate, tmp_path):
    _, ids = plate
    hook = OmicsHook()
    ours = right_sizing.analyze_runs(hook, ids, prices=usage.price_list(hook))
    tools("run_analyzer", "--batch", *ids, "--out", str(tmp_path / "batch.csv"), cli=True)
    theirs = {row["name"]: row for row in csv.DictReader((tmp_path / "batch.csv").open())}

    assert set(ours["tasks"]) == set(theirs) == {"align", "call_variants", "qc"}
    for name, task in ours["tasks"].items():
        row = theirs[name]
        assert task["count"] == int(row["count"]) == 4
        assert (task["recommended"]["cpus"], task["recommended"]["memoryGiB"]) >= (
            int(float(row["recommendedCpus"])),
            int(float(row["recommendedMemoryGiB"])),
        )
    assert ours["tasks"]["align"]["recommended"]["instanceType"] == theirs["align"]["recommendOmicsInstanceType"]
    assert ours["tasks"]["qc"]["recommended"]["instanceType"] == theirs["qc"]["recommendOmicsInstanceType"]
    # Where the samples disagree (s3 needs 13.5 GiB on 1.2 CPUs, the others 3.1 CPUs and 6 GiB), AWS's batch
    # takes the largest recommended CPUs and memory (4 and 16) separately and then the heaviest instance
    # recommended to any sample (omics.r.large: 2 CPUs); ours is the smallest that holds both peaks.
    assert theirs["call_variants"]["recommendOmicsInstanceType"] == "omics.r.large"
    assert ours["tasks"]["call_variants"]["recommended"] == {
        "instanceType": "omics.m.xlarge",
        "cpus": 4,
        "memoryGiB": 16,
    }


def test_a_plate_names_its_outlier_and_sizes_at_the_percentile_asked(plate):
    _, ids = plate
    hook = OmicsHook()
    report = right_sizing.analyze_runs(hook, ids, right_sizing.Sizing(percentile=50))
    assert report["outliers"] == [
        {
            "task": "call_variants",
            "taskId": report["outliers"][0]["taskId"],
            "runId": ids[2],
            "runName": "s3",
            "resource": "memory",
            "used": 13.5,
            "medianOfOthers": 6.0,
            "times": 2.25,
        }
    ]
    calling = report["tasks"]["call_variants"]
    assert calling["memoryMaximumGiB"] == {"p50": 6.0, "p95": pytest.approx(12.375), "max": 13.5}
    # The median sample's needs (3.1 CPUs, 6 GiB): s3 alone would run short of memory on it.
    assert calling["recommended"] == {"instanceType": "omics.c.xlarge", "cpus": 4, "memoryGiB": 8}
    assert report["notAnalysed"] == []
    # One page holds a manifest, whose last line is the run's: one read each.
    assert report["calls"] == {"GetRun": 4, "GetWorkflow": 1, "GetLogEvents": 4}
    assert "costs" not in report["totals"] and "compute" not in report["totals"]  # no prices given: no costs


def test_recommendations_in_the_workflows_language():
    recommendations = {"call_variants": {"instanceType": "omics.c.xlarge", "cpus": 4, "memoryGiB": 8}}
    assert right_sizing.config_snippet(recommendations, "WDL") == (
        '# task call_variants (omics.c.xlarge)\nruntime {\n  cpu: 4\n  memory: "8 GiB"\n}\n'
    )
    assert right_sizing.config_snippet(recommendations, "NEXTFLOW") == (
        "process {\n    withName: 'call_variants' {\n        cpus = 4\n        memory = 8.GB\n    }\n}\n"
    )


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (3.1, 6, "omics.c.xlarge"),
        (1, 14, "omics.r.large"),
        (4, 14, "omics.m.xlarge"),
        (192, 1536, "omics.r.48xlarge"),
        (193, 1, None),
    ],
)
def test_the_smallest_instance_holds_both_peaks(cpus, memory, expected):
    found = right_sizing.smallest_instance(cpus, memory)
    assert (found or {}).get("instanceType") == expected
    if found:
        assert found["cpus"] >= cpus and found["memoryGiB"] >= memory


def test_shards_are_one_task_and_storage_comes_in_the_services_steps():
    assert right_sizing.base_name("call_variants-0-1", "WDL") == "call_variants"
    assert right_sizing.base_name("NFCORE:ALIGN (sample 3)", "NEXTFLOW") == "NFCORE:ALIGN"
    assert right_sizing.base_name("step_2", "CWL") == "step"
    assert right_sizing.base_name("call_variants-0-1", None) == "call_variants-0-1"
    assert [right_sizing.static_storage_gib(n) for n in (None, 100, 1200, 1201, 2400, 2401)] == [
        1200,
        1200,
        1200,
        2400,
        2400,
        4800,
    ]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({"headroom": 1.5}, "headroom"), ({"percentile": 0}, "percentile"), ({"outlier_factor": 1}, "outlier_factor")],
)
def test_bad_sizing_is_refused_naming_the_argument(arguments, named):
    from airflow_provider_omics.operators.right_sizing import OmicsAnalyzeRunsOperator

    with pytest.raises(ValueError, match=rf"OmicsAnalyzeRunsOperator \(plate\): {named}"):
        OmicsAnalyzeRunsOperator(task_id="plate", run_ids=["1"], **arguments)
    with pytest.raises(ValueError, match="give run_ids, batch_id or run_group_id"):
        OmicsAnalyzeRunsOperator(task_id="plate")


START_RUN = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    OmicsStartRunOperator(
        task_id="run",
        workflow_id="{workflow}",
        role_arn="{role}",
        output_uri="s3://genomics/runs/",
        name="{name}",
        parameters={{"sample_name": "{name}"}},
        waiter_delay=0.05,
        {extra}
    )
"""


def start_run_dag(workflow: str, name: str, extra: str = "") -> str:
    return START_RUN.format(workflow=workflow, role=ROLE_ARN, name=name, extra=extra)


def test_a_completed_run_carries_its_analysis_and_its_pictures_are_linked(run_dag, omics, s3, emulator, output):
    workflow = plate_workflow(omics)
    profile_plate(emulator)
    _, tis = run_dag(start_run_dag(workflow, "s1", "pictures=True, write_config=True, headroom=0.1,"))
    assert tis["run"].state == "success"
    result = xcom(tis["run"])
    found = result["summary"]["analysis"]

    calling = next(t for t in found["tasks"] if t["name"] == "call_variants")
    assert calling["used"]["cpusMaximum"] == 3.1 and calling["reserved"]["cpus"] == 4
    assert calling["recommended"] == {"instanceType": "omics.c.xlarge", "cpus": 4, "memoryGiB": 8}
    assert calling["usd"]["saving"] > 0  # the emulator's price list: omics.c.xlarge costs less than omics.m.xlarge
    assert found["usd"]["compute"] == pytest.approx(sum(t["usd"]["now"] for t in found["tasks"]))
    assert 0 < found["usd"]["idleShare"] < 1
    assert found["recommendations"]["align"]["instanceType"] == "omics.c.2xlarge"
    assert "call_variants on omics.m.xlarge used at most 3.1 of 4 CPUs (78%)" in output()

    folder = f"{result['runOutputUri']}/analysis"
    assert found["files"] == {
        "timeline.png": f"{folder}/timeline.png",
        "timeline.html": f"{folder}/timeline.html",
        "runtime.wdl": f"{folder}/runtime.wdl",
    }
    bucket, _, prefix = folder[5:].partition("/")
    png = s3.get_object(Bucket=bucket, Key=f"{prefix}/timeline.png")
    assert png["ContentType"] == "image/png" and png["Body"].read()[:8] == b"\x89PNG\r\n\x1a\n"
    html = s3.get_object(Bucket=bucket, Key=f"{prefix}/timeline.html")["Body"].read().decode()
    assert "call_variants" in html and "plotly" in html and "<script src=" not in html  # self-contained
    snippet = s3.get_object(Bucket=bucket, Key=f"{prefix}/runtime.wdl")["Body"].read().decode()
    assert "# task call_variants (omics.c.xlarge)" in snippet
    link = xcom(tis["run"], key="omics_analysis")
    assert (link["bucket"], link["object_key"]) == (bucket, f"{prefix}/timeline.html")


def test_analysis_is_off_with_a_flag_and_a_manifest_it_cannot_read_never_fails_the_run(run_dag, omics, s3, emulator):
    workflow = plate_workflow(omics)
    _, tis = run_dag(start_run_dag(workflow, "off", "analyze=False,"))
    assert "analysis" not in xcom(tis["run"])["summary"]

    emulator.add_fault("GetLogEvents", "AccessDeniedException", message="not authorized to perform logs:GetLogEvents")
    _, tis = run_dag(start_run_dag(workflow, "denied"))
    assert tis["run"].state == "success"
    summary = xcom(tis["run"])["summary"]
    assert "analysis" not in summary and "logs:GetLogEvents" in summary["analysisNotRead"]
    assert summary["totals"]["tasks"] == 3


ANALYZE = """
from airflow_provider_omics.operators.right_sizing import OmicsAnalyzeRunsOperator

with DAG("test_dag", schedule=None, start_date=START) as dag:
    OmicsAnalyzeRunsOperator(task_id="plate", {arguments})
"""


def test_a_plate_is_analysed_in_a_dag_with_its_chart(run_dag, plate, s3, tmp_path, output):
    _, ids = plate
    _, tis = run_dag(ANALYZE.format(arguments=f"run_ids={ids!r}, headroom=0.1, write_config=True"))
    assert tis["plate"].state == "success"
    # The files it wrote are its lineage, not Asset events no DAG takes (each made Airflow warn).
    assert "Assets produced" not in output() and not re.search(r"(Asset|Dataset)Model .*(not found|inactive)", output())
    report = xcom(tis["plate"])
    assert [s["name"] for s in report["samples"]] == ["s1", "s2", "s3", "s4"]
    assert report["samples"][2]["tasks"]["call_variants"]["memory"] == pytest.approx(13.5 / 16, abs=1e-4)
    assert report["totals"]["runs"] == 4 and report["totals"]["compute"] > 0
    assert [o["runName"] for o in report["outliers"]] == ["s3"]
    files = report["files"]
    assert set(files) == {"plate.png", "plate.html", "runtime.wdl"}
    assert files["plate.png"].startswith("s3://genomics/runs/analysis/test_dag/plate-")
    bucket, _, key = files["plate.html"][5:].partition("/")
    assert b"call_variants" in s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    # To a local folder instead, and the runs of a batch.
    _, tis = run_dag(ANALYZE.format(arguments=f"run_ids={ids[:2]!r}, pictures_to={str(tmp_path)!r}"))
    report = xcom(tis["plate"])
    assert report["files"]["plate.png"] == str(tmp_path / "plate.png")
    assert (tmp_path / "plate.png").read_bytes()[:4] == b"\x89PNG"


def test_the_runs_of_a_batch_and_of_a_run_group_are_found(omics, s3, emulator):
    workflow = plate_workflow(omics)
    group = omics.create_run_group(name="plates", requestId="plates")["id"]
    batch = start_batch(omics, workflow, 3, runGroupId=group)
    runs = until(lambda: omics.list_runs_in_batch(batchId=batch), lambda r: len(r["runs"]) == 3)["runs"]
    hook = OmicsHook()
    in_batch = right_sizing.runs_of(hook, batch_id=batch)
    assert sorted(in_batch) == sorted(r["runId"] for r in runs)
    assert sorted(right_sizing.runs_of(hook, ["1"], run_group_id=group)) == sorted(["1", *in_batch])
    report = right_sizing.analyze_runs(hook, in_batch)
    assert len(report["samples"]) + len(report["notAnalysed"]) == 3
    assert all(n["why"] == "the run has not ended" for n in report["notAnalysed"])


def test_many_runs_are_analysed_within_the_quotas(omics, s3, emulator):
    """The emulator enforces the documented quotas: 24 runs' analysis is paced, never throttled, and a batch's
    listings tell each run's uuid and status, so no run needs a GetRun."""
    workflow = plate_workflow(omics)
    batch = start_batch(omics, workflow, 24)
    until(lambda: omics.get_batch(batchId=batch), status_in("PROCESSED"), timeout=60)
    emulator.quotas.enabled = True
    hook = OmicsHook()
    report = right_sizing.analyze_runs(hook, right_sizing.runs_of(hook, batch_id=batch))
    assert len(report["samples"]) == 24
    assert report["calls"] == {"GetWorkflow": 1, "GetLogEvents": 24}
    assert [r for r in emulator.requests() if r["outcome"] == "ThrottlingException"] == []
    assert emulator.request_counts().get("GetRun", 0) == 0


def test_a_plate_of_runs_still_going_names_them_and_draws_nothing(run_dag, omics, s3, emulator):
    workflow = plate_workflow(omics)
    emulator.backend.step_seconds = 60  # the runs stay PENDING for the whole test
    ids = [
        omics.start_run(workflowId=workflow, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId=f"s{i}")["id"]
        for i in range(2)
    ]
    _, tis = run_dag(ANALYZE.format(arguments=f"run_ids={ids!r}"))
    assert tis["plate"].state == "success"
    report = xcom(tis["plate"])
    assert report["samples"] == [] and "files" not in report
    assert [n["why"] for n in report["notAnalysed"]] == ["the run has not ended"] * 2


def test_a_plate_hands_over_one_plan_and_every_figure_counts_on_it(omics, s3, emulator):
    """Three samples, s3's align needing 3.3x the others' memory: the plan sizes align for every sample at
    omics.m.4xlarge, and the totals, samples, title and config all say what that plan costs."""
    workflow = plate_workflow(omics)
    emulator.set_usage("align", cpus=7.5, memory_gib=39.6, run="s3")
    emulator.set_usage("align", cpus=7.2, memory_gib=12)
    emulator.set_usage("call_variants", cpus=3.1, memory_gib=6)
    emulator.set_usage("qc", cpus=0.4, memory_gib=1.1)
    ids = completed_runs(omics, workflow, 3)
    hook = OmicsHook()
    report = right_sizing.analyze_runs(hook, ids, right_sizing.Sizing(headroom=0.1), usage.price_list(hook))

    align = report["tasks"]["align"]
    assert align["reserved"]["instanceType"] == "omics.m.2xlarge"
    assert align["recommended"] == {"instanceType": "omics.m.4xlarge", "cpus": 16, "memoryGiB": 64}
    assert align["usd"] == {"now": 0.02688, "recommended": 0.05376, "saving": -0.02688}
    assert '# task align (omics.m.4xlarge)\nruntime {\n  cpu: 16\n  memory: "64 GiB"\n}' in report["config"]["WDL"]

    totals, named = report["totals"], report["tasks"].values()
    assert totals["recommendedCompute"] == pytest.approx(sum(t["usd"]["recommended"] for t in named), abs=1e-6)
    assert totals["saving"] == pytest.approx(sum(t["usd"]["saving"] for t in named), abs=1e-6)
    assert totals["saving"] == pytest.approx(totals["compute"] - totals["recommendedCompute"], abs=1e-6)
    for key in ("compute", "recommendedCompute", "saving"):
        assert totals[key] == pytest.approx(sum(sample["usd"][key] for sample in report["samples"]), abs=1e-6)
    assert totals["saving"] < 0  # align's outlier costs more than the others' saving
    assert f"USD {-totals['saving']:.4f} more to fit every task at p100 + 10%" in pictures._plate_title(report)


def test_the_plates_legend_covers_no_samples_bar(plate):
    pytest.importorskip("matplotlib")
    _, ids = plate
    hook = OmicsHook()
    report = right_sizing.analyze_runs(hook, ids, prices=usage.price_list(hook))
    grid_and_title = pictures.plate_grid(report)
    figure = pictures._plate_figure(*grid_and_title)
    figure.canvas.draw()
    costs = figure.axes[0]
    legend = costs.get_legend().get_window_extent()
    bars = [patch.get_window_extent() for patch in costs.patches if patch.get_width() > 0]
    assert len(bars) >= len(ids)
    assert not [bar for bar in bars if bar.overlaps(legend)]

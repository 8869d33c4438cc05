"""Airflow's own behaviour with the provider, in a real Airflow: scheduler, triggerer, workers, REST API.

``dag.test()`` runs triggers in line and cannot clear or mark a deferred task; these tests do it the
way users do, through the API of running services.
"""

from __future__ import annotations

import math
import os
import re
import textwrap
import time
from collections import Counter

import pytest
from airflow_services import Airflow2Services, AirflowServices
from conftest import DOCKER_HUB, EXAMPLE_IMAGES, ROLE_ARN
from test_example_dags import EXAMPLES
from tour import FASTA, FASTQ_1, FASTQ_2, workflow_zip, zipped
from waiting import status_in, until

from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_3_PLUS
from airflow_provider_omics.lineage import read_sets_in

# Airflow 3.0 reaches the trigger's cleanup() on mark-failed, 3.3+ its on_kill(): both are tested here.
# Airflow 2.11's webserver and REST API v1 are another harness; its cleanup() path reads the database.
pytestmark = pytest.mark.slow
airflow_3 = pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="drives the Airflow 3 api-server and REST API v2")

DAG = """
import pendulum
from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    OmicsStartRunOperator(
        task_id="run", workflow_id="{workflow_id}", role_arn="{role}", output_uri="s3://genomics/runs/",
        name="{dag_id}", parameters={{"sample_name": "s1"}}, deferrable=True, waiter_delay=1,
    )
"""


@pytest.fixture(scope="module")
def airflow(emulator_server, tmp_path_factory):
    env = {**os.environ, "AIRFLOW_CONN_AWS_DEFAULT": emulator_server.connection_json()}
    harness = AirflowServices if AIRFLOW_V_3_0_PLUS else Airflow2Services
    with harness(tmp_path_factory.mktemp("airflow-home"), env) as services:
        yield services


@pytest.fixture
def deferred_run(airflow, emulator, omics, s3):
    """A DAG run whose run task has started a HealthOmics run and whose trigger is polling it."""
    # The run stays in progress while the test acts on the task, and long enough after that for the
    # executor to report the deferral before the trigger resumes the task (Airflow 3.0 fails a task whose
    # resume overtakes that report: "finished with state success, but ... state attribute is queued").
    emulator.backend.step_seconds = 5
    workflow = omics.create_workflow(name="w", definitionZip=workflow_zip(), requestId="w")
    emulator.transition("workflow", workflow["id"], "ACTIVE")

    def start(dag_id: str) -> str:
        text = DAG.format(dag_id=dag_id, workflow_id=workflow["id"], role=ROLE_ARN)
        airflow.add_dag(dag_id, textwrap.dedent(text))
        run_id = airflow.trigger(dag_id)
        airflow.wait_for(lambda: airflow.task(dag_id, run_id, "run")["state"] == "deferred", "the task to defer")
        # The worker described the run once after starting it; a second GetRun is the trigger's first poll.
        polls = emulator.request_counts().get("GetRun", 0)
        airflow.wait_for(lambda: emulator.request_counts().get("GetRun", 0) > polls, "the trigger to poll")
        return run_id

    return start


@airflow_3
def test_clearing_a_deferred_task_restarts_it_on_the_same_job(airflow, emulator, omics, deferred_run):
    run_id = deferred_run("cleared")
    airflow.clear("cleared", run_id, "run")
    state = airflow.wait_for(
        lambda: (
            airflow.dag_run("cleared", run_id)["state"] in ("success", "failed")
            and airflow.dag_run("cleared", run_id)["state"]
        ),
        "the DAG run to end",
    )
    task = airflow.task("cleared", run_id, "run")
    assert (state, task["state"], task["try_number"]) == ("success", "success", 2)
    runs = omics.list_runs(name="cleared")["items"]
    assert [r["status"] for r in runs] == ["COMPLETED"]  # the new try re-attached: nothing cancelled
    assert "CancelRun" not in emulator.request_counts()


@airflow_3
def test_marking_a_deferred_task_failed_cancels_its_job(airflow, emulator, omics, deferred_run):
    run_id = deferred_run("marked")
    airflow.mark("marked", run_id, "run", "failed")
    airflow.wait_for(lambda: emulator.request_counts().get("CancelRun"), "the trigger to cancel the run")
    (run,) = omics.list_runs(name="marked")["items"]
    assert omics.get_run(id=run["id"])["status"] in ("STOPPING", "CANCELLED")
    assert airflow.task("marked", run_id, "run")["state"] == "failed"


PLATE = """
import pendulum
from airflow.providers.common.compat.assets import Asset, AssetAlias
from airflow_provider_omics.compat import DAG, task
from airflow_provider_omics.operators.workflows import OmicsStartRunOperator

ALIAS = AssetAlias("airflow-provider-omics")


@task(outlets=[ALIAS])
def link_the_asset(**context):
    # Airflow links an Asset to an alias on the first event through it, and two tasks doing so at once fail
    # one (the link's unique constraint): the plate's runs end together, so the link is made before.
    context["outlet_events"][ALIAS].add(Asset("{workflow_arn}"))


with DAG("plate", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    link_the_asset() >> OmicsStartRunOperator.partial(
        task_id="run", workflow_id="{workflow_id}", role_arn="{role}", output_uri="s3://genomics/runs/",
        deferrable=True, waiter_delay={delay},
        inlets=[Asset("{workflow_arn}")],  # named in the DAG: its Asset exists before the plate's events
    ).expand(name=[f"sample-{{i}}" for i in range({samples})])
"""


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="a plate of 60 deferred runs, on the newest Airflow only")
@airflow_3
def test_a_plate_of_deferred_runs_waits_in_one_triggerer_within_the_quotas(airflow, emulator, omics):
    samples, delay = 60, 5  # StartRun allows one a second: 60 runs are a minute of starts
    emulator.backend.step_seconds = 30  # runs of 90 s: most of the plate is deferred at once
    workflow = omics.create_workflow(name="w", definitionZip=workflow_zip(), requestId="w")
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    emulator.quotas.enabled = True  # StartRun 1 TPS, GetRun and ListRuns 10 TPS, as the service
    plate = PLATE.format(
        workflow_id=workflow["id"], workflow_arn=workflow["arn"], role=ROLE_ARN, delay=delay, samples=samples
    )
    airflow.add_dag("plate", plate)
    began = time.monotonic()

    run_id = airflow.trigger("plate")
    airflow.wait_for(
        lambda: airflow.dag_run("plate", run_id)["state"] in ("success", "failed"),
        "the plate to finish",
        timeout=1200,
    )
    state = airflow.dag_run("plate", run_id)["state"]
    took = time.monotonic() - began
    tasks = airflow.api("GET", f"/api/v2/dags/plate/dagRuns/{run_id}/taskInstances?limit=200")["task_instances"]
    tasks = [t for t in tasks if t["task_id"] == "run"]
    counts = emulator.request_counts()
    print(f"{samples} mapped runs in {took:.0f}s; HealthOmics requests: {dict(sorted(counts.items()))}")
    failed = {t["map_index"]: t["state"] for t in tasks if t["state"] != "success"}
    logs = airflow.home / "logs" / "dag_id=plate" / f"run_id={run_id}" / "task_id=run"
    why = {i: [p.read_text()[-1500:] for p in sorted(logs.glob(f"map_index={i}/*.log*"))] for i in list(failed)[:2]}
    assert state == "success", (failed, why)
    assert Counter(t["state"] for t in tasks) == {"success": samples}
    assert len(omics.list_runs(maxResults=100)["items"]) == samples  # one run per sample, none twice
    # The coalesced bound: each worker describes its run once after starting it, and the trigger once to
    # confirm its end; besides, a round (at most two per delay) lists the in-progress runs (4 statuses, 100
    # a page) or, when fewer runs wait than that takes calls, describes each. Polling each run every
    # `delay` seconds would take some 18 GetRun per run.
    rounds = 2 * took / delay + 1
    per_round = 4 + math.ceil(samples / 100)
    assert counts["GetRun"] + counts["ListRuns"] <= 2 * samples + per_round * rounds
    assert counts["ListRuns"] <= per_round * rounds
    throttled = [r for r in emulator.requests() if r["outcome"] == "ThrottlingException"]
    assert {r["operation"] for r in throttled} <= {"StartRun"}  # the workers' starts retry; polls never throttle
    # The waits share rounds, yet each task's trigger log tells of its own run only.
    for index in (0, samples // 2, samples - 1):
        folder = airflow.home / "logs" / "dag_id=plate" / f"run_id={run_id}" / "task_id=run" / f"map_index={index}"
        logged = "".join(path.read_text() for path in folder.glob("attempt=1.log.trigger.*.log"))
        (run,) = omics.list_runs(name=f"sample-{index}")["items"]
        assert set(re.findall(r"run id=(\d+) is", logged)) == {run["id"]}


UPLOAD = """
import pendulum
from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.transfers import OmicsUploadReadSetOperator

with DAG("upload", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    OmicsUploadReadSetOperator(
        task_id="upload", sequence_store_id="{store}", source1="{path}", source_file_type="FASTQ",
        subject_id="p1", sample_id="s1", name="s1", part_size={part}, max_concurrency=1, waiter_delay=1,
        retries=1, retry_delay=0,
    )
"""


def _task_process(ti_id: str) -> int:
    """The process running a task instance's code: the child of its supervisor (both name the task instance).
    Not the supervisor: killed, it leaves the task for the scheduler's heartbeat timeout (minutes) to find."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if ti_id.encode() not in cmdline.read():
                    continue
            with open(f"/proc/{pid}/status") as status:
                found[int(pid)] = next(int(line.split()[1]) for line in status if line.startswith("PPid:"))
        except OSError:
            continue
    children = [pid for pid, parent in found.items() if parent in found]
    assert children, f"no task process under its supervisor among {found}"
    return children[0]


@airflow_3
def test_an_upload_killed_mid_way_resumes_in_the_next_try(airflow, emulator, omics, tmp_path):
    part = 1024  # about 800 parts of a few milliseconds each: the task is killed part-way through
    reads = b"".join(b"@read%d/1\nACGTTGCAAC\n+\nIIIIIIIIII\n" % i for i in range(20_000))
    path = tmp_path / "s1.fastq"
    path.write_bytes(reads)
    total = -(-len(reads) // part)
    store = omics.create_sequence_store(name="killed")["id"]
    emulator.transition("sequence_store", store, "ACTIVE")
    airflow.add_dag("upload", UPLOAD.format(store=store, path=path, part=part))
    run_id = airflow.trigger("upload")

    def parts_there() -> int:
        uploads = list(emulator.backend.table("upload").values())
        return len(uploads[0]["_parts"]) if uploads else 0

    airflow.wait_for(lambda: parts_there() >= 50, "some parts to be uploaded", timeout=300)
    ti_id = airflow.task("upload", run_id, "upload")["id"]
    os.kill(_task_process(ti_id), 9)  # the task process itself, as the OOM killer or a lost node would
    sent_before = emulator.request_counts()["UploadReadSetPart"]
    there = parts_there()
    if not AIRFLOW_V_3_1_PLUS:  # 3.0 fails a task killed by a signal without its retries (apache/airflow#55753)
        # Clear only once the scheduler has also failed the DAG run: a clear before that is undone by it.
        airflow.wait_for(
            lambda: (
                airflow.task("upload", run_id, "upload")["state"] == "failed"
                and airflow.dag_run("upload", run_id)["state"] == "failed"
            ),
            "the kill to fail it and its DAG run",
        )
        airflow.clear("upload", run_id, "upload")
    state = airflow.wait_for(
        lambda: (
            airflow.dag_run("upload", run_id)["state"] in ("success", "failed")
            and airflow.dag_run("upload", run_id)["state"]
        ),
        "the DAG run to end",
        timeout=300,
    )
    task = airflow.task("upload", run_id, "upload")
    assert (state, task["state"], task["try_number"]) == ("success", "success", 2)
    sent_after = emulator.request_counts()["UploadReadSetPart"] - sent_before
    # The second try sent only what was missing: the parts not there, and the one part (max_concurrency=1)
    # that was in flight at the kill, which the emulator may finish after the counts above were read.
    assert 0 < there < total and sent_after <= total - there + 1
    (read_set,) = omics.list_read_sets(sequenceStoreId=store)["readSets"]
    assert omics.get_read_set(sequenceStoreId=store, id=read_set["id"], partNumber=1)["payload"].read() == reads
    assert omics.list_multipart_read_set_uploads(sequenceStoreId=store)["uploads"] == []
    assert "Resuming upload" in airflow.task_log("upload", run_id, "upload", 2)


def example_dag(name: str, settings: dict[str, str], replace: tuple[str, str] | None = None) -> str:
    """An example DAG's text with its settings (environment variables) set for the file's parse."""
    text = (EXAMPLES / f"{name}.py").read_text()
    text = text.replace("from __future__ import annotations\n", f"import os\nos.environ.update({settings!r})\n", 1)
    return text.replace(*replace) if replace else text


UPLOADS_BEFORE = """
import pendulum
from airflow.providers.common.compat.assets import Asset

from airflow_provider_omics.compat import DAG, get_current_context, task

with DAG("uploads_before", schedule=None, start_date=pendulum.datetime(2026, 11, 1, tz="UTC"), catchup=False) as dag:

    @task(outlets=[Asset("{uri}")])
    def upload():
        extra = {{"kind": "read_set_upload", "readSetIds": "{read_set}", "status": "ACTIVE"}}
        get_current_context()["outlet_events"][Asset("{uri}")].extra = extra

    upload()
"""


def test_the_dag_scheduled_on_a_stores_read_sets_runs_once_per_ingest(airflow, emulator, omics, s3):
    """The example pair: each import of omics_daily_ingest triggers omics_call_new_reads, which runs the
    workflow on exactly the read sets that import added, as the Asset events' extras name them."""
    # Airflow 3 fails a deferred task resumed before its executor reported the deferral, which a loaded
    # machine delays (see deferred_run): jobs of tens of seconds there. One ingest on 3.0, to keep its
    # suite within its time.
    emulator.backend.step_seconds = 3 if AIRFLOW_V_3_0_PLUS else 1
    store = omics.create_sequence_store(name="daily")
    emulator.transition("sequence_store", store["id"], "ACTIVE")
    calling = zipped((EXAMPLES / "workflows" / "variant_calling.wdl").read_bytes())
    workflow = omics.create_workflow(
        name="calling", definitionZip=calling, containerRegistryMap=DOCKER_HUB, requestId="calling"
    )
    for image in EXAMPLE_IMAGES:
        emulator.push_image(image)
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    s3.put_object(Bucket="genomics", Key="ref/chr1.fa", Body=FASTA)
    days = ["2026-11-20"] if AIRFLOW_V_3_0_PLUS and not AIRFLOW_V_3_1_PLUS else ["2026-11-20", "2026-11-21"]
    for day in days:
        for sample in ("NA12878", "NA12891", "NA12892"):
            s3.put_object(Bucket="genomics", Key=f"incoming/{day}/{sample}_R1.fastq", Body=FASTQ_1)
            s3.put_object(Bucket="genomics", Key=f"incoming/{day}/{sample}_R2.fastq", Body=FASTQ_2)
    settings = {
        "OMICS_DEMO_BUCKET": "genomics",
        "OMICS_SEQUENCE_STORE_ID": store["id"],
        "OMICS_SEQUENCE_STORE_ARN": store["arn"],
        "OMICS_WORKFLOW_ID": workflow["id"],
        "OMICS_REFERENCE_URI": "s3://genomics/ref/chr1.fa",
        "OMICS_WAITER_DELAY": "1",
    }
    # Before the consumer exists, another DAG adds a read set (an upload) and says so on the same Asset.
    earlier = omics.start_read_set_import_job(
        sequenceStoreId=store["id"],
        roleArn=ROLE_ARN,
        sources=[
            {
                "sourceFiles": {
                    "source1": f"s3://genomics/incoming/{days[0]}/NA12878_R1.fastq",
                    "source2": f"s3://genomics/incoming/{days[0]}/NA12878_R2.fastq",
                },
                "sourceFileType": "FASTQ",
                "subjectId": "earlier",
                "sampleId": "earlier",
                "name": "earlier",
            }
        ],
    )
    done = until(
        lambda: omics.get_read_set_import_job(sequenceStoreId=store["id"], id=earlier["id"]), status_in("COMPLETED")
    )
    uploaded = done["sources"][0]["readSetId"]
    airflow.add_dag("uploads_before", UPLOADS_BEFORE.format(uri=read_sets_in(store["arn"]), read_set=uploaded))
    before = airflow.trigger("uploads_before")
    airflow.wait_for(lambda: airflow.dag_run("uploads_before", before)["state"] == "success", "the earlier upload")

    airflow.add_dag("omics_call_new_reads", example_dag("omics_call_new_reads", settings))
    # Triggered by hand for two dates, instead of a month of daily catch-up runs.
    ingest = example_dag("omics_daily_ingest", settings, ('schedule="@daily"', "schedule=None"))
    airflow.add_dag("omics_daily_ingest", ingest)

    def consumer_runs() -> list[dict]:
        return airflow.dag_runs("omics_call_new_reads")

    for count, day in enumerate(days, start=1):
        run_id = airflow.trigger("omics_daily_ingest", logical_date=f"{day}T00:00:00Z")
        airflow.wait_for(lambda r=run_id: airflow.dag_run("omics_daily_ingest", r)["state"] == "success", "the ingest")
        airflow.wait_for(
            lambda n=count: len(consumer_runs()) == n and consumer_runs()[-1]["state"] in ("success", "failed"),
            "the DAG scheduled on the read sets to run and end",
        )
        consumer = consumer_runs()[-1]
        assert consumer["state"] == "success"
        assert consumer["run_type"] == ("asset_triggered" if AIRFLOW_V_3_0_PLUS else "dataset_triggered")
        jobs = omics.list_read_set_import_jobs(sequenceStoreId=store["id"])["importJobs"]
        events = airflow.consumed_events("omics_call_new_reads", consumer["dag_run_id"])
        # A first asset-triggered run takes every earlier event (the upload from before the DAG existed) up
        # to Airflow 3.2; from 3.3, with catchup off, only those since the DAG started scheduling on them.
        earlier_too = count == 1 and not AIRFLOW_V_3_3_PLUS
        kinds = sorted(event["extra"]["kind"] for event in events)
        assert kinds == (["read_set_import", "read_set_upload"] if earlier_too else ["read_set_import"]), events
        read_sets = {r for event in events for r in event["extra"]["readSetIds"].split(",")}
        runs = {run["name"] for run in omics.list_runs(maxResults=100)["items"]}
        assert len(read_sets) == 3 + earlier_too and {f"calling-{r}" for r in read_sets} <= runs, (events, runs)
        assert len(jobs) == count + 1
    # One run per read set the events named, none twice.
    assert len(omics.list_runs(maxResults=100)["items"]) == 3 * len(days) + (not AIRFLOW_V_3_3_PLUS)


@pytest.mark.skipif(
    AIRFLOW_V_3_1_PLUS and not AIRFLOW_V_3_3_PLUS, reason="the oldest stacks (2.11, 3.0) and the newest (3.3)"
)
@pytest.mark.filterwarnings("ignore:Tried to parse AWS..SQS..QueuePolicy")  # moto deploys no queue policy
def test_a_dag_starts_once_per_run_completed_outside_airflow_even_across_a_triggerer_restart(airflow, emulator, omics):
    """The example on HealthOmics' events (``omics_on_run_completed``): an AssetWatcher's trigger on Airflow 3, a
    deferred sensor in a continuous DAG on 2.11. Runs started with boto3, as a console or a Lambda would, each start
    the DAG once; a run that completes while the triggerer is down starts it when a triggerer is back."""
    from test_event_plumbing import TEMPLATE

    cloudformation = emulator.client("cloudformation")
    cloudformation.create_stack(StackName="omics-events", TemplateBody=TEMPLATE.read_text())
    outputs = cloudformation.describe_stacks(StackName="omics-events")["Stacks"][0]["Outputs"]
    queue = next(output["OutputValue"] for output in outputs if output["OutputKey"] == "DagEventsQueueUrl")
    emulator.backend.step_seconds = 1
    workflow = omics.create_workflow(name="variant-calling", definitionZip=workflow_zip(), requestId="vc")
    emulator.transition("workflow", workflow["id"], "ACTIVE")
    settings = {"OMICS_DAG_EVENTS_QUEUE": queue, "OMICS_WORKFLOW_NAME": "variant-calling"}
    airflow.add_dag("omics_on_run_completed", example_dag("omics_on_run_completed", settings))
    dag_id = "omics_on_run_completed"

    def completed_dag_runs() -> list[dict]:
        return [run for run in airflow.dag_runs(dag_id) if run["state"] == "success"]

    def started_on(dag_run: dict) -> list[str]:
        """The HealthOmics runs a DAG run was started on: its asset events (3.x), its sensor's XCom (2.11)."""
        if AIRFLOW_V_3_0_PLUS:
            events = airflow.consumed_events(dag_id, dag_run["dag_run_id"])
            return [event["extra"]["payload"]["ids"]["id"] for event in events]
        return [airflow.xcom(dag_id, dag_run["dag_run_id"], "run_completed")["ids"]["id"]]

    def start_run(name: str) -> str:
        run = omics.start_run(
            workflowId=workflow["id"], roleArn=ROLE_ARN, name=name, outputUri="s3://genomics/runs/", requestId=name
        )
        return run["id"]

    def listening() -> bool:
        if AIRFLOW_V_3_0_PLUS:  # the asset's watcher
            return f"Listening on {queue}" in airflow.log("triggerer")
        runs = airflow.dag_runs(dag_id)  # the continuous DAG's sensor
        return bool(runs) and airflow.task(dag_id, runs[-1]["dag_run_id"], "run_completed")["state"] == "deferred"

    airflow.wait_for(listening, "the triggerer to listen", timeout=240)
    first = start_run("outside-1")
    airflow.wait_for(lambda: len(completed_dag_runs()) == 1, "a DAG run for the first run", timeout=240)
    assert started_on(completed_dag_runs()[0]) == [first]

    airflow.kill("triggerer")
    second = start_run("outside-2")
    until(lambda: omics.get_run(id=second), status_in("COMPLETED"), timeout=60)  # its event waits on the queue
    airflow.start_service("triggerer")
    airflow.wait_for(lambda: len(completed_dag_runs()) == 2, "a DAG run for the run that ended meanwhile", timeout=300)
    assert started_on(completed_dag_runs()[1]) == [second]

    time.sleep(10)  # nothing more comes: each run started the DAG once
    assert [ids for run in completed_dag_runs() for ids in started_on(run)] == [first, second]

"""Recording a DAG run's calls (``recording.py``), redacting them (``redaction.py``) and replaying the recording
against the emulator (``replay.py``): the path a real account's evidence takes, walked here against the emulator."""

from __future__ import annotations

import io
import json
import re

from replay import recordings, replay, unexplained
from shapes import answer_shape, paths

from airflow_provider_omics.recording import finish, read_raw

ACCOUNT = "987654321098"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDk" + "Zm9vYmFy" * 12
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
PLANTED = {
    "account id": ACCOUNT,
    "bucket": "acme-clinical-genomics",
    "S3 key part": "patient-7f3a",
    "sample name": "NA12878",
    "subject": "jane-doe-1984",
    "role name": "AcmeOmicsRunner",
    "user name": "alice.smith",
    "tag key": "cost-centre",
    "tag value": "oncology-trial-42",
    "secret key": SECRET_KEY,
    "session token": SESSION_TOKEN,
    "access key id": ACCESS_KEY,
    "e-mail": "alice@acme.example",
    "signature": "X-Amz-Signature=5b2c0a",
    "description": "tumour normal pairs of ward 9",
    "repository": "acme-private-tools",
    "queue": "acme-omics-events",
}
RUN_ARN = f"arn:aws:omics:eu-west-1:{ACCOUNT}:run/7654321"
OUTPUT = "s3://acme-clinical-genomics/patient-7f3a/runs/"
READS = "s3://acme-clinical-genomics/patient-7f3a/NA12878_R1.fastq.gz"
IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/acme-private-tools/aligner:2.1"
EVENT = {
    "version": "0",
    "id": "2b9c5f0e-4f6a-4b8e-9f3d-6c1a2b3c4d5e",
    "detail-type": "Run Status Change",
    "source": "aws.omics",
    "account": ACCOUNT,
    "time": "2026-12-06T10:05:00Z",
    "region": "eu-west-1",
    "resources": [RUN_ARN],
    "detail": {"omicsVersion": "1.0.0", "arn": RUN_ARN, "status": "FAILED", "runId": "7654321", "runName": "NA12878"},
}


def planted_recording() -> list[dict]:
    """A raw recording of a run that failed, with every kind of thing redaction must remove planted in it."""

    def call(seconds: int, service: str, operation: str, request: dict, status: int = 200, **outcome) -> dict:
        return {
            "time": f"2026-12-06T10:0{seconds // 60}:{seconds % 60:02d}+00:00",
            "process": "worker-1",
            "region": "eu-west-1",
            "service": service,
            "operation": operation,
            "request": request,
            "status": status,
            **outcome,
        }

    run = {
        "arn": RUN_ARN,
        "id": "7654321",
        "name": "NA12878",
        "status": "FAILED",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/AcmeOmicsRunner",
        "startedBy": f"arn:aws:iam::{ACCOUNT}:user/alice.smith",
        "outputUri": OUTPUT,
        "parameters": {"reads": READS, "sample_name": "NA12878", "aws_secret": SECRET_KEY, "image": IMAGE},
        "tags": {"cost-centre": "oncology-trial-42"},
        "failureReason": "RUN_TASK_FAILED",
        "statusMessage": f"Task align of run NA12878 could not read {READS}",
        "creationTime": "2026-12-06T10:00:00+00:00",
        "resourceDigests": {READS: "sha256:" + "ab" * 32},
    }
    queue = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/acme-omics-events"
    log_lines = [
        f"Reading {READS} as {ACCESS_KEY} with {SECRET_KEY} for alice@acme.example",
        f"token {SESSION_TOKEN} account {ACCOUNT}",
        "GET https://acme-clinical-genomics.s3.amazonaws.com/x?X-Amz-Signature=5b2c0a&X-Amz-Credential=AKIA",
        json.dumps({"arn": RUN_ARN, "name": "NA12878", "subjectId": "jane-doe-1984", "status": "FAILED"}),
    ]
    return [
        call(
            0,
            "omics",
            "StartRun",
            {
                "workflowId": "1234567",
                "roleArn": run["roleArn"],
                "name": "NA12878",
                "outputUri": OUTPUT,
                "parameters": run["parameters"],
                "tags": run["tags"],
                "requestId": "NA12878-try-1",
            },
            201,
            answer={"arn": RUN_ARN, "id": "7654321", "status": "PENDING", "tags": run["tags"]},
        ),
        call(1, "omics", "GetRun", {"id": "7654321"}, answer={**run, "status": "RUNNING"}),
        call(2, "omics", "GetRun", {"id": "7654321"}, answer={**run, "status": "RUNNING"}),
        call(3, "omics", "GetRun", {"id": "7654321"}, answer=run),
        call(
            4,
            "omics",
            "CreateSequenceStore",
            {"name": "jane-doe-1984", "description": "tumour normal pairs of ward 9"},
            400,
            error={"code": "ValidationException", "message": f"User: arn:aws:iam::{ACCOUNT}:user/alice.smith denied"},
        ),
        call(
            5,
            "logs",
            "GetLogEvents",
            {"logGroupName": "/aws/omics/WorkflowLog", "logStreamName": "run/7654321/task/1111111"},
            answer={"events": [{"timestamp": 1, "message": line, "ingestionTime": 2} for line in log_lines]},
        ),
        call(
            6,
            "sqs",
            "ReceiveMessage",
            {"QueueUrl": queue, "MaxNumberOfMessages": 10},
            answer={"Messages": [{"MessageId": "m-1", "ReceiptHandle": "AQEB" + "x" * 60, "Body": json.dumps(EVENT)}]},
        ),
    ]


def test_redaction_leaves_nothing_planted_and_keeps_relations_and_shapes(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    calls = planted_recording()
    (raw / "worker-1.jsonl").write_text("".join(json.dumps(call) + "\n" for call in calls))
    shown = io.StringIO()
    asked = []

    def confirm(question: str) -> bool:
        asked.append((question, shown.getvalue(), list(tmp_path.glob("2026-*"))))
        return True

    written = finish(tmp_path, confirm=confirm, out=shown)

    question, summary_then, folders_then = asked[0]
    assert folders_then == [] and "Replaced by placeholders" in summary_then  # shown before anything is written
    assert "1 account id" in summary_then and "omics 5, logs 1, sqs 1" in summary_then
    assert written == tmp_path / "2026-12-06-eu-west-1" and str(written) in question
    assert not list(raw.glob("*.jsonl"))  # the unredacted calls are gone once the recording is written
    text = "\n".join(path.read_text() for path in written.glob("*.json"))
    survived = {what: value for what, value in PLANTED.items() if value.lower() in text.lower()}
    assert survived == {}
    recorded = json.loads((written / "calls.json").read_text())
    start, *polls = [c for c in recorded if c["operation"] in ("StartRun", "GetRun")]
    assert [poll.get("repeated", 1) for poll in polls] == [2, 1]  # the same answer twice: kept once, counted
    final = polls[-1]["answer"]
    # relations: the same bucket, key parts, name and account everywhere; the service's ids and tokens kept
    assert final["outputUri"] == start["request"]["outputUri"] and final["name"] == start["request"]["name"]
    assert final["parameters"]["reads"].startswith(final["outputUri"].rsplit("/", 2)[0])
    assert final["parameters"]["reads"].endswith(".fastq.gz") and final["id"] == "7654321"
    assert final["status"] == "FAILED" and final["failureReason"] == "RUN_TASK_FAILED"
    assert final["statusMessage"] == f"Task align of run {final['name']} could not read {final['parameters']['reads']}"
    assert re.fullmatch(r"arn:aws:omics:eu-west-1:\d{12}:run/7654321", final["arn"])
    assert final["arn"].split(":")[4] == final["roleArn"].split(":")[4] != ACCOUNT
    # shapes: a redacted answer is read as the recorded one was (ids, ARNs, URIs, timestamps)
    assert paths(answer_shape("GetRun", final)) == paths(answer_shape("GetRun", calls[3]["answer"]))
    events = json.loads((written / "events.json").read_text())
    assert events[0]["detail"]["runId"] == "7654321" and events[0]["detail"]["status"] == "FAILED"
    assert events[0]["account"] == final["arn"].split(":")[4]
    lines = [event["message"] for event in recorded[-2]["answer"]["events"]]
    assert json.loads(lines[3])["status"] == "FAILED" and final["parameters"]["reads"] in lines[0]


def test_nothing_is_written_unless_the_user_says_so(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "worker-1.jsonl").write_text(json.dumps(planted_recording()[0]) + "\n")
    shown = io.StringIO()
    assert finish(tmp_path, confirm=lambda _: False, out=shown) is None
    assert "Replaced by placeholders" in shown.getvalue() and "Nothing written" in shown.getvalue()
    assert [path.name for path in tmp_path.iterdir()] == ["raw"] and list(raw.glob("*.jsonl"))


def test_a_dag_run_records_through_its_connection_and_the_recording_replays(
    run_dag, emulator, s3, events_queue, tmp_path
):
    """The opt-in for any DAG run: ``omics_record_to`` in the connection's extra. The worker's calls, the
    triggerer's waits and the events its queue delivered are recorded, redacted, and replayed clean."""
    folder = tmp_path / "recording"
    heard_on = events_queue(name="heard")  # the sensor's queue; the connection's waits read a queue of their own
    events_queue(omics_record_to=str(folder))
    emulator.add_outcome("run", "fails", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR")
    (tmp_path / "main.wdl").write_bytes(b"version 1.0\nworkflow w { input { String sample_name } }\n")
    _, tis = run_dag(
        f"""
        with DAG("test_dag", start_date=START, schedule=None) as dag:
            store = OmicsCreateSequenceStoreOperator(task_id="store", name="samples", deferrable=True)
            workflow = OmicsCreateWorkflowOperator(
                task_id="workflow", name="wf", definition_path="{tmp_path / "main.wdl"}", deferrable=True
            )
            settings = dict(workflow_id=workflow.output["id"], role_arn=ROLE, output_uri="s3://genomics/runs/")
            run = OmicsStartRunOperator(
                task_id="run", name="ok", parameters={{"sample_name": "NA12878"}}, deferrable=True, **settings
            )
            heard = OmicsEventSensor(task_id="heard", queue_url="{heard_on}", kind="run", match={{"runName": "ok"}})
            run >> heard
            fails = OmicsStartRunOperator(
                task_id="fails", name="fails", parameters={{"sample_name": "NA12879"}}, deferrable=True, **settings
            )
        """
    )
    assert {t: ti.state for t, ti in tis.items()} == {
        "store": "success",
        "workflow": "success",
        "run": "success",
        "heard": "success",
        "fails": "failed",
    }
    raw = read_raw(folder)
    assert {c["service"] for c in raw} >= {"omics", "sqs"}
    assert any(c["operation"] == "ReceiveMessage" and c.get("answer", {}).get("Messages") for c in raw)
    written = finish(folder, confirm=lambda _: True, out=io.StringIO())
    assert written is not None and recordings(tmp_path / "recording") == [written]  # found with no code change
    text = "\n".join(path.read_text() for path in written.glob("*.json"))
    assert "123456789012" not in text and "NA12878" not in text and "genomics" not in text
    assert {e["detail-type"] for e in json.loads((written / "events.json").read_text())} >= {"Run Status Change"}

    calls = json.loads((written / "calls.json").read_text())
    assert len([call for call in calls if call["service"] == "omics"]) >= 10

    emulator.reset()
    found = replay(written, emulator)
    assert [str(d) for d in unexplained(found)] == [], "\n".join(str(d) for d in unexplained(found))

    # A recording that says the service answered otherwise is caught, at the call and member that differ.
    polled = next(index for index, call in enumerate(calls) if call["operation"] == "GetRun")
    calls[polled]["answer"]["retentionMode"] = "FOREVER"
    (written / "calls.json").write_text(json.dumps(calls))
    emulator.reset()
    assert [(d.call, d.path) for d in replay(written, emulator)] == [(polled, "retentionMode")]

"""The emulator's answers against recorded answers of the real service, shape to shape.

``tests/corpus/errors.json``: errors users met and quoted in public issues, each with the call that got it.

``tests/corpus/aws-cli/``: the shapes of the outputs AWS publishes for each ``aws omics`` command in the AWS
CLI's examples (``scripts/collect_corpus.py`` records them; each file names its source and commit). The
tour (``tests/tour.py``) makes every call once against the emulator; for each recorded answer, every key
the service returned is in the emulator's answer to the same operation, in the same format (ids, ARNs,
S3 URIs, timestamps, types). What differs on purpose, or because the recording caught another moment
of the job, is listed in ``EXPLAINED`` with the reason.

``tests/corpus/events/``: the EventBridge events the service sends when things change status: the detail
fields of each detail type in EventBridge's schema registry (``schema-*``), an event AWS quotes in a sample
(``recorded-*``), and what AWS's own consumers read of them (``consumer-*``). The tour runs with a rule
that sends every ``aws.omics`` event to an SQS queue, as a user's rule would, and the events the queue
gets are held against them.

``tests/corpus/recordings/``: what the service answered on a real account (``make system-test``, or any DAG
run whose connection has ``omics_record_to``), redacted; each recording is replayed against the emulator call
by call (``tests/replay.py``), its differences explained in ``known-differences.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import ROLE_ARN
from replay import known_differences, recordings, replay, unexplained
from shapes import answer_shape, differences, shape_of
from tour import run_tour, workflow_zip
from waiting import status_in, until

from airflow_provider_omics.event_source import OmicsEvent
from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.service_model import service_model, snake

CORPUS = Path(__file__).resolve().parent / "corpus"
RECORDS = [json.loads(path.read_text()) | {"file": path.name} for path in sorted(CORPUS.glob("aws-cli/*.json"))]

# (operation, path): why the emulator's answer differs there. A difference not listed fails the test.
MODEL_NOW = "botocore's model, which every SDK parses, has no such member today; the CLI example is older"
EXPLAINED: dict[tuple[str, str], str] = {
    # The examples disagree with the model: the model wins (a parsed answer cannot carry what it lacks).
    ("CreateShare", "name"): f"{MODEL_NOW} (it is shareName)",
    ("GetShare", "share.name"): f"{MODEL_NOW} (it is shareName)",
    ("CreateAnnotationStoreVersion", "reference.referenceArn"): MODEL_NOW,
    **{
        ("UpdateRunGroup", path): "UpdateRunGroup answers with no body in the model; the example shows GetRunGroup's"
        for path in ("arn", "creationTime", "id", "maxCpus", "maxDuration", "name", "tags")
    },
    # The recording caught a case the tour does not make.
    ("ListMultipartReadSetUploads", "uploads[].referenceArn"): (
        "the recorded list has a BAM upload, made with its reference; the tour's uploads are FASTQ, made without"
    ),
    ("GetReadSetImportJob", "sources[].sourceFiles.source2"): (
        "the recorded job's first source was single-ended, for which the service writes source2 as an empty "
        "string; the tour's sources are pairs, and a single-ended one has no source2 in the emulator"
    ),
    **{
        ("CreateAnnotationStore-2", path): "a TSV annotation store; the tour's is GFF, which has no TSV options"
        for path in (
            "storeOptions.tsvStoreOptions.annotationType",
            "storeOptions.tsvStoreOptions.formatToHeader.*",
            "storeOptions.tsvStoreOptions.schema[].*",
        )
    },
}


def test_the_corpus_covers_every_job_kind_and_cites_its_sources():
    assert len(RECORDS) >= 40
    operations = {record["operation"] for record in RECORDS}
    kinds = {kind.operation for kind in JOB_KINDS.values()} | {k.list_operation for k in JOB_KINDS.values()}
    assert len(kinds & operations) >= 30, sorted(kinds - operations)
    for record in RECORDS:
        source = record["source"]
        assert source["url"].startswith("https://github.com/aws/aws-cli/blob/") and len(source["commit"]) == 40


def test_the_emulator_answers_in_the_recorded_shapes(omics, s3):
    every: dict[str, list[dict]] = {}
    run_tour(omics, s3, every)
    unexplained = []
    for record in RECORDS:
        operation = record["operation"]
        answered = [answer_shape(operation, answer) for answer in every[operation]]
        for path, what in differences(record["shape"], answered):
            if (operation, path) not in EXPLAINED and (record["file"][:-5], path) not in EXPLAINED:
                unexplained.append(f"{record['file']} {path}: {what}")
    assert unexplained == [], "\n".join(unexplained)


def test_the_provider_knows_every_status_the_service_was_recorded_in():
    """Each recorded describe of a job kind: its status is one the job table waits through or ends on."""
    checked = 0
    for record in RECORDS:
        for kind in JOB_KINDS.values():
            if kind.operation != record["operation"]:
                continue
            status = kind.status_of(record["shape"])
            if status == "UNKNOWN":  # recorded before the API gave this kind a status (stores before 2024)
                continue
            known = kind.success_states | kind.failure_states | kind.intermediate_states
            assert status in known, f"{record['file']}: {kind.name} status {status} is not in the job table"
            checked += 1
    assert checked >= 15


ERRORS = {record["name"]: record for record in json.loads((CORPUS / "errors.json").read_text())}


def provoke(name: str, omics, emulator, workflow_id: str) -> None:
    """The call that got the recorded error from the service, made to the emulator."""
    ready2run = omics.list_workflows(type="READY2RUN")["items"][0]["id"]
    if name == "ready2run-workflow-started-as-private":
        omics.start_run(workflowId=ready2run, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId="r2r")
    elif name == "ready2run-workflow-described-as-private":
        omics.get_workflow(id=ready2run)
    elif name == "parameter-template-description-too-long":
        template = {"joint_mutect2": {"description": "x" * 300, "optional": True}}
        omics.create_workflow(name="sarek", definitionZip=workflow_zip(), parameterTemplate=template, requestId="t")
    elif name == "runs-started-in-a-loop":
        emulator.quotas.enabled = True
        for number in range(5):
            omics.start_run(
                workflowId=workflow_id, roleArn=ROLE_ARN, outputUri="s3://genomics/runs/", requestId=f"loop-{number}"
            )


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_the_emulator_fails_where_the_service_was_recorded_failing_and_in_its_words(name, omics, s3, emulator):
    record = ERRORS[name]
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    with pytest.raises(ClientError) as raised:
        provoke(name, omics, emulator, workflow["id"])
    error = raised.value.response
    assert error["Error"]["Code"] == record["code"], record["source"]
    assert re.search(record["message"], error["Error"]["Message"]), (error["Error"]["Message"], record["source"])
    modelled = {s.name: s.metadata.get("error", {}).get("httpStatusCode") for s in service_model().error_shapes}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == modelled[record["code"]]


EVENTS = {path.stem: json.loads(path.read_text()) for path in sorted((CORPUS / "events").glob("*.json"))}
SCHEMAS = {
    record["detail-type"]: set(record["detail"]) for name, record in EVENTS.items() if name.startswith("schema-")
}
# what AWS's own consumers of the events read, and the statuses they act on: the service sends them
CONSUMERS = [record for name, record in EVENTS.items() if name.startswith("consumer-")]
READ = {record["detail-type"]: set(record["reads"]) for record in CONSUMERS}
ACTED_ON = {record["detail-type"]: set(record["statuses"]) for record in CONSUMERS}
# the detail fields the user guide documents for a detail type: the service sends them
DOCUMENTED = {
    record["detail-type"]: set(record["documents"]) for name, record in EVENTS.items() if name.startswith("guide-")
}
# of those statuses, the ones the tour brings things to
ACTED_ON_IN_THE_TOUR = {
    "Read Set Status Change": {"ACTIVE", "DELETED"},
    "Run Status Change": {"COMPLETED", "CANCELLED"},
}
NO_JOB_ARN = "no source shows an analytics import job's ARN (the API gives the jobs none); the emulator sends none"
# (detail type, detail field): why the emulator's events leave out a field the schema has
EVENT_FIELDS_EXPLAINED = {
    ("Variant Import Job Status Change", "arn"): NO_JOB_ARN,
    ("Annotation Import Job Status Change", "arn"): NO_JOB_ARN,
}
# (recorded event, path): why the emulator's event differs there
EVENT_EXPLAINED = {
    ("recorded-RunStatusChange", "id"): "the sample masked the event id (4c338660-...-aakjhfjkaf is not a UUID)",
}


def test_the_event_corpus_cites_its_sources():
    assert len(SCHEMAS) >= 12
    for record in EVENTS.values():
        if record["source"]["url"].startswith("https://docs.aws.amazon.com/"):  # the user guide: a page, no commit
            continue
        assert record["source"]["url"].startswith("https://github.com/"), record
        assert len(record["source"]["commit"]) == 40


def test_the_emulator_sends_the_services_events_in_the_recorded_shapes(omics, s3, omics_events):
    run_tour(omics, s3)
    by_type: dict[str, list[dict]] = {}
    for event in omics_events():
        assert event["source"] == "aws.omics" and event["account"] == "123456789012", event
        assert event["detail-type"] in SCHEMAS, f"an event the service does not send: {event}"
        by_type.setdefault(event["detail-type"], []).append(event)
    unexplained = []
    for detail_type, fields in SCHEMAS.items():
        sent = by_type.get(detail_type, [])
        assert sent, f"no {detail_type} event"
        keys = set().union(*(event["detail"] for event in sent))
        read, documented = READ.get(detail_type, set()), DOCUMENTED.get(detail_type, set())
        known = fields | read | documented
        assert keys <= known, f"{detail_type}: fields the service does not send: {keys - known}"
        assert read <= keys, f"{detail_type}: fields AWS's samples read are missing: {read - keys}"
        assert documented <= keys, f"{detail_type}: fields the user guide documents are missing: {documented - keys}"
        unexplained += [
            f"{detail_type}: {field} missing"
            for field in fields - keys
            if (detail_type, field) not in EVENT_FIELDS_EXPLAINED
        ]
        assert all(event["detail"]["omicsVersion"] == "1.0.0" for event in sent)
        acted_on = ACTED_ON_IN_THE_TOUR.get(detail_type, set())
        assert acted_on <= ACTED_ON.get(detail_type, set())  # the tour list names only what consumers act on
        assert acted_on <= {event["detail"]["status"] for event in sent}, f"{detail_type}: {acted_on} not all sent"
    for name, record in EVENTS.items():
        if name.startswith("recorded-"):
            shapes = [shape_of(event) for event in by_type[record["detail-type"]]]
            unexplained += [
                f"{name} {path}: {what}"
                for path, what in differences(record["shape"], shapes)
                if (name, path) not in EVENT_EXPLAINED
            ]
    assert unexplained == [], "\n".join(unexplained)


def test_every_event_names_a_job_the_provider_can_describe(emulator, omics, s3, omics_events):
    """What event-driven waits rely on: the job table finds the kind and ids of each event, and they describe it."""
    run_tour(omics, s3)
    omics = emulator.client()  # the tour's client records what it is answered
    named_kinds, described_kinds = set(), set()
    for body in omics_events():
        event = OmicsEvent.parse(json.dumps(body))
        assert event is not None, body
        if body["detail-type"] == "Task Status Change":  # waits on tasks poll (jobs.py)
            assert event.kind is None
            continue
        assert event.kind is not None and event.ids is not None, body
        named_kinds.add(event.kind.name)
        try:
            described = getattr(omics, snake(event.kind.operation))(**event.ids)
        except omics.exceptions.ResourceNotFoundException:  # deleted later in the tour
            continue
        assert event.kind.status_of(described) in event.kind.terminal_states | event.kind.intermediate_states
        described_kinds.add(event.kind.name)
    assert named_kinds == {name for name, job in JOB_KINDS.items() if job.event is not None}
    assert {"run", "read_set_import", "reference_import", "variant_import"} <= described_kinds  # the rest deleted


def test_the_provider_knows_every_status_the_services_events_were_seen_with():
    """Each status a recorded event or AWS's own consumer of events names is one the job table knows."""
    kinds = {"Run Status Change": JOB_KINDS["run"], "Read Set Status Change": JOB_KINDS["read_set"]}
    checked = 0
    for record in EVENTS.values():
        statuses = record.get("statuses") or [record.get("shape", {}).get("detail", {}).get("status")]
        for status in filter(None, statuses):
            kind = kinds[record["detail-type"]]
            assert status in kind.success_states | kind.failure_states | kind.intermediate_states, (status, record)
            checked += 1
    assert checked >= 9


@pytest.mark.parametrize(
    "recording",
    recordings() or [pytest.param(None, marks=pytest.mark.skip(reason="no recording from an account yet"))],
    ids=lambda folder: getattr(folder, "name", "none"),
)
def test_the_emulator_answers_every_recorded_call_as_the_service_did(recording, emulator):
    """Each recording of ``tests/corpus/recordings/`` (``make system-test`` on an account, or any DAG run with
    ``omics_record_to``), replayed against the emulator: every difference fixed or explained."""
    found = unexplained(replay(recording, emulator))
    assert found == [], "\n".join(map(str, found))


def test_every_known_difference_of_a_recording_says_why():
    for entry in known_differences():
        assert set(entry) == {"operation", "path", "why"} and len(entry["why"]) > 20, entry


MANIFEST_FIELDS = json.loads((CORPUS / "manifests" / "consumer-monitoring-sample.json").read_text())


def test_a_run_manifest_has_every_field_awss_monitoring_sample_reads(emulator, omics, logs):
    """A failed run's manifest: a completed and a failed task, then the run; together, every field of each line
    the sample types (a failed line carries failureReason and statusMessage)."""
    emulator.add_outcome("run", "failing", "FAILED", failure_reason="OUT_OF_MEMORY_ERROR", task="call_variants")
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf")["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    run = omics.start_run(workflowId=workflow, roleArn=ROLE_ARN, outputUri="s3://genomics/o/", name="failing")
    described = until(lambda: omics.get_run(id=run["id"]), status_in("FAILED"))
    stream = f"manifest/run/{run['id']}/{described['uuid']}"
    found = logs.get_log_events(logGroupName="/aws/omics/WorkflowLog", logStreamName=stream, startFromHead=True)
    lines = [json.loads(event["message"]) for event in found["events"]]
    tasks, (run_line,) = lines[:-1], lines[-1:]
    assert ":run/" in run_line["arn"] and all(":task/" in task["arn"] for task in tasks)
    assert set(MANIFEST_FIELDS["run"]) - set(run_line) == set()
    assert set(MANIFEST_FIELDS["task"]) - set().union(*tasks) == set()
    assert {task["run"] for task in tasks} == {described["arn"]} and run_line["workflow"].endswith(f"/{workflow}")

"""The emulator's answers against recorded answers of the real service, shape to shape.

``tests/corpus/errors.json``: errors users met and quoted in public issues, each with the call that got it.

``tests/corpus/aws-cli/``: the shapes of the outputs AWS publishes for each ``aws omics`` command in the AWS
CLI's examples (``scripts/collect_corpus.py`` records them; each file names its source and commit). The
tour (``tests/tour.py``) makes every call once against the emulator; for each recorded answer, every key
the service returned is in the emulator's answer to the same operation, in the same format (ids, ARNs,
S3 URIs, timestamps, types). What differs on purpose, or because the recording caught another moment
of the job, is listed in ``EXPLAINED`` with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import ROLE_ARN
from shapes import answer_shape, paths, same_kind
from tour import run_tour, workflow_zip
from waiting import status_in, until

from airflow_provider_omics.jobs import JOB_KINDS
from airflow_provider_omics.service_model import service_model

CORPUS = Path(__file__).resolve().parent / "corpus"
RECORDS = [json.loads(path.read_text()) | {"file": path.name} for path in sorted(CORPUS.glob("*/*.json"))]

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


def differences(recorded: dict, answers: list[dict]) -> list[tuple[str, str]]:
    """(path, what differs) for each leaf of the recorded shape that no answer has, or has in another format."""
    mine: dict[str, str] = {}
    for answer in answers:  # the answers of every moment of the tour: a job asked for while running, done, ...
        for path, found_format in paths(answer).items():
            mine.setdefault(path, found_format)
    found = []
    for path, expected in paths(recorded).items():
        if expected in ("object", "empty"):  # an empty map or list in the recording: any content matches
            if not any(p == path or p.startswith((f"{path}.", f"{path}[")) for p in mine):
                found.append((path, "missing"))
        elif path not in mine:
            found.append((path, "missing"))
        elif not same_kind(expected, mine[path]):
            found.append((path, f"recorded {expected}, answered {mine[path]}"))
    return found


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

"""A recording (``tests/corpus/recordings/<date>-<region>/``, written by ``airflow_provider_omics.recording``)
replayed against the emulator, call after call, and the answers held against the recorded ones.

What a recording cannot carry is made up, the same way every time: the data (S3 objects the calls name, by
their file extension; a workflow's definition, one task, with the parameter template the service gave the
recorded workflow; a read set's parts, reads), the account's roles and images (the role ARNs and ECR images
the calls name), and what the service did with that data (a run the recording saw fail fails in the emulator
with the recorded reason). Ids the service gave are bound as the replay goes: the emulator's answer to the
call that made a thing gives the id, ARN or token the later calls name it by (relations survive redaction).

HealthOmics and CloudWatch Logs calls are replayed (the emulator's behaviour); EventBridge, SQS and S3 calls
are moto's, not replayed: the events a queue delivered in the recording are held against those the emulator
sends during the replay, detail type by detail type. A read is made again until the emulator's answer has the
recorded shape (its job at the recorded moment) or its job has ended, and every answer on the way counts.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from shapes import answer_shape, differences, shape_of
from tour import FASTA, FASTQ_1, FASTQ_2, GFF, VCF

from airflow_provider_omics.emulator.iam import SERVICE_ROLE_POLICY, TRUST
from airflow_provider_omics.emulator.models.base import ACCOUNT_ID
from airflow_provider_omics.recording import jsonable
from airflow_provider_omics.service_model import snake

RECORDINGS = Path(__file__).resolve().parent / "corpus" / "recordings"
KNOWN = RECORDINGS / "known-differences.json"
REPLAYED = ("omics", "logs")
REGION = "us-east-1"
POLL_FOR = 10.0  # seconds a read is repeated for, at most, to meet the recorded answer's moment
ENDED_FOR = 1.0  # once its job has ended (a log line or a manifest may still come) or it is refused
STEP_SECONDS = 0.2  # the emulator's clock while replaying: each status lasts long enough for a poll to see it
ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "DELETED", "ACTIVE", "PROCESSED", "RUNS_DELETED", "READY"})
SYNTHETIC_WDL = b"""version 1.0
workflow replayed {
  call work
}
task work {
  command { echo replayed }
  runtime { cpu: 1  memory: "2 GiB" }
  output { File out = stdout() }
}
"""
CONTENT = {".fastq": FASTQ_1, ".fq": FASTQ_1, ".fa": FASTA, ".fasta": FASTA, ".vcf": VCF, ".gff": GFF, ".gff3": GFF}
MATES = {"SOURCE1": FASTQ_1, "SOURCE2": FASTQ_2}


@dataclass(frozen=True)
class Difference:
    recording: str
    call: int  # its place in calls.json; -1: an event
    operation: str  # or an event's detail type
    path: str
    what: str

    def __str__(self) -> str:
        where = f"call {self.call}" if self.call >= 0 else "event"
        return f"{self.recording} {where} {self.operation} {self.path}: {self.what}"


def recordings(root: Path = RECORDINGS) -> list[Path]:
    """Every recording under ``root``: any folder with a ``calls.json`` (a new one needs no code)."""
    return sorted(path.parent for path in root.glob("*/calls.json")) if root.exists() else []


def known_differences() -> list[dict[str, str]]:
    return list(json.loads(KNOWN.read_text())["differences"])


def unexplained(found: list[Difference]) -> list[Difference]:
    """The differences ``known-differences.json`` does not explain (an ``operation`` of ``*``: any)."""
    known = {(entry["operation"], entry["path"]) for entry in known_differences()}
    return [d for d in found if (d.operation, d.path) not in known and ("*", d.path) not in known]


def replay(folder: Path, emulator: Any) -> list[Difference]:
    """Replay a recording on a clean emulator: every difference between its answers and the recorded ones."""
    return Replay(folder, emulator).run()


class Replay:
    def __init__(self, folder: Path, emulator: Any) -> None:
        self.name = folder.name
        self.source = json.loads((folder / "source.json").read_text())
        self.calls: list[dict[str, Any]] = json.loads((folder / "calls.json").read_text())
        events = folder / "events.json"
        self.events: list[dict[str, Any]] = json.loads(events.read_text()) if events.exists() else []
        self.emulator = emulator
        self.clients = {service: emulator.client(service, region_name=REGION) for service in REPLAYED}
        # recorded value -> the emulator's: the accounts and the region first, ids as the replay makes them
        self.bound: dict[str, str] = {self.source["region"]: REGION}
        self._pattern: re.Pattern[str] | None = None
        self.found: list[Difference] = []

    def run(self) -> list[Difference]:
        for account in {a for call in self.calls for a in re.findall(r"(?<!\d)\d{12}(?!\d)", json.dumps(call))}:
            self.bind(account, ACCOUNT_ID)
        queue = self.listen()
        self.provide()
        step, self.emulator.backend.step_seconds = self.emulator.backend.step_seconds, STEP_SECONDS
        try:
            for index, call in enumerate(self.calls):
                if call["service"] in REPLAYED:
                    self.replay_call(index, call)
        finally:
            self.emulator.backend.step_seconds = step
        self.compare_events(queue)
        return self.found

    # ---- values --------------------------------------------------------------------------------
    def bind(self, recorded: str, replayed: str) -> None:
        if recorded != replayed and len(recorded) >= 4:
            self.bound[recorded] = replayed
            self._pattern = None

    def substitute(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.substitute(k): self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if not isinstance(value, str):
            return value
        if value in self.bound:
            return self.bound[value]
        if self._pattern is None:
            words = sorted(self.bound, key=len, reverse=True)
            self._pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(w)}(?![\w])" for w in words) or "(?!x)x")
        return self._pattern.sub(lambda found: self.bound[found.group(0)], value)

    def align(self, recorded: Any, replayed: Any) -> None:
        """Bind each id, ARN, token and name of a recorded answer to the emulator's at the same place."""
        if isinstance(recorded, dict) and isinstance(replayed, dict):
            for key, value in recorded.items():
                if key in replayed and key not in ("status", "creationTime", "startTime", "stopTime"):
                    self.align(value, replayed[key])
        elif isinstance(recorded, list) and isinstance(replayed, list):
            for one, other in zip(recorded, replayed, strict=False):
                self.align(one, other)
        elif isinstance(recorded, str) and isinstance(replayed, str) and recorded not in self.bound:
            if re.fullmatch(r"[A-Z][A-Z0-9_]*|\d{4}-\d\d-\d\d.*", recorded):  # a token or a time: no relation
                return
            self.bind(recorded, replayed)
            if recorded.startswith("arn:") and replayed.startswith("arn:"):  # its parts: ids inside names
                for one, other in zip(re.split(r"[:/]", recorded), re.split(r"[:/]", replayed), strict=False):
                    if one.isdigit() and other.isdigit():
                        self.bind(one, other)

    # ---- what the recording does not carry ------------------------------------------------------
    def listen(self) -> tuple[Any, str]:
        """A rule sending every HealthOmics event to a queue, as the recording's account had."""
        sqs, events = self.emulator.client("sqs"), self.emulator.client("events")
        queue = sqs.create_queue(QueueName="replayed-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="replayed-events", EventPattern=json.dumps({"source": ["aws.omics"]}))
        events.put_targets(Rule="replayed-events", Targets=[{"Id": "queue", "Arn": arn}])
        return sqs, queue

    def provide(self) -> None:
        """The buckets, objects, roles and images the replayed calls name; the recorded runs' failures."""
        s3, iam = self.emulator.client("s3"), self.emulator.client("iam")
        text = json.dumps([self.substitute(c["request"]) for c in self.calls if c["service"] in REPLAYED])
        buckets = set()
        for uri in sorted(set(re.findall(r"s3://[^\"\s]+", text))):
            bucket, _, key = uri[len("s3://") :].partition("/")
            if bucket not in buckets:
                buckets.add(bucket)
                s3.create_bucket(Bucket=bucket)
            if key and not key.endswith("/"):
                s3.put_object(Bucket=bucket, Key=key, Body=content_for(key))
        for role in sorted(set(re.findall(r"arn:aws:iam::\d{12}:role/([\w+=,.@-]+)", text))):
            try:
                iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
                policy = json.dumps(SERVICE_ROLE_POLICY)
                iam.put_role_policy(RoleName=role, PolicyName="replayed", PolicyDocument=policy)
            except iam.exceptions.EntityAlreadyExistsException:
                pass
        for image in sorted(set(re.findall(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[^\"\s]+", text))):
            self.emulator.push_image(image)
        for call in self.calls:  # what the service did with data the recording does not hold
            answer = call.get("answer") or {}
            if call["operation"] == "GetRun" and answer.get("status") == "FAILED" and answer.get("name"):
                self.emulator.add_outcome(
                    "run",
                    answer["name"],
                    "FAILED",
                    failure_reason=answer.get("failureReason"),
                    message=answer.get("statusMessage"),
                )

    def request_of(self, call: dict[str, Any], index: int) -> dict[str, Any]:
        request = self.substitute(call["request"])
        for member, value in list(request.items()):
            if isinstance(value, dict) and set(value) == {"blob"}:
                request[member] = self.blob(call, member, request)
        if call["operation"] in ("CreateWorkflow", "CreateWorkflowVersion") and "parameterTemplate" not in request:
            template = self.template_given(call, index)
            if template is not None:  # the definition is made up: the recorded workflow's template goes with it
                request["parameterTemplate"] = self.substitute(template)
        return request

    def blob(self, call: dict[str, Any], member: str, request: dict[str, Any]) -> bytes:
        if member == "definitionZip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(request.get("main") or "main.wdl", SYNTHETIC_WDL)
            return buffer.getvalue()
        if call["operation"] == "UploadReadSetPart":
            return MATES.get(request.get("partSource", "SOURCE1"), FASTQ_1)
        return b"\0" * int(call["request"][member]["blob"] or 0)

    def template_given(self, call: dict[str, Any], index: int) -> Any:
        """The parameter template the service gave the workflow this call made (its later ``GetWorkflow``)."""
        made = (call.get("answer") or {}).get("id")
        for later in self.calls[index + 1 :]:
            if (
                later["operation"] == call["operation"].replace("Create", "Get")
                and (later.get("answer") or {}).get("id") == made
            ):
                return later["answer"].get("parameterTemplate")
        return None

    # ---- the calls -----------------------------------------------------------------------------
    def replay_call(self, index: int, call: dict[str, Any]) -> None:
        """The call, once; a read (``Get``, ``List``, ``Describe``) again until the emulator answers with the
        recorded status and in the recorded shape (its job at the recorded moment), or its job has ended (or the
        read is refused) for ``ENDED_FOR``, or ``POLL_FOR`` passed. Every answer on the way counts."""
        service, operation = call["service"], call["operation"]
        method = getattr(self.clients[service], snake(operation))
        request = self.request_of(call, index)
        note = lambda path, what: self.found.append(Difference(self.name, index, operation, path, what))  # noqa: E731
        reads = operation.startswith(("Get", "List", "Describe"))
        shape = answer_shape(operation, call["answer"], service) if "answer" in call else None
        answers: list[Any] = []
        deadline, ended = time.monotonic() + POLL_FOR, None
        while True:
            try:
                answer, error = jsonable(method(**request)), None  # as the recorder kept it
            except ClientError as refused:
                answer, error = None, refused.response
            if answer is not None:
                answers.append(answer)
            status = (answer or {}).get("status")
            missing = shape is not None and (
                answer is None
                or status != call["answer"].get("status")
                or differences(shape, [answer_shape(operation, a, service) for a in answers])
            )
            if status in ENDED or answer is None:
                ended = ended or time.monotonic()
            now = time.monotonic()
            if not reads or not missing or now > deadline or (ended is not None and now - ended > ENDED_FOR):
                break
            time.sleep(0.05)
        if "error" in call:
            self.compare_error(call["error"], error, note)
        elif error is not None:
            note("error", f"recorded an answer, answered {error['Error']['Code']}: {error['Error'].get('Message')}")
        else:
            for path, what in differences(shape, [answer_shape(operation, a, service) for a in answers]):
                note(path, what)
            self.align(call["answer"], answers[-1])

    @staticmethod
    def compare_error(recorded: dict[str, Any], error: dict[str, Any] | None, note: Any) -> None:
        if error is None:
            note(f"error {recorded['code']}", f"recorded {recorded['code']}: {recorded['message']}, answered success")
            return
        code, message = error["Error"]["Code"], error["Error"].get("Message") or ""
        if code != recorded["code"]:
            note(f"error {recorded['code']}", f"answered {code}: {message}")
        elif not message_matches(recorded["message"] or "", message):
            note(f"error {recorded['code']} message", f"recorded {recorded['message']!r}, answered {message!r}")

    def compare_events(self, listening: tuple[Any, str]) -> None:
        sqs, queue = listening
        sent: dict[str, list[dict[str, Any]]] = {}
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = json.loads(message["Body"])
                sent.setdefault(event["detail-type"], []).append(shape_of(event))
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        for event in self.events:
            detail_type = event["detail-type"]
            if detail_type not in sent:
                self.found.append(Difference(self.name, -1, detail_type, "", "the emulator sent none"))
                continue
            for path, what in differences(shape_of(event), sent[detail_type]):
                self.found.append(Difference(self.name, -1, detail_type, path, what))


def content_for(key: str) -> bytes:
    """Made-up content of an S3 object, by its file extension (compression aside)."""
    name = key.rsplit("/", 1)[-1].removesuffix(".gz")
    for extension, body in CONTENT.items():
        if name.endswith(extension):
            return body
    if name.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("main.wdl", SYNTHETIC_WDL)
        return buffer.getvalue()
    return b"replayed\n"


def message_matches(recorded: str, answered: str) -> bool:
    """The same words, numbers aside (the emulator's ids are not the recorded ones)."""
    pattern = "".join(r"\d+" if part.isdigit() else re.escape(part) for part in re.split(r"(\d+)", recorded))
    return re.fullmatch(pattern, answered) is not None

"""Redaction of a recording (``recording.py``): what identifies an account, a person or a sample goes; what
says how the service behaves stays.

Replaced, by placeholders in the same format (an account id by twelve digits, an S3 URI by an S3 URI with
each path part replaced and its file extension kept, a name by ``<member>-<n>``), the same value by the same
placeholder everywhere in the recording so relations survive (the run's name is the store's; an output is
under the run's output URI): account ids (also inside ARNs, image URIs, queue URLs and text), names of
resources, roles and users, buckets and S3 keys, run parameters' values, tags, descriptions, principal and
access key ids, e-mail addresses, URLs' hosts and paths (their queries, where pre-signed URLs keep their
signatures, are dropped), and anything credential-like (members named for secrets, tokens and passwords;
strings shaped like secret keys).

Kept: the ids the service gave (numbers, UUIDs: meaningless without the account), statuses and other enum
tokens, timestamps, numbers, booleans, regions, instance types, the names of parameters and of the
structures' members, error codes, and error messages, status messages and log lines with every value above
replaced inside them (a JSON line, such as a run manifest's, redacted member by member).

The request and answer of each call are read with the service's botocore model, so an enum is known as an
enum and a map of tags as tags; an event's body and a JSON log line are read by their values' formats.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
SERVICE_ID = re.compile(r"^(\d{1,11}|\d{13,}|[0-9a-f]{32,128}|[0-9a-f]{32}-[0-9a-f]{32}|sha256:[0-9a-f]+)$")
ENUM = re.compile(r"^[A-Z][A-Z0-9_]*$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ACCOUNT = re.compile(r"(?<!\d)\d{12}(?!\d)")
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)(.*)$")
EXTENSION = re.compile(r"(\.[A-Za-z0-9]{1,8})+$")
# in text: what is replaced wherever it appears
IN_TEXT = re.compile(
    r"(?P<arn>arn:aws[\w-]*:[\w-]+:[\w-]*:\d{0,12}:[^\s\"',;)\]}]+)"
    r"|(?P<s3>s3://[^\s\"',;)\]}]+)"
    r"|(?P<url>https?://[^\s\"',;)\]}]+)"
    r"|(?P<image>\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[^\s\"',;)\]}]+)"
    r"|(?P<email>[\w.+-]+@[\w-]+(\.[\w-]+)+)"
    r"|(?P<key_id>\b(AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|APKA)[A-Z0-9]{12,}\b)"
    # a secret key or a session token: 40 or more of base64's characters, upper and lower case and digits
    r"|(?P<secret>(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+=]*[a-z])(?=[A-Za-z0-9/+=]*[A-Z])(?=[A-Za-z0-9/+=]*[0-9])"
    r"[A-Za-z0-9/+=]{40,}(?![A-Za-z0-9/+=]))"
    r"|(?P<account>(?<!\d)\d{12}(?!\d))"
)
SECRET_MEMBER = re.compile(r"secret|password|credential|signature|session_?token|security_?token|authoriz", re.I)
TOKEN_MEMBER = re.compile(r"^(next_?token|NextToken|nextToken|startingToken|ReceiptHandle)$")
TAG_MAPS = frozenset({"tags", "Tags", "TagList", "tagging"})
TEXT_MEMBERS = frozenset({"message", "Message", "statusMessage", "failureReason", "errorMessage", "reason", "Body"})
# members whose upper case values are AWS's tokens (a status, a reason), not a user's (a sample named NA12878)
TOKEN_VALUED = re.compile(r"(status|reason|type|code|state|level|behavior|mode|engine|class|format|alignment)$", re.I)
KEPT_MEMBERS = frozenset(
    {
        "instanceType",
        "engineVersion",
        "omicsVersion",
        "version",
        "region",
        "source",
        "detail-type",
        "logGroupName",
        "logStreamName",
        "logGroupNamePrefix",
        "logStreamNamePrefix",
        "gpus",
        "MessageId",
        "eventId",
        "id",
    }
)
# Words of AWS's own in ARNs, log names and hosts (resource types, services, the HealthOmics log group's parts).
AWS_WORDS = frozenset(
    {
        "aws",
        "omics",
        "WorkflowLog",
        "log-group",
        "log-stream",
        "run",
        "task",
        "engine",
        "manifest",
        "workflow",
        "runGroup",
        "runCache",
        "runBatch",
        "batch",
        "sequenceStore",
        "referenceStore",
        "readSet",
        "reference",
        "annotationStore",
        "variantStore",
        "annotationStoreVersion",
        "workflowVersion",
        "share",
        "role",
        "user",
        "assumed-role",
        "policy",
        "service-role",
        "rule",
        "event-bus",
        "default",
        "s3",
        "sqs",
        "logs",
        "events",
        "storage",
        "control-storage",
        "analytics",
        "workflows",
        "amazonaws",
        "com",
        "dkr",
        "ecr",
        "dualstack",
        "repository",
        "readSetExportJob",
        "readSetImportJob",
        "readSetActivationJob",
        "referenceImportJob",
        "uploads",
        "accesspoint",
        "key",
        "alias",
    }
)


class Redactor:
    """Stable placeholders: one per value, the same wherever the value appears (``learn`` first, then
    ``redact``, so a value first seen in a log line is known by its placeholder from its structured use)."""

    def __init__(self) -> None:
        self.placeholders: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()
        self._known: re.Pattern[str] | None = None
        self._kinds: dict[str, tuple[str, str]] = {}
        self.learning = False  # the first pass: placeholders are made, text is not searched for them yet

    # ---- placeholders --------------------------------------------------------------------------
    def _make(self, kind: str, value: str, form: Any) -> str:
        key = (kind, value)
        if key not in self.placeholders:
            self.counts[kind] += 1
            self.placeholders[key] = form(self.counts[kind])
            self._known = None
        return self.placeholders[key]

    def account(self, value: str) -> str:
        return self._make("account id", value, lambda n: f"{n:012d}")

    def named(self, value: str, member: str) -> str:
        stem = re.sub(r"[^A-Za-z]", "", member) or "value"
        return self._make("name", value, lambda n: f"{stem}-{n}")

    def secret(self, value: str) -> str:
        return self._make("credential-like string", value, lambda n: f"secret-{n}")

    def key_id(self, value: str) -> str:
        return self._make("principal or access key id", value, lambda n: f"principal-{n}")

    def email(self, value: str) -> str:
        return self._make("e-mail address", value, lambda n: f"person-{n}@example.com")

    def bucket(self, value: str) -> str:
        return self._make("bucket", value, lambda n: f"bucket-{n}")

    def path_part(self, value: str) -> str:
        """A part of an S3 key or of a URL's path: its file extension kept (``part-3.fastq.gz``)."""
        if not value or SERVICE_ID.match(value) or UUID.match(value) or value in AWS_WORDS:
            return value
        extension = EXTENSION.search(value)
        suffix = extension.group(0) if extension and extension.start() > 0 else ""
        return self._make("S3 key or path part", value, lambda n: f"part-{n}") + suffix

    # ---- values by format ----------------------------------------------------------------------
    def string(self, value: str, member: str = "") -> str:
        """A string member's value: kept, replaced by a placeholder, or (text) redacted inside."""
        if not value:
            return value
        if member in TEXT_MEMBERS:
            return self.text(value)
        if TOKEN_MEMBER.match(member):
            return self._make("token", value, lambda n: f"token-{n}")
        if SECRET_MEMBER.search(member):
            return self.secret(value)
        if TIMESTAMP.match(value) or UUID.match(value) or SERVICE_ID.match(value) or REGION.match(value):
            return value
        if ACCOUNT.fullmatch(value):
            return self.account(value)
        if value.startswith("arn:"):
            return self.arn(value)
        if value.startswith("s3://"):
            return self.s3(value)
        if value.startswith(("https://", "http://")):
            return self.url(value)
        if value.startswith("omics://"):
            return ACCOUNT.sub(lambda found: self.account(found.group(0)), value)
        if ECR_IMAGE.match(value):
            return self.image(value)
        if member in ("Bucket", "bucket", "bucketName"):
            return self.bucket(value)
        if member in ("Key", "Prefix", "key", "prefix", "main"):
            return "/".join(self.path_part(part) for part in value.split("/"))
        if member in KEPT_MEMBERS or (ENUM.match(value) and (not member or TOKEN_VALUED.search(member))):
            return self.text(value)  # AWS's words; text still catches a value hidden in them
        if IN_TEXT.fullmatch(value):
            return self.text(value)
        return self.named(value, member)

    def arn(self, value: str) -> str:
        parts = value.split(":", 5)
        if len(parts) < 6:
            return self.named(value, "arn")
        partition, service, region, account, resource = parts[1:6]
        account = self.account(account) if account else account
        if service == "s3" and not account:  # a bucket or an object (an access point has an account)
            bucket, _, key = resource.partition("/")
            resource = "/".join(
                [self.bucket(bucket), *(self.path_part(p) for p in key.split("/"))] if key else [self.bucket(bucket)]
            )
        else:
            tokens = re.split(r"([/:])", resource)
            resource = "".join(
                token
                if token in ("", "/", ":") or token in AWS_WORDS or SERVICE_ID.match(token) or UUID.match(token)
                else self.named(token, service + "Name")
                for token in tokens
            )
        return f"arn:{partition}:{service}:{region}:{account}:{resource}"

    def s3(self, value: str) -> str:
        bucket, _, key = value[len("s3://") :].partition("/")
        redacted = f"s3://{self.bucket(bucket)}"
        return redacted + (
            "/" + "/".join(self.path_part(part) for part in key.split("/")) if key or value.endswith("/") else ""
        )

    def url(self, value: str) -> str:
        scheme, _, rest = value.partition("://")
        host, _, path = rest.partition("/")
        path = path.split("?", 1)[0].split("#", 1)[0]  # a query keeps a pre-signed URL's signature: dropped
        labels = []
        for label in host.split("."):
            if ACCOUNT.fullmatch(label):
                labels.append(self.account(label))
            elif label in AWS_WORDS or REGION.match(label) or ":" in label or label == "localhost" or label.isdigit():
                labels.append(label)
            else:
                labels.append(self.bucket(label))
        parts = (
            [self.account(p) if ACCOUNT.fullmatch(p) else self.path_part(p) for p in path.split("/")] if path else []
        )
        return f"{scheme}://{'.'.join(labels)}" + ("/" + "/".join(parts) if path or rest.endswith("/") else "")

    def image(self, value: str) -> str:
        found = ECR_IMAGE.match(value)
        assert found is not None
        account, region, repository, reference = found.groups()
        repository = "/".join(self.named(part, "repository") for part in repository.split("/"))
        if reference.startswith(":"):  # a tag: a version, unless it names something
            tag = reference[1:]
            reference = ":" + (tag if re.fullmatch(r"[0-9.]+|latest", tag) else self.named(tag, "tag"))
        return f"{self.account(account)}.dkr.ecr.{region}.amazonaws.com/{repository}{reference}"

    def text(self, value: str) -> str:
        """Free text (a message, a log line): JSON redacted member by member, else every value of a known
        format replaced, then every value already given a placeholder."""
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                parsed = json.loads(stripped)
            except ValueError:
                pass
            else:
                return json.dumps(self.value(parsed), separators=(",", ":"))

        by_kind = {
            "arn": self.arn,
            "s3": self.s3,
            "url": self.url,
            "image": self.image,
            "email": self.email,
            "key_id": self.key_id,
            "secret": self.secret,
            "account": self.account,
        }

        def replace(found: re.Match[str]) -> str:
            return by_kind[str(found.lastgroup)](found.group(0))

        formatted = IN_TEXT.sub(replace, value)
        if self.learning:
            return formatted
        return self.known().sub(lambda found: self.placeholders[self._kinds[found.group(0)]], formatted)

    def known(self) -> re.Pattern[str]:
        """Every value given a placeholder (four characters or more), as whole words."""
        if self._known is None:
            self._kinds = {v: (kind, v) for kind, v in self.placeholders if len(v) >= 4 and kind != "account id"}
            alternatives = "|".join(re.escape(word) for word in sorted(self._kinds, key=len, reverse=True))
            self._known = re.compile(rf"(?<![\w-])({alternatives or '(?!x)x'})(?![\w])")
        return self._known

    # ---- structures ----------------------------------------------------------------------------
    def value(self, value: Any, shape: Any = None, member: str = "") -> Any:
        """A request's or answer's value, read with its botocore ``shape`` when there is one."""
        kind = getattr(shape, "type_name", None)
        if isinstance(value, dict):
            if set(value) == {"blob"}:  # data, recorded by its size
                return value
            if member in TAG_MAPS:
                return self.tags(value)
            if kind == "map":
                return {self.map_key(k, shape.key): self.value(v, shape.value, member) for k, v in value.items()}
            if kind == "structure":
                return {k: self.value(v, shape.members.get(k), k) for k, v in value.items()}
            return {self.map_key(k, None): self.value(v, None, k) for k, v in value.items()}  # by formats alone
        if isinstance(value, list):
            if member in TAG_MAPS:  # [{"Key": ..., "Value": ...}]
                return [self.tags(item) for item in value]
            item_shape = getattr(shape, "member", None) if kind == "list" else None
            return [self.value(item, item_shape, member) for item in value]
        if isinstance(value, str):
            if getattr(shape, "enum", None) and value in shape.enum:
                return value
            return self.string(value, member)
        return value

    def map_key(self, key: str, shape: Any) -> str:
        """A map's key: a name of the model's (a parameter's, an attribute's) kept, a URI or an id replaced."""
        if getattr(shape, "enum", None) or not (
            key.startswith(("s3://", "arn:")) or ECR_IMAGE.match(key) or ACCOUNT.search(key)
        ):
            return key
        return self.string(key)

    def tags(self, tags: Any) -> Any:
        if isinstance(tags, dict) and set(tags) <= {"Key", "Value"} and "Key" in tags:
            return {k: self._make(f"tag {k.lower()}", str(v), lambda n, k=k: f"tag{k}-{n}") for k, v in tags.items()}
        if isinstance(tags, dict):
            return {
                self._make("tag key", k, lambda n: f"tagKey-{n}"): self._make(
                    "tag value", str(v), lambda n: f"tagValue-{n}"
                )
                for k, v in tags.items()
            }
        return self.value(tags)

    def call(self, call: dict[str, Any]) -> dict[str, Any]:
        """A raw call as it is kept: the request and answer (or error) redacted, the process and time dropped."""
        operation = _operation_model(call["service"], call["operation"])
        redacted: dict[str, Any] = {
            "service": call["service"],
            "operation": call["operation"],
            "request": self.value(call["request"], getattr(operation, "input_shape", None)),
            "status": call["status"],
        }
        if "error" in call:
            error = call["error"]
            redacted["error"] = {"code": error.get("code"), "message": self.text(error.get("message") or "")}
        else:
            redacted["answer"] = self.value(call.get("answer") or {}, getattr(operation, "output_shape", None))
        return redacted


def _operation_model(service: str, operation: str) -> Any:
    from .service_model import service_model

    try:
        if service == "omics":
            return service_model().operation_model(operation)
        return _models(service).operation_model(operation)
    except Exception:  # an operation the installed botocore does not know: read by formats alone
        return None


_loaded: dict[str, Any] = {}


def _models(service: str) -> Any:
    if service not in _loaded:
        from .shipped_model import botocore_session

        _loaded[service] = botocore_session().get_service_model(service)
    return _loaded[service]


# ---- the recording ---------------------------------------------------------------------------------
def events_of(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The HealthOmics events a queue delivered during the recording (SQS ``ReceiveMessage`` bodies)."""
    found = []
    for call in calls:
        if (call["service"], call["operation"]) != ("sqs", "ReceiveMessage"):
            continue
        for message in (call.get("answer") or {}).get("Messages", []):
            try:
                body = json.loads(message.get("Body") or "")
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("source") == "aws.omics" and body not in found:
                found.append(body)
    return found


def collapsed(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls, a call answered as the last same request was answered counted on it (``repeated``), not kept."""
    kept: list[dict[str, Any]] = []
    last: dict[str, dict[str, Any]] = {}
    for call in calls:
        request = json.dumps([call["service"], call["operation"], call["request"]], sort_keys=True)
        answer = json.dumps([call["status"], call.get("answer"), call.get("error")], sort_keys=True)
        previous = last.get(request)
        if previous is not None and previous["_answer"] == answer:
            previous["repeated"] = previous.get("repeated", 1) + 1
            continue
        call = {**call, "_answer": answer}
        last[request] = call
        kept.append(call)
    return [{k: v for k, v in call.items() if k != "_answer"} for call in kept]


def redact_recording(raw_calls: list[dict[str, Any]], what: str = "a DAG run") -> dict[str, Any]:
    """The recording as it is written: ``source``, ``calls`` (redacted, repeated polls counted) and ``events``."""
    from . import __version__

    redactor = Redactor()
    redactor.learning = True
    for call in raw_calls:  # every value's placeholder first, so text knows them all
        redactor.call(call)
    redactor.learning = False
    calls = collapsed([redactor.call(call) for call in raw_calls])
    regions = Counter(call.get("region") for call in raw_calls if call.get("region"))
    first = raw_calls[0]["time"] if raw_calls else datetime.now(UTC).isoformat()
    return {
        "source": {
            "what": what,
            "recorded": first[:10],
            "region": regions.most_common(1)[0][0] if regions else "unknown",
            "provider": __version__,
            "botocore": _botocore_version(),
            "calls": len(raw_calls),
            "processes": len({call.get("process") for call in raw_calls}),
            "replaced": dict(sorted(redactor.counts.items())),
        },
        "calls": calls,
        "events": events_of(calls),
    }


def _botocore_version() -> str:
    import botocore

    return str(botocore.__version__)


def summary(recording: dict[str, Any]) -> str:
    """What the recording keeps and what it replaced, for the user to read before anything is written."""
    source, calls = recording["source"], recording["calls"]
    by_service: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    for call in calls:
        by_service[call["service"]] += call.get("repeated", 1)
        by_operation[f"{call['service']} {call['operation']}"] += call.get("repeated", 1)
    errors = Counter(call["error"]["code"] for call in calls if "error" in call)
    operations = ", ".join(f"{name} {count}" for name, count in by_operation.most_common(12))
    replaced = ", ".join(f"{count} {kind}{'s' if count > 1 else ''}" for kind, count in source["replaced"].items())
    return "\n".join(
        [
            f"Recorded {source['calls']} calls in {source['region']} by {source['processes']} process(es): "
            + ", ".join(f"{service} {count}" for service, count in by_service.most_common()),
            f"  most made: {operations}",
            f"  errors answered: {', '.join(f'{code} {n}' for code, n in errors.items()) or 'none'}",
            f"  HealthOmics events delivered to a queue: {len(recording['events'])}",
            f"Replaced by placeholders: {replaced or 'nothing'}.",
            "Kept: the ids the service gave, statuses, timestamps, numbers, regions, instance types, parameter and "
            "member names, error codes, and error messages, status messages and log lines with the values above "
            "replaced inside them. Not recorded: S3 objects' contents, read set parts' bytes (their sizes only).",
        ]
    )


def target_folder(into: Path, recording: dict[str, Any]) -> Path:
    """``<into>/<date>-<region>``, with ``-2``, ``-3`` ... when there is one already."""
    name = f"{recording['source']['recorded']}-{recording['source']['region']}"
    target, number = into / name, 1
    while target.exists():
        number += 1
        target = into / f"{name}-{number}"
    return target


def write(recording: dict[str, Any], target: Path) -> None:
    target.mkdir(parents=True)
    for name in ("source", "calls", "events"):
        (target / f"{name}.json").write_text(json.dumps(recording[name], indent=1, sort_keys=True) + "\n")

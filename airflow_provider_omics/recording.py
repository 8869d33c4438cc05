"""Recording what AWS answered: every request and answer of HealthOmics, CloudWatch Logs, EventBridge, SQS and
S3's control plane made through a connection whose extra names a folder::

    {"region_name": "us-east-1", "omics_record_to": "/home/me/omics-recording"}

Each process that calls AWS through the connection (a task, the triggerer) appends its calls to
``<folder>/raw/<host>-<pid>.jsonl``: unredacted, so the files stay on the machine that made the calls, readable
by its user alone. ``python -m airflow_provider_omics.recording <folder>`` then redacts them (``redaction.py``),
shows what will be kept, and only when told to writes the recording (``<date>-<region>/``: ``source.json``,
``calls.json``, ``events.json``, the corpus format of ``tests/corpus/recordings/``) and deletes the raw files.

S3's data (objects' bodies, parts) is not recorded; HealthOmics' read set parts are recorded by their size.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

RECORD_TO = "omics_record_to"  # the connection extra that turns recording on
RECORDED_SERVICES = frozenset({"omics", "logs", "events", "sqs", "s3"})
S3_DATA = frozenset(
    {
        "GetObject",
        "PutObject",
        "UploadPart",
        "UploadPartCopy",
        "CopyObject",
        "CreateMultipartUpload",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "SelectObjectContent",
        "RestoreObject",
    }
)
_REQUEST = "omics_recorded_request"  # where a call's request waits in botocore's request context for its answer


def jsonable(value: Any) -> Any:
    """A request's or answer's value as JSON keeps it: timestamps as ISO 8601, data by its size only."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return {"blob": len(value)}
    if hasattr(value, "read"):  # a file or a streaming body: never read here
        return {"blob": None}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class Recorder:
    """Appends each call of a recorded service to this process's raw file, one JSON line a call."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.raw = Path(folder) / "raw"
        self._lock = threading.Lock()
        self._file: Any = None
        self._pid = 0

    def attach(self, emitter: Any) -> None:
        """Record every call of the clients made from ``emitter``'s session (or of its client), sync or async."""
        emitter.register("before-parameter-build", self._request, unique_id="omics-recording-request")
        emitter.register("after-call", self._answer, unique_id="omics-recording-answer")

    def _request(self, params: Any, model: Any, context: Any, **_: Any) -> None:
        if self._recorded(model):
            context[_REQUEST] = jsonable(params)

    def _answer(self, http_response: Any, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        if not self._recorded(model) or _REQUEST not in context:
            return
        answer = {k: v for k, v in dict(parsed).items() if k != "ResponseMetadata"}
        call: dict[str, Any] = {
            "time": datetime.now().astimezone().isoformat(),
            "process": f"{socket.gethostname()}-{os.getpid()}",
            "region": context.get("client_region"),
            "service": model.service_model.service_name,
            "operation": model.name,
            "request": context[_REQUEST],
            "status": http_response.status_code,
        }
        if http_response.status_code >= 300:
            error = answer.get("Error") or {}
            call["error"] = {"code": error.get("Code"), "message": error.get("Message") or answer.get("message")}
        else:
            call["answer"] = jsonable(answer)
        self._write(json.dumps(call, default=str))

    @staticmethod
    def _recorded(model: Any) -> bool:
        service = model.service_model.service_name
        return service in RECORDED_SERVICES and not (service == "s3" and model.name in S3_DATA)

    def _write(self, line: str) -> None:
        with self._lock:
            if self._file is None or self._pid != os.getpid():  # a forked worker writes a file of its own
                self.raw.mkdir(parents=True, exist_ok=True, mode=0o700)
                path = self.raw / f"{socket.gethostname()}-{os.getpid()}.jsonl"
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._file, self._pid = os.fdopen(descriptor, "a", encoding="utf-8"), os.getpid()
            self._file.write(line + "\n")
            self._file.flush()


_recorders: dict[str, Recorder] = {}


def attach_from_extra(emitter: Any, extra: Any) -> None:
    """Record through ``emitter`` when the connection's extra names a folder (``omics_record_to``)."""
    folder = (extra or {}).get(RECORD_TO)
    if folder:
        recorder = _recorders.setdefault(str(folder), Recorder(folder))
        recorder.attach(emitter)


def emitter_of(session_or_client: Any) -> Any:
    """The event emitter of a boto3 session, a botocore or aiobotocore session, or a client."""
    meta = getattr(session_or_client, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events
    if hasattr(session_or_client, "events"):  # boto3
        return session_or_client.events
    return session_or_client.get_component("event_emitter")


def read_raw(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every raw call of the folder, every process's, in the order they were answered."""
    calls = [
        json.loads(line)
        for path in sorted((Path(folder) / "raw").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return sorted(calls, key=lambda call: call["time"])


def finish(
    folder: str | os.PathLike[str],
    into: str | os.PathLike[str] | None = None,
    what: str = "a DAG run",
    confirm: Any = None,
    out: Any = None,
    hint: str = "pass --yes to write it",
) -> Path | None:
    """Redact the folder's raw calls, print what will be kept, and write the recording when ``confirm`` (a
    function of the question; ``None``: ask on the terminal; ``hint`` says what to do off one) says so. The
    recording's folder, or None."""
    from . import redaction

    out = out or sys.stdout
    calls = read_raw(folder)
    if not calls:
        print(f"Nothing was recorded under {Path(folder) / 'raw'}.", file=out)
        return None
    recording = redaction.redact_recording(calls, what=what)
    summary = redaction.summary(recording)
    print(summary, file=out)
    target = redaction.target_folder(Path(into or folder), recording)
    question = f"Write the recording to {target}?"
    if not (confirm(question) if confirm else _ask(question, hint)):
        print("Nothing written; the raw calls stay under", Path(folder) / "raw", file=out)
        return None
    redaction.write(recording, target)
    for path in (Path(folder) / "raw").glob("*.jsonl"):
        path.unlink()
    print(f"Written: {target}", file=out)
    return target


def _ask(question: str, hint: str) -> bool:
    if not sys.stdin.isatty():
        print(f"{question} Not on a terminal: {hint}.", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_omics.recording",
        description="Redact what a connection with omics_record_to recorded, show what is kept, and write it.",
    )
    parser.add_argument("folder", help="the folder the connection's omics_record_to names")
    parser.add_argument("--into", help="where the recording's folder is made (default: the same folder)")
    parser.add_argument("--what", default="a DAG run", help="what made the calls, said in source.json")
    parser.add_argument("--yes", action="store_true", help="write without asking")
    options = parser.parse_args(argv)
    confirm = (lambda _question: True) if options.yes else None
    return 0 if finish(options.folder, options.into, options.what, confirm) else 1


if __name__ == "__main__":
    sys.exit(main())

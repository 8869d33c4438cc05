"""OmicsHook: the whole HealthOmics API, and job verbs (describe, status, cancel, wait) from the job table."""

from __future__ import annotations

import functools
import io
import ipaddress
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import ClientError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_random_exponential,
)

from airflow_provider_omics import answers, downloads, parts, polling, recording, uploads, usage
from airflow_provider_omics.api import checked_ids, describe, kind_of
from airflow_provider_omics.errors import (
    OmicsRetriesExhausted,
    error_code,
    is_throttling,
    is_transient,
    without_retry_note,
)
from airflow_provider_omics.events import raise_for_event
from airflow_provider_omics.hooks.lists import PaginatedLists
from airflow_provider_omics.jobs import JobKind
from airflow_provider_omics.quotas import quotas_from_extra
from airflow_provider_omics.service_model import paginators, snake
from airflow_provider_omics.shipped_model import in_front

if TYPE_CHECKING:
    from mypy_boto3_omics import OmicsClient

NO_BOTOCORE_RETRIES = {"mode": "standard", "total_max_attempts": 1}
STREAM_CHUNK = 1 << 20  # what call_into hands on at a time


def check_host_prefix(endpoint_url: str | None, config: Config) -> None:
    """Refuse, before any call, an endpoint an address or ``localhost`` names while botocore puts HealthOmics'
    host prefixes in front of it (``storage-``, ``workflows-``, ...): no such host resolves, and each call
    would be tried for half a minute before a cryptic "Could not connect"."""
    host = urlsplit(endpoint_url or "").hostname or ""
    if not (host == "localhost" or _is_address(host)) or config.inject_host_prefix is False:
        return
    if getattr(config, "_inject_host_prefix", None) == "UNSET" and os.environ.get(
        "AWS_DISABLE_HOST_PREFIX_INJECTION", ""
    ).lower() in ("true", "1"):  # botocore's own setting (1.36 and later), read where the client is made
        return
    raise ValueError(
        f"The connection's endpoint_url {endpoint_url} is an address, where HealthOmics' host prefixes "
        f"(e.g. storage-{host}) cannot resolve: set inject_host_prefix to false in the connection's extra, "
        '"config_kwargs": {"inject_host_prefix": false} (or botocore_config={"inject_host_prefix": False} on '
        "the task)"
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class OmicsHook(PaginatedLists, AwsBaseHook):
    """Interact with AWS HealthOmics through an ordinary ``aws`` connection.

    * ``hook.conn`` is the boto3 ``omics`` client: every operation of the service.
    * ``hook.call("GetRun", id=...)`` is the same call with retries (exponential backoff with jitter):
      throttling for up to ``throttle_timeout`` seconds (many workers starting runs at once share a quota of
      one StartRun a second), 5xx and connection errors ``max_attempts`` tries; other errors surface at once.
    * ``hook.list_runs(status="FAILED")`` and every other paginated ``list_*``: all items, page after page.
    * ``describe / get_status / cancel / wait`` (and ``describe_async``) for any kind of ``jobs.JOB_KINDS``.
      Waits never retry a poll in a burst: a throttled poll is a poll that saw nothing (``polling.py``).
    * ``upload_read_set``, ``download_read_set``, ``download_reference``, ``read_set_s3_uris``: data in and
      out of HealthOmics storage (``uploads.py``, ``downloads.py``); ``run_summary``: what a run used (``usage.py``).

    botocore's own retries are turned off unless the connection configures them, so tenacity is the one
    place retries happen, logged and bounded, for sync and async calls alike.

    :param max_attempts: tries of one call before giving up on 5xx or connection errors.
    :param retry_max_wait: longest pause between two tries, in seconds.
    :param throttle_timeout: how long a throttled call is tried again before giving up, in seconds.
    """

    def __init__(
        self,
        *args: Any,
        max_attempts: int = 8,
        retry_max_wait: float = 30.0,
        throttle_timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "omics"
        super().__init__(*args, **kwargs)
        self.max_attempts = max_attempts
        self.retry_max_wait = retry_max_wait
        self.throttle_timeout = throttle_timeout

    @property
    def conn(self) -> OmicsClient:
        """The boto3 ``omics`` client of the connection: every operation of the service, unretried."""
        return cast("OmicsClient", super().conn)

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        """The connection's boto3 (or, deferrable, aiobotocore) session, reading the ``omics`` model shipped in
        the package where the installed botocore's is older (``shipped_model.py``)."""
        session = in_front(super().get_session(region_name=region_name, deferrable=deferrable))
        recording.attach_from_extra(recording.emitter_of(session), self.conn_config.extra_config)
        return session

    @property
    def config(self) -> Config:
        """The connection's botocore config, with botocore's own retries off unless it sets them (``call`` retries)."""
        config = super().config
        check_host_prefix(self.conn_config.endpoint_url, config)
        return config if config.retries is not None else config.merge(Config(retries=NO_BOTOCORE_RETRIES))

    # ---- retried calls ---------------------------------------------------------------------------
    def _retry_kwargs(self, operation: str) -> dict[str, Any]:
        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.log.warning(
                "%s failed with %s (attempt %d, %s); retrying in %.1fs",
                operation,
                error_code(error) or type(error).__name__,
                state.attempt_number,
                f"retried for up to {self.throttle_timeout:g}s"
                if is_throttling(error)
                else f"at most {self.max_attempts}",
                state.next_action.sleep if state.next_action else 0,
            )

        def stop(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if is_throttling(error):
                return (state.seconds_since_start or 0.0) >= self.throttle_timeout
            return state.attempt_number >= self.max_attempts

        def give_up(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            raise OmicsRetriesExhausted(
                f"{operation} still failing after {state.attempt_number} attempts: {error}"
            ) from error

        return {
            "retry": retry_if_exception(is_transient),
            "wait": wait_random_exponential(multiplier=0.5, max=self.retry_max_wait),
            "stop": stop,
            "before_sleep": log_retry,
            "retry_error_callback": give_up,
        }

    def call(self, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]:
        """Call one operation (``"GetRun"`` or ``"get_run"``) with retries on transient errors.

        ``retry=False`` makes one call: what a poll does, since the next poll is its retry.
        """
        method: Callable[..., dict[str, Any]] = getattr(self.conn, snake(operation))
        if not retry:
            return _clean(method, params)
        for attempt in Retrying(**self._retry_kwargs(operation)):
            with attempt:
                return _clean(method, params)
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def call_async(self, client: Any, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]:
        """The same on an aiobotocore client (``async with await hook.get_async_conn() as client``)."""
        method = getattr(client, snake(operation))
        if not retry:
            return await _clean_async(method, params)
        async for attempt in AsyncRetrying(**self._retry_kwargs(operation)):
            with attempt:
                return await _clean_async(method, params)
        raise AssertionError("unreachable: tenacity either returns or raises")

    def paginate(self, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated operation, each page fetched with retries, the pages at the operation's pace
        (``poll_interval``: a listing of thousands of runs is not throttled)."""
        config = paginators()[_operation_name(operation)]
        while True:
            page = self.call(operation, **params)
            yield from page.get(config["result_key"]) or []
            token = page.get(config["output_token"])
            if not token:
                return
            params = {**params, config["input_token"]: token}
            time.sleep(self.poll_interval(operation))

    # ---- job verbs --------------------------------------------------------------------------------
    def describe(self, kind: str | JobKind, *, retry: bool = True, **ids: Any) -> dict[str, Any]:
        """The describe output of a job of the job table (``describe("run", id=...)``), with retries."""
        return describe(self, kind, retry=retry, **ids)

    async def describe_async(
        self, client: Any, kind: str | JobKind, *, retry: bool = True, **ids: Any
    ) -> dict[str, Any]:
        """``describe`` on an aiobotocore client (``async with await hook.get_async_conn() as client``)."""
        job = kind_of(kind)
        response = await self.call_async(client, job.operation, retry=retry, **checked_ids(job, ids))
        response.pop("ResponseMetadata", None)
        return response

    def get_status(self, kind: str | JobKind, **ids: Any) -> str:
        """A job's status, read from its describe output as the job table says (``share.status`` for a share)."""
        job = kind_of(kind)
        return job.status_of(self.describe(job, **ids))

    def cancel(self, kind: str | JobKind, **ids: Any) -> None:
        """Cancel a job of a kind the API can cancel (run, run batch, variant and annotation imports)."""
        job = kind_of(kind)
        if job.cancel_operation is None:
            raise ValueError(f"kind: a {job.label} cannot be cancelled through the HealthOmics API")
        self.call(job.cancel_operation, **checked_ids(job, ids))

    def wait(
        self,
        kind: str | JobKind,
        *,
        delay: float = 30,
        max_attempts: int = 720,
        fail_on_partial_success: bool = True,
        **ids: Any,
    ) -> dict[str, Any]:
        """Poll until the job ends; return its last describe output or raise :class:`OmicsJobFailed`.

        A failure status ends the wait at once, with the service's message and the failed items.
        Each change of status is logged. A throttled or transiently failing poll saw nothing: the wait
        backs off and goes on; only a terminal status, ``max_attempts`` polls (``OmicsWaitTimeout``)
        or an error that is not transient end it. No job is polled faster than its quota allows.
        """
        job = kind_of(kind)
        settings = polling.WaitSettings.of(
            "wait", delay=delay, max_attempts=max_attempts, fail_on_partial_success=fail_on_partial_success
        )
        return self.wait_with(settings, job, [checked_ids(job, ids)])[0]

    def wait_with(
        self, settings: polling.WaitSettings, job: JobKind, jobs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Wait on one or more jobs of a kind by ``settings``: their final describe outputs."""
        return polling.wait(self, settings.waiter(job, jobs, self.log, self.poll_interval(job.operation)))

    def outcome(self, settings: polling.WaitSettings, job: JobKind, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The final describe outputs a trigger event stands for, raising what a wait would on a failure or a
        timeout. After an end an EventBridge event told, that is one describe of each job, made now."""
        raise_for_event(job, event)
        if event["status"] == "ended":
            ids = event["ids"]
            return self.wait_with(settings, job, ids if isinstance(ids, list) else [ids])
        described = event["described"]
        return described if isinstance(described, list) else [described]

    def poll_interval(self, operation: str) -> float:
        """Seconds between two calls of ``operation`` at this connection's pace (``quotas.py``); 0: no quota."""
        rate = self._pace.get(operation)
        return 1 / rate if rate else 0.0

    @functools.cached_property
    def _pace(self) -> dict[str, float]:
        return quotas_from_extra(self.conn_config.extra_config)

    def client_of(self, client_type: str, region_name: str | None = None) -> Any:
        """A boto3 client of another AWS service (``logs``, ``s3``) on this hook's connection and settings."""
        client = AwsBaseHook(
            aws_conn_id=self.aws_conn_id,
            region_name=region_name or self.region_name,
            verify=self.verify,
            config=self.conn_config.botocore_config,  # other services keep botocore's retries
            client_type=client_type,
        ).conn
        recording.attach_from_extra(client.meta.events, self.conn_config.extra_config)
        return client

    def run_summary(self, run_id: str, price_table: Mapping[str, float] | None = None) -> dict[str, Any]:
        """What a run used and wrote: tasks, totals, storage, outputs and an estimated cost (``usage.py``)."""
        return usage.run_summary(self, run_id, price_table=price_table)

    def call_read(self, operation: str, **params: Any) -> bytes:
        """A call whose answer is a payload (``GetReadSet``, ``GetReference``), read whole; a connection lost
        while reading is retried like the call."""
        method: Callable[..., dict[str, Any]] = getattr(self.conn, snake(operation))
        for attempt in Retrying(**self._retry_kwargs(operation)):
            with attempt:
                return bytes(_clean(method, params)["payload"].read())
        raise AssertionError("unreachable: tenacity either returns or raises")

    def call_into(self, operation: str, write: Callable[[int, bytes], Any], **params: Any) -> int:
        """A call whose answer is a payload, streamed to ``write(offset, chunk)`` a MiB at a time, never held
        whole; a try that fails part-way is retried from the start (the same offsets written again). Returns
        the payload's length."""
        method: Callable[..., dict[str, Any]] = getattr(self.conn, snake(operation))
        for attempt in Retrying(**self._retry_kwargs(operation)):
            with attempt:
                offset = 0
                for chunk in _clean(method, params)["payload"].iter_chunks(STREAM_CHUNK):
                    write(offset, chunk)
                    offset += len(chunk)
                return offset
        raise AssertionError("unreachable: tenacity either returns or raises")

    # ---- data in and out: uploads.py and downloads.py do the work -------------------------------------
    def upload_read_set(
        self,
        sequence_store_id: str,
        source1: Any,
        source2: Any = None,
        *,
        source_file_type: str,
        subject_id: str,
        sample_id: str,
        name: str,
        reference_arn: str | None = None,
        generated_from: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        client_token: str | None = None,
        part_size: int = parts.DEFAULT_PART_SIZE,
        max_concurrency: int | None = None,
        wait: bool = True,
        abort_on_failure: bool = True,
    ) -> dict[str, Any]:
        """Upload one read set (a FASTQ, a FASTQ pair, a BAM, uBAM or CRAM) into a sequence store.

        Sources are local paths, ``s3://`` URIs or ``ObjectStoragePath``; they are checked (readable, of
        ``source_file_type``) before any HealthOmics call. With ``wait``, returns the read set's metadata once
        ACTIVE, its FASTQ ETags checked against the files; else ``readSetId`` and the upload's figures.
        ``client_token`` makes the upload resumable and reusable (a later call with it resumes the upload or
        returns the read set it made; one whose read set failed or was deleted uploads afresh, as the operator
        does: ``uploads.ReadSetUpload``). A failed upload is aborted unless ``abort_on_failure=False``.
        """
        request = {
            "sourceFileType": source_file_type,
            "subjectId": subject_id,
            "sampleId": sample_id,
            "name": name,
            "referenceArn": reference_arn,
            "generatedFrom": generated_from,
            "description": description,
            "tags": dict(tags) if tags else None,
        }
        uploaded = uploads.upload_read_set(
            self,
            sequence_store_id,
            {key: value for key, value in request.items() if value is not None},
            source1,
            source2,
            part_size=part_size,
            max_concurrency=max_concurrency,
            client_token=client_token,
            abort_on_failure=abort_on_failure,
        ).as_dict()
        if not wait:
            return uploaded
        described = self.wait("read_set", delay=2, sequenceStoreId=sequence_store_id, id=uploaded["readSetId"])
        return uploads.checked_read_set(described, uploaded)

    def download_read_set(
        self,
        sequence_store_id: str,
        read_set_id: str,
        destination: Any,
        files: str | Sequence[str] = "all",
        max_concurrency: int | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Download a read set's files (``SOURCE1``, ``SOURCE2``, ``INDEX``, or ``"all"`` it has).

        ``destination``: a folder (local, ``s3://`` prefix or ``ObjectStoragePath``; a local one ending in ``/``
        is created if missing) that takes each file as ``<name>_<id>_<file><extension>`` (never colliding with
        another read set's); or, for one file, that file's own path. An existing file is refused unless
        ``overwrite``. Returns ``{"files": {"source1": {"location", "bytes"[, "etag"]}, ...}}``; lengths and
        FASTQ ETags are checked.
        """
        ids = {"sequenceStoreId": sequence_store_id, "id": read_set_id}
        return downloads.download(self, "read_set", ids, files, destination, max_concurrency, overwrite)

    def download_reference(
        self,
        reference_store_id: str,
        reference_id: str,
        destination: Any,
        files: str | Sequence[str] = "all",
        max_concurrency: int | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Download a reference's files (``SOURCE``, ``INDEX``, or ``"all"``) like ``download_read_set``."""
        ids = {"referenceStoreId": reference_store_id, "id": reference_id}
        return downloads.download(self, "reference", ids, files, destination, max_concurrency, overwrite)

    def read_set_s3_uris(self, sequence_store_id: str, read_set_id: str) -> dict[str, str]:
        """The S3 URIs of a read set's files (``{"source1": "s3://...", ...}``), from its S3 access metadata:
        what a workflow run takes as an input, or any S3 client reads (with the store's access policy)."""
        uris = downloads.s3_uris(answers.read_set(self, sequence_store_id, read_set_id))
        if not uris:
            raise ValueError(f"read set {read_set_id} of sequence store {sequence_store_id} has no S3 access URIs")
        return uris


def _clean(method: Callable[..., dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    for value in params.values():  # a streamed body (an upload part) is sent whole again on a retry
        if isinstance(value, io.IOBase) and value.seekable():
            value.seek(0)
    try:
        return _without_retry_metadata(method(**params))
    except ClientError as error:
        raise without_retry_note(error) from None


async def _clean_async(method: Callable[..., Any], params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return _without_retry_metadata(await method(**params))
    except ClientError as error:
        raise without_retry_note(error) from None


def _without_retry_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """botocore's own retry bookkeeping (``MaxAttemptsReached``, ``RetryAttempts``) says nothing here."""
    metadata = response.get("ResponseMetadata")
    if metadata:
        metadata.pop("MaxAttemptsReached", None)
        metadata.pop("RetryAttempts", None)
    return response


def _operation_name(operation: str) -> str:
    return operation if operation[0].isupper() else _PAGINATED[operation]


_PAGINATED = {snake(name): name for name in paginators()}

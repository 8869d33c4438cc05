"""Data in and out of HealthOmics storage: direct read-set upload, read-set and reference download.

The work is ``uploads.py``'s and ``downloads.py``'s (through ``OmicsHook``); these operators add what a task
needs: templated arguments checked before any call, a resumable upload per task try, waiting (or deferring)
until the read set is ACTIVE, and the XCom the next task reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_omics import downloads, parts, polling, uploads
from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.operators.base import OmicsJobOperator, Started
from airflow_provider_omics.operators.lineage_mixin import LineageMixin


class OmicsUploadReadSetOperator(OmicsJobOperator):
    """Upload one read set (a FASTQ, a FASTQ pair, a BAM, uBAM or CRAM) into a sequence store, and wait
    until it is ACTIVE. ``partial().expand()`` it over samples.

    ``source1`` / ``source2`` are local paths, ``s3://`` URIs or ``ObjectStoragePath`` (templated), read once
    and streamed in parts of ``part_size`` bytes, ``max_concurrency`` at a time. They are checked before any
    HealthOmics call: readable, not empty, of ``source_file_type`` by their first bytes, a second file for
    paired FASTQ only. A FASTQ read set's ETags are checked against the uploaded files.

    A retry **resumes**: the upload is tagged with the task's idempotency token, so the next try finds it
    (``ListMultipartReadSetUploads``) and sends only the parts the service lacks; a read set an earlier try
    completed is reused, never uploaded twice. A try that fails or is killed leaves its upload for the next
    try to resume while retries remain, and aborts it on the last try.

    :param source1: the file (or the first of a FASTQ pair).
    :param source2: the second file of a FASTQ pair.
    :param part_size: bytes per part, at most 100 MiB (the service's limit); up to 10,000 parts.
    :param max_concurrency: parts sent at once; default 10 from local files (streamed: memory stays small)
        and 4 from S3 or an ``ObjectStoragePath`` (each part read whole: memory about ``part_size * 4``).

    Returns (XCom) the read set's metadata (``GetReadSetMetadata``: ``id``, ``arn``, ``files`` with their
    S3 URIs, ``etag``) with ``readSetId``, ``uploadId``, ``partsSent``, ``partsReused``, ``uploadedETags``.
    """

    kind = "read_set"
    operation = "CreateMultipartReadSetUpload"
    extra_template_fields = ("source1", "source2")
    sequence_store_id: str
    source_file_type: str

    def __init__(
        self,
        *,
        source1: Any,
        source2: Any = None,
        part_size: int = parts.DEFAULT_PART_SIZE,
        max_concurrency: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            parts.check_part_arguments(part_size, max_concurrency)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__} ({self.task_id}): {exc}") from None
        self.source1 = source1
        self.source2 = source2
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.upload: uploads.ReadSetUpload | None = None

    def build_requests(self, context: Any) -> list[dict[str, Any]]:
        requests = super().build_requests(context)
        owner = f"{type(self).__name__} ({self.task_id})"
        try:
            uploads.check_upload_arguments(
                self.source1, self.source2, self.source_file_type, self.part_size, self.max_concurrency
            )
            self.sources = uploads.open_upload_sources(
                self.hook, self.source1, self.source2, self.source_file_type, self.part_size
            )
        except ValueError as exc:
            raise ValueError(f"{owner}: {exc}") from None
        return requests

    def start(self, context: Any, chunk: int, request: dict[str, Any]) -> Started:
        fields = {key: value for key, value in request.items() if key != "sequenceStoreId"}
        identity = {**request, "source1": str(self.source1), "source2": str(self.source2)}
        will_retry = context["ti"].try_number <= (self.retries or 0)  # the next try resumes; the last aborts
        self.upload = uploads.ReadSetUpload(
            self.hook,
            self.sequence_store_id,
            fields,
            self.sources,
            self.part_size,
            parts.concurrency_for(self.max_concurrency, self.source1, self.source2),
            keep_on_failure=will_retry,
            logger=self.log,
        )
        uploaded = self.upload.run(self.tokens(context, chunk, identity))
        self.checks = uploaded.as_dict()
        ids = {"sequenceStoreId": self.sequence_store_id, "id": uploaded.read_set_id}
        return Started(ids, polling.first_look(self.hook, self.job, ids, self.wait_settings))

    def result(self, described: list[dict[str, Any]], carried: list[list[dict[str, Any]]] | None = None) -> Any:
        return super().result([uploads.checked_read_set(described[0], self.checks)], carried)

    def lineage_request(self) -> dict[str, Any]:
        sources = {"source1": self.source1, "source2": self.source2}
        files = {k: str(v) for k, v in sources.items() if v is not None}
        return {**self.requested(), **{k: f"file://{v}" if v.startswith("/") else v for k, v in files.items()}}

    def on_kill(self) -> None:
        if self.upload is not None:
            self.upload.stop()
        super().on_kill()


class _DownloadOperator(LineageMixin, AwsBaseOperator[OmicsHook]):
    aws_hook_class = OmicsHook
    file_kinds: tuple[str, ...] = ()
    ui_color = "#c9e7f5"

    def __init__(
        self,
        *,
        destination: Any,
        files: str | Sequence[str] = "all",
        max_concurrency: int | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**self.with_asset_alias(kwargs))
        owner = f"{type(self).__name__} ({self.task_id})"
        if not isinstance(overwrite, bool):
            raise ValueError(f"{owner}: overwrite must be True or False, got {overwrite!r}")
        self.overwrite = overwrite
        try:
            parts.check_part_arguments(parts.MAX_PART_SIZE, max_concurrency)
        except ValueError as exc:
            raise ValueError(f"{owner}: {exc}") from None
        listed = [files] if isinstance(files, str) else list(files)
        if "{{" not in str(files) and any(f != "all" and f not in self.file_kinds for f in listed):
            raise ValueError(f"{owner}: files: {files!r}; choose from {', '.join(self.file_kinds)} or 'all'")
        self.destination = destination
        self.files = files
        self.max_concurrency = max_concurrency


class OmicsDownloadReadSetOperator(_DownloadOperator):
    """Download a read set's files (``files``: ``"all"``, or some of SOURCE1, SOURCE2, INDEX), part by part,
    ``max_concurrency`` parts at a time, to ``destination``: a folder (local, ``s3://`` prefix ending in ``/``,
    or ``ObjectStoragePath``; a local one ending in ``/`` is created if missing) that takes each file as
    ``<read set name>_<id>_<file><extension>`` (``s1_1234567890_source1.fastq.gz``: downloads of many read
    sets into one folder never collide), or one file's own path. An existing file is never overwritten
    unless ``overwrite=True``. A FASTQ's ETag and every file's length are checked; a local file appears
    whole or not at all.

    :param sequence_store_id: the read set's sequence store (templated).
    :param read_set_id: the read set (templated).
    :param destination: a folder, or one file's path (templated).
    :param files: ``"all"`` (default), or a list of SOURCE1, SOURCE2, INDEX (templated).
    :param max_concurrency: parts fetched at once; default 10 to local disk (each part streamed to its place)
        and 4 elsewhere (parts held whole: memory about ``100 MiB * 4``).
    :param overwrite: replace a file that exists already (default False: the task fails naming it).

    Returns (XCom) ``{"sequenceStoreId", "id", "files": {"source1": {"location", "bytes", "etag"}, ...}}``.
    """

    template_fields: Sequence[str] = aws_template_fields("sequence_store_id", "read_set_id", "destination", "files")
    file_kinds = downloads.READ_SET_FILES

    def __init__(self, *, sequence_store_id: str, read_set_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sequence_store_id = sequence_store_id
        self.read_set_id = read_set_id

    lineage_operation: ClassVar[str] = "DownloadReadSet"

    def execute(self, context: Any) -> dict[str, Any]:
        downloaded = self.hook.download_read_set(
            self.sequence_store_id, self.read_set_id, self.destination, self.files, self.max_concurrency, self.overwrite
        )
        return self.finished(context, downloaded)

    def lineage_request(self) -> dict[str, Any]:
        return {"sequenceStoreId": self.sequence_store_id, "readSetId": self.read_set_id}


class OmicsDownloadReferenceOperator(_DownloadOperator):
    """Download a reference's files (``files``: ``"all"``, SOURCE or INDEX) like ``OmicsDownloadReadSetOperator``.

    :param reference_store_id: the reference's store (templated).
    :param reference_id: the reference (templated).
    :param destination: a folder, or one file's path (templated).
    :param files: ``"all"`` (default), SOURCE or INDEX (templated).
    :param max_concurrency: parts fetched at once; default 10 to local disk (each part streamed to its place)
        and 4 elsewhere (parts held whole: memory about ``100 MiB * 4``).
    :param overwrite: replace a file that exists already (default False: the task fails naming it).

    Returns (XCom) ``{"referenceStoreId", "id", "files": {"source": {"location", "bytes"}, ...}}``.
    """

    template_fields: Sequence[str] = aws_template_fields("reference_store_id", "reference_id", "destination", "files")
    file_kinds = downloads.REFERENCE_FILES

    def __init__(self, *, reference_store_id: str, reference_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reference_store_id = reference_store_id
        self.reference_id = reference_id

    lineage_operation: ClassVar[str] = "DownloadReference"

    def execute(self, context: Any) -> dict[str, Any]:
        downloaded = self.hook.download_reference(
            self.reference_store_id,
            self.reference_id,
            self.destination,
            self.files,
            self.max_concurrency,
            self.overwrite,
        )
        return self.finished(context, downloaded)

    def lineage_request(self) -> dict[str, Any]:
        return {"referenceStoreId": self.reference_store_id, "referenceId": self.reference_id}

"""Data in and out of HealthOmics storage, through real Airflow (``dag.test()``) against the emulator."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import ROLE_ARN, xcom
from tour import FASTA, workflow_zip

from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS
from airflow_provider_omics.hooks.omics import OmicsHook

PART = 64 * 1024  # small parts, so that a few hundred KiB make several


def fastq(mate: int, reads: int = 12_000) -> bytes:
    return b"".join(b"@read%d/%d\nACGTTGCAAC\n+\nIIIIIIIIII\n" % (i, mate) for i in range(reads))


def parts(data: bytes) -> int:
    return -(-len(data) // PART)


@pytest.fixture
def pair(tmp_path, s3):
    """A paired FASTQ on local disk and in S3 (about 430 KiB a file: 7 parts of 64 KiB)."""
    r1, r2 = fastq(1), fastq(2)
    (tmp_path / "s1_R1.fastq").write_bytes(r1)
    (tmp_path / "s1_R2.fastq").write_bytes(r2)
    s3.put_object(Bucket="genomics", Key="incoming/s2_R1.fastq", Body=r1)
    s3.put_object(Bucket="genomics", Key="incoming/s2_R2.fastq", Body=r2)
    return tmp_path, r1, r2


@pytest.fixture
def store(omics):
    store_id = omics.create_sequence_store(name="uploads")["id"]
    OmicsHook().wait("sequence_store", delay=0.05, id=store_id)
    return store_id


UPLOAD_AND_DOWNLOAD = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    local = OmicsUploadReadSetOperator(
        task_id="local", sequence_store_id="{store}", source1="{folder}/s1_R1.fastq", source2="{folder}/s1_R2.fastq",
        source_file_type="FASTQ", subject_id="p1", sample_id="s1", name="s1", part_size={part}, max_concurrency=3,
        waiter_delay=0.05, deferrable={deferrable})
    from_s3 = OmicsUploadReadSetOperator(
        task_id="from_s3", sequence_store_id="{store}", source1="s3://genomics/incoming/s2_R1.fastq",
        source2="s3://genomics/incoming/s2_R2.fastq", source_file_type="FASTQ", subject_id="p1", sample_id="s2",
        name="s2", part_size={part}, waiter_delay=0.05, deferrable={deferrable})
    download = OmicsDownloadReadSetOperator(
        task_id="download", sequence_store_id="{store}", read_set_id=local.output["id"],
        destination="{folder}/back/")
    download_s2 = OmicsDownloadReadSetOperator(
        task_id="download_s2", sequence_store_id="{store}", read_set_id=from_s3.output["id"],
        destination="{folder}/back/")
    to_s3 = OmicsDownloadReadSetOperator(
        task_id="to_s3", sequence_store_id="{store}", read_set_id=from_s3.output["id"], files="SOURCE2",
        destination="s3://genomics/back/s2_R2.fastq")
"""


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_a_paired_fastq_goes_in_from_disk_and_s3_and_comes_back_byte_identical(
    run_dag, emulator, omics, s3, store, pair, deferrable
):
    folder, r1, r2 = pair
    text = UPLOAD_AND_DOWNLOAD.format(store=store, folder=folder, part=PART, deferrable=deferrable)
    _, tis = run_dag(text)
    assert {ti.state for ti in tis.values()} == {"success"}

    uploaded = xcom(tis["local"])
    assert uploaded["status"] == "ACTIVE" and uploaded["fileType"] == "FASTQ"
    assert uploaded["partsSent"] == parts(r1) + parts(r2) and uploaded["partsReused"] == 0
    # The read set's ETags are the ones computed from the files while they were sent.
    assert uploaded["etag"]["source1"] == uploaded["uploadedETags"]["source1"]
    # Two read sets into one folder: each file named by its read set, none overwriting another.
    s1, s2 = uploaded["id"], xcom(tis["from_s3"])["id"]
    assert sorted(p.name for p in (folder / "back").iterdir()) == sorted(
        f"{name}_{ident}_source{mate}.fastq" for name, ident in (("s1", s1), ("s2", s2)) for mate in (1, 2)
    )
    assert (folder / "back" / f"s1_{s1}_source1.fastq").read_bytes() == r1
    assert (folder / "back" / f"s1_{s1}_source2.fastq").read_bytes() == r2
    assert (folder / "back" / f"s2_{s2}_source2.fastq").read_bytes() == r2
    assert xcom(tis["download"])["files"]["source2"]["bytes"] == len(r2)

    assert xcom(tis["from_s3"])["sampleId"] == "s2"
    assert s3.get_object(Bucket="genomics", Key="back/s2_R2.fastq")["Body"].read() == r2
    read_sets = omics.list_read_sets(sequenceStoreId=store)["readSets"]
    assert sorted(r["name"] for r in read_sets) == ["s1", "s2"]
    assert omics.list_multipart_read_set_uploads(sequenceStoreId=store)["uploads"] == []


GZIP_DOWNLOADS = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    upload = OmicsUploadReadSetOperator(
        task_id="upload", sequence_store_id="{store}", source1="{folder}/s1.fastq.gz", source_file_type="FASTQ",
        subject_id="p1", sample_id="s1", name="s1", part_size={part}, waiter_delay=0.05)
    first = OmicsDownloadReadSetOperator(
        task_id="first", sequence_store_id="{store}", read_set_id=upload.output["id"], destination="{folder}/new/")
    again = OmicsDownloadReadSetOperator(
        task_id="again", sequence_store_id="{store}", read_set_id=upload.output["id"], destination="{folder}/new/")
    replace = OmicsDownloadReadSetOperator(
        task_id="replace", sequence_store_id="{store}", read_set_id=upload.output["id"], destination="{folder}/new/",
        overwrite=True, trigger_rule="all_done")
    first >> again >> replace
"""


def test_a_download_is_named_by_its_content_and_never_overwrites_unless_asked(run_dag, emulator, store, pair, output):
    folder, r1, _ = pair
    compressed = gzip.compress(r1)
    (folder / "s1.fastq.gz").write_bytes(compressed)
    _, tis = run_dag(GZIP_DOWNLOADS.format(store=store, folder=folder, part=PART))
    read_set = xcom(tis["upload"])["id"]
    target = folder / "new" / f"s1_{read_set}_source1.fastq.gz"  # a folder ending in / is created
    assert [p.name for p in (folder / "new").iterdir()] == [target.name]
    assert target.read_bytes() == compressed
    assert tis["first"].state == "success" and tis["replace"].state == "success"
    assert tis["again"].state == "failed"
    assert f"{target} exists already: choose another destination, or set overwrite=True" in output()


RESUMED = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    OmicsUploadReadSetOperator(
        task_id="upload", sequence_store_id="{store}", source1="{folder}/s1_R1.fastq", source2="{folder}/s1_R2.fastq",
        source_file_type="FASTQ", subject_id="p1", sample_id="s1", name="s1", part_size={part}, max_concurrency=1,
        waiter_delay=0.05, retries={retries}, retry_delay=0, idempotency_key="{key}")
"""


def test_a_retried_upload_resumes_where_the_failed_try_stopped(run_dag, emulator, omics, store, pair, output):
    folder, r1, r2 = pair
    # The first try loses its connection for good after 5 parts (say, the worker is cut off).
    emulator.add_fault("UploadReadSetPart", "AccessDeniedException", count=1, after=5, message="session expired")
    _, tis = run_dag(RESUMED.format(store=store, folder=folder, part=PART, retries=1, key="s1"))
    assert tis["upload"].state == "success"
    shown = output()
    assert "left in place: the task's next try, or a call with its client token, resumes it" in shown
    sent = emulator.request_counts()["UploadReadSetPart"]
    result = xcom(tis["upload"])
    # The first try sent 5 parts, failed on the 6th (and finished those already in flight beside it); the
    # second sends only the parts the service lacks: no part goes up twice.
    reused = result["partsReused"]
    assert 5 <= reused <= 5 + 3 and reused + result["partsSent"] == parts(r1) + parts(r2)
    assert sent == reused + 1 + result["partsSent"]
    (read_set,) = omics.list_read_sets(sequenceStoreId=store)["readSets"]
    assert read_set["id"] == result["id"]
    assert omics.list_multipart_read_set_uploads(sequenceStoreId=store)["uploads"] == []
    hook = OmicsHook()
    back = hook.download_read_set(store, result["id"], folder / "check" / "r1.fastq", files="SOURCE1")
    assert (folder / "check" / "r1.fastq").read_bytes() == r1 and back["files"]["source1"]["bytes"] == len(r1)

    # Run again with the same idempotency key (as a cleared task is): the read set is reused, not re-sent.
    _, tis = run_dag(RESUMED.format(store=store, folder=folder, part=PART, retries=0, key="s1"))
    assert xcom(tis["upload"])["reusedReadSet"] is True
    assert emulator.request_counts()["UploadReadSetPart"] == sent
    assert len(omics.list_read_sets(sequenceStoreId=store)["readSets"]) == 1


def test_the_last_try_aborts_its_upload(run_dag, emulator, omics, store, pair, output):
    folder, _, _ = pair
    emulator.add_fault("UploadReadSetPart", "AccessDeniedException", after=3, message="no more")
    _, tis = run_dag(RESUMED.format(store=store, folder=folder, part=PART, retries=0, key="{{ run_id }}"))
    assert tis["upload"].state == "failed"
    assert "Aborted upload" in output()
    assert omics.list_multipart_read_set_uploads(sequenceStoreId=store)["uploads"] == []
    assert omics.list_read_sets(sequenceStoreId=store)["readSets"] == []


BAD = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    OmicsUploadReadSetOperator(
        task_id="upload", sequence_store_id="{store}", source1={source1!r}, {more}
        subject_id="p1", sample_id="s1", name="s1", waiter_delay=0.05)
"""


@pytest.mark.parametrize(
    ("source1", "more", "message"),
    [
        ("{folder}/missing.fastq", 'source_file_type="FASTQ",', "source1: {folder}/missing.fastq is not a file"),
        ("s3://genomics/incoming/none.fastq", 'source_file_type="FASTQ",', "source1: s3://genomics/incoming/none"),
        ("{folder}/s1.bam", 'source_file_type="FASTQ",', "is not a FASTQ file (it reads as BAM)"),
        ("{folder}/s1_R1.fastq", 'source_file_type="BAM",', "is not a BAM file (it reads as FASTQ)"),
        (
            "{folder}/s1.bam",
            'source_file_type="BAM", source2="{folder}/s1_R2.fastq",',
            "source2: only paired FASTQ has a second file",
        ),
        ("{folder}/s1_R1.fastq", 'source_file_type="FASTQ", source2="",', "source2: empty"),
    ],
    ids=["missing-file", "missing-s3-object", "bam-as-fastq", "fastq-as-bam", "bam-pair", "empty-pair"],
)
def test_bad_input_fails_before_any_healthomics_call(run_dag, emulator, store, pair, output, source1, more, message):
    folder, _, _ = pair
    # A BAM file: BGZF (gzip) holding "BAM\1".
    (folder / "s1.bam").write_bytes(gzip.compress(b"BAM\x01" + b"\x00" * 64))
    before = sum(emulator.request_counts().values())
    text = BAD.format(store=store, source1=source1.format(folder=folder), more=more.format(folder=folder))
    _, tis = run_dag(text)
    assert tis["upload"].state == "failed"
    assert message.format(folder=folder) in output()
    assert sum(emulator.request_counts().values()) == before


def test_transfer_settings_are_checked_when_the_dag_is_parsed():
    from airflow_provider_omics.operators.transfers import OmicsDownloadReadSetOperator, OmicsUploadReadSetOperator

    upload = {"task_id": "up", "sequence_store_id": "1234567890", "source1": "/data/s1.fastq"}
    with pytest.raises(ValueError, match=r"OmicsUploadReadSetOperator \(up\): part_size: must be .* \(100 MiB\)"):
        OmicsUploadReadSetOperator(**upload, part_size=200 * 1024 * 1024)
    with pytest.raises(ValueError, match=r"max_concurrency: must be a whole number of at least 1, got 0"):
        OmicsUploadReadSetOperator(**upload, max_concurrency=0)
    download = {"task_id": "down", "sequence_store_id": "1234567890", "read_set_id": "1", "destination": "/x/"}
    with pytest.raises(ValueError, match=r"files: 'SOURCE3'; choose from SOURCE1, SOURCE2, INDEX or 'all'"):
        OmicsDownloadReadSetOperator(**download, files="SOURCE3")


def test_a_read_set_is_readable_through_its_s3_uri(emulator, omics, s3, store, pair):
    folder, r1, r2 = pair
    hook = OmicsHook()
    uploaded = hook.upload_read_set(
        store,
        folder / "s1_R1.fastq",
        folder / "s1_R2.fastq",
        source_file_type="FASTQ",
        subject_id="p",
        sample_id="s1",
        name="s1",
        part_size=PART,
    )
    uris = hook.read_set_s3_uris(store, uploaded["id"])
    assert set(uris) == {"source1", "source2"}
    store_uri = omics.get_sequence_store(id=store)["s3Access"]["s3Uri"]
    for name, body in (("source1", r1), ("source2", r2)):
        assert uris[name].startswith(store_uri)
        bucket, key = uris[name][len("s3://") :].split("/", 1)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


SHARE = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    offer = OmicsCreateShareOperator(
        task_id="offer", resource_arn="{arn}", principal_subscriber="210987654321", share_name="reads",
        waiter_delay=0.05)
    accept = OmicsAcceptShareOperator(task_id="accept", share_id=offer.output["shareId"], waiter_delay=0.05,
        deferrable=True)
    offer >> accept
"""


def test_a_share_is_offered_then_accepted(run_dag, emulator, omics):
    workflow = omics.create_workflow(name="shared", definitionZip=workflow_zip(), requestId="shared")
    emulator.quotas.enabled = True  # share operations: one a second each, as the service
    _, tis = run_dag(SHARE.format(arn=workflow["arn"]))
    assert {ti.state for ti in tis.values()} == {"success"}
    offered, accepted = xcom(tis["offer"]), xcom(tis["accept"])
    assert offered["status"] == "PENDING" and offered["shareId"] == accepted["shareId"]
    assert accepted["status"] == "ACTIVE"
    # Run again (a retry, a clear): the same share, not a second offer.
    _, tis = run_dag(SHARE.format(arn=workflow["arn"]))
    assert {ti.state for ti in tis.values()} == {"success"}
    assert xcom(tis["offer"])["shareId"] == offered["shareId"]
    assert len(omics.list_shares(resourceOwner="SELF")["shares"]) == 1


def test_object_storage_paths_are_sources_and_destinations(emulator, store, pair):
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath
    else:
        from airflow.io.path import ObjectStoragePath
    folder, r1, _ = pair
    hook = OmicsHook()
    uploaded = hook.upload_read_set(
        store,
        ObjectStoragePath(f"file://{folder}/s1_R1.fastq"),
        source_file_type="FASTQ",
        subject_id="p",
        sample_id="s1",
        name="single",
        part_size=PART,
    )
    assert uploaded["partsSent"] == parts(r1) and uploaded["files"]["source1"]["contentLength"] == len(r1)
    target = ObjectStoragePath(f"file://{folder}/out")
    target.mkdir(parents=True, exist_ok=True)
    back = hook.download_read_set(store, uploaded["id"], target)
    assert (folder / "out" / f"single_{uploaded['id']}_source1.fastq").read_bytes() == r1
    assert back["files"]["source1"]["etag"] == uploaded["etag"]["source1"]


MAPPED_AND_REFERENCE = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    uploads = OmicsUploadReadSetOperator.partial(
        task_id="upload", sequence_store_id="{store}", source_file_type="FASTQ", subject_id="p1", part_size={part},
        waiter_delay=0.05,
    ).expand_kwargs([
        {{"sample_id": "s1", "name": "s1", "source1": "{folder}/s1_R1.fastq", "source2": "{folder}/s1_R2.fastq"}},
        {{"sample_id": "s2", "name": "s2", "source1": "s3://genomics/incoming/s2_R1.fastq"}},
    ])
    reference = OmicsDownloadReferenceOperator(
        task_id="reference", reference_store_id="{reference_store}", reference_id="{reference}", files="SOURCE",
        destination="{folder}/ref/chr1.fa")
    wait = OmicsReadSetSensor(
        task_id="wait", sequence_store_id="{store}", id="{{{{ ti.xcom_pull('upload', map_indexes=1)['id'] }}}}",
        poke_interval=0.05)
    uploads >> wait
"""


def test_mapped_uploads_and_a_reference_download(run_dag, emulator, omics, s3, store, pair):
    folder, _, _ = pair
    s3.put_object(Bucket="genomics", Key="ref/chr1.fa", Body=FASTA)
    reference_store = omics.create_reference_store(name="refs")["id"]
    job = omics.start_reference_import_job(
        referenceStoreId=reference_store,
        roleArn=ROLE_ARN,
        sources=[{"sourceFile": "s3://genomics/ref/chr1.fa", "name": "chr1"}],
    )
    done = OmicsHook().wait("reference_import", delay=0.05, referenceStoreId=reference_store, id=job["id"])
    text = MAPPED_AND_REFERENCE.format(
        store=store,
        folder=folder,
        part=PART,
        reference_store=reference_store,
        reference=done["sources"][0]["referenceId"],
    )
    _, tis = run_dag(text)
    assert {ti.state for ti in tis.values()} == {"success"}
    assert [xcom(tis[f"upload[{i}]"])["sampleId"] for i in (0, 1)] == ["s1", "s2"]
    assert set(xcom(tis["upload[1]"])["files"]) == {"source1"}  # single-end
    assert xcom(tis["wait"])["status"] == "ACTIVE"
    assert (folder / "ref" / "chr1.fa").read_bytes() == FASTA
    assert xcom(tis["reference"])["files"]["source"]["bytes"] == len(FASTA)


def test_a_deleted_read_set_is_uploaded_again_when_its_task_reruns(run_dag, emulator, omics, store, pair, output):
    folder, _, _ = pair
    text = RESUMED.format(store=store, folder=folder, part=PART, retries=0, key="again")
    _, tis = run_dag(text)
    first = xcom(tis["upload"])["id"]
    omics.batch_delete_read_set(sequenceStoreId=store, ids=[first])
    # The same idempotency key (a cleared task): its upload is long complete, its read set deleted.
    _, tis = run_dag(text)
    assert tis["upload"].state == "success"
    shown = output()
    assert "no longer exists" in shown and "uploading afresh" in shown
    (read_set,) = omics.list_read_sets(sequenceStoreId=store)["readSets"]
    assert read_set["id"] == xcom(tis["upload"])["id"] != first


def test_a_failed_download_leaves_no_file_behind(emulator, store, pair, tmp_path):
    folder, _, _ = pair
    hook = OmicsHook()
    uploaded = hook.upload_read_set(
        store,
        folder / "s1_R1.fastq",
        source_file_type="FASTQ",
        subject_id="p",
        sample_id="s1",
        name="s1",
        part_size=PART,
    )
    emulator.add_fault("GetReadSet", "AccessDeniedException", count=1, message="no access to the store")
    with pytest.raises(ClientError, match="no access to the store"):
        hook.download_read_set(store, uploaded["id"], f"{tmp_path}/out/", files="SOURCE1")
    assert list((tmp_path / "out").iterdir()) == []  # neither the file nor its .partial


def test_uploads_started_together_share_the_upload_quotas_and_all_get_in(emulator, store, pair):
    """Create/CompleteMultipartReadSetUpload: one a second for the account, not adjustable; UploadReadSetPart
    ten. Mapped uploads starting together are throttled, as by the service, and retried until each is in."""
    folder, r1, r2 = pair
    emulator.quotas.enabled = True

    def upload(sample: str) -> dict:
        return OmicsHook().upload_read_set(
            store,
            str(folder / "s1_R1.fastq"),
            str(folder / "s1_R2.fastq"),
            source_file_type="FASTQ",
            subject_id="p1",
            sample_id=sample,
            name=sample,
            part_size=PART,
            client_token=sample,
        )

    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(upload, ["s1", "s2", "s3"]))
    assert len({d["readSetId"] for d in done}) == 3 and all(d["status"] == "ACTIVE" for d in done)
    throttled = {r["operation"] for r in emulator.requests() if r["outcome"] == "ThrottlingException"}
    assert throttled & {"CreateMultipartReadSetUpload", "UploadReadSetPart", "CompleteMultipartReadSetUpload"}
    back = OmicsHook().download_read_set(store, done[2]["readSetId"], str(folder / "back") + "/")
    assert [Path(back["files"][f]["location"]).read_bytes() for f in ("source1", "source2")] == [r1, r2]


DEFAULT_UPLOADS = """
with DAG("test_dag", schedule=None, start_date=START) as dag:
    local = OmicsUploadReadSetOperator(
        task_id="local", sequence_store_id="{store}", source1="{folder}/s1_R1.fastq", source2="{folder}/s1_R2.fastq",
        source_file_type="FASTQ", subject_id="p1", sample_id="s1", name="s1", part_size={part}, waiter_delay=0.05)
    local >> OmicsUploadReadSetOperator(
        task_id="from_s3", sequence_store_id="{store}", source1="s3://genomics/incoming/s2_R1.fastq",
        source2="s3://genomics/incoming/s2_R2.fastq", source_file_type="FASTQ", subject_id="p1", sample_id="s2",
        name="s2", part_size={part}, waiter_delay=0.05)
"""


def test_local_files_stream_ten_parts_at_a_time_and_s3_sources_hold_four_whole_parts(run_dag, store, pair, output):
    """The defaults: a local file is streamed (more parts in flight cost no memory: TransferManager's 10),
    a part read from S3 is held whole (4 of them at most)."""
    folder, r1, _ = pair
    _, tis = run_dag(DEFAULT_UPLOADS.format(store=store, folder=folder, part=PART))
    assert {ti.state for ti in tis.values()} == {"success"}
    shown, due = output(), 2 * parts(r1)
    assert shown.index(f"Sending {due} of {due} parts, 10 at a time") < shown.index(
        f"Sending {due} of {due} parts, 4 at a time"
    )

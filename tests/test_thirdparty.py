"""AWS's own HealthOmics client, aws-healthomics-tools, against the emulator: what it expects of the
service, the emulator provides.

It runs as its users run it, from its own virtualenv (``make tools``; version pinned in
constraints/aws-healthomics-tools.txt): its command line and its TransferManager, pointed at the emulator by
``AWS_ENDPOINT_URL`` and ``AWS_DISABLE_HOST_PREFIX_INJECTION`` alone, nothing patched. Where it reads what
this provider wrote (read sets, runs), the two are checked against each other.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from conftest import ROLE_ARN
from tour import FASTA, plate_zip, workflow_zip
from waiting import status_in, until

from airflow_provider_omics.hooks.omics import OmicsHook
from airflow_provider_omics.uris import omics_uri

# The TransferManager, driven from the tools' virtualenv: {"call": method, "folder": ..., "args": [...], "kwargs": {}}
TRANSFER = """
import json, sys
import boto3
from omics.transfer.config import TransferConfig
from omics.transfer.manager import TransferManager

order = json.loads(sys.argv[1])
manager = TransferManager(boto3.client("omics"), TransferConfig(directory=order["folder"]))
answer = getattr(manager, order["call"])(*order["args"], **order.get("kwargs", {}))
if isinstance(answer, list):  # a download answers with a future per file: wait for each
    answer = [future.result() for future in answer]
print(json.dumps(answer))
"""

PARSE_URI = """
import json, sys
from omics.uriparse.uri_parse import OmicsUriParser

uri = OmicsUriParser(sys.argv[1]).parse()
fields = ("account_id", "region", "store_id", "resource_type", "resource_id", "file_name")
print(json.dumps({field: getattr(uri, field) for field in fields}))
"""


def transfer(tools, call: str, folder: Path, *args, **kwargs):
    order = {"call": call, "folder": str(folder), "args": list(args), "kwargs": kwargs}
    return json.loads(tools("-c", TRANSFER, json.dumps(order)).stdout.strip().splitlines()[-1])


def fastq(mate: int, reads: int = 30_000) -> bytes:
    return b"".join(b"@read%d/%d\nACGTTGCAACGGTA\n+\nIIIIIIIIIIIIII\n" % (i, mate) for i in range(reads))


def bgzf(data: bytes) -> bytes:
    """BAM's compression: gzip members of at most 64 KiB with the BC extra field, then the empty EOF block."""
    blocks = []
    for start in range(0, len(data), 0xFF00):
        chunk = data[start : start + 0xFF00]
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = deflate.compress(chunk) + deflate.flush()
        header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack("<H", len(body) + 25)
        blocks.append(header + body + struct.pack("<II", zlib.crc32(chunk), len(chunk)))
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    return b"".join(blocks) + eof


def unaligned_bam(reads: int = 2_000) -> bytes:
    """A uBAM of ``reads`` unmapped 16-base reads (the BAM spec's layout, no reference sequences)."""
    text = b"@HD\tVN:1.6\tSO:unsorted\n@RG\tID:rg1\tSM:s1\n"
    out = [b"BAM\x01", struct.pack("<i", len(text)), text, struct.pack("<i", 0)]
    for i in range(reads):
        name = b"read%d\x00" % i
        seq = bytes([0x12, 0x48] * 4)  # ACGTACGT... 4-bit packed, 16 bases
        fixed = struct.pack("<iiBBHHHIiii", -1, -1, len(name), 255, 4680, 0, 4, 16, -1, -1, 0)
        record = fixed + name + seq + b"\x1e" * 16
        out += [struct.pack("<i", len(record)), record]
    return bgzf(b"".join(out))


@pytest.fixture
def store(omics):
    store_id = omics.create_sequence_store(name="tools")["id"]
    until(lambda: omics.get_sequence_store(id=store_id), status_in("ACTIVE"))
    return store_id


@pytest.fixture
def reference(omics, s3):
    """A reference imported from S3, as a genomics team imports one."""
    reference_store = omics.create_reference_store(name="refs")["id"]
    s3.put_object(Bucket="genomics", Key="refs/ref.fasta", Body=FASTA)
    job = omics.start_reference_import_job(
        referenceStoreId=reference_store,
        roleArn=ROLE_ARN,
        sources=[{"sourceFile": "s3://genomics/refs/ref.fasta", "name": "ref"}],
    )
    done = until(
        lambda: omics.get_reference_import_job(referenceStoreId=reference_store, id=job["id"]), status_in("COMPLETED")
    )
    return reference_store, done["sources"][0]["referenceId"]


def active(omics, store: str, read_set: str) -> dict:
    return until(lambda: omics.get_read_set_metadata(sequenceStoreId=store, id=read_set), status_in("ACTIVE"))


def test_transfer_manager_and_the_provider_move_a_fastq_pair_both_ways_byte_identical(tools, omics, store, tmp_path):
    r1, r2 = fastq(1), fastq(2)
    (tmp_path / "r1.fastq").write_bytes(r1)
    (tmp_path / "r2.fastq").write_bytes(r2)
    theirs = transfer(
        tools,
        "upload_read_set",
        tmp_path,
        [str(tmp_path / "r1.fastq"), str(tmp_path / "r2.fastq")],
        store,
        "FASTQ",
        "theirs",
        "subject",
        "sample",
    )
    ours = OmicsHook().upload_read_set(
        store,
        str(tmp_path / "r1.fastq"),
        str(tmp_path / "r2.fastq"),
        source_file_type="FASTQ",
        subject_id="subject",
        sample_id="sample",
        name="ours",
    )
    active(omics, store, theirs)

    transfer(tools, "download_read_set", tmp_path / "tm", store, ours["readSetId"])  # theirs reads ours
    got = OmicsHook().download_read_set(store, theirs, str(tmp_path / "provider") + "/")  # ours reads theirs
    downloaded = sorted((tmp_path / "tm").iterdir())
    assert [p.read_bytes() for p in downloaded] == [r1, r2], [p.name for p in downloaded]
    assert [Path(got["files"][f]["location"]).read_bytes() for f in ("source1", "source2")] == [r1, r2]


@pytest.mark.parametrize("file_type", ["BAM", "UBAM"])
def test_transfer_manager_moves_a_bam_read_set_byte_identical(tools, omics, store, reference, tmp_path, file_type):
    data = unaligned_bam()
    (tmp_path / "s1.bam").write_bytes(data)
    reference_arn = omics.get_reference_metadata(referenceStoreId=reference[0], id=reference[1])["arn"]
    extra = {"reference_arn": reference_arn} if file_type == "BAM" else {}
    read_set = transfer(
        tools,
        "upload_read_set",
        tmp_path,
        str(tmp_path / "s1.bam"),
        store,
        file_type,
        "s1",
        "subject",
        "sample",
        **extra,
    )
    described = active(omics, store, read_set)
    assert described["fileType"] == file_type

    transfer(tools, "download_read_set", tmp_path / "back", store, read_set)
    assert [p.read_bytes() for p in (tmp_path / "back").iterdir()] == [data]


def test_transfer_manager_downloads_a_reference_and_its_index(tools, omics, reference, tmp_path):
    store, reference_id = reference
    transfer(tools, "download_reference", tmp_path, store, reference_id)
    files = sorted((p.read_bytes() for p in tmp_path.iterdir()), key=lambda data: data != FASTA)
    assert len(files) == 2 and files[0] == FASTA
    index = files[1]
    # samtools faidx: name, length, offset of the first base, bases and bytes per line
    name, _, offset, bases, width = index.decode().splitlines()[0].split("\t")
    first = FASTA.split(b"\n")
    assert (name, int(offset), int(bases), int(width)) == (
        first[0][1:].split()[0].decode(),
        len(first[0]) + 1,
        len(first[1]),
        len(first[1]) + 1,
    )
    described = omics.get_reference_metadata(referenceStoreId=store, id=reference_id)
    assert described["files"]["index"]["contentLength"] == len(index) > 0


def test_their_uri_parser_reads_the_uris_built_from_what_the_emulator_returns(tools, omics, store, reference, tmp_path):
    (tmp_path / "r1.fastq").write_bytes(fastq(1, 100))
    uploaded = OmicsHook().upload_read_set(
        store, str(tmp_path / "r1.fastq"), source_file_type="FASTQ", subject_id="p", sample_id="s", name="s"
    )
    arn = omics.get_read_set_metadata(sequenceStoreId=store, id=uploaded["readSetId"])["arn"]
    parsed = json.loads(tools("-c", PARSE_URI, omics_uri(arn, "source1")).stdout)
    assert parsed == {
        "account_id": arn.split(":")[4],
        "region": "us-east-1",
        "store_id": store,
        "resource_type": "READSET",
        "resource_id": uploaded["readSetId"],
        "file_name": "SOURCE1",
    }
    reference_arn = omics.get_reference_metadata(referenceStoreId=reference[0], id=reference[1])["arn"]
    parsed = json.loads(tools("-c", PARSE_URI, omics_uri(reference_arn)).stdout)
    assert (parsed["resource_type"], parsed["store_id"], parsed["file_name"]) == ("REFERENCE", reference[0], "SOURCE")


@pytest.fixture
def completed_runs(omics, s3):
    """Two runs of the tour's workflow, each to its end: what the run analyzer and rerun read."""
    workflow = omics.create_workflow(name="wf", definitionZip=workflow_zip(), requestId="wf", engine="WDL")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))

    def run(name: str) -> str:
        started = omics.start_run(
            workflowId=workflow["id"],
            roleArn=ROLE_ARN,
            name=name,
            requestId=name,
            outputUri="s3://genomics/runs/",
            parameters={"sample_name": name},
            storageType="STATIC",
            storageCapacity=1200,
        )
        until(lambda: omics.get_run(id=started["id"]), status_in("COMPLETED"), timeout=30)
        return started["id"]

    return workflow["id"], [run("s1"), run("s2")]


def test_their_run_analyzer_reads_the_manifest_stats_timeline_plot_and_batch(tools, omics, completed_runs, tmp_path):
    _, (run_id, other) = completed_runs
    tasks = {t["name"]: t for t in omics.list_run_tasks(id=run_id)["items"]}

    stats = tools("run_analyzer", run_id, "--headroom", "0.1", cli=True).stdout
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(stats))}
    assert set(rows) == {*tasks, "s1"}  # every task, then the run
    for name, task in tasks.items():
        row = rows[name]
        assert (row["type"], row["omicsInstanceTypeReserved"]) == ("task", task["instanceType"])
        assert float(row["cpusMaximum"]) <= float(row["cpusReserved"]) == task["cpus"]
        assert row["recommendedCpus"] and row["recommendedMemoryGiB"] and float(row["estimatedUSD"]) > 0
    assert rows["s1"]["type"] == "run" and float(rows["s1"]["storageReservedGiB"]) == 1200

    timeline = list(csv.DictReader(io.StringIO(tools("run_analyzer", "--timeline", run_id, cli=True).stdout)))
    assert len(timeline) == len(tasks) and all(float(row["running"]) >= 0 for row in timeline)

    tools("run_analyzer", run_id, "--plot", str(tmp_path / "plot"), cli=True)
    assert (tmp_path / "plot" / f"{run_id}_timeline.html").stat().st_size > 0

    batch = tools("run_analyzer", "--batch", run_id, other, "--out", str(tmp_path / "batch.csv"), cli=True)
    assert batch.returncode == 0
    aggregated = {row["name"]: row for row in csv.DictReader((tmp_path / "batch.csv").open())}
    assert all(aggregated[name]["count"] == "2" and aggregated[name]["recommendedCpus"] for name in tasks)


def test_their_rerun_repeats_a_run_from_its_manifest(tools, omics, completed_runs):
    workflow_id, (run_id, _) = completed_runs
    original = omics.get_run(id=run_id)

    dry = tools("rerun", "-d", run_id, cli=True).stdout
    request = json.loads(dry.split("StartRun request:\n", 1)[1])
    assert request == {
        "workflowId": workflow_id,
        "workflowType": "PRIVATE",
        "roleArn": ROLE_ARN,
        "name": "s1",
        "parameters": {"sample_name": "s1"},
        "storageCapacity": 1200,
        "storageType": "STATIC",
        "outputUri": original["outputUri"],
    }
    before = {r["id"] for r in omics.list_runs()["items"]}
    again = tools("rerun", run_id, "--name", "s1-again", cli=True).stdout
    started = json.loads(again.split("StartRun response:\n", 1)[1])
    assert started["id"] not in before
    rerun = omics.get_run(id=started["id"])
    assert (rerun["workflowId"], rerun["name"], rerun["parameters"]) == (workflow_id, "s1-again", {"sample_name": "s1"})


def test_a_usage_profile_is_what_their_run_analyzer_sizes_the_task_from(tools, omics, emulator, s3):
    """ "call_variants uses 3.1 of its 4 CPUs and 6 of its 16 GiB": the manifest says so, and AWS's analyzer
    recommends 4 CPUs and 8 GiB on omics.c.xlarge from it."""
    workflow = omics.create_workflow(name="sized", definitionZip=plate_zip(), requestId="sized")
    until(lambda: omics.get_workflow(id=workflow["id"]), status_in("ACTIVE"))
    emulator.set_usage("call_variants", cpus=3.1, memory_gib=6, run="plate-*")
    started = omics.start_run(
        workflowId=workflow["id"], roleArn=ROLE_ARN, name="plate-s1", outputUri="s3://genomics/runs/", requestId="s"
    )
    until(lambda: omics.get_run(id=started["id"]), status_in("COMPLETED"), timeout=30)

    stats = tools("run_analyzer", started["id"], cli=True).stdout
    row = next(r for r in csv.DictReader(io.StringIO(stats)) if r["name"] == "call_variants")
    assert (float(row["cpusReserved"]), float(row["cpusMaximum"])) == (4, 3.1)
    assert (float(row["memoryReservedGiB"]), float(row["memoryMaximumGiB"])) == (16, 6)
    assert (row["omicsInstanceTypeMinimum"], row["recommendedCpus"], row["recommendedMemoryGiB"]) == (
        "omics.c.xlarge",
        "4",
        "8",
    )

"""Direct upload and download of a generated FASTQ (1 GiB) against the emulator: throughput and memory.

Side by side in one run, each transfer in a fresh child process (so its peak memory is its own):

  read        the machine's sequential read of the same file (100 MiB reads): the figure to compare with
  ours        OmicsHook.upload_read_set / download_read_set (parts of 100 MiB, 4 at a time)
  hand loop   what a user writes through hook.conn without this provider: one part after the other

Last, where the emulator spends its time on one part: a cProfile of its handler for one UploadReadSetPart.

For each: MiB/s, the ratio to the sequential read, the child's peak RSS growth over its RSS before the
transfer (against the bound of parts in flight x part size + 100 MiB), and the CPU seconds of the client
and of the emulator during it: a Python HTTP server on the same two cores is the likely bottleneck, and
its CPU time shows it. "Client-side MiB/s" is the bytes over the client's own CPU seconds: how fast the
client would go with a server that costs nothing.

  python benchmarks/transfers.py [--size-mib 1024] [--part-mib 100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

MIB = 1 << 20


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_fastq(path: str, size: int) -> None:
    """Paired-end-like reads of 150 bases with distinct names, ``size`` bytes (about)."""
    bases = "ACGT" * 38
    block = "".join(f"@read{i}/1\n{bases[:150]}\n+\n{'I' * 150}\n" for i in range(4096)).encode()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            out.write(block)
            written += len(block)


# ---- the child: one transfer -------------------------------------------------------------------------
def child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    from airflow_provider_omics.hooks.omics import OmicsHook

    hook = OmicsHook()
    hook.conn  # noqa: B018  (the client is made before the clock starts)
    part = args.part_mib * MIB
    before_rss, before_cpu, began = _rss_mib(), _cpu_seconds(), time.monotonic()
    result: dict[str, Any] = {}
    if mode == "read":
        with open(args.file, "rb") as stream:
            while chunk := stream.read(part):
                result["bytes"] = result.get("bytes", 0) + len(chunk)
                del chunk
    elif mode == "upload-ours":
        uploaded = hook.upload_read_set(
            args.store,
            args.file,
            source_file_type="FASTQ",
            subject_id="b",
            sample_id="b",
            name="ours",
            part_size=part,
            max_concurrency=args.concurrency,
            wait=False,
        )
        result.update(bytes=os.path.getsize(args.file), readSetId=uploaded["readSetId"])
    elif mode == "upload-loop":
        result.update(bytes=os.path.getsize(args.file), readSetId=hand_loop_upload(hook, args.store, args.file, part))
    elif mode == "download-ours":
        done = hook.download_read_set(
            args.store, args.read_set, args.out, files="SOURCE1", max_concurrency=args.concurrency
        )
        result["bytes"] = done["files"]["source1"]["bytes"]
    elif mode == "download-loop":
        result["bytes"] = hand_loop_download(hook, args.store, args.read_set, args.out)
    took = time.monotonic() - began
    return {
        **result,
        "seconds": took,
        "cpu": _cpu_seconds() - before_cpu,
        "peak_growth_mib": _peak_mib() - before_rss,
    }


def hand_loop_upload(hook: Any, store: str, path: str, part: int) -> str:
    client = hook.conn
    upload = client.create_multipart_read_set_upload(
        sequenceStoreId=store, sourceFileType="FASTQ", subjectId="b", sampleId="b", name="loop"
    )["uploadId"]
    parts = []
    with open(path, "rb") as stream:
        number = 0
        while data := stream.read(part):
            number += 1
            answer = client.upload_read_set_part(
                sequenceStoreId=store, uploadId=upload, partSource="SOURCE1", partNumber=number, payload=data
            )
            parts.append({"partNumber": number, "partSource": "SOURCE1", "checksum": answer["checksum"]})
    return client.complete_multipart_read_set_upload(sequenceStoreId=store, uploadId=upload, parts=parts)["readSetId"]


def hand_loop_download(hook: Any, store: str, read_set: str, path: str) -> int:
    client = hook.conn
    total = client.get_read_set_metadata(sequenceStoreId=store, id=read_set)["files"]["source1"]["totalParts"]
    written = 0
    with open(path, "wb") as out:
        for number in range(1, total + 1):
            data = client.get_read_set(sequenceStoreId=store, id=read_set, partNumber=number)["payload"].read()
            out.write(data)
            written += len(data)
    return written


def profile_one_part(part_mib: int) -> None:
    """cProfile of the emulator's handler (request body read, validation, model) for one part."""
    import cProfile
    import pstats

    import boto3
    from botocore.config import Config

    from airflow_provider_omics.emulator import OmicsEmulator

    with OmicsEmulator(port=0, quotas=False, step_seconds=0.1) as emulator:
        profiler = cProfile.Profile()
        handle = emulator.app.omics
        emulator.app.omics = lambda request: profiler.runcall(handle, request)  # type: ignore[method-assign]
        omics = boto3.client(
            "omics",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(inject_host_prefix=False),
        )
        store = omics.create_sequence_store(name="profile")["id"]
        time.sleep(0.3)
        upload = omics.create_multipart_read_set_upload(
            sequenceStoreId=store, sourceFileType="FASTQ", subjectId="p", sampleId="s", name="p"
        )["uploadId"]
        profiler = cProfile.Profile()  # only the part
        payload = b"@r\nACGT\n+\nIIII\n" * (part_mib * MIB // 16)
        omics.upload_read_set_part(
            sequenceStoreId=store, uploadId=upload, partSource="SOURCE1", partNumber=1, payload=payload
        )
    print(f"\nThe emulator's handler for one {part_mib} MiB UploadReadSetPart (cProfile, by own time, top 8):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(8)


# ---- the parent: emulator, children, table ------------------------------------------------------------
def _process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(mode: str, env: dict[str, str], args: argparse.Namespace, emulator: int, **extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--file", args.file, "--part-mib", str(args.part_mib)]
    command += ["--concurrency", str(args.concurrency)]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", value]
    served_before = _process_cpu(emulator)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "emulator_cpu": _process_cpu(emulator) - served_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 MiB")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--read-set", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    import boto3
    from botocore.config import Config

    if args.quick:
        args.size_mib = 200
    folder = tempfile.mkdtemp(prefix="omics-bench-transfer-")
    args.file = os.path.join(folder, "reads.fastq")
    generate_fastq(args.file, args.size_mib * MIB)
    size = os.path.getsize(args.file)
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_omics.emulator",
            "--port",
            "0",
            "--step-seconds",
            "0.5",
            "--no-quotas",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = (emulator.stdout.readline() if emulator.stdout else "").strip()
        omics = boto3.client(
            "omics",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(inject_host_prefix=False),
        )
        store = omics.create_sequence_store(name="bench")["id"]
        env = {
            **os.environ,
            "AIRFLOW_HOME": folder,
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {
                        "endpoint_url": endpoint,
                        "region_name": "us-east-1",
                        "config_kwargs": {"inject_host_prefix": False},
                    },
                }
            ),
        }
        time.sleep(1)  # the store becomes ACTIVE
        pid = emulator.pid
        reads = sorted((run_child("read", env, args, pid) for _ in range(3)), key=lambda f: f["seconds"])
        figures = {"read": reads[1]}  # the median of three
        for name, mode in (("upload ours", "upload-ours"), ("upload hand loop", "upload-loop")):
            figures[name] = run_child(mode, env, args, pid, store=store)
            # The emulator ingests the read set (hashes, counts) on a thread: let it finish, outside the clock.
            while (
                omics.get_read_set_metadata(sequenceStoreId=store, id=figures[name]["readSetId"])["status"] != "ACTIVE"
            ):
                time.sleep(0.5)
        read_set = figures["upload ours"]["readSetId"]
        out = {name: os.path.join(folder, f"{name}.fastq") for name in ("ours", "loop")}
        figures["download ours"] = run_child(
            "download-ours", env, args, pid, store=store, read_set=read_set, out=out["ours"]
        )
        figures["download hand loop"] = run_child(
            "download-loop", env, args, pid, store=store, read_set=read_set, out=out["loop"]
        )
        for name in ("ours.fastq", "loop.fastq"):
            same = os.path.getsize(os.path.join(folder, name)) == size
            print(f"{name}: {'same size as the source' if same else 'SIZE DIFFERS'}")
    finally:
        emulator.terminate()
        emulator.wait()

    bound = args.concurrency * args.part_mib + 100
    read_rate = size / MIB / figures["read"]["seconds"]
    print(f"\n{size / MIB:.0f} MiB FASTQ, parts of {args.part_mib} MiB, {args.concurrency} at a time (ours)")
    print(
        f"{'':20}{'seconds':>8}{'MiB/s':>8}{'x read':>8}{'client-side MiB/s':>19}{'client CPU s':>13}"
        f"{'emulator CPU s':>15}{'peak RSS growth MiB':>21}"
    )
    for name, figure in figures.items():
        rate = figure["bytes"] / MIB / figure["seconds"]
        client_side = figure["bytes"] / MIB / max(figure["cpu"], 1e-6)
        print(
            f"{name:20}{figure['seconds']:8.2f}{rate:8.1f}{rate / read_rate:8.2f}{client_side:19.1f}"
            f"{figure['cpu']:13.1f}{figure['emulator_cpu']:15.1f}{figure['peak_growth_mib']:21.0f}"
        )
    print(f"memory bound for ours: {bound} MiB (parts in flight x part size + 100 MiB)")
    for direction in ("upload", "download"):
        ours, loop = figures[f"{direction} ours"], figures[f"{direction} hand loop"]
        print(f"{direction}: ours / hand loop throughput = {loop['seconds'] / ours['seconds']:.2f}x")
    profile_one_part(args.part_mib)


if __name__ == "__main__":
    main()

"""Direct upload and download of a FASTQ pair against the emulator, side by side with what users would
otherwise use: throughput, client CPU and memory.

The clients, each transfer in a fresh child process (so its CPU and peak memory are its own):

  ours        OmicsHook.upload_read_set / download_read_set with their defaults (parts of 100 MiB; local
              files stream, so 10 at a time, TransferManager's number of requests in flight; the ETag hashed)
  ours x4     the same with max_concurrency=4, the default where parts are held whole (S3 sources)
  TM          aws-healthomics-tools' TransferManager, AWS's own client (parts of 100 MiB, 10 requests at a
              time), run from its own virtualenv (.venv-tools, `make tools`)
  plain loop  a boto3 loop: one part after the other, nothing checked

in two settings, each with the emulator enforcing the service's documented quotas:

  loopback    the emulator on the same two cores: CPU decides
  link        the emulator behind a simulated wide-area link (--link-mbps per connection, --link-rtt-ms a
              round trip per request): the network decides, as between a worker and the service

Each figure is the median of --repeats transfers, taken round-robin so that drift hits every client alike.
Printed: seconds, MiB/s, client CPU seconds per GiB, peak RSS growth of the child over its RSS before the
transfer, the ETag hash's own CPU cost per GiB, and the issue's targets, each met or not.

  python benchmarks/transfers.py [--pair-mib 256] [--repeats 3] [--link-mbps 200] [--link-rtt-ms 40]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1 << 20
GIB = 1 << 30
ROOT = Path(__file__).resolve().parent.parent
TOOLS_PYTHON = Path(os.environ.get("OMICS_TOOLS_PYTHON", ROOT / ".venv-tools" / "bin" / "python"))
CLIENTS = ("ours", "ours x4", "TM", "plain loop")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_fastq(path: str, size: int, mate: int) -> None:
    """Reads of 150 bases with distinct names, ``size`` bytes (about), as mate ``mate`` of a pair."""
    bases = "ACGT" * 38
    block = "".join(f"@read{i}/{mate}\n{bases[:150]}\n+\n{'I' * 150}\n" for i in range(4096)).encode()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            out.write(block)
            written += len(block)


def _omics_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "omics",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(inject_host_prefix=False, max_pool_connections=16),
    )


# ---- the child: one transfer -------------------------------------------------------------------------
def child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    client, direction = mode.rsplit("-", 1)
    sources = [args.r1, args.r2]
    if client.startswith("ours"):
        from airflow_provider_omics.hooks.omics import OmicsHook

        concurrency = 4 if client == "ours x4" else None  # None: the defaults
        hook = OmicsHook()
        hook.conn  # noqa: B018  (the client is made before the clock starts)
    else:
        omics = _omics_client(args.endpoint)
    before_rss, before_cpu, began = _rss_mib(), _cpu_seconds(), time.monotonic()
    result: dict[str, Any] = {}
    if client.startswith("ours") and direction == "upload":
        done = hook.upload_read_set(
            args.store,
            *sources,
            source_file_type="FASTQ",
            subject_id="b",
            sample_id="b",
            name="ours",
            max_concurrency=concurrency,
            wait=False,
        )
        result["readSetId"] = done["readSetId"]
    elif client.startswith("ours"):
        hook.download_read_set(args.store, args.read_set, args.out + "/", max_concurrency=concurrency)
    elif mode == "TM-upload":
        from omics.transfer.config import TransferConfig
        from omics.transfer.manager import TransferManager

        manager = TransferManager(omics, TransferConfig(directory=args.out))
        result["readSetId"] = manager.upload_read_set(sources, args.store, "FASTQ", "tm", "b", "b")
    elif mode == "TM-download":
        from omics.transfer.config import TransferConfig
        from omics.transfer.manager import TransferManager

        TransferManager(omics, TransferConfig(directory=args.out)).download_read_set(args.store, args.read_set)
    elif mode == "plain loop-upload":
        result["readSetId"] = plain_loop_upload(omics, args.store, sources)
    elif mode == "plain loop-download":
        plain_loop_download(omics, args.store, args.read_set, args.out)
    else:
        raise ValueError(f"no such mode {mode!r}")
    return {
        **result,
        "direction": direction,
        "seconds": time.monotonic() - began,
        "cpu": _cpu_seconds() - before_cpu,
        "peak_growth_mib": _peak_mib() - before_rss,
    }


def plain_loop_upload(omics: Any, store: str, paths: list[str]) -> str:
    upload = omics.create_multipart_read_set_upload(
        sequenceStoreId=store, sourceFileType="FASTQ", subjectId="b", sampleId="b", name="loop"
    )["uploadId"]
    parts = []
    for source, path in zip(("SOURCE1", "SOURCE2"), paths, strict=True):
        with open(path, "rb") as stream:
            number = 0
            while data := stream.read(100 * MIB):
                number += 1
                answer = omics.upload_read_set_part(
                    sequenceStoreId=store, uploadId=upload, partSource=source, partNumber=number, payload=data
                )
                parts.append({"partNumber": number, "partSource": source, "checksum": answer["checksum"]})
    return omics.complete_multipart_read_set_upload(sequenceStoreId=store, uploadId=upload, parts=parts)["readSetId"]


def plain_loop_download(omics: Any, store: str, read_set: str, folder: str) -> None:
    files = omics.get_read_set_metadata(sequenceStoreId=store, id=read_set)["files"]
    for file in ("SOURCE1", "SOURCE2"):
        with open(os.path.join(folder, f"{file}.fastq"), "wb") as out:
            for number in range(1, files[file.lower()]["totalParts"] + 1):
                answer = omics.get_read_set(sequenceStoreId=store, id=read_set, file=file, partNumber=number)
                out.write(answer["payload"].read())


# ---- the parent: emulators, children, tables ----------------------------------------------------------
def run_child(client: str, direction: str, args: argparse.Namespace, setting: dict[str, Any], **extra: str) -> dict:
    python = str(TOOLS_PYTHON) if client == "TM" else sys.executable
    command = [python, __file__, "--child", f"{client}-{direction}", "--r1", args.r1, "--r2", args.r2]
    command += ["--endpoint", setting["endpoint"], "--store", setting["store"]]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", value]
    done = subprocess.run(command, env=setting["env"], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{client} {direction} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_emulator(args: argparse.Namespace, link: bool) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "airflow_provider_omics.emulator", "--port", "0", "--step-seconds", "0.5"]
    if link:
        command += ["--link-mbps", str(args.link_mbps), "--link-rtt-ms", str(args.link_rtt_ms)]
    emulator = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    return emulator, (emulator.stdout.readline() if emulator.stdout else "").strip()


def wait_active(omics: Any, store: str, read_set: str) -> None:
    """The emulator ingests a read set (hashes, counts) on a thread: let it finish, outside the clock."""
    while omics.get_read_set_metadata(sequenceStoreId=store, id=read_set)["status"] != "ACTIVE":
        time.sleep(0.5)


def measure(args: argparse.Namespace, link: bool, folder: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    emulator, endpoint = start_emulator(args, link)
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {c: {"upload": [], "download": []} for c in CLIENTS}
    try:
        omics = _omics_client(endpoint)
        store = omics.create_sequence_store(name="bench")["id"]
        connection = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        connection["config_kwargs"] = {"inject_host_prefix": False}
        setting = {
            "endpoint": endpoint,
            "store": store,
            "env": {
                **os.environ,
                "AIRFLOW_HOME": folder,
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                    {"conn_type": "aws", "login": "testing", "password": "testing", "extra": connection}
                ),
            },
        }
        time.sleep(1.5)  # the store becomes ACTIVE
        for _ in range(args.repeats):
            for client in CLIENTS:
                figure = run_child(client, "upload", args, setting, out=folder)
                wait_active(omics, store, figure["readSetId"])
                figures[client]["upload"].append(figure)
        read_set = figures["ours"]["upload"][0]["readSetId"]
        size = os.path.getsize(args.r1) + os.path.getsize(args.r2)
        for repeat in range(args.repeats):
            for client in CLIENTS:
                out = tempfile.mkdtemp(dir=folder, prefix=f"{client.replace(' ', '-')}-{repeat}-")
                figure = run_child(client, "download", args, setting, read_set=read_set, out=out)
                figures[client]["download"].append(figure)
                got = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
                if got != size:
                    raise RuntimeError(f"{client} downloaded {got} bytes, not the {size} uploaded")
                for path in Path(out).rglob("*"):
                    if path.is_file():
                        path.unlink()  # keep the disk free for the next
    finally:
        emulator.terminate()
        emulator.wait()
    return figures


def etag_cpu_per_gib(paths: list[str]) -> float:
    """What hashing the pair's ETags costs by itself: the extra ours does that the others do not."""
    from airflow_provider_omics.formats import etag_of

    began = _cpu_seconds()
    for path in paths:
        with open(path, "rb") as stream:
            etag_of("MD5up", "FASTQ", iter(lambda: stream.read(8 * MIB), b""))
    return (_cpu_seconds() - began) / (sum(os.path.getsize(p) for p in paths) / GIB)


def median(figures: list[dict[str, Any]], key: str) -> float:
    return statistics.median(f[key] for f in figures)


def table(title: str, figures: dict[str, dict[str, list[dict[str, Any]]]], size: int) -> None:
    print(f"\n{title}")
    print(f"{'':22}{'seconds':>9}{'MiB/s':>9}{'client CPU s/GiB':>18}{'peak RSS growth MiB':>21}")
    for direction in ("upload", "download"):
        for client in CLIENTS:
            runs = figures[client][direction]
            seconds = median(runs, "seconds")
            print(
                f"{direction + ', ' + client:22}{seconds:9.2f}{size / MIB / seconds:9.0f}"
                f"{median(runs, 'cpu') / (size / GIB):18.2f}{max(r['peak_growth_mib'] for r in runs):21.0f}"
            )


def targets(loopback: dict, link: dict, size: int, etag: float) -> None:
    def ratio(figures: dict, direction: str, other: str, ours: str = "ours") -> float:
        return median(figures[other][direction], "seconds") / median(figures[ours][direction], "seconds")

    def cpu(figures: dict, client: str, direction: str) -> float:
        return median(figures[client][direction], "cpu") / (size / GIB)

    print("\nTargets (issue #17)")
    rows = []
    for direction in ("upload", "download"):
        rows.append((f"loopback {direction}: ours / TM >= 1.0", ratio(loopback, direction, "TM"), 1.0))
        rows.append((f"loopback {direction}: ours / plain loop >= 1.0", ratio(loopback, direction, "plain loop"), 1.0))
        rows.append((f"link {direction}: ours / plain loop >= 3.0", ratio(link, direction, "plain loop"), 3.0))
        rows.append((f"link {direction}: ours (defaults) / TM >= 0.95 (level)", ratio(link, direction, "TM"), 0.95))
    for line, value, goal in rows:
        print(f"  {line:60}{value:6.2f}x  {'met' if value >= goal else 'NOT MET'}")
    for direction in ("upload", "download"):
        ours, tm = cpu(loopback, "ours", direction), cpu(loopback, "TM", direction)
        verdict = "met" if ours <= tm + etag else "NOT MET"
        print(f"  loopback {direction}: CPU s/GiB ours {ours:.2f} <= TM {tm:.2f} + ETag {etag:.2f}   {verdict}")
    growth = max(r["peak_growth_mib"] for r in loopback["ours"]["upload"] + link["ours"]["upload"])
    print(f"  local upload, ours: peak RSS growth {growth:.0f} MiB <= 64   {'met' if growth <= 64 else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair-mib", type=int, default=1024, help="the two files together")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--link-mbps", type=float, default=200.0)
    parser.add_argument("--link-rtt-ms", type=float, default=40.0)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a 64 MiB pair, once")
    for hidden in ("--child", "--r1", "--r2", "--endpoint", "--store", "--read-set", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    if not TOOLS_PYTHON.exists():
        sys.exit(f"{TOOLS_PYTHON} is missing: `make tools` installs aws-healthomics-tools beside this checkout")
    if args.quick:
        args.pair_mib, args.repeats = 64, 1

    folder = tempfile.mkdtemp(prefix="omics-bench-transfer-")
    args.r1, args.r2 = os.path.join(folder, "reads_1.fastq"), os.path.join(folder, "reads_2.fastq")
    generate_fastq(args.r1, args.pair_mib * MIB // 2, 1)
    generate_fastq(args.r2, args.pair_mib * MIB // 2, 2)
    size = os.path.getsize(args.r1) + os.path.getsize(args.r2)
    loopback = measure(args, link=False, folder=folder)
    link = measure(args, link=True, folder=folder)
    etag = etag_cpu_per_gib([args.r1, args.r2])

    about = f"a {size / MIB:.0f} MiB FASTQ pair, median of {args.repeats}, quotas on"
    table(f"Loopback ({about})", loopback, size)
    table(f"Link of {args.link_mbps:g} Mbit/s per connection, {args.link_rtt_ms:g} ms round trip ({about})", link, size)
    print(f"\nThe ETag hash alone (ours computes it, the others do not): {etag:.2f} CPU s/GiB")
    targets(loopback, link, size, etag)


if __name__ == "__main__":
    main()

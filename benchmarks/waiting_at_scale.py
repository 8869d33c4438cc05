"""Waiting at scale: this provider's trigger against the Amazon provider's per-job waiter trigger, side by side.

For each scenario (N concurrent run waits, or N read-set import waits) and each mode, in one invocation:

* a fresh emulator in its own process, enforcing the service's quotas (StartRun raised so the benchmark can
  start jobs quickly: it is not what is measured);
* a triggerer-like process: one event loop that runs one trigger per job, each created as its job starts
  (the ids come on stdin), as a triggerer receives the deferred tasks of a backfill:
  - ``ours``: ``OmicsJobTrigger`` (the status source answers all waits together, within the quotas);
  - ``baseline``: ``AwsBaseWaiterTrigger`` on botocore's own waiter (``run_completed``,
    ``read_set_import_job_completed``): one aiobotocore client and one describe per wait per poll, the
    pattern of the Amazon provider's triggers;
* figures from the emulator's request log and transition records, and from the triggerer process itself.

``python benchmarks/waiting_at_scale.py`` (``make bench``) runs the issue's scenarios: runs in progress for
5 minutes, polled every 5 s. ``--quick`` is a smoke run of a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

ROLE_ARN = "arn:aws:iam::123456789012:role/OmicsServiceRole"
STATUS_OPERATIONS = {
    "run": ("GetRun", "ListRuns"),
    "read_set_import": ("GetReadSetImportJob", "ListReadSetImportJobs"),
}
# In progress for: a run passes through 3 scheduled steps (STARTING, RUNNING, COMPLETED), an import through 2.
STEPS = {"run": 3, "read_set_import": 2}


@dataclass
class Scenario:
    kind: str
    jobs: int

    @property
    def title(self) -> str:
        return f"{self.jobs} {'run' if self.kind == 'run' else 'read-set import'} waits"


# ---- the triggerer-like process ----------------------------------------------------------------------
def triggerer(mode: str, kind: str, delay: float, report_path: str) -> None:
    """Read job ids from stdin, wait for each with one trigger, write a JSON report when all have fired."""
    logging.basicConfig(level=logging.INFO)  # both modes log as in a triggerer: the cost of it counts alike
    from airflow_provider_omics.triggers.omics import OmicsJobTrigger

    trigger_class = _baseline_trigger_class(kind) if mode == "baseline" else None
    calls = _count_calls()
    rss_start = _rss_kib()
    cpu_start = _cpu_seconds()

    def make(ids: dict[str, str]) -> Any:
        if trigger_class is not None:
            return trigger_class(ids, delay)
        return OmicsJobTrigger(kind=kind, ids=ids, waiter_delay=delay, waiter_max_attempts=100_000)

    async def main() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, daemon=True).start()

        async def wait(ids: dict[str, str]) -> dict[str, Any]:
            began = time.time()
            event = await anext(make(ids).run())
            return {"id": ids["id"], "began": began, "fired": time.time(), "status": event.payload["status"]}

        waits = []
        while (line := await lines.get()) is not None:
            waits.append(asyncio.create_task(wait(json.loads(line))))
        return await asyncio.gather(*waits)

    events = asyncio.run(main())
    report = {
        "events": events,
        "cpu_seconds": _cpu_seconds() - cpu_start,
        "rss_growth_kib": _peak_kib() - rss_start,
        "calls": dict(calls),
    }
    with open(report_path, "w") as out:
        json.dump(report, out)


def _baseline_trigger_class(kind: str) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

    waiter = {"run": "run_completed", "read_set_import": "read_set_import_job_completed"}[kind]

    class OmicsHook(AwsGenericHook):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, client_type="omics", **kwargs)

    class PerJobWaiterTrigger(AwsBaseWaiterTrigger):
        aws_hook_class = OmicsHook

        def __init__(self, ids: dict[str, str], delay: float) -> None:
            super().__init__(
                serialized_fields={"ids": ids},
                waiter_name=waiter,
                waiter_args=ids,
                failure_message="job failed",
                status_message="job status",
                status_queries=["status"],
                return_key="id",
                return_value=ids["id"],
                waiter_delay=delay,
                waiter_max_attempts=100_000,
                aws_conn_id="aws_default",
            )

    return PerJobWaiterTrigger


def _count_calls() -> Counter[str]:
    """Every AWS request this process makes, by operation (SQS's too, which the emulator's log leaves to moto)."""
    from aiobotocore.client import AioBaseClient

    calls: Counter[str] = Counter()
    make_api_call = AioBaseClient._make_api_call

    async def counted(self: Any, operation_name: str, params: Any) -> Any:
        calls[operation_name] += 1
        return await make_api_call(self, operation_name, params)

    AioBaseClient._make_api_call = counted  # type: ignore[method-assign]
    return calls


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ---- one scenario in one mode --------------------------------------------------------------------------
def measure(scenario: Scenario, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    step = args.job_seconds / STEPS[scenario.kind]
    serve = ["--port", "0", "--step-seconds", str(step), "--quota", "StartRun=1000"]
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_omics.emulator", *serve],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        endpoint = (emulator.stdout.readline() if emulator.stdout else "").strip()
        client = boto3.client(
            "omics",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 10}),
        )
        start_job = _prepare(scenario.kind, client, endpoint)
        env = {
            **os.environ,
            "AIRFLOW_HOME": tempfile.mkdtemp(prefix="omics-bench-"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
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
        report_path = os.path.join(env["AIRFLOW_HOME"], "report.json")
        child_log = open(os.path.join(env["AIRFLOW_HOME"], "triggerer.log"), "w")  # noqa: SIM115
        command = ["--triggerer", mode, "--kind", scenario.kind, "--delay", str(args.delay), "--report", report_path]
        child = subprocess.Popen(
            [sys.executable, __file__, *command],
            stdin=subprocess.PIPE,
            stdout=child_log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert child.stdin is not None
        gap = 1 / args.start_rate
        began = time.monotonic()
        for index in range(scenario.jobs):
            time.sleep(max(0.0, began + index * gap - time.monotonic()))
            child.stdin.write(json.dumps(start_job(index)) + "\n")
            child.stdin.flush()
        child.stdin.close()
        if child.wait(timeout=args.job_seconds * 20 + scenario.jobs * 10):
            raise RuntimeError(f"the {mode} triggerer failed: see {child_log.name}")
        with open(report_path) as saved:
            report = json.load(saved)
        requests = _get(endpoint, "/_emulator/requests")["requests"]
        transitions = _get(endpoint, f"/_emulator/transitions?kind={scenario.kind}")
    finally:
        emulator.terminate()
        emulator.wait()
    return _figures(scenario, report, requests, transitions)


def _prepare(kind: str, client: Any, endpoint: str) -> Any:
    """Create what the jobs need; return ``start(index) -> ids`` for one job."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="bench")
    for key in ("r1.fastq", "r2.fastq", "reference.fa"):
        s3.put_object(Bucket="bench", Key=key, Body=b"@r1\nACGT\n+\nIIII\n" if "fastq" in key else b">chr1\nACGT\n")
    if kind == "run":
        from airflow_provider_omics.operators.workflows import zip_definition

        definition, main = zip_definition(os.path.join(os.path.dirname(__file__), "..", "example_dags", "workflows"))
        workflow = client.create_workflow(name="bench", definitionZip=definition, main=main, requestId="bench")["id"]
        _until(lambda: client.get_workflow(id=workflow)["status"] == "ACTIVE")

        def start_run(index: int) -> dict[str, str]:
            run = client.start_run(
                workflowId=workflow,
                roleArn=ROLE_ARN,
                name=f"s{index}",
                outputUri="s3://bench/out/",
                requestId=f"{index}",
                parameters={
                    "sample_name": f"s{index}",
                    "reads_1": "s3://bench/r1.fastq",
                    "reads_2": "s3://bench/r2.fastq",
                    "reference": "s3://bench/reference.fa",
                },
            )
            return {"id": run["id"]}

        return start_run
    store = client.create_sequence_store(name="bench")["id"]
    _until(lambda: client.get_sequence_store(id=store)["status"] == "ACTIVE")
    source = {"sourceFiles": {"source1": "s3://bench/r1.fastq"}, "sourceFileType": "FASTQ", "subjectId": "p"}

    def start_import(index: int) -> dict[str, str]:
        job = client.start_read_set_import_job(
            sequenceStoreId=store, roleArn=ROLE_ARN, sources=[{**source, "sampleId": f"s{index}"}]
        )
        return {"sequenceStoreId": store, "id": job["id"]}

    return start_import


def _until(condition: Any) -> None:
    while not condition():
        time.sleep(0.1)


def _get(endpoint: str, path: str) -> Any:
    with urllib.request.urlopen(endpoint + path) as response:
        return json.loads(response.read())


def _figures(
    scenario: Scenario, report: dict[str, Any], requests: list[dict], transitions: dict[str, list]
) -> dict[str, Any]:
    from airflow_provider_omics.quotas import default_quotas

    operations = STATUS_OPERATIONS[scenario.kind]
    status_requests = [r for r in requests if r["operation"] in operations]
    events = report["events"]
    wait_minutes = sum(e["fired"] - e["began"] for e in events) / 60
    latencies = sorted(e["fired"] - transitions[e["id"]][-1]["time"] for e in events)
    quotas = default_quotas()
    peak = {op: _peak_per_second([r["time"] for r in status_requests if r["operation"] == op]) for op in operations}
    return {
        "by_operation": {op: sum(1 for r in status_requests if r["operation"] == op) for op in operations},
        "requests": len(status_requests),
        "per_job_minute": len(status_requests) / wait_minutes,
        "peak": peak,
        "peak_over_quota": max(peak[op] / quotas[op] for op in operations),
        "throttled": sum(1 for r in status_requests if r["outcome"] == "ThrottlingException"),
        "failed_waits": sum(1 for e in events if e["status"] != "success"),
        "cpu_seconds": report["cpu_seconds"],
        "rss_growth_mib": report["rss_growth_kib"] / 1024,
        "latency": {
            "mean": statistics.fmean(latencies),
            "p95": latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)],
            "max": latencies[-1],
        },
    }


def _peak_per_second(times: list[float]) -> int:
    """The most requests in any one-second window."""
    times = sorted(times)
    peak, first = 0, 0
    for last, now in enumerate(times):
        while times[first] <= now - 1:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


# ---- the table ---------------------------------------------------------------------------------------
# (row, how each mode's figure is shown, the figure whose ours / baseline ratio is shown)
ROWS: list[tuple[str, Any, Any]] = [
    ("requests by operation", lambda f: ", ".join(f"{op} {n}" for op, n in f["by_operation"].items()), None),
    ("requests", lambda f: str(f["requests"]), lambda f: f["requests"]),
    ("requests / job / minute", lambda f: f"{f['per_job_minute']:.3f}", lambda f: f["per_job_minute"]),
    ("peak requests/s (x quota)", lambda f: f"{max(f['peak'].values())} ({f['peak_over_quota']:.1f}x)", None),
    ("throttled responses", lambda f: str(f["throttled"]), None),
    ("failed waits", lambda f: str(f["failed_waits"]), None),
    ("triggerer CPU s", lambda f: f"{f['cpu_seconds']:.1f}", lambda f: f["cpu_seconds"]),
    ("triggerer RSS growth MiB", lambda f: f"{f['rss_growth_mib']:.1f}", lambda f: max(f["rss_growth_mib"], 0.1)),
    ("latency mean / p95 / max s", lambda f: "{mean:.1f} / {p95:.1f} / {max:.1f}".format(**f["latency"]), None),
]


def print_table(scenario: Scenario, figures: dict[str, dict[str, Any]]) -> None:
    compare = list(figures) == ["ours", "baseline"]
    header = ["", *figures] + (["ours / baseline"] if compare else [])
    print(f"\n### {scenario.title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, show, figure in ROWS:
        cells = [name, *(show(f) for f in figures.values())]
        if compare:
            cells.append(f"{figure(figures['ours']) / figure(figures['baseline']):.3f}" if figure else "")
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()


def main() -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)  # the emulator takes any credentials
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="10,100,500,1000", help="numbers of concurrent run waits")
    parser.add_argument("--imports", default="500", help="numbers of read-set import waits")
    parser.add_argument("--delay", type=float, default=5.0, help="waiter_delay of every wait, seconds")
    parser.add_argument("--job-seconds", type=float, default=300.0, help="how long each job is in progress")
    parser.add_argument("--start-rate", type=float, default=5.0, help="jobs started per second")
    parser.add_argument("--modes", default="ours,baseline")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 and 100 runs of 30 s")
    parser.add_argument("--triggerer", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.triggerer:
        triggerer(args.triggerer, args.kind, args.delay, args.report)
        return
    if args.quick:
        args.runs, args.imports, args.job_seconds, args.start_rate = "10,100", "100", 30.0, 10.0
    scenarios = [Scenario("run", int(n)) for n in args.runs.split(",") if n]
    scenarios += [Scenario("read_set_import", int(n)) for n in args.imports.split(",") if n]
    print(
        f"Waiting at scale: waiter_delay {args.delay:g}s, jobs in progress {args.job_seconds:g}s, "
        f"started {args.start_rate:g}/s, emulator enforcing the service's quotas"
    )
    for scenario in scenarios:
        print_table(scenario, {mode: measure(scenario, mode, args) for mode in args.modes.split(",")})


if __name__ == "__main__":
    main()

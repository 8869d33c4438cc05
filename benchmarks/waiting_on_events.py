"""Waiting on HealthOmics' EventBridge events against polling, side by side: 1,000 deferred run waits in one run.

Each mode runs in a fresh emulator in its own process, enforcing the service's quotas (StartRun raised so the
benchmark can start runs quickly: it is not what is measured), with an EventBridge rule on ``aws.omics`` filling
an SQS queue, and triggerer-like processes each running one ``OmicsJobTrigger`` per run (``waiting_at_scale.py``'s):

* ``polling``: ``waiter_delay`` 30 s (the examples' value), a connection without a queue: coalesced polling;
* ``events``: the same waits, the connection extra ``omics_events_queue`` naming the queue;
* ``events, 5% dropped``: the emulator drops 5% of the events; the safety poll ends those waits;
* ``events, 2 (3) triggerers``: the waits split between processes sharing the queue.

Scenarios: ends spread out (runs started 10 a second, each in progress a minute) and ends together (started as
fast as the emulator takes them, so they end within a few seconds of each other). Figures: status requests
(``GetRun`` + ``ListRuns``, the emulator's log) and SQS requests (counted in the triggerers) per run; from each
run's end to its trigger firing (p50, p95, max) and the last firing after the last end; waits that never fired;
throttled status requests; the triggerers' CPU seconds.

``python benchmarks/waiting_on_events.py`` (``make bench``); ``--quick`` is a smoke run of 100 runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
import waiting_at_scale as scale

DELAY = 30.0  # waiter_delay of every wait
STATUS = ("GetRun", "ListRuns")
SQS = ("ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")


@dataclass(frozen=True)
class Mode:
    name: str
    events: bool = True
    triggerers: int = 1
    drop: float = 0.0


MODES = [
    Mode("polling", events=False),
    Mode("events"),
    Mode("events, 5% dropped", drop=0.05),
    Mode("events, 2 triggerers", triggerers=2),
    Mode("events, 3 triggerers", triggerers=3),
]


def measure(mode: Mode, runs: int, start_rate: float, args: argparse.Namespace) -> dict[str, Any]:
    serve = ["--port", "0", "--step-seconds", str(args.job_seconds / scale.STEPS["run"]), "--quota", "StartRun=1000"]
    emulator = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_omics.emulator", *serve], stdout=subprocess.PIPE, text=True
    )
    try:
        endpoint = (emulator.stdout.readline() if emulator.stdout else "").strip()
        config = Config(inject_host_prefix=False, retries={"mode": "standard", "max_attempts": 10})
        client = boto3.client("omics", endpoint_url=endpoint, region_name="us-east-1", config=config)
        start_run = scale._prepare("run", client, endpoint)
        extra: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "config_kwargs": {"inject_host_prefix": False},
        }
        if mode.events:
            extra["omics_events_queue"] = _queue(endpoint)
            extra["omics_events_safety_interval"] = args.safety_interval
        if mode.drop:
            _post(endpoint, "/_emulator/event-delivery", {"drop": mode.drop})
        home = tempfile.mkdtemp(prefix="omics-bench-events-")
        connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        }
        children = []
        for number in range(mode.triggerers):
            report = os.path.join(home, f"report-{number}.json")
            log = open(os.path.join(home, f"triggerer-{number}.log"), "w")  # noqa: SIM115
            command = [
                scale.__file__,
                "--triggerer",
                "ours",
                "--kind",
                "run",
                "--delay",
                str(DELAY),
                "--report",
                report,
            ]
            child = subprocess.Popen(
                [sys.executable, *command],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            children.append((child, report, log))
        time.sleep(10)  # the triggerers import Airflow before the first run starts
        began = time.monotonic()
        for index in range(runs):
            time.sleep(max(0.0, began + index / start_rate - time.monotonic()))
            stdin = children[index % len(children)][0].stdin
            assert stdin is not None
            stdin.write(json.dumps(start_run(index)) + "\n")
            stdin.flush()
        reports = []
        for child, report, log in children:
            assert child.stdin is not None
            child.stdin.close()
            if child.wait(timeout=args.job_seconds * 10 + runs + args.safety_interval * 3):
                raise RuntimeError(f"a triggerer failed: see {log.name}")
            with open(report) as saved:
                reports.append(json.load(saved))
        requests = scale._get(endpoint, "/_emulator/requests")["requests"]
        transitions = scale._get(endpoint, "/_emulator/transitions?kind=run")
    finally:
        emulator.terminate()
        emulator.wait()
    return _figures(runs, reports, requests, transitions)


def _queue(endpoint: str) -> str:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    events = boto3.client("events", endpoint_url=endpoint, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="omics-waits")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # The ends only, as docs/eventbridge/omics-events.cfn.yaml's rule for waits sends them.
    pattern = {"source": ["aws.omics"], "detail-type": ["Run Status Change"], "detail": {"status": ["COMPLETED"]}}
    events.put_rule(Name="omics-waits", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="omics-waits", Targets=[{"Id": "waits", "Arn": arn}])
    return queue


def _post(endpoint: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        endpoint + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    urllib.request.urlopen(request).read()


def _figures(runs: int, reports: list[dict], requests: list[dict], transitions: dict[str, list]) -> dict[str, Any]:
    events = [event for report in reports for event in report["events"]]
    ended = {run_id: steps[-1]["time"] for run_id, steps in transitions.items()}
    latencies = sorted(event["fired"] - ended[event["id"]] for event in events)
    status = [r for r in requests if r["operation"] in STATUS]
    sqs = sum(report["calls"].get(operation, 0) for report in reports for operation in SQS)
    return {
        "status_per_run": len(status) / runs,
        "sqs_per_run": sqs / runs,
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)],
        "max": latencies[-1],
        "last_after_last_end": max(event["fired"] for event in events) - max(ended.values()),
        "lost": runs - sum(1 for event in events if event["status"] in ("success", "ended")),
        "throttled": sum(1 for r in status if r["outcome"] == "ThrottlingException") / max(len(status), 1),
        "cpu_seconds": sum(report["cpu_seconds"] for report in reports),
    }


HEADER = (
    "| mode | status requests / run | SQS requests / run | end to firing p50 / p95 / max s "
    "| last firing after last end s | waits lost | throttled | triggerer CPU s |"
)


def row(name: str, figures: dict[str, Any]) -> str:
    return (
        f"| {name} | {figures['status_per_run']:.2f} | {figures['sqs_per_run']:.2f} "
        f"| {figures['p50']:.1f} / {figures['p95']:.1f} / {figures['max']:.1f} "
        f"| {figures['last_after_last_end']:.1f} | {figures['lost']} | {figures['throttled']:.1%} "
        f"| {figures['cpu_seconds']:.1f} |"
    )


def main() -> None:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        os.environ.setdefault(key, value)  # the emulator takes any credentials
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="concurrent run waits")
    parser.add_argument("--job-seconds", type=float, default=60.0, help="how long each run is in progress")
    parser.add_argument("--start-rate", type=float, default=10.0, help="runs started per second, ends spread out")
    parser.add_argument("--safety-interval", type=float, default=60.0, help="omics_events_safety_interval, seconds")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.job_seconds, args.start_rate = 100, 20.0, 20.0
    print(
        f"Waiting on events: {args.runs} run waits, waiter_delay {DELAY:g}s, runs in progress {args.job_seconds:g}s, "
        f"safety poll every {args.safety_interval:g}s, emulator enforcing the service's quotas"
    )
    scenarios = [("ends spread out", args.start_rate, MODES), ("ends together", 1000.0, MODES[:2])]
    for title, rate, modes in scenarios:
        print(f"\n### {args.runs} runs, {title} (started {rate:g}/s)\n\n{HEADER}\n|{'---|' * 8}")
        for mode in modes:
            print(row(mode.name, measure(mode, args.runs, rate, args)), flush=True)


if __name__ == "__main__":
    main()

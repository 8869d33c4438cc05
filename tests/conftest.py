from __future__ import annotations

import importlib.metadata
import os
import tempfile

# Airflow reads its home and config on import: give the tests their own, before anything imports it. Each
# process has its own (pytest-xdist's workers inherit the environment of the process that started them): its
# metadata database, dags folder and OpenLineage events are nobody else's.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix=f"omics-airflow-home-{os.environ.get('PYTEST_XDIST_WORKER', '')}")
DAGS_FOLDER = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
os.makedirs(DAGS_FOLDER, exist_ok=True)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS_FOLDER
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
# OpenLineage events of the DAGs a test enables (``enable_lineage``), one JSON line each, written in a thread.
OPENLINEAGE_EVENTS = os.path.join(os.environ["AIRFLOW_HOME"], "openlineage.jsonl")
os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = (
    f'{{"type": "file", "log_file_path": "{OPENLINEAGE_EVENTS}", "append": true}}'
)
os.environ["AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE"] = "True"
os.environ["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] = "True"
os.environ["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "omics-tests"
if importlib.metadata.version("apache-airflow").startswith("2."):
    # Airflow 2's unit-test configuration picks the LocalExecutor, which refuses SQLite.
    os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[key] = value

import importlib.util  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from airflow_provider_omics.compat import AIRFLOW_V_3_0_PLUS  # noqa: E402
from airflow_provider_omics.emulator import OmicsEmulator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOOLS_PYTHON = Path(os.environ.get("OMICS_TOOLS_PYTHON", ROOT / ".venv-tools" / "bin" / "python"))

STEP_SECONDS = 0.05
ROLE_ARN = "arn:aws:iam::123456789012:role/OmicsServiceRole"


# [START emulator_fixtures]
@pytest.fixture(scope="session")
def emulator_server():
    # Quotas off: tests poll every 50 ms and count requests; tests/test_emulator.py turns them on to test them.
    with OmicsEmulator(step_seconds=STEP_SECONDS, quotas=False) as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server, monkeypatch):
    """A clean emulator, and ``aws_default`` pointing at it."""
    emulator_server.reset()
    emulator_server.backend.step_seconds = STEP_SECONDS
    emulator_server.quotas.enabled = False
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", emulator_server.connection_json())
    return emulator_server


# [END emulator_fixtures]


def _client(emulator: OmicsEmulator, service: str, **config):
    return emulator.client(service, retries={"total_max_attempts": 1}, **config)


@pytest.fixture
def omics(emulator, s3):
    """The emulator's omics; the account has the bucket ``genomics`` (``s3``) that tests' runs write to."""
    return _client(emulator, "omics")


@pytest.fixture
def logs(emulator):
    return _client(emulator, "logs")


@pytest.fixture
def s3(emulator):
    client = _client(emulator, "s3")
    client.create_bucket(Bucket="genomics")
    return client


@pytest.fixture
def inputs(s3, tmp_path):
    """The tour's inputs in the emulator's S3, and its workflow definition as ``tmp_path / "main.wdl"``."""
    from tour import WDL, put_inputs

    put_inputs(s3)
    (tmp_path / "main.wdl").write_bytes(WDL)
    return tmp_path


# [START eventbridge_fixture]
@pytest.fixture
def omics_events(emulator):
    """The HealthOmics events on the default bus from now on, as a rule would send them to an SQS queue;
    call it to drain the queue (each call returns what arrived since the last)."""
    sqs, events = _client(emulator, "sqs"), _client(emulator, "events")
    queue = sqs.create_queue(QueueName="omics-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="omics-events", EventPattern=json.dumps({"source": ["aws.omics"]}))
    events.put_targets(Rule="omics-events", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received() -> list[dict]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            found += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(
                QueueUrl=queue, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages]
            )
        return found

    return received


# [END eventbridge_fixture]


@pytest.fixture
def events_queue(emulator, monkeypatch):
    """An EventBridge rule filling a new SQS queue, and ``aws_default`` answering its waits from it; call it with
    the connection extra's other settings (``omics_events_safety_interval=2``). Returns the queue's URL."""
    sqs, events = _client(emulator, "sqs"), _client(emulator, "events")
    made = iter(range(1_000))

    def connect(name: str | None = None, **extra) -> str:
        name = name or f"omics-events-{next(made)}"
        queue = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.omics"]}))
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
        extra = {**emulator.connection_extra(), "omics_events_queue": queue, **extra}
        connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
        return queue

    return connect


# [START airflow_db_fixture]
@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the tests' own AIRFLOW_HOME), migrated once."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    if not AIRFLOW_V_3_0_PLUS:  # Airflow 2's DagRunNote refers to FAB's ab_user, mapped once its models load
        importlib.import_module("airflow.providers.fab.auth_manager.models")


# [END airflow_db_fixture]


DAG_HEADER = """
import pendulum
from airflow_provider_omics.compat import DAG
from airflow_provider_omics.operators.analytics import *
from airflow_provider_omics.operators.preflight import *
from airflow_provider_omics.operators.shares import *
from airflow_provider_omics.operators.storage import *
from airflow_provider_omics.operators.transfers import *
from airflow_provider_omics.operators.workflows import *
from airflow_provider_omics.sensors.omics import *

ROLE = "arn:aws:iam::123456789012:role/OmicsServiceRole"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
"""


@pytest.fixture
def run_dag(airflow_db, emulator):
    """Write a DAG file into the dags folder, run it with ``dag.test()``; return {task_id: task instance}."""

    def run(body: str, dag_id: str = "test_dag", **test_kwargs):
        for old in pathlib.Path(DAGS_FOLDER).glob("*.py"):
            old.unlink()
        path = pathlib.Path(DAGS_FOLDER) / f"{dag_id}.py"
        path.write_text(DAG_HEADER + textwrap.dedent(body))
        spec = importlib.util.spec_from_file_location(f"dag_{dag_id}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        show_task_errors(module.dag)
        dag_run = module.dag.test(**dag_test_kwargs(**test_kwargs))
        return dag_run, instances(dag_run)

    return run


EXAMPLES = pathlib.Path(__file__).parent.parent / "example_dags"
BUCKET = "omics-demo"


# The example workflow's container registry map (example_dags/), and its images (biocontainers/... on Docker Hub)
# where that map has ECR pull them from.
DOCKER_HUB = {
    "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
}
EXAMPLE_IMAGES = [
    f"123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/biocontainers/{name}:latest"
    for name in ("bwa-samtools", "bcftools")
]


def upload_inputs(emulator) -> None:
    """The example inputs (``example_dags/data``) in S3 under ``s3://omics-demo/inputs/`` and the example
    workflow's images in ECR, as ``make demo`` does."""
    for image in EXAMPLE_IMAGES:
        emulator.push_image(image)
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    data = EXAMPLES / "data"
    for path in data.rglob("*"):
        if path.is_file():
            s3.put_object(Bucket=BUCKET, Key=f"inputs/{path.relative_to(data)}", Body=path.read_bytes())


@pytest.fixture
def example(airflow_db, emulator, s3, monkeypatch):
    """Load an example DAG file (``example_dags/``) as the demo does: its settings, its inputs, its folder."""
    monkeypatch.setenv("OMICS_DEMO_BUCKET", BUCKET)
    monkeypatch.setenv("OMICS_WAITER_DELAY", "0.05")
    upload_inputs(emulator)

    def load(name: str):
        folder = pathlib.Path(DAGS_FOLDER)
        for old in folder.glob("*.py"):
            old.unlink()
        shutil.copy(EXAMPLES / f"{name}.py", folder)
        for data in ("workflows", "data"):
            shutil.copytree(EXAMPLES / data, folder / data, dirs_exist_ok=True)
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag

    return load


def states(dag_run) -> dict[str, str]:
    return {key: ti.state for key, ti in instances(dag_run).items()}


@pytest.fixture
def output(capfd, caplog):
    """What a user sees of a task run by ``dag.test()``: its log and errors, wherever this Airflow sends them
    (stdout on Airflow 3.3, Python logging on 2.11 and 3.0). Call it to read what was written so far."""
    caplog.set_level(logging.INFO)

    def read() -> str:
        captured = capfd.readouterr()
        return captured.out + captured.err + caplog.text

    return read


def instances(dag_run) -> dict:
    """A DAG run's task instances by task id, mapped ones as ``task[index]``."""
    return {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti for ti in dag_run.get_task_instances()
    }


def show_task_errors(dag) -> None:
    """Log why each task failed: ``dag.test()`` on Airflow 3.0 drops the task runner's own log of it
    (3.3 prints it, and real workers write it to the task log on every version)."""

    def logged(method):
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as error:
                if type(error).__name__ != "TaskDeferred":
                    logging.getLogger("tests.task_errors").error("Task %s failed: %s", self.task_id, error)
                raise

        return run

    for task in dag.tasks:
        cls = type(task)
        if not hasattr(cls, "execute") or hasattr(cls, "_shows_errors"):  # a mapped task, or done already
            continue
        # A subclass, not a bound wrapper: Airflow runs a rendered copy of the task, which keeps its class.
        namespace = {"execute": logged(cls.execute), "_shows_errors": True, "__module__": cls.__module__}
        if hasattr(cls, "resume_execution"):
            namespace["resume_execution"] = logged(cls.resume_execution)
        object.__setattr__(task, "__class__", type(cls.__name__, (cls,), namespace))


def dag_test_kwargs(logical_date=None, **kwargs) -> dict:
    """``dag.test()`` arguments for a DAG run of ``logical_date``, as this Airflow names them."""
    if logical_date is not None:
        if AIRFLOW_V_3_0_PLUS:
            kwargs.update(logical_date=logical_date, run_after=logical_date)
        else:
            kwargs.update(execution_date=logical_date)
    return kwargs


def xcom(ti, key: str = "return_value"):
    """What a task pushed to XCom, as the next task would read it."""
    from airflow.utils.session import create_session

    if not AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XCom

        return XCom.get_one(run_id=ti.run_id, dag_id=ti.dag_id, task_id=ti.task_id, map_index=ti.map_index, key=key)
    from airflow.models.xcom import XComModel

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=ti.run_id, dag_ids=ti.dag_id, task_ids=ti.task_id, map_indexes=ti.map_index, key=key
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


@pytest.fixture
def tools(emulator):
    """``tools(*argv)`` runs the tools' Python (``-c`` scripts) or, with ``cli=True``, its command line."""
    if not TOOLS_PYTHON.exists():
        pytest.fail(f"{TOOLS_PYTHON} is missing: `make tools` installs aws-healthomics-tools beside this checkout")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": emulator.region,
    }

    def run(*argv: str, cli: bool = False, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
        program = [str(TOOLS_PYTHON.parent / "aws-healthomics-tools")] if cli else [str(TOOLS_PYTHON)]
        done = subprocess.run([*program, *argv], env=env, capture_output=True, text=True, cwd=cwd, timeout=120)
        if check and done.returncode:
            raise AssertionError(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    return run


@pytest.fixture
def openlineage_events():
    """The OpenLineage events recorded from now on; call it with a DAG id once the DAG run has ended."""
    if os.path.exists(OPENLINEAGE_EVENTS):
        os.unlink(OPENLINEAGE_EVENTS)

    def read(dag_id: str) -> list[dict]:
        """The events once the DAG run's own has come, or none has come for a second: under ``dag.test()`` some
        OpenLineage providers send no DAG-run event (MWAA 3.0.6's 2.6.1 is handed a DAG run detached from its
        session; 3.2.1's 2.16.0 has shut its executor down by then). The task events are what is checked."""
        deadline = time.monotonic() + 30  # the provider emits from threads
        seen, quiet_since = -1, time.monotonic()
        while True:
            events = []
            if os.path.exists(OPENLINEAGE_EVENTS):
                with open(OPENLINEAGE_EVENTS) as lines:
                    events = [json.loads(line) for line in lines if line.strip()]
            if len(events) != seen:
                seen, quiet_since = len(events), time.monotonic()
            dag_run_ended = any(e["job"]["name"] == dag_id and e["eventType"] in ("COMPLETE", "FAIL") for e in events)
            if dag_run_ended or (events and time.monotonic() - quiet_since >= 1.0):
                time.sleep(0.5)  # the last task events, from other threads
                with open(OPENLINEAGE_EVENTS) as lines:
                    return [json.loads(line) for line in lines if line.strip()]
            assert time.monotonic() < deadline, f"no OpenLineage event for {dag_id} settled in 30 s ({seen} events)"
            time.sleep(0.2)

    return read


def pytest_collection_modifyitems(items):
    """The end-to-end tests (``slow``: whole DAGs, a real scheduler) first: pytest-xdist hands tests out in this
    order, so the longest start while the short ones fill the other workers, instead of trailing alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

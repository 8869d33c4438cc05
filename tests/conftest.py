from __future__ import annotations

import os
import tempfile

# Airflow reads its home and config on import: give the tests their own, before anything imports it.
_HOME = tempfile.mkdtemp(prefix="omics-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
DAGS_FOLDER = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
os.makedirs(DAGS_FOLDER, exist_ok=True)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = DAGS_FOLDER
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[key] = value

import importlib.util  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from botocore.config import Config  # noqa: E402

from airflow_provider_omics.emulator import OmicsEmulator  # noqa: E402

STEP_SECONDS = 0.05
ROLE_ARN = "arn:aws:iam::123456789012:role/OmicsServiceRole"


@pytest.fixture(scope="session")
def emulator_server():
    with OmicsEmulator(step_seconds=STEP_SECONDS) as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server, monkeypatch):
    """A clean emulator, and ``aws_default`` pointing at it."""
    emulator_server.reset()
    emulator_server.backend.step_seconds = STEP_SECONDS
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", emulator_server.connection_json())
    return emulator_server


def _client(emulator: OmicsEmulator, service: str, **config):
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture
def omics(emulator):
    return _client(emulator, "omics")


@pytest.fixture
def s3(emulator):
    client = _client(emulator, "s3")
    client.create_bucket(Bucket="genomics")
    return client


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the tests' own AIRFLOW_HOME), migrated once."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


DAG_HEADER = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_omics.operators.analytics import *
from airflow_provider_omics.operators.storage import *
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
        dag_run = module.dag.test(**test_kwargs)
        return dag_run, instances(dag_run)

    return run


def instances(dag_run) -> dict:
    """A DAG run's task instances by task id, mapped ones as ``task[index]``."""
    return {
        ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti for ti in dag_run.get_task_instances()
    }


def xcom(ti, key: str = "return_value"):
    """What a task pushed to XCom, as the next task would read it."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=ti.run_id, dag_ids=ti.dag_id, task_ids=ti.task_id, map_indexes=ti.map_index, key=key
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)

from __future__ import annotations

import os
import tempfile

# Airflow reads its home and config on import: give the tests their own, before anything imports it.
_HOME = tempfile.mkdtemp(prefix="omics-airflow-home-")
os.environ.setdefault("AIRFLOW_HOME", _HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[key] = value

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

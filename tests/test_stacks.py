"""The stacks users have: each Amazon MWAA image as AWS ships it, and the newest Airflow.

``make test-matrix`` runs this file on every stack. On an MWAA stack (an Airflow version with a constraint
file in ``constraints/mwaa/``) it checks that installing the provider moved none of MWAA's pins, and on
every stack that the newest HealthOmics operations work whatever botocore the stack pins.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import airflow
import boto3
import botocore
import pytest
from conftest import xcom
from packaging.requirements import Requirement
from packaging.version import Version

from airflow_provider_omics import shipped_model
from airflow_provider_omics.hooks.omics import OmicsHook

ROOT = Path(__file__).resolve().parent.parent
MWAA_CONSTRAINTS = ROOT / "constraints" / "mwaa" / f"{airflow.__version__}.txt"
# The operations newer than the oldest stack's botocore (MWAA 3.0.6: 1.39.11), with the botocore that has them.
NEWER_OPERATIONS = {"CreateWorkflowVersion": "1.37.36", "StartRunBatch": "1.42.74", "CreateConfiguration": "1.42.78"}


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            found[requirement.name.lower().replace("_", "-")] = str(requirement.specifier).removeprefix("==")
    return found


@pytest.mark.skipif(not MWAA_CONSTRAINTS.exists(), reason=f"Airflow {airflow.__version__} is no Amazon MWAA image")
def test_the_provider_moved_none_of_mwaas_pins():
    installed = {
        dist.metadata["Name"].lower().replace("_", "-"): dist.version for dist in importlib.metadata.distributions()
    }
    moved = {
        name: (pin, installed[name]) for name, pin in pins(MWAA_CONSTRAINTS).items() if installed.get(name, pin) != pin
    }
    assert moved == {}
    assert sys.version_info[:2] == (3, 12), "Amazon MWAA runs Python 3.12"
    provider = importlib.metadata.distribution("airflow-provider-omics")
    assert provider.read_text("direct_url.json") is None or "editable" not in provider.read_text("direct_url.json"), (
        "an MWAA stack tests the built wheel, as users install it"
    )


@pytest.mark.skipif(MWAA_CONSTRAINTS.exists(), reason="the newest stack is the one the package is developed against")
def test_the_shipped_model_is_the_newest_stacks():
    assert str(shipped_model.SHIPPED_BOTOCORE) == botocore.__version__, "make model ships the model of this botocore"
    assert (shipped_model.DATA_PATH / "omics" / "2022-11-28" / "paginators-1.json").read_bytes() == (
        Path(botocore.__file__).parent / "data" / "omics" / "2022-11-28" / "paginators-1.json"
    ).read_bytes()


def test_the_provider_checks_its_floors_against_the_installed_libraries(tmp_path):
    """An Amazon provider older than the floor fails the import, naming the package and the version needed."""
    requirement = next(
        Requirement(line)
        for line in importlib.metadata.requires("airflow-provider-omics")
        if line.startswith("apache-airflow-providers-amazon")
    )
    folder = tmp_path
    info = folder / "apache_airflow_providers_amazon-9.5.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: apache-airflow-providers-amazon\nVersion: 9.5.0\n")
    done = subprocess.run(
        [sys.executable, "-c", "import airflow_provider_omics"],
        env={**os.environ, "PYTHONPATH": str(folder)},
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert done.returncode != 0
    assert "UnsupportedEnvironment" in done.stderr
    assert (
        f"apache-airflow-providers-amazon{requirement.specifier} is needed; this environment has 9.5.0" in done.stderr
    )


def test_the_hooks_clients_have_every_operation_and_nothing_else_changes(emulator):
    hook = OmicsHook()
    for operation in NEWER_OPERATIONS:
        assert hasattr(hook.conn, botocore.xform_name(operation))
    plain = boto3.client("omics", region_name="us-east-1")
    older = {op for op, since in NEWER_OPERATIONS.items() if Version(botocore.__version__) < Version(since)}
    # A user's own client, and the process, keep the installed botocore's model.
    assert {op for op in NEWER_OPERATIONS if not hasattr(plain, botocore.xform_name(op))} == older
    assert str(shipped_model.DATA_PATH) not in os.environ.get("AWS_DATA_PATH", "")
    assert boto3.client("s3", region_name="us-east-1").meta.service_model.api_version == "2006-03-01"


def test_the_newer_of_the_shipped_and_the_installed_model_is_the_one_used(emulator):
    def operations(path: Path) -> set[str]:
        return set(json.loads(gzip.decompress(path.read_bytes()))["operations"])

    model = Path("omics", "2022-11-28", "service-2.json.gz")
    shipped = operations(shipped_model.DATA_PATH / model)
    installed = operations(Path(botocore.__file__).parent / "data" / model)
    newer = shipped if Version(botocore.__version__) < shipped_model.SHIPPED_BOTOCORE else installed
    assert set(OmicsHook().conn.meta.service_model.operation_names) == newer
    assert set(boto3.client("omics", region_name="us-east-1").meta.service_model.operation_names) == installed


async def test_the_triggerers_aiobotocore_client_has_every_operation(emulator):
    async with await OmicsHook().get_async_conn() as client:
        for operation in NEWER_OPERATIONS:
            assert hasattr(client, botocore.xform_name(operation))
        assert (await client.list_batch())["items"] == []


def test_newest_operations_in_a_dag(run_dag, inputs, omics):
    """Workflow versions, configurations and run batches (synchronous and deferred), whatever botocore."""
    _, tis = run_dag(
        textwrap.dedent(f"""
    from airflow_provider_omics.compat import task
    from airflow_provider_omics.hooks.omics import OmicsHook

    @task
    def configure():
        return OmicsHook().call("CreateConfiguration", name="stack-config", runConfigurations={{}},
                                requestId="stack-config")["name"]

    with DAG("test_dag", schedule=None, start_date=START) as dag:
        workflow = OmicsCreateWorkflowOperator(
            task_id="workflow", name="align", definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        version = OmicsCreateWorkflowVersionOperator(
            task_id="version", workflow_id=workflow.output["id"], version_name="v2",
            definition_path="{inputs / "main.wdl"}", waiter_delay=0.05)
        configured = OmicsJobSensor(task_id="configured", kind="configuration", ids={{"name": configure()}},
                                    poke_interval=0.05, deferrable=True, timeout=60)
        for deferrable in (False, True):
            OmicsStartRunBatchOperator(
                task_id=f"batch_{{deferrable}}", batch_name=f"b{{deferrable}}", waiter_delay=0.05,
                deferrable=deferrable,
                default_run_setting={{"workflowId": workflow.output["id"], "roleArn": ROLE,
                                      "outputUri": "s3://genomics/batch/"}},
                batch_run_settings={{"inlineSettings": [{{"runSettingId": "a", "name": f"a-{{deferrable}}"}},
                                                        {{"runSettingId": "b", "name": f"b-{{deferrable}}"}}]}})
    """)
    )
    assert {t: ti.state for t, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert omics.get_workflow_version(workflowId=xcom(tis["workflow"])["id"], versionName="v2")["status"] == "ACTIVE"
    assert xcom(tis["configured"])["status"] == "ACTIVE"
    for deferrable in (False, True):
        done = xcom(tis[f"batch_{deferrable}"])
        assert done["runSummary"]["completedRunCount"] == 2
        assert {setting: run["status"] for setting, run in done["runs"].items()} == {"a": "COMPLETED", "b": "COMPLETED"}


def test_the_installed_provider_carries_its_signatures():
    """PEP 561: py.typed, the operator and sensor modules' stubs and the request types go with the package, so an
    editor on any stack (the MWAA stacks install the wheel) sees every argument (``make stubs``)."""
    import re

    import airflow_provider_omics
    from airflow_provider_omics import request_types

    package = Path(airflow_provider_omics.__file__).parent
    assert (package / "py.typed").exists() and (package / "sensors" / "omics.pyi").exists()
    stub = (package / "operators" / "workflows.pyi").read_text()
    assert re.search(
        r"class OmicsStartRunOperator\(.*?def __init__\(\s*self,\s*\*,\s*workflow_id: str \| XComArg", stub, re.S
    )
    assert {"workflowId", "roleArn"} <= set(request_types.DefaultRunSetting.__annotations__)

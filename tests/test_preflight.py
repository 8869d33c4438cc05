"""Pre-flight checks: each catches a real mistake in seconds, where the run would fail late without it."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import pytest
from conftest import ROLE_ARN, xcom
from waiting import status_in, until

ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{ECR}/tools/wc:1"
# The user guide's advice: the container as a parameter, so that access can be checked before the run.
WDL = b"""version 1.0
workflow count {
  input {
    File reads
    String image
    Int depth = 30
  }
  call tally { input: reads = reads, image = image, depth = depth }
}
task tally {
  input {
    File reads
    String image
    Int depth
  }
  command <<< head -n ~{depth} ~{reads} | wc -l >>>
  runtime { docker: image  cpu: 4 }
  output { File counts = "counts.txt" }
}
"""
READS = "s3://genomics/reads/s1.fastq"
GOOD = {"reads": READS, "image": IMAGE}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def world(emulator, omics, s3):
    """A workflow whose task's image is a parameter, its image in ECR, its input in S3, and a role that may read
    only the input bucket's ``reads/`` and not write anything."""
    s3.put_object(Bucket="genomics", Key="reads/s1.fastq", Body=b"@r1\nACGT\n+\nIIII\n")
    emulator.push_image(IMAGE)
    emulator.push_image(f"{ECR}/tools/private:1", service_may_pull=False)
    account_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}],
    }
    emulator.client("ecr").set_repository_policy(repositoryName="tools/private", policyText=json.dumps(account_only))
    iam = emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="Ec2Role", AssumeRolePolicyDocument=json.dumps(trust))
    trust["Statement"][0]["Principal"]["Service"] = "omics.amazonaws.com"
    iam.create_role(RoleName="ReadOnlyRole", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="ReadOnlyRole",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::genomics/reads/*"}
                ],
            }
        ),
    )
    workflow = omics.create_workflow(name="count", definitionZip=zipped({"main.wdl": WDL}), requestId="wf")["id"]
    until(lambda: omics.get_workflow(id=workflow), status_in("ACTIVE"))
    return workflow


# Each mistake: what the run is given, the service's failure reason when it is started anyway, what the
# pre-flight says.
MISTAKES = {
    "image_not_pushed": (
        {**GOOD, "image": f"{ECR}/tools/absent:1"},
        {},
        "ECR_PERMISSION_ERROR",
        "[containers] " + f"{ECR}/tools/absent:1: the repository is not in ECR",
    ),
    "image_tag_not_pushed": (
        {**GOOD, "image": f"{ECR}/tools/wc:2"},
        {},
        "CANNOT_START_CONTAINER_ERROR",
        f"[containers] {ECR}/tools/wc:2: the image is not in ECR",
    ),
    "repository_without_policy": (
        {**GOOD, "image": f"{ECR}/tools/private:1"},
        {},
        "ECR_PERMISSION_ERROR",
        "its repository's policy does not let omics.amazonaws.com pull it",
    ),
    "public_image": (
        {**GOOD, "image": "ubuntu:22.04"},
        {},
        "INVALID_ECR_IMAGE_URI",
        "[containers] ubuntu:22.04: not in a private Amazon ECR repository",
    ),
    "untrusting_role": (
        GOOD,
        {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/Ec2Role"},
        "ASSUME_ROLE_FAILED",
        "its trust policy does not let omics.amazonaws.com assume it",
    ),
    "missing_role": (
        GOOD,
        {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/Nobody"},
        "ASSUME_ROLE_FAILED",
        "role/Nobody: the role does not exist",
    ),
    "input_missing": (
        {**GOOD, "reads": "s3://genomics/reads/s2.fastq"},
        {},
        "INPUT_URI_NOT_FOUND",
        "[inputs] s3://genomics/reads/s2.fastq: the object does not exist",
    ),
    "role_may_not_write": (
        GOOD,
        {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/ReadOnlyRole"},
        "EXPORT_FAILED",
        "may not write arn:aws:s3:::genomics/out/*",
    ),
    "output_bucket_missing": (
        GOOD,
        {"outputUri": "s3://no-such-bucket/out/"},
        "EXPORT_FAILED",
        "[output] s3://no-such-bucket/out/: the bucket no-such-bucket does not exist",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_without_preflight_the_run_fails_late_with_the_services_reason(world, omics, emulator, mistake):
    parameters, settings, reason, _ = MISTAKES[mistake]
    request = {"roleArn": ROLE_ARN, "outputUri": "s3://genomics/out/", **settings}
    run = omics.start_run(workflowId=world, parameters=parameters, requestId=mistake, **request)["id"]
    ended = until(lambda: omics.get_run(id=run), status_in("FAILED", "COMPLETED"))
    assert (ended["status"], ended.get("failureReason")) == ("FAILED", reason)
    statuses = [t["status"] for t in emulator.transitions("run", run)]
    assert "STARTING" in statuses  # provisioned before it failed


def test_preflight_fails_each_mistake_in_seconds_and_starts_nothing(world, run_dag, emulator, output):
    def arguments(parameters, settings):
        given = {"role_arn": ROLE_ARN, "output_uri": "s3://genomics/out/", "parameters": parameters}
        return {**given, **{"role_arn" if k == "roleArn" else "output_uri": v for k, v in settings.items()}}

    tasks = "\n".join(
        f"""    OmicsStartRunOperator(task_id="{name}", workflow_id="{world}", preflight=True, waiter_delay=0.05,
        **{arguments(parameters, settings)!r})"""
        for name, (parameters, settings, _, _) in MISTAKES.items()
    )
    _, tis = run_dag(f'with DAG("test_dag", schedule=None, start_date=START) as dag:\n{tasks}\n')
    assert {name: ti.state for name, ti in tis.items()} == dict.fromkeys(MISTAKES, "failed")
    assert emulator.request_counts().get("StartRun", 0) == 0  # nothing provisioned: no run at all
    for name, (_, _, _, said) in MISTAKES.items():
        findings = xcom(tis[name], "preflight")["findings"]
        told = [f"[{f['check']}] {f['subject']}: {f['problem']}" for f in findings if f["severity"] == "error"]
        assert any(said in line for line in told), (name, told)
    assert "pre-flight found 1 problem(s), nothing was created or started" in output()


def test_preflight_passes_a_good_run_and_says_what_it_checked(world, run_dag, emulator):
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        check = OmicsPreflightOperator(task_id="check", workflow_id="{world}", role_arn=ROLE,
                                       output_uri="s3://genomics/out/", parameters={GOOD!r})
        run = OmicsStartRunOperator(task_id="run", workflow_id="{world}", role_arn=ROLE, preflight=True,
                                    output_uri="s3://genomics/out/", parameters={GOOD!r}, waiter_delay=0.05)
        check >> run
    """)
    assert xcom(tis["check"]) == {"passed": True, "errors": 0, "warnings": 0, "findings": []}
    assert tis["run"].state == "success" and xcom(tis["run"])["status"] == "COMPLETED"
    assert xcom(tis["run"], "preflight")["passed"] is True
    task = emulator.client("omics").list_run_tasks(id=xcom(tis["run"])["id"])["items"][0]
    assert task["name"] == "tally"


def test_preflight_checks_parameters_types_and_the_run_group(world, run_dag, omics):
    group = omics.create_run_group(name="small", maxCpus=2, requestId="g")["id"]
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsPreflightOperator(task_id="check", workflow_id="{world}", role_arn=ROLE, run_group_id="{group}",
                               output_uri="s3://genomics/out/",
                               parameters={{"reads": "{READS}", "depth": "thirty", "sample": "s1"}})
    """)
    assert tis["check"].state == "failed"
    found = {(f["check"], f["subject"]): f["problem"] for f in xcom(tis["check"], "preflight")["findings"]}
    assert found[("parameters", "sample")] == "not a parameter of the workflow"
    assert found[("parameters", "image")] == "required and not given"
    assert found[("parameters", "depth")].startswith("the workflow declares Int, given str")
    assert "a task asks for 4 vCPUs, the group's maxCpus is 2" in found[("run_group", group)]


def test_a_check_the_task_may_not_make_is_a_warning_naming_the_permission(world, run_dag, emulator):
    emulator.add_fault("GetRepositoryPolicy", "AccessDeniedException")
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsPreflightOperator(task_id="check", workflow_id="{world}", role_arn=ROLE,
                               output_uri="s3://genomics/out/", parameters={GOOD!r})
    """)
    result = xcom(tis["check"])
    assert tis["check"].state == "success" and result["passed"] and result["warnings"] == 1
    assert "ecr:GetRepositoryPolicy was refused (AccessDeniedException)" in result["findings"][0]["problem"]


BROKEN_WDL = b"""version 1.0
workflow count {
  input { File reads }
  call tally { input: reads = reads }
}
"""


@pytest.mark.parametrize(
    ("files", "template", "said"),
    [
        ({"main.wdl": BROKEN_WDL}, None, "No such task/workflow: tally"),
        (
            {"main.wdl": WDL},
            {"reads": {"optional": False}, "sample": {"optional": True}},
            "parameter_template.sample: not an input of the workflow",
        ),
        (
            {
                "main.cwl": b"cwlVersion: v1.2\nclass: Workflow\ninputs: {}\noutputs: {}\nsteps:\n  align:\n"
                b"    run: align.cwl\n    in: {}\n    out: []\n"
            },
            None,
            "step align runs align.cwl, which is not in the definition",
        ),
        (
            {"main.wdl": WDL.replace(b"docker: image", b'docker: "biocontainers/wc:1"')},
            None,
            "biocontainers/wc:1: not in a private Amazon ECR repository",
        ),
    ],
    ids=["wdl_does_not_type_check", "template_names_no_input", "cwl_step_missing", "image_not_in_ecr"],
)
def test_preflight_of_a_definition_fails_before_it_is_created(run_dag, emulator, tmp_path, files, template, said):
    folder = tmp_path / "definition"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_bytes(text)
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateWorkflowOperator(task_id="workflow", name="w", definition_path="{folder}", preflight=True,
                                    parameter_template={template!r}, waiter_delay=0.05)
    """)
    assert tis["workflow"].state == "failed"
    findings = xcom(tis["workflow"], "preflight")["findings"]
    assert any(said in f"{f['subject']}: {f['problem']}" for f in findings), findings
    assert emulator.request_counts().get("CreateWorkflow", 0) == 0


def test_a_registry_map_covers_an_upstream_image(run_dag, emulator, tmp_path):
    (tmp_path / "main.wdl").write_bytes(WDL.replace(b"docker: image", b'docker: "biocontainers/wc:1"'))
    emulator.push_image(f"{ECR}/docker-hub/biocontainers/wc:1")
    mapping = {
        "registryMappings": [{"upstreamRegistryUrl": "registry-1.docker.io", "ecrRepositoryPrefix": "docker-hub"}]
    }
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsCreateWorkflowOperator(task_id="workflow", name="w", definition_path="{tmp_path / "main.wdl"}",
                                    container_registry_map={mapping!r}, preflight=True, waiter_delay=0.05)
    """)
    assert tis["workflow"].state == "success"
    checked = xcom(tis["workflow"], "preflight")
    assert checked["passed"] and not [f for f in checked["findings"] if f["check"] == "containers"]


def test_a_batchs_runs_are_checked_each_by_its_setting(world, run_dag, emulator):
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsStartRunBatchOperator(
            task_id="batch", batch_name="plate", preflight=True, waiter_delay=0.05,
            default_run_setting={{"workflowId": "{world}", "roleArn": ROLE, "outputUri": "s3://genomics/out/"}},
            batch_run_settings=[{{"runSettingId": "s1", "parameters": {GOOD!r}}},
                                {{"runSettingId": "s2", "parameters": {{**{GOOD!r}, "reads": "s3://genomics/reads/s2.fastq"}}}}])
    """)
    assert tis["batch"].state == "failed"
    assert emulator.request_counts().get("StartRunBatch", 0) == 0
    findings = xcom(tis["batch"], "preflight")["findings"]
    assert [(f["check"], f["subject"]) for f in findings] == [("inputs", "s2: s3://genomics/reads/s2.fastq")]


def test_without_miniwdl_a_wdl_definition_is_only_searched_for_its_images(monkeypatch):
    from airflow_provider_omics import workflow_definition

    monkeypatch.setitem(sys.modules, "WDL", None)  # not installed: the wdl extra left out
    read = workflow_definition.read(zipped({"main.wdl": WDL.replace(b"docker: image", b'docker: "ubuntu:22.04"')}))
    assert read.inputs is None and read.errors == []
    assert read.warnings[0].startswith("WDL not parsed nor linted: install airflow-provider-omics[wdl]")
    assert [c.image for c in read.containers] == ["ubuntu:22.04"]


def test_a_nextflow_definition_gives_its_schemas_types_and_its_containers():
    from airflow_provider_omics import workflow_definition

    schema = {
        "properties": {"reads": {"type": "string", "format": "file-path"}, "depth": {"type": "integer"}},
        "required": ["reads"],
    }
    main = b"process count {\n  container params.image\n}\nprocess qc {\n  container 'quay.io/qc:1'\n}\n"
    read = workflow_definition.read(zipped({"main.nf": main, "nextflow_schema.json": json.dumps(schema).encode()}))
    assert {n: (i.kind, i.optional) for n, i in read.inputs.items()} == {
        "reads": ("file", False),
        "depth": ("integer", True),
    }
    assert {(c.image, c.parameter) for c in read.containers} == {(None, "image"), ("quay.io/qc:1", None)}


def test_the_preflight_operator_checks_a_local_definition_and_runs_of_the_workflow_together(world, run_dag, tmp_path):
    (tmp_path / "main.wdl").write_bytes(WDL.replace(b"docker: image", b'docker: "biocontainers/wc:1"'))
    _, tis = run_dag(f"""
    with DAG("test_dag", schedule=None, start_date=START) as dag:
        OmicsPreflightOperator(task_id="check", definition_path="{tmp_path / "main.wdl"}", workflow_id="{world}",
                               role_arn=ROLE, output_uri="s3://genomics/out/", parameters={GOOD!r})
    """)
    assert tis["check"].state == "failed"
    errors = {
        (f["check"], f["subject"]) for f in xcom(tis["check"], "preflight")["findings"] if f["severity"] == "error"
    }
    assert errors == {("containers", "biocontainers/wc:1")}  # the local definition's image, once

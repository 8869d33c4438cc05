"""Checks before a workflow is created or a run started: what would otherwise fail minutes or hours later.

A run that cannot pull its container, whose role the service cannot assume or that may not read an input or
write its output, or whose parameters do not fit, goes PENDING -> STARTING (provisioning) before it fails with
one of the user guide's "Run failure reasons". These checks ask the same questions with read-only calls
(``GetWorkflow``, S3 ``HeadObject`` / ``HeadBucket``, ECR ``DescribeImages`` / ``GetRepositoryPolicy``, IAM
``GetRole`` / ``SimulatePrincipalPolicy``, ``GetRunGroup``) and return every finding at once. A check the
caller is not allowed to make is a warning naming the permission, never a failure.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from airflow_provider_omics import workflow_definition
from airflow_provider_omics.errors import error_code
from airflow_provider_omics.workflow_definition import Container, Definition

SERVICE = "omics.amazonaws.com"
ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
DOCKER_HUB = ("registry-1.docker.io", "docker.io", "index.docker.io")
PULLS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403")
# IAM's policy simulation takes this many resources per call.
SIMULATED_RESOURCES = 100


class PreflightApi(Protocol):
    def call(self, operation: str, *, retry: bool = True, **params: Any) -> dict[str, Any]: ...

    def client_of(self, client_type: str, region_name: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Finding:
    """What is wrong (or could not be checked), about what, and how to fix it."""

    check: str  # definition, parameters, inputs, containers, role, output, run_group
    severity: str  # error | warning
    subject: str
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.problem}" + (f". {self.fix}" if self.fix else "")

    def json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class RunPlan:
    """What a run will be given: its request members, as ``StartRun`` takes them."""

    parameters: Mapping[str, Any]
    role_arn: str | None
    output_uri: str | None
    run_group_id: str | None = None
    label: str = ""  # which run of several (a batch's runSettingId)


def _denied(check: str, subject: str, permission: str, error: ClientError) -> Finding:
    return Finding(
        check,
        "warning",
        subject,
        f"not checked: {permission} was refused ({error_code(error)})",
        f"allow {permission} to the task's role for this check",
    )


def _code(error: ClientError) -> str:
    return error_code(error) or str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


# ---- the definition ----------------------------------------------------------------------------------------
def definition_findings(definition: Definition, parameter_template: Mapping[str, Any] | None = None) -> list[Finding]:
    """The definition's own problems (errors; lint findings as warnings), and a given template against its inputs."""
    found = [
        Finding("definition", "error", definition.main or "definition", e, "fix the definition")
        for e in definition.errors
    ]
    found += [Finding("definition", "warning", definition.main, w) for w in definition.warnings]
    if parameter_template is not None and definition.inputs is not None:
        for name in sorted(set(parameter_template) - set(definition.inputs)):
            found.append(
                Finding(
                    "definition",
                    "error",
                    f"parameter_template.{name}",
                    "not an input of the workflow",
                    f"its inputs are {', '.join(sorted(definition.inputs)) or 'none'}",
                )
            )
        for name, spec in definition.inputs.items():
            given = parameter_template.get(name)
            if given is None and not spec.optional:
                found.append(
                    Finding(
                        "definition",
                        "error",
                        f"parameter_template.{name}",
                        "a required input is missing from the template",
                        "add it: a run could not give it",
                    )
                )
    return found


# ---- parameters --------------------------------------------------------------------------------------------
def parameter_findings(
    parameters: Mapping[str, Any], template: Mapping[str, Any] | None, definition: Definition | None
) -> list[Finding]:
    """Every required parameter given, none unknown, each of the type the definition declares."""
    found: list[Finding] = []
    inputs = definition.inputs if definition is not None else None
    if template is None and inputs is not None:
        template = {name: {"optional": each.optional} for name, each in inputs.items()}
    if template is not None:
        declared = ", ".join(sorted(template)) or "none"
        for name in sorted(set(parameters) - set(template)):
            found.append(
                Finding(
                    "parameters", "error", name, "not a parameter of the workflow", f"its parameters are {declared}"
                )
            )
        for name, spec in sorted(template.items()):
            if not (spec or {}).get("optional") and name not in parameters:
                found.append(Finding("parameters", "error", name, "required and not given", "give it in parameters"))
    for name, value in parameters.items():
        each = (inputs or {}).get(name)
        allowed = workflow_definition.JSON_TYPES.get(each.kind) if each else None
        if each is None or allowed is None or (value is None and each.optional):
            continue
        wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
        if wrong:
            found.append(
                Finding(
                    "parameters",
                    "error",
                    name,
                    f"the workflow declares {each.declared}, given "
                    f"{type(value).__name__} {json.dumps(value, default=str)[:60]}",
                    f"give a {each.kind} value",
                )
            )
    return found


def s3_uris(value: Any) -> Iterator[str]:
    """Every ``s3://`` string in a run's parameters, however nested."""
    if isinstance(value, str) and value.startswith("s3://"):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from s3_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from s3_uris(item)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _bucket_region(s3: Any, bucket: str) -> str | None:
    """The bucket's region, or None when it does not exist; ClientError when it cannot be asked."""
    try:
        response = s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _code(error) in ("404", "NoSuchBucket", "NotFound"):
            return None
        region = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        if region:  # a 403 still says where the bucket is
            return str(region)
        raise
    return str(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region") or "")


def input_findings(api: PreflightApi, uris: Iterable[str], region: str) -> list[Finding]:
    """Each S3 input exists, in a bucket of the run's region (a folder: something under it); each bucket asked
    where it is once."""
    s3 = api.client_of("s3")
    found: list[Finding] = []
    regions: dict[str, str | None] = {}
    for uri in dict.fromkeys(uris):
        bucket, key = _split(uri)
        if bucket not in regions:
            try:
                regions[bucket] = _bucket_region(s3, bucket)
            except ClientError as error:
                found.append(_denied("inputs", f"s3://{bucket}", "s3:ListBucket", error))
                regions[bucket] = ""
            where = regions[bucket]
            if where is None:
                found.append(Finding("inputs", "error", uri, f"the bucket {bucket} does not exist", "upload the input"))
            elif where and where != region:
                found.append(
                    Finding(
                        "inputs",
                        "error",
                        uri,
                        f"the bucket {bucket} is in {where}, not in the run's region {region}",
                        f"copy the inputs to a bucket in {region}",
                    )
                )
        if regions[bucket] is None or (regions[bucket] and regions[bucket] != region):
            continue
        try:
            if key.endswith("/") or not key:
                listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
                if not listed.get("KeyCount"):
                    found.append(Finding("inputs", "error", uri, "nothing under this folder", "upload the inputs"))
            else:
                s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchKey", "NotFound"):
                found.append(
                    Finding(
                        "inputs",
                        "error",
                        uri,
                        "the object does not exist (the run would fail with INPUT_URI_NOT_FOUND)",
                        "upload it, or correct the parameter",
                    )
                )
            else:
                found.append(_denied("inputs", uri, "s3:GetObject", error))
    return found


# ---- containers --------------------------------------------------------------------------------------------
def image_of(container: Container, parameters: Mapping[str, Any]) -> str | None:
    if container.image is not None:
        return container.image
    value = parameters.get(container.parameter or "")
    return value if isinstance(value, str) else None


def _upstream(image: str) -> tuple[str, str]:
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB[0], image if rest else f"library/{image}"


def ecr_uri(image: str, registry_map: Mapping[str, Any] | None, account: str, region: str) -> tuple[str | None, bool]:
    """The private ECR URI the service pulls an image from, and whether a pull through cache fills it."""
    if ECR_URI.match(image):
        return image, False
    registry_map = registry_map or {}
    for mapping in registry_map.get("imageMappings") or []:
        if mapping.get("sourceImage") == image:
            return str(mapping.get("destinationImage")), False
    registry, path = _upstream(image)
    for mapping in registry_map.get("registryMappings") or []:
        url = mapping.get("upstreamRegistryUrl")
        prefix = mapping.get("upstreamRepositoryPrefix")
        if (url == registry or (url in DOCKER_HUB and registry in DOCKER_HUB)) and (
            not prefix or path.startswith(f"{prefix}/")
        ):
            rest = path[len(prefix) + 1 :] if prefix else path
            owner = mapping.get("ecrAccountId") or account
            return f"{owner}.dkr.ecr.{region}.amazonaws.com/{mapping['ecrRepositoryPrefix']}/{rest}", True
    return None, False


def grants_service(policy: Mapping[str, Any], actions: Iterable[str]) -> bool:
    """Whether a resource or trust policy has a statement allowing ``omics.amazonaws.com`` every one of ``actions``
    (named, or by ``service:*`` or ``*``)."""
    for statement in _listed(policy.get("Statement")):
        principal = statement.get("Principal") or {}
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else [principal]
        allowed = {str(a).lower() for a in _listed(statement.get("Action"))}
        if (
            statement.get("Effect") == "Allow"
            and (SERVICE in services or "*" in services)
            and all({a.lower(), a.split(":")[0].lower() + ":*", "*"} & allowed for a in actions)
        ):
            return True
    return False


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def container_findings(
    api: PreflightApi, images: Iterable[str], registry_map: Mapping[str, Any] | None, account: str, region: str
) -> list[Finding]:
    """Every image is in a private ECR repository of the region whose policy lets the service pull it."""
    ecr = api.client_of("ecr")
    found: list[Finding] = []
    policies: dict[tuple[str, str], Finding | None] = {}
    for image in dict.fromkeys(images):
        uri, cached = ecr_uri(image, registry_map, account, region)
        parts = ECR_URI.match(uri or "")
        if parts is None:
            found.append(
                Finding(
                    "containers",
                    "error",
                    image,
                    "not in a private Amazon ECR repository, and no "
                    "container registry map covers it (the run would fail with INVALID_ECR_IMAGE_URI)",
                    f"push it to ECR in {region}, or map its registry with container_registry_map",
                )
            )
            continue
        if parts["region"] != region:
            found.append(
                Finding(
                    "containers",
                    "error",
                    image,
                    f"its repository is in {parts['region']}; HealthOmics pulls from ECR in the run's region {region}",
                    f"replicate it to {region}",
                )
            )
            continue
        reference = {"imageDigest": parts["digest"]} if parts["digest"] else {"imageTag": parts["tag"] or "latest"}
        repository = {"registryId": parts["account"], "repositoryName": parts["repository"]}
        try:
            ecr.describe_images(**repository, imageIds=[reference])
        except ClientError as error:
            code = _code(error)
            if code in DENIED:
                found.append(_denied("containers", image, "ecr:DescribeImages", error))
            elif code == "RepositoryNotFoundException" and cached:
                found.append(
                    Finding(
                        "containers",
                        "warning",
                        image,
                        f"{parts['repository']} is not cached yet: the pull through cache makes it on the first pull",
                        "check the cache rule for "
                        f"{parts['repository'].split('/')[0]} and its repository creation template",
                    )
                )
                continue
            else:
                what = "repository" if code == "RepositoryNotFoundException" else "image"
                found.append(
                    Finding(
                        "containers",
                        "error",
                        image,
                        f"the {what} is not in ECR ({code}: the run would fail when the task starts)",
                        f"push {uri}",
                    )
                )
            continue
        key = (parts["account"], parts["repository"])
        if key not in policies:
            policies[key] = _policy_finding(ecr, image, repository)
        if policies[key] is not None:
            found.append(Finding(**{**policies[key].json(), "subject": image}))  # type: ignore[union-attr]
    return found


def _policy_finding(ecr: Any, image: str, repository: Mapping[str, str]) -> Finding | None:
    fix = (
        f"add to the policy of {repository['repositoryName']} a statement allowing Principal "
        f'{{"Service": "{SERVICE}"}} the actions {", ".join(PULLS)}'
    )
    try:
        text = ecr.get_repository_policy(**repository)["policyText"]
    except ClientError as error:
        if _code(error) in DENIED:
            return _denied("containers", image, "ecr:GetRepositoryPolicy", error)
        if _code(error) == "RepositoryPolicyNotFoundException":
            return Finding(
                "containers",
                "error",
                image,
                "its repository has no policy: HealthOmics may not pull it "
                "(the run would fail with ECR_PERMISSION_ERROR)",
                fix,
            )
        raise
    if grants_service(json.loads(text), PULLS[:2]):
        return None
    return Finding(
        "containers",
        "error",
        image,
        f"its repository's policy does not let {SERVICE} pull it (the run would fail with ECR_PERMISSION_ERROR)",
        fix,
    )


# ---- the role ----------------------------------------------------------------------------------------------
def role_findings(api: PreflightApi, role_arn: str, reads: Iterable[str], writes: Iterable[str]) -> list[Finding]:
    """The role exists, trusts the service, and (where IAM's simulation may be asked) may read the inputs and
    write under the output URI."""
    iam = api.client_of("iam")
    name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as error:
        if _code(error) == "NoSuchEntity":
            return [
                Finding(
                    "role",
                    "error",
                    role_arn,
                    "the role does not exist (the run would fail with ASSUME_ROLE_FAILED)",
                    "create it, or give another role_arn",
                )
            ]
        return [_denied("role", role_arn, "iam:GetRole", error)]
    found: list[Finding] = []
    trust = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(trust, str):
        trust = json.loads(urllib.parse.unquote(trust))
    if not grants_service(trust, ["sts:AssumeRole"]):
        found.append(
            Finding(
                "role",
                "error",
                role_arn,
                f"its trust policy does not let {SERVICE} assume it (the run would fail with ASSUME_ROLE_FAILED)",
                f'add a statement allowing Principal {{"Service": "{SERVICE}"}} the action sts:AssumeRole',
            )
        )
    asks = [
        ("s3:GetObject", f"arn:aws:s3:::{uri[len('s3://') :]}") for uri in dict.fromkeys(reads) if not uri.endswith("/")
    ]
    asks += [("s3:PutObject", f"arn:aws:s3:::{uri[len('s3://') :].rstrip('/')}/*") for uri in dict.fromkeys(writes)]
    for action in dict.fromkeys(a for a, _ in asks):
        resources = [r for a, r in asks if a == action]
        for start in range(0, len(resources), SIMULATED_RESOURCES):
            try:
                results = iam.simulate_principal_policy(
                    PolicySourceArn=role_arn,
                    ActionNames=[action],
                    ResourceArns=resources[start : start + SIMULATED_RESOURCES],
                )["EvaluationResults"]
            except ClientError as error:
                return [*found, _denied("role", role_arn, "iam:SimulatePrincipalPolicy", error)]
            for result in results:
                if result["EvalDecision"] != "allowed":
                    verb = "read" if action == "s3:GetObject" else "write"
                    resource = result.get("EvalResourceName", "")
                    found.append(
                        Finding(
                            "role",
                            "error",
                            role_arn,
                            f"may not {verb} {resource} ({action}: {result['EvalDecision']})",
                            f"allow {action} on it in the role's policy",
                        )
                    )
    return found


# ---- the output, the run group -----------------------------------------------------------------------------
def output_findings(api: PreflightApi, output_uri: str, region: str) -> list[Finding]:
    bucket = _split(output_uri)[0]
    try:
        where = _bucket_region(api.client_of("s3"), bucket)
    except ClientError as error:
        return [_denied("output", output_uri, "s3:ListBucket", error)]
    if where is None:
        return [
            Finding(
                "output",
                "error",
                output_uri,
                f"the bucket {bucket} does not exist (the run would fail at its end with EXPORT_FAILED)",
                f"create it in {region}",
            )
        ]
    if where and where != region:
        return [
            Finding(
                "output",
                "error",
                output_uri,
                f"the bucket {bucket} is in {where}, not in the run's region {region}",
                f"write to a bucket in {region}",
            )
        ]
    return []


def run_group_findings(api: PreflightApi, run_group_id: str, definition: Definition | None) -> list[Finding]:
    try:
        group = api.call("GetRunGroup", id=run_group_id)
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return [Finding("run_group", "error", run_group_id, "the run group does not exist", "create it")]
        return [_denied("run_group", run_group_id, "omics:GetRunGroup", error)]
    found = []
    if group.get("maxRuns"):
        active = sum(
            len(api.call("ListRuns", runGroupId=run_group_id, status=status).get("items") or [])
            for status in ("PENDING", "STARTING", "RUNNING")
        )
        if active >= group["maxRuns"]:
            found.append(
                Finding(
                    "run_group",
                    "warning",
                    run_group_id,
                    f"{active} runs are in the group, its maxRuns "
                    f"is {group['maxRuns']}: the run waits in PENDING until one ends",
                )
            )
    cpus = max((c for c in (definition.task_cpus if definition else {}).values()), default=0)
    if group.get("maxCpus") and cpus > group["maxCpus"]:
        found.append(
            Finding(
                "run_group",
                "error",
                run_group_id,
                f"a task asks for {cpus} vCPUs, the group's maxCpus is {group['maxCpus']}: the run could never start",
                "raise maxCpus or use another group",
            )
        )
    return found


# ---- all of them -------------------------------------------------------------------------------------------
def run_findings(
    api: PreflightApi,
    plans: Sequence[RunPlan],
    template: Mapping[str, Any] | None,
    definition: Definition | None,
    registry_map: Mapping[str, Any] | None,
    account: str,
    region: str,
) -> list[Finding]:
    """Every check of one run or many (a plate): each run's parameters and inputs (named by its label), then
    what runs share asked once: the images, each role with every input and output it is given, each output
    bucket, each run group."""
    found: list[Finding] = []
    for plan in plans:
        own = parameter_findings(plan.parameters, template, definition)
        own += input_findings(api, s3_uris(plan.parameters), region)
        found += [replace(f, subject=f"{plan.label}: {f.subject}") for f in own] if plan.label else own
    if definition is not None:
        images = [i for p in plans for c in definition.containers if (i := image_of(c, p.parameters))]
        found += container_findings(api, images, registry_map, account, region)
    for role in dict.fromkeys(p.role_arn for p in plans if p.role_arn):
        given = [p for p in plans if p.role_arn == role]
        reads = [uri for p in given for uri in s3_uris(p.parameters)]
        found += role_findings(api, role, reads, [p.output_uri for p in given if p.output_uri])
    for output in dict.fromkeys(p.output_uri for p in plans if p.output_uri):
        found += output_findings(api, output, region)
    for group in dict.fromkeys(p.run_group_id for p in plans if p.run_group_id):
        found += run_group_findings(api, group, definition)
    return list({str(f): f for f in found}.values())


def created_workflow(
    api: PreflightApi, workflow_id: str, version_name: str | None, workflow_type: str | None
) -> tuple[dict[str, Any], Definition | None]:
    """A workflow's (or version's) describe output and its definition, downloaded from the URL the service gives
    with ``export=["DEFINITION"]`` (None for a Ready2Run workflow, whose definition is not shared)."""
    if version_name:
        described = api.call(
            "GetWorkflowVersion", workflowId=workflow_id, versionName=version_name, export=["DEFINITION"]
        )
    else:
        params: dict[str, Any] = {"id": workflow_id, "export": ["DEFINITION"]}
        if workflow_type:
            params["type"] = workflow_type
        described = api.call("GetWorkflow", **params)
    url = described.get("definition") or ""
    if (described.get("type") or workflow_type) == "READY2RUN" or not url.startswith(("https://", "http://")):
        return described, None
    with urllib.request.urlopen(url, timeout=60) as response:  # the service's presigned URL
        archive = response.read()
    return described, workflow_definition.read(archive, described.get("main"), described.get("engine"))

"""The roles runs assume, as IAM decides for them: trust, what a role may do, and ``SimulatePrincipalPolicy``.

moto keeps the roles and their policies but neither simulates a policy nor says whether a role trusts a
service; the emulator does both here, with moto's own policy evaluation (``moto_adapter.policy_decision``), so
a run is refused what its role could not do, and a pre-flight check can ask IAM what that would be.

The emulator's account comes with the service role of the user guide's examples, ``OmicsServiceRole``
(trusting ``omics.amazonaws.com``, with S3 and CloudWatch Logs): a test needs no IAM set-up for its runs. Any
other role must exist in (moto's) IAM and trust the service, as on AWS.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from . import moto_adapter
from .models.base import ACCOUNT_ID

SERVICE_PRINCIPAL = "omics.amazonaws.com"
SERVICE_ROLE = "OmicsServiceRole"
SERVICE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/{SERVICE_ROLE}"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICE_PRINCIPAL}, "Action": "sts:AssumeRole"}],
}
SERVICE_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}],
}


def seed_account() -> None:
    """What the emulator's account holds after every reset: the service role."""
    moto_adapter.ensure_role(ACCOUNT_ID, SERVICE_ROLE, TRUST, SERVICE_ROLE_POLICY)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants_service(policy: dict[str, Any], actions: Iterable[str]) -> bool:
    """Whether a trust or resource policy allows the service every one of ``actions`` (named, ``service:*`` or
    ``*``), as IAM reads a statement's ``Effect``, ``Principal.Service`` and ``Action``."""
    for statement in _listed(policy.get("Statement") or []):
        allowed = {str(a).lower() for a in _listed(statement.get("Action") or [])}
        principal = statement.get("Principal") or {}
        services = _listed(principal.get("Service") or []) if isinstance(principal, dict) else [principal]
        if (
            statement.get("Effect") == "Allow"
            and (SERVICE_PRINCIPAL in services or "*" in services)
            and all({a.lower(), a.split(":")[0].lower() + ":*", "*"} & allowed for a in actions)
        ):
            return True
    return False


def assume_problem(role_arn: str | None) -> str | None:
    """Why the service could not assume ``role_arn``, or None when it can."""
    found = moto_adapter.iam_role(ACCOUNT_ID, role_arn or "")
    if found is None:
        return f"The role {role_arn} does not exist"
    return (
        None
        if grants_service(found[0], ["sts:AssumeRole"])
        else f"The role {role_arn} does not trust {SERVICE_PRINCIPAL}"
    )


def role_may(role_arn: str | None, action: str, resource: str) -> bool:
    found = moto_adapter.iam_role(ACCOUNT_ID, role_arn or "")
    return found is not None and moto_adapter.policy_decision(found[1], action, resource) == "allowed"


# ---- SimulatePrincipalPolicy, the IAM query API ----------------------------------------------------------
def is_simulation(request: Request) -> bool:
    """An IAM ``SimulatePrincipalPolicy`` request; any other IAM request's body is left for moto to read again."""
    if "/iam/aws4_request" not in request.headers.get("Authorization", ""):
        return False
    body = request.get_data()
    request.environ["wsgi.input"] = io.BytesIO(body)
    return request.form.get("Action") == "SimulatePrincipalPolicy"


def _members(form: Any, name: str) -> list[str]:
    found = sorted(
        ((int(key.rsplit(".", 1)[1]), value) for key, value in form.items() if key.startswith(f"{name}.member.")),
    )
    return [value for _, value in found]


def simulate(request: Request) -> Response:
    """Every (action, resource) pair asked, decided on the role's (or user's) identity policies."""
    arn = request.form.get("PolicySourceArn", "")
    found = moto_adapter.iam_role(ACCOUNT_ID, arn)
    if found is None:
        return _error("NoSuchEntity", f"The role with name {arn.rsplit('/', 1)[-1]} cannot be found.", 404)
    policies = found[1]
    resources = _members(request.form, "ResourceArns") or ["*"]
    results = [
        (action, resource, moto_adapter.policy_decision(policies, action, resource))
        for action in _members(request.form, "ActionNames")
        for resource in resources
    ]
    return _answer(results)


def _answer(results: Iterable[tuple[str, str, str]]) -> Response:
    members = "".join(
        f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>{escape(resource)}"
        f"</EvalResourceName><EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/>"
        "</member>"
        for action, resource, decision in results
    )
    body = (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{members}"
        "</EvaluationResults></SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
    )
    return Response(body, 200, content_type="text/xml")


def _error(code: str, message: str, status: int) -> Response:
    body = (
        f'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )
    return Response(body, status, content_type="text/xml")
